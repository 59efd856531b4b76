// Adding a rule to a policy file's text, the way an "always" answer does:
// the user's comments, order and formatting stay as they were. Pure: text
// in, text out (the caller writes it atomically).
import { parseDocument, isMap, isSeq, isScalar, YAMLMap, YAMLSeq, Scalar } from 'yaml';

export interface NewRule {
  /** The rules key: a system call, an alias or a group. */
  key: string;
  /** A full rule (`filename eq "/x" then permit`), or an unconditional action (`permit`, `deny[enoent]`). */
  rule: string;
  /**
   * The 1-based line of an `ask` rule that matched the call: the new rule
   * goes just before it, so that it is consulted first. Without it the
   * rule goes last among the key's rules (none of which matched).
   */
  beforeLine?: number;
}

const UNCONDITIONAL = /^(permit|deny|deny\[[a-z0-9]+\]|ask|kill|elevate)(\s+log)?$/i;

/**
 * A policy that does not exist yet: what every program does before its
 * first line of its own (start, load its libraries, manage memory and
 * signals) is permitted, so that the questions are about the program.
 * execve comes first and asks: running another program is worth a question.
 */
export function newPolicyText(program: string, emulation: string): string {
  const wide = emulation === 'linux';
  return `# Written by systrace from answers given at its prompt.
policy: ${JSON.stringify(program)}
emulation: ${emulation}
default: ask
rules:
  execve: ask
  "@default": permit       # exit, memory, clocks, futex, getpid ...
  "@basic-io": permit      # read, write, close, lseek, dup ...
  "@signal": permit
  ${wide ? 'fstat' : 'fstat64'}: permit
  fcntl${wide ? '' : '64'}: permit
  ioctl: permit
  getcwd: permit
  uname: permit
  fsread:                  # the loader and libc's own files
    - filename inpath "/usr/lib" then permit
    - filename inpath "/lib" then permit
    - filename eq "/etc/ld.so.cache" then permit
    - filename eq "/etc/ld.so.preload" then permit
    - filename eq "/etc/locale.alias" then permit
    - filename inpath "/usr/share/locale" then permit
`;
}

export function addRule(text: string, add: NewRule): string {
  const doc = parseDocument(text, { keepSourceTokens: true });
  if (doc.errors.length > 0) throw new Error(`cannot edit a policy that does not parse: ${doc.errors[0]!.message}`);
  let rules = doc.get('rules', true);
  if (!isMap(rules)) {
    if (rules === undefined || (isScalar(rules) && (rules.value === null || rules.value === undefined))) {
      rules = new YAMLMap();
      doc.set('rules', rules);
    } else {
      throw new Error('the policy\'s rules: is not a map');
    }
  }
  const map = rules as YAMLMap;
  const asRule = (r: string): string => (UNCONDITIONAL.test(r.trim()) ? `true then ${r.trim()}` : r);
  const existing = map.get(add.key, true);
  if (existing === undefined) {
    // A new key: an unconditional answer stays a plain action.
    map.set(doc.createNode(add.key), UNCONDITIONAL.test(add.rule.trim()) ? add.rule.trim() : doc.createNode([add.rule]));
    return doc.toString();
  }
  let seq: YAMLSeq;
  if (isSeq(existing)) {
    seq = existing;
  } else if (isScalar(existing)) {
    // `key: ask` becomes a list: the new rule, then the old action as a rule.
    seq = doc.createNode([asRule(String(existing.value))]) as YAMLSeq;
    const before = add.beforeLine === undefined ? undefined : 0;
    const node = doc.createNode(asRule(add.rule)) as Scalar;
    if (before === 0) seq.items.unshift(node);
    else seq.items.push(node);
    map.set(doc.createNode(add.key), seq);
    return doc.toString();
  } else {
    throw new Error(`rules for ${add.key} are neither a list nor an action`);
  }
  const node = doc.createNode(asRule(add.rule)) as Scalar;
  let at = seq.items.length;
  if (add.beforeLine !== undefined) {
    const lines = lineStarts(text);
    const i = seq.items.findIndex(item => {
      const range = (item as Scalar).range;
      return range !== undefined && range !== null && lineOf(lines, range[0]) === add.beforeLine;
    });
    if (i >= 0) at = i;
  }
  seq.items.splice(at, 0, node);
  return doc.toString();
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  return starts;
}

function lineOf(starts: number[], offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}
