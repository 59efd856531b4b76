// Policy -> plan. Pure: no fs, no native code.
//
// The plan has one target per enforcement mechanism: `kernel` (the BPF
// filter spec libseccomp turns into a program) and `userSpace` (the calls
// the supervisor is notified of and decides with the engine). Every call
// whose decision needs no memory of the target is decided in the kernel;
// only calls with pointer-argument rules (or rules the kernel cannot
// express exactly, or `log`/`ask`) are notified.
import type { FilterCompare, FilterRule, FilterSpec, LandlockRule } from '../native.js';
import type { Action, Condition, Emulation, Expr, Policy, Predicate, Rule } from './types.js';
import { ARCH_OF } from './types.js';
import { syscallNames, syscallNumber } from './syscalls.js';
import { aliasMembers, groupMembers, isAlias, isGroup, type Alias } from './aliases.js';
import { INTEGER_TRANSLATORS, MEMORY_TRANSLATORS, UID16_I386, integerArg, argKinds } from './signatures.js';
import { ERRNOS } from './errno-table.js';
import { SIGNALS, ADDRESS_FAMILIES, OPEN_FLAG_BITS, PROT_BITS, SOCKET_TYPES, SOCK_TYPE_MASK, O_ACCMODE, O_CREAT, O_PATH, O_RDWR, O_TRUNC, O_WRONLY, __O_TMPFILE } from './constants.js';
// The engine's own pure pieces, so that the kernel half decides exactly as
// the user-space half would: conditions, and integer arguments as printed.
import { conditionHolds as engineConditionHolds } from '../engine/decide.js';
import { integerTranslatorValue } from '../engine/translate.js';

/** Kernel seccomp return values (linux/seccomp.h). */
export const SECCOMP_RET = {
  KILL_PROCESS: 0x80000000,
  ERRNO: 0x00050000,
  USER_NOTIF: 0x7fc00000,
  ALLOW: 0x7fff0000,
} as const;

const errnoAction = (name: string): number => (SECCOMP_RET.ERRNO | (ERRNOS[name] ?? ERRNOS.EPERM!)) >>> 0;

/**
 * Calls that would escape a per-call view of the program, or change what a
 * path means, are denied unless the policy names them as a system call
 * (a group or `default: permit` is not enough). clone3 gets ENOSYS so that
 * libc falls back to clone, whose namespace flags the kernel can test.
 */
export const DENIED_UNLESS_NAMED: Readonly<Record<string, string>> = {
  io_uring_setup: 'EPERM', io_uring_enter: 'EPERM', io_uring_register: 'EPERM',
  ptrace: 'EPERM', process_vm_writev: 'EPERM', process_madvise: 'EPERM',
  unshare: 'EPERM', setns: 'EPERM', clone3: 'ENOSYS',
  mount: 'EPERM', umount: 'EPERM', umount2: 'EPERM', pivot_root: 'EPERM', chroot: 'EPERM',
  open_tree: 'EPERM', open_tree_attr: 'EPERM', move_mount: 'EPERM', fsopen: 'EPERM', fsmount: 'EPERM',
  fspick: 'EPERM', fsconfig: 'EPERM', mount_setattr: 'EPERM',
  bpf: 'EPERM', userfaultfd: 'EPERM', kexec_load: 'EPERM', kexec_file_load: 'EPERM',
};

/** Calls whose alias depends on their open flags (aliases.ts: aliasOf). */
const OPEN_FAMILY = ['open', 'openat', 'openat2'];

/** Always permitted: a program that cannot exit cannot be stopped cleanly. */
const ALWAYS_PERMITTED = ['exit', 'exit_group'];

const AT_EMPTY_PATH = 0x1000n;

/**
 * fast-fstat: which argument holds the flags of a call that, with
 * AT_EMPTY_PATH alone, is an fstat of its fd; only when the policy
 * permits fstat itself in the kernel.
 */
function fastFstatArg(emu: Emulation, name: string, calls: Map<string, Placement>): number | undefined {
  if (emu !== 'linux') return undefined;
  const fstat = calls.get('fstat');
  if (fstat?.target !== 'kernel' || fstat.rules || fstat.action !== SECCOMP_RET.ALLOW) return undefined;
  if (name === 'newfstatat') return 3;
  if (name === 'statx') return 2;
  return undefined;
}

/** clone's namespace flags: a new user or mount namespace changes what paths mean. */
const CLONE_NEWNS = 0x00020000n;
const CLONE_NEWUSER = 0x10000000n;
const CLONE_VM = 0x100n;
const CLONE_VFORK = 0x4000n;
const CLONE_PARENT = 0x8000n;
const CLONE_THREAD = 0x10000n;
/** seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER): a listener of its own. */
const SECCOMP_FILTER_FLAG_NEW_LISTENER = 8n;

export interface CompileOptions {
  /** -a: `ask` becomes deny. Without it `ask` is decided in user space. */
  enforce: boolean;
  /** -u turns aliases off. */
  aliases: boolean;
  /**
   * Send calls that fall to a `deny` default to user space, so that each
   * denial is reported (Systrace logged every one). Costs a notification
   * per denied call only; `run` sets it.
   */
  reportDefaultDenials?: boolean;
  /** Learning: every call but exit is notified, so that each can be recorded. */
  notifyAll?: boolean;
  /**
   * Who runs the program: rules with `, if user = ...` are settled here.
   * Without uid and gid a condition on a number, or an ordering, cannot be
   * settled (the engine compares ids): such calls are decided in user space.
   */
  user: { name: string; groups: string[]; uid?: number; gid?: number };
  /**
   * The running kernel's Landlock ABI (0: none). A policy with
   * `landlock: true` uses it only from LANDLOCK_MIN_ABI on.
   */
  landlockAbi?: number;
  /** Why this run must not use Landlock even where a policy asks (--kill-on-violation). */
  landlockOff?: string;
  /** Why this run must not let Landlock decide ports (a socket the program inherits that Landlock would not check). */
  landlockNetOff?: string;
  /** The families of the TCP sockets the program inherits: they can bind and connect whatever socket() permits. */
  inheritedTcp?: ('inet' | 'inet6')[];
}

/** Where a call is decided, and how. */
export type Placement =
  | { target: 'kernel'; action: number; why: string; rules?: FilterRule[] }
  | { target: 'user'; why: string };

export interface ArchPlan {
  emulation: Emulation;
  /** Keyed by system call name; every call of the emulation's table. */
  calls: Map<string, Placement>;
  /** Numbers the supervisor is notified of. */
  notified: Set<number>;
  /** connect is restricted: a send with MSG_FASTOPEN (which connects) is refused (guardFastOpen). */
  fastOpenRefused?: boolean;
  /** i386 sends the kernel would carry out, notified only for that flag: the supervisor lets the rest through. */
  fastOpenNotified?: Set<string>;
}

export interface Plan {
  filter: FilterSpec;
  arches: ArchPlan[];
  /** The Landlock ruleset the exec helper installs, when the policy asks for one and it can be exact. */
  landlock?: LandlockPlan;
  /** Why a policy that asked for Landlock does not get it for files (its opens stay notified). */
  landlockWhy?: string;
  /** Why bind or connect, restricted by the policy, stays notified under `landlock: true`. */
  landlockNetWhy?: string;
  /** Notified calls the listener answers in native code when the policy permits their path (fastPlan). */
  fast: FastCall[];
}

/** A notified call whose permits are files and trees: native code answers those (native/notify.cc). */
export interface FastCall {
  name: string;
  nr: number;
  op: 'newfstatat' | 'stat' | 'lstat' | 'readlink' | 'readlinkat';
  reads: { path: string; kind: LandlockRule['kind'] }[];
}

/** The rules that apply to `name`, in decision order: its own (in file order), then its alias's. */
export interface CallRules {
  own: Rule[];
  aliases: { alias: Alias; rules: Rule[] }[];
}

export function rulesForCall(policy: Policy, name: string, useAliases: boolean): CallRules {
  return ruleIndex(policy, useAliases).get(name) ?? { own: [], aliases: [] };
}

/**
 * Every call's rules, from one pass over the policy's keys (compile asks
 * for each of some 900 calls; a pass over the keys per call, expanding
 * groups and aliases each time, took 7 ms of every run's start). Kept per
 * rules map: a policy's rules are not changed once parsed (an edit makes
 * a new policy).
 */
const ruleIndexes = new WeakMap<Policy['rules'], Map<boolean, Map<string, CallRules>>>();

function ruleIndex(policy: Policy, useAliases: boolean): Map<string, CallRules> {
  let byFlag = ruleIndexes.get(policy.rules);
  if (!byFlag) ruleIndexes.set(policy.rules, byFlag = new Map());
  const known = byFlag.get(useAliases);
  if (known) return known;
  const index = new Map<string, CallRules>();
  const entry = (name: string): CallRules => {
    let cr = index.get(name);
    if (!cr) index.set(name, cr = { own: [], aliases: [] });
    return cr;
  };
  for (const [key, rules] of policy.rules) {
    if (isGroup(key)) {
      for (const name of new Set(groupMembers(policy.emulation, key) ?? [])) entry(name).own.push(...rules);
    } else if (isAlias(key)) {
      if (!useAliases) continue;
      for (const name of new Set(aliasMembers(policy.emulation, key))) {
        const cr = entry(name);
        const mine = cr.aliases.find(a => a.alias === key);
        if (mine) mine.rules.push(...rules);
        else cr.aliases.push({ alias: key, rules: [...rules] });
      }
    } else {
      entry(key).own.push(...rules);
    }
  }
  byFlag.set(useAliases, index);
  return index;
}

/** As the engine decides it (decide.ts), or undefined when it cannot be known here. */
function conditionHolds(c: Condition, user: CompileOptions['user']): boolean | undefined {
  const { uid, gid } = user;
  if (uid !== undefined && gid !== undefined) return engineConditionHolds(c, { ...user, uid, gid });
  // Names only: the engine also matches (and orders) uid / gid numbers.
  if ((c.op !== '=' && c.op !== '!=') || /^\d+$/.test(c.value)) return undefined;
  const subjects = c.subject === 'user' ? [user.name] : user.groups;
  return c.op === '=' ? subjects.includes(c.value) : !subjects.includes(c.value);
}

/** A rule's action once the run mode is known. */
function effective(action: Action, enforce: boolean): Action {
  if (enforce && action.verdict.kind === 'ask') return { ...action, verdict: { kind: 'deny', errno: 'EPERM' } };
  return action;
}

function kernelAction(action: Action): number | undefined {
  if (action.log || action.asUser || action.rewrite) return undefined;
  switch (action.verdict.kind) {
    case 'permit':
      return SECCOMP_RET.ALLOW;
    case 'deny':
      return errnoAction(action.verdict.errno);
    case 'kill':
      return SECCOMP_RET.KILL_PROCESS;
    case 'ask':
      return undefined;
  }
}

function usesMemory(e: Expr): boolean {
  switch (e.kind) {
    case 'true':
      return false;
    case 'and':
    case 'or':
      return usesMemory(e.left) || usesMemory(e.right);
    case 'not':
      return usesMemory(e.expr);
    case 'pred':
      return MEMORY_TRANSLATORS.includes(e.translator);
  }
}

/** Arguments of these kinds are C ints: the kernel reads only their low 32 bits. */
const INT32_KINDS = new Set(['fd', 'dirfd', 'oflags', 'mode', 'uid', 'gid', 'signal', 'prot', 'sockdom', 'socktype', 'sockproto', 'pid', 'int', 'cmd', 'whence', 'atflags']);

type Literal = { cmp: FilterCompare; negated?: FilterCompare };

/** A predicate as one kernel comparison, or undefined when the kernel cannot test it exactly. */
function predicateCompare(emu: Emulation, call: string, p: Predicate): Literal | undefined {
  if (!Object.hasOwn(INTEGER_TRANSLATORS, p.translator)) return undefined;
  const arg = integerArg(emu, call, p.translator, p.index);
  if (arg === undefined) return undefined;
  const kind = argKinds(emu, call)?.[arg];
  // Only the low 32 bits of an int argument count: compare exactly those,
  // so that garbage in the upper half cannot slip past an `eq`.
  if (!kind || !INT32_KINDS.has(kind)) return undefined;
  if (p.op === 'eq') {
    // The engine compares the argument as printed (translate.ts). The test is
    // exact when the mask holds exactly the bits the printing reads and the
    // literal is the printing of the value: `mode eq "644"`, `pid eq "07"`
    // or `signame eq "9"` never match there, so they must not here. oflags
    // printing drops O_LARGEFILE and folds bits: never exact.
    if (p.translator === 'oflags') return undefined;
    const mask =
      p.translator === 'socktype' ? SOCK_TYPE_MASK
      : emu === 'linux32' && UID16_I386.has(call) && (kind === 'uid' || kind === 'gid') ? 0xffffn
      : 0xffffffffn;
    const v = integerValue(p.translator, p.value);
    if (v === undefined) return undefined;
    const args = [0n, 0n, 0n, 0n, 0n, 0n];
    args[arg] = v & mask;
    if (integerTranslatorValue(emu, call, p.translator, p.index, args) !== p.value) return undefined;
    return { cmp: { arg, op: 'masked_eq', a: mask, b: v & mask } };
  }
  if (p.op === 'sub' || p.op === 'nsub') {
    // A single flag name: `oflags sub "O_CREAT"` is the bit being set.
    // The engine tests the printed text, so names printed other than by
    // their bit alone are left to it: O_DSYNC is hidden under O_SYNC,
    // O_DIRECTORY under O_TMPFILE, and "O_DIRECT" is in "O_DIRECTORY".
    if (p.translator === 'oflags' && INEXACT_FLAG_NAMES.has(p.value)) return undefined;
    const bit = flagBit(p.translator, p.value);
    if (bit === undefined) return undefined;
    const set: FilterCompare = { arg, op: 'masked_eq', a: bit, b: bit };
    const clear: FilterCompare = { arg, op: 'masked_eq', a: bit, b: 0n };
    return p.op === 'sub' ? { cmp: set, negated: clear } : { cmp: clear, negated: set };
  }
  return undefined;
}

const INEXACT_FLAG_NAMES = new Set(['O_DSYNC', 'O_DIRECTORY', 'O_DIRECT']);

/** The value a literal names; predicateCompare checks that it prints back as the literal. */
function integerValue(translator: string, text: string): bigint | undefined {
  // Modes are octal ("0644"): read as decimal they would be another mode.
  if (translator === 'mode') return /^0[0-7]+$/.test(text) ? BigInt(`0o${text}`) : undefined;
  if (/^-?\d+$/.test(text)) return BigInt.asUintN(64, BigInt(text));
  if (translator === 'socktype') {
    const n = Object.entries(SOCKET_TYPES).find(([, name]) => name === text)?.[0];
    return n === undefined ? undefined : BigInt(n);
  }
  if (translator === 'signame') {
    const i = SIGNALS.indexOf(text);
    return i > 0 ? BigInt(i) : undefined;
  }
  if (translator === 'sockdom') {
    const i = ADDRESS_FAMILIES.indexOf(text);
    return i >= 0 ? BigInt(i) : undefined;
  }
  return undefined;
}

function flagBit(translator: string, name: string): bigint | undefined {
  const table = translator === 'oflags' ? OPEN_FLAG_BITS : translator === 'prot' ? PROT_BITS : undefined;
  const bit = table?.find(([n]) => n === name)?.[1];
  // Only true single bits: O_RDONLY is 0 and O_ACCMODE values are not flags.
  return bit !== undefined && bit !== 0n && (bit & (bit - 1n)) === 0n ? bit : undefined;
}

const MAX_TERMS = 16;

/**
 * An expression as a disjunction of conjunctions of kernel comparisons
 * (negation pushed to the leaves), or undefined if it has no exact form.
 */
function toDnf(emu: Emulation, call: string, e: Expr, negate: boolean): FilterCompare[][] | undefined {
  switch (e.kind) {
    case 'true':
      return negate ? [] : [[]];
    case 'not':
      return toDnf(emu, call, e.expr, !negate);
    case 'and':
    case 'or': {
      const l = toDnf(emu, call, e.left, negate);
      const r = toDnf(emu, call, e.right, negate);
      if (!l || !r) return undefined;
      const conj = (e.kind === 'and') !== negate;
      if (!conj) return l.length + r.length > MAX_TERMS ? undefined : [...l, ...r];
      const out: FilterCompare[][] = [];
      for (const a of l) for (const b of r) out.push([...a, ...b]);
      return out.length > MAX_TERMS ? undefined : out;
    }
    case 'pred': {
      const lit = predicateCompare(emu, call, e);
      if (!lit) return undefined;
      if (!negate) return [[lit.cmp]];
      return lit.negated ? [[lit.negated]] : undefined;
    }
  }
}

/**
 * Place one call. `fallback` is what happens when none of its rules match
 * (the alias cannot apply: see below), as a kernel action.
 */
function placeCall(
  emu: Emulation,
  name: string,
  nr: number,
  cr: CallRules,
  policy: Policy,
  opts: CompileOptions,
  defaultAction: number,
  filterDefault: number,
): Placement {
  if (ALWAYS_PERMITTED.includes(name)) return { target: 'kernel', action: SECCOMP_RET.ALLOW, why: 'always permitted' };
  const namedDirectly = policy.rules.has(name);
  const escape = DENIED_UNLESS_NAMED[name];
  if (escape && !namedDirectly) {
    return { target: 'kernel', action: errnoAction(escape), why: 'escapes the filter: denied unless named' };
  }
  const applies = (r: Rule): boolean | undefined => !r.condition || conditionHolds(r.condition, opts.user);
  if ([...cr.own, ...cr.aliases.flatMap(a => a.rules)].some(r => applies(r) === undefined)) {
    return { target: 'user', why: 'a condition on the user is known only at run time' };
  }
  const rules = cr.own.filter(r => applies(r));
  const firstOwnTrue = rules.findIndex(r => r.expr.kind === 'true');
  // An unconditional rule of the call's own ends the list: its alias is never consulted.
  const aliasRules = firstOwnTrue >= 0 ? [] : cr.aliases.flatMap(a => a.rules).filter(r => applies(r));
  const all = [...rules, ...aliasRules];
  if (all.some(r => usesMemory(r.expr))) return { target: 'user', why: 'rules read the program\'s memory' };
  if (all.some(r => kernelAction(effective(r.action, opts.enforce)) === undefined)) {
    return { target: 'user', why: 'rules ask, log, elevate or rewrite' };
  }
  // The open family is fsread or fswrite depending on its flags (openat2's
  // are in memory): alias rules apply to some of its calls only, so they
  // cannot be compiled as if they applied to all (`fsread: permit` would
  // permit openat(O_WRONLY) in the kernel).
  if (aliasRules.length > 0 && (cr.aliases.length > 1 || OPEN_FAMILY.includes(name))) {
    // Unless every alias the call may fall under settles it the same way
    // unconditionally (`fsread: permit` and `fswrite: permit`): then the
    // flags do not matter.
    if (rules.length === 0 && opts.aliases) {
      const possible: Alias[] = OPEN_FAMILY.includes(name) ? ['fsread', 'fswrite'] : cr.aliases.map(a => a.alias);
      const outcomes = possible.map(alias => {
        const list = (cr.aliases.find(a => a.alias === alias)?.rules ?? []).filter(r => applies(r));
        if (list.length === 0) return defaultAction;
        return list[0]!.expr.kind === 'true' ? kernelAction(effective(list[0]!.action, opts.enforce)) : undefined;
      });
      const first = outcomes[0];
      if (first !== undefined && outcomes.every(o => o === first) && first !== SECCOMP_RET.USER_NOTIF) {
        return { target: 'kernel', action: first, why: `${possible.join(' and ')} agree whatever the flags` };
      }
    }
    return { target: 'user', why: 'fsread or fswrite depending on flags' };
  }
  const ordered = [...rules, ...aliasRules];
  // First match wins: the first unconditional rule ends the list.
  const firstTrue = ordered.findIndex(r => r.expr.kind === 'true');
  const conditional = firstTrue < 0 ? ordered : ordered.slice(0, firstTrue);
  const fallback =
    firstTrue >= 0 ? kernelAction(effective(ordered[firstTrue]!.action, opts.enforce))! : defaultAction;
  if (conditional.length === 0) {
    return { target: 'kernel', action: fallback, why: firstTrue >= 0 ? `rule ${ordered[firstTrue]!.pos.line}` : 'default' };
  }
  // Conditional integer rules: exact in the kernel when they all lead to one
  // action, taken on any match, and the fallback is the filter's default
  // (libseccomp has no "otherwise" per call but the default).
  const actions = new Set(conditional.map(r => kernelAction(effective(r.action, opts.enforce))));
  if (actions.size !== 1) return { target: 'user', why: 'integer rules with different actions' };
  const action = [...actions][0]!;
  if (action === fallback) return { target: 'kernel', action, why: 'every rule agrees' };
  if (fallback !== filterDefault) return { target: 'user', why: 'integer rules over a fallback that is not the default' };
  const filterRules: FilterRule[] = [];
  for (const r of conditional) {
    const dnf = toDnf(emu, name, r.expr, false);
    if (!dnf) return { target: 'user', why: `rule ${r.pos.line} has no exact kernel form` };
    for (const conj of dnf) {
      const args = new Set(conj.map(c => c.arg));
      if (args.size !== conj.length) return { target: 'user', why: `rule ${r.pos.line} tests one argument twice` };
      filterRules.push({ nr, action, cmps: conj });
    }
  }
  return { target: 'kernel', action: fallback, why: 'integer rules', rules: filterRules };

}

/** Landlock's filesystem rights (linux/landlock.h). */
export const LANDLOCK_ACCESS = {
  WRITE_FILE: 1n << 1n, READ_FILE: 1n << 2n, READ_DIR: 1n << 3n, MAKE_REG: 1n << 8n, REFER: 1n << 13n,
  /** ABI 3 (Linux 6.2). */
  TRUNCATE: 1n << 14n,
} as const;

/** What a write open needs: to write, to truncate (O_TRUNC), to create a regular file (O_CREAT). */
const LANDLOCK_WRITE = LANDLOCK_ACCESS.WRITE_FILE | LANDLOCK_ACCESS.TRUNCATE | LANDLOCK_ACCESS.MAKE_REG;

/** TRUNCATE, which a ruleset handling write opens must handle too (else O_TRUNC would go unchecked). */
const LANDLOCK_WRITE_MIN_ABI = 3;

/**
 * ABI 2 (Linux 5.19). Under ABI 1 any ruleset forbids renaming or linking
 * a file into another directory; from 2 on that is the REFER right, which
 * the ruleset grants everywhere (the kernel still refuses a move that
 * would make a file readable that was not).
 */
const LANDLOCK_MIN_ABI = 2;

/** Flags that make an open other than fsread's plain read (aliases.ts: openFlagsAlias), and O_PATH, which Landlock does not check. */
const NOT_A_READ = O_ACCMODE | O_CREAT | O_TRUNC | __O_TMPFILE | O_PATH;

/** The open calls whose read-only opens can go to Landlock, and where their flags are. */
const LANDLOCK_OPEN_FLAGS: Readonly<Record<string, number>> = { open: 1, openat: 2 };

export interface LandlockPlan {
  /** The rights the ruleset handles: reading files and directories, and REFER; with `writes`, writing, truncating and creating files. */
  handled: bigint;
  /** One rule per file or tree the policy permits reading (or writing), each with the rule that says so. */
  rules: (LandlockRule & { source: string })[];
  /** The calls whose read-only opens are decided in the kernel, by Landlock. */
  calls: string[];
  /** Their opens for writing (O_WRONLY or O_RDWR, without O_PATH or O_TMPFILE) too. */
  writes: boolean;
  /** Why opens for writing stay notified, when they do. */
  writesWhy?: string;
  /** TCP ports: bind and connect decided in the kernel, by Landlock (ABI 4). */
  net?: LandlockNet;
}

export interface LandlockNet {
  /** LANDLOCK_ACCESS_NET_BIND_TCP and/or CONNECT_TCP. */
  handled: bigint;
  /** One rule per port either call may use, each with the rules that say so. */
  ports: { port: number; access: bigint; source: string }[];
  /** The calls the kernel now performs, checked by Landlock. */
  calls: NetCall[];
}

type Read = { path: string; kind: LandlockRule['kind'] };

/**
 * A path as the engine sees filenames: absolute, with no empty, `.` or `..`
 * component, and no NUL (the kernel would stop reading there; a C string
 * of it names another file).
 */
function canonical(p: string): boolean {
  if (p.includes('\0')) return false;
  return p === '/' || (p.startsWith('/') && !p.endsWith('/') && !p.split('/').slice(1).some(c => c === '' || c === '.' || c === '..'));
}

const GLOB_SPECIAL = /[*?[\\]/;

/**
 * What a rule's expression names, as files and trees, or undefined when
 * Landlock cannot say the same. The engine matches canonical paths only,
 * so a literal that is not canonical names nothing.
 */
function readsOf(e: Expr): Read[] | undefined {
  if (e.kind === 'or') {
    const l = readsOf(e.left);
    const r = readsOf(e.right);
    return l && r ? [...l, ...r] : undefined;
  }
  if (e.kind !== 'pred' || e.translator !== 'filename' || e.index !== 0) return undefined;
  const v = e.value;
  switch (e.op) {
    case 'eq':
      return canonical(v) ? [{ path: v, kind: 'file' }] : [];
    case 'inpath': {
      // engine/decide.ts inPath: "/usr/" is what is under /usr, not /usr;
      // "//" (say `inpath "$HOME/"` with HOME=/) is under nothing.
      if (v.length <= 1 || !v.endsWith('/')) return canonical(v) ? [{ path: v, kind: 'tree' }] : [];
      const dir = v.slice(0, -1);
      return dir !== '/' && canonical(dir) ? [{ path: dir, kind: 'below' }] : [];
    }
    case 'match': {
      if (!GLOB_SPECIAL.test(v)) return canonical(v) ? [{ path: v, kind: 'file' }] : [];
      // "D/*": `*` matches '/' too (glob.ts), so everything under D; "/*"
      // is everything. "//*" (say `match "$CWD/*"` run from /) matches
      // nothing: no resolved path starts with "//".
      if (v === '/*') return [{ path: '/', kind: 'below' }];
      if (!v.endsWith('/*')) return undefined;
      const dir = v.slice(0, -2);
      if (GLOB_SPECIAL.test(dir)) return undefined;
      return dir !== '/' && canonical(dir) ? [{ path: dir, kind: 'below' }] : [];
    }
    default:
      return undefined;
  }
}

/**
 * The stat family and readlink: the listener answers a call whose
 * normalised path one of fastReads' files or trees covers in native code,
 * exactly as the supervisor would (no report is due for a plain permit);
 * anything else still reaches JS. No trade-off: the same normalisation,
 * the same operation, on strings rather than inodes.
 */
function fastPlan(policy: Policy | undefined, calls: Map<string, Placement>, opts: CompileOptions): FastCall[] {
  if (!policy || policy.emulation !== 'linux' || opts.notifyAll) return [];
  const out: FastCall[] = [];
  for (const op of ['newfstatat', 'stat', 'lstat', 'readlink', 'readlinkat'] as const) {
    const nr = syscallNumber('linux', op);
    if (nr === undefined || calls.get(op)?.target !== 'user') continue;
    const reads = fastReads(policy, op, opts);
    if (!reads || reads.length === 0) continue;
    out.push({ name: op, nr, op, reads: reads.map(x => ({ path: x.path, kind: x.kind })) });
    calls.set(op, { ...calls.get(op)!, why: `${calls.get(op)!.why}; permitted paths answered in native code` });
  }
  return out;
}

/** Whether a read names path `p` (a resolved path). */
export function covers(r: Pick<LandlockRule, 'path' | 'kind'>, p: string): boolean {
  const under = r.path === '/' ? p !== '/' : p.startsWith(`${r.path}/`);
  return r.kind === 'file' ? p === r.path : r.kind === 'tree' ? p === r.path || under : under;
}

/** Whether two reads name a common path (conservatively: the same path counts). */
function overlap(a: Read, b: Read): boolean {
  return a.path === b.path || covers(a, b.path) || covers(b, a.path);
}

/**
 * The rules that decide `name` under `alias` (fsread: its read-only opens;
 * fswrite: the others), in the engine's order (its own, then the alias's),
 * for this user; undefined when a condition on the user is known only at
 * run time.
 */
function aliasRules(policy: Policy, name: string, opts: CompileOptions, alias: Alias = 'fsread'): Rule[] | undefined {
  const cr = rulesForCall(policy, name, opts.aliases);
  const applies = (r: Rule): boolean | undefined => !r.condition || conditionHolds(r.condition, opts.user);
  if ([...cr.own, ...cr.aliases.flatMap(a => a.rules)].some(r => applies(r) === undefined)) return undefined;
  const aliased = opts.aliases ? (cr.aliases.find(a => a.alias === alias)?.rules ?? []) : [];
  return [...cr.own, ...aliased].filter(x => applies(x));
}

/** Where a rule is, and its kernel action, when Landlock can carry it out (a permit or a denial). */
function landlockAction(r: Rule, opts: CompileOptions): { where: string; action: number } | { why: string } {
  const where = `${r.pos.file || 'policy'}:${r.pos.line}`;
  const action = kernelAction(effective(r.action, opts.enforce));
  if (action === undefined) return { why: `${where}: the rule asks, logs, elevates or rewrites` };
  if (action === SECCOMP_RET.KILL_PROCESS) return { why: `${where}: Landlock cannot kill` };
  return { where, action };
}

/** Why the policy's default would grant what no rule decides (Landlock only grants what its rules name). */
function defaultGrants(policy: Policy, opts: CompileOptions): string | undefined {
  if (policy.default === 'permit') return 'the default permits';
  if (policy.default === 'ask' && !opts.enforce) return 'the default asks (run with -a)';
  return undefined;
}

/**
 * The files and trees a call's opens under `alias` are permitted, when its
 * rules (its own, then the alias's) are permits and denials of files and
 * trees over a denying fallback, with no denial inside a permitted tree:
 * then Landlock decides them exactly as the engine would, but for the
 * errno (EACCES) and the report (none).
 */
function landlockReads(policy: Policy, name: string, opts: CompileOptions, alias: Alias = 'fsread'): { reads: (Read & { source: string })[] } | { why: string } {
  const list = aliasRules(policy, name, opts, alias);
  if (!list) return { why: `${name}: a condition on the user is known only at run time` };
  const walked = landlockRules(policy, list, opts, readsOf,
    `every ${alias === 'fsread' ? 'read' : 'write'} is permitted`, 'not a file or tree Landlock can express (eq, inpath, match "DIR/*" on filename)');
  if ('why' in walked) return walked;
  const permits = walked.rules.filter(r => r.permit).flatMap(r => r.items.map(x => ({ ...x, source: r.where })));
  const denies = walked.rules.filter(r => !r.permit).flatMap(r => r.items);
  for (const d of denies) {
    const p = permits.find(x => overlap(x, d));
    if (p) return { why: `${name}: a denial of ${d.path} overlaps the permit of ${p.path} (${p.source}); Landlock only grants` };
  }
  return { reads: permits };
}

/**
 * A call's rules as Landlock reads them, in the engine's order: what each
 * names (files and trees, ports), and whether it permits, up to the first
 * unconditional denial, over a denying default. A why when one is beyond
 * Landlock (`cannot`), or when everything else is permitted (`everything`):
 * Landlock only grants.
 */
function landlockRules<T>(
  policy: Policy, list: Rule[], opts: CompileOptions, readOf: (e: Expr) => T[] | undefined, everything: string, cannot: string,
): { rules: { items: T[]; permit: boolean; where: string }[] } | { why: string } {
  const rules: { items: T[]; permit: boolean; where: string }[] = [];
  let ended = false;
  for (const r of list) {
    const ra = landlockAction(r, opts);
    if ('why' in ra) return ra;
    if (r.expr.kind === 'true') {
      if (ra.action === SECCOMP_RET.ALLOW) return { why: `${ra.where}: ${everything}` };
      ended = true;
      break;
    }
    const items = readOf(r.expr);
    if (!items) return { why: `${ra.where}: ${cannot}` };
    rules.push({ items, permit: ra.action === SECCOMP_RET.ALLOW, where: ra.where });
  }
  const fallback = ended ? undefined : defaultGrants(policy, opts);
  return fallback ? { why: fallback } : { rules };
}

/**
 * The files and trees a call's rules (its own, then fsread's) permit for
 * certain: a path one of them covers is permitted whatever else the policy
 * says, because every other rule that could match first is a plain permit,
 * and every denial is a file or tree that overlaps no permitted one.
 * Permits the fast path cannot read (`re`, other globs) only leave their
 * paths to the supervisor, and the default does not matter: only paths
 * found here are answered natively. undefined when no path is certain
 * (an `ask`, `log`, rewrite or elevation, a denial it cannot read, or a
 * condition known only at run time).
 */
function fastReads(policy: Policy, name: string, opts: CompileOptions): Read[] | undefined {
  const list = aliasRules(policy, name, opts);
  if (!list) return undefined;
  const permits: Read[] = [];
  const denies: Read[] = [];
  for (const r of list) {
    const action = kernelAction(effective(r.action, opts.enforce));
    if (action === undefined) return undefined;
    if (r.expr.kind === 'true') break; // what follows is never reached
    const reads = readsOf(r.expr);
    if (action === SECCOMP_RET.ALLOW) {
      if (reads) permits.push(...reads);
      continue;
    }
    if (!reads) return undefined;
    denies.push(...reads);
  }
  if (denies.some(d => permits.some(x => overlap(x, d)))) return undefined;
  return permits;
}

/** Whether placing `name` permits it outright, in the kernel. */
function permitsOutright(place: Placement | undefined): boolean {
  return place?.target === 'kernel' && !place.rules && place.action === SECCOMP_RET.ALLOW;
}

/** Whether the kernel performs the call for some arguments (outright, or by integer rules). */
function kernelMayPerform(place: Placement | undefined): boolean {
  return place?.target === 'kernel' && (place.rules ? place.rules.some(r => r.action === SECCOMP_RET.ALLOW) : place.action === SECCOMP_RET.ALLOW);
}

/**
 * Whether the policy denies `name` whatever its arguments, without asking
 * anyone: a kernel denial, or a notification only to report the default's
 * denial (not a default that asks, which a user may answer with a permit).
 * A call the emulation lacks counts as denied.
 */
function alwaysDenied(emu: Emulation, p: Policy, name: string, opts: CompileOptions, filterDefault: number): boolean {
  const place = placeFor(emu, p, name, opts, filterDefault);
  if (!place) return true;
  if (place.target !== 'kernel' || place.rules || place.action === SECCOMP_RET.ALLOW) return false;
  return !(place.action === SECCOMP_RET.USER_NOTIF && p.default === 'ask' && !opts.enforce);
}

/** Where `name` is decided under `p`, or undefined when the emulation has no such call. */
function placeFor(emu: Emulation, p: Policy, name: string, opts: CompileOptions, filterDefault: number): Placement | undefined {
  const nr = syscallNumber(emu, name);
  return nr === undefined ? undefined : placeCall(emu, name, nr, rulesForCall(p, name, opts.aliases), p, opts, defaultKernelAction(p, opts), filterDefault);
}

/** Whether two lists name the same files and trees, in any order. */
function sameRegions(a: Read[], b: Read[]): boolean {
  const key = (xs: Read[]): string => JSON.stringify(xs.map(x => [x.path, x.kind]).sort());
  return key(a) === key(b);
}

/** Whether the reads cover all of `region`: a tree or what is below a directory (never one file's name alone). */
function readWhole(reads: Read[], region: Read): boolean {
  return region.kind !== 'file' &&
    reads.some(r => r.kind !== 'file' && (covers(r, region.path) || (region.kind === 'below' && r.kind === 'below' && r.path === region.path)));
}

/** The calls that move a name, and with it whatever Landlock rule its directory holds. */
const RENAME_CALLS = ['rename', 'renameat', 'renameat2'];

/** Calls that create, link or truncate regular files: a ruleset that handles writes decides them too when the kernel performs them. */
const WRITE_CALLS = ['creat', 'link', 'linkat', 'mknod', 'mknodat', 'truncate', 'truncate64', ...RENAME_CALLS];

/**
 * `landlock: true`: read-only opens go to a Landlock ruleset instead of
 * the supervisor, when that is exact. Landlock checks every read open the
 * kernel performs, so no other call may open for reading in the kernel
 * outright (open family of either ABI), and open and openat must agree.
 */
function landlockPlan(byEmu: Map<Emulation, Policy>, opts: CompileOptions, filterDefault: number): LandlockPlan | { why: string } {
  const policy = byEmu.get('linux');
  if (!policy) return { why: 'Landlock is used for linux (x86_64) policies' };
  if (opts.notifyAll) return { why: 'learning records every call' };
  if (opts.landlockOff) return { why: opts.landlockOff };
  const abi = opts.landlockAbi ?? 0;
  if (abi < LANDLOCK_MIN_ABI) return { why: abi === 0 ? 'this kernel has no Landlock' : `this kernel's Landlock ABI is ${abi}; ${LANDLOCK_MIN_ABI} is needed` };
  for (const [emu, p] of byEmu) {
    for (const name of [...OPEN_FAMILY, 'creat']) {
      if (emu === 'linux' && name in LANDLOCK_OPEN_FLAGS) continue;
      if (permitsOutright(placeFor(emu, p, name, opts, filterDefault))) return { why: `${name} (${emu}) is permitted outright; Landlock would restrict it` };
    }
  }
  const calls: string[] = [];
  let reads: (Read & { source: string })[] | undefined;
  for (const name of Object.keys(LANDLOCK_OPEN_FLAGS)) {
    const place = placeFor('linux', policy, name, opts, filterDefault)!;
    if (permitsOutright(place)) return { why: `${name} is permitted outright; Landlock would restrict it` };
    if (place.target === 'kernel' && place.action !== SECCOMP_RET.USER_NOTIF) continue; // never reaches a path
    const r = landlockReads(policy, name, opts);
    if ('why' in r) return r;
    if (reads && !sameRegions(reads, r.reads)) return { why: 'open and openat permit different reads' };
    reads = r.reads;
    calls.push(name);
  }
  if (!reads || calls.length === 0) return { why: 'no open is decided by its path' };
  // The supervisor refuses other processes' /proc/PID/mem whatever the
  // policy says; Landlock lets a sandboxed process read its siblings'.
  const proc = reads.find(r => covers(r, '/proc/1/mem'));
  if (proc) return { why: `the permit of ${proc.path} (${proc.source}) covers /proc, where other processes' memory is refused whatever the policy says; Landlock would let it be read` };
  const moved = renamesKeepMeaning(byEmu, reads, opts, filterDefault);
  if (moved) return { why: moved };
  const { READ_FILE, READ_DIR, REFER } = LANDLOCK_ACCESS;
  const rules = reads.map(x => ({ path: x.path, kind: x.kind, access: READ_FILE | READ_DIR, source: x.source }));
  // REFER is denied wherever a ruleset does not grant it, handled or not.
  rules.push({ path: '/', kind: 'tree', access: REFER, source: 'renames and links across directories' });
  const w = landlockWrites(byEmu, policy, calls, reads, opts, abi, filterDefault);
  if ('why' in w) return { handled: READ_FILE | READ_DIR | REFER, rules, calls, writes: false, writesWhy: w.why };
  rules.push(...w.writes.map(x => ({ path: x.path, kind: x.kind, access: LANDLOCK_WRITE, source: x.source })));
  return { handled: READ_FILE | READ_DIR | REFER | LANDLOCK_WRITE, rules, calls, writes: true };
}

/**
 * Where fswrite may let a rename take a name from or to, as files and
 * trees: every rule that could permit (denials are left out, so this is
 * at least what the policy permits), or why that cannot be told.
 */
function renameRegions(policy: Policy, opts: CompileOptions): { regions: (Read & { source: string })[] } | { why: string } {
  const list = aliasRules(policy, 'rename', opts, 'fswrite');
  if (!list) return { why: 'a condition on the user is known only at run time' };
  const regions: (Read & { source: string })[] = [];
  for (const r of list) {
    const where = `${r.pos.file || 'policy'}:${r.pos.line}`;
    const kind = effective(r.action, opts.enforce).verdict.kind;
    if (kind === 'deny' || kind === 'kill') {
      if (r.expr.kind === 'true') return { regions };
      continue;
    }
    if (r.action.rewrite) return { why: `${where}: a rewrite can rename to anywhere` };
    if (r.expr.kind === 'true') return { why: `${where}: every rename may be permitted` };
    const named = readsOf(r.expr);
    if (!named) return { why: `${where}: not a file or tree (eq, inpath, match "DIR/*" on filename)` };
    regions.push(...named.map(x => ({ ...x, source: where })));
  }
  if (policy.default === 'permit' || (policy.default === 'ask' && !opts.enforce)) return { why: `the default may permit a rename` };
  return { regions };
}

/**
 * Why a rename could make the ruleset say something else than the policy,
 * or undefined when none can. A Landlock rule belongs to a directory (or
 * file), not to its name: renamed, its directory takes the rule along,
 * where the policy matches the new name. So renames must be decided by
 * systrace, by fswrite alone (the rename calls have no rules of their own,
 * and the kernel performs none), and wherever fswrite lets a rule's
 * directory (or one above it) be moved, every place it could be moved to
 * must be readable whole: what a moved read rule grants there, the policy
 * grants too. (A moved write tree lands in another write tree, which
 * landlockWrites makes readable whole as well.)
 */
function renamesKeepMeaning(byEmu: Map<Emulation, Policy>, reads: Read[], opts: CompileOptions, filterDefault: number): string | undefined {
  // A rule on one file (eq) follows it under every hard link too.
  const fileRules = reads.some(r => r.kind === 'file');
  for (const [emu, p] of byEmu) {
    for (const name of [...RENAME_CALLS, ...(fileRules ? ['link', 'linkat'] : [])]) {
      const place = placeFor(emu, p, name, opts, filterDefault);
      if (!place) continue;
      const what = RENAME_CALLS.includes(name) ? 'a renamed directory' : 'a file linked to another name';
      if (kernelMayPerform(place)) return `${name} (${emu}) is performed by the kernel: ${what} would take its Landlock rule along`;
      if (rulesForCall(p, name, opts.aliases).own.length > 0) return `${name} (${emu}) has rules of its own: ${what} would take its Landlock rule along`;
    }
  }
  // Each emulation's policy decides its own renames (an i386 rename of a
  // 64-bit program's directory too): every one of them counts.
  const moves: { regions: (Read & { source: string })[] } = { regions: [] };
  for (const [emu, p] of byEmu) {
    const m = renameRegions(p, opts);
    if ('why' in m) return `renames (${emu}): ${m.why}`;
    moves.regions.push(...m.regions);
  }
  const above = (p: string): string[] => {
    const out = [p];
    for (let q = p; q !== '/'; ) out.push(q = q.slice(0, q.lastIndexOf('/')) || '/');
    return out;
  };
  for (const r of reads) {
    const movable = above(r.path).find(a => moves.regions.some(m => covers(m, a)));
    if (movable === undefined) continue;
    const unread = moves.regions.find(m => !readWhole(reads, m));
    if (unread) return `a permitted rename could move ${movable}, and the Landlock rule of ${r.path} with it, into ${unread.path} (${unread.source}), which the policy does not let be read`;
  }
  return undefined;
}

/**
 * The trees the calls' opens for writing are permitted (fswrite), when
 * Landlock can decide those opens exactly too: trees only (`inpath`,
 * `match "DIR/*"`), for Landlock grants creating a file only in a whole
 * directory, and an `eq` permit names one file to create; each of them
 * readable as a whole (an O_RDWR open is fswrite's alone, and Landlock
 * asks for READ_FILE as well); and the same for every call. A tree that
 * does not exist when the run starts grants nothing, and an `inpath`
 * tree's own path cannot be created as a file (that is a right on its
 * parent): both refuse what the policy would permit, never the reverse.
 * O_RDONLY with O_CREAT or O_TRUNC stays notified: Landlock asks nothing
 * more than a read of an O_CREAT open that creates nothing.
 */
function landlockWrites(
  byEmu: Map<Emulation, Policy>, policy: Policy, calls: string[], reads: Read[], opts: CompileOptions, abi: number, filterDefault: number,
): { writes: (Read & { source: string })[] } | { why: string } {
  if (abi < LANDLOCK_WRITE_MIN_ABI) return { why: `this kernel's Landlock ABI is ${abi}; ${LANDLOCK_WRITE_MIN_ABI} is needed to check O_TRUNC` };
  // The ruleset would decide these too where the kernel performs them
  // (creating, linking, truncating a file outside the trees): only where
  // systrace performs them does the policy alone decide.
  for (const [emu, p] of byEmu) {
    for (const name of [...WRITE_CALLS, ...OPEN_FAMILY]) {
      if (emu === 'linux' && calls.includes(name)) continue;
      const place = placeFor(emu, p, name, opts, filterDefault);
      if (!place) continue;
      if (kernelMayPerform(place)) return { why: `${name} (${emu}) is performed by the kernel; Landlock would refuse it outside the trees` };
      // `inpath FILE` puts the rule on the file itself, which then follows
      // it under every hard link: a link fswrite did not decide could give
      // it a name outside every write tree.
      if ((name === 'link' || name === 'linkat') && rulesForCall(p, name, opts.aliases).own.length > 0) {
        return { why: `${name} (${emu}) has rules of its own: a file linked out of a write tree would stay writable` };
      }
    }
  }
  let writes: (Read & { source: string })[] | undefined;
  for (const name of calls) {
    const r = landlockReads(policy, name, opts, 'fswrite');
    if ('why' in r) return r;
    if (writes && !sameRegions(writes, r.reads)) return { why: 'open and openat permit different writes' };
    writes = r.reads;
  }
  if (!writes || writes.length === 0) return { why: 'no write is permitted' };
  const one = writes.find(x => x.kind === 'file');
  if (one) return { why: `${one.source}: the permit of one file (${one.path}); Landlock can let a file be created only in a whole directory` };
  const unread = writes.find(x => !readWhole(reads, x));
  if (unread) return { why: `${unread.source}: ${unread.path} may be written but not all of it read; Landlock asks to read for O_RDWR` };
  const proc = writes.find(x => covers(x, '/proc/1/mem'));
  if (proc) return { why: `the permit of ${proc.path} (${proc.source}) covers /proc` };
  return { writes };
}

/** Landlock's network rights (ABI 4, Linux 6.7): TCP only. */
export const LANDLOCK_NET = { BIND_TCP: 1n, CONNECT_TCP: 2n } as const;

const LANDLOCK_NET_MIN_ABI = 4;

type NetCall = 'bind' | 'connect';
const NET_CALLS: Readonly<Record<NetCall, bigint>> = { bind: LANDLOCK_NET.BIND_TCP, connect: LANDLOCK_NET.CONNECT_TCP };

type Family = 'inet' | 'inet6';

/** `sockaddr match "inet-*:80"`: every address of one family, on one port (sockaddr.ts prints ports in decimal). */
const PORT_PATTERN = /^(inet6?)-\*:(0|[1-9]\d{0,4})$/;

/** The ports a rule's expression names, or undefined when it names anything else. */
function portsOf(e: Expr): { family: Family; port: number }[] | undefined {
  if (e.kind === 'or') {
    const l = portsOf(e.left);
    const r = portsOf(e.right);
    return l && r ? [...l, ...r] : undefined;
  }
  if (e.kind !== 'pred' || e.translator !== 'sockaddr' || e.index !== 0 || e.op !== 'match') return undefined;
  const m = PORT_PATTERN.exec(e.value);
  if (!m || Number(m[2]) > 65535) return undefined;
  return [{ family: m[1] as Family, port: Number(m[2]) }];
}

/** The rules of a call that has no alias, for this user; a why when they cannot be known at compile time. */
function ownRules(policy: Policy, name: string, opts: CompileOptions): Rule[] | string {
  const cr = rulesForCall(policy, name, opts.aliases);
  if (cr.aliases.some(a => a.rules.length > 0)) return `${name}: alias rules`;
  const list = aliasRules(policy, name, opts);
  return list ?? `${name}: a condition on the user is known only at run time`;
}

/**
 * The ports bind or connect is permitted on, per family, when its rules
 * are permits and denials of whole ports (`sockaddr match "inet-*:PORT"`)
 * over a denying fallback: first match wins, as in the engine.
 */
function portRules(policy: Policy, name: NetCall, opts: CompileOptions): { ports: Record<Family, Map<number, string>> } | { why: string } {
  const list = ownRules(policy, name, opts);
  if (typeof list === 'string') return { why: list };
  const walked = landlockRules(policy, list, opts, portsOf,
    `every other ${name} is permitted; Landlock only grants`, 'not a port Landlock can express (sockaddr match "inet-*:PORT" or "inet6-*:PORT")');
  if ('why' in walked) return walked;
  // First match wins: a port's first rule decides it.
  const seen = new Set<string>();
  const ports: Record<Family, Map<number, string>> = { inet: new Map(), inet6: new Map() };
  for (const r of walked.rules) {
    for (const x of r.items) {
      const key = `${x.family}:${x.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (r.permit) ports[x.family].set(x.port, r.where);
    }
  }
  return { ports };
}

const AF_INET = 2n;
const AF_INET6 = 10n;
const SOCK_STREAM = 1n;
const IPPROTO_TCP = 6n;
const INT32 = 0xffffffffn;

/** The family a conjunction of kernel comparisons pins socket() to, when it is TCP and nothing else. */
function tcpFamily(conj: FilterCompare[]): Family | undefined {
  const pinned = (arg: number, mask: bigint, values: bigint[]): bigint | undefined =>
    conj.find(c => c.arg === arg && c.op === 'masked_eq' && c.a === mask && values.includes(c.b!))?.b;
  const family = pinned(0, INT32, [AF_INET, AF_INET6]);
  if (family === undefined) return undefined;
  if (pinned(1, SOCK_TYPE_MASK, [SOCK_STREAM]) === undefined) return undefined;
  if (pinned(2, INT32, [0n, IPPROTO_TCP]) === undefined) return undefined;
  return family === AF_INET ? 'inet' : 'inet6';
}

/** Calls that could bring in a socket from elsewhere, which Landlock might not check. */
const FD_SOURCES = ['pidfd_getfd', 'io_uring_setup'];

/**
 * The families of the sockets a program can come to hold, when every one
 * of them is TCP: Landlock checks TCP's bind and connect only, and a
 * seccomp filter cannot tell a TCP socket from a UDP or unix one there.
 * So socket() may make TCP sockets alone, socketpair (unix) none, and no
 * call may fetch a socket from elsewhere. (Sockets received over unix
 * sockets need a unix socket; inherited ones are the run's to check:
 * CompileOptions.landlockNetOff.)
 */
function tcpOnly(byEmu: Map<Emulation, Policy>, opts: CompileOptions, filterDefault: number): { families: Set<Family> } | { why: string } {
  const families = new Set<Family>();
  for (const [emu, p] of byEmu) {
    const sock = ownRules(p, 'socket', opts);
    if (typeof sock === 'string') return { why: sock };
    let ended = false;
    for (const r of sock) {
      const where = `${r.pos.file || 'policy'}:${r.pos.line}`;
      const action = kernelAction(effective(r.action, opts.enforce));
      if (action === undefined) return { why: `${where}: socket's rule asks, logs, elevates or rewrites` };
      if (r.expr.kind === 'true') {
        if (action === SECCOMP_RET.ALLOW) return { why: `${where}: every kind of socket is permitted; Landlock checks TCP only` };
        ended = true;
        break;
      }
      if (action !== SECCOMP_RET.ALLOW) continue;
      const dnf = toDnf(emu, 'socket', r.expr, false);
      const tcp = dnf?.map(tcpFamily);
      if (!tcp || tcp.some(f => f === undefined)) {
        return { why: `${where}: a socket that may not be TCP is permitted (Landlock checks TCP only): say sockdom eq "AF_INET" (or "AF_INET6"), socktype eq "SOCK_STREAM" and sockproto eq "IPPROTO_TCP" (or "0")` };
      }
      for (const f of tcp) families.add(f!);
    }
    const fallback = ended ? undefined : defaultGrants(p, opts);
    if (fallback) return { why: `socket (${emu}): ${fallback}` };
    if (p.rules.has('socketcall')) return { why: `socketcall (${emu}) has rules of its own` };
    for (const name of ['socketpair', ...FD_SOURCES]) {
      if (!alwaysDenied(emu, p, name, opts, filterDefault)) {
        return { why: `${name} (${emu}) may be permitted: ${name === 'socketpair' ? 'a unix socket' : 'a socket from elsewhere'}, which Landlock does not check` };
      }
    }
  }
  return { families };
}

/**
 * `landlock: true`: bind and connect go to the kernel, checked by
 * Landlock's TCP port rights, when that is exact: their rules permit whole
 * ports over a denial, every socket the program can hold is TCP, and an
 * AF_INET6 socket (which takes IPv4 addresses too) sees the same ports for
 * both families. Each call is placed on its own: one may go while the
 * other stays notified.
 */
function landlockNet(byEmu: Map<Emulation, Policy>, opts: CompileOptions, filterDefault: number): { net?: LandlockNet; why?: string } {
  const policy = byEmu.get('linux')!;
  const restricted = (Object.keys(NET_CALLS) as NetCall[]).filter(name => placeFor('linux', policy, name, opts, filterDefault)?.target === 'user');
  if (restricted.length === 0) return {}; // decided in the kernel already
  const abi = opts.landlockAbi ?? 0;
  if (abi < LANDLOCK_NET_MIN_ABI) return { why: abi === 0 ? 'this kernel has no Landlock' : `this kernel's Landlock ABI is ${abi}; ${LANDLOCK_NET_MIN_ABI} is needed for TCP ports` };
  if (opts.landlockNetOff) return { why: opts.landlockNetOff };
  const tcp = tcpOnly(byEmu, opts, filterDefault);
  if ('why' in tcp) return tcp;
  for (const f of opts.inheritedTcp ?? []) tcp.families.add(f);
  const granted = new Map<number, { access: bigint; source: string[] }>();
  const calls: NetCall[] = [];
  const whys: string[] = [];
  for (const name of restricted) {
    const r = portRules(policy, name, opts);
    if ('why' in r) {
      whys.push(`${name}: ${r.why}`);
      continue;
    }
    const { inet, inet6 } = r.ports;
    const key = (m: Map<number, string>): string => [...m.keys()].sort((a, b) => a - b).join(',');
    if (tcp.families.has('inet6') && key(inet) !== key(inet6)) {
      whys.push(`${name}: the ports differ between inet and inet6 (an AF_INET6 socket takes IPv4 addresses too; Landlock's rules are per port)`);
      continue;
    }
    // i386 calls go through their own policy first: it must permit no port the ruleset does not.
    const wide = tcp.families.has('inet6') ? inet6 : inet;
    const p32 = byEmu.get('linux32');
    if (p32) {
      const place = placeFor('linux32', p32, name, opts, filterDefault);
      if (kernelMayPerform(place) || place?.target === 'user') {
        const r32 = place?.target === 'user' ? portRules(p32, name, opts) : { why: 'permitted outright' };
        if ('why' in r32) {
          whys.push(`${name} (linux32): ${r32.why}`);
          continue;
        }
        const extra = [...r32.ports.inet.keys(), ...r32.ports.inet6.keys()].find(port => !wide.has(port));
        if (extra !== undefined) {
          whys.push(`${name} (linux32) permits port ${extra}, which the linux policy does not`);
          continue;
        }
      }
    }
    calls.push(name);
    // Landlock's rules know no family: only the ports every family that
    // can exist is permitted (equal sets where AF_INET6 sockets exist).
    for (const [port, where] of wide) {
      const g = granted.get(port) ?? { access: 0n, source: [] };
      g.access |= NET_CALLS[name];
      if (!g.source.includes(where)) g.source.push(where);
      granted.set(port, g);
    }
  }
  const why = whys.length > 0 ? { why: whys.join('; ') } : {};
  if (calls.length === 0) return why;
  const handled = calls.reduce((h, c) => h | NET_CALLS[c], 0n);
  const ports = [...granted].sort(([a], [b]) => a - b).map(([port, g]) => ({ port, access: g.access, source: g.source.join(', ') }));
  return { net: { handled, ports, calls }, ...why };
}

/** The kernel action for the policy's default (USER_NOTIF: ask, decided in user space). */
function defaultKernelAction(policy: Policy | undefined, opts: CompileOptions): number {
  if (!policy) return errnoAction('ENOSYS');
  if (policy.default === 'permit') return SECCOMP_RET.ALLOW;
  if (policy.default === 'deny' || opts.enforce) return opts.reportDefaultDenials ? SECCOMP_RET.USER_NOTIF : errnoAction('EPERM');
  return SECCOMP_RET.USER_NOTIF;
}

/**
 * Compile one policy per emulation into a plan. An emulation with no
 * policy gets ENOSYS for every call (a 64-bit program that tries the i386
 * ABI under a `linux` policy), except exit.
 */
export function compile(policies: Policy[], opts: CompileOptions): Plan {
  const byEmu = new Map<Emulation, Policy>();
  for (const p of policies) {
    if (byEmu.has(p.emulation)) throw new Error(`two policies for emulation ${p.emulation}: ${byEmu.get(p.emulation)!.file} and ${p.file}`);
    byEmu.set(p.emulation, p);
  }
  // libseccomp merges the two architectures' filters only when they share
  // one default action: the first policy's default. Calls of the other
  // emulation whose action differs get a rule each.
  const first = byEmu.get('linux') ?? byEmu.get('linux32');
  const filterDefault = defaultKernelAction(first, opts);
  const spec: FilterSpec = { defaultAction: filterDefault, badArchAction: SECCOMP_RET.KILL_PROCESS, arches: [] };
  const arches: ArchPlan[] = [];
  let landlock: LandlockPlan | undefined;
  let landlockWhy: string | undefined;
  let landlockNetWhy: string | undefined;
  let fast: FastCall[] = [];
  if ([...byEmu.values()].some(p => p.landlock)) {
    const linux = byEmu.get('linux');
    const r = linux?.landlock
      ? landlockPlan(byEmu, opts, filterDefault)
      : { why: 'only a linux (x86_64) policy can ask for Landlock' };
    if ('why' in r) landlockWhy = r.why;
    else landlock = r;
    const n = linux?.landlock && !opts.notifyAll && !opts.landlockOff ? landlockNet(byEmu, opts, filterDefault) : {};
    if (n.net) landlock = { ...(landlock ?? { handled: 0n, rules: [], calls: [], writes: false }), net: n.net };
    if (n.why) landlockNetWhy = n.why;
  }
  for (const emu of ['linux', 'linux32'] as Emulation[]) {
    const policy = byEmu.get(emu);
    const calls = new Map<string, Placement>();
    const notified = new Set<number>();
    const arch: ArchPlan = { emulation: emu, calls, notified };
    const rules: FilterRule[] = [];
    const def = defaultKernelAction(policy, opts);
    for (const name of syscallNames(emu)) {
      const nr = syscallNumber(emu, name)!;
      let place: Placement;
      if (!policy) {
        place = ALWAYS_PERMITTED.includes(name)
          ? { target: 'kernel', action: SECCOMP_RET.ALLOW, why: 'always permitted' }
          : emu === 'linux' && name === 'execve'
            ? { target: 'user', why: 'the exec helper\'s own execve of the program; ENOSYS after' }
            : { target: 'kernel', action: def, why: `no ${emu} policy` };
      } else if (emu === 'linux' && name === 'execve' && !opts.notifyAll) {
        // The exec helper's execve of the program must reach the supervisor,
        // which lets it through whatever the policy says of execve.
        place = placeCall(emu, name, nr, rulesForCall(policy, name, opts.aliases), policy, opts, def, filterDefault);
        if (place.target === 'kernel' && place.action !== SECCOMP_RET.ALLOW) {
          place = { target: 'user', why: `${place.why}; the program's own start is let through` };
        }
      } else {
        place = placeCall(emu, name, nr, rulesForCall(policy, name, opts.aliases), policy, opts, def, filterDefault);
        if (opts.notifyAll && !ALWAYS_PERMITTED.includes(name) && !(place.target === 'kernel' && place.why.startsWith('escapes'))) {
          place = { target: 'user', why: 'learning: every call is recorded' };
        }
      }
      if (emu === 'linux32' && name === 'socketcall' && policy && !policy.rules.has(name)) {
        // libseccomp multiplexes each socket call's rules onto socketcall
        // (`$a0 == SYS_CONNECT`); a rule on socketcall as a whole would
        // take precedence over them, so it gets one only when the policy
        // names socketcall itself.
        calls.set(name, { target: 'kernel', action: filterDefault, why: 'multiplexed: decided per socket call' });
        continue;
      }
      // A call notified as a whole. Integer permits over a notifying default
      // (a denial reported) stay in the kernel on x86_64: what they permit
      // runs there, the rest is notified, decided and reported by the
      // supervisor. Integer denials are notified whole, to be reported.
      // libseccomp refuses comparisons on i386's multiplexed calls
      // (socketcall, ipc), so i386 notifies them whole.
      const permitsInKernel = place.target === 'kernel' && place.rules?.every(r => r.action === SECCOMP_RET.ALLOW) && emu === 'linux';
      if (place.target === 'kernel' && place.action === SECCOMP_RET.USER_NOTIF && !permitsInKernel) {
        place = { target: 'user', why: place.why };
      }
      if (emu === 'linux' && place.target === 'user' && landlock?.net?.calls.includes(name as NetCall)) {
        place = { target: 'kernel', action: SECCOMP_RET.ALLOW, why: `${place.why}; landlock: TCP ports checked by Landlock` };
      }
      calls.set(name, place);
      if (place.target === 'user') {
        notified.add(nr);
        const fast = policy?.fastFstat ? fastFstatArg(emu, name, calls) : undefined;
        if (fast !== undefined) {
          // fast-fstat: exactly AT_EMPTY_PATH (all 64 bits) is fstat, in the
          // kernel; any other flags value is notified as before. Disjoint
          // comparisons, so that libseccomp has no precedence to choose.
          rules.push({ nr, action: SECCOMP_RET.ALLOW, cmps: [{ arg: fast, op: 'eq', a: AT_EMPTY_PATH }] });
          if (filterDefault !== SECCOMP_RET.USER_NOTIF) {
            rules.push({ nr, action: SECCOMP_RET.USER_NOTIF, cmps: [{ arg: fast, op: 'lt', a: AT_EMPTY_PATH }] });
            rules.push({ nr, action: SECCOMP_RET.USER_NOTIF, cmps: [{ arg: fast, op: 'gt', a: AT_EMPTY_PATH }] });
          }
          calls.set(name, { ...place, why: `${place.why}; fast-fstat: flags AT_EMPTY_PATH alone in the kernel` });
          continue;
        }
        const flagsArg = emu === 'linux' && landlock?.calls.includes(name) ? LANDLOCK_OPEN_FLAGS[name] : undefined;
        if (flagsArg !== undefined) {
          // landlock: a read-only open runs in the kernel, which Landlock
          // then checks; any other flags are notified as before. Disjoint
          // comparisons: no bit of NOT_A_READ set, or one of them set.
          rules.push({ nr, action: SECCOMP_RET.ALLOW, cmps: [{ arg: flagsArg, op: 'masked_eq', a: NOT_A_READ, b: 0n }] });
          if (landlock!.writes) {
            // And an open for writing (O_WRONLY or O_RDWR, O_CREAT and
            // O_TRUNC as they come) without O_PATH or O_TMPFILE. What is
            // left is notified: O_ACCMODE 3, O_RDONLY with O_CREAT or
            // O_TRUNC, O_PATH, O_TMPFILE. The two sets are disjoint, and
            // together they are every value of the flags.
            const mask = O_ACCMODE | O_PATH | __O_TMPFILE;
            for (const mode of [O_WRONLY, O_RDWR]) rules.push({ nr, action: SECCOMP_RET.ALLOW, cmps: [{ arg: flagsArg, op: 'masked_eq', a: mask, b: mode }] });
            if (filterDefault !== SECCOMP_RET.USER_NOTIF) {
              const notified: [bigint, bigint][] = [[O_ACCMODE, O_ACCMODE], [O_ACCMODE | O_CREAT, O_CREAT], [O_ACCMODE | O_TRUNC, O_TRUNC], [O_PATH, O_PATH]];
              for (let bit = 1n; bit <= __O_TMPFILE; bit <<= 1n) if (__O_TMPFILE & bit) notified.push([bit, bit]);
              for (const [a, b] of notified) rules.push({ nr, action: SECCOMP_RET.USER_NOTIF, cmps: [{ arg: flagsArg, op: 'masked_eq', a, b }] });
            }
            calls.set(name, { ...place, why: `${place.why}; landlock: read-only opens, and opens for writing, in the kernel, checked by Landlock` });
            continue;
          }
          if (filterDefault !== SECCOMP_RET.USER_NOTIF) {
            for (let bit = 1n; bit <= NOT_A_READ; bit <<= 1n) {
              if (NOT_A_READ & bit) rules.push({ nr, action: SECCOMP_RET.USER_NOTIF, cmps: [{ arg: flagsArg, op: 'masked_eq', a: bit, b: bit }] });
            }
          }
          calls.set(name, { ...place, why: `${place.why}; landlock: read-only opens in the kernel, checked by Landlock` });
          continue;
        }
        if (filterDefault !== SECCOMP_RET.USER_NOTIF) rules.push({ nr, action: SECCOMP_RET.USER_NOTIF });
        continue;
      }
      if (place.rules) rules.push(...place.rules);
      else if (place.action !== filterDefault) rules.push({ nr, action: place.action });
    }
    if (policy) {
      // Learning records every call as it comes; enforcing decides it.
      const connectFree = opts.notifyAll || permitsOutright(placeFor(emu, policy, 'connect', opts, filterDefault));
      // A send the policy denies whatever its arguments needs no guard, and keeps its denial report.
      const denied = (name: string): boolean => alwaysDenied(emu, policy, name, opts, filterDefault);
      hardenEscapes(arch, policy, rules, filterDefault, connectFree ? undefined : denied);
      if (!connectFree) arch.fastOpenRefused = true;
    }
    if (emu === 'linux') fast = fastPlan(policy, calls, opts);
    spec.arches.push({ arch: ARCH_OF[emu], rules });
    arches.push(arch);
  }
  return {
    filter: spec, arches, fast,
    ...(landlock ? { landlock } : {}), ...(landlockWhy ? { landlockWhy } : {}), ...(landlockNetWhy ? { landlockNetWhy } : {}),
  };
}

/**
 * Integer tests the kernel adds on calls the policy permits outright:
 * - clone with a new user or mount namespace, and seccomp with a listener
 *   of its own, are denied unless the policy names the call itself;
 * - clone(CLONE_VM) without CLONE_THREAD or CLONE_VFORK (a second process
 *   sharing the memory) is always denied: the execve check relies on
 *   memory being shared only with threads and blocked vfork parents;
 * - so is clone(CLONE_VM | CLONE_PARENT) outside a thread: a vfork child
 *   whose parent is its creator's parent hides the process it shares the
 *   memory with from that check, which walks up the parents;
 * - a send with MSG_FASTOPEN, which connects, where connect is restricted
 *   (guardFastOpen; `fastOpen` says which sends are denied anyway).
 */
function hardenEscapes(
  arch: ArchPlan, policy: Policy, rules: FilterRule[], filterDefault: number, fastOpen: ((name: string) => boolean) | undefined,
): void {
  const { emulation: emu, calls } = arch;
  type Pattern = { mask: bigint; value: bigint };
  const guard = (name: string, arg: number, patterns: Pattern[], why: string): void => {
    const nr = syscallNumber(emu, name);
    const place = calls.get(name);
    if (nr === undefined || patterns.length === 0 || place?.target !== 'kernel' || place.rules) return;
    if (place.action !== SECCOMP_RET.ALLOW) return;
    const deny = errnoAction('EPERM');
    if (filterDefault === SECCOMP_RET.ALLOW) {
      for (const p of patterns) rules.push({ nr, action: deny, cmps: [{ arg, op: 'masked_eq', a: p.mask, b: p.value }] });
    } else {
      // Permit exactly the flag combinations no pattern denies.
      const all = patterns.reduce((m, p) => m | p.mask, 0n);
      const bits: bigint[] = [];
      for (let b = 1n; b <= all; b <<= 1n) if (all & b) bits.push(b);
      const i = rules.findIndex(r => r.nr === nr && !r.cmps?.length);
      if (i >= 0) rules.splice(i, 1);
      for (let k = 0; k < 1 << bits.length; k++) {
        let v = 0n;
        bits.forEach((b, j) => {
          if (k & (1 << j)) v |= b;
        });
        if (patterns.some(p => (v & p.mask) === p.value)) continue;
        rules.push({ nr, action: SECCOMP_RET.ALLOW, cmps: [{ arg, op: 'masked_eq', a: all, b: v }] });
      }
    }
    calls.set(name, { ...place, why: `${place.why}; denied ${why}` });
  };
  const named = (name: string): boolean => policy.rules.has(name);
  const cloneDenied: Pattern[] = [
    { mask: CLONE_VM | CLONE_THREAD | CLONE_VFORK, value: CLONE_VM },
    { mask: CLONE_VM | CLONE_THREAD | CLONE_PARENT, value: CLONE_VM | CLONE_PARENT },
  ];
  if (!named('clone')) cloneDenied.push({ mask: CLONE_NEWUSER, value: CLONE_NEWUSER }, { mask: CLONE_NEWNS, value: CLONE_NEWNS });
  guard('clone', 0, cloneDenied, named('clone') ? 'sharing memory outside threads and vfork' : 'with new namespaces or shared memory outside threads and vfork');
  if (!named('seccomp')) guard('seccomp', 1, [{ mask: SECCOMP_FILTER_FLAG_NEW_LISTENER, value: SECCOMP_FILTER_FLAG_NEW_LISTENER }], 'with a new listener');
  // ioctl(TIOCSTI) types into a terminal: into the user's shell after the
  // program ends, or into systrace's own prompt. Never permitted, even
  // under `ioctl: permit` (a rule that tests cmd is the policy's choice).
  const ioctl = syscallNumber(emu, 'ioctl');
  const place = calls.get('ioctl');
  if (ioctl !== undefined && place?.target === 'kernel' && !place.rules && place.action === SECCOMP_RET.ALLOW) {
    const low = 0xffffffffn;
    if (filterDefault === SECCOMP_RET.ALLOW) {
      rules.push({ nr: ioctl, action: errnoAction('EPERM'), cmps: [{ arg: 1, op: 'masked_eq', a: low, b: TIOCSTI }] });
    } else {
      // "cmd != TIOCSTI" on its low 32 bits (what the kernel reads): some bit differs.
      const i = rules.findIndex(r => r.nr === ioctl && !r.cmps?.length);
      if (i >= 0) rules.splice(i, 1);
      for (let b = 0n; b < 32n; b++) {
        const bit = 1n << b;
        rules.push({ nr: ioctl, action: SECCOMP_RET.ALLOW, cmps: [{ arg: 1, op: 'masked_eq', a: bit, b: ~TIOCSTI & bit }] });
      }
    }
    calls.set('ioctl', { ...place, why: `${place.why}; TIOCSTI denied` });
  } else if (ioctl !== undefined && place?.target === 'kernel' && place.rules) {
    if (place.rules.some(r => r.action === SECCOMP_RET.ALLOW)) {
      // Integer permits (of an fd, say): TIOCSTI cannot be carved out of
      // them without overlapping rules, whose precedence libseccomp would
      // choose. The supervisor decides ioctl, and refuses TIOCSTI.
      for (const r of rules.filter(x => x.nr === ioctl)) rules.splice(rules.indexOf(r), 1);
      if (filterDefault !== SECCOMP_RET.USER_NOTIF) rules.push({ nr: ioctl, action: SECCOMP_RET.USER_NOTIF });
      calls.set('ioctl', { target: 'user', why: `${place.why}; notified: TIOCSTI is refused by the supervisor` });
    } else if (filterDefault === SECCOMP_RET.ALLOW) {
      // Integer denials over a permitting default: the rest is permitted, but never TIOCSTI.
      rules.push({ nr: ioctl, action: errnoAction('EPERM'), cmps: [{ arg: 1, op: 'masked_eq', a: 0xffffffffn, b: TIOCSTI }] });
      calls.set('ioctl', { ...place, why: `${place.why}; TIOCSTI denied` });
    }
  }
  if (fastOpen) guardFastOpen(arch, rules, filterDefault, fastOpen);
}

/** send(2)'s flag that makes a send on an unconnected TCP socket connect it first (TCP Fast Open). */
export const MSG_FASTOPEN = 0x20000000n;

/** The calls that take MSG_FASTOPEN, and where their flags are. */
const FASTOPEN_FLAGS: Readonly<Record<string, number>> = { sendto: 3, sendmsg: 2, sendmmsg: 3 };

/**
 * A send with MSG_FASTOPEN and an address connects a TCP socket to that
 * address: a connect that the connect rules never see (and that Landlock
 * does not check either). Where the policy restricts connect, the send
 * calls are denied with MSG_FASTOPEN, in the kernel, whatever else decides
 * them; without the flag they go where they went. A rule that already
 * compares the flags argument keeps its own meaning.
 */
function guardFastOpen(arch: ArchPlan, rules: FilterRule[], filterDefault: number, denied: (name: string) => boolean): void {
  const { emulation: emu, calls } = arch;
  const deny = errnoAction('EPERM');
  const denies = (action: number): boolean => action !== SECCOMP_RET.ALLOW && action !== SECCOMP_RET.USER_NOTIF;
  for (const [name, arg] of Object.entries(FASTOPEN_FLAGS)) {
    const nr = syscallNumber(emu, name);
    const place = calls.get(name);
    if (nr === undefined || !place || denied(name)) continue;
    const own = rules.filter(r => r.nr === nr);
    if (emu === 'linux32') {
      // libseccomp puts i386's send calls under socketcall too, whose
      // arguments are in memory: no comparison there. A send the kernel
      // would carry out is notified instead, and the supervisor refuses
      // the flag on its own copy of the arguments (ArchPlan.fastOpenRefused).
      if (place.target === 'user') continue;
      for (const r of own) rules.splice(rules.indexOf(r), 1);
      if (filterDefault !== SECCOMP_RET.USER_NOTIF) rules.push({ nr, action: SECCOMP_RET.USER_NOTIF });
      calls.set(name, { target: 'user', why: `${place.why}; notified: MSG_FASTOPEN is refused by the supervisor (connect is restricted)` });
      (arch.fastOpenNotified ??= new Set()).add(name);
      continue;
    }
    if (own.some(r => r.cmps?.some(c => c.arg === arg))) continue;
    const clear: FilterCompare = { arg, op: 'masked_eq', a: MSG_FASTOPEN, b: 0n };
    if (own.length === 0) {
      // Decided by the filter's default: only a permitting default needs the guard.
      if (denies(filterDefault)) continue;
    } else {
      // Denials with comparisons leave the other values to the default,
      // which may permit: only denials of every value need no guard.
      if (own.every(r => denies(r.action) && !r.cmps?.length)) continue;
      for (const r of own) if (!denies(r.action)) r.cmps = [...(r.cmps ?? []), clear];
    }
    rules.push({ nr, action: deny, cmps: [{ arg, op: 'masked_eq', a: MSG_FASTOPEN, b: MSG_FASTOPEN }] });
    calls.set(name, { ...place, why: `${place.why}; MSG_FASTOPEN denied (connect is restricted)` });
  }
}

/** ioctl(fd, TIOCSTI, &c): push a character into a terminal's input. */
export const TIOCSTI = 0x5412n;
