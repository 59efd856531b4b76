// `systrace policy merge`: the union of several policies for one program,
// typically learned in several runs. Pure: texts in, text out.
//
// The first policy is the base: its header, default, comments and order
// stay. Each rule of the others that the base lacks (same key, same text)
// is added after the base's rules for that key. A key one policy decides
// unconditionally one way and another the other way is a conflict: the
// base's answer stays, and the conflict is reported.
import type { Policy } from './types.js';
import { addRule } from './edit.js';

export interface MergeInput {
  text: string;
  policy: Policy;
}

export interface MergeResult {
  text: string;
  added: number;
  conflicts: string[];
}

const unconditional = (p: Policy, key: string): string | undefined => {
  const rules = p.rules.get(key);
  return rules && rules.length === 1 && rules[0]!.expr.kind === 'true' && !/\bthen\b/.test(rules[0]!.text) ? rules[0]!.text : undefined;
};

export function mergePolicies(base: MergeInput, others: MergeInput[]): MergeResult {
  let text = base.text;
  let added = 0;
  const conflicts: string[] = [];
  for (const other of others) {
    if (other.policy.emulation !== base.policy.emulation) {
      throw new Error(`${other.policy.file} is for emulation ${other.policy.emulation}, ${base.policy.file} for ${base.policy.emulation}: merge policies of one emulation`);
    }
    if (other.policy.default !== base.policy.default) {
      conflicts.push(`${other.policy.file}: default ${other.policy.default} differs from ${base.policy.default}; kept ${base.policy.default}`);
    }
    for (const [key, rules] of other.policy.rules) {
      const have = base.policy.rules.get(key);
      const mine = unconditional(base.policy, key);
      const theirs = unconditional(other.policy, key);
      if (mine !== undefined && theirs !== undefined) {
        if (mine !== theirs) conflicts.push(`${other.policy.file}:${rules[0]!.pos.line}: ${key}: ${theirs} conflicts with ${mine}; kept ${mine}`);
        continue;
      }
      if (mine !== undefined) {
        // The base settles every call of this key already: nothing the
        // other adds can be reached.
        continue;
      }
      const texts = new Set((have ?? []).map(r => r.text));
      for (const r of rules) {
        if (texts.has(r.text)) continue;
        texts.add(r.text);
        text = addRule(text, { key, rule: r.text });
        added++;
      }
    }
  }
  return { text, added, conflicts };
}
