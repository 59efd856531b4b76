// Privilege elevation through the root broker daemon: an unprivileged
// program binds port 80 because the administrator granted it, everything
// else is refused, every request is in the audit log, and a client that
// speaks the protocol directly gets nothing it was not granted.

import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { makeFiles, type Teardown } from '../helpers/files.js';
import { show } from '../helpers/systrace.js';
import { fixture, integrationSkip, killTree, paths, repoRoot, runUnpriv, unprivRoot } from '../helpers/unpriv.js';
import { verifyAudit, readAudit } from '../../broker/audit.js';

const skip = integrationSkip() || (process.getuid?.() !== 0 ? 'the broker runs as root' : false);
const PYTHON = fs.existsSync('/usr/bin/python3') ? fs.realpathSync('/usr/bin/python3') : '/usr/bin/python3';

interface Broker {
  socket: string;
  policy: string;
  audit: string;
  proc: ChildProcess;
  log: () => string;
}

/** A broker daemon with its own admin policy (root-owned), socket and audit log. */
async function startBroker(t: Teardown, grants: string): Promise<Broker> {
  const id = randomBytes(6).toString('hex');
  const etc = `/etc/systrace-test-${id}`;
  const logdir = `/var/log/systrace-test-${id}`;
  fs.mkdirSync(etc, { mode: 0o755 });
  fs.mkdirSync(logdir, { mode: 0o750 });
  const policy = path.join(etc, 'elevate.yaml');
  const audit = path.join(logdir, 'elevate.log');
  fs.writeFileSync(policy, `audit: ${audit}\ngrants:\n${grants}`, { mode: 0o644 });
  const socket = `/run/systrace-test-${id}.sock`;
  let out = '';
  const proc = spawn(process.execPath, [path.join(repoRoot, 'dist/broker/main.js'), '--daemon', `--socket=${socket}`, `--policy=${policy}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout!.on('data', d => (out += d));
  proc.stderr!.on('data', d => (out += d));
  t.teardown(() => {
    proc.kill('SIGKILL');
    fs.rmSync(etc, { recursive: true, force: true });
    fs.rmSync(logdir, { recursive: true, force: true });
    fs.rmSync(socket, { force: true });
  });
  for (let i = 0; i < 100 && !fs.existsSync(socket) && proc.exitCode === null; i++) await new Promise(r => setTimeout(r, 50));
  if (!fs.existsSync(socket)) throw new Error(`the broker did not start:\n${out}`);
  return { socket, policy, audit, proc, log: () => out };
}

function get(port: number, file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: `/${file}`, timeout: 2000 }, res => {
      let body = '';
      res.on('data', d => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

/** Runs a server confined as nobody until `ready` answers, then stops it. */
async function serve(t: Teardown, args: string[], port: number, file: string, opts: { env?: NodeJS.ProcessEnv; cwd?: string; prefix?: string[] } = {}) {
  let pid: number | undefined;
  const run = runUnpriv([...(opts.prefix ?? []), path.join(unprivRoot(), paths.systrace), ...args], {
    timeoutMs: 60_000,
    cwd: opts.cwd,
    env: opts.env,
    onSpawn: p => (pid = p),
  });
  let body: string | undefined;
  for (let i = 0; i < 100 && body === undefined; i++) {
    await new Promise(r => setTimeout(r, 100));
    body = await get(port, file).catch(() => undefined);
  }
  if (pid !== undefined) killTree(pid);
  const result = await run.catch(e => ({ code: null, signal: null, stdout: '', stderr: String(e) }));
  return { body, result };
}

/** Runs cmd as another unprivileged uid (runUnpriv is always nobody). */
function asUid(uid: number, cmd: string[]): Promise<{ code: number | null; signal: null; stdout: string; stderr: string }> {
  return new Promise(resolve => {
    const p = spawn('/usr/bin/setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '/usr/bin/env', '-i', 'PATH=/usr/bin:/bin', 'HOME=/nonexistent', ...cmd], { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', d => (stdout += d));
    p.stderr.on('data', d => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('close', code => {
      clearTimeout(timer);
      resolve({ code, signal: null, stdout, stderr });
    });
  });
}

const grantPython = (port: string) => `  - users: [nobody]
    program: ${PYTHON}
    allow:
      bind:
        - sockaddr match "inet-*:${port}" then permit
`;

function userPolicy(t: Teardown, ports = '80') {
  const dir = makeFiles(t, {
    'web.yaml': `emulation: linux\ndefault: permit\nrules:\n  bind:\n    - sockaddr match "inet-*:${ports}" then permit as root\n`,
    'www/index.html': 'hello from port 80\n',
  });
  return { policy: path.join(dir, 'web.yaml'), www: path.join(dir, 'www') };
}

t.test('python3 http.server binds 127.0.0.1:80 as nobody, granted and recorded', { skip }, async t => {
  const b = await startBroker(t, grantPython('80'));
  const u = userPolicy(t);
  const { body, result } = await serve(t, ['run', '-a', '-f', u.policy, '--broker', b.socket, '--', '/usr/bin/python3', '-m', 'http.server', '80', '--bind', '127.0.0.1'], 80, 'index.html', { cwd: u.www });
  t.equal(body, 'hello from port 80\n', `the page is served from port 80\n${show(result)}\n${b.log()}`);
  t.match(result.stderr, /systrace: elevated user: nobody, .*bind.*inet-\[127\.0\.0\.1\]:80/, 'the tracer says what was elevated');
  const records = readAudit(b.audit);
  t.equal(records.length, 1, 'one record');
  t.match(records[0], { user: 'nobody', call: 'bind', program: PYTHON, result: 'granted', args: { sockaddr: 'inet-[127.0.0.1]:80' } });
  t.match(records[0]!.grant, /elevate\.yaml:7$/, 'naming the grant rule');
  t.same(verifyAudit(b.audit), { ok: true, records: 1, problems: [] }, 'the audit log verifies');
});

t.test('daemon mode works under no_new_privs, where a setuid launcher cannot', { skip }, async t => {
  const b = await startBroker(t, grantPython('80'));
  const u = userPolicy(t);
  const { body, result } = await serve(t, ['run', '-a', '-f', u.policy, '--broker', b.socket, '--', '/usr/bin/python3', '-m', 'http.server', '80', '--bind', '127.0.0.1'], 80, 'index.html', { cwd: u.www, prefix: ['/usr/bin/setpriv', '--no-new-privs'] });
  t.equal(body, 'hello from port 80\n', `served under NoNewPrivileges\n${show(result)}`);
});

t.test('without a grant the bind fails as it would for nobody, and is recorded', { skip }, async t => {
  const b = await startBroker(t, grantPython('80'));
  // Another port.
  const u = userPolicy(t, '8?');
  const py = await runUnpriv([path.join(unprivRoot(), paths.systrace), 'run', '-a', '-f', u.policy, '--broker', b.socket, '--',
    '/usr/bin/python3', '-c', 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 81))'], { timeoutMs: 30_000 });
  t.match(py.stderr, /PermissionError/, `port 81 is refused: the program sees EACCES\n${show(py)}`);
  t.match(py.stderr, /elevation refused by the broker/);
  // Another program.
  const other = userPolicy(t);
  const tr = await runUnpriv([path.join(unprivRoot(), paths.systrace), 'run', '-a', '-f', other.policy, '--broker', b.socket, '--', fixture('try'), 'bind', '127.0.0.1', '80'], { timeoutMs: 30_000 });
  t.equal(tr.stdout, 'ERR EACCES\n', `another program is refused\n${show(tr)}`);
  // Another user (uid 65533, not in the grant).
  const us = await asUid(65533, [path.join(unprivRoot(), paths.systrace), 'run', '-a', '-f', other.policy, '--broker', b.socket, '--', '/usr/bin/python3', '-c', 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 80))']);
  t.match(us.stderr, /PermissionError/, `another user is refused\n${show(us)}`);
  const records = readAudit(b.audit);
  t.equal(records.filter(r => r.result === 'refused').length, 3, 'three refusals recorded');
  t.ok(records.every(r => r.result === 'refused' && (r.reason ?? '').length > 0), 'each with its reason');
  t.ok(verifyAudit(b.audit).ok);
});

// A client that speaks the protocol to the broker directly, as nobody.
const HOSTILE = (root: string, socket: string) => `
import { native } from '${root}/dist/tracer/native.js';
import * as P from '${root}/dist/broker/protocol.js';
const n = native();
const out = {};
const connect = () => { const fd = n.unixConnect(${JSON.stringify(socket)}); if (fd < 0) throw new Error('connect ' + fd); return fd; };
const ask = (fd, req) => { n.sendMessage(fd, P.encodeRequest(req), []); return P.decodeResponse(n.recvMessage(fd, 4096).data); };
const base = { id: 1n, pid: process.pid, notifId: 1n, op: 'bind', nr: 49, args: [3n, 0n, 16n, 0n, 0n, 0n] };
// A pipe passed off as a seccomp listener.
const [r, w] = n.socketPair();
let fd = connect();
n.sendMessage(fd, P.encodeHello(), [r]);
out.rootPid = ask(fd, { ...base, pid: 1 });
out.notBlocked = ask(fd, { ...base, id: 2n });
out.wrongNr = ask(fd, { ...base, id: 3n, nr: 59 });
out.noOp = ask(fd, { ...base, id: 4n, op: 'mount' });
out.badPid = ask(fd, { ...base, id: 5n, pid: -3 });
n.sendMessage(fd, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), []);      // malformed
n.sendMessage(fd, Buffer.alloc(8000, 7), []);                                   // oversized
out.stillServing = ask(fd, { ...base, id: 6n, pid: 1 });
// A connection whose first message is not a Hello is dropped.
const fd2 = connect();
n.sendMessage(fd2, P.encodeRequest(base), []);
const m = n.recvMessage(fd2, 4096);
out.noHello = m.data.length === 0 ? 'closed' : 'answered';
console.log(JSON.stringify(out, (k, v) => typeof v === 'bigint' ? String(v) : v));
`;

t.test('a hostile client gets refusals, each recorded, and the broker keeps serving', { skip }, async t => {
  const b = await startBroker(t, grantPython('80'));
  const dir = makeFiles(t, { 'hostile.mjs': HOSTILE(unprivRoot(), b.socket) });
  const r = await runUnpriv([process.execPath, path.join(dir, 'hostile.mjs')], { timeoutMs: 30_000 });
  t.equal(r.code, 0, show(r));
  const out = JSON.parse(r.stdout) as Record<string, { granted: boolean; reason: string } | string>;
  const refused = (k: string, why: RegExp) => {
    const v = out[k] as { granted: boolean; reason: string };
    t.equal(v?.granted, false, `${k}: refused`);
    t.match(v?.reason, why, `${k}: ${v?.reason}`);
  };
  refused('rootPid', /does not run as uid 65534/);
  refused('notBlocked', /not blocked in bind/);
  refused('wrongNr', /is not bind/);
  refused('noOp', /no such operation/);
  refused('badPid', /bad pid|no such process/);
  refused('stillServing', /does not run as uid/);
  t.equal(out.noHello, 'closed', 'a session must start with Hello and a listener');
  const records = readAudit(b.audit);
  t.ok(records.length >= 8, `every request recorded (${records.length})`);
  t.ok(records.every(x => x.result === 'refused'), 'all refused');
  t.ok(records.some(x => /malformed/.test(x.reason ?? '')), 'the malformed message is recorded');
  t.ok(records.some(x => /unreadable|EMSGSIZE|too long|Message too long/i.test(x.reason ?? '')), 'the oversized one too');
  t.equal(b.proc.exitCode, null, 'the broker is still running');
  t.ok(verifyAudit(b.audit).ok);
});

t.test('the broker refuses to start on an admin policy others can write', { skip }, async t => {
  const id = randomBytes(6).toString('hex');
  const etc = `/etc/systrace-test-${id}`;
  fs.mkdirSync(etc, { mode: 0o755 });
  t.teardown(() => fs.rmSync(etc, { recursive: true, force: true }));
  const policy = path.join(etc, 'elevate.yaml');
  fs.writeFileSync(policy, 'audit: /var/log/x.log\ngrants: []\n', { mode: 0o666 });
  fs.chmodSync(policy, 0o666);
  const r = await new Promise<{ code: number | null; err: string }>(resolve => {
    const p = spawn(process.execPath, [path.join(repoRoot, 'dist/broker/main.js'), '--daemon', `--socket=/run/systrace-test-${id}.sock`, `--policy=${policy}`]);
    let err = '';
    p.stderr.on('data', d => (err += d));
    p.on('close', code => resolve({ code, err }));
  });
  t.equal(r.code, 125);
  t.match(r.err, policy, 'names the file');
  t.match(r.err, /writable/i, 'and why');
});

const grantProgram = (program: string) => `  - users: [nobody]
    program: ${program}
    allow:
      bind:
        - sockaddr match "inet-*:80" then permit
`;

t.test('nginx from Debian binds 127.0.0.1:80 as nobody', { skip: skip || (fs.existsSync('/usr/sbin/nginx') ? false : 'nginx is not installed (apt-get install nginx)') }, async t => {
  const b = await startBroker(t, grantProgram('/usr/sbin/nginx'));
  const u = userPolicy(t);
  const dir = makeFiles(t, { 'www/index.html': 'hello from nginx\n' }, { writableByNobody: true });
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, `daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 16; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server { listen 127.0.0.1:80; root ${dir}/www; }
}
`, { mode: 0o644 });
  const { body, result } = await serve(t, ['run', '-a', '-f', u.policy, '--broker', b.socket, '--', '/usr/sbin/nginx', '-p', dir, '-c', conf], 80, 'index.html');
  t.equal(body, 'hello from nginx\n', `nginx serves from port 80\n${show(result)}\n${fs.existsSync(`${dir}/error.log`) ? fs.readFileSync(`${dir}/error.log`, 'utf8') : ''}`);
  const records = readAudit(b.audit);
  t.ok(records.some(r => r.result === 'granted' && r.program === '/usr/sbin/nginx' && r.args.sockaddr === 'inet-[127.0.0.1]:80'), 'the grant is recorded');
  t.ok(verifyAudit(b.audit).ok);
});

t.test('a static Go binary binds 127.0.0.1:80 as nobody', { skip: skip || (fs.existsSync('/usr/bin/go') ? false : 'Go is not installed (apt-get install golang-go)') }, async t => {
  const dir = makeFiles(t, { 'main.go': `package main

import (
	"net/http"
	"os"
)

func main() {
	http.Handle("/", http.FileServer(http.Dir(os.Args[1])))
	if err := http.ListenAndServe("127.0.0.1:80", nil); err != nil {
		os.Stderr.WriteString(err.Error() + "\\n")
		os.Exit(1)
	}
}
`, 'www/page.txt': 'hello from go\n' });
  const bin = path.join(dir, 'gosrv');
  const { execFileSync } = await import('node:child_process');
  execFileSync('/usr/bin/go', ['build', '-o', bin, 'main.go'], { cwd: dir, env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod', GO111MODULE: 'off' }, stdio: 'pipe' });
  fs.chmodSync(bin, 0o755);
  t.match(execFileSync('/usr/bin/file', [bin], { encoding: 'utf8' }), /statically linked/, 'the binary is static');
  const b = await startBroker(t, grantProgram(bin));
  const u = userPolicy(t);
  // (Go's file server redirects /index.html to ./, so another name.)
  const { body, result } = await serve(t, ['run', '-a', '-f', u.policy, '--broker', b.socket, '--', bin, path.join(dir, 'www')], 80, 'page.txt');
  t.equal(body, 'hello from go\n', `the Go server serves from port 80\n${show(result)}`);
  t.ok(readAudit(b.audit).some(r => r.result === 'granted' && r.program === bin), 'the grant is recorded');
});

t.test('through the setuid launcher: a per-session broker, installed by `systrace broker install`', {
  skip: skip || (fs.existsSync('/etc/systrace') ? '/etc/systrace exists: this test will not touch a real admin policy' : false),
}, async t => {
  const id = randomBytes(6).toString('hex');
  const prefix = `/usr/local/lib/systrace-test-${id}`;
  const logdir = `/var/log/systrace-test-${id}`;
  const audit = path.join(logdir, 'elevate.log');
  fs.mkdirSync('/etc/systrace', { mode: 0o755 });
  fs.mkdirSync(logdir, { mode: 0o750 });
  fs.writeFileSync('/etc/systrace/elevate.yaml', `audit: ${audit}\ngrants:\n${grantPython('80')}`, { mode: 0o644 });
  t.teardown(() => {
    fs.rmSync('/etc/systrace', { recursive: true, force: true });
    fs.rmSync(logdir, { recursive: true, force: true });
    fs.rmSync(prefix, { recursive: true, force: true });
  });
  const { execFileSync } = await import('node:child_process');
  execFileSync(process.execPath, [path.join(repoRoot, 'dist/tracer/cli/main.js'), 'broker', 'install', '--prefix', prefix, '--systemd-dir', '/nonexistent'], { stdio: 'pipe' });
  const launcher = path.join(prefix, 'broker-launch');
  t.equal(fs.statSync(launcher).mode & 0o7777, 0o4755, 'the launcher is setuid root');
  const u = userPolicy(t);
  const { body, result } = await serve(t, ['run', '-a', '-f', u.policy, '--broker', launcher, '--', '/usr/bin/python3', '-m', 'http.server', '80', '--bind', '127.0.0.1'], 80, 'index.html', { cwd: u.www });
  t.equal(body, 'hello from port 80\n', `served from port 80 through the launcher\n${show(result)}`);
  const records = readAudit(audit);
  t.match(records, [{ user: 'nobody', result: 'granted', call: 'bind' }]);
  t.ok(verifyAudit(audit).ok);
});

t.test('open of a file only root may read, and a raw socket: granted, and refused without a grant', { skip }, async t => {
  const id = randomBytes(6).toString('hex');
  const dir = `/etc/systrace-test-key-${id}`;
  fs.mkdirSync(dir, { mode: 0o755 });
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const key = path.join(dir, 'server.key');
  fs.writeFileSync(key, 'root only\n', { mode: 0o600 });
  const tryBin = fixture('try');
  const b = await startBroker(t, `  - users: [nobody]
    program: ${tryBin}
    allow:
      fsread:
        - filename eq "${key}" then permit
  - users: [nobody]
    program: ${PYTHON}
    allow:
      socket:
        - socktype eq "SOCK_RAW" then permit
`);
  const dirs = makeFiles(t, {
    'p.yaml': `emulation: linux\ndefault: permit\nrules:\n  fsread:\n    - filename inpath "${dir}" then permit as root\n  socket:\n    - socktype eq "SOCK_RAW" then permit as root\n`,
  });
  const policy = path.join(dirs, 'p.yaml');
  const run = (cmd: string[]) => runUnpriv([path.join(unprivRoot(), paths.systrace), 'run', '-a', '-f', policy, '--broker', b.socket, '--', ...cmd], { timeoutMs: 30_000 });

  const granted = await run([tryBin, 'open', key]);
  t.equal(granted.stdout, 'OK root only\n', `the root-only file is read through the broker\n${show(granted)}`);
  const other = await run([tryBin, 'open', path.join(dir, 'other.key')]);
  t.equal(other.stdout, 'ERR ENOENT\n', 'another file in that directory: not granted, and fails as it would for nobody');
  const raw = await run(['/usr/bin/python3', '-c', 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); print("raw", s.type == socket.SOCK_RAW)']);
  t.equal(raw.stdout, 'raw True\n', `a raw socket through the broker\n${show(raw)}`);
  const rawTry = await run([fixture('try-static'), 'open', key]);
  t.equal(rawTry.stdout, 'ERR EACCES\n', 'a program without a grant gets EACCES, as nobody would');
  const records = readAudit(b.audit);
  t.ok(records.some(r => r.result === 'granted' && r.call === 'openat' && r.args.filename === key), 'the open is recorded');
  t.ok(records.some(r => r.result === 'granted' && r.call === 'socket'), 'the raw socket is recorded');
  t.ok(records.some(r => r.result === 'refused' && r.program.endsWith('try-static')), 'the refusal too');
  t.ok(verifyAudit(b.audit).ok);
});

// A relay between the tracer and the broker, as nobody: it forwards the
// session's listener, but before each genuine request it sends altered
// copies (a stale notification id, another fd number, another pid of its
// own, another call), which the broker must refuse, and then the genuine
// one, which it grants.
const RELAY = (root: string, listenPath: string, brokerSock: string, out: string) => `
import fs from 'node:fs';
import { native } from '${root}/dist/tracer/native.js';
import * as P from '${root}/dist/broker/protocol.js';
const n = native();
const nap = ms => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
function recvWait(fd) {
  for (let i = 0; i < 1000; i++) {
    const m = n.recvMessage(fd, 4096, true);
    if (m !== null) return m;
    nap(10);
  }
  throw new Error('timeout');
}
const lfd = n.unixListen(${JSON.stringify(listenPath)}, 0o600);
let tracer = -1;
for (let i = 0; i < 1000 && tracer < 0; i++) { tracer = n.unixAccept(lfd); if (tracer < 0) nap(10); }
const hello = recvWait(tracer);
const broker = n.unixConnect(${JSON.stringify(brokerSock)});
n.sendMessage(broker, hello.data, hello.fds);
const seen = {};
const ask = req => { n.sendMessage(broker, P.encodeRequest(req), []); return P.decodeResponse(n.recvMessage(broker, 4096).data); };
for (;;) {
  const m = recvWait(tracer);
  if (m.data.length === 0) break;
  const req = P.decodeRequest(m.data);
  seen.staleNotification = ask({ ...req, notifId: req.notifId + 12345n });
  seen.otherFd = ask({ ...req, args: [0n, ...req.args.slice(1)] });
  seen.otherPid = ask({ ...req, pid: process.pid });
  seen.otherCall = ask({ ...req, op: 'open', nr: 257 });
  const genuine = ask(req);
  seen.genuine = genuine;
  // Written first: the broker has answered the program already, which may
  // have exited (and its tracer with it) before the reply below.
  fs.writeFileSync(${JSON.stringify(out)}, JSON.stringify(seen, (k, v) => typeof v === 'bigint' ? String(v) : v));
  try { n.sendMessage(tracer, P.encodeResponse(genuine), []); } catch { break; }
}
`;

t.test('a tracer that lies: altered requests are refused and recorded, the true one granted', { skip }, async t => {
  const tryBin = fixture('try');
  const b = await startBroker(t, `  - users: [nobody]
    program: ${tryBin}
    allow:
      bind:
        - sockaddr match "inet-*:83" then permit
`);
  const dir = makeFiles(t, { 'p.yaml': 'emulation: linux\ndefault: permit\nrules:\n  bind:\n    - sockaddr match "inet-*:83" then permit as root\n' }, { writableByNobody: true });
  const relayPath = path.join(dir, 'relay.sock');
  const out = path.join(dir, 'seen.json');
  fs.writeFileSync(path.join(dir, 'relay.mjs'), RELAY(unprivRoot(), relayPath, b.socket, out), { mode: 0o644 });
  const relay = runUnpriv([process.execPath, path.join(dir, 'relay.mjs')], { timeoutMs: 30_000 });
  for (let i = 0; i < 100 && !fs.existsSync(relayPath); i++) await new Promise(r => setTimeout(r, 50));
  const r = await runUnpriv([path.join(unprivRoot(), paths.systrace), 'run', '-a', '-f', path.join(dir, 'p.yaml'), '--broker', relayPath, '--', tryBin, 'bind', '127.0.0.1', '83'], { timeoutMs: 30_000 });
  const rel = await relay;
  t.equal(r.stdout, 'OK\n', `the genuine request is granted\n${show(r)}\n${show(rel)}`);
  const seen = JSON.parse(fs.readFileSync(out, 'utf8')) as Record<string, { granted: boolean; reason: string }>;
  t.match(seen.staleNotification, { granted: false, reason: /not pending/ }, 'a stale notification id');
  t.match(seen.otherFd, { granted: false, reason: /arguments claimed are not those/ }, 'another fd number');
  t.match(seen.otherPid, { granted: false, reason: /not blocked in bind/ }, 'another pid of its own');
  t.match(seen.otherCall, { granted: false, reason: /not blocked in open/ }, 'another call');
  t.match(seen.genuine, { granted: true });
  const records = readAudit(b.audit);
  t.equal(records.filter(x => x.result === 'refused').length, 4, 'four refusals recorded');
  t.equal(records.filter(x => x.result === 'granted').length, 1, 'one grant');
  t.ok(verifyAudit(b.audit).ok);
});
