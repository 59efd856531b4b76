import t from 'tap';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  PROTOCOL_PROTO, decodeHello, decodeRequest, decodeResponse, encodeHello, encodeRequest, encodeResponse,
} from '../../broker/protocol.js';

t.test('the compiled-in schema is broker/protocol.proto', async t => {
  const file = fileURLToPath(new URL('../../broker/protocol.proto', import.meta.url));
  t.equal(PROTOCOL_PROTO, fs.readFileSync(file, 'utf8'));
});

t.test('round trips', async t => {
  t.same(decodeHello(encodeHello()), { version: 1 });
  const req = { id: 7n, pid: 1234, notifId: 0xfedcba9876543210n, op: 'bind', nr: 49, args: [3n, 0x7ffd12345678n, 16n, 0n, 0n, 0n] };
  t.same(decodeRequest(encodeRequest(req)), req);
  const res = { id: 7n, granted: true, errno: 'EADDRINUSE', reason: '' };
  t.same(decodeResponse(encodeResponse(res)), res);
});

t.test('malformed requests throw', async t => {
  t.throws(() => decodeRequest(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])));
  const many = encodeRequest({ id: 1n, pid: 1, notifId: 1n, op: 'bind', nr: 49, args: [1n, 2n, 3n, 4n, 5n, 6n, 7n] });
  t.throws(() => decodeRequest(many), /six/);
});
