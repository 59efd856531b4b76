import t from 'tap';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { completeEvent, encodeFrame, EVENTS_PROTO, FrameReader, MAX_FRAME, type Frame } from '../../monitor/protocol.js';
import { parseMonitorAddress } from '../../monitor/client.js';

t.test('the compiled-in schema is broker/events.proto', async t => {
  const file = fileURLToPath(new URL('../../broker/events.proto', import.meta.url));
  t.equal(EVENTS_PROTO, fs.readFileSync(file, 'utf8'));
});

const frames: Frame[] = [
  { hello: { token: 'tok', host: 'h1', session: 's-1', program: '/usr/bin/cat', policy: '/p.yaml', user: 'nobody', version: 1, key: 'abc' } },
  { welcome: { ok: false, reason: 'wrong token' } },
  { event: completeEvent({ seq: 3, time: '2025-01-31T12:00:00.000Z', kind: 'ask', pid: 4242, program: '/usr/bin/cat', syscall: 'linux-openat',
    args: { filename: '/etc/shadow', flags: 'O_RDONLY' }, rule: 'default', decision: 'ask', question: 2 ** 40 }) },
  { answer: { question: 17, answer: 'D', errno: 'ENOENT', rule: '' } },
];

t.test('frames round trip, whole or cut anywhere', async t => {
  const wire = Buffer.concat(frames.map(encodeFrame));
  t.same(new FrameReader().push(wire), frames, 'all at once');
  const r = new FrameReader();
  const got: Frame[] = [];
  for (const b of wire) got.push(...r.push(Buffer.from([b])));
  t.same(got, frames, 'a byte at a time');
});

t.test('hostile input is refused with a code', async t => {
  const big = Buffer.from([0x80 | 0x01, 0x80 | 0x00, 0x10]); // varint 0x40001 > MAX_FRAME
  t.ok(0x40001 > MAX_FRAME);
  t.throws(() => new FrameReader().push(big), { code: 'EFRAMETOOBIG' });
  t.throws(() => new FrameReader().push(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), { code: 'EBADFRAME' });
  t.throws(() => new FrameReader().push(Buffer.from([3, 0xff, 0xff, 0xff])), { code: 'EBADFRAME' }, 'a body that does not decode');
  t.throws(() => new FrameReader().push(Buffer.from([0])), { code: 'EBADFRAME' }, 'an empty frame has no body');
});

t.test('monitor addresses', async t => {
  t.same(parseMonitorAddress('/run/systrace/monitor.sock'), { path: '/run/systrace/monitor.sock' });
  t.same(parseMonitorAddress('unix:mon.sock'), { path: 'mon.sock' });
  t.same(parseMonitorAddress('monitor.example.org:7470'), { host: 'monitor.example.org', port: 7470 });
  t.same(parseMonitorAddress('[::1]:7470'), { host: '::1', port: 7470 });
  t.throws(() => parseMonitorAddress('monitor.example.org'));
  t.throws(() => parseMonitorAddress('h:99999'));
});
