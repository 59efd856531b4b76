// Permitted and denied opens, for the kinds of program systrace must hold:
// a dynamic C program, a shell, an interpreter, a static binary, a static
// i386 binary, and a 64-bit program calling the i386 ABI with int 0x80.

import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { makeFiles, type Teardown } from '../helpers/files.js';
import { fileIs, policyYaml, type Emulation } from '../helpers/policy.js';
import { findDenial, runConfined, show } from '../helpers/systrace.js';
import { fixture, integrationSkip } from '../helpers/unpriv.js';

const skip = integrationSkip();

const ALLOWED = 'allowed content\n';
const SECRET = 'secret content\n';

/** A directory with an allowed and a secret file, and a policy permitting only the first. */
function setup(t: Teardown, emulation: Emulation = 'linux', extra: Record<string, string[]> = {}) {
  const dir = makeFiles(t, { allowed: ALLOWED, secret: SECRET });
  const allowed = path.join(dir, 'allowed');
  const secret = path.join(dir, 'secret');
  const policy = policyYaml({
    emulation,
    rules: { fsread: [fileIs(allowed, 'permit')], ...extra },
  });
  return { dir, allowed, secret, policy };
}

interface Case {
  name: string;
  emulation?: Emulation;
  /** The command reading `file`; must print the file's first line on success. */
  cmd: (file: string) => string[];
  /** stdout when the read succeeded / was denied (default: try's protocol). */
  okOut?: RegExp;
  deniedOut?: RegExp;
  /** Exit status when denied (default 0: try reports and exits 0). */
  deniedCode?: number | 'nonzero';
}

const TRY_OK = /^OK allowed content\n$/;
const TRY_DENIED = /^ERR EPERM\n$/;

const cases: Case[] = [
  { name: 'try (dynamic)', cmd: f => [fixture('try'), 'open', f] },
  { name: 'try-static', cmd: f => [fixture('try-static'), 'open', f] },
  { name: 'try32-static (linux32)', emulation: 'linux32', cmd: f => [fixture('try32-static'), 'open', f] },
  {
    name: 'cat', cmd: f => ['/bin/cat', f],
    okOut: /^allowed content\n$/, deniedOut: /^$/, deniedCode: 'nonzero',
  },
  {
    name: 'sh -c with a redirection', cmd: f => ['/bin/sh', '-c', `read line < ${f} && echo "$line"`],
    okOut: /^allowed content\n$/, deniedOut: /^$/, deniedCode: 'nonzero',
  },
  {
    name: 'sh -c running cat', cmd: f => ['/bin/sh', '-c', `/bin/cat ${f}`],
    okOut: /^allowed content\n$/, deniedOut: /^$/, deniedCode: 'nonzero',
  },
];

for (const c of cases) {
  t.test(c.name, { skip }, async t => {
    const { allowed, secret, policy } = setup(t, c.emulation);

    const ok = await runConfined(t, policy, c.cmd(allowed));
    t.match(ok.stdout, c.okOut ?? TRY_OK, `permitted read\n${show(ok)}`);
    t.equal(ok.code, 0, 'permitted run exits 0');
    t.notOk(findDenial(ok.stderr, { syscall: 'openat', filename: allowed }), 'no denial for the allowed file');

    const denied = await runConfined(t, policy, c.cmd(secret));
    t.match(denied.stdout, c.deniedOut ?? TRY_DENIED, `denied read\n${show(denied)}`);
    t.notMatch(denied.stdout, /secret content/, 'the secret never reaches stdout');
    if (c.deniedCode === 'nonzero')
      t.not(denied.code, 0, 'the program reports failure');
    else
      t.equal(denied.code, c.deniedCode ?? 0);
    t.ok(findDenial(denied.stderr, { syscall: 'openat', filename: secret, policy: denied.policy }),
      `denial logged with pid, openat, filename and policy\n${denied.stderr}`);
  });
}

t.test('openat relative to a directory descriptor is matched on the full path', { skip }, async t => {
  const { dir } = setup(t);
  // Opening the directory itself is a read of the directory.
  const withDir = policyYaml({
    rules: { fsread: [fileIs(dir, 'permit'), fileIs(path.join(dir, 'allowed'), 'permit')] },
  });
  const ok = await runConfined(t, withDir, [fixture('try'), 'openat', dir, 'allowed']);
  t.match(ok.stdout, TRY_OK, show(ok));
  const denied = await runConfined(t, withDir, [fixture('try'), 'openat', dir, 'secret']);
  t.match(denied.stdout, TRY_DENIED, show(denied));
  t.ok(findDenial(denied.stderr, { syscall: 'openat', filename: path.join(dir, 'secret') }),
    `denial names the normalised absolute path\n${denied.stderr}`);
});

t.test('.. and symlinks are resolved before matching', { skip }, async t => {
  const dir = makeFiles(t, { allowed: ALLOWED, secret: SECRET, 'sub/keep': '' });
  const secret = path.join(dir, 'secret');
  fs.symlinkSync(secret, path.join(dir, 'link-to-secret'));
  fs.symlinkSync(path.join(dir, 'allowed'), path.join(dir, 'link-to-allowed'));
  const policy = policyYaml({ rules: { fsread: [fileIs(path.join(dir, 'allowed'), 'permit')] } });

  for (const sneaky of [path.join(dir, 'sub', '..', 'secret'), path.join(dir, 'link-to-secret')]) {
    const r = await runConfined(t, policy, [fixture('try'), 'open', sneaky]);
    t.match(r.stdout, TRY_DENIED, `${sneaky}\n${show(r)}`);
    t.ok(findDenial(r.stderr, { syscall: 'openat', filename: secret }),
      `the denial shows the normalised path\n${r.stderr}`);
  }
  for (const fine of [path.join(dir, '.', 'allowed'), path.join(dir, 'sub', '..', 'allowed'),
    path.join(dir, 'link-to-allowed')]) {
    const r = await runConfined(t, policy, [fixture('try'), 'open', fine]);
    t.match(r.stdout, TRY_OK, `${fine}\n${show(r)}`);
  }
});

t.test('python3 (an interpreter with many startup reads)', { skip }, async t => {
  const dir = makeFiles(t, { allowed: ALLOWED, secret: SECRET });
  const allowed = path.join(dir, 'allowed');
  const secret = path.join(dir, 'secret');
  // Python's start-up makes calls no small base policy should have to list,
  // so this policy permits by default and the test is about the file rules.
  const policy = policyYaml({
    default: 'permit',
    rules: { fsread: [fileIs(allowed, 'permit'), fileIs(secret, 'deny[eacces]')] },
  });
  const script = 'import sys\nprint(open(sys.argv[1]).readline(), end="")\n';
  const py = (f: string) => ['/usr/bin/python3', '-I', '-S', '-c', script, f];

  const ok = await runConfined(t, policy, py(allowed));
  t.equal(ok.stdout, ALLOWED, show(ok));
  t.equal(ok.code, 0);

  const denied = await runConfined(t, policy, py(secret));
  t.equal(denied.stdout, '', show(denied));
  t.match(denied.stderr, /PermissionError/, 'python saw EACCES');
  t.equal(denied.code, 1, 'python exits 1 on an uncaught exception');
  t.ok(findDenial(denied.stderr, { syscall: 'openat', filename: secret, policy: denied.policy }),
    `denial logged\n${denied.stderr}`);
});

t.test('a rule\'s errno is what the program sees', { skip }, async t => {
  const { allowed, secret } = setup(t);
  const policy = policyYaml({
    rules: { openat: [fileIs(secret, 'deny[eacces]')], fsread: [fileIs(allowed, 'permit')] },
  });
  const r = await runConfined(t, policy, [fixture('try'), 'open', secret]);
  t.equal(r.stdout, 'ERR EACCES\n', show(r));
  const ok = await runConfined(t, policy, [fixture('try'), 'open', allowed]);
  t.match(ok.stdout, TRY_OK, show(ok));
});

t.test('int 0x80 from a 64-bit program is not governed by x86_64 rules', { skip }, async t => {
  const { allowed, policy } = setup(t);
  // Control: the same policy permits the file through the 64-bit ABI.
  const native = await runConfined(t, policy, [fixture('try-static'), 'open', allowed]);
  t.match(native.stdout, TRY_OK, `x86_64 open permitted\n${show(native)}`);

  const r = await runConfined(t, policy, [fixture('int80-open'), allowed]);
  t.notMatch(r.stdout, /^OK/m, `the i386 open must not succeed\n${show(r)}`);
  // Denied with an errno (ERR line) or killed for the foreign arch (SIGSYS):
  // both fail closed; the design prefers the ERR line.
  t.ok(/^ERR E[A-Z]+\n$/.test(r.stdout) || r.code === 128 + 31,
    `ERR line or death by SIGSYS\n${show(r)}`);
});

t.test('linux32 policy governs the i386 static binary, not x86_64 names', { skip }, async t => {
  const { allowed, secret, policy } = setup(t, 'linux32');
  for (const op of ['stat', 'lstat', 'access']) {
    const ok = await runConfined(t, policy, [fixture('try32-static'), op, allowed]);
    t.equal(ok.stdout, 'OK\n', `${op} allowed (fsread alias, i386 names)\n${show(ok)}`);
    const no = await runConfined(t, policy, [fixture('try32-static'), op, secret]);
    t.equal(no.stdout, 'ERR EPERM\n', `${op} denied\n${show(no)}`);
  }
});
