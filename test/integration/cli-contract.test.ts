// The command-line contract of `systrace run`: stdio passes through, the
// exit status is the program's (128+N for signal N), 125 when systrace
// itself fails, 126 not executable, 127 not found; a bad policy is reported
// as `file:line:col: message` and the program never starts.

import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { makeFiles, writeTempPolicy } from '../helpers/files.js';
import { policyYaml } from '../helpers/policy.js';
import { runConfined, show } from '../helpers/systrace.js';
import { fixture, integrationSkip, systraceUnpriv } from '../helpers/unpriv.js';

const skip = integrationSkip();

const permissive = () => policyYaml({ default: 'permit', rules: { fsread: ['filename inpath "/usr" then permit'] } });

t.test('stdio passes through', { skip }, async t => {
  const out = await runConfined(t, permissive(), [fixture('try'), 'write-stdout', 'hello from inside']);
  t.equal(out.stdout, 'hello from inside\n', show(out));
  t.equal(out.code, 0);

  const cat = await runConfined(t, permissive(), ['/bin/cat'], { input: 'line one\nline two\n' });
  t.equal(cat.stdout, 'line one\nline two\n', `stdin reaches the program\n${show(cat)}`);

  const err = await runConfined(t, permissive(), ['/bin/sh', '-c', 'echo to-stderr >&2']);
  t.match(err.stderr, /^to-stderr$/m, `stderr passes through\n${show(err)}`);
});

t.test('exit status', { skip }, async t => {
  const policy = permissive();
  const three = await runConfined(t, policy, [fixture('try'), 'exit', '3']);
  t.equal(three.code, 3, `the program's own status\n${show(three)}`);

  const zero = await runConfined(t, policy, [fixture('try-static'), 'exit', '0']);
  t.equal(zero.code, 0, show(zero));

  const term = await runConfined(t, policy, [fixture('try'), 'kill-self', 'SIGTERM']);
  t.equal(term.code, 143, `128 + SIGTERM\n${show(term)}`);

  const kill = await runConfined(t, policy, [fixture('try-static'), 'kill-self', 'SIGKILL']);
  t.equal(kill.code, 137, `128 + SIGKILL\n${show(kill)}`);

  const missing = await runConfined(t, policy, ['/nonexistent/program']);
  t.equal(missing.code, 127, `not found\n${show(missing)}`);

  const missingInPath = await runConfined(t, policy, ['systrace-no-such-program']);
  t.equal(missingInPath.code, 127, `not found on PATH\n${show(missingInPath)}`);

  const dir = makeFiles(t, { 'not-executable': '#!/bin/sh\necho ran\n' });
  const notExec = await runConfined(t, policy, [path.join(dir, 'not-executable')]);
  t.equal(notExec.code, 126, `not executable\n${show(notExec)}`);
  t.notMatch(notExec.stdout, /ran/);

  const aDir = await runConfined(t, policy, [dir]);
  t.equal(aDir.code, 126, `a directory is not executable\n${show(aDir)}`);
});

t.test('missing policy file fails with 125 before the program runs', { skip }, async t => {
  const r = await systraceUnpriv(['run', '-a', '-f', '/nonexistent/policy.yaml', '--',
    fixture('try'), 'write-stdout', 'RAN']);
  t.equal(r.code, 125, show(r));
  t.notMatch(r.stdout, /RAN/);
  t.match(r.stderr, /\/nonexistent\/policy\.yaml/, 'names the file');
});

interface BadPolicy {
  name: string;
  text: string;
  /** The line the error must point at; undefined: any line (YAML syntax). */
  line?: number;
  message?: RegExp;
}

const badPolicies: BadPolicy[] = [
  {
    name: 'YAML syntax error',
    text: 'emulation: linux\ndefault: deny\nrules:\n  read: [permit\n  write: permit\n',
  },
  {
    name: 'YAML: duplicate key',
    text: 'emulation: linux\ndefault: deny\nrules:\n  read: permit\n  read: deny\n',
    line: 5,
  },
  {
    name: 'unknown syscall',
    text: 'emulation: linux\ndefault: deny\nrules:\n  read: permit\n  no_such_call: permit\n',
    line: 5,
    message: /no_such_call/,
  },
  {
    name: 'syscall of the other emulation (stat64 is i386 only)',
    text: 'emulation: linux\ndefault: deny\nrules:\n  stat64: permit\n',
    line: 4,
    message: /stat64/,
  },
  {
    name: 'syscall of the other emulation (newfstatat is x86_64 only)',
    text: 'emulation: linux32\ndefault: deny\nrules:\n  newfstatat: permit\n',
    line: 4,
    message: /newfstatat/,
  },
  {
    name: 'bad regular expression',
    text: 'emulation: linux\ndefault: deny\nrules:\n  fsread:\n    - filename re "([a-z" then permit\n',
    line: 5,
  },
  {
    name: 'bad errno',
    text: 'emulation: linux\ndefault: deny\nrules:\n  openat: deny[enotanerrno]\n',
    line: 4,
    message: /enotanerrno/i,
  },
  {
    name: 'bad emulation',
    text: 'emulation: sparc\ndefault: deny\nrules:\n  read: permit\n',
    line: 1,
  },
];

for (const bad of badPolicies) {
  t.test(`bad policy: ${bad.name}`, { skip }, async t => {
    const policy = writeTempPolicy(t, bad.text, 'bad.yaml');
    const r = await systraceUnpriv(['run', '-a', '-f', policy, '--', fixture('try'), 'write-stdout', 'RAN']);
    t.equal(r.code, 125, `systrace fails with 125\n${show(r)}`);
    t.notMatch(r.stdout, /RAN/, 'the program never ran');
    const esc = policy.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const where = new RegExp(`^${esc}:${bad.line ?? '\\d+'}:\\d+: `, 'm');
    t.match(r.stderr, where, `error as ${policy}:${bad.line ?? 'LINE'}:COL: message\n${r.stderr}`);
    if (bad.message !== undefined)
      t.match(r.stderr, bad.message);
  });
}

t.test('a policy nobody cannot read is an error, not an empty policy', { skip }, async t => {
  const policy = writeTempPolicy(t, permissive());
  fs.chmodSync(policy, 0o600); // root-owned: unreadable to nobody
  const r = await systraceUnpriv(['run', '-a', '-f', policy, '--', fixture('try'), 'write-stdout', 'RAN']);
  t.equal(r.code, 125, show(r));
  t.notMatch(r.stdout, /RAN/);
});
