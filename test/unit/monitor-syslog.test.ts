import t from 'tap';
import * as net from 'node:net';
import * as dgram from 'node:dgram';
import { completeEvent } from '../../monitor/protocol.js';
import { alertRecord, eventRecord, formatSyslog, parseSyslogUrl, SyslogForwarder } from '../../monitor/syslog.js';

t.test('an RFC 5424 record', async t => {
  t.equal(formatSyslog({ facility: 16, severity: 'warning', time: '2025-01-31T12:00:00.123Z', host: 'web1', kind: 'deny',
    params: { session: 's1', seq: 7, pid: 42, empty: '', gone: undefined }, message: 'denied linux-openat /etc/shadow' }),
  '<132>1 2025-01-31T12:00:00.123Z web1 systrace - deny [systrace@32473 session="s1" seq="7" pid="42"] denied linux-openat /etc/shadow');
});

t.test('escaping: param values, names, header fields, control characters', async t => {
  const line = formatSyslog({ facility: 4, severity: 'alert', time: 'not a time', host: 'my host', kind: '', params: { 'a b=c]"': 'x"y\\z]w' },
    message: 'two\nlines' });
  t.equal(line, '<33>1 - my_host systrace - - [systrace@32473 a_b_c__="x\\"y\\\\z\\]w"] two\\x0alines');
  t.equal(formatSyslog({ facility: 16, severity: 'info', time: '', host: '', kind: 'exit', params: {}, message: '' }),
    '<134>1 - - systrace - exit -', 'no structured data, no message');
});

t.test('events and alerts as records', async t => {
  const e = completeEvent({ seq: 3, time: '2025-01-31T12:00:00.000Z', kind: 'deny', pid: 9, program: '/usr/bin/cat', syscall: 'linux-openat',
    args: { filename: '/tmp/x y' }, rule: 'default', decision: 'deny', errno: 'EACCES' });
  t.equal(formatSyslog(eventRecord(16, { host: 'h', session: 's', user: 'nobody' }, e)),
    '<132>1 2025-01-31T12:00:00.000Z h systrace - deny [systrace@32473 session="s" seq="3" user="nobody" pid="9" program="/usr/bin/cat" ' +
    'syscall="linux-openat" decision="deny" errno="EACCES" rule="default" arg.filename="/tmp/x y"] ' +
    'deny, prog: /usr/bin/cat, pid: 9, syscall: linux-openat, filename: /tmp/x y, errno: EACCES, rule: default');
  t.equal(formatSyslog(alertRecord(10, { type: 'burst', severity: 'alert', time: '2025-01-31T12:00:00.000Z', host: 'h', session: 's',
    program: '/bin/x', pid: 0, seq: 4, message: '10 or more denials' })),
  '<81>1 2025-01-31T12:00:00.000Z h systrace - alert [systrace@32473 type="burst" severity="alert" session="s" seq="4" program="/bin/x"] 10 or more denials');
});

t.test('syslog addresses', async t => {
  t.same(parseSyslogUrl('udp://127.0.0.1:514'), { protocol: 'udp', host: '127.0.0.1', port: 514 });
  t.same(parseSyslogUrl('tcp://[::1]:6514'), { protocol: 'tcp', host: '::1', port: 6514 });
  t.same(parseSyslogUrl('tcp://logs.example.org'), { protocol: 'tcp', host: 'logs.example.org', port: 514 });
  t.throws(() => parseSyslogUrl('http://x:1'));
  t.throws(() => parseSyslogUrl('udp://x:0'));
});

t.test('TCP: octet counting, queued while the collector is not there yet', async t => {
  const got: Buffer[] = [];
  const srv = net.createServer(s => s.on('data', d => got.push(d)));
  await new Promise<void>(r => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  const f = new SyslogForwarder({ protocol: 'tcp', host: '127.0.0.1', port });
  f.send('<134>1 - h systrace - exit - héllo');
  f.send('<134>1 - h systrace - exit - two');
  await f.close();
  await new Promise(r => setTimeout(r, 50));
  await new Promise<void>(r => srv.close(() => r()));
  t.equal(Buffer.concat(got).toString(), '35 <134>1 - h systrace - exit - héllo32 <134>1 - h systrace - exit - two', 'the length is in bytes');
});

t.test('UDP: one record per datagram', async t => {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>(r => sock.bind(0, '127.0.0.1', r));
  const got = new Promise<string>(r => sock.once('message', m => r(m.toString())));
  const f = new SyslogForwarder({ protocol: 'udp', host: '127.0.0.1', port: sock.address().port });
  f.send('<134>1 - h systrace - exit - one');
  t.equal(await got, '<134>1 - h systrace - exit - one');
  await f.close();
  sock.close();
});
