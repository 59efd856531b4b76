// connect() decided on the socket address, against a listener on 127.0.0.1.

import * as net from 'node:net';
import t from 'tap';
import type { Teardown } from '../helpers/files.js';
import { policyYaml } from '../helpers/policy.js';
import { findDenial, runConfined, show } from '../helpers/systrace.js';
import { fixture, integrationSkip } from '../helpers/unpriv.js';

const skip = integrationSkip();

/** A TCP listener on 127.0.0.1 that counts connections; closed at teardown. */
async function listener(t: Teardown): Promise<{ port: number; accepted: () => number }> {
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
  const port = (server.address() as net.AddressInfo).port;
  return { port, accepted: () => count };
}

const SOCKET_CALLS = { socket: 'permit', setsockopt: 'permit', getsockname: 'permit' };

t.test('connect to a permitted address', { skip }, async t => {
  const { port, accepted } = await listener(t);
  const policy = policyYaml({
    rules: { ...SOCKET_CALLS, connect: [`sockaddr eq "inet-[127.0.0.1]:${port}" then permit`] },
  });
  const r = await runConfined(t, policy, [fixture('try'), 'connect', '127.0.0.1', String(port)]);
  t.equal(r.stdout, 'OK\n', show(r));
  // The accept callback may run a moment after the client has gone.
  for (let i = 0; i < 50 && accepted() === 0; i++)
    await new Promise(resolve => setTimeout(resolve, 20));
  t.equal(accepted(), 1, 'the listener saw exactly one connection');
});

t.test('connect to another port is denied and logged', { skip }, async t => {
  const { port, accepted } = await listener(t);
  const other = port === 65535 ? port - 1 : port + 1;
  const policy = policyYaml({
    rules: { ...SOCKET_CALLS, connect: [`sockaddr eq "inet-[127.0.0.1]:${other}" then permit`] },
  });
  const r = await runConfined(t, policy, [fixture('try'), 'connect', '127.0.0.1', String(port)]);
  t.equal(r.stdout, 'ERR EPERM\n', show(r));
  t.ok(findDenial(r.stderr, { syscall: 'connect', contains: `inet-[127.0.0.1]:${port}`, policy: r.policy }),
    `denial names the address\n${r.stderr}`);
  await new Promise(resolve => setTimeout(resolve, 100));
  t.equal(accepted(), 0, 'no connection reached the listener');
});

t.test('connect from the i386 static binary (linux32)', { skip }, async t => {
  const { port } = await listener(t);
  const policy = policyYaml({
    emulation: 'linux32',
    rules: { ...SOCKET_CALLS, connect: [`sockaddr eq "inet-[127.0.0.1]:${port}" then permit`] },
  });
  const ok = await runConfined(t, policy, [fixture('try32-static'), 'connect', '127.0.0.1', String(port)]);
  t.equal(ok.stdout, 'OK\n', show(ok));
  const deny = policyYaml({ emulation: 'linux32', rules: { ...SOCKET_CALLS } });
  const no = await runConfined(t, deny, [fixture('try32-static'), 'connect', '127.0.0.1', String(port)]);
  t.equal(no.stdout, 'ERR EPERM\n', show(no));
});

// sendto(MSG_FASTOPEN) connects a TCP socket as it sends: a connect that
// the connect rules never see. Under a policy that permits sendto outright
// and restricts connect, it must not reach the listener.
t.test('a fast-open send cannot connect where connect is restricted', { skip }, async t => {
  const { port, accepted } = await listener(t);
  const other = port === 65535 ? port - 1 : port + 1;
  const restricted = policyYaml({
    rules: { ...SOCKET_CALLS, sendto: 'permit', connect: [`sockaddr eq "inet-[127.0.0.1]:${other}" then permit`] },
  });
  const r = await runConfined(t, restricted, [fixture('try'), 'fastopen', '127.0.0.1', String(port)]);
  t.equal(r.stdout, 'ERR EPERM\n', show(r));
  await new Promise(resolve => setTimeout(resolve, 100));
  t.equal(accepted(), 0, 'no connection reached the listener');
  // The same send where connect is permitted outright does connect: the
  // fixture and the kernel's fast open are real (net.ipv4.tcp_fastopen
  // has the client bit by default).
  const free = policyYaml({ rules: { ...SOCKET_CALLS, sendto: 'permit', connect: 'permit' } });
  const ok = await runConfined(t, free, [fixture('try'), 'fastopen', '127.0.0.1', String(port)]);
  t.equal(ok.stdout, 'OK\n', show(ok));
  for (let i = 0; i < 50 && accepted() === 0; i++)
    await new Promise(resolve => setTimeout(resolve, 20));
  t.equal(accepted(), 1, 'the permitted fast open connected');
});
