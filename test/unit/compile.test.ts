import t from 'tap';
import { parsePolicy } from '../../tracer/policy/parse.js';
import { compile, SECCOMP_RET, type CompileOptions, type Placement, type Plan } from '../../tracer/policy/compile.js';
import { decide, prepare, type CallView } from '../../tracer/engine/decide.js';
import { ERRNOS } from '../../tracer/policy/errno-table.js';
import { syscallNames, syscallNumber } from '../../tracer/policy/syscalls.js';
import type { Emulation, Policy } from '../../tracer/policy/types.js';
import type { FilterCompare, FilterRule } from '../../tracer/native.js';

const env = { HOME: '/home/u', USER: 'u', CWD: '/w' };
const user = { name: 'u', groups: ['g'] };
const interactive: CompileOptions = { enforce: false, aliases: true, user };
const enforcing: CompileOptions = { enforce: true, aliases: true, user };

const errno = (name: string): number => (SECCOMP_RET.ERRNO | ERRNOS[name]!) >>> 0;
const ALLOW = SECCOMP_RET.ALLOW;
const EPERM = errno('EPERM');
const ENOSYS = errno('ENOSYS');

function policy(text: string, file = 'c.yaml'): Policy {
  return parsePolicy(text, file, env);
}

function plan(text: string, opts: CompileOptions = interactive): Plan {
  return compile([policy(text)], opts);
}

function place(p: Plan, name: string, emu: Emulation = 'linux'): Placement {
  const got = p.arches.find(a => a.emulation === emu)!.calls.get(name);
  if (!got) throw new Error(`no placement for ${emu} ${name}`);
  return got;
}

/** 'kernel ALLOW', 'kernel ERRNO(EPERM)', 'kernel KILL', 'kernel rules' or 'user'. */
function where(pl: Placement): string {
  if (pl.target === 'user') return 'user';
  if (pl.rules) return 'kernel rules';
  return `kernel ${actionName(pl.action)}`;
}

function actionName(a: number): string {
  if (a === SECCOMP_RET.ALLOW) return 'ALLOW';
  if (a === SECCOMP_RET.KILL_PROCESS) return 'KILL';
  if (a === SECCOMP_RET.USER_NOTIF) return 'NOTIFY';
  if ((a & 0xffff0000) >>> 0 === SECCOMP_RET.ERRNO) {
    const e = a & 0xffff;
    return `ERRNO(${Object.keys(ERRNOS).find(k => ERRNOS[k] === e) ?? e})`;
  }
  return `0x${a.toString(16)}`;
}

/** The filter rules for one call of one arch, as libseccomp will see them. */
function filterRules(p: Plan, name: string, emu: Emulation = 'linux'): FilterRule[] {
  const nr = syscallNumber(emu, name)!;
  const arch = emu === 'linux' ? 'x86_64' : 'x86';
  return p.filter.arches.find(a => a.arch === arch)!.rules.filter(r => r.nr === nr);
}

function cmpHolds(c: FilterCompare, args: readonly bigint[]): boolean {
  const v = args[c.arg]!;
  switch (c.op) {
    case 'masked_eq':
      return (v & c.a) === c.b;
    case 'eq':
      return v === c.a;
    case 'ne':
      return v !== c.a;
    case 'lt':
      return v < c.a;
    case 'gt':
      return v > c.a;
    default:
      throw new Error(`simulator: ${c.op}`);
  }
}

/**
 * What the kernel does with a call, simulating the filter (libseccomp's
 * precedence among matching rules: KILL > ERRNO > USER_NOTIF > ALLOW, which
 * is numeric order on the action's high bits as the kernel ranks them).
 */
function kernelDoes(p: Plan, emu: Emulation, name: string, args: readonly bigint[]): number {
  const rules = filterRules(p, name, emu);
  const hits = rules.filter(r => (r.cmps ?? []).every(c => cmpHolds(c, args))).map(r => r.action);
  if (hits.length === 0) return p.filter.defaultAction;
  const rank = (a: number): number => (a === SECCOMP_RET.KILL_PROCESS ? 0 : (a & 0xffff0000) >>> 0 === SECCOMP_RET.ERRNO ? 1 : a === SECCOMP_RET.USER_NOTIF ? 2 : 3);
  return hits.sort((a, b) => rank(a) - rank(b))[0]!;
}

/** The engine's decision as a kernel action number (undefined: ask). */
function engineDoes(pol: Policy, opts: CompileOptions, call: CallView): number | undefined {
  const d = decide(prepare(pol, opts), { ...call, user: { uid: 1000, gid: 1000, ...opts.user } });
  const v = d.action.verdict;
  if (v.kind === 'permit') return ALLOW;
  if (v.kind === 'kill') return SECCOMP_RET.KILL_PROCESS;
  if (v.kind === 'deny') return errno(v.errno);
  return undefined;
}

const args6 = (...a: bigint[]): bigint[] => [...a, 0n, 0n, 0n, 0n, 0n, 0n].slice(0, 6);

/**
 * For a call the plan decides in the kernel, the kernel must do exactly
 * what the engine would: never permit what the engine denies.
 */
function agrees(t: Tap.Test, text: string, opts: CompileOptions, emu: Emulation, name: string, argsList: bigint[][]): void {
  const pol = policy(text);
  const p = compile([pol], opts);
  const pl = place(p, name, emu);
  for (const args of argsList) {
    const engine = engineDoes(pol, opts, { emulation: emu, syscall: name, args });
    if (pl.target === 'user') {
      t.pass(`${name}(${args.join(',')}) decided in user space`);
      continue;
    }
    t.equal(actionName(kernelDoes(p, emu, name, args)), engine === undefined ? 'ask' : actionName(engine), `${name}(${args.map(a => `0x${a.toString(16)}`).join(',')})`);
  }
}

// tap's Test type without importing tap's internals by name.
declare namespace Tap {
  type Test = Parameters<Parameters<typeof t.test>[1]>[0];
}

t.test('unconditional rules are decided in the kernel', async t => {
  const p = plan(`default: deny
rules:
  read: permit
  write: deny[enoent]
  getpid: kill
`);
  const table: [string, string, number][] = [
    ['read', 'kernel ALLOW', ALLOW],
    ['write', 'kernel ERRNO(ENOENT)', errno('ENOENT')],
    ['getpid', 'kernel KILL', SECCOMP_RET.KILL_PROCESS],
    ['close', 'kernel ERRNO(EPERM)', EPERM], // the default
  ];
  for (const [name, want, action] of table) {
    const pl = place(p, name);
    t.equal(where(pl), want, name);
    t.equal(pl.target === 'kernel' && pl.action, action, `${name} action`);
  }
  t.equal(p.filter.defaultAction, EPERM);
  t.equal(p.filter.badArchAction, SECCOMP_RET.KILL_PROCESS);
  t.same(filterRules(p, 'read'), [{ nr: syscallNumber('linux', 'read'), action: ALLOW }]);
  t.same(filterRules(p, 'close'), [], 'the default needs no rule');
});

t.test('filename rules go to user space; aliases pull in their members', async t => {
  const p = plan(`default: deny
rules:
  unlink:
    - filename eq "/tmp/x" then permit
  fsread:
    - filename match "/usr/lib/*" then permit
`);
  t.equal(where(place(p, 'unlink')), 'user');
  for (const name of ['stat', 'openat', 'access', 'newfstatat', 'readlink']) t.equal(where(place(p, name)), 'user', name);
  t.equal(where(place(p, 'rmdir')), 'kernel ERRNO(EPERM)', 'fswrite member untouched');
  const linux = p.arches.find(a => a.emulation === 'linux')!;
  t.ok(linux.notified.has(syscallNumber('linux', 'openat')!), 'openat is notified');
  t.same(filterRules(p, 'openat'), [{ nr: syscallNumber('linux', 'openat'), action: SECCOMP_RET.USER_NOTIF }]);

  const noAliases = plan(`default: deny
rules:
  fsread:
    - filename match "/usr/lib/*" then permit
`, { ...interactive, aliases: false });
  t.equal(where(place(noAliases, 'stat')), 'kernel ERRNO(EPERM)', '-u: aliases off');
});

t.test('first match wins: an unconditional group rule before an alias', async t => {
  const p = plan(`default: deny
rules:
  "@file-system": permit
  fsread:
    - filename match "/usr/lib/*" then deny
`);
  t.equal(where(place(p, 'stat')), 'kernel ALLOW');
  t.equal(where(place(p, 'openat')), 'kernel ALLOW');
  // The other order: the call's own filename rule comes first.
  const q = plan(`default: deny
rules:
  stat:
    - filename eq "/x" then deny
  "@file-system": permit
`);
  t.equal(where(place(q, 'stat')), 'user');
});

t.test('integer rules: exact in the kernel when one action over the default', async t => {
  const killDeny = `default: permit
rules:
  kill:
    - signame eq "SIGKILL" then deny
`;
  const p = plan(killDeny);
  const kill = place(p, 'kill');
  t.equal(where(kill), 'kernel rules');
  t.equal(kill.target === 'kernel' && kill.action, ALLOW, 'fallback is the default');
  t.same(filterRules(p, 'kill'), [
    { nr: syscallNumber('linux', 'kill'), action: EPERM, cmps: [{ arg: 1, op: 'masked_eq', a: 0xffffffffn, b: 9n }] },
  ]);
  agrees(t, killDeny, interactive, 'linux', 'kill', [args6(1n, 9n), args6(1n, 15n), args6(1n, 9n | (1n << 32n)), args6(1n, 0n)]);

  const socketPermit = `default: deny
rules:
  socket:
    - sockdom eq "AF_INET" then permit
    - sockdom eq "AF_INET6" then permit
`;
  const q = plan(socketPermit);
  t.equal(where(place(q, 'socket')), 'kernel rules');
  t.same(filterRules(q, 'socket').map(r => [r.action, r.cmps]), [
    [ALLOW, [{ arg: 0, op: 'masked_eq', a: 0xffffffffn, b: 2n }]],
    [ALLOW, [{ arg: 0, op: 'masked_eq', a: 0xffffffffn, b: 10n }]],
  ]);
  agrees(t, socketPermit, interactive, 'linux', 'socket', [args6(2n, 1n), args6(10n, 2n), args6(1n, 1n), args6(16n, 3n)]);

  const mmap = `default: permit
rules:
  mprotect:
    - prot sub "PROT_EXEC" and prot sub "PROT_WRITE" then deny
`;
  t.equal(where(place(plan(mmap), 'mprotect')), 'user', 'one argument tested twice: libseccomp cannot');
  const execOnly = `default: permit
rules:
  mprotect:
    - prot sub "PROT_EXEC" then deny
`;
  t.equal(where(place(plan(execOnly), 'mprotect')), 'kernel rules');
  agrees(t, execOnly, interactive, 'linux', 'mprotect', [args6(0n, 0n, 5n), args6(0n, 0n, 3n)]);
});

t.test('integer permits over a reported default denial stay in the kernel; the rest is notified', async t => {
  const opts: CompileOptions = { ...enforcing, reportDefaultDenials: true };
  const text = 'default: deny\nrules:\n  socket: sockdom eq "AF_INET" and socktype eq "SOCK_STREAM" then permit\n  kill: signame eq "SIGKILL" then deny\n';
  const p = plan(text, opts);
  t.equal(where(place(p, 'socket')), 'kernel rules', 'socket: its permits in BPF');
  t.equal(actionName(kernelDoes(p, 'linux', 'socket', args6(2n, 1n | 0x80000n, 0n))), 'ALLOW', 'AF_INET stream (SOCK_CLOEXEC) in the kernel');
  t.equal(actionName(kernelDoes(p, 'linux', 'socket', args6(1n, 1n, 0n))), 'NOTIFY', 'AF_UNIX: notified, denied and reported by the supervisor');
  t.equal(where(place(p, 'kill')), 'user', 'an integer denial is notified whole, to be reported');
  t.equal(where(place(p, 'socket', 'linux32')), 'kernel ERRNO(ENOSYS)', 'no i386 policy');
  const p32 = compile([policy(text.replace('default: deny', 'emulation: linux32\ndefault: deny'))], opts);
  t.equal(where(place(p32, 'socket', 'linux32')), 'user', 'i386: libseccomp cannot compare socketcall\'s arguments');
});

t.test('TIOCSTI stays refused under ioctl integer rules', async t => {
  const TIOCSTI = 0x5412n, TCGETS = 0x5401n;
  // Permits of an fd: notified whole, the supervisor refuses TIOCSTI (a
  // kernel ALLOW of fd 1 would let it through).
  for (const opts of [{ ...enforcing, reportDefaultDenials: true }, enforcing]) {
    const p = plan('default: deny\nrules:\n  ioctl: fd eq "1" then permit\n', opts);
    t.equal(where(place(p, 'ioctl')), 'user', 'ioctl permits by fd: notified');
    t.not(actionName(kernelDoes(p, 'linux', 'ioctl', args6(1n, TIOCSTI))), 'ALLOW', 'TIOCSTI on fd 1 is not permitted in the kernel');
  }
  // Denials of an fd over a permitting default: TIOCSTI denied too.
  const d = plan('default: permit\nrules:\n  ioctl: fd eq "5" then deny\n', enforcing);
  t.equal(actionName(kernelDoes(d, 'linux', 'ioctl', args6(0n, TIOCSTI))), 'ERRNO(EPERM)', 'TIOCSTI on another fd');
  t.equal(actionName(kernelDoes(d, 'linux', 'ioctl', args6(0n, TCGETS))), 'ALLOW', 'another ioctl as before');
  t.equal(actionName(kernelDoes(d, 'linux', 'ioctl', args6(5n, TCGETS))), 'ERRNO(EPERM)', 'the policy\'s own denial');
});

t.test('integer rules the kernel cannot decide exactly go to user space', async t => {
  const table: [string, string, string][] = [
    ['different actions', 'permit', `kill:
    - signame eq "SIGKILL" then deny
    - signame eq "SIGTERM" then deny[esrch]`],
    ['neq', 'permit', `kill:
    - signame neq "SIGKILL" then deny`],
    ['log', 'permit', `kill:
    - signame eq "SIGKILL" then deny log`],
    ['ask without -a', 'permit', `kill:
    - signame eq "SIGKILL" then ask`],
    ['rule over a fallback that is not the default', 'permit', `kill:
    - signame eq "SIGKILL" then deny
    - true then deny[esrch]`],
    ['elevate', 'deny', `setuid:
    - uid eq "0" then elevate`],
    // The engine compares the printed value: these literals never print.
    ['signal by number', 'deny', `kill:
    - signame eq "9" then permit`],
    ['mode in decimal', 'deny', `chmod:
    - mode eq "420" then permit`],
    ['pid with a leading zero', 'deny', `kill:
    - pid eq "01" then permit`],
    ['oflags by number', 'deny', `openat:
    - oflags eq "0" then permit`],
    ['O_DIRECT is inside O_DIRECTORY', 'permit', `openat:
    - oflags sub "O_DIRECT" then deny`],
    ['O_DSYNC is hidden under O_SYNC', 'deny', `openat:
    - oflags nsub "O_DSYNC" then permit`],
  ];
  for (const [what, def, rules] of table) {
    t.equal(where(place(plan(`default: ${def}\nrules:\n  ${rules}\n`), rules.split(':')[0]!)), 'user', what);
  }
  const askEnforced = plan(`default: permit
rules:
  kill:
    - signame eq "SIGKILL" then ask
`, enforcing);
  t.equal(where(place(askEnforced, 'kill')), 'kernel rules', 'ask under -a is deny EPERM');
  t.equal(filterRules(askEnforced, 'kill')[0]!.action, EPERM);
});

t.test('literals the engine prints are compiled exactly', async t => {
  const chmod = `default: deny
rules:
  chmod:
    - mode eq "0644" then permit
`;
  t.same(filterRules(plan(chmod), 'chmod')[0]!.cmps, [{ arg: 1, op: 'masked_eq', a: 0xffffffffn, b: 0o644n }], 'mode is octal');
  agrees(t, chmod, interactive, 'linux', 'chmod', [args6(0n, 0o644n), args6(0n, 644n), args6(0n, 0o600n)]);

  const sock = `default: deny
rules:
  socket:
    - socktype eq "SOCK_STREAM" then permit
`;
  t.same(filterRules(plan(sock), 'socket')[0]!.cmps, [{ arg: 1, op: 'masked_eq', a: 0xfn, b: 1n }], 'SOCK_NONBLOCK | SOCK_CLOEXEC ignored, as the engine does');
  agrees(t, sock, interactive, 'linux', 'socket', [args6(2n, 1n), args6(2n, 1n | 0o4000n | 0o2000000n), args6(2n, 2n)]);

  // TCP only: socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP or IPPROTO_SCTP) is
  // a stream socket too. sockproto is an int: exactly its low 32 bits.
  const tcp = `default: deny
rules:
  socket:
    - sockdom eq "AF_INET" and socktype eq "SOCK_STREAM" and sockproto eq "0" then permit
    - sockdom eq "AF_INET" and socktype eq "SOCK_STREAM" and sockproto eq "IPPROTO_TCP" then permit
`;
  t.equal(where(place(plan(tcp), 'socket')), 'kernel rules');
  t.same(filterRules(plan(tcp), 'socket').map(r => [r.action, r.cmps]), [
    [ALLOW, [{ arg: 0, op: 'masked_eq', a: 0xffffffffn, b: 2n }, { arg: 1, op: 'masked_eq', a: 0xfn, b: 1n }, { arg: 2, op: 'masked_eq', a: 0xffffffffn, b: 0n }]],
    [ALLOW, [{ arg: 0, op: 'masked_eq', a: 0xffffffffn, b: 2n }, { arg: 1, op: 'masked_eq', a: 0xfn, b: 1n }, { arg: 2, op: 'masked_eq', a: 0xffffffffn, b: 6n }]],
  ]);
  agrees(t, tcp, interactive, 'linux', 'socket', [
    args6(2n, 1n, 0n), args6(2n, 1n, 6n), args6(2n, 1n | 0o4000n, 6n), args6(2n, 1n, 262n), args6(2n, 1n, 132n),
    args6(2n, 1n, 6n | (1n << 32n)), args6(2n, 1n, 262n | (6n << 32n)), args6(10n, 1n, 6n), args6(2n, 2n, 17n),
  ]);
  const noMptcp = `default: permit
rules:
  socketpair:
    - sockproto neq "0" then deny[eprotonosupport]
  socket:
    - sockproto eq "IPPROTO_MPTCP" then deny
    - sockproto eq "-1" then deny
`;
  t.same(filterRules(plan(noMptcp), 'socket').map(r => r.cmps), [
    [{ arg: 2, op: 'masked_eq', a: 0xffffffffn, b: 262n }],
    [{ arg: 2, op: 'masked_eq', a: 0xffffffffn, b: 0xffffffffn }],
  ]);
  t.equal(where(place(plan(noMptcp), 'socketpair')), 'user', 'neq has no single kernel test');
  agrees(t, noMptcp, interactive, 'linux', 'socket', [args6(2n, 1n, 262n), args6(2n, 1n, 6n), args6(2n, 1n, 0xffffffffn), args6(2n, 1n, -1n & ((1n << 64n) - 1n))]);
  const tcp32 = tcp.replace('default: deny', 'emulation: linux32\ndefault: deny');
  t.equal(where(place(compile([policy(tcp32)], interactive), 'socket', 'linux32')), 'kernel rules');
  agrees(t, tcp32, interactive, 'linux32', 'socket', [args6(2n, 1n, 6n), args6(2n, 1n, 262n), args6(2n, 1n, 0n)]);

  // i386 setuid takes a 16-bit uid: the kernel ignores the upper half.
  const setuid32 = `emulation: linux32
default: permit
rules:
  setuid:
    - uid eq "0" then deny
`;
  t.same(filterRules(compile([policy(setuid32)], interactive), 'setuid', 'linux32')[0]!.cmps, [{ arg: 0, op: 'masked_eq', a: 0xffffn, b: 0n }]);
  agrees(t, setuid32, interactive, 'linux32', 'setuid', [args6(0n), args6(0x10000n), args6(1000n), args6(0xffffn)]);
});

t.test('ask default: uncovered calls are notified, or EPERM under -a', async t => {
  const text = `default: ask
rules:
  read: permit
`;
  const p = plan(text);
  t.equal(p.filter.defaultAction, SECCOMP_RET.USER_NOTIF);
  t.equal(where(place(p, 'close')), 'user');
  t.equal(where(place(p, 'read')), 'kernel ALLOW');
  const q = plan(text, enforcing);
  t.equal(q.filter.defaultAction, EPERM);
  t.equal(where(place(q, 'close')), 'kernel ERRNO(EPERM)');
  // Only execve: the program's own start (the exec helper's execve) must
  // reach the supervisor, which lets it through.
  t.same([...q.arches[0]!.notified], [59], 'nothing but execve is notified');
  t.match(place(q, 'execve').why, /the program's own start is let through/);
});

t.test('escape calls are denied unless named as a system call', async t => {
  const escapes: [string, string][] = [
    ['io_uring_setup', 'kernel ERRNO(EPERM)'],
    ['ptrace', 'kernel ERRNO(EPERM)'],
    ['process_vm_writev', 'kernel ERRNO(EPERM)'],
    ['unshare', 'kernel ERRNO(EPERM)'],
    ['mount', 'kernel ERRNO(EPERM)'],
    ['chroot', 'kernel ERRNO(EPERM)'],
    ['clone3', 'kernel ERRNO(ENOSYS)'],
  ];
  const permitAll = plan(`default: permit
rules:
  "@debug": permit
  "@mount": permit
  "@process": permit
`);
  for (const [name, want] of escapes) t.equal(where(place(permitAll, name)), want, `${name} under default permit and its group`);
  t.equal(where(place(permitAll, 'process_vm_readv')), 'kernel ALLOW', 'reading is not an escape');

  const named = plan(`default: deny
rules:
  ptrace: permit
  clone3: permit
  mount: deny[eacces]
`);
  t.equal(where(place(named, 'ptrace')), 'kernel ALLOW');
  t.equal(where(place(named, 'clone3')), 'kernel ALLOW');
  t.equal(where(place(named, 'mount')), 'kernel ERRNO(EACCES)');
  t.equal(where(place(named, 'unshare')), 'kernel ERRNO(EPERM)');
});

t.test('clone and seccomp are guarded when permitted without being named', async t => {
  const CLONE_NEWNS = 0x20000n, CLONE_NEWUSER = 0x10000000n, NEW_LISTENER = 8n;
  const CLONE_VM = 0x100n, CLONE_VFORK = 0x4000n, CLONE_THREAD = 0x10000n, SIGCHLD = 17n;
  // What glibc passes: fork, pthread_create, posix_spawn (vfork style).
  const FORK = 0x1200000n | SIGCHLD;
  const THREAD = 0x3d0f00n;
  const SPAWN = CLONE_VM | CLONE_VFORK | SIGCHLD;
  const table: [string, bigint, string, string][] = [
    ['fork', FORK, 'ALLOW', 'ALLOW'],
    ['thread', THREAD, 'ALLOW', 'ALLOW'],
    ['posix_spawn', SPAWN, 'ALLOW', 'ALLOW'],
    ['new user namespace', FORK | CLONE_NEWUSER, 'ERRNO(EPERM)', 'ALLOW'],
    ['new mount namespace', FORK | CLONE_NEWNS, 'ERRNO(EPERM)', 'ALLOW'],
    ['shared memory, not a thread or vfork', CLONE_VM | SIGCHLD, 'ERRNO(EPERM)', 'ERRNO(EPERM)'],
    ['CLONE_VM|CLONE_THREAD without VFORK', CLONE_VM | CLONE_THREAD, 'ALLOW', 'ALLOW'],
  ];
  const policies: [string, string][] = [
    ['default permit', 'default: permit\n'],
    ['default deny, @process', 'default: deny\nrules:\n  "@process": permit\n  "@sandbox": permit\n'],
  ];
  for (const [label, text] of policies) {
    const p = plan(text);
    for (const [what, flags, want] of table) {
      t.equal(actionName(kernelDoes(p, 'linux', 'clone', args6(flags))), want, `${label}: ${what}`);
    }
    t.equal(actionName(kernelDoes(p, 'linux', 'seccomp', args6(1n, NEW_LISTENER))), 'ERRNO(EPERM)', `${label}: seccomp listener`);
    t.equal(actionName(kernelDoes(p, 'linux', 'seccomp', args6(1n, 0n))), 'ALLOW', `${label}: seccomp filter`);
    t.match(place(p, 'clone').why, /new namespaces/);
  }
  // Named: namespaces are the policy's choice; shared memory outside
  // threads and vfork stays denied (the execve check relies on it).
  const named = plan('default: deny\nrules:\n  clone: permit\n');
  for (const [what, flags, , wantNamed] of table) {
    t.equal(actionName(kernelDoes(named, 'linux', 'clone', args6(flags))), wantNamed, `named: ${what}`);
  }
});

t.test('MSG_FASTOPEN (a send that connects) is denied where connect is restricted', async t => {
  const FASTOPEN = 0x20000000n;
  const restricted = [
    ['sockaddr rules', 'default: permit\nrules:\n  connect: sockaddr eq "inet-[127.0.0.1]:80" then permit\n'],
    ['connect denied', 'default: deny\nrules:\n  sendto: permit\n  sendmsg: permit\n  sendmmsg: permit\n'],
    ['send rules on fd', 'default: deny\nrules:\n  sendto: fd eq "3" then permit\n  sendmsg: permit\n  sendmmsg: permit\n'],
  ];
  for (const [label, text] of restricted) {
    for (const opts of [interactive, enforcing]) {
      const p = plan(text!, opts);
      for (const [name, flagsArg] of [['sendto', 3], ['sendmsg', 2], ['sendmmsg', 3]] as const) {
        const args = (flags: bigint): bigint[] => {
          const a = args6(3n);
          a[flagsArg] = flags;
          return a;
        };
        t.equal(actionName(kernelDoes(p, 'linux', name, args(FASTOPEN))), 'ERRNO(EPERM)', `${label}: ${name} with MSG_FASTOPEN`);
        t.equal(actionName(kernelDoes(p, 'linux', name, args(FASTOPEN | 0x40n))), 'ERRNO(EPERM)', `${label}: ${name} with MSG_FASTOPEN|MSG_DONTWAIT`);
        t.not(actionName(kernelDoes(p, 'linux', name, args(0x40n))), 'ERRNO(EPERM)', `${label}: ${name} without it as before`);
        t.match(place(p, name).why, /MSG_FASTOPEN denied/);
      }
    }
  }
  // Review: denials with comparisons leave other values to a permitting default.
  const partial = plan('default: permit\nrules:\n  connect: sockaddr eq "inet-[127.0.0.1]:80" then permit\n  sendto: fd eq "1000" then deny\n', enforcing);
  t.equal(actionName(kernelDoes(partial, 'linux', 'sendto', args6(3n, 0n, 1n, FASTOPEN))), 'ERRNO(EPERM)', 'conditional denials: still guarded');
  t.equal(actionName(kernelDoes(partial, 'linux', 'sendto', args6(1000n, 0n, 1n, 0n))), 'ERRNO(EPERM)', 'the policy\'s own denial stands');
  t.equal(actionName(kernelDoes(partial, 'linux', 'sendto', args6(3n, 0n, 1n, 0n))), 'ALLOW', 'a plain send as before');
  // i386: the flag is in memory under socketcall: the send is notified, the supervisor refuses it.
  const i386 = compile([policy('emulation: linux32\ndefault: deny\nrules:\n  sendto: permit\n  sendmsg: permit\n  connect: sockaddr eq "inet-[127.0.0.1]:80" then permit\n')], enforcing);
  t.equal(where(place(i386, 'sendto', 'linux32')), 'user', 'i386 sendto notified');
  t.match(place(i386, 'sendto', 'linux32').why, /MSG_FASTOPEN is refused by the supervisor/);
  t.ok(i386.arches.find(a => a.emulation === 'linux32')!.fastOpenRefused, 'the supervisor is told');
  t.same([...i386.arches.find(a => a.emulation === 'linux32')!.fastOpenNotified ?? []].sort(), ['sendmsg', 'sendto'], 'and which sends the kernel would have carried out');
  t.equal(filterRules(i386, 'sendto', 'linux32').length, 1, 'one notify rule, no comparison on i386');
  t.notOk(filterRules(i386, 'sendto', 'linux32')[0]!.cmps?.length);
  // The same sends, decided as the engine would, when connect is free.
  const free = plan('default: deny\nrules:\n  connect: permit\n  sendto: permit\n');
  t.equal(actionName(kernelDoes(free, 'linux', 'sendto', args6(3n, 0n, 1n, FASTOPEN))), 'ALLOW', 'connect permitted outright: a fast open is a permitted connect');
  t.notMatch(place(free, 'sendto').why, /FASTOPEN/);
  // Learning records the call as it comes.
  const learning = compile([policy('default: permit\nrules:\n  connect: sockaddr eq "inet-[127.0.0.1]:80" then permit\n')], { ...interactive, notifyAll: true });
  t.equal(actionName(kernelDoes(learning, 'linux', 'sendto', args6(3n, 0n, 1n, FASTOPEN))), 'NOTIFY', 'learning: notified');
});

t.test('exit and exit_group are always permitted', async t => {
  const p = plan(`default: deny
rules:
  exit: deny
  "@default": kill
`);
  t.equal(where(place(p, 'exit')), 'kernel ALLOW');
  t.equal(where(place(p, 'exit_group')), 'kernel ALLOW');
});

t.test('an emulation without a policy gets ENOSYS, except exit', async t => {
  const p = plan('default: permit\n');
  const i386 = p.arches.find(a => a.emulation === 'linux32')!;
  for (const name of syscallNames('linux32')) {
    const pl = i386.calls.get(name)!;
    const want = name === 'exit' || name === 'exit_group' ? ALLOW : ENOSYS;
    if (pl.target !== 'kernel' || pl.action !== want) t.fail(`linux32 ${name}: ${where(pl)}`);
  }
  t.equal(i386.notified.size, 0);
  t.equal(actionName(kernelDoes(p, 'linux32', 'open', args6())), 'ERRNO(ENOSYS)');
  t.equal(actionName(kernelDoes(p, 'linux32', 'exit', args6())), 'ALLOW');
  t.pass('every linux32 call checked');
});

t.test('two policies of one emulation are an error', async t => {
  t.throws(() => compile([policy('default: deny\n', 'a.yaml'), policy('default: permit\n', 'b.yaml')], interactive), /two policies for emulation linux: a.yaml and b.yaml/);
  t.doesNotThrow(() => compile([policy('default: deny\n'), policy('emulation: linux32\ndefault: deny\n')], interactive));
});

t.test('`, if user|group` conditions are settled at compile time', async t => {
  const p = plan(`default: deny
rules:
  setuid:
    - true then permit, if user = root
  setgid:
    - true then permit, if user = u
  getuid:
    - true then permit, if group = g
  getgid:
    - true then permit, if user != u
`);
  t.equal(where(place(p, 'setuid')), 'kernel ERRNO(EPERM)', 'not root: rule dropped');
  t.equal(where(place(p, 'setgid')), 'kernel ALLOW');
  t.equal(where(place(p, 'getuid')), 'kernel ALLOW');
  t.equal(where(place(p, 'getgid')), 'kernel ERRNO(EPERM)');

  // The engine also matches ids: without them a number cannot be settled.
  const byId = `default: permit
rules:
  getpid:
    - true then deny, if user = 1000
  getppid:
    - true then deny, if user >= 1000
`;
  const q = plan(byId);
  t.equal(where(place(q, 'getpid')), 'user');
  t.equal(where(place(q, 'getppid')), 'user');
  const withIds = { ...interactive, user: { ...user, uid: 1000, gid: 1000 } };
  const r = plan(byId, withIds);
  t.equal(where(place(r, 'getpid')), 'kernel ERRNO(EPERM)', 'uid known: settled as the engine would');
  t.equal(where(place(r, 'getppid')), 'kernel ERRNO(EPERM)');
  agrees(t, byId, withIds, 'linux', 'getpid', [args6()]);
});

t.test('open-family alias rules depend on the flags: never compiled as unconditional', async t => {
  // Bug fixed: `fsread: permit` alone put openat in the kernel as ALLOW, so
  // openat(O_WRONLY|O_CREAT) was permitted though the engine says fswrite -> default deny.
  const readOnly = `default: deny
rules:
  fsread: permit
`;
  const p = plan(readOnly);
  t.equal(where(place(p, 'stat')), 'kernel ALLOW', 'stat is always fsread');
  for (const name of ['open', 'openat', 'openat2']) t.equal(where(place(p, name)), 'user', name);
  t.equal(where(place(p, 'creat')), 'kernel ERRNO(EPERM)', 'creat is always fswrite');
  agrees(t, readOnly, interactive, 'linux', 'openat', [args6(0n, 0n, 0o1101n), args6(0n, 0n, 0n)]);

  const both = plan(`default: deny
rules:
  fsread: permit
  fswrite: deny
`);
  t.equal(where(place(both, 'openat')), 'user');
  t.equal(where(place(both, 'unlink')), 'kernel ERRNO(EPERM)');

  const writeDeny = plan(`default: permit
rules:
  fswrite: deny[erofs]
`);
  t.equal(where(place(writeDeny, 'openat')), 'user', 'read-only opens must not get EROFS');
  t.equal(where(place(writeDeny, 'creat')), 'kernel ERRNO(EROFS)');

  const ownFirst = plan(`default: deny
rules:
  openat: permit
  fsread:
    - filename match "/usr/*" then permit
`);
  t.equal(where(place(ownFirst, 'openat')), 'kernel ALLOW', 'an unconditional own rule ends the list before the alias');
});

t.test('fast-fstat: newfstatat and statx with AT_EMPTY_PATH alone are fstat, in the kernel', async t => {
  const on = plan(`default: deny
fast-fstat: true
rules:
  fstat: permit
  fsread:
    - filename inpath "/usr" then permit
`);
  const AT_EMPTY_PATH = 0x1000n;
  t.equal(actionName(kernelDoes(on, 'linux', 'newfstatat', args6(3n, 0n, 0n, AT_EMPTY_PATH))), 'ALLOW', 'fstat-shaped: in the kernel');
  t.equal(actionName(kernelDoes(on, 'linux', 'newfstatat', args6(3n, 0n, 0n, 0n))), 'NOTIFY', 'any other flags: notified');
  t.equal(actionName(kernelDoes(on, 'linux', 'newfstatat', args6(3n, 0n, 0n, AT_EMPTY_PATH | 0x100n))), 'NOTIFY');
  t.equal(actionName(kernelDoes(on, 'linux', 'newfstatat', args6(3n, 0n, 0n, (1n << 32n) | AT_EMPTY_PATH))), 'NOTIFY', 'all 64 bits must match');
  t.equal(actionName(kernelDoes(on, 'linux', 'statx', args6(3n, 0n, AT_EMPTY_PATH))), 'ALLOW');
  const noFstat = plan(`default: deny
fast-fstat: true
rules:
  fsread:
    - filename inpath "/usr" then permit
`);
  t.equal(actionName(kernelDoes(noFstat, 'linux', 'newfstatat', args6(3n, 0n, 0n, AT_EMPTY_PATH))), 'NOTIFY', 'only when the policy permits fstat itself');
  const off = plan(`default: deny
rules:
  fstat: permit
  fsread:
    - filename inpath "/usr" then permit
`);
  t.equal(actionName(kernelDoes(off, 'linux', 'newfstatat', args6(3n, 0n, 0n, AT_EMPTY_PATH))), 'NOTIFY', 'off by default');
});

t.test('landlock: read-only opens go to Landlock when the file rules are files and trees over a denial', async t => {
  const text = (rules: string, head = ''): string => `default: deny
landlock: true
${head}rules:
  fsread:
${rules}  fswrite:
    - filename inpath "/tmp/out" then permit
`;
  const withAbi = (abi: number): CompileOptions => ({ ...enforcing, reportDefaultDenials: true, landlockAbi: abi });
  const good = plan(text(`    - filename inpath "/usr" then permit
    - filename match "/etc/*" then permit
    - filename eq "/srv/one.txt" then permit
    - filename eq "/srv/dir/" then permit
    - filename inpath "/secret" then deny
`), withAbi(7));
  t.ok(good.landlock, `planned (${good.landlockWhy})`);
  t.same(good.landlock?.calls, ['open', 'openat']);
  t.same(good.landlock?.rules.map(r => [r.path, r.kind]), [
    ['/usr', 'tree'], ['/etc', 'below'], ['/srv/one.txt', 'file'], ['/', 'tree'],
  ], 'a non-canonical literal names nothing; a denial outside every permit needs no rule; REFER on /');
  t.equal(good.landlock?.rules.at(-1)?.access, 1n << 13n, 'the rule on / grants only REFER');
  const O_WRONLY = 1n, O_RDWR = 2n, O_CREAT = 0o100n, O_TRUNC = 0o1000n, O_PATH = 0o10000000n, O_TMPFILE = 0o20000000n;
  const O_NONBLOCK = 0o4000n, O_CLOEXEC = 0o2000000n, O_DIRECTORY = 0o200000n, O_NOFOLLOW = 0o400000n;
  for (const f of [0n, O_NONBLOCK | O_CLOEXEC, O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC]) {
    t.equal(actionName(kernelDoes(good, 'linux', 'openat', args6(0n, 0n, f))), 'ALLOW', `openat flags 0o${f.toString(8)}: in the kernel`);
    t.equal(actionName(kernelDoes(good, 'linux', 'open', args6(0n, f))), 'ALLOW', `open flags 0o${f.toString(8)}: in the kernel`);
  }
  for (const f of [O_WRONLY, O_RDWR, 3n, O_CREAT, O_TRUNC, O_PATH, O_TMPFILE | O_DIRECTORY, O_CREAT | O_CLOEXEC]) {
    t.equal(actionName(kernelDoes(good, 'linux', 'openat', args6(0n, 0n, f))), 'NOTIFY', `openat flags 0o${f.toString(8)}: notified`);
  }
  t.equal(actionName(kernelDoes(good, 'linux', 'openat', args6(0n, 0n, 1n << 32n))), 'ALLOW', 'only the low 32 bits are flags (int)');
  t.equal(where(place(good, 'openat2')), 'user', 'openat2 keeps its flags in memory: notified');
  t.match(place(good, 'openat').why, /landlock/);

  const why = (rules: string, opts = withAbi(7), head = ''): string | undefined => plan(text(rules, head), opts).landlockWhy;
  t.match(why(`    - filename inpath "/etc" then permit
    - filename eq "/etc/shadow" then deny
`), /overlaps/, 'a denial inside a permitted tree (either order)');
  t.match(why(`    - filename eq "/etc/shadow" then deny
    - filename inpath "/etc" then permit
`), /overlaps/);
  t.match(why(`    - filename re "^/usr/.*\\\\.so$" then permit
`), /not a file or tree/, 're cannot be said in Landlock');
  t.match(why(`    - filename match "/usr/*.so" then permit
`), /not a file or tree/, 'a pattern other than DIR/*');
  t.match(why(`    - filename inpath "/usr" then permit log
`), /logs/, 'a logged permit needs the supervisor');
  t.match(why(`    - filename inpath "/usr" then permit
`, withAbi(1)), /ABI is 1/, 'ABI 1 forbids every cross-directory rename: not used');
  t.match(why(`    - filename inpath "/usr" then permit
`, withAbi(0)), /no Landlock/);
  t.equal(why(`    - filename inpath "/usr" then permit
`, { ...withAbi(7), enforce: false }), undefined, 'no ask involved: fine without -a too');
  t.match(plan(text(`    - filename inpath "/usr" then permit
`).replace('default: deny', 'default: ask'), { ...withAbi(7), enforce: false }).landlockWhy, /asks/, 'ask needs the supervisor');
  t.match(plan(text(`    - filename inpath "/usr" then permit
`).replace('default: deny', 'default: permit'), withAbi(7)).landlockWhy, /default permits/);
  t.match(plan(`default: deny
landlock: true
rules:
  open: permit
  fsread:
    - filename inpath "/usr" then permit
`, withAbi(7)).landlockWhy, /open is permitted outright/, 'Landlock would restrict an open the policy permits outright');
  t.match(plan(`default: deny
landlock: true
rules:
  openat:
    - filename inpath "/opt" then permit
  fsread:
    - filename inpath "/usr" then permit
`, withAbi(7)).landlockWhy, /open and openat permit different reads/);
  t.notOk(plan(text(`    - filename inpath "/usr" then permit
`).replace('landlock: true\n', ''), withAbi(7)).landlockWhy, 'not asked for: nothing said');
  t.notOk(plan(text(`    - filename inpath "/usr" then permit
`).replace('landlock: true\n', ''), withAbi(7)).landlock);
  const learning = plan(text(`    - filename inpath "/usr" then permit
`), { ...withAbi(7), notifyAll: true });
  t.match(learning.landlockWhy, /learning/);
});

t.test('landlock: opens for writing go to Landlock too when fswrite permits trees Landlock can read as well', async t => {
  const text = (fswrite: string, fsread = '    - filename inpath "/srv" then permit\n'): string => `default: deny
landlock: true
rules:
  fsread:
${fsread}  fswrite:
${fswrite}`;
  const withAbi = (abi: number): CompileOptions => ({ ...enforcing, reportDefaultDenials: true, landlockAbi: abi });
  const good = plan(text('    - filename inpath "/srv/out" then permit\n    - filename match "/srv/tmp/*" then permit\n'), withAbi(7));
  t.ok(good.landlock?.writes, `writes planned (${good.landlock?.writesWhy ?? good.landlockWhy})`);
  const WRITE = (1n << 1n) | (1n << 14n) | (1n << 8n);
  t.same(good.landlock?.rules.filter(r => r.access === WRITE).map(r => [r.path, r.kind]), [['/srv/out', 'tree'], ['/srv/tmp', 'below']],
    'write, truncate and create in the fswrite trees');
  t.equal(good.landlock!.handled & WRITE, WRITE, 'and the ruleset handles those rights');
  const O_WRONLY = 1n, O_RDWR = 2n, O_CREAT = 0o100n, O_TRUNC = 0o1000n, O_EXCL = 0o200n, O_PATH = 0o10000000n, O_TMPFILE = 0o20000000n;
  const O_CLOEXEC = 0o2000000n, O_DIRECTORY = 0o200000n, O_APPEND = 0o2000n;
  for (const f of [0n, O_WRONLY, O_RDWR, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, O_RDWR | O_CREAT | O_EXCL, O_WRONLY | O_APPEND])
    t.equal(actionName(kernelDoes(good, 'linux', 'openat', args6(0n, 0n, f))), 'ALLOW', `openat flags 0o${f.toString(8)}: in the kernel`);
  for (const f of [O_CREAT, O_TRUNC, O_CREAT | O_EXCL, 3n, 3n | O_CREAT, O_PATH, O_WRONLY | O_PATH, O_TMPFILE | O_DIRECTORY | O_RDWR, O_RDWR | (O_TMPFILE & ~O_DIRECTORY)])
    t.equal(actionName(kernelDoes(good, 'linux', 'openat', args6(0n, 0n, f))), 'NOTIFY', `openat flags 0o${f.toString(8)}: notified`);
  t.equal(actionName(kernelDoes(good, 'linux', 'open', args6(0n, O_WRONLY | O_CREAT))), 'ALLOW', 'open, as openat');
  t.match(place(good, 'openat').why, /opens for writing, in the kernel/);

  const writesWhy = (fswrite: string, fsread?: string, abi = 7): string | undefined => {
    const p = plan(text(fswrite, fsread), withAbi(abi));
    t.ok(p.landlock, `reads still go to Landlock (${p.landlockWhy})`);
    t.notOk(p.landlock?.writes, 'writes do not');
    t.equal(actionName(kernelDoes(p, 'linux', 'openat', args6(0n, 0n, O_WRONLY))), 'NOTIFY', 'a write open is notified');
    return p.landlock?.writesWhy;
  };
  t.match(writesWhy('    - filename inpath "/srv/out" then permit\n    - filename eq "/dev/null" then permit\n'), /one file/,
    'an eq permit: Landlock cannot let one name be created');
  t.match(writesWhy('    - filename inpath "/var/out" then permit\n'), /not all of it read/, 'O_RDWR needs a read Landlock would refuse');
  t.match(writesWhy('    - filename inpath "/srv/out" then permit\n    - filename eq "/srv/out/keep" then deny\n'), /overlaps/,
    'a denial inside a permitted tree');
  t.match(writesWhy('    - filename inpath "/srv/out" then permit\n', undefined, 2), /ABI is 2; 3 is needed/, 'no TRUNCATE right before ABI 3');
  // fswrite also says which renames systrace performs: one it cannot read
  // keeps Landlock out altogether (below).
  t.match(plan(text('    - filename re "^/srv/out/" then permit\n'), withAbi(7)).landlockWhy, /renames \(linux\): .*not a file or tree/);
  t.match(writesWhy('    - filename inpath "/srv/out" then permit log\n'), /asks, logs/);
  const withCalls = (calls: string): Plan => plan(text('    - filename inpath "/srv/out" then permit\n').replace('rules:\n', `rules:\n${calls}`), withAbi(7));
  t.match(withCalls('  truncate: permit\n').landlock?.writesWhy, /truncate \(linux\) is performed by the kernel/,
    'the ruleset would refuse a truncate the kernel performs outside the trees');
  t.match(withCalls('  linkat: permit\n').landlock?.writesWhy, /linkat \(linux\) is performed by the kernel/);
  t.match(withCalls('  link:\n    - filename inpath "/srv" then permit\n').landlock?.writesWhy, /link \(linux\) has rules of its own/,
    'a link fswrite does not decide could name a write tree\'s file outside it');
});

// Found in review: a Landlock rule belongs to a directory, not to its name.
// A rename systrace permits carries the rule along to the new name, where
// the policy may say otherwise.
t.test('landlock: not used where a permitted rename could carry a rule to a name the policy does not grant it', async t => {
  const text = (fsread: string, fswrite: string, more = ''): string => `default: deny
landlock: true
rules:
${more}  fsread:
${fsread}  fswrite:
${fswrite}`;
  const why = (fsread: string, fswrite: string, more = ''): string | undefined =>
    plan(text(fsread, fswrite, more), { ...enforcing, reportDefaultDenials: true, landlockAbi: 7 }).landlockWhy;
  const pub = '    - filename inpath "/srv/pub" then permit\n';
  t.match(why(pub, '    - filename inpath "/srv" then permit\n'),
    /a permitted rename could move \/srv\/pub, and the Landlock rule of \/srv\/pub with it, into \/srv /,
    'renaming /srv/pub to /srv/x would leave it readable by Landlock, not by the policy');
  t.match(why(pub, '    - filename inpath "/" then permit\n'), /could move \//, 'or one of the directories above it');
  t.equal(why('    - filename inpath "/srv" then permit\n', '    - filename inpath "/srv/out" then permit\n'), undefined,
    'a rename inside a tree readable whole changes nothing');
  t.equal(why(pub, '    - filename inpath "/tmp/out" then permit\n'), undefined, 'nothing above a rule can be moved');
  t.match(why(pub, '    - filename inpath "/tmp/out" then permit\n', '  rename:\n    - filename inpath "/srv" then permit\n'),
    /rename \(linux\) has rules of its own/);
  t.match(why(pub, '    - filename inpath "/tmp/out" then permit\n', '  renameat2: permit\n'), /renameat2 \(linux\) is performed by the kernel/);
  t.match(why(pub, '    - filename re "^/tmp/" then permit\n'), /renames \(linux\): .*not a file or tree/);
  // Found in the next review: an i386 rename (int 0x80, open to any
  // program) is the linux32 policy's to decide, and counts as much.
  const linux = policy(text(pub, '    - filename inpath "/tmp/out" then permit\n'));
  const i386 = (fswrite: string, head = 'default: deny'): Policy => policy(`emulation: linux32\n${head}\nrules:\n  fswrite:\n${fswrite}`, 'c32.yaml');
  const opts: CompileOptions = { ...enforcing, reportDefaultDenials: true, landlockAbi: 7 };
  t.match(compile([linux, i386('    - filename inpath "/srv" then permit\n')], opts).landlockWhy, /could move \/srv\/pub, and the Landlock rule/);
  t.match(compile([linux, i386('    - filename re "^/srv" then permit\n')], opts).landlockWhy, /renames \(linux32\): .*not a file or tree/);
  t.match(compile([linux, i386('    - filename inpath "/tmp/out" then permit\n', 'default: permit')], opts).landlockWhy, /renames \(linux32\): the default may permit/);
  t.ok(compile([linux, i386('    - filename inpath "/tmp/out" then permit\n')], opts).landlock, 'an i386 policy that moves nothing above a rule is fine');
  // A rule on one file (eq) follows it under every hard link.
  const eqRead = '    - filename eq "/srv/pub/conf" then permit\n';
  t.match(why(eqRead, '    - filename inpath "/tmp/out" then permit\n', '  link:\n    - filename eq "/srv/pub/conf" then permit\n'),
    /link \(linux\) has rules of its own: a file linked to another name/);
  t.equal(why(pub, '    - filename inpath "/tmp/out" then permit\n', '  link:\n    - filename inpath "/srv" then permit\n'), undefined,
    'a tree rule goes by the path walked: a link elsewhere reaches nothing');
});

t.test('landlock: TCP ports go to Landlock when bind and connect permit whole ports and every socket is TCP', async t => {
  const opts: CompileOptions = { ...enforcing, reportDefaultDenials: true, landlockAbi: 7 };
  const TCP4 = 'sockdom eq "AF_INET" and socktype eq "SOCK_STREAM" and (sockproto eq "0" or sockproto eq "IPPROTO_TCP")';
  const TCP6 = TCP4.replace('AF_INET"', 'AF_INET6"');
  const text = (o: { socket?: string; connect?: string; bind?: string; extra?: string; head?: string } = {}): string => `landlock: true
${o.head ?? ''}default: deny
rules:
  fsread: permit
  socket:
${o.socket ?? `    - ${TCP4} then permit\n    - ${TCP6} then permit`}
  connect:
${o.connect ?? '    - sockaddr match "inet-*:443" or sockaddr match "inet6-*:443" then permit\n    - sockaddr match "inet-*:80" or sockaddr match "inet6-*:80" then permit'}
  bind:
${o.bind ?? '    - sockaddr match "inet-*:8080" or sockaddr match "inet6-*:8080" then permit'}
${o.extra ?? ''}`;
  const good = plan(text(), opts);
  t.same(good.landlock?.net?.calls, ['bind', 'connect'], `both calls (${good.landlockNetWhy})`);
  t.same(good.landlock?.net?.ports.map(p => [p.port, p.access]), [[80, 2n], [443, 2n], [8080, 1n]], 'one rule per port, with the rights each call gives');
  t.equal(good.landlock?.net?.handled, 3n, 'BIND_TCP and CONNECT_TCP handled');
  t.equal(good.landlock?.handled, 0n, 'no file right: reads stay with the policy');
  t.equal(good.landlock?.calls.length, 0);
  for (const name of ['bind', 'connect']) {
    t.equal(where(place(good, name)), 'kernel ALLOW', `${name} in the kernel`);
    t.match(place(good, name).why, /TCP ports checked by Landlock/);
    t.equal(actionName(kernelDoes(good, 'linux', name, args6(3n))), 'ALLOW');
  }
  const sends = plan(text({ extra: '  sendto: permit\n' }), opts);
  t.equal(actionName(kernelDoes(sends, 'linux', 'sendto', args6(3n, 0n, 1n, 0x20000000n))), 'ERRNO(EPERM)', 'a fast open stays denied: Landlock does not check it');
  t.equal(actionName(kernelDoes(good, 'linux', 'sendto', args6(3n, 0n, 1n, 0x20000000n))), 'NOTIFY', 'a send the policy denies anyway is denied, and reported, by the supervisor');
  // First match wins, as in the engine: a denial before a permit of the same port.
  const denied = plan(text({ connect: '    - sockaddr match "inet-*:22" or sockaddr match "inet6-*:22" then deny\n    - sockaddr match "inet-*:22" or sockaddr match "inet6-*:22" or sockaddr match "inet-*:80" or sockaddr match "inet6-*:80" then permit' }), opts);
  t.same(denied.landlock?.net?.ports.filter(p => p.access & 2n).map(p => p.port), [80], 'port 22 denied first');
  // Only IPv4 sockets: the inet6 rules do not matter.
  const v4 = plan(text({ socket: `    - ${TCP4} then permit`, connect: '    - sockaddr match "inet-*:80" then permit' }), opts);
  t.same(v4.landlock?.net?.ports.map(p => p.port), [80, 8080], 'AF_INET alone: inet ports');
  // One call can go while the other stays notified.
  const half = plan(text({ bind: '    - sockaddr eq "inet-[127.0.0.1]:8080" then permit' }), opts);
  t.same(half.landlock?.net?.calls, ['connect']);
  t.equal(where(place(half, 'bind')), 'user');
  t.match(half.landlockNetWhy, /bind: .*not a port Landlock can express/);

  const why = (o: Parameters<typeof text>[0], abi = 7): string | undefined => {
    const p = plan(text(o), { ...opts, landlockAbi: abi });
    return p.landlock?.net ? `used for ${p.landlock.net.calls.join(', ')}` : p.landlockNetWhy;
  };
  const cases: [string, Parameters<typeof text>[0], RegExp, number?][] = [
    ['ABI 3', {}, /ABI is 3; 4 is needed/, 3],
    ['any stream socket', { socket: '    - socktype eq "SOCK_STREAM" then permit' }, /may not be TCP/],
    ['no protocol named (MPTCP, SCTP)', { socket: '    - sockdom eq "AF_INET" and socktype eq "SOCK_STREAM" then permit' }, /may not be TCP.*sockproto/],
    ['UDP', { socket: `    - ${TCP4} then permit\n    - sockdom eq "AF_INET" and socktype eq "SOCK_DGRAM" then permit` }, /may not be TCP/],
    ['every socket', { socket: '    - true then permit' }, /every kind of socket/],
    ['socketpair', { extra: '  socketpair: permit\n' }, /socketpair .*unix socket/],
    ['pidfd_getfd', { extra: '  pidfd_getfd: permit\n' }, /pidfd_getfd .*from elsewhere/],
    ['an address', { connect: '    - sockaddr eq "inet-[10.0.0.1]:80" then permit', bind: '    - sockaddr eq "inet-[0.0.0.0]:80" then permit' }, /not a port Landlock can express/],
    ['a denial then everything else', { connect: '    - sockaddr match "inet-*:25" then deny\n    - true then permit', bind: '    - sockaddr eq "x" then permit' }, /every other connect is permitted/],
    ['inet and inet6 differ', { connect: '    - sockaddr match "inet-*:80" then permit', bind: '    - sockaddr eq "x" then permit' }, /differ between inet and inet6/],
    ['a leading zero is no port the printing gives', { connect: '    - sockaddr match "inet-*:080" or sockaddr match "inet6-*:080" then permit', bind: '    - sockaddr eq "x" then permit' }, /not a port/],
    ['ask', { connect: '    - sockaddr match "inet-*:80" or sockaddr match "inet6-*:80" then ask', bind: '    - sockaddr eq "x" then permit' }, /./],
    ['elevate', { bind: '    - sockaddr match "inet-*:80" or sockaddr match "inet6-*:80" then permit as root', connect: '    - sockaddr eq "x" then permit' }, /asks, logs, elevates or rewrites/],
  ];
  for (const [label, o, want, abi] of cases) t.match(why(o, abi), want, label);
  // Under -a, ask is deny: the permits alone go.
  const asked = plan(text({ connect: '    - sockaddr match "inet-*:80" or sockaddr match "inet6-*:80" then ask' }), opts).landlock?.net;
  t.ok(asked?.calls.includes('connect') && !asked.ports.some(p => p.access & 2n), 'an ask rule is a denial: connect handled, no port granted');
  // Learning, --kill-on-violation, and a run that inherits a unix socket keep them notified.
  t.notOk(plan(text(), { ...opts, notifyAll: true }).landlock?.net, 'learning');
  t.notOk(plan(text(), { ...opts, landlockOff: 'off' }).landlock?.net, 'landlock off');
  t.equal(plan(text(), { ...opts, landlockNetOff: 'fd 1 is a unix socket' }).landlockNetWhy, 'fd 1 is a unix socket');
  // Calls already decided in the kernel need no ruleset.
  const outright = plan(text({ connect: '    - true then permit', bind: '    - true then deny' }), opts);
  t.notOk(outright.landlock?.net, 'nothing to do');
  t.notOk(outright.landlockNetWhy);
  // Review: a default that asks may be answered with a permit of socketpair.
  const asks = plan(text({ head: '', socket: `    - ${TCP4} then permit\n    - true then deny`, connect: '    - sockaddr match "inet-*:80" or sockaddr match "inet6-*:80" then permit\n    - true then deny', bind: '    - true then deny' }).replace('default: deny', 'default: ask'), { ...interactive, landlockAbi: 7, reportDefaultDenials: true });
  t.match(asks.landlockNetWhy, /socketpair \(linux\) may be permitted/, 'an asking default: socketpair may be permitted');
  // Review: ports permitted only for inet6 are no grant when only AF_INET sockets exist.
  const v4only = plan(text({ socket: `    - ${TCP4} then permit`, connect: '    - sockaddr match "inet-*:5432" then permit\n    - sockaddr match "inet6-*:7777" then permit' }), opts);
  t.same(v4only.landlock?.net?.ports.filter(p => p.access & 2n).map(p => p.port), [5432], 'inet6-only port 7777 is not granted');
  // Review: an inherited AF_INET6 TCP socket takes IPv4 addresses too.
  const inherited = plan(text({ socket: `    - ${TCP4} then permit`, connect: '    - sockaddr match "inet-*:7777" then permit' }), { ...opts, inheritedTcp: ['inet6'] });
  t.match(inherited.landlockNetWhy, /connect: the ports differ between inet and inet6/, 'inherited IPv6 socket: the families must agree');
  // An i386 policy that permits a port the linux one does not.
  const linux = policy(text());
  const i386 = policy(`emulation: linux32\ndefault: deny\nrules:\n  socket:\n    - ${TCP4} then permit\n  connect: sockaddr match "inet-*:25" then permit\n`, 'i.yaml');
  const both = compile([linux, i386], opts);
  t.match(both.landlockNetWhy, /connect \(linux32\) permits port 25/, 'linux32 wider than the ruleset');
  t.same(both.landlock?.net?.calls, ['bind'], 'bind still goes');
});

t.test('landlock: the policy says true or false', async t => {
  t.throws(() => policy('default: deny\nlandlock: yes please\nrules: {}\n'), /'landlock' is true or false/);
  t.equal(policy('default: deny\nlandlock: false\nrules: {}\n').landlock, false);
});

t.test('landlock: literals that name nothing in the engine grant nothing in Landlock', async t => {
  const opts: CompileOptions = { ...enforcing, reportDefaultDenials: true, landlockAbi: 7 };
  const rulesOf = (fsread: string, envOver: Partial<typeof env> = {}): string[] | string => {
    const p = parsePolicy(`default: deny\nlandlock: true\nrules:\n  fsread:\n    - ${fsread}\n    - filename inpath "/usr" then permit\n`, 'c.yaml', { ...env, ...envOver });
    const pl = compile([p], opts);
    return pl.landlock ? pl.landlock.rules.filter(r => r.access !== 1n << 13n).map(r => `${r.kind} ${r.path}`) : `not used: ${pl.landlockWhy}`;
  };
  t.same(rulesOf('filename inpath "//" then permit'), ['tree /usr'], 'inpath "//" is under nothing');
  t.same(rulesOf('filename match "//*" then permit'), ['tree /usr'], 'match "//*" matches nothing');
  t.same(rulesOf('filename match "$CWD/*" then permit', { CWD: '/' }), ['tree /usr'], '$CWD = / makes "//*"');
  t.same(rulesOf('filename inpath "$HOME/" then permit', { HOME: '/' }), ['tree /usr'], '$HOME = / makes "//"');
  // YAML's double quotes make \u0000 a real NUL inside the rule's literal.
  t.same(rulesOf('"filename eq \\"/etc/passwd\\u0000.off\\" then permit"'), ['tree /usr'], 'a NUL: the engine never matches it');
  t.same(rulesOf('filename inpath "/srv/" then permit'), ['below /srv', 'tree /usr'], 'inpath "/srv/": under /srv');
  t.match(rulesOf('filename match "/*" then permit'), /not used: .*covers \/proc/, 'everything: /proc too');
  t.match(rulesOf('filename inpath "/proc" then permit'), /not used: the permit of \/proc .*covers \/proc/);
  t.same(rulesOf('filename inpath "/proc/self" then permit'), ['tree /proc/self', 'tree /usr'], '/proc/self alone does not reach other processes');
});

t.test('fast path: stat and readlink with file and tree rules are answered natively when permitted', async t => {
  const text = (rules: string): string => `default: deny\nrules:\n  fsread:\n${rules}`;
  const fast = plan(text('    - filename inpath "/usr" then permit\n    - filename eq "/etc/hosts" then permit\n'), { ...enforcing, reportDefaultDenials: true });
  t.same(fast.fast.map(f => f.op), ['newfstatat', 'stat', 'lstat', 'readlink', 'readlinkat'], 'every stat and readlink call');
  t.same(fast.fast[0]?.reads, [{ path: '/usr', kind: 'tree' }, { path: '/etc/hosts', kind: 'file' }]);
  t.match(place(fast, 'newfstatat').why, /answered in native code/);
  t.same(plan(text('    - filename re "^/usr/" then permit\n'), { ...enforcing, reportDefaultDenials: true }).fast, [], 're alone: the supervisor decides');
  t.same(plan(text('    - filename inpath "/usr" then permit log\n'), { ...enforcing, reportDefaultDenials: true }).fast, [], 'log: every call is reported');
  t.same(plan(text('    - filename inpath "/usr" then permit\n'), { ...enforcing, notifyAll: true }).fast, [], 'learning records every call');
  t.equal(plan(text('    - filename inpath "/usr" then permit\n').replace('default: deny', 'default: ask'), interactive).fast.length, 5, 'default ask: a permitted path is permitted before the default');
  const mixed = plan(text('    - filename re "^/opt/[a-z]+$" then permit\n    - filename inpath "/usr" then permit\n    - filename inpath "/secret" then deny\n'), { ...enforcing, reportDefaultDenials: true });
  t.same(mixed.fast[0]?.reads, [{ path: '/usr', kind: 'tree' }], 'a re permit leaves its own paths to the supervisor, no more');
  t.same(plan(text('    - filename re "^/usr/secret" then deny\n    - filename inpath "/usr" then permit\n'), { ...enforcing, reportDefaultDenials: true }).fast, [], 'a denial it cannot read: off');
  t.same(plan(text('    - filename inpath "/usr" then deny\n    - filename inpath "/usr/lib" then permit\n'), { ...enforcing, reportDefaultDenials: true }).fast, [], 'a denial overlapping a permit: off');
  t.same(plan(text('    - filename inpath "/usr" then ask\n'), interactive).fast, [], 'ask: the user must see the call');
  t.same(plan(text('    - filename inpath "/opt" then permit log\n    - filename inpath "/usr" then permit\n'), { ...enforcing, reportDefaultDenials: true }).fast, [], 'log anywhere: off');
  t.equal(plan(text('    - filename inpath "/usr" then permit\n').replace('default: deny', 'default: ask'), { ...enforcing, reportDefaultDenials: true }).fast.length, 5, 'with -a, ask is deny');
  const own = plan(`default: deny\nrules:\n  newfstatat: permit\n  fsread:\n    - filename inpath "/usr" then permit\n`, { ...enforcing, reportDefaultDenials: true });
  t.notOk(own.fast.some(f => f.op === 'newfstatat'), 'a call decided in the kernel needs no fast path');
});
