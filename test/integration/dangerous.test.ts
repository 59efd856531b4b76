// Calls that bypass the filter's view or change what a path means are
// denied even under `default: permit`, unless the policy names them.
// Each is first run unconfined as nobody (the control): a denial only means
// something where the call works without systrace.

import t from 'tap';
import { writeTempPolicy } from '../helpers/files.js';
import { policyYaml } from '../helpers/policy.js';
import { runConfined, show } from '../helpers/systrace.js';
import { fixture, integrationSkip, runUnpriv, systraceUnpriv } from '../helpers/unpriv.js';

const skip = integrationSkip();

// `default: permit` and no rules at all: nothing names the calls below.
const PERMISSIVE = policyYaml({ default: 'permit', bare: true });

interface Dangerous {
  name: string;
  /** argv after the fixture; a shell command when sh is set. */
  cmd: (tryPath: string) => string[];
  why: string;
}

const dangerous: Dangerous[] = [
  {
    name: 'io_uring_setup',
    cmd: p => [p, 'io_uring_setup'],
    why: 'io_uring performs file and socket operations the filter never sees',
  },
  {
    // Yama (ptrace_scope 1) lets a parent trace its child, so try execs
    // over the shell that started the sleep and attaches to its own child.
    // The sleep holds no pipe of ours; runUnpriv kills it with the group.
    name: 'ptrace-attach',
    cmd: p => ['/bin/sh', '-c', `/bin/sleep 10 </dev/null >/dev/null 2>&1 & exec ${p} ptrace-attach $!`],
    why: 'a tracer can rewrite another process\'s calls after the check',
  },
  {
    name: 'process_vm_writev',
    cmd: p => [p, 'process_vm_writev', 'self'],
    why: 'writing another process\'s memory swaps the arguments of its pending calls',
  },
  {
    // Found in review: the execve check walks up the parents of a process
    // to find who shares its memory; CLONE_PARENT hides the sharer.
    name: 'clone-vm-parent',
    cmd: p => [p, 'clone-vm-parent'],
    why: 'a child sharing our memory but not our child escapes the execve check\'s walk up the vfork parents',
  },
  {
    name: 'unshare-user',
    cmd: p => [p, 'unshare-user'],
    why: 'a new user namespace leads to mount namespaces that change what a path means',
  },
];

for (const d of dangerous) {
  for (const prog of ['try', 'try-static']) {
    t.test(`${d.name} (${prog}) is denied under default: permit`, { skip }, async t => {
      const cmd = d.cmd(fixture(prog));
      const control = await runUnpriv(cmd, { timeoutMs: 20_000 });
      const controlOk = /^OK/m.test(control.stdout);
      if (!controlOk)
        t.comment(`control: ${d.name} fails unconfined here too (${control.stdout.trim()}); ` +
          'the check below still holds but proves less');

      const r = await runConfined(t, PERMISSIVE, cmd, { timeoutMs: 20_000 });
      t.notMatch(r.stdout, /^OK/m, `${d.name} must not succeed: ${d.why}\n${show(r)}`);
      t.match(r.stdout, /^ERR E[A-Z0-9]+$/m, `denied with an errno, not a crash\n${show(r)}`);
    });
  }
}

t.test('the same calls are allowed when the policy names them', { skip }, async t => {
  const policy = policyYaml({ default: 'permit', bare: true, rules: { process_vm_writev: 'permit' } });
  const control = await runUnpriv([fixture('try'), 'process_vm_writev', 'self']);
  const r = await runConfined(t, policy, [fixture('try'), 'process_vm_writev', 'self']);
  t.equal(r.stdout, control.stdout, `named in the policy, it behaves as unconfined\n${show(r)}`);
});

// An i386 call's arguments are 32 bits; the seccomp data holds 64, and a
// 64-bit program's int 0x80 can set the upper half. The supervisor must
// read the path the kernel will run, not the one at the full address.
t.test('int 0x80 with the upper half of a pointer set: the path checked is the path run', { skip }, async t => {
  const linux = writeTempPolicy(t, policyYaml({ default: 'permit' }));
  const i386 = writeTempPolicy(t, policyYaml({
    emulation: 'linux32', bare: true,
    rules: { execve: ['filename eq "/usr/bin/true" then permit'] },
  }), 'i386.yaml');
  const run = (checked: string, ran: string): ReturnType<typeof systraceUnpriv> =>
    systraceUnpriv(['run', '-a', '-f', linux, '-f', i386, '--', fixture('int80-exec-high'), checked, ran]);
  const swapped = await run('/usr/bin/true', '/usr/bin/id');
  t.equal(swapped.stdout, 'ERR EPERM\n', show(swapped));
  t.match(swapped.stderr, /syscall: linux32-execve\(11\), filename: \/usr\/bin\/id/, 'the denial names the path the kernel would run');
  const same = await run('/usr/bin/true', '/usr/bin/true');
  t.equal(same.stdout, '', `the permitted path runs\n${show(same)}`);
  t.equal(same.code, 0);
});
