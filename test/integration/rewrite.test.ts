// Argument rewriting, checked from outside the sandbox: a rewritten call
// reaches the new target and never the old one.

import * as fs from 'node:fs';
import * as net from 'node:net';
import * as dgram from 'node:dgram';
import * as path from 'node:path';
import t from 'tap';
import { makeFiles, type Teardown } from '../helpers/files.js';
import { runConfined, show } from '../helpers/systrace.js';
import { fixture, integrationSkip, repoRoot } from '../helpers/unpriv.js';

const skip = integrationSkip();

/** OLD is what programs name; NEW is where the calls land. Both writable by nobody. */
function remap(t: Teardown) {
  const root = makeFiles(t, { 'old/a.txt': 'old a\n', 'new/a.txt': 'new a\n', 'new/sub/b.txt': 'new b\n' }, { writableByNobody: true });
  for (const p of ['old', 'old/a.txt', 'new', 'new/a.txt', 'new/sub', 'new/sub/b.txt']) fs.chownSync(path.join(root, p), 65534, 65534);
  const old = path.join(root, 'old');
  const neu = path.join(root, 'new');
  const policy = `emulation: linux
default: permit
rules:
  fsread:
    - filename inpath "${old}" then rewrite "${old}" to "${neu}"
  fswrite:
    - filename inpath "${old}" then rewrite "${old}" to "${neu}"
`;
  return { root, old, neu, policy };
}

const SCRIPT = String.raw`
import errno, os, sys
d = sys.argv[1]
def run(name, f):
    try:
        r = f()
        print(name, 'OK' if r is None else 'OK ' + str(r))
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, e.errno))
run('read', lambda: open(d + '/a.txt').read().strip())
run('stat', lambda: os.stat(d + '/sub/b.txt').st_size)
run('access', lambda: os.access(d + '/sub/b.txt', os.R_OK))
run('mkdir', lambda: os.mkdir(d + '/made'))
run('write', lambda: open(d + '/made/w.txt', 'w').write('written'))
run('rename', lambda: os.rename(d + '/made/w.txt', d + '/made/r.txt'))
run('link', lambda: os.link(d + '/made/r.txt', d + '/made/l.txt'))
run('symlink', lambda: os.symlink('r.txt', d + '/made/s'))
run('readlink', lambda: os.readlink(d + '/made/s'))
run('chmod', lambda: os.chmod(d + '/made/r.txt', 0o600))
run('truncate', lambda: os.truncate(d + '/made/r.txt', 3))
run('utime', lambda: os.utime(d + '/made/r.txt', (1000000000, 1000000000)))
run('unlink', lambda: os.unlink(d + '/made/l.txt'))
run('listdir', lambda: ','.join(sorted(os.listdir(d + '/made'))))
`;

t.test('python3: every path call under the old prefix lands under the new one', { skip }, async t => {
  const { old, neu, policy } = remap(t);
  const script = makeFiles(t, { 's.py': SCRIPT });
  const r = await runConfined(t, policy, ['/usr/bin/python3', path.join(script, 's.py'), old]);
  const got = Object.fromEntries(r.stdout.trim().split('\n').map(l => [l.split(' ')[0], l.slice(l.indexOf(' ') + 1)]));
  t.equal(got.read, 'OK new a', `read comes from the new file\n${show(r)}`);
  t.equal(got.stat, 'OK 6', 'stat sees the new file');
  t.equal(got.access, 'OK True');
  for (const c of ['mkdir', 'rename', 'link', 'symlink', 'chmod', 'truncate', 'utime', 'unlink']) t.equal(got[c], 'OK', `${c}\n${show(r)}`);
  t.equal(got.write, 'OK 7');
  t.equal(got.readlink, 'OK r.txt');
  t.equal(got.listdir, 'OK r.txt,s', 'the directory as the program sees it');
  // From outside: everything happened under NEW, nothing under OLD.
  t.same(fs.readdirSync(old).sort(), ['a.txt'], 'the old directory is untouched');
  t.equal(fs.readFileSync(path.join(old, 'a.txt'), 'utf8'), 'old a\n');
  const r2 = path.join(neu, 'made', 'r.txt');
  t.equal(fs.readFileSync(r2, 'utf8'), 'wri', 'written, renamed (both names rewritten) and truncated under the new prefix');
  t.equal(fs.statSync(r2).mode & 0o777, 0o600);
  t.equal(fs.statSync(r2).mtimeMs, 1000000000000);
  t.equal(fs.readlinkSync(path.join(neu, 'made', 's')), 'r.txt');
});

t.test('a static binary: open, stat, mkdir, rename, unlink rewritten', { skip }, async t => {
  const { old, neu, policy } = remap(t);
  const run = (...args: string[]) => runConfined(t, policy, [fixture('try-static'), ...args]);
  t.equal((await run('open', path.join(old, 'a.txt'))).stdout, 'OK new a\n', 'the new file is read');
  t.equal((await run('stat', path.join(old, 'sub/b.txt'))).stdout, 'OK\n');
  t.equal((await run('mkdir', path.join(old, 'd'))).stdout, 'OK\n');
  t.ok(fs.statSync(path.join(neu, 'd')).isDirectory(), 'made under NEW');
  t.equal((await run('rename', path.join(old, 'd'), path.join(old, 'e'))).stdout, 'OK\n');
  t.ok(fs.existsSync(path.join(neu, 'e')), 'renamed under NEW');
  t.equal((await run('unlink', path.join(old, 'a.txt'))).stdout, 'OK\n');
  t.notOk(fs.existsSync(path.join(neu, 'a.txt')), 'unlinked under NEW');
  t.ok(fs.existsSync(path.join(old, 'a.txt')), 'and not under OLD');
  t.same(fs.readdirSync(old).sort(), ['a.txt']);
});

t.test('one file to another: a program that insists on /etc/app.conf', { skip }, async t => {
  const dir = makeFiles(t, { 'app.conf': 'local copy\n' });
  const conf = path.join(dir, 'app.conf');
  const policy = `emulation: linux\ndefault: permit\nrules:\n  fsread:\n    - filename eq "/etc/app.conf" then rewrite "${conf}" log\n`;
  const r = await runConfined(t, policy, ['/bin/cat', '/etc/app.conf']);
  t.equal(r.stdout, 'local copy\n', show(r));
  t.match(r.stderr, /systrace: rewrite .*filename: \/etc\/app\.conf -> .*app\.conf/, 'a log rule reports both values');
});

t.test('tar -x into the remapped directory: every file lands under the new prefix', { skip }, async t => {
  const { old, neu, policy } = remap(t);
  const src = makeFiles(t, {});
  const archive = path.join(src, 'native.tar');
  const { execFileSync } = await import('node:child_process');
  execFileSync('tar', ['-cf', archive, '-C', repoRoot, 'native']);
  fs.chmodSync(archive, 0o644);
  const entries = execFileSync('tar', ['-tf', archive], { encoding: 'utf8' }).trim().split('\n');
  const r = await runConfined(t, policy, ['/usr/bin/tar', '-xf', archive, '-C', old]);
  t.equal(r.code, 0, show(r));
  for (const e of entries) t.ok(fs.existsSync(path.join(neu, e)), `${e} under NEW`);
  t.same(fs.readdirSync(old).sort(), ['a.txt'], 'nothing under OLD');
});

t.test('chdir into a rewritten directory is refused, and says why', { skip }, async t => {
  const { old, policy } = remap(t);
  const r = await runConfined(t, policy, ['/usr/bin/python3', '-c', `import os\ntry:\n    os.chdir(${JSON.stringify(old)})\nexcept OSError as e:\n    print(e.errno)`]);
  t.equal(r.stdout, '1\n', 'EPERM');
  t.match(r.stderr, /cannot be rewritten \(the kernel reads chdir's path itself\)/);
});

function listen(t: Teardown, onConn: () => void): Promise<number> {
  return new Promise(resolve => {
    const srv = net.createServer(c => {
      c.on('error', () => undefined);
      onConn();
      c.end('hello\n');
    });
    srv.listen(0, '127.0.0.1', () => resolve((srv.address() as net.AddressInfo).port));
    t.teardown(() => new Promise<void>(r => srv.close(() => r())));
  });
}

t.test('connect, bind and sendto rewritten to another address', { skip }, async t => {
  let a = 0;
  let b = 0;
  const portA = await listen(t, () => a++);
  const portB = await listen(t, () => b++);
  const udp = dgram.createSocket('udp4');
  const got: string[] = [];
  udp.on('message', m => got.push(m.toString()));
  await new Promise<void>(r => udp.bind(0, '127.0.0.1', () => r()));
  t.teardown(() => udp.close());
  const udpPort = udp.address().port;
  const policy = `emulation: linux
default: permit
rules:
  connect:
    - sockaddr eq "inet-[127.0.0.1]:${portA}" then rewrite "inet-[127.0.0.1]:${portB}"
  bind:
    - sockaddr match "inet-*:80" then rewrite "inet-*:18181"
  sendto:
    - sockaddr eq "inet-[127.0.0.1]:9" then rewrite "inet-[127.0.0.1]:${udpPort}"
`;
  const c = await runConfined(t, policy, [fixture('try'), 'connect', '127.0.0.1', String(portA)]);
  t.equal(c.stdout, 'OK\n', show(c));
  await new Promise(r => setTimeout(r, 200));
  t.equal(b, 1, 'the rewritten listener got the connection');
  t.equal(a, 0, 'the original did not');
  const s = await runConfined(t, policy, ['/usr/bin/python3', '-c', 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b"datagram", ("127.0.0.1", 9))']);
  t.equal(s.code, 0, show(s));
  await new Promise(r => setTimeout(r, 200));
  t.same(got, ['datagram'], 'the datagram reached the rewritten port');
  // A hard-coded port 80, for a user with no broker: bound on 18181 instead.
  const bd = await runConfined(t, policy, ['/usr/bin/python3', '-c', 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 80)); print(s.getsockname()[1])']);
  t.equal(bd.stdout, '18181\n', `bound on the rewritten port (getsockname tells the truth)\n${show(bd)}`);
});

t.test('racing threads never make the original path the one used', { skip }, async t => {
  // race opens ALLOWED while another thread flips the buffer to FORBIDS.
  // ALLOWED is rewritten to REDIRECT: every successful read must return
  // REDIRECT's content (race counts anything else, the original file's or
  // the forbidden one's, as a forbidden read).
  const dir = makeFiles(t, { allowed: 'original\n', forbids: 'forbidden\n', redirect: 'redirect\n' });
  const allowed = path.join(dir, 'allowed');
  const policy = `emulation: linux
default: deny
rules:
  "@default": permit
  "@basic-io": permit
  brk: permit
  mmap: permit
  mprotect: permit
  munmap: permit
  rt_sigaction: permit
  rt_sigprocmask: permit
  clone: permit
  clone3: permit
  set_robust_list: permit
  rseq: permit
  fstat: permit
  newfstatat: permit
  fsread:
    - filename eq "${allowed}" then rewrite "${path.join(dir, 'redirect')}"
    - filename eq "${path.join(dir, 'redirect')}" then permit
    - filename inpath "/usr" then permit
    - filename eq "/etc/ld.so.cache" then permit
    - filename eq "/etc/ld.so.preload" then permit
`;
  const r = await runConfined(t, policy, [fixture('race'), allowed, path.join(dir, 'forbids'), '20000'], { timeoutMs: 240_000 });
  const m = /^forbidden-reads=(\d+) opens-ok=(\d+) denied=(\d+)$/m.exec(r.stdout);
  t.ok(m, show(r));
  if (!m) return;
  t.equal(Number(m[1]), 0, `never the original, never the forbidden file\n${show(r)}`);
  t.ok(Number(m[2]) > 0, 'rewritten opens happened');
  t.ok(Number(m[3]) > 0, 'swapped paths were denied');
});
