// A real rsyslog (Debian's package), started here on 127.0.0.1, receives
// the monitor's alerts and events as RFC 5424 over TCP (octet counting) and
// UDP, and parses them as such: facility, severity, host, app-name, msgid
// and structured data come out as we put them in.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { MonitorClient } from '../../monitor/client.js';
import { MonitorServer } from '../../monitor/server.js';

const RSYSLOGD = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find(p => fs.existsSync(p));
const skip = !RSYSLOGD ? 'rsyslogd is not installed (Debian: apt-get install rsyslog)' : false;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>(r => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>(r => s.close(() => r()));
  return port;
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 50));
  }
}

const read = (f: string): string => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');

t.test('rsyslog receives alerts and events in RFC 5424 form, over TCP and UDP', { skip }, async t => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'systrace-rsyslog-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tcpPort = await freePort();
  const udpPort = await freePort();
  const out = path.join(dir, 'received.log');
  const conf = path.join(dir, 'rsyslog.conf');
  // Each field as rsyslog parsed it, separated by |: a record it did not read as RFC 5424 would have protocol-version "0" and no msgid.
  fs.writeFileSync(conf, `
global(workDirectory="${dir}")
module(load="imtcp")
module(load="imudp")
template(name="fields" type="string"
  string="v=%protocol-version%|%syslogfacility-text%|%syslogseverity-text%|%timereported:::date-rfc3339%|%hostname%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%\\n")
ruleset(name="collector") {
  action(type="omfile" file="${out}" template="fields")
}
input(type="imtcp" address="127.0.0.1" port="${tcpPort}" ruleset="collector")
input(type="imudp" address="127.0.0.1" port="${udpPort}" ruleset="collector")
`);
  const check = spawnSync(RSYSLOGD!, ['-N1', '-f', conf], { encoding: 'utf8' });
  t.equal(check.status, 0, `the configuration is valid\n${check.stderr}`);
  const rsyslog = spawn(RSYSLOGD!, ['-n', '-f', conf, '-i', path.join(dir, 'rsyslogd.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  rsyslog.stdout.on('data', d => { log += d; });
  rsyslog.stderr.on('data', d => { log += d; });
  t.teardown(() => { if (rsyslog.exitCode === null) rsyslog.kill('SIGTERM'); });
  await until('rsyslog to listen', () => new Promise<boolean>(r => {
    const c = net.connect(tcpPort, '127.0.0.1');
    c.on('connect', () => { c.destroy(); r(true); });
    c.on('error', () => r(false));
  })).catch(e => { throw new Error(`${(e as Error).message}\n${log}`); });

  for (const [proto, port] of [['tcp', tcpPort], ['udp', udpPort]] as const) {
    const mdir = fs.mkdtempSync(path.join(dir, `${proto}-`));
    const server = new MonitorServer({ socket: path.join(mdir, 'm.sock'), db: ':memory:', token: 'tok', syslog: `${proto}://127.0.0.1:${port}`,
      syslogFacility: 'authpriv' });
    await server.start();
    const c = MonitorClient.connect(path.join(mdir, 'm.sock'), 'tok', { host: `web-${proto}`, session: `sess-${proto}`, program: '/usr/sbin/nginx', policy: '/etc/systrace/nginx.yaml', user: 'www-data' });
    c.send({ kind: 'deny', pid: 4321, program: '/usr/sbin/nginx', syscall: 'linux-execve', args: { filename: '/bin/sh' }, rule: 'default', decision: 'deny', errno: 'EACCES' });
    c.send({ kind: 'deny', pid: 4321, program: '/usr/sbin/nginx', syscall: 'linux-openat', args: { filename: '/etc/shadow "quoted"]' }, rule: '/etc/systrace/nginx.yaml:9', decision: 'deny', errno: 'EACCES' });
    await until(`${proto}: two alerts in rsyslog's file`, () => (read(out).match(new RegExp(`\\|web-${proto}\\|systrace\\|-\\|alert\\|`, 'g')) ?? []).length === 2)
      .catch(e => { throw new Error(`${(e as Error).message}\n${read(out)}\n${log}`); });
    await c.close();
    await server.close();

    const lines = read(out).split('\n').filter(l => l.includes(`|web-${proto}|`));
    const alerts = lines.filter(l => l.split('|')[7] === 'alert');
    const [v, facility, severity, time, host, app, procid, msgid, sd, ...msg] = alerts[0]!.split('|');
    t.same([v, facility, severity, host, app, procid, msgid], ['v=1', 'authpriv', 'alert', `web-${proto}`, 'systrace', '-', 'alert'],
      `${proto}: read as RFC 5424: ${alerts[0]}`);
    t.ok(!Number.isNaN(Date.parse(time!)), 'a timestamp');
    t.match(sd, /^\[systrace@32473 type="exec-not-in-policy" severity="alert" session="sess-/, 'the structured data');
    t.match(msg.join('|'), /exec of a program the policy does not name: linux-execve \/bin\/sh \(default\)/);
    const warning = alerts[1]!.split('|');
    t.same([warning[2], warning[7]], ['warning', 'alert'], 'a plain denial is a warning');
    t.match(warning[8], /type="denial"/);
    const denies = lines.filter(l => l.split('|')[7] === 'deny');
    t.equal(denies.length, 2, 'the events themselves too');
    t.match(denies[1], /arg\.filename="\/etc\/shadow \\"quoted\\"\\]"/, 'escaped as RFC 5424 says, and rsyslog keeps it');
  }
});
