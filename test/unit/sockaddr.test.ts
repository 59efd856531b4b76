import t from 'tap';
import { formatSockaddr } from '../../tracer/supervisor/sockaddr.js';

function inet(a: number[], port: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(2, 0);
  b.writeUInt16BE(port, 2);
  Buffer.from(a).copy(b, 4);
  return b;
}
function inet6(words: number[], port: number): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16LE(10, 0);
  b.writeUInt16BE(port, 2);
  words.forEach((w, i) => b.writeUInt16BE(w, 8 + 2 * i));
  return b;
}
function unix(path: string, abstract = false): Buffer {
  const p = Buffer.from(path);
  const b = Buffer.alloc(2 + (abstract ? 1 : 0) + p.length);
  b.writeUInt16LE(1, 0);
  p.copy(b, abstract ? 3 : 2);
  return b;
}

const cases: [string, Buffer, string][] = [
  ['inet', inet([127, 0, 0, 1], 80), 'inet-[127.0.0.1]:80'],
  ['inet high port', inet([10, 1, 2, 3], 65535), 'inet-[10.1.2.3]:65535'],
  ['inet6 loopback', inet6([0, 0, 0, 0, 0, 0, 0, 1], 443), 'inet6-[::1]:443'],
  ['inet6 any', inet6([0, 0, 0, 0, 0, 0, 0, 0], 8080), 'inet6-[::]:8080'],
  ['inet6 full', inet6([0x2001, 0xdb8, 1, 2, 3, 4, 5, 6], 1), 'inet6-[2001:db8:1:2:3:4:5:6]:1'],
  ['inet6 mapped', inet6([0, 0, 0, 0, 0, 0xffff, 0x7f00, 1], 5432), 'inet6-[::ffff:127.0.0.1]:5432'],
  ['unix path', unix('/run/app.sock'), '/run/app.sock'],
  ['unix abstract', unix('hidden', true), '@hidden'],
];

for (const [name, buf, want] of cases) {
  t.equal(formatSockaddr(buf), want, name);
}
t.equal(formatSockaddr(Buffer.from([1])), '<short sockaddr>', 'short buffer');

import { parseSockaddr } from '../../tracer/supervisor/sockaddr.js';
t.test('parseSockaddr is formatSockaddr\'s reverse', async t => {
  for (const [, buf, text] of cases) {
    const parsed = parseSockaddr(text);
    t.ok(parsed, `${text} parses`);
    t.equal(formatSockaddr(parsed!), text, `${text} round-trips`);
    if (!text.startsWith('/') && !text.startsWith('@')) t.same(parsed, buf.subarray(0, parsed!.length), `${text}: same bytes`);
  }
  for (const bad of ['inet-[1.2.3.256]:80', 'inet-[1.2.3.4]:70000', 'inet6-[1::2::3]:1', 'tcp:80', 'inet6-[::1]']) {
    t.equal(parseSockaddr(bad), undefined, `${bad} refused`);
  }
});
