// The path calls the supervisor carries out for a confined program: each
// permitted one must have its effect on the named object, each denied one
// none, checked from outside the sandbox. The forbidden directory is as
// writable by nobody as the permitted one, so only the policy keeps it
// untouched.

import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { makeFiles } from '../helpers/files.js';
import { policyYaml } from '../helpers/policy.js';
import { denialLines, findDenial, runConfined, show } from '../helpers/systrace.js';
import { fixture, integrationSkip, repoRoot } from '../helpers/unpriv.js';

const skip = integrationSkip();

function dirs(t: Parameters<typeof makeFiles>[0]) {
  const ok = makeFiles(t, { 'a.txt': 'alpha\n', 'sub/b.txt': 'beta\n' }, { writableByNobody: true });
  const no = makeFiles(t, { 'a.txt': 'alpha\n', 'sub/b.txt': 'beta\n' }, { writableByNobody: true });
  for (const d of [ok, no]) {
    fs.chownSync(path.join(d, 'a.txt'), 65534, 65534);
    fs.chownSync(path.join(d, 'sub'), 65534, 65534);
  }
  // Everything permitted but the other directory: the rules under test are the denials.
  const policy = policyYaml({
    default: 'permit',
    bare: true,
    rules: {
      fsread: [`filename inpath "${no}" then deny[eacces]`],
      fswrite: [`filename inpath "${no}" then deny[eacces]`],
    },
  });
  return { ok, no, policy };
}

// One python3 script performs every call on a directory given as argv[1];
// each line reports OK or the errno name.
const SCRIPT = String.raw`
import errno, os, sys
d = sys.argv[1]
def run(name, f):
    try:
        r = f()
        print(name, 'OK' if r is None else 'OK ' + str(r))
    except OSError as e:
        print(name, errno.errorcode.get(e.errno, e.errno))
run('mkdir', lambda: os.mkdir(d + '/new', 0o750))
run('rename', lambda: os.rename(d + '/a.txt', d + '/renamed.txt'))
run('link', lambda: os.link(d + '/renamed.txt', d + '/hard.txt'))
run('symlink', lambda: os.symlink('renamed.txt', d + '/sym'))
run('readlink', lambda: os.readlink(d + '/sym'))
run('chmod', lambda: os.chmod(d + '/renamed.txt', 0o600))
run('truncate', lambda: os.truncate(d + '/renamed.txt', 3))
run('utime', lambda: os.utime(d + '/renamed.txt', (1000000000, 1000000000)))
run('stat', lambda: os.stat(d + '/renamed.txt').st_size)
run('lstat', lambda: 'link' if os.path.islink(d + '/sym') else 'not a link')
run('access', lambda: os.access(d + '/renamed.txt', os.R_OK))
run('setxattr', lambda: os.setxattr(d + '/renamed.txt', 'user.t', b'v'))
run('getxattr', lambda: os.getxattr(d + '/renamed.txt', 'user.t').decode())
run('unlink', lambda: os.unlink(d + '/hard.txt'))
run('rmdir', lambda: os.rmdir(d + '/new'))
run('statvfs', lambda: os.statvfs(d).f_bsize > 0)
`;

t.test('python3: path calls permitted in one directory, denied in the other', { skip }, async t => {
  const { ok, no, policy } = dirs(t);
  const script = makeFiles(t, { 's.py': SCRIPT });
  const run = (d: string) => runConfined(t, policy, ['/usr/bin/python3', path.join(script, 's.py'), d]);

  const good = await run(ok);
  const lines = Object.fromEntries(good.stdout.trim().split('\n').map(l => [l.split(' ')[0], l.slice(l.indexOf(' ') + 1)]));
  for (const call of ['mkdir', 'rename', 'link', 'symlink', 'chmod', 'truncate', 'utime', 'setxattr', 'unlink', 'rmdir']) {
    t.equal(lines[call], 'OK', `${call} permitted\n${show(good)}`);
  }
  t.equal(lines.readlink, 'OK renamed.txt', 'readlink returns the link text');
  t.equal(lines.stat, 'OK 3', 'stat sees the truncated size');
  t.equal(lines.lstat, 'OK link', 'lstat sees the symlink itself');
  t.equal(lines.access, 'OK True');
  t.equal(lines.getxattr, 'OK v', 'getxattr reads what setxattr wrote');
  t.equal(lines.statvfs, 'OK True');
  // From outside: the effects are real.
  const renamed = path.join(ok, 'renamed.txt');
  t.notOk(fs.existsSync(path.join(ok, 'a.txt')), 'a.txt was renamed away');
  t.equal(fs.readFileSync(renamed, 'utf8'), 'alp', 'renamed and truncated');
  t.equal(fs.statSync(renamed).mode & 0o777, 0o600, 'chmod applied');
  t.equal(fs.statSync(renamed).mtimeMs, 1000000000000, 'utime applied');
  t.equal(fs.readlinkSync(path.join(ok, 'sym')), 'renamed.txt', 'symlink created');
  t.notOk(fs.existsSync(path.join(ok, 'hard.txt')), 'link created then unlinked');
  t.notOk(fs.existsSync(path.join(ok, 'new')), 'mkdir then rmdir');

  const bad = await run(no);
  const denied = Object.fromEntries(bad.stdout.trim().split('\n').map(l => [l.split(' ')[0], l.slice(l.indexOf(' ') + 1)]));
  for (const call of ['mkdir', 'rename', 'symlink', 'chmod', 'truncate', 'utime', 'setxattr', 'stat', 'unlink']) {
    t.equal(denied[call], 'EACCES', `${call} denied\n${show(bad)}`);
  }
  t.ok(findDenial(bad.stderr, { syscall: 'mkdir', filename: path.join(no, 'new'), policy: bad.policy }), 'the mkdir denial is reported');
  t.equal(fs.readFileSync(path.join(no, 'a.txt'), 'utf8'), 'alpha\n', 'the forbidden file is untouched');
  t.equal(fs.statSync(path.join(no, 'a.txt')).mode & 0o777, 0o644, 'and its mode');
  t.same(fs.readdirSync(no).sort(), ['a.txt', 'sub'], 'nothing was created in the forbidden directory');
});

t.test('tar -x lands every file under the permitted directory and none under the other', { skip }, async t => {
  const { ok, no, policy } = dirs(t);
  const src = makeFiles(t, {});
  const archive = path.join(src, 'native.tar');
  const tar = await import('node:child_process');
  tar.execFileSync('tar', ['-cf', archive, '-C', repoRoot, 'native']);
  fs.chmodSync(archive, 0o644);
  const want = tar.execFileSync('tar', ['-tf', archive], { encoding: 'utf8' }).trim().split('\n').sort();

  const good = await runConfined(t, policy, ['/usr/bin/tar', '-xf', archive, '-C', ok]);
  t.equal(good.code, 0, `tar -x succeeded\n${show(good)}`);
  for (const entry of want) {
    t.ok(fs.existsSync(path.join(ok, entry)), `${entry} extracted`);
  }
  const file = want.find(e => e.endsWith('addon.cc'))!;
  t.equal(fs.readFileSync(path.join(ok, file), 'utf8'), fs.readFileSync(path.join(repoRoot, file), 'utf8'), 'contents intact');

  const bad = await runConfined(t, policy, ['/usr/bin/tar', '-xf', archive, '-C', no]);
  t.not(bad.code, 0, 'tar -x into the forbidden directory fails');
  t.same(fs.readdirSync(no).sort(), ['a.txt', 'sub'], 'and leaves nothing there');
});

t.test('a static binary: mkdir, rename, unlink carried out or denied', { skip }, async t => {
  const { ok, no, policy } = dirs(t);
  const run = (...args: string[]) => runConfined(t, policy, [fixture('try-static'), ...args]);
  t.equal((await run('mkdir', path.join(ok, 'd'))).stdout, 'OK\n');
  t.ok(fs.statSync(path.join(ok, 'd')).isDirectory(), 'directory made');
  t.equal((await run('rename', path.join(ok, 'a.txt'), path.join(ok, 'z.txt'))).stdout, 'OK\n');
  t.ok(fs.existsSync(path.join(ok, 'z.txt')), 'renamed');
  t.equal((await run('unlink', path.join(ok, 'z.txt'))).stdout, 'OK\n');
  t.notOk(fs.existsSync(path.join(ok, 'z.txt')), 'unlinked');
  t.equal((await run('mkdir', path.join(no, 'd'))).stdout, 'ERR EACCES\n');
  t.equal((await run('unlink', path.join(no, 'a.txt'))).stdout, 'ERR EACCES\n');
  t.equal((await run('rename', path.join(ok, 'sub'), path.join(no, 'stolen'))).stdout, 'ERR EACCES\n', 'a rename into the forbidden directory');
  t.same(fs.readdirSync(no).sort(), ['a.txt', 'sub']);
});

// Found in review: unix socket paths are checked normalised (against the
// program's cwd, symlinks resolved) and reached without following any
// symlink swapped in later; bind makes the socket file with the program's umask.
t.test('unix socket paths: relative, through a symlink, and bind\'s mode', { skip }, async t => {
  const net = await import('node:net');
  const dir = makeFiles(t, {}, { writableByNobody: true });
  const real = path.join(dir, 'real.sock');
  const srv = net.createServer(c => c.end('hi\n'));
  await new Promise<void>(r => srv.listen(real, () => r()));
  fs.chmodSync(real, 0o777);
  t.teardown(() => new Promise<void>(r => srv.close(() => r())));
  fs.symlinkSync(real, path.join(dir, 'alias.sock'));
  const policy = `emulation: linux
default: permit
rules:
  connect:
    - sockaddr eq "${real}" then permit
    - true then deny
`;
  const py = (code: string) => runConfined(t, policy, ['/usr/bin/python3', '-c', code], { cwd: dir });
  const rel = await py('import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect("real.sock")\nprint(s.recv(10).decode().strip())');
  t.equal(rel.stdout, 'hi\n', `a relative path resolves against the program's cwd\n${show(rel)}`);
  const ali = await py('import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect("alias.sock")\nprint(s.recv(10).decode().strip())');
  t.equal(ali.stdout, 'hi\n', 'a symlink to the permitted socket is judged by where it leads');
  t.ok(denialLines(ali.stderr).length === 0);
  const other = path.join(dir, 'other.sock');
  const deniedPolicy = policy.replace(`sockaddr eq "${real}"`, `sockaddr eq "${path.join(dir, 'alias.sock')}"`);
  const den = await runConfined(t, deniedPolicy, ['/usr/bin/python3', '-c', 'import socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect("alias.sock")\nexcept OSError as e:\n    print(e.errno)'], { cwd: dir });
  t.equal(den.stdout, '1\n', 'a rule naming the symlink does not let it reach the socket it points to');
  const b = await runConfined(t, `emulation: linux\ndefault: permit\nrules: {}\n`, ['/usr/bin/python3', '-c', `import os, socket\nos.umask(0o077)\ns = socket.socket(socket.AF_UNIX)\ns.bind(${JSON.stringify(other)})\nprint(oct(os.stat(${JSON.stringify(other)}).st_mode & 0o777))`]);
  t.equal(b.stdout, '0o700\n', `bind made the socket file with the program's umask\n${show(b)}`);
});
