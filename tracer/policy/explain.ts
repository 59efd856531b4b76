// `policy explain FILE -- CALL [ARG...]`: which rule decides this call, and
// why. Pure: the words are turned into the CallView the supervisor would
// build (paths as normalised file names, integer arguments from their names:
// O_* flags, signal names, numbers), the engine decides it, and the compiled
// plan says whether the kernel or the supervisor makes that decision.
//
// Words are matched to the call's arguments by their shape: a word with a
// '/' (or `inet-...`, `@name`) fills the next string argument (filename,
// filename[1], linkname, sockaddr); a symbolic name fills the argument of its
// kind (O_* oflags, SIG* signame, PROT_* prot, AF_* sockdom, SOCK_* socktype,
// IPPROTO_* sockproto, F_* cmd, SEEK_* whence); a number fills the next
// integer argument (a leading 0 makes it octal, as modes are written).
// `name=value` sets a translator's argument explicitly: `uid=0`, `pid=1`,
// `mode=0644`, `filename[1]=/x`. execve's words after the path are its argv.
import path from 'node:path';
import type { Action, Emulation, Policy } from './types.js';
import { isSyscall } from './syscalls.js';
import { aliasOf, isAlias, type Alias } from './aliases.js';
import { argKinds, INTEGER_TRANSLATORS, type ArgKind } from './signatures.js';
import { ADDRESS_FAMILIES, AT_FDCWD, FCNTL_COMMANDS, IP_PROTOCOLS, OPEN_FLAG_BITS, PROT_BITS, SIGNALS, SIGRTMAX, SIGRTMIN, SOCKET_TYPES, WHENCE } from './constants.js';
import { compile, SECCOMP_RET, type Placement } from './compile.js';
import { ERRNOS } from './errno-table.js';
import { decide, prepare, type CallView, type Decision } from '../engine/decide.js';
import { integerTranslatorValue } from '../engine/translate.js';

export interface ExplainOptions {
  /** As under `run -a`: ask becomes deny. */
  enforce: boolean;
  /** false as under `run -u`. */
  aliases: boolean;
  /** Who runs the program: for `, if user = ...` and the kernel's placement. */
  user: { uid: number; gid: number; name: string; groups: string[] };
  /** Relative paths are taken from here ($CWD). */
  cwd: string;
}

export interface Explanation {
  call: CallView;
  /** The call as understood: `openat(filename "/etc/passwd", oflags O_RDONLY)`. */
  shown: string;
  /** fsread / fswrite, if the call falls under one. */
  alias?: Alias;
  decision: Decision;
  /** The action actually taken: the engine's, unless the kernel decides otherwise (exit, escape calls). */
  action: Action;
  /** Where the decision is made. */
  placement: Placement;
  /** One line each, for the CLI. */
  lines: string[];
}

/** A word that cannot be read as an argument of the call. */
export class ExplainError extends Error {
  readonly code = 'EEXPLAIN' as const;
  override readonly name = 'ExplainError';
}

const STRING_KINDS: readonly ArgKind[] = ['path', 'linkname', 'sockaddr'];

/** Symbolic names and the argument kind they belong to. */
function symbolKind(word: string): ArgKind | undefined {
  if (/^O_/.test(word)) return 'oflags';
  if (/^SIG/.test(word)) return 'signal';
  if (/^PROT_/.test(word)) return 'prot';
  if (/^AF_/.test(word)) return 'sockdom';
  if (/^SOCK_/.test(word)) return 'socktype';
  if (/^IPPROTO_/.test(word)) return 'sockproto';
  if (/^F_/.test(word)) return 'cmd';
  if (/^SEEK_/.test(word)) return 'whence';
  if (word === 'AT_FDCWD') return 'dirfd';
  return undefined;
}

/** `O_WRONLY|O_CREAT`, `SIGKILL`, `0644`, `-1` ... as the raw argument. */
export function symbolValue(kind: ArgKind, word: string): bigint | undefined {
  const num = (w: string): bigint | undefined =>
    /^-?\d+$/.test(w) ? BigInt.asUintN(64, BigInt(/^0\d/.test(w) ? `0o${w.slice(1)}` : w)) : /^0x[0-9a-f]+$/i.test(w) ? BigInt(w) : undefined;
  const n = num(word);
  if (n !== undefined) return n;
  const bits = (table: readonly (readonly [string, bigint])[], extra: Record<string, bigint>): bigint | undefined => {
    let v = 0n;
    for (const part of word.split('|')) {
      const b = extra[part] ?? table.find(([name]) => name === part)?.[1] ?? num(part);
      if (b === undefined) return undefined;
      v |= b;
    }
    return v;
  };
  switch (kind) {
    case 'oflags':
      return bits(OPEN_FLAG_BITS, { O_RDONLY: 0n, O_WRONLY: 1n, O_RDWR: 2n, O_TMPFILE: 0o20200000n, O_SYNC: 0o4010000n });
    case 'prot':
      return bits(PROT_BITS, { PROT_NONE: 0n });
    case 'signal': {
      const i = SIGNALS.indexOf(word);
      if (i > 0) return BigInt(i);
      if (word === 'SIGRTMIN') return BigInt(SIGRTMIN);
      if (word === 'SIGRTMAX') return BigInt(SIGRTMAX);
      const m = /^SIGRTMIN\+(\d+)$/.exec(word);
      return m ? BigInt(SIGRTMIN + Number(m[1])) : undefined;
    }
    case 'sockdom': {
      const i = ADDRESS_FAMILIES.indexOf(word);
      return i >= 0 ? BigInt(i) : undefined;
    }
    case 'socktype': {
      const e = Object.entries(SOCKET_TYPES).find(([, name]) => name === word);
      return e ? BigInt(e[0]) : undefined;
    }
    case 'sockproto':
      return Object.hasOwn(IP_PROTOCOLS, word) ? BigInt(IP_PROTOCOLS[word]!) : undefined;
    case 'cmd': {
      const e = Object.entries(FCNTL_COMMANDS).find(([, name]) => name === word);
      return e ? BigInt(e[0]) : undefined;
    }
    case 'whence': {
      const i = WHENCE.indexOf(word);
      return i >= 0 ? BigInt(i) : undefined;
    }
    case 'dirfd':
    case 'fd':
      return word === 'AT_FDCWD' ? BigInt.asUintN(64, BigInt(AT_FDCWD)) : undefined;
    default:
      return undefined;
  }
}

const looksLikeString = (w: string): boolean => w.includes('/') || /^(inet6?-|@)/.test(w) || w.startsWith('.');

/** Build the CallView for `CALL ARG...`. `fsread PATH` and `fswrite PATH` stand for an openat that reads or writes. */
export function buildCallView(emulation: Emulation, words: readonly string[], cwd: string): CallView {
  const [first, ...rest] = words;
  if (first === undefined) throw new ExplainError('no system call given: explain FILE -- CALL [ARG...]');
  let syscall = first;
  const args: bigint[] = [0n, 0n, 0n, 0n, 0n, 0n];
  let argWords = [...rest];
  if (isAlias(first)) {
    syscall = 'openat';
    argWords = [...rest, first === 'fsread' ? 'O_RDONLY' : 'O_WRONLY|O_CREAT'];
  }
  if (!isSyscall(emulation, syscall)) throw new ExplainError(`unknown system call '${syscall}' for emulation ${emulation}`);
  const kinds = argKinds(emulation, syscall) ?? [];
  kinds.forEach((k, i) => {
    if (k === 'dirfd') args[i] = BigInt.asUintN(64, BigInt(AT_FDCWD));
  });
  const filled = new Set<number>();
  const view: CallView = { emulation, syscall, args };
  const filenames: string[] = [];
  const setString = (i: number, w: string): void => {
    const k = kinds[i];
    if (k === 'path') {
      filenames[kinds.slice(0, i).filter(x => x === 'path').length] = w.startsWith('/') ? path.posix.normalize(w) : path.posix.resolve(cwd, w);
    } else if (k === 'linkname') view.linkname = w;
    else if (k === 'sockaddr') view.sockaddr = w;
    filled.add(i);
  };
  const argvIndex = kinds.indexOf('argv');
  for (let wi = 0; wi < argWords.length; wi++) {
    const w = argWords[wi]!;
    const eq = /^([a-z]+)(?:\[(\d+)\])?=(.*)$/.exec(w);
    if (eq) {
      const [, tr, nth, value] = eq as unknown as [string, string, string | undefined, string];
      const n = Number(nth ?? 0);
      if (tr === 'filename' || tr === 'linkname' || tr === 'sockaddr') {
        const kind: ArgKind = tr === 'filename' ? 'path' : tr;
        const idx = kinds.map((k, i) => (k === kind ? i : -1)).filter(i => i >= 0)[n];
        if (idx === undefined) throw new ExplainError(`${syscall} has no ${tr}${nth ? `[${nth}]` : ''}`);
        setString(idx, value);
        continue;
      }
      const kind = INTEGER_TRANSLATORS[tr];
      if (!kind || !Object.hasOwn(INTEGER_TRANSLATORS, tr)) throw new ExplainError(`unknown translator '${tr}' in '${w}'`);
      const idx = kinds.map((k, i) => (k === kind ? i : -1)).filter(i => i >= 0)[n];
      if (idx === undefined) throw new ExplainError(`${syscall} has no ${tr}${nth ? `[${nth}]` : ''}`);
      const v = symbolValue(kind, value);
      if (v === undefined) throw new ExplainError(`cannot read '${value}' as ${tr}`);
      args[idx] = v;
      filled.add(idx);
      continue;
    }
    const sym = symbolKind(w);
    if (sym) {
      const idx = kinds.findIndex((k, i) => k === sym && !filled.has(i));
      if (idx < 0) throw new ExplainError(`${syscall} takes no ${sym} argument for '${w}'`);
      const v = symbolValue(sym, w);
      if (v === undefined) throw new ExplainError(`unknown name '${w}'`);
      args[idx] = v;
      filled.add(idx);
      continue;
    }
    if (/^-?(\d+|0x[0-9a-f]+)$/i.test(w)) {
      const idx = kinds.findIndex((k, i) => !filled.has(i) && !STRING_KINDS.includes(k) && k !== 'ptr' && k !== 'argv' && k !== 'dirfd');
      if (idx < 0) throw new ExplainError(`no integer argument of ${syscall} left for '${w}'`);
      args[idx] = symbolValue(kinds[idx]!, w)!;
      filled.add(idx);
      continue;
    }
    const idx = kinds.findIndex((k, i) => STRING_KINDS.includes(k) && !filled.has(i));
    if (idx >= 0 && (looksLikeString(w) || argvIndex < 0)) {
      setString(idx, w);
      continue;
    }
    if (argvIndex >= 0) {
      view.argv = [...(view.argv ?? []), w];
      continue;
    }
    throw new ExplainError(`${syscall} has no argument left for '${w}'`);
  }
  if (filenames.length) view.filenames = filenames;
  if (argvIndex >= 0 && !view.argv && filenames[0]) view.argv = [filenames[0]];
  return view;
}

/** The call as understood, with each testable argument as a rule would see it. */
function showCall(view: CallView): string {
  const kinds = argKinds(view.emulation, view.syscall) ?? [];
  const parts: string[] = [];
  let pathN = 0;
  const seen: Record<string, number> = {};
  kinds.forEach(k => {
    if (k === 'path') {
      const f = view.filenames?.[pathN];
      parts.push(`filename${pathN ? `[${pathN}]` : ''} ${f === undefined ? '(none)' : JSON.stringify(f)}`);
      pathN++;
    } else if (k === 'linkname') parts.push(`linkname ${JSON.stringify(view.linkname ?? '')}`);
    else if (k === 'sockaddr') parts.push(`sockaddr ${view.sockaddr === undefined ? '(none)' : JSON.stringify(view.sockaddr)}`);
    else if (k === 'argv') parts.push(`argv ${JSON.stringify((view.argv ?? []).join(' '))}`);
    else {
      const tr = Object.entries(INTEGER_TRANSLATORS).find(([, kind]) => kind === k)?.[0];
      if (!tr) return;
      const nth = seen[tr] ?? 0;
      seen[tr] = nth + 1;
      const v = integerTranslatorValue(view.emulation, view.syscall, tr, nth, view.args);
      if (v !== undefined) parts.push(`${tr}${nth ? `[${nth}]` : ''} ${v}`);
    }
  });
  return `${view.syscall}(${parts.join(', ')})`;
}

function showAction(a: Action): string {
  const v = a.verdict;
  let s = v.kind === 'deny' ? (v.errno === 'EPERM' ? 'deny' : `deny[${v.errno.toLowerCase()}]`) : v.kind;
  if (a.asUser) s += ` as ${a.asUser.user}${a.asUser.group ? `:${a.asUser.group}` : ''}`;
  if (a.rewrite) s += a.rewrite.from === undefined ? `, rewritten to ${a.rewrite.to}` : `, rewritten: ${a.rewrite.from} -> ${a.rewrite.to}`;
  if (a.log) s += ' log';
  return s;
}

/** The kernel's fixed answer for a call placed without rules, as an action. */
function kernelVerdict(action: number): Action | undefined {
  if (action === SECCOMP_RET.ALLOW) return { verdict: { kind: 'permit' }, log: false };
  if (action === SECCOMP_RET.KILL_PROCESS) return { verdict: { kind: 'kill' }, log: false };
  if ((action & 0xffff0000) >>> 0 === SECCOMP_RET.ERRNO) {
    const n = action & 0xffff;
    const name = Object.entries(ERRNOS).find(([, v]) => v === n)?.[0] ?? String(n);
    return { verdict: { kind: 'deny', errno: name }, log: false };
  }
  return undefined;
}

const sameVerdict = (a: Action, b: Action): boolean =>
  a.verdict.kind === b.verdict.kind && (a.verdict.kind !== 'deny' || b.verdict.kind !== 'deny' || a.verdict.errno === b.verdict.errno);

export function explainCall(policy: Policy, words: readonly string[], opts: ExplainOptions): Explanation {
  const call = buildCallView(policy.emulation, words, opts.cwd);
  call.user = opts.user;
  const prepared = prepare(policy, { aliases: opts.aliases, enforce: opts.enforce });
  const decision = decide(prepared, call);
  const alias = aliasOf(call.emulation, call.syscall, call.args, call.openHowFlags);
  const plan = compile([policy], { enforce: opts.enforce, aliases: opts.aliases, user: opts.user, reportDefaultDenials: true });
  const placement = plan.arches.find(a => a.emulation === policy.emulation)?.calls.get(call.syscall) ?? { target: 'user', why: 'not in the plan' };

  const lines: string[] = [];
  const shown = showCall(call);
  lines.push(`call:      ${shown}${alias ? `  [alias ${alias}${opts.aliases ? '' : ', ignored (-u)'}]` : ''}`);
  let action = decision.action;
  // The kernel's fixed answers come before the engine for exit and the escape calls.
  const fixed = placement.target === 'kernel' && !placement.rules ? kernelVerdict(placement.action) : undefined;
  const overridden = fixed !== undefined && /always permitted|escapes/.test(placement.why);
  if (overridden) action = fixed;
  lines.push(`decision:  ${showAction(action)}`);
  if (overridden) {
    const alone = sameVerdict(fixed, decision.action) ? '' : ` (the rules alone would say ${showAction(decision.action)})`;
    lines.push(`rule:      none: ${call.syscall} ${placement.why === 'always permitted' ? 'is always permitted' : 'escapes the filter: denied unless the policy names it'}${alone}`);
  } else if (decision.rule) {
    const r = decision.rule;
    const under =
      decision.via === 'alias'
        ? `under alias ${decision.key}: no rule of ${call.syscall} itself matched`
        : decision.key === call.syscall
          ? `a rule of ${call.syscall}`
          : `under ${decision.key}, which counts as ${call.syscall}'s own`;
    lines.push(`rule:      ${r.pos.file || policy.file}:${r.pos.line}:${r.pos.col}: ${r.text}`);
    lines.push(`why:       first matching rule, ${under}`);
  } else {
    const def = policy.default === 'ask' && opts.enforce ? 'ask, deny under -a' : policy.default;
    const where = policy.defaultPos ? `${policy.file}:${policy.defaultPos.line}` : 'not written: ask';
    lines.push(`rule:      default (${def}; ${where})`);
    lines.push(`why:       no rule of ${call.syscall}${alias && opts.aliases ? ` nor of its alias ${alias}` : ''} matched`);
  }
  lines.push(
    placement.target === 'kernel'
      ? `decided:   in the kernel (BPF): ${placement.why}`
      : `decided:   in user space (the supervisor is notified): ${placement.why}`,
  );
  const out: Explanation = { call, shown, decision, action, placement, lines };
  if (alias) out.alias = alias;
  return out;
}
