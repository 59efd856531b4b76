// `policy lint`: what a policy that parses may still get wrong. Pure: a
// parsed Policy in, findings out (syntax errors are parsePolicy's).
//
// Findings, each at the rule (or `default:`) it is about:
// - rules that can never match. Systrace's order decides: a call's own rules
//   (those written under a @group count as its own, at the group's place in
//   the file) in file order, first match wins, then its alias, then the
//   default. So a rule after an unconditional rule of the same call, or after
//   an identical condition, is dead; and an alias rule is dead for every call
//   that has an unconditional rule of its own (`"@file-system": permit`
//   decides openat before any `fsread` rule is looked at);
// - rules that permit too much: writing (error) or reading (warning) any file
//   (`filename inpath "/"`, `match "*"`, `re ".*"`, `neq "/etc/shadow"` ...),
//   judged by running the rule against files all over the tree; a permit of
//   a call that escapes the filter's view (ptrace, io_uring, mount ...);
//   `default: permit`;
// - `re` patterns without `^` or `$`, which match any name that merely
//   contains them.
import type { Emulation, Expr, Policy, Rule, SourcePos } from './types.js';
import { aliasMembers, isAlias, type Alias } from './aliases.js';
import { groupMembers, isGroup } from './groups.js';
import { DENIED_UNLESS_NAMED } from './compile.js';
import { integerArg, pathArgs } from './signatures.js';
import { prepare, type CallView } from '../engine/decide.js';

export type Severity = 'warning' | 'error';

export interface LintFinding {
  file: string;
  line: number;
  col: number;
  severity: Severity;
  reason: string;
}

/** `file:line:col: severity: reason`, as the CLI prints a finding. */
export function formatFinding(f: LintFinding): string {
  return `${f.file}:${f.line}:${f.col}: ${f.severity}: ${f.reason}`;
}

export function lintPolicy(policy: Policy): LintFinding[] {
  const out: LintFinding[] = [];
  const add = (pos: SourcePos, severity: Severity, reason: string): void => {
    out.push({ file: pos.file || policy.file, line: pos.line, col: pos.col, severity, reason });
  };
  deadRules(policy, add);
  broadRules(policy, add);
  unanchored(policy, add);
  if (policy.default === 'permit') {
    add(policy.defaultPos ?? { file: policy.file, line: 1, col: 1 }, 'warning',
      'default: permit: every call the policy does not name is permitted (a list of denials is easy to get around; prefer ask or deny)');
  }
  out.sort((a, b) => a.line - b.line || a.col - b.col);
  return out;
}

type Add = (pos: SourcePos, severity: Severity, reason: string) => void;

// ---------------------------------------------------------------- dead rules

interface Keyed {
  key: string;
  rule: Rule;
}

/** A call's own rules in decision order, with the key each was written under. */
function ownRules(policy: Policy, name: string): Keyed[] {
  const out: Keyed[] = [];
  for (const [key, rules] of policy.rules) {
    if (key === name || (isGroup(key) && (groupMembers(policy.emulation, key) ?? []).includes(name))) {
      for (const rule of rules) out.push({ key, rule });
    }
  }
  return out;
}

function exprKey(e: Expr): string {
  switch (e.kind) {
    case 'true':
      return 'true';
    case 'and':
    case 'or':
      return `(${exprKey(e.left)} ${e.kind} ${exprKey(e.right)})`;
    case 'not':
      return `not ${exprKey(e.expr)}`;
    case 'pred':
      return `${e.translator}[${e.index}] ${e.op} ${JSON.stringify(e.value)}`;
  }
}

/** What decides whether a rule matches: its expression and its condition (not its action). */
function guardKey(r: Rule): string {
  const c = r.condition;
  return `${exprKey(r.expr)}${c ? ` , if ${c.subject} ${c.op} ${c.value}` : ''}`;
}

const unconditional = (r: Rule): boolean => r.expr.kind === 'true' && !r.condition;

const where = (k: Keyed): string => `'${k.rule.text}' (${k.key}, line ${k.rule.pos.line})`;

/** Why `list[i]` can never match, given the rules before it, or undefined. */
function shadowedBy(list: readonly Keyed[], i: number): string | undefined {
  const r = list[i]!.rule;
  const g = guardKey(r);
  for (let j = 0; j < i; j++) {
    const e = list[j]!;
    if (unconditional(e.rule)) return `${where(e)} decides every call first`;
    if (guardKey(e.rule) === g) return `${where(e)} has the same condition and comes first`;
  }
  return undefined;
}

function deadRules(policy: Policy, add: Add): void {
  const emu = policy.emulation;
  const ownCache = new Map<string, Keyed[]>();
  const own = (name: string): Keyed[] => {
    let l = ownCache.get(name);
    if (!l) ownCache.set(name, (l = ownRules(policy, name)));
    return l;
  };
  for (const [key, rules] of policy.rules) {
    if (isAlias(key)) {
      deadAliasRules(policy, key, own, add);
      continue;
    }
    const members = isGroup(key) ? (groupMembers(emu, key) ?? []) : [key];
    for (const rule of rules) {
      if (key === 'exit' || key === 'exit_group') {
        if (rule.action.verdict.kind !== 'permit') {
          add(rule.pos, 'warning', `${key} is always permitted (a program that cannot exit cannot be stopped cleanly): this rule has no effect`);
        }
      }
      // Dead if dead for every call it is written for.
      let why: string | undefined;
      for (const m of members) {
        const list = own(m);
        const i = list.findIndex(k => k.rule === rule);
        const w = shadowedBy(list, i);
        if (!w) {
          why = undefined;
          break;
        }
        why ??= members.length > 1 ? `${w} (for ${m}, and likewise for every call of ${key})` : w;
      }
      if (why) add(rule.pos, 'warning', `rule can never match: ${why}`);
    }
  }
}

function deadAliasRules(policy: Policy, alias: Alias, own: (name: string) => Keyed[], add: Add): void {
  const list: Keyed[] = (policy.rules.get(alias) ?? []).map(rule => ({ key: alias, rule }));
  const members = aliasMembers(policy.emulation, alias);
  // Calls whose own rules always decide first: the alias is never consulted for them.
  const decidedFirst = new Map<string, Keyed>();
  for (const m of members) {
    const u = own(m).find(k => unconditional(k.rule));
    if (u) decidedFirst.set(m, u);
  }
  list.forEach((k, i) => {
    const w = shadowedBy(list, i);
    if (w) add(k.rule.pos, 'warning', `rule can never match: ${w}`);
    else if (decidedFirst.size === members.length) {
      add(k.rule.pos, 'warning', `rule can never match: every call of ${alias} has an unconditional rule of its own, which decides before ${alias} is consulted`);
    }
  });
  const first = list[0];
  if (first && decidedFirst.size > 0 && decidedFirst.size < members.length) {
    const byRule = new Map<Rule, { k: Keyed; calls: string[] }>();
    for (const [m, k] of decidedFirst) {
      const e = byRule.get(k.rule) ?? { k, calls: [] };
      e.calls.push(m);
      byRule.set(k.rule, e);
    }
    const list = (calls: string[]): string => (calls.length > 6 ? `${calls.slice(0, 6).join(', ')} and ${calls.length - 6} more` : calls.join(', '));
    const parts = [...byRule.values()].map(({ k, calls }) => `${list(calls)} (decided first by ${where(k)})`);
    add(first.rule.pos, 'warning', `rules under ${alias} never apply to ${parts.join('; ')}: a call's own rules, @groups included, come before its alias`);
  }
}

// ---------------------------------------------------------------- broad rules

/** Files all over the tree: a rule that matches (nearly) all of them matches any file. */
const PROBES = [
  '/etc/shadow', '/etc/passwd', '/root/.ssh/authorized_keys', '/home/user/.bashrc', '/usr/bin/sudo',
  '/var/spool/cron/crontabs/root', '/tmp/x', '/proc/self/mem', '/dev/sda', '/boot/vmlinuz', '/srv/x',
];
const O_WRONLY_CREAT = 0o101n;

/** Calls that may write or create files: fswrite's members (the open family included). */
function writes(emu: Emulation, name: string): boolean {
  return aliasMembers(emu, 'fswrite').includes(name);
}
function reads(emu: Emulation, name: string): boolean {
  return aliasMembers(emu, 'fsread').includes(name);
}

/** How many probes the rule matches on `call`, with write flags when `write`. */
function probeMatches(policy: Policy, key: string, rule: Rule, call: string, write: boolean): number {
  const single: Policy = { file: policy.file, emulation: policy.emulation, default: 'deny', rules: new Map([[key, [rule]]]) };
  const prepared = prepare(single, { aliases: true, enforce: false });
  const pr = isAlias(key) ? prepared.byAlias.get(key)?.[0] : prepared.bySyscall.get(call)?.[0];
  if (!pr) return 0;
  const args = [0n, 0n, 0n, 0n, 0n, 0n];
  const fl = integerArg(policy.emulation, call, 'oflags');
  if (fl !== undefined) args[fl] = write ? O_WRONLY_CREAT : 0n;
  let n = 0;
  for (const p of PROBES) {
    const view: CallView = { emulation: policy.emulation, syscall: call, args, filenames: [p, p] };
    if (pr.test(view)) n++;
  }
  return n;
}

function broadRules(policy: Policy, add: Add): void {
  const emu = policy.emulation;
  for (const [key, rules] of policy.rules) {
    const escape = !isAlias(key) && !isGroup(key) && Object.hasOwn(DENIED_UNLESS_NAMED, key);
    for (const rule of rules) {
      if (rule.action.verdict.kind !== 'permit') continue;
      if (escape) {
        add(rule.pos, unconditional(rule) ? 'error' : 'warning',
          `permits ${key}, which escapes what a per-call filter can see or changes what paths mean (denied unless the policy names it)`);
        continue;
      }
      // The call to try the rule on, and whether it writes.
      let write: boolean;
      let call: string | undefined;
      if (key === 'fswrite') [write, call] = [true, 'openat'];
      else if (key === 'fsread') [write, call] = [false, 'openat'];
      else {
        const members = isGroup(key) ? (groupMembers(emu, key) ?? []) : [key];
        const fileCalls = members.filter(m => pathArgs(emu, m).length > 0 && (writes(emu, m) || reads(emu, m)));
        if (fileCalls.length === 0) continue;
        const w = fileCalls.find(m => writes(emu, m));
        [write, call] = w ? [true, w] : [false, fileCalls[0]!];
      }
      if (probeMatches(policy, key, rule, call, write) < PROBES.length - 1) continue;
      const what = key === 'fswrite' || key === 'fsread' ? key : isGroup(key) ? `${key} (${call} and the rest)` : call;
      add(rule.pos, write ? 'error' : 'warning',
        `too broad: permits ${what} on any file (${write ? 'writing' : 'reading'} /etc/shadow, /root, /home ... alike): name the files or directories`);
    }
  }
}

// ---------------------------------------------------------------- re anchors

function unanchored(policy: Policy, add: Add): void {
  const visit = (e: Expr, rule: Rule): void => {
    switch (e.kind) {
      case 'and':
      case 'or':
        visit(e.left, rule);
        visit(e.right, rule);
        return;
      case 'not':
        visit(e.expr, rule);
        return;
      case 'pred': {
        if (e.op !== 're') return;
        const start = e.value.startsWith('^');
        const end = e.value.endsWith('$') && !e.value.endsWith('\\$');
        if (start && end) return;
        const missing = !start && !end ? "neither '^' nor '$'" : !start ? "no '^'" : "no '$'";
        add(e.pos, 'warning',
          `re "${e.value}" has ${missing}: it matches any ${e.translator} that merely contains such text (anchor it, or use eq, match or inpath)`);
        return;
      }
      default:
        return;
    }
  };
  for (const rules of policy.rules.values()) for (const rule of rules) visit(rule.expr, rule);
}
