// TCP listeners on 127.0.0.1 for the network tests.

import * as net from 'node:net';
import type { Teardown } from './files.js';

/** A TCP listener on 127.0.0.1 that counts connections; closed at teardown. */
export async function listener(t: Teardown): Promise<{ port: number; accepted: () => number }> {
  let count = 0;
  const server = net.createServer(sock => {
    count++;
    sock.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  t.teardown(() => new Promise<void>(resolve => server.close(() => resolve())));
  return { port: (server.address() as net.AddressInfo).port, accepted: () => count };
}

/** Waits (bounded: 1 s) for the listener to have seen `n` connections; the accept callback may run a moment after the client has gone. */
export async function accepts(accepted: () => number, n = 1): Promise<number> {
  for (let i = 0; i < 50 && accepted() < n; i++)
    await new Promise(resolve => setTimeout(resolve, 20));
  return accepted();
}

/** A port nothing listens on now (bound and released). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>(resolve => s.close(() => resolve()));
  return port;
}
