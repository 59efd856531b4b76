// Running a program confined by systrace, and reading its denial log.

import { writeTempPolicy, type Teardown } from './files.js';
import { systraceUnpriv, type RunOptions, type RunResult } from './unpriv.js';

export interface ConfinedResult extends RunResult {
  /** The policy file given with -f: denial lines must name it. */
  policy: string;
}

/** `systrace run -a -f POLICY -- cmd...` as nobody, with the policy text written to a temp file. */
export async function runConfined(
  t: Teardown, policyText: string, cmd: string[], opts: RunOptions = {},
): Promise<ConfinedResult> {
  const policy = writeTempPolicy(t, policyText);
  const result = await systraceUnpriv(['run', '-a', '-f', policy, '--', ...cmd], opts);
  return { ...result, policy };
}

export interface DenialQuery {
  syscall: string;
  /** The normalised path, as in `filename: /etc/shadow`. */
  filename?: string;
  /** Any other text the line must contain (a socket address). */
  contains?: string;
  policy?: string;
}

/** Lines in Systrace's denial shape: `systrace: deny ...`. */
export function denialLines(stderr: string): string[] {
  return stderr.split('\n').filter(l => l.startsWith('systrace: deny'));
}

/**
 * The denial line for this call, if any. A line matches when it names a
 * pid, the call as a whole word, and each given string.
 */
export function findDenial(stderr: string, q: DenialQuery): string | undefined {
  const call = new RegExp(`\\b${q.syscall}\\b`);
  return denialLines(stderr).find(line =>
    /\bpid: \d+/.test(line) &&
    call.test(line) &&
    (q.filename === undefined || line.includes(`filename: ${q.filename}`)) &&
    (q.contains === undefined || line.includes(q.contains)) &&
    (q.policy === undefined || line.includes(q.policy)));
}

/** For assertion messages: everything a reader needs to see why a check failed. */
export function show(r: RunResult): string {
  return `exit ${r.code} signal ${r.signal}\n--- stdout ---\n${clip(r.stdout)}--- stderr ---\n${clip(r.stderr)}`;
}

/** The first 20 and last 5 lines of a long output (a race logs thousands of denials). */
function clip(text: string): string {
  const lines = text.split('\n');
  if (lines.length <= 30)
    return text;
  return [...lines.slice(0, 20), `... ${lines.length - 25} lines omitted ...`, ...lines.slice(-5)].join('\n');
}
