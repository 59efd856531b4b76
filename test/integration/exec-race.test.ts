// execve's path cannot be copied by the supervisor: a permitted execve is
// let through (CONTINUE) and the kernel reads the path again from the
// program's memory. That is exact only when no other task can write that
// memory between the check and the exec, so systrace permits execve only
// from a process's sole thread. exec-race tries to get a forbidden program
// run by flipping the path from another thread:
//   single   execve from one thread: the policy decides, as for any call;
//   threads  execve from a multi-threaded process: denied outright (EPERM);
//   vfork    a vfork child (one thread of its own) of a multi-threaded
//            parent: shares the parent's memory, flipper included.
// The forbidden program prints `forbidden`; it must never run.

import t from 'tap';
import { baseRules, fileIs, policyYaml } from '../helpers/policy.js';
import { findDenial, runConfined, show } from '../helpers/systrace.js';
import { fixture, integrationSkip, runUnpriv } from '../helpers/unpriv.js';

const skip = integrationSkip();
const THREAD_TRIES = 2000;
const VFORK_TRIES = 300;

/**
 * Default deny, the base rules, and execve only of exec-race itself and
 * ALLOWED. The base rules' `@default: permit` covers execve too (systemd's
 * @default group holds it), and rules under a group count as the call's
 * own, in file order, first match wins. So the execve rules go first and
 * end in a catch-all deny; otherwise an execve they do not permit would
 * fall through to @default's permit instead of to `default: deny`.
 */
function execPolicy(allowedProg: string): string {
  const { execve: _base, ...base } = baseRules('linux');
  const execve = [fileIs(fixture('exec-race'), 'permit'), fileIs(allowedProg, 'permit'), 'true then deny'];
  return policyYaml({ bare: true, rules: { execve, ...base } });
}

t.test('single-threaded execve: the policy decides', { skip }, async t => {
  const allowed = fixture('say-allowed');
  const forbidden = fixture('say-forbids');
  const policy = execPolicy(allowed);

  const ok = await runConfined(t, policy, [fixture('exec-race'), 'single', allowed]);
  t.equal(ok.stdout, 'allowed\n', `the permitted program runs\n${show(ok)}`);
  t.equal(ok.code, 40, `with its own exit status\n${show(ok)}`);

  const no = await runConfined(t, policy, [fixture('exec-race'), 'single', forbidden]);
  t.equal(no.stdout, 'ERR EPERM\n', `the forbidden program is refused\n${show(no)}`);
  t.equal(no.code, 0, show(no));
  t.ok(findDenial(no.stderr, { syscall: 'execve', filename: forbidden }), `the denial is logged\n${no.stderr}`);
});

t.test(`threads: ${THREAD_TRIES} execs of a flipping path never run the forbidden program`, { skip }, async t => {
  const allowed = fixture('say-allowed');
  const forbidden = fixture('say-forbids');
  const r = await runConfined(t, execPolicy(allowed),
    [fixture('exec-race'), 'threads', allowed, forbidden, String(THREAD_TRIES)], { timeoutMs: 240_000 });
  t.notMatch(r.stdout, /forbidden/, `the forbidden program never ran\n${show(r)}`);
  const m = /^exec-failed=(\d+) eperm=(\d+)$/m.exec(r.stdout);
  t.ok(m, `every execve failed and exec-race printed its counts\n${show(r)}`);
  if (m === null)
    return;
  t.equal(Number(m[1]), THREAD_TRIES, 'every try accounted for');
  t.equal(Number(m[2]), THREAD_TRIES, `every execve was refused with EPERM\n${show(r)}`);
  t.match(r.stderr, /execve of \S+ cannot be checked race-free/,
    `systrace says why an execve naming the permitted program was refused\n${show(r)}`);
});

t.test(`vfork: ${VFORK_TRIES} vfork children exec a flipping path, never the forbidden program`, { skip }, async t => {
  const allowed = fixture('say-allowed');
  const forbidden = fixture('say-forbids');
  const r = await runConfined(t, execPolicy(allowed),
    [fixture('exec-race'), 'vfork', allowed, forbidden, String(VFORK_TRIES)], { timeoutMs: 240_000 });
  const m = /^allowed-runs=(\d+) forbidden-runs=(\d+) exec-failed=(\d+) eperm=(\d+)(.*)$/m.exec(r.stdout);
  t.ok(m, `exec-race printed its counts\n${show(r)}`);
  t.notMatch(r.stdout, /^forbidden$/m, `the forbidden program never ran\n${show(r)}`);
  if (m === null)
    return;
  t.equal(Number(m[2]), 0, `no vfork child ran the forbidden program\n${show(r)}`);
  t.equal(Number(m[1]) + Number(m[2]) + Number(m[3]), VFORK_TRIES, `every try accounted for\n${show(r)}`);
  t.comment(`allowed-runs=${m[1]} exec-failed=${m[3]} eperm=${m[4]}`);
});

t.test('control: without systrace the vfork race does run the forbidden program', { skip }, async t => {
  const r = await runUnpriv([fixture('exec-race'), 'vfork', fixture('say-allowed'), fixture('say-forbids'),
    String(VFORK_TRIES)]);
  const m = /^allowed-runs=(\d+) forbidden-runs=(\d+)/m.exec(r.stdout);
  t.ok(m, show(r));
  if (m !== null)
    t.ok(Number(m[2]) > 0, `the flipper wins sometimes: the confined run above proves something\n${show(r)}`);
});

// Found in review: the kernel resolves an execve path again, so the check
// must cover what it will resolve, not only the path's bytes.
t.test('execve through a symlink that another process swaps, and argv rules', { skip }, async t => {
  const { makeFiles } = await import('../helpers/files.js');
  const { runConfined, show } = await import('../helpers/systrace.js');
  const { fixture } = await import('../helpers/unpriv.js');
  const fs = await import('node:fs');
  const path = await import('node:path');
  const dir = makeFiles(t, {}, { writableByNobody: true });
  const allowed = fixture('say-allowed');
  fs.symlinkSync(allowed, path.join(dir, 'link'));
  const policy = `emulation: linux
default: permit
rules:
  execve:
    - filename eq "${allowed}" then permit
    - true then deny
`;
  // The symlink lives in a directory this user can write: exec through it
  // cannot be checked race-free, and is refused with the reason.
  const r = await runConfined(t, policy, ['/bin/sh', '-c', `exec ${path.join(dir, 'link')}`]);
  t.notMatch(r.stdout, /allowed|forbidden/, show(r));
  t.match(r.stderr, /could be replaced by this user/, 'the reason is given');
  // argv rules are read and enforced.
  const argvPolicy = `emulation: linux
default: permit
rules:
  execve:
    - argv sub "forbidden" then deny
    - true then permit
`;
  const a = await runConfined(t, argvPolicy, ['/bin/sh', '-c', '/bin/echo forbidden-arg; /bin/echo fine']);
  t.equal(a.stdout, 'fine\n', show(a));
  t.match(a.stderr, /argv: \/bin\/echo forbidden-arg/, 'the denial shows argv');
});

// Found while speeding up the execve check: a directory the user owns is
// the user's to make writable again (chmod), so taking away its write bit
// does not make the names in it safe to exec by name.
t.test('execve from a directory the user owns, even at mode 0555, is refused with the reason', { skip }, async t => {
  const { makeFiles } = await import('../helpers/files.js');
  const fs = await import('node:fs');
  const path = await import('node:path');
  // Root's directory, and in it one of the user's own at 0555: only the
  // owner rule can name it.
  const top = makeFiles(t, {});
  const dir = path.join(top, 'own');
  fs.mkdirSync(dir);
  const prog = path.join(dir, 'say-allowed');
  fs.copyFileSync(fixture('say-allowed'), prog);
  fs.chmodSync(prog, 0o755);
  fs.chownSync(dir, 65534, 65534);
  fs.chmodSync(dir, 0o555);
  const policy = `emulation: linux
default: permit
rules:
  execve:
    - filename eq "${prog}" then permit
    - true then deny
`;
  const r = await runConfined(t, policy, ['/bin/sh', '-c', `exec ${prog}`]);
  t.notMatch(r.stdout, /allowed/, `the program did not run\n${show(r)}`);
  t.match(r.stderr, `${prog} could be replaced by this user`, `the reason names the entry\n${show(r)}`);
  // Control: the same file in a root-owned directory runs.
  const rootDir = makeFiles(t, {});
  const rootProg = path.join(rootDir, 'say-allowed');
  fs.copyFileSync(fixture('say-allowed'), rootProg);
  fs.chmodSync(rootProg, 0o755);
  const ok = await runConfined(t, policy.replace(prog, rootProg), ['/bin/sh', '-c', `exec ${rootProg}`]);
  t.equal(ok.stdout, 'allowed\n', `from a directory of root's it runs\n${show(ok)}`);
});

// Found in review: the walk up the vfork parents stopped after 64 and let
// the execve through, though the process at the top (with its flipping
// thread) shares the memory too.
t.test('a chain of 70 vfork children: the execve is refused, never run', { skip }, async t => {
  const allowed = fixture('say-allowed');
  const forbidden = fixture('say-forbids');
  const r = await runConfined(t, execPolicy(allowed), [fixture('exec-race'), 'deep', allowed, forbidden, '20'], { timeoutMs: 120_000 });
  const m = /^allowed-runs=(\d+) forbidden-runs=(\d+) exec-failed=(\d+) eperm=(\d+)(.*)$/m.exec(r.stdout);
  t.ok(m, `exec-race printed its counts\n${show(r)}`);
  if (m === null)
    return;
  t.equal(Number(m[2]), 0, `the forbidden program never ran\n${show(r)}`);
  t.equal(Number(m[1]), 0, 'nor the permitted one: the check cannot be made');
  t.equal(Number(m[4]), 20, 'every execve refused with EPERM');
  t.match(r.stderr, /more than 64 vfork parents share its memory/, 'and systrace says why');
});
