// `systrace run -c U:G`: root runs a program as another user. The whole
// tracer drops to U:G, so the calls the supervisor performs for the program
// (opens above all) have the program's rights, not root's: a file the
// policy permits but U cannot read stays unreadable.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { makeFiles } from '../helpers/files.js';
import { policyYaml } from '../helpers/policy.js';
import { show } from '../helpers/systrace.js';
import { defaultEnv, fixture, integrationSkip, paths, systraceUnpriv, unprivRoot, type RunResult } from '../helpers/unpriv.js';

const skip = integrationSkip();

/** The unprivileged copy's systrace, run as root (env -i: see runUnpriv on NODE_OPTIONS). */
function systraceRoot(args: string[]): RunResult {
  const env = Object.entries(defaultEnv).map(([k, v]) => `${k}=${v}`);
  const r = spawnSync('/usr/bin/env', ['-i', ...env, path.join(unprivRoot(), paths.systrace), ...args], { cwd: '/', encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

t.test('-c nobody:nogroup: the program and the supervisor run as nobody', { skip }, async t => {
  const dir = makeFiles(t, { 'public.txt': 'for everyone\n', 'root-only.txt': 'for root\n' });
  fs.chmodSync(path.join(dir, 'root-only.txt'), 0o600);
  // The policy sits where only root can read it: it is read before the drop.
  const policyDir = fs.mkdtempSync('/tmp/systrace-runas-');
  t.teardown(() => fs.rmSync(policyDir, { recursive: true, force: true }));
  fs.chmodSync(policyDir, 0o700);
  const policy = path.join(policyDir, 'try.yaml');
  fs.writeFileSync(policy, policyYaml({ rules: { fsread: [`filename inpath "${dir}" then permit`], getuid: 'permit', getgid: 'permit' } }), { mode: 0o600 });
  const log = path.join(policyDir, 'denials.log');

  const pub = systraceRoot(['run', '-a', '-c', 'nobody:nogroup', '-f', policy, '-E', log, '--', fixture('try'), 'open', path.join(dir, 'public.txt')]);
  t.equal(pub.code, 0, show(pub));
  t.match(pub.stdout, /^OK /, `a file nobody may read is read\n${show(pub)}`);

  const secret = systraceRoot(['run', '-a', '-c', 'nobody:nogroup', '-f', policy, '-E', log, '--', fixture('try'), 'open', path.join(dir, 'root-only.txt')]);
  t.equal(secret.stdout, 'ERR EACCES\n', `permitted by the policy, yet the kernel refuses nobody (the supervisor did not open it as root)\n${show(secret)}`);

  const outside = systraceRoot(['run', '-a', '-c', '65534:65534', '-f', policy, '-E', log, '--', fixture('try'), 'open', '/etc/hostname']);
  t.equal(outside.stdout, 'ERR EPERM\n', show(outside));
  t.match(fs.readFileSync(log, 'utf8'), /deny user: nobody, prog: .*try.*filename: \/etc\/hostname/, 'the log root named with -E was opened before the drop, and names the user nobody');

  const id = systraceRoot(['run', '-a', '-c', 'nobody:nogroup', '-f', policy, '--', '/usr/bin/id']);
  t.equal(id.stdout, 'uid=65534 gid=65534 groups=65534\n', `no supplementary group of root's survives (names stay unresolved: the policy denies /etc/passwd)\n${show(id)}`);
});

t.test('-c refuses what it cannot do, before starting anything', { skip }, async t => {
  const dir = makeFiles(t, { 'p.yaml': policyYaml({}) });
  const policy = path.join(dir, 'p.yaml');
  const cases: [string, string[], RegExp][] = [
    ['a malformed spec', ['-a', '-c', 'nobody'], /-c takes USER:GROUP/],
    ['an unknown user', ['-a', '-c', 'no-such-user-here:nogroup'], /-c no-such-user-here:nogroup: /],
    ['root itself', ['-a', '-c', 'root:root'], /that is root/],
    ['with -A', ['-A', '-o', path.join(dir, 'out.yaml'), '-c', 'nobody:nogroup'], /-c cannot be combined with -A/],
  ];
  for (const [what, opts, message] of cases) {
    const r = systraceRoot(['run', ...opts, '-f', policy, '--', fixture('try'), 'write-stdout', 'started']);
    t.equal(r.code, 125, `${what}: systrace's own failure\n${show(r)}`);
    t.match(r.stderr, message, what);
    t.notMatch(r.stdout, /started/, `${what}: the program never ran`);
  }
  const user = await systraceUnpriv(['run', '-a', '-c', 'nobody:nogroup', '-f', policy, '--', fixture('try'), 'write-stdout', 'started']);
  t.equal(user.code, 125, show(user));
  t.match(user.stderr, /-c nobody:nogroup needs root/, 'a user cannot use -c');
  t.notMatch(user.stdout, /started/);
});
