// `landlock: true` and TCP ports: bind and connect decided in the kernel by
// Landlock's port rights, when every socket the program can hold is TCP.
// Who decided shows in the errno: Landlock refuses with EACCES and reports
// nothing; the supervisor refuses with the rule's errno (EPERM) and a
// denial line.

import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { native } from '../../tracer/native.js';
import type { Teardown } from '../helpers/files.js';
import { accepts, freePort, listener } from '../helpers/net.js';
import { writeTempPolicy } from '../helpers/files.js';
import { policyYaml } from '../helpers/policy.js';
import { findDenial, runConfined, show } from '../helpers/systrace.js';
import { fixture, integrationSkip, paths, runUnpriv, unprivRoot } from '../helpers/unpriv.js';

function netSkip(): string | false {
  const base = integrationSkip();
  if (base) return base;
  const abi = native().landlockAbi();
  return abi < 4 ? `this kernel's Landlock ABI is ${abi}; TCP ports need 4 (Linux 6.7)` : false;
}
const skip = netSkip();

const TCP = (family: string): string =>
  `sockdom eq "${family}" and socktype eq "SOCK_STREAM" and (sockproto eq "0" or sockproto eq "IPPROTO_TCP") then permit`;
const both = (port: number): string => `sockaddr match "inet-*:${port}" or sockaddr match "inet6-*:${port}"`;

function netPolicy(connectPort: number, bindPort: number, socket = [TCP('AF_INET'), TCP('AF_INET6')]): string {
  const bin = path.dirname(fixture('try'));
  return `landlock: true\n${policyYaml({
    rules: {
      fsread: [`filename inpath "${bin}" then permit`, 'filename inpath "/usr/lib" then permit', 'filename inpath "/usr/bin" then permit'],
      socket,
      connect: [`${both(connectPort)} then permit`],
      bind: [`${both(bindPort)} or ${both(0)} then permit`],
      sendto: 'permit',
      close: 'permit',
    },
  })}`;
}

/** Runs each `try` line in one sh. */
const script = (lines: string[][]): string[] => ['/bin/sh', '-c', lines.map(l => l.map(a => `'${a}'`).join(' ')).join('; ')];

/**
 * `systrace run` with its output in files, not the pipes (unix sockets)
 * the test runner would give it: a unix socket the program inherits keeps
 * the ports with the supervisor (the next test).
 */
async function runToFiles(t: Teardown, policyText: string, cmd: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const policy = writeTempPolicy(t, policyText);
  const dir = fs.mkdtempSync('/tmp/systrace-net-');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.chownSync(dir, 65534, 65534);
  const out = path.join(dir, 'out');
  const err = path.join(dir, 'err');
  const systrace = path.join(unprivRoot(), paths.systrace);
  const r = await runUnpriv(['/bin/sh', '-c', 'out=$1; err=$2; shift 2; exec "$@" >"$out" 2>"$err" </dev/null', 'sh', out, err,
    systrace, 'run', '-a', '--stats', '-f', policy, '--', ...cmd]);
  const read = (f: string): string => (fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '');
  return { code: r.code, stdout: read(out), stderr: read(err) + r.stderr };
}

t.test('TCP ports: bind and connect are decided by Landlock, and nothing else gets a socket', { skip }, async t => {
  const { port, accepted } = await listener(t);
  const other = await freePort();
  const bindable = await freePort();
  const tr = fixture('try');
  const r = await runToFiles(t, netPolicy(port, bindable), script([
    [tr, 'connect', '127.0.0.1', String(port)],
    [tr, 'connect', '127.0.0.1', String(other)],
    [tr, 'connect', '::1', String(other)],
    [tr, 'bind', '127.0.0.1', String(bindable)],
    [tr, 'bind', '127.0.0.1', String(other)],
    [tr, 'bind', '127.0.0.1', '0'],
    [tr, 'fastopen', '127.0.0.1', String(port)],
    [tr, 'mptcp-connect', '127.0.0.1', String(port)],
    [tr, 'udp-connect', '127.0.0.1', String(port)],
  ]));
  const show2 = `--- stdout ---\n${r.stdout}--- stderr ---\n${r.stderr}`;
  t.equal(r.stdout, [
    'OK', // a permitted port
    'ERR EACCES', // Landlock: another port
    'ERR EACCES', // and over IPv6
    'OK',
    'ERR EACCES',
    'OK', // port 0: the kernel picks one, as the rule permits
    'ERR EPERM', // a fast open connects unseen by Landlock: denied in the filter
    'ERR EPERM', // MPTCP is not TCP to Landlock: the socket rule refuses it
    'ERR EPERM', // and UDP
    '',
  ].join('\n'), show2);
  t.notMatch(r.stderr, /landlock: ports not used/, show2);
  t.notOk(findDenial(r.stderr, { syscall: 'connect' }), 'Landlock reports nothing');
  t.notOk(findDenial(r.stderr, { syscall: 'bind' }), 'nor for bind');
  t.ok(findDenial(r.stderr, { syscall: 'socket' }), 'the refused sockets are the supervisor\'s, reported');
  const stats = /systrace: stats: .*/.exec(r.stderr)?.[0] ?? '';
  t.match(stats, /calls notified/, show2);
  t.notMatch(stats, /\b(connect|bind) \d/, 'bind and connect never reached systrace');
  t.equal(await accepts(accepted), 1, 'only the permitted connect reached the listener');
});

t.test('an inherited unix socket keeps the ports with the supervisor', { skip }, async t => {
  const { port, accepted } = await listener(t);
  const other = await freePort();
  // The test runner's pipes are unix sockets: stdout is one here.
  const r = await runConfined(t, netPolicy(port, other), [fixture('try'), 'connect', '127.0.0.1', String(other)]);
  t.match(r.stderr, /systrace: landlock: ports not used: fd 1, which the program inherits, is a unix socket that is not TCP/, show(r));
  t.equal(r.stdout, 'ERR EPERM\n', show(r));
  t.ok(findDenial(r.stderr, { syscall: 'connect', contains: `inet-[127.0.0.1]:${other}` }), 'the supervisor decided, and reported it');
  const ok = await runConfined(t, netPolicy(port, other), [fixture('try'), 'connect', '127.0.0.1', String(port)]);
  t.equal(ok.stdout, 'OK\n', show(ok));
  t.equal(await accepts(accepted), 1);
});

t.test('policy show says where the ports went, and why not', { skip }, async t => {
  const good = writeTempPolicy(t, netPolicy(443, 8080));
  const r = await runUnpriv([path.join(unprivRoot(), paths.systrace), 'policy', 'show', '-a', good]);
  t.match(r.stdout, /^landlock: bind and connect in the kernel, TCP ports checked by Landlock \(ABI \d+\)/m, r.stderr);
  t.match(r.stdout, /^ {2}connect +port 443 /m);
  t.match(r.stdout, /^ {2}bind +port 8080 /m);
  t.match(r.stdout, /^connect +kernel .*TCP ports checked by Landlock/m);
  // Any stream socket: MPTCP and SCTP too, which Landlock does not check.
  const loose = writeTempPolicy(t, netPolicy(443, 8080, ['socktype eq "SOCK_STREAM" then permit']));
  const l = await runUnpriv([path.join(unprivRoot(), paths.systrace), 'policy', 'show', '-a', loose]);
  t.match(l.stdout, /^landlock: ports not used: .*a socket that may not be TCP is permitted/m, l.stderr);
  t.match(l.stdout, /^connect +user /m);
});
