// Interactive policy generation: a call the policy does not cover stops
// that thread and asks the user on the controlling terminal (/dev/tty,
// never the program's own stdin and stdout). Other threads and processes
// keep running; questions queue in order. "Always" answers are written to
// the policy file at once, atomically, keeping the user's comments.
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import readline from 'node:readline';
import tty from 'node:tty';
import type { Emulation, Policy } from '../policy/types.js';
import { addRule, newPolicyText } from '../policy/edit.js';
import { parsePolicy, parseRuleText, PolicyError, type PolicyEnv } from '../policy/parse.js';
import { ERRNOS } from '../policy/errno-table.js';
import { decide, prepare, type CallView, type Decision } from '../engine/decide.js';

export type Answer =
  | { kind: 'permit' }
  | { kind: 'deny'; errno: string }
  | { kind: 'kill' };

/** One pending call, as the supervisor hands it to the asker. */
export interface Question {
  /** Numbered per session, for the monitor's answers. */
  id?: number;
  /** One line: program, pid, call (with its alias), arguments, policy. */
  line: string;
  emulation: Emulation;
  view: CallView;
  decision: Decision;
  /** The rules key an "always" answer is saved under: the alias, else the call. */
  key: string;
  policyFile: string;
  /** Decides again under the current policy: false once no longer `ask` (and settled). */
  redecide(): boolean;
  settle(answer: Answer): void;
}

export interface AskerOptions {
  env: PolicyEnv;
  /** Called with the policy after each change written to its file. */
  reload(emulation: Emulation, policy: Policy): void;
  /** Where a policy that has no file yet is written (Systrace's ~/.systrace/NAME). */
  program: string;
  report(line: string): void;
}

const HELP = `  p  permit once            P  permit always (saved to the policy)
  d  deny once (EPERM)      D  deny always, with an errno you choose
  f  type a filter rule (kept only if it matches this call)
  g  generalise: this file, this directory's files, the whole tree; or a host/port
  k  kill the program       x  detach: permit everything from now on
  r  review the rules for this call               ?  this help`;

export class TerminalAsker {
  private queue: Question[] = [];
  private busy = false;
  private detached = false;
  private closed = false;
  private readonly rl: readline.Interface;
  private readonly out: tty.WriteStream;
  private readonly input: tty.ReadStream;
  private pendingLine: ((line: string | undefined) => void) | undefined;
  private readonly lines: string[] = [];
  stats = { asked: 0, rulesWritten: 0 };
  readonly files = new Set<string>();

  /** undefined when there is no controlling terminal. */
  static open(opts: AskerOptions): TerminalAsker | undefined {
    let fd: number;
    try {
      fd = fs.openSync('/dev/tty', 'r+');
    } catch {
      return undefined;
    }
    if (!tty.isatty(fd)) {
      fs.closeSync(fd);
      return undefined;
    }
    return new TerminalAsker(fd, opts);
  }

  private constructor(fd: number, private readonly opts: AskerOptions) {
    this.input = new tty.ReadStream(fd);
    this.out = new tty.WriteStream(fs.openSync('/dev/tty', 'w'));
    this.rl = readline.createInterface({ input: this.input, terminal: false });
    this.rl.on('line', line => {
      if (this.pendingLine) {
        const resolve = this.pendingLine;
        this.pendingLine = undefined;
        resolve(line);
      } else {
        this.lines.push(line);
      }
    });
    this.rl.on('close', () => {
      this.closed = true;
      this.pendingLine?.(undefined);
      this.pendingLine = undefined;
    });
    this.idle();
  }

  enqueue(q: Question): void {
    if (this.detached) {
      q.settle({ kind: 'permit' });
      return;
    }
    this.queue.push(q);
    if (!this.busy) void this.next();
  }

  close(): void {
    this.rl.close();
    this.input.destroy();
    this.out.destroy();
  }

  /** Keep the event loop free to end while nothing is being asked. */
  private idle(): void {
    this.input.pause();
    (this.input as unknown as { unref?: () => void }).unref?.();
  }

  private say(text: string): void {
    this.out.write(text);
  }

  private async readLine(promptText: string): Promise<string | undefined> {
    this.say(promptText);
    if (this.lines.length > 0) return this.lines.shift();
    if (this.closed) return undefined;
    (this.input as unknown as { ref?: () => void }).ref?.();
    this.input.resume();
    return new Promise(resolve => {
      this.pendingLine = line => {
        this.idle();
        resolve(line);
      };
    });
  }

  private async next(): Promise<void> {
    this.busy = true;
    try {
      for (let q = this.queue.shift(); q; q = this.queue.shift()) {
        // An earlier "always" answer may cover it now.
        if (!q.redecide()) continue;
        if (this.detached) {
          q.settle({ kind: 'permit' });
          continue;
        }
        this.stats.asked++;
        await this.ask(q);
      }
    } finally {
      this.busy = false;
    }
  }

  private async ask(q: Question): Promise<void> {
    // Only what is typed after the question is seen answers it.
    this.lines.length = 0;
    this.say(`\n${printable(q.line)}\n`);
    for (;;) {
      const answer = await this.readLine('  [p]ermit [P]always [d]eny [D]always [f]ilter [g]eneralise [k]ill [x]detach [r]eview [?] > ');
      if (answer === undefined) {
        // The terminal is gone: nobody can answer; fail closed from here on.
        this.say('\n');
        this.opts.report('systrace: the terminal closed: unanswered calls are denied');
        q.settle({ kind: 'deny', errno: 'EPERM' });
        for (let rest = this.queue.shift(); rest; rest = this.queue.shift()) rest.settle({ kind: 'deny', errno: 'EPERM' });
        return;
      }
      const a = answer.trim();
      switch (a) {
        case 'p':
          q.settle({ kind: 'permit' });
          return;
        case 'd':
          q.settle({ kind: 'deny', errno: 'EPERM' });
          return;
        case 'P':
          this.saveRule(q, `${specificCondition(q)}permit`);
          q.settle({ kind: 'permit' });
          return;
        case 'D': {
          const e = ((await this.readLine('  errno [EPERM]: ')) ?? '').trim().toUpperCase() || 'EPERM';
          if (ERRNOS[e] === undefined) {
            this.say(`  unknown errno ${e}\n`);
            continue;
          }
          const action = e === 'EPERM' ? 'deny' : `deny[${e.toLowerCase()}]`;
          this.saveRule(q, `${specificCondition(q)}${action}`);
          q.settle({ kind: 'deny', errno: e });
          return;
        }
        case 'f': {
          const text = ((await this.readLine(`  rule for ${q.key}: `)) ?? '').trim();
          if (!text) continue;
          const verdict = this.tryFilter(q, text);
          if (!verdict) continue;
          q.settle(verdict);
          return;
        }
        case 'g': {
          const choices = this.generalisations(q);
          if (choices.length === 0) {
            this.say('  nothing to generalise: this call has no file name or address\n');
            continue;
          }
          choices.forEach((c, i) => this.say(`  ${i + 1}) ${c}\n`));
          const pick = Number(((await this.readLine('  permit always which? ')) ?? '').trim());
          const rule = choices[pick - 1];
          if (!rule) continue;
          this.saveRule(q, `${rule} then permit`);
          q.settle({ kind: 'permit' });
          return;
        }
        case 'k':
          q.settle({ kind: 'kill' });
          return;
        case 'x':
          this.detached = true;
          this.say('  detached: every call is permitted from now on\n');
          q.settle({ kind: 'permit' });
          for (let rest = this.queue.shift(); rest; rest = this.queue.shift()) rest.settle({ kind: 'permit' });
          return;
        case 'r':
          this.review(q);
          continue;
        default:
          this.say(`${HELP}\n`);
      }
    }
  }

  private saveRule(q: Question, rule: string): boolean {
    const r = saveAlwaysRule(q, rule, this.opts);
    this.say(r.ok ? `  saved to ${q.policyFile}: ${q.key}: ${rule}\n` : `  not saved: ${r.reason}\n`);
    if (r.ok) {
      this.stats.rulesWritten++;
      this.files.add(q.policyFile);
    }
    return r.ok;
  }

  private generalisations(q: Question): string[] {
    const f = q.view.filenames?.[0];
    if (f !== undefined && f.startsWith('/')) {
      const dir = path.posix.dirname(f);
      const esc = dir.replace(/[*?[\]\\]/g, c => `\\${c}`);
      return [`filename eq ${JSON.stringify(f)}`, `filename match ${JSON.stringify(`${esc}/*`)}`, `filename inpath ${JSON.stringify(dir)}`];
    }
    const s = q.view.sockaddr;
    const m = s && /^(inet6?)-\[(.*)\]:(\d+)$/.exec(s);
    if (m) {
      return [`sockaddr eq ${JSON.stringify(s)}`, `sockaddr match ${JSON.stringify(`${m[1]}-[${m[2]}]:*`)}`, `sockaddr match ${JSON.stringify(`${m[1]}-*:${m[3]}`)}`];
    }
    return [];
  }

  private tryFilter(q: Question, text: string): Answer | undefined {
    try {
      const rule = parseRuleText(text, { emulation: q.emulation, key: q.key, env: this.opts.env });
      const single: Policy = { file: '<typed>', emulation: q.emulation, default: 'ask', rules: new Map([[q.key, [rule]]]) };
      const d = decide(prepare(single, { enforce: false, aliases: true }), q.view);
      if (d.rule === undefined) {
        this.say('  that rule does not match this call: not kept\n');
        return undefined;
      }
      const v = rule.action.verdict;
      if (v.kind === 'ask') {
        this.say('  an ask rule answers nothing: not kept\n');
        return undefined;
      }
      this.saveRule(q, text);
      return v.kind === 'permit' ? { kind: 'permit' } : v.kind === 'kill' ? { kind: 'kill' } : { kind: 'deny', errno: v.errno };
    } catch (e) {
      this.say(`  ${e instanceof PolicyError ? e.reason : (e as Error).message}\n`);
      return undefined;
    }
  }

  private review(q: Question): void {
    let text = '';
    try {
      text = fs.readFileSync(q.policyFile, 'utf8');
    } catch {
      this.say(`  ${q.policyFile} has no rules yet\n`);
      return;
    }
    const p = parsePolicy(text, q.policyFile, this.opts.env);
    const rules = [...p.rules].filter(([k]) => k === q.key || k === q.view.syscall);
    if (rules.length === 0) this.say(`  no rules for ${q.key}; default: ${p.default}\n`);
    for (const [k, rs] of rules) for (const r of rs) this.say(`  ${k}: ${r.text}   (${path.basename(r.pos.file)}:${r.pos.line})\n`);
  }


}

/** The rule text's condition part for exactly this call ('' when it names nothing). */
export function specificCondition(q: Question): string {
  const f = q.view.filenames?.[0];
  const g = q.view.filenames?.[1];
  // Both names of rename and link when the rule is the call's own (under
  // an alias each name is judged on its own, as filename).
  if (f !== undefined && g !== undefined && q.key === q.view.syscall) return `filename eq ${JSON.stringify(f)} and filename[1] eq ${JSON.stringify(g)} then `;
  if (f !== undefined) return `filename eq ${JSON.stringify(f)} then `;
  if (q.view.sockaddr !== undefined) return `sockaddr eq ${JSON.stringify(q.view.sockaddr)} then `;
  return '';
}

/**
 * Writes an "always" answer's rule to the question's policy file
 * (atomically: a temporary file renamed over it, comments kept) and
 * reloads the policy. Shared by the terminal and the monitor's answers.
 */
export function saveAlwaysRule(q: Question, rule: string, opts: AskerOptions): { ok: true } | { ok: false; reason: string } {
  const file = q.policyFile;
  try {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      text = newPolicyText(opts.program, q.emulation);
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    }
    const beforeLine = q.decision.via !== 'default' && q.decision.rule?.pos.file === file ? q.decision.rule.pos.line : undefined;
    const updated = addRule(text, { key: q.key, rule, beforeLine });
    const policy = parsePolicy(updated, file, opts.env);
    const mode = fs.existsSync(file) ? fs.statSync(file).mode & 0o777 : 0o644;
    // A fresh name, created exclusively: nothing planted there is followed.
    const tmp = `${file}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
    fs.writeFileSync(tmp, updated, { mode, flag: 'wx' });
    fs.renameSync(tmp, file);
    opts.reload(q.emulation, policy);
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: e instanceof PolicyError ? e.message : (e as Error).message };
  }
}

/**
 * Questions answered by an operator at the monitor's web page (`--monitor`
 * with no terminal, or `--gui`): the supervisor has sent each as an `ask`
 * event; answers come back by question id.
 */
export class MonitorAsker {
  private readonly pending = new Map<number, Question>();
  private detached = false;
  stats = { asked: 0, rulesWritten: 0 };
  readonly files = new Set<string>();

  constructor(private readonly opts: AskerOptions) {}

  enqueue(q: Question): void {
    if (this.detached) {
      q.settle({ kind: 'permit' });
      return;
    }
    this.stats.asked++;
    this.pending.set(q.id ?? 0, q);
  }

  answer(a: { question: number; answer: string; errno: string; rule: string }): void {
    const q = this.pending.get(a.question);
    if (!q) return;
    this.pending.delete(a.question);
    if (!q.redecide()) return; // settled meanwhile (an earlier "always")
    const save = (rule: string): void => {
      const r = saveAlwaysRule(q, rule, this.opts);
      if (r.ok) {
        this.stats.rulesWritten++;
        this.files.add(q.policyFile);
      } else {
        this.opts.report(`systrace: the monitor's answer could not be saved: ${r.reason}`);
      }
    };
    switch (a.answer) {
      case 'p':
        q.settle({ kind: 'permit' });
        return;
      case 'P':
        // The rule is made from the call itself: an answer cannot bring a
        // broader one (the page sends none; anything that does is ignored).
        save(`${specificCondition(q)}permit`);
        q.settle({ kind: 'permit' });
        return;
      case 'D': {
        const e = (a.errno || 'EPERM').toUpperCase();
        const errno = ERRNOS[e] === undefined ? 'EPERM' : e;
        save(`${specificCondition(q)}${errno === 'EPERM' ? 'deny' : `deny[${errno.toLowerCase()}]`}`);
        q.settle({ kind: 'deny', errno });
        return;
      }
      case 'k':
        q.settle({ kind: 'kill' });
        return;
      case 'x':
        this.detached = true;
        q.settle({ kind: 'permit' });
        for (const rest of this.pending.values()) rest.settle({ kind: 'permit' });
        this.pending.clear();
        return;
      default:
        q.settle({ kind: 'deny', errno: 'EPERM' });
    }
  }

  /** Unanswered questions when the session ends are denied (fail closed). */
  close(): void {
    for (const q of this.pending.values()) q.settle({ kind: 'deny', errno: 'EPERM' });
    this.pending.clear();
  }
}

/** Control and bidi characters from file names shown escaped, so a name cannot rewrite the line a user reads. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, c => {
    const code = c.charCodeAt(0);
    // \xNN for one byte, \uNNNN above: "\x202e" would read as a space and "2e".
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
