// Findings of the second security review, each as the attack it was:
// TIOCSTI typing into the user's terminal, a rewrite target swapped for a
// symlink by the program, and escape sequences in a path forging the log.

import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { makeFiles } from '../helpers/files.js';
import { policyYaml } from '../helpers/policy.js';
import { denialLines, runConfined, show } from '../helpers/systrace.js';
import { integrationSkip, runUnpriv } from '../helpers/unpriv.js';

const skip = integrationSkip();

const python = (code: string): string[] => ['/usr/bin/python3', '-c', code];

/**
 * The head of a python oracle: D is DIR/, and t(label, f) prints the
 * label with OK (f returned nothing, or an fd), what f returned, or ERR
 * and the error: the same lines from the kernel and from systrace.
 */
const oracle = (dir: string): string[] => [
  'import os',
  `D = ${JSON.stringify(dir + '/')}`,
  'def t(label, f):',
  '    try:',
  '        r = f()',
  '        print(label, "OK" if r is None or isinstance(r, int) else r)',
  '    except OSError as e:',
  '        print(label, "ERR", e.strerror)',
];

t.test('TIOCSTI is denied even where ioctl is permitted', { skip }, async t => {
  // ioctl is permitted unconditionally by the base rules. On /dev/null the
  // kernel itself would answer ENOTTY; EPERM means the filter decided first.
  const code = [
    'import fcntl, os, termios',
    'fd = os.open("/dev/null", os.O_RDONLY)',
    'for req in (termios.TIOCSTI, termios.TIOCGWINSZ):',
    '    try:',
    '        fcntl.ioctl(fd, req, b"x" * 8)',
    '        print("ok")',
    '    except OSError as e:',
    '        print(os.strerror(e.errno))',
  ].join('\n');
  const r = await runConfined(t, policyYaml({ rules: { ioctl: 'permit' } }), python(code));
  t.equal(r.stdout, 'Operation not permitted\nInappropriate ioctl for device\n', `TIOCSTI refused by the filter; another ioctl reaches the kernel\n${show(r)}`);
});

t.test('a rewrite target the program replaced with a symlink is judged again, and refused', { skip }, async t => {
  const dir = makeFiles(t, { 'app/app.conf': 'the real config\n', 'secret.txt': 'not for the program\n' }, { writableByNobody: true });
  fs.chownSync(path.join(dir, 'app'), 65534, 65534);
  const alias = path.join(dir, 'etc-app.conf');
  const target = path.join(dir, 'app/app.conf');
  const policy = policyYaml({
    rules: {
      fsread: [`filename eq "${alias}" then rewrite "${target}"`, `filename inpath "${dir}/app" then permit`, 'filename inpath "/etc" then permit'],
      fswrite: [`filename inpath "${dir}/app" then permit`],
      symlink: 'permit',
    },
  });
  // Read once through the rewrite, then plant a symlink in the target's place and read again.
  const code = [
    'import os',
    `print(open(${JSON.stringify(alias)}).read(), end="")`,
    `os.unlink(${JSON.stringify(target)})`,
    `os.symlink(${JSON.stringify(path.join(dir, 'secret.txt'))}, ${JSON.stringify(target)})`,
    'try:',
    `    print(open(${JSON.stringify(alias)}).read(), end="")`,
    'except OSError as e:',
    '    print("refused:", os.strerror(e.errno))',
  ].join('\n');
  const r = await runConfined(t, policy, python(code));
  t.match(r.stdout, /^the real config\n/, `the rewrite works\n${show(r)}`);
  t.notMatch(r.stdout, /not for the program/, 'the secret is never read');
  t.match(r.stdout, /refused: /, 'the second open fails');
});

t.test('control and bidi characters in a path are escaped in the denial line', { skip }, async t => {
  const evil = '/tmp/\x1b[2K\rsystrace: permit \u202efdp.exe';
  const r = await runConfined(t, policyYaml({}), python(`import os\ntry:\n    os.open(${JSON.stringify(evil)}, os.O_RDONLY)\nexcept OSError as e:\n    print(e.errno)`));
  const lines = denialLines(r.stderr).filter(l => l.includes('fdp.exe'));
  t.equal(lines.length, 1, `one denial line for the path\n${show(r)}`);
  t.notMatch(r.stderr, /\x1b|\r|\u202e/, 'no raw escape, carriage return or bidi override reaches the terminal');
  t.match(lines[0] ?? '', /filename: \/tmp\/\\x1b\[2K\\x0dsystrace: permit \\u202efdp\.exe, errno: EPERM/, 'they are shown escaped');
});

t.test('a trailing slash asks for a directory, as the kernel says: "file/" is never the file', { skip }, async t => {
  const dir = makeFiles(t, { 'f': 'keep me\n', 'd/x': 'x' }, { writableByNobody: true });
  fs.symlinkSync('d', path.join(dir, 'ld'));
  fs.symlinkSync('f', path.join(dir, 'lf'));
  const code = [
    ...oracle(dir),
    't("stat-file/", lambda: os.stat(D + "f/").st_size)',
    't("stat-dir/", lambda: bool(os.stat(D + "d/")))',
    't("stat-link-to-dir/", lambda: bool(os.stat(D + "ld/")))',
    't("lstat-link-to-file/", lambda: bool(os.lstat(D + "lf/")))',
    't("open-file/", lambda: os.open(D + "f/", os.O_RDONLY))',
    't("unlink-file/", lambda: os.unlink(D + "f/"))',
    't("unlink-link/", lambda: os.unlink(D + "lf/"))',
    't("rename-file/", lambda: os.rename(D + "f/", D + "g"))',
    't("mkdir-new/", lambda: os.mkdir(D + "new/"))',
    't("rmdir-new/", lambda: os.rmdir(D + "new/"))',
    't("create-new/", lambda: os.open(D + "new/", os.O_CREAT | os.O_WRONLY, 0o644))',
    't("created", lambda: os.path.exists(D + "new"))',
    // A trailing slash makes a lookup of the object follow the link
    // ("ld/" is d), and leaves calls on the entry refusing it.
    't("lstat-link-to-dir/", lambda: os.path.samestat(os.lstat(D + "ld/"), os.stat(D + "d")))',
    't("readlink-link-to-dir/", lambda: os.readlink(D + "ld/"))',
    't("readlink-link-to-file/", lambda: os.readlink(D + "lf/"))',
    't("open-nofollow-link-to-dir/", lambda: os.path.samestat(os.fstat(os.open(D + "ld/", os.O_RDONLY | os.O_NOFOLLOW)), os.stat(D + "d")))',
    't("chown-nofollow-link-to-dir/", lambda: os.chown(D + "ld/", -1, -1, follow_symlinks=False))',
    't("rmdir-link-to-dir/", lambda: os.rmdir(D + "ld/"))',
    't("unlink-link-to-dir/", lambda: os.unlink(D + "ld/"))',
    't("rename-link-to-dir/", lambda: os.rename(D + "ld/", D + "g"))',
    't("still-there", lambda: (os.path.isdir(D + "d"), os.path.islink(D + "ld")))',
  ].join('\n');
  const policy = policyYaml({
    rules: {
      fsread: [`filename inpath "${dir}" then permit`], fswrite: [`filename inpath "${dir}" then permit`],
      newfstatat: [`filename inpath "${dir}" then permit`], fchownat: [`filename inpath "${dir}" then permit`],
    },
  });
  // The kernel's answers first: they change nothing (every call on "f/" fails, new/ comes and goes).
  const native = await runUnpriv(python(code));
  const confined = await runConfined(t, policy, python(code));
  t.equal(native.stdout.split('\n').length, 22, `the oracle ran\n${show(native)}`);
  t.equal(confined.stdout, native.stdout, `the same answers as the kernel's\n${show(confined)}`);
  t.equal(fs.readFileSync(path.join(dir, 'f'), 'utf8'), 'keep me\n', 'unlink("f/") removed nothing');
});

// Found in review: a call that creates a name got it without its trailing
// slash, so symlink("new/") created "new" where the kernel says ENOENT,
// and rename("f", "new/") moved the file where the kernel says ENOTDIR.
t.test('a trailing slash on a name a call creates: the kernel\'s answers, nothing made that it would not make', { skip }, async t => {
  const dir = makeFiles(t, { 'f': 'keep me\n', 'd/x': 'x', 'd2/y': 'y' }, { writableByNobody: true });
  fs.symlinkSync('d', path.join(dir, 'ld'));
  fs.symlinkSync('f', path.join(dir, 'lf'));
  fs.symlinkSync('nowhere', path.join(dir, 'dl'));
  for (const sub of ['d', 'd2'])
    fs.chownSync(path.join(dir, sub), 65534, 65534);
  const code = [
    ...oracle(dir),
    't("symlink-new/", lambda: os.symlink("x", D + "n1/"))',
    't("mkfifo-new/", lambda: os.mkfifo(D + "n2/"))',
    't("link-new/", lambda: os.link(D + "f", D + "n3/"))',
    't("rename-file-to-new/", lambda: os.rename(D + "f", D + "n4/"))',
    't("mkdir-file/", lambda: os.mkdir(D + "f/"))',
    't("mkdir-link-to-dir/", lambda: os.mkdir(D + "ld/"))',
    't("symlink-file/", lambda: os.symlink("x", D + "f/"))',
    't("symlink-link-to-dir/", lambda: os.symlink("x", D + "ld/"))',
    't("mkfifo-link-to-dir/", lambda: os.mkfifo(D + "ld/"))',
    't("link-onto-link-to-file/", lambda: os.link(D + "f", D + "lf/"))',
    't("link-from-link-to-dir/", lambda: os.link(D + "ld/", D + "n5"))',
    't("open-creat-file/", lambda: os.open(D + "f/", os.O_CREAT | os.O_WRONLY, 0o644))',
    't("open-creat-excl-link-to-dir/", lambda: os.open(D + "ld/", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))',
    't("open-creat-excl-dangling/", lambda: os.open(D + "dl/", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))',
    't("mkdir-new/", lambda: os.mkdir(D + "n6/"))',
    't("rename-dir-to-new/", lambda: os.rename(D + "d2", D + "n7/"))',
    't("state", lambda: " ".join(sorted(os.listdir(D))))',
  ].join('\n');
  const policy = policyYaml({
    rules: {
      fsread: [`filename inpath "${dir}" then permit`], fswrite: [`filename inpath "${dir}" then permit`],
      newfstatat: [`filename inpath "${dir}" then permit`],
    },
  });
  // The kernel's answers first, on a copy of the same tree.
  const copy = makeFiles(t, {}, { writableByNobody: true });
  fs.cpSync(dir, copy, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
  for (const sub of ['', 'd', 'd2'])
    fs.chownSync(path.join(copy, sub), 65534, 65534);
  const native = await runUnpriv(python(code.replace(JSON.stringify(dir + '/'), JSON.stringify(copy + '/'))));
  const confined = await runConfined(t, policy, python(code));
  t.equal(native.stdout.split('\n').length, 18, `the oracle ran\n${show(native)}`);
  t.equal(confined.stdout, native.stdout, `the same answers as the kernel's\n${show(confined)}`);
  t.equal(fs.readFileSync(path.join(dir, 'f'), 'utf8'), 'keep me\n', 'f is where it was');
});
