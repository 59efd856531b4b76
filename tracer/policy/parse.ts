// Policy files: YAML around Systrace's rule language (DESIGN.md).
//
// parsePolicy(text) reads the YAML with a LineCounter so that every problem,
// including one inside a rule string, is reported as file:line:col. It does
// not stop at the first problem: every error found is collected and thrown
// together in one PolicyError.
//
// Rule grammar (Systrace's), for each string under a rules key:
//
//   rule      := expr 'then' action [ ',' 'if' subject condop value ]
//   expr      := and ( 'or' and )*
//   and       := unary ( 'and' unary )*
//   unary     := 'not' unary | primary
//   primary   := '(' expr ')' | 'true' | predicate
//   predicate := translator [ '[' N ']' ] op "value"
//   op        := eq | neq | match | sub | nsub | re | inpath
//   action    := verb [ '[' errno ']' ] { 'log' | 'as' user [ ':' group ] }
//              | 'rewrite' "to" { 'log' }  |  'rewrite' "from" 'to' "to" { 'log' }
//   verb      := permit | deny | ask | kill | elevate
//   subject   := user | group;  condop := = | != | < | > | <= | >=
//
// A rules value that is a single string with no `then` is an action that
// applies unconditionally (`read: permit`, `unlink: deny[enoent]`).
//
// Inside "value" only \" and \\ are escapes; any other backslash stays, so
// `re "\.so$"` means what it says. $HOME, $USER and $CWD (or ${HOME} ...)
// are replaced at load time, escaped as literals for `re` and `match`.
import { isAlias as isYamlAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, Scalar } from 'yaml';
import type { Node as YamlNode, Pair } from 'yaml';
import type { Action, Condition, DefaultAction, Emulation, Expr, Op, Policy, Predicate, Rule, SourcePos, Verdict } from './types.js';
import { EMULATION_LABEL, isEmulation, isSyscall } from './syscalls.js';
import { checkRewrites } from './rewrite.js';
import { decide, prepare } from '../engine/decide.js';
import { sockprotoLiteral } from '../engine/translate.js';
import { aliasMembers, isAlias, type Alias } from './aliases.js';
import { groupMembers, isGroup } from './groups.js';
import { isTranslator, INTEGER_TRANSLATORS, MEMORY_TRANSLATORS, translatorApplies } from './signatures.js';
import { ERRNOS } from './errno-table.js';
import { escapeGlob } from './glob.js';

export interface PolicyEnv {
  HOME: string;
  USER: string;
  CWD: string;
}

export interface PolicyErrorItem {
  file: string;
  line: number;
  col: number;
  reason: string;
}

/** A policy that cannot be used. `errors` lists every problem; the other fields describe the first. */
export class PolicyError extends Error {
  readonly code = 'EPOLICY' as const;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly reason: string;
  readonly errors: PolicyErrorItem[];

  constructor(errors: PolicyErrorItem | PolicyErrorItem[]) {
    const list = Array.isArray(errors) ? errors : [errors];
    if (list.length === 0) throw new TypeError('PolicyError needs at least one error');
    super(list.map(e => `${e.file}:${e.line}:${e.col}: ${e.reason}`).join('\n'));
    this.name = 'PolicyError';
    const first = list[0]!;
    this.file = first.file;
    this.line = first.line;
    this.col = first.col;
    this.reason = first.reason;
    this.errors = list;
  }
}

export const TOP_LEVEL_KEYS = ['policy', 'emulation', 'default', 'fast-fstat', 'landlock', 'rules'] as const;
export const OPERATORS: readonly Op[] = ['eq', 'neq', 'match', 'sub', 'nsub', 're', 'inpath'];
export const TRANSLATORS: readonly string[] = [...MEMORY_TRANSLATORS, ...Object.keys(INTEGER_TRANSLATORS)];
const VERBS = ['permit', 'deny', 'ask', 'kill', 'elevate', 'rewrite'];
const COND_OPS: readonly Condition['op'][] = ['=', '!=', '<', '>', '<=', '>='];

// ---------------------------------------------------------------- positions

/** Maps an index in a rule string to an offset in the policy source. */
type OffsetMap = (index: number) => number;

/**
 * Builds the index -> source offset map for a YAML scalar. Plain, quoted and
 * block scalars are walked against their source text: escapes and line
 * folding make the value differ from the source, so each value character is
 * matched with the next source character that produces it.
 */
function scalarOffsets(node: Scalar, src: string): OffsetMap {
  const value = String(node.value);
  const [start, end] = node.range ?? [0, 0];
  const map: number[] = new Array<number>(value.length + 1);
  let p = start;
  const type = node.type;
  if (type === Scalar.QUOTE_DOUBLE || type === Scalar.QUOTE_SINGLE) p++;
  else if (type === Scalar.BLOCK_FOLDED || type === Scalar.BLOCK_LITERAL) {
    const nl = src.indexOf('\n', p);
    p = nl < 0 ? end : nl + 1;
  }
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (type === Scalar.QUOTE_DOUBLE && src[p] === '\\') {
      map[i] = p;
      const e = src[p + 1];
      if (e === 'x') p += 4;
      else if (e === 'u') p += 6;
      else if (e === 'U') {
        // one code point, possibly two UTF-16 units in the value
        if (value.codePointAt(i)! > 0xffff) map[++i] = p;
        p += 10;
      } else p += 2;
      continue;
    }
    if (type === Scalar.QUOTE_SINGLE && ch === "'" && src[p] === "'" && src[p + 1] === "'") {
      map[i] = p;
      p += 2;
      continue;
    }
    while (p < end && src[p] !== ch && /\s/.test(src[p]!)) p++;
    map[i] = Math.min(p, Math.max(start, end - 1));
    if (src[p] === ch) p++;
  }
  map[value.length] = Math.min(p, end);
  return i => map[Math.max(0, Math.min(i, value.length))] ?? start;
}

// ---------------------------------------------------------------- tokens

type TokKind = 'word' | 'string' | 'punct' | 'end';
interface Tok {
  kind: TokKind;
  /** The word, punctuation, or the unescaped string contents. */
  text: string;
  start: number;
  end: number;
}

class RuleSyntaxError extends Error {
  constructor(
    readonly index: number,
    reason: string,
  ) {
    super(reason);
  }
}

const WORD = /[A-Za-z0-9_.$@/*+-]/;

function describe(t: Tok): string {
  if (t.kind === 'end') return 'end of rule';
  if (t.kind === 'string') return `"${t.text}"`;
  return `'${t.text}'`;
}

function tokenize(text: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"') {
      const start = i++;
      let s = '';
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && (text[i + 1] === '"' || text[i + 1] === '\\')) i++;
        s += text[i++];
      }
      if (i >= text.length) throw new RuleSyntaxError(start, 'unterminated string: missing closing \'"\'');
      i++;
      out.push({ kind: 'string', text: s, start, end: i });
    } else if (c === '!' && text[i + 1] === '=') {
      out.push({ kind: 'punct', text: '!=', start: i, end: i + 2 });
      i += 2;
    } else if ((c === '<' || c === '>') && text[i + 1] === '=') {
      out.push({ kind: 'punct', text: c + '=', start: i, end: i + 2 });
      i += 2;
    } else if ('()[],:=<>'.includes(c)) {
      out.push({ kind: 'punct', text: c, start: i, end: i + 1 });
      i++;
    } else if (WORD.test(c)) {
      const start = i;
      while (i < text.length && WORD.test(text[i]!)) i++;
      out.push({ kind: 'word', text: text.slice(start, i), start, end: i });
    } else {
      throw new RuleSyntaxError(i, `unexpected character '${c}'`);
    }
  }
  out.push({ kind: 'end', text: '', start: text.length, end: text.length });
  return out;
}

// ---------------------------------------------------------------- the rule parser

/** What a rule is written under, for checking that its translators apply. */
interface RuleKey {
  name: string;
  kind: 'syscall' | 'alias' | 'group';
}

interface RuleContext {
  emulation: Emulation;
  key: RuleKey;
  env: PolicyEnv;
  file: string;
  /** Rule-string index -> SourcePos. */
  pos: (index: number) => SourcePos;
  /** Semantic problems: the parse goes on after them. */
  problems: { index: number; reason: string }[];
}

class RuleParser {
  private i = 0;
  constructor(
    private readonly toks: Tok[],
    private readonly cx: RuleContext,
  ) {}

  private peek(): Tok {
    return this.toks[this.i]!;
  }
  private next(): Tok {
    const t = this.toks[this.i]!;
    if (t.kind !== 'end') this.i++;
    return t;
  }
  private isWord(w: string): boolean {
    const t = this.peek();
    return t.kind === 'word' && t.text === w;
  }
  private isPunct(p: string): boolean {
    const t = this.peek();
    return t.kind === 'punct' && t.text === p;
  }
  private expectPunct(p: string, what: string): Tok {
    const t = this.peek();
    if (t.kind !== 'punct' || t.text !== p) throw new RuleSyntaxError(t.start, `expected '${p}' ${what}, found ${describe(t)}`);
    return this.next();
  }

  hasTopLevelThen(): boolean {
    return this.toks.some(t => t.kind === 'word' && t.text === 'then');
  }

  /** rule := expr 'then' action [cond] */
  parseRule(): { expr: Expr; action: Action; condition?: Condition } {
    const expr = this.parseOr();
    const t = this.peek();
    if (!this.isWord('then')) {
      throw new RuleSyntaxError(t.start, `expected 'and', 'or' or 'then' after the condition, found ${describe(t)}`);
    }
    this.next();
    return this.parseActionAndCondition(expr);
  }

  /** An unconditional rule: action [cond]. */
  parseActionOnly(): { expr: Expr; action: Action; condition?: Condition } {
    return this.parseActionAndCondition({ kind: 'true' });
  }

  private parseActionAndCondition(expr: Expr): { expr: Expr; action: Action; condition?: Condition } {
    const action = this.parseAction();
    let condition: Condition | undefined;
    if (this.isPunct(',')) {
      this.next();
      condition = this.parseCondition();
    }
    const t = this.peek();
    if (t.kind !== 'end') {
      throw new RuleSyntaxError(t.start, `expected end of rule (or 'log', 'as', ', if ...'), found ${describe(t)}`);
    }
    return condition ? { expr, action, condition } : { expr, action };
  }

  /** expr := and ('or' and)* */
  private parseOr(): Expr {
    let left = this.parseAnd();
    while (this.isWord('or')) {
      this.next();
      left = { kind: 'or', left, right: this.parseAnd() };
    }
    return left;
  }

  /** and := unary ('and' unary)* */
  private parseAnd(): Expr {
    let left = this.parseUnary();
    while (this.isWord('and')) {
      this.next();
      left = { kind: 'and', left, right: this.parseUnary() };
    }
    return left;
  }

  /** unary := 'not' unary | primary */
  private parseUnary(): Expr {
    if (this.isWord('not')) {
      this.next();
      return { kind: 'not', expr: this.parseUnary() };
    }
    return this.parsePrimary();
  }

  /** primary := '(' expr ')' | 'true' | predicate */
  private parsePrimary(): Expr {
    const t = this.peek();
    if (this.isPunct('(')) {
      this.next();
      const e = this.parseOr();
      this.expectPunct(')', `to close the '(' at column ${this.cx.pos(t.start).col}`);
      return e;
    }
    if (this.isWord('true')) {
      this.next();
      return { kind: 'true' };
    }
    if (t.kind !== 'word') {
      throw new RuleSyntaxError(t.start, `expected a condition (translator, 'true', 'not' or '('), found ${describe(t)}`);
    }
    if (t.text === 'then' || t.text === 'and' || t.text === 'or') {
      throw new RuleSyntaxError(t.start, `expected a condition before '${t.text}'`);
    }
    return this.parsePredicate();
  }

  /** predicate := translator ['[' N ']'] op "value" */
  private parsePredicate(): Predicate {
    const tr = this.next();
    let index = 0;
    let indexed = false;
    if (this.isPunct('[')) {
      indexed = true;
      this.next();
      const n = this.next();
      if (n.kind !== 'word' || !/^\d+$/.test(n.text)) {
        throw new RuleSyntaxError(n.start, `expected an argument index after '${tr.text}[', found ${describe(n)}`);
      }
      index = Number(n.text);
      this.expectPunct(']', `after '${tr.text}[${n.text}'`);
    }
    const opTok = this.next();
    if (opTok.kind !== 'word' || !(OPERATORS as readonly string[]).includes(opTok.text)) {
      throw new RuleSyntaxError(
        opTok.start,
        `expected an operator (${OPERATORS.join(', ')}) after '${tr.text}', found ${describe(opTok)}`,
      );
    }
    const op = opTok.text as Op;
    const v = this.next();
    if (v.kind !== 'string') {
      throw new RuleSyntaxError(v.start, `expected a quoted "value" after '${op}', found ${describe(v)}`);
    }
    const shown = indexed ? `${tr.text}[${index}]` : tr.text;
    if (!isTranslator(tr.text)) {
      this.cx.problems.push({ index: tr.start, reason: `unknown translator '${tr.text}' (known: ${TRANSLATORS.join(', ')})` });
    } else if (!this.applies(tr.text, index)) {
      this.cx.problems.push({ index: tr.start, reason: `translator '${shown}' does not apply to ${this.keyLabel()}` });
    }
    let value = expandVariables(v.text, this.cx.env, op);
    if (tr.text === 'sockproto') {
      // sockproto prints in decimal (translate.ts): `eq "IPPROTO_TCP"` is
      // read as `eq "6"` here, once, so that the engine, the compiler and
      // lint all see the number; a literal that never prints is refused.
      const num = op === 'eq' || op === 'neq' ? sockprotoLiteral(value) : undefined;
      if (num !== undefined) value = num;
      else if (op === 'eq' || op === 'neq' || /IPPROTO_/.test(value)) {
        this.cx.problems.push({
          index: v.start,
          reason: `sockproto is the protocol as a decimal number ("0", "6", "262"), never "${value}": ` +
            `write a number, or an IP protocol name (IPPROTO_TCP, IPPROTO_UDP ...) with eq or neq`,
        });
      }
    }
    const pred: Predicate = { kind: 'pred', translator: tr.text, index, op, value, pos: this.cx.pos(tr.start) };
    if (op === 're') {
      try {
        pred.regex = new RegExp(value);
      } catch (e) {
        const why = e instanceof Error ? e.message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '') : String(e);
        this.cx.problems.push({ index: v.start, reason: `bad regular expression "${value}": ${why}` });
      }
    }
    return pred;
  }

  private applies(translator: string, index: number): boolean {
    const { emulation, key } = this.cx;
    if (key.kind === 'syscall') return translatorApplies(emulation, key.name, translator, index);
    // Aliases and groups: loosely, if it applies to any member.
    const members = key.kind === 'alias' ? aliasMembers(emulation, key.name as Alias) : (groupMembers(emulation, key.name) ?? []);
    return members.some(m => translatorApplies(emulation, m, translator, index));
  }

  private keyLabel(): string {
    const { key } = this.cx;
    if (key.kind === 'syscall') return `system call '${key.name}'`;
    if (key.kind === 'alias') return `any member of alias '${key.name}'`;
    return `any member of group '${key.name}'`;
  }

  /** action := verb ['[' errno ']'] { 'log' | 'as' user [':' group] } */
  private parseAction(): Action {
    const v = this.next();
    if (v.kind !== 'word' || !VERBS.includes(v.text)) {
      throw new RuleSyntaxError(v.start, `expected an action (${VERBS.join(', ')}), found ${describe(v)}`);
    }
    let verdict: Verdict;
    switch (v.text) {
      case 'deny':
        verdict = { kind: 'deny', errno: 'EPERM' };
        break;
      case 'ask':
        verdict = { kind: 'ask' };
        break;
      case 'kill':
        verdict = { kind: 'kill' };
        break;
      default:
        verdict = { kind: 'permit' };
    }
    if (this.isPunct('[')) {
      const open = this.next();
      const e = this.next();
      if (e.kind !== 'word') throw new RuleSyntaxError(e.start, `expected an errno name after '${v.text}[', found ${describe(e)}`);
      this.expectPunct(']', `after '${v.text}[${e.text}'`);
      if (v.text !== 'deny') {
        this.cx.problems.push({ index: open.start, reason: `only deny takes an errno, not ${v.text}` });
      } else {
        const name = e.text.toUpperCase();
        if (!Object.hasOwn(ERRNOS, name)) {
          this.cx.problems.push({ index: e.start, reason: `unknown errno '${e.text}' (expected a name such as ENOENT or EACCES)` });
        }
        verdict = { kind: 'deny', errno: name };
      }
    }
    const action: Action = { verdict, log: false };
    if (v.text === 'elevate') action.asUser = { user: 'root' };
    if (v.text === 'rewrite') {
      // rewrite "TO" | rewrite "FROM" to "TO": a permit carried out on another argument.
      const first = this.next();
      if (first.kind !== 'string') throw new RuleSyntaxError(first.start, `expected a quoted file name or address after 'rewrite', found ${describe(first)}`);
      const a = expandVariables(first.text, this.cx.env, 'eq');
      if (this.isWord('to')) {
        this.next();
        const second = this.next();
        if (second.kind !== 'string') throw new RuleSyntaxError(second.start, `expected a quoted file name or address after 'to', found ${describe(second)}`);
        action.rewrite = { from: a, to: expandVariables(second.text, this.cx.env, 'eq') };
      } else {
        action.rewrite = { to: a };
      }
    }
    for (;;) {
      const t = this.peek();
      if (this.isWord('log')) {
        this.next();
        if (action.log) this.cx.problems.push({ index: t.start, reason: `'log' given twice` });
        action.log = true;
      } else if (this.isWord('as')) {
        this.next();
        const u = this.next();
        if (u.kind !== 'word' && u.kind !== 'string') {
          throw new RuleSyntaxError(u.start, `expected a user name after 'as', found ${describe(u)}`);
        }
        let group: string | undefined;
        if (this.isPunct(':')) {
          this.next();
          const g = this.next();
          if (g.kind !== 'word' && g.kind !== 'string') {
            throw new RuleSyntaxError(g.start, `expected a group name after '${u.text}:', found ${describe(g)}`);
          }
          group = g.text;
        }
        if (v.text === 'elevate') {
          this.cx.problems.push({ index: t.start, reason: `'elevate' already means 'permit as root': drop 'as ${u.text}' or write 'permit as ...'` });
        } else if (v.text === 'rewrite') {
          this.cx.problems.push({ index: t.start, reason: `a rewritten call is carried out with the program's own rights: 'as' does not apply` });
        } else if (v.text !== 'permit') {
          this.cx.problems.push({ index: t.start, reason: `'as' applies only to permit, not ${v.text}` });
        } else if (action.asUser) {
          this.cx.problems.push({ index: t.start, reason: `'as' given twice` });
        }
        action.asUser = group === undefined ? { user: u.text } : { user: u.text, group };
      } else {
        return action;
      }
    }
  }

  /** cond := 'if' ('user'|'group') condop value */
  private parseCondition(): Condition {
    const t = this.next();
    if (t.kind !== 'word' || t.text !== 'if') throw new RuleSyntaxError(t.start, `expected 'if' after ',', found ${describe(t)}`);
    const s = this.next();
    if (s.kind !== 'word' || (s.text !== 'user' && s.text !== 'group')) {
      throw new RuleSyntaxError(s.start, `expected 'user' or 'group' after 'if', found ${describe(s)}`);
    }
    const o = this.next();
    if (o.kind !== 'punct' || !(COND_OPS as readonly string[]).includes(o.text)) {
      throw new RuleSyntaxError(o.start, `expected one of ${COND_OPS.join(' ')} after '${s.text}', found ${describe(o)}`);
    }
    const v = this.next();
    if (v.kind !== 'word' && v.kind !== 'string') {
      throw new RuleSyntaxError(v.start, `expected a ${s.text} name or id after '${o.text}', found ${describe(v)}`);
    }
    const op = o.text as Condition['op'];
    if (op !== '=' && op !== '!=' && !/^\d+$/.test(v.text)) {
      this.cx.problems.push({ index: v.start, reason: `'${op}' compares numeric ids: expected a number, found '${v.text}'` });
    }
    return { subject: s.text, op, value: expandVariables(v.text, this.cx.env, 'eq') };
  }
}

/** $HOME, $USER, $CWD and ${...}; escaped as literals where the operator has its own syntax. */
export function expandVariables(value: string, env: PolicyEnv, op: Op): string {
  return value.replace(/\$(?:\{(HOME|USER|CWD)\}|(HOME|USER|CWD)(?![A-Za-z0-9_]))/g, (_m, a?: string, b?: string) => {
    const raw = env[(a ?? b) as keyof PolicyEnv];
    if (op === 're') return raw.replace(/[\\^$.*+?()[\]{}|/]/g, c => `\\${c}`);
    if (op === 'match') return escapeGlob(raw);
    return raw;
  });
}

// ---------------------------------------------------------------- the document

export function parsePolicy(text: string, file: string, env: PolicyEnv): Policy {
  const errors: PolicyErrorItem[] = [];
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: true });
  const at = (offset: number): SourcePos => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, col };
  };
  const fail = (pos: SourcePos, reason: string): void => {
    errors.push({ file: pos.file, line: pos.line, col: pos.col, reason });
  };
  const nodePos = (n: YamlNode | null | undefined, fallback = 0): SourcePos => at(n?.range?.[0] ?? fallback);

  for (const e of doc.errors) {
    const reason = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    fail(at(e.pos[0]), `YAML: ${reason}`);
  }
  if (errors.length) throw new PolicyError(errors);

  const policy: Policy = { file, emulation: 'linux', default: 'ask', rules: new Map() };
  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) {
    throw new PolicyError({ ...at(0), reason: 'empty policy: expected a mapping with keys policy, emulation, default, rules' });
  }
  if (!isMap(root)) {
    throw new PolicyError({ ...nodePos(root), reason: 'a policy file must be a YAML mapping (policy, emulation, default, rules)' });
  }

  // Keys first, so that `emulation` is known before the rules are checked, whatever the order.
  const top = new Map<string, Pair>();
  for (const pair of root.items) {
    const k = pair.key as YamlNode | null;
    if (!isScalar(k) || typeof k.value !== 'string') {
      fail(nodePos(k), `top-level keys must be names (${TOP_LEVEL_KEYS.join(', ')})`);
      continue;
    }
    if (!(TOP_LEVEL_KEYS as readonly string[]).includes(k.value)) {
      fail(nodePos(k), `unknown top-level key '${k.value}' (expected ${TOP_LEVEL_KEYS.join(', ')})`);
      continue;
    }
    const prev = top.get(k.value);
    if (prev) {
      fail(nodePos(k), `duplicate key '${k.value}' (first at line ${nodePos(prev.key as YamlNode).line})`);
      continue;
    }
    top.set(k.value, pair);
  }

  const stringValue = (pair: Pair, what: string): { value: string; pos: SourcePos } | undefined => {
    const v = pair.value as YamlNode | null;
    const keyPos = nodePos(pair.key as YamlNode);
    if (!isScalar(v) || typeof v.value !== 'string') {
      fail(v ? nodePos(v) : keyPos, `${what} must be a string`);
      return undefined;
    }
    return { value: v.value, pos: nodePos(v) };
  };

  const progPair = top.get('policy');
  if (progPair) {
    const v = stringValue(progPair, "'policy' (the program's path)");
    if (v) policy.program = v.value;
  }
  const emuPair = top.get('emulation');
  if (emuPair) {
    const v = stringValue(emuPair, "'emulation'");
    if (v) {
      if (isEmulation(v.value)) policy.emulation = v.value;
      else fail(v.pos, `unknown emulation '${v.value}' (expected linux for x86_64 or linux32 for i386)`);
    }
  }
  const defPair = top.get('default');
  if (defPair) {
    const v = stringValue(defPair, "'default'");
    if (v) {
      if (v.value === 'ask' || v.value === 'deny' || v.value === 'permit') {
        policy.default = v.value as DefaultAction;
        policy.defaultPos = v.pos;
      } else {
        fail(v.pos, `unknown default '${v.value}' (expected ask, deny or permit)`);
      }
    }
  }

  const fastPair = top.get('fast-fstat');
  if (fastPair) {
    const v = fastPair.value as YamlNode | null;
    if (isScalar(v) && typeof v.value === 'boolean') policy.fastFstat = v.value;
    else fail(nodePos(v ?? fastPair.key as YamlNode), "'fast-fstat' is true or false");
  }

  const landlockPair = top.get('landlock');
  if (landlockPair) {
    const v = landlockPair.value as YamlNode | null;
    if (isScalar(v) && typeof v.value === 'boolean') policy.landlock = v.value;
    else fail(nodePos(v ?? landlockPair.key as YamlNode), "'landlock' is true or false");
  }

  const rulesPair = top.get('rules');
  const rulesNode = rulesPair?.value as YamlNode | null | undefined;
  if (rulesPair && rulesNode !== null && rulesNode !== undefined && !(isScalar(rulesNode) && rulesNode.value === null)) {
    if (!isMap(rulesNode)) {
      fail(nodePos(rulesNode), "'rules' must be a mapping from system call, alias or @group to rules");
    } else {
      const firstSeen = new Map<string, SourcePos>();
      for (const pair of rulesNode.items) {
        const k = pair.key as YamlNode | null;
        if (!isScalar(k) || (typeof k.value !== 'string' && typeof k.value !== 'number')) {
          fail(nodePos(k), 'a rules key must be a system call name, an alias (fsread, fswrite) or a @group');
          continue;
        }
        const name = String(k.value);
        const kpos = nodePos(k);
        const seen = firstSeen.get(name);
        if (seen) {
          fail(kpos, `duplicate key '${name}' (first at line ${seen.line})`);
          continue;
        }
        firstSeen.set(name, kpos);
        let key: RuleKey;
        if (isAlias(name)) key = { name, kind: 'alias' };
        else if (name.startsWith('@')) {
          if (!isGroup(name)) {
            fail(kpos, `unknown group '${name}' (see 'systemd-analyze syscall-filter' for the names)`);
            continue;
          }
          key = { name, kind: 'group' };
        } else if (isSyscall(policy.emulation, name)) key = { name, kind: 'syscall' };
        else {
          const other = policy.emulation === 'linux' ? 'linux32' : 'linux';
          const hint = isSyscall(other, name) ? ` (it exists under ${EMULATION_LABEL[other]})` : '';
          fail(kpos, `unknown system call '${name}' for emulation ${EMULATION_LABEL[policy.emulation]}${hint}`);
          continue;
        }
        const rules = rulesOf(pair.value as YamlNode | null, key, kpos);
        if (rules) policy.rules.set(name, rules);
      }
    }
  }

  function rulesOf(v: YamlNode | null, key: RuleKey, kpos: SourcePos): Rule[] | undefined {
    if (isYamlAlias(v)) {
      fail(nodePos(v), 'YAML aliases (*name) are not supported in rules');
      return undefined;
    }
    if (isScalar(v) && typeof v.value === 'string') {
      const r = ruleOf(v, key, 'single');
      return r ? [r] : undefined;
    }
    if (isSeq(v)) {
      const out: Rule[] = [];
      for (const item of v.items as (YamlNode | null)[]) {
        if (!isScalar(item) || typeof item.value !== 'string') {
          fail(item ? nodePos(item) : kpos, 'each rule must be a string: expr then action');
          continue;
        }
        const r = ruleOf(item, key, 'list');
        if (r) out.push(r);
      }
      return out;
    }
    const empty = !v || (isScalar(v) && v.value === null);
    fail(empty ? kpos : nodePos(v), `rules for '${key.name}' must be an action (permit, deny, ...) or a list of rules`);
    return undefined;
  }

  function ruleOf(node: Scalar, key: RuleKey, form: 'single' | 'list'): Rule | undefined {
    const ruleText = node.value as string;
    const offsets = scalarOffsets(node, text);
    const cx: RuleContext = {
      emulation: policy.emulation,
      key,
      env,
      file,
      pos: i => at(offsets(i)),
      problems: [],
    };
    try {
      const p = new RuleParser(tokenize(ruleText), cx);
      // A single string without `then` is an unconditional action; a list
      // item must be a full rule (Systrace's form), but `then` may be omitted
      // nowhere else.
      const parsed = form === 'single' && !p.hasTopLevelThen() ? p.parseActionOnly() : p.parseRule();
      for (const pr of cx.problems) fail(cx.pos(pr.index), pr.reason);
      if (cx.problems.length) return undefined;
      const rule: Rule = { expr: parsed.expr, action: parsed.action, pos: cx.pos(0), text: ruleText.trim() };
      if (parsed.condition) rule.condition = parsed.condition;
      return rule;
    } catch (e) {
      if (!(e instanceof RuleSyntaxError)) throw e;
      for (const pr of cx.problems) fail(cx.pos(pr.index), pr.reason);
      fail(cx.pos(e.index), e.message);
      return undefined;
    }
  }

  // Rewrites may only lead where the policy itself permits.
  if (!errors.length) {
    for (const p of checkRewrites(policy, (without, call) => decide(prepare(without, { enforce: true, aliases: true }), call).action.verdict.kind)) {
      errors.push({ file: p.pos.file, line: p.pos.line, col: p.pos.col, reason: p.reason });
    }
  }
  if (errors.length) {
    errors.sort((a, b) => a.line - b.line || a.col - b.col);
    throw new PolicyError(errors);
  }
  return policy;
}

/**
 * One rule string on its own, for the interactive prompt (`filename eq
 * "/etc/passwd" then permit`). `key` is the call, alias or group it will be
 * filed under. Columns in errors count from 1 at the rule's first character.
 */
export function parseRuleText(
  ruleText: string,
  opts: { emulation: Emulation; key: string; env: PolicyEnv; file?: string },
): Rule {
  const file = opts.file ?? '<rule>';
  // Single-quoted YAML: only ' is doubled, so columns stay those of the rule.
  const quoted = `'${ruleText.replace(/[\r\n]+/g, ' ').replace(/'/g, "''")}'`;
  const doc = `rules:\n  ${JSON.stringify(opts.key)}:\n    - ${quoted}\n`;
  try {
    const p = parsePolicy(`emulation: ${opts.emulation}\n${doc}`, file, opts.env);
    return p.rules.get(opts.key)![0]!;
  } catch (e) {
    if (!(e instanceof PolicyError)) throw e;
    // Re-express positions relative to the rule text (line 4 col 7 is its opening quote).
    throw new PolicyError(
      e.errors.map(x => (x.line === 4 ? { ...x, line: 1, col: Math.max(1, x.col - 7) } : { ...x, line: 1, col: 1 })),
    );
  }
}
