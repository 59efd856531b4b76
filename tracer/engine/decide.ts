// The per-call decision, Systrace's order: the rules of the real call in file
// order (first match wins; rules written under a @group count as the call's
// own, at the group's place in the file), then the rules of its alias
// (fsread / fswrite, unless aliases are off), then the policy's default.
//
// prepare() does everything that can be done once per policy: group
// expansion, per-call rule lists, glob and predicate compilation, and the
// enforce-mode rewriting of `ask`. decide() is then a walk over short lists
// of closures, with no allocation beyond the Decision.
//
// A predicate whose translator has no value for the call (no filename read,
// `uid` on a call without one) does not match, whatever the operator: `neq`
// and `nsub` on a missing value are false too. `not` still negates, so
// `not filename eq "/x"` is true when there is no filename.
import type { Action, Condition, Emulation, Expr, Policy, Predicate, Rule, Verdict } from '../policy/types.js';
import { aliasOf, isAlias, type Alias } from '../policy/aliases.js';
import { groupMembers, isGroup } from '../policy/groups.js';
import { isSyscall } from '../policy/syscalls.js';
import { argvArg, integerArg, linknameArg, MEMORY_TRANSLATORS, pathArgs, sockaddrArg } from '../policy/signatures.js';
import { globToRegExp } from '../policy/glob.js';
import { integerTranslatorValue } from './translate.js';

export interface CallView {
  emulation: Emulation;
  /** Name in that emulation's table. */
  syscall: string;
  /** The six raw arguments. */
  args: readonly bigint[];
  /** Normalised paths, index = filename[N]. */
  filenames?: (string | undefined)[];
  linkname?: string;
  /** Already formatted: 'inet-[127.0.0.1]:80'. */
  sockaddr?: string;
  argv?: string[];
  /** openat2: the flags from struct open_how. */
  openHowFlags?: bigint;
  /** Who the traced program runs as, for `, if user = ...` conditions. */
  user?: { uid: number; gid: number; name: string; groups: string[] };
}

export interface Decision {
  action: Action;
  rule?: Rule;
  via: 'syscall' | 'alias' | 'default';
  /** What the matching rule was written under: the call, `@group` or alias. */
  key?: string;
}

export interface PreparedRule {
  rule: Rule;
  /** The rules key it came from (`openat`, `@file-system`, `fsread`). */
  key: string;
  /** The rule's action after enforce-mode rewriting. */
  action: Action;
  test: (call: CallView) => boolean;
}

export interface PrepareOptions {
  /** false with `run -u`: fsread / fswrite rules are never consulted. */
  aliases: boolean;
  /** `run -a`: `ask` (default or rule) becomes deny EPERM. */
  enforce: boolean;
}

export interface PreparedPolicy {
  policy: Policy;
  emulation: Emulation;
  options: PrepareOptions;
  defaultAction: Action;
  bySyscall: ReadonlyMap<string, readonly PreparedRule[]>;
  byAlias: ReadonlyMap<Alias, readonly PreparedRule[]>;
}

const EPERM: Verdict = { kind: 'deny', errno: 'EPERM' };

function enforceAction(action: Action, enforce: boolean): Action {
  if (!enforce || action.verdict.kind !== 'ask') return action;
  return { ...action, verdict: EPERM };
}

export function prepare(policy: Policy, options: PrepareOptions): PreparedPolicy {
  const bySyscall = new Map<string, PreparedRule[]>();
  const byAlias = new Map<Alias, PreparedRule[]>();
  const push = <K>(m: Map<K, PreparedRule[]>, k: K, r: PreparedRule): void => {
    const list = m.get(k);
    if (list) list.push(r);
    else m.set(k, [r]);
  };
  for (const [key, rules] of policy.rules) {
    const prepared = rules.map(rule => ({
      rule,
      key,
      action: enforceAction(rule.action, options.enforce),
      test: compileRule(rule),
    }));
    let targets: string[];
    if (isAlias(key)) {
      if (options.aliases) for (const r of prepared) push(byAlias, key, r);
      continue;
    } else if (isGroup(key)) {
      targets = groupMembers(policy.emulation, key) ?? [];
    } else if (isSyscall(policy.emulation, key)) {
      targets = [key];
    } else {
      // parsePolicy rejects these; a policy built in memory might not have been checked.
      throw new Error(`policy ${policy.file}: unknown rules key '${key}' for emulation ${policy.emulation}`);
    }
    for (const name of targets) for (const r of prepared) push(bySyscall, name, r);
  }
  let verdict: Verdict;
  if (policy.default === 'permit') verdict = { kind: 'permit' };
  else if (policy.default === 'deny' || options.enforce) verdict = EPERM;
  else verdict = { kind: 'ask' };
  // Under -a every uncovered call that is denied is also logged.
  const defaultAction: Action = { verdict, log: options.enforce && verdict.kind === 'deny' };
  return { policy, emulation: policy.emulation, options, defaultAction, bySyscall, byAlias };
}

export function decide(prepared: PreparedPolicy, call: CallView): Decision {
  const own = prepared.bySyscall.get(call.syscall);
  if (own) {
    for (const r of own) {
      if (r.test(call)) return { action: r.action, rule: r.rule, via: 'syscall', key: r.key };
    }
  }
  if (prepared.options.aliases && prepared.byAlias.size > 0) {
    const alias = aliasOf(call.emulation, call.syscall, call.args, call.openHowFlags);
    const list = alias && prepared.byAlias.get(alias);
    if (list) {
      // An alias speaks of "the file" a call reads or writes. rename and
      // link write two: each is judged as `filename` on its own, and the
      // call is permitted only if both are (the first refusal decides), so
      // that `fswrite` rules keep a directory closed to a rename into it.
      const paths = call.filenames ?? [];
      if (paths.length < 2) return aliasDecision(prepared, list, alias, call);
      let first: Decision | undefined;
      let rewriting: Decision | undefined;
      for (const p of paths) {
        const d = aliasDecision(prepared, list, alias, { ...call, filenames: [p] });
        if (d.action.verdict.kind !== 'permit') return d;
        first ??= d;
        if (d.action.rewrite) rewriting ??= d;
      }
      // Both permitted: a rewrite of either is carried (it applies to every
      // path it covers, see tracer/policy/rewrite.ts).
      return rewriting ?? first!;
    }
  }
  return { action: prepared.defaultAction, via: 'default' };
}

function aliasDecision(prepared: PreparedPolicy, list: readonly PreparedRule[], alias: Alias, call: CallView): Decision {
  for (const r of list) {
    if (r.test(call)) return { action: r.action, rule: r.rule, via: 'alias', key: alias };
  }
  return { action: prepared.defaultAction, via: 'default' };
}

/** Whether `rule` (of this policy) matches the call: for applying a rewrite to the right path. */
export function ruleMatches(prepared: PreparedPolicy, rule: Rule, call: CallView): boolean {
  for (const list of [...prepared.bySyscall.values(), ...prepared.byAlias.values()]) {
    const r = list.find(x => x.rule === rule);
    if (r) return r.test(call);
  }
  return false;
}

/** The prepared rules consulted first for a call (its own and its groups'), in order. */
export function rulesFor(prepared: PreparedPolicy, syscall: string): readonly PreparedRule[] {
  return prepared.bySyscall.get(syscall) ?? [];
}

/** The rules of an alias, in order (empty when aliases are off). */
export function aliasRulesFor(prepared: PreparedPolicy, alias: Alias): readonly PreparedRule[] {
  return prepared.byAlias.get(alias) ?? [];
}

// ---------------------------------------------------------------- compilation

type Test = (call: CallView) => boolean;

function compileRule(rule: Rule): Test {
  const expr = compileExpr(rule.expr);
  const cond = rule.condition;
  if (!cond) return expr;
  return call => conditionHolds(cond, call.user) && expr(call);
}

function compileExpr(e: Expr): Test {
  switch (e.kind) {
    case 'true':
      return () => true;
    case 'and': {
      const l = compileExpr(e.left);
      const r = compileExpr(e.right);
      return c => l(c) && r(c);
    }
    case 'or': {
      const l = compileExpr(e.left);
      const r = compileExpr(e.right);
      return c => l(c) || r(c);
    }
    case 'not': {
      const x = compileExpr(e.expr);
      return c => !x(c);
    }
    case 'pred':
      return compilePredicate(e);
  }
}

/** A component-boundary prefix: "/usr" is in "/usr" and "/usr/lib", not in "/usrx". */
export function inPath(value: string, prefix: string): boolean {
  if (prefix === '') return false;
  if (value === prefix) return true;
  const dir = prefix.endsWith('/') ? prefix : `${prefix}/`;
  return value.startsWith(dir);
}

function compileOperator(p: Predicate): (v: string) => boolean {
  const want = p.value;
  switch (p.op) {
    case 'eq':
      return v => v === want;
    case 'neq':
      return v => v !== want;
    case 'sub':
      return v => v.includes(want);
    case 'nsub':
      return v => !v.includes(want);
    case 'match': {
      const re = globToRegExp(want);
      return v => re.test(v);
    }
    case 're': {
      const re = p.regex ?? new RegExp(want);
      return v => re.test(v);
    }
    case 'inpath':
      return v => inPath(v, want);
  }
}

function compilePredicate(p: Predicate): Test {
  const op = compileOperator(p);
  const get = valueGetter(p);
  return c => {
    const v = get(c);
    return v !== undefined && op(v);
  };
}

function valueGetter(p: Predicate): (c: CallView) => string | undefined {
  const n = p.index;
  switch (p.translator) {
    case 'filename':
      return c => c.filenames?.[n];
    case 'linkname':
      return c => (n === 0 ? c.linkname : undefined);
    case 'sockaddr':
      return c => (n === 0 ? c.sockaddr : undefined);
    case 'argv':
      // Systrace printed argv as its words joined by single spaces.
      return c => (n === 0 && c.argv ? c.argv.join(' ') : undefined);
    default:
      return c => integerTranslatorValue(c.emulation, c.syscall, p.translator, n, c.args);
  }
}

/** `, if user = root` and friends. Without a known user the condition does not hold. */
export function conditionHolds(cond: Condition, user: CallView['user']): boolean {
  if (!user) return false;
  const id = cond.subject === 'user' ? user.uid : user.gid;
  const v = cond.value;
  switch (cond.op) {
    case '=':
    case '!=': {
      const eq =
        cond.subject === 'user'
          ? v === user.name || v === String(user.uid)
          : v === String(user.gid) || user.groups.includes(v);
      return cond.op === '=' ? eq : !eq;
    }
    default: {
      if (!/^\d+$/.test(v)) return false;
      const n = Number(v);
      return cond.op === '<' ? id < n : cond.op === '>' ? id > n : cond.op === '<=' ? id <= n : id >= n;
    }
  }
}

// ---------------------------------------------------------------- for the compiler

function predicates(e: Expr, out: Predicate[] = []): Predicate[] {
  switch (e.kind) {
    case 'and':
    case 'or':
      predicates(e.left, out);
      predicates(e.right, out);
      break;
    case 'not':
      predicates(e.expr, out);
      break;
    case 'pred':
      out.push(e);
      break;
  }
  return out;
}

/** Every predicate of a rule, left to right. */
export function rulePredicates(rule: Rule): Predicate[] {
  return predicates(rule.expr);
}

/**
 * True if deciding the rule needs the target's memory (filename, linkname,
 * sockaddr, argv): such a rule cannot be compiled to BPF and its call must be
 * notified to user space.
 */
export function ruleNeedsMemory(rule: Rule): boolean {
  return predicates(rule.expr).some(p => MEMORY_TRANSLATORS.includes(p.translator));
}

/**
 * The argument a predicate reads on a call: for integer translators the
 * argument compared (what a BPF test loads); for memory translators the
 * pointer argument (for sendmsg, the msghdr). undefined when it does not
 * apply, or when the value is implied by the call (creat's oflags).
 */
export function predicateArgIndex(emulation: Emulation, syscall: string, pred: Predicate): number | undefined {
  switch (pred.translator) {
    case 'filename':
      return pathArgs(emulation, syscall)[pred.index]?.pathIndex;
    case 'linkname':
      return pred.index === 0 ? linknameArg(emulation, syscall) : undefined;
    case 'sockaddr':
      return pred.index === 0 ? sockaddrArg(emulation, syscall)?.index : undefined;
    case 'argv':
      return pred.index === 0 ? argvArg(emulation, syscall) : undefined;
    default:
      return integerArg(emulation, syscall, pred.translator, pred.index);
  }
}
