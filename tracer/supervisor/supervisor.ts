// The notification loop: read what the call names from the target, decide
// with the engine, and carry out what was decided.
//
// A permit that rests on a pointer argument is never answered with
// CONTINUE (the kernel would read the target's memory again, after our
// check, and another thread may have changed it): the supervisor performs
// the call itself on its own copy of the normalised argument and injects
// the result. The two exceptions are argued where they are made (chdir,
// execve).
import fs from 'node:fs';
import path from 'node:path';
import type { Emulation, Policy, Rule } from '../policy/types.js';
import { syscallName } from '../policy/syscalls.js';
import { ERRNOS } from '../policy/errno-table.js';
import { decide, prepare, ruleMatches, type CallView, type Decision, type PreparedPolicy } from '../engine/decide.js';
import { aliasOf } from '../policy/aliases.js';
import { printable, type Question } from './prompt.js';
import type { BrokerClient } from './broker-client.js';
import { native, type Mapping, type Notification } from '../native.js';
import { formatSockaddr, parseSockaddr } from './sockaddr.js';
import { rewritePath, rewriteSockaddr } from '../policy/rewrite.js';

const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_I386 = 0x40000003;
const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_REMOVEDIR = 0x200;
const AT_SYMLINK_FOLLOW = 0x400;
const AT_EMPTY_PATH = 0x1000;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_NOFOLLOW = 0o400000;
const O_CLOEXEC = 0o2000000;
const O_PATH = 0o10000000;
const O_TMPFILE = 0o20000000 | 0o200000;
const PATH_MAX = 4096;
const CLONE_VM = 0x100n;
const CLONE_VFORK = 0x4000n;
const CLONE_PARENT = 0x8000n;
const CLONE_THREAD = 0x10000n;
const CLONE_NEWNS = 0x20000n;
const CLONE_NEWUSER = 0x10000000n;
const MAX_SOCKADDR = 128;
/**
 * The most one emulated send carries (a UDP datagram is at most 64 KiB).
 * A stream send of more sends this much and returns the count, a short
 * send the program goes on from; any other gets EMSGSIZE.
 */
const MAX_SEND = 1 << 20;

export interface Loaded {
  policy: Policy;
  prepared: PreparedPolicy;
}

export interface SupervisorOptions {
  listenerFd: number;
  policies: Map<Emulation, Loaded>;
  /** One line per denial (and per `log` rule), already in Systrace's shape. */
  report(line: string): void;
  user: { uid: number; gid: number; name: string; groups: string[] };
  /**
   * The exec helper: its one execve (of the program) is ours, a 64-bit
   * call even for an i386 program, and is not the policy's to decide.
   */
  helperPid: number;
  /** --kill-on-violation: a denial under enforcement kills the process that made the call. */
  killOnViolation?: boolean;
  /** Structured events for the monitor (`--monitor`); never blocks. */
  event?(e: SupervisorEvent): void;
  /** Elevation: the root broker, when one is connected. */
  broker?: BrokerClient;
  /** Interactive mode: where `ask` decisions go (without it they are denials). */
  asker?: { enqueue(q: Question): void };
  /** Learning: called with every permitted call before it is carried out. */
  record?(emu: Emulation, view: CallView): void;
  /** Whether the policy permits this call whatever its arguments (the plan knows). */
  unconditional?(emu: Emulation, name: string): boolean;
  /** Whether connect is restricted in this emulation: then a send with MSG_FASTOPEN (a connect) is refused. */
  fastOpenRefused?(emu: Emulation): boolean;
  /** i386 sends notified only for MSG_FASTOPEN (the kernel would carry out the rest): compile.ts guardFastOpen. */
  fastOpenNotified?(name: string): boolean;
}

/** What the supervisor tells the monitor: monitor/protocol.ts's Event, less what the client fills in. */
export interface SupervisorEvent {
  kind: 'deny' | 'log' | 'ask' | 'answer' | 'elevate' | 'rewrite';
  pid: number;
  program: string;
  syscall: string;
  args: Record<string, string>;
  rule: string;
  decision: string;
  errno?: string;
  severity: 'info' | 'notice' | 'warning';
  detail?: string;
  question?: number;
}

/** i386 socketcall numbers (linux/net.h) and how many arguments each takes. */
const SOCKETCALLS: Readonly<Record<number, { name: string; args: number }>> = {
  1: { name: 'socket', args: 3 }, 2: { name: 'bind', args: 3 }, 3: { name: 'connect', args: 3 },
  4: { name: 'listen', args: 2 }, 5: { name: 'accept', args: 3 }, 6: { name: 'getsockname', args: 3 },
  7: { name: 'getpeername', args: 3 }, 8: { name: 'socketpair', args: 4 }, 9: { name: 'sendto', args: 4 }, // send: sendto without an address
  10: { name: 'recvfrom', args: 4 }, 11: { name: 'sendto', args: 6 }, 12: { name: 'recvfrom', args: 6 },
  13: { name: 'shutdown', args: 2 }, 14: { name: 'setsockopt', args: 5 }, 15: { name: 'getsockopt', args: 5 },
  16: { name: 'sendmsg', args: 3 }, 17: { name: 'recvmsg', args: 3 }, 18: { name: 'accept4', args: 4 },
  19: { name: 'recvmmsg', args: 5 }, 20: { name: 'sendmmsg', args: 4 },
};

/** What a handler read from the target, and how to carry the call out. */
interface Prepared {
  view: CallView;
  /** Shown in the report: `filename: /etc/shadow`. */
  shown: string;
  /** Performs a permitted call; returns [value, -errno]. */
  perform(): Outcome;
  /** What perform() acts on; a rewrite replaces it first (see rewrite()). */
  target?: Target;
  /** Why this call cannot be rewritten (the kernel reads the argument itself). */
  noRewrite?: string;
}

/** The normalised arguments a call is carried out on. */
interface Target {
  /** filename[0], filename[1]: the resolved path, or why there is none (and how to show it); follow: whether its last symlink is followed. */
  paths: { path?: string; errno?: number; follow: boolean; shown?: string }[];
  /** For the socket calls: the address used. */
  addr?: Buffer;
  /**
   * A unix socket path: checked normalised (against the program's cwd),
   * and reached at use through an fd no symlink led to (see addrFor).
   */
  unix?: { path?: string; errno?: number; bind: boolean };
}

type Outcome = { val: bigint; error: number } | 'continue' | 'answered';

const ok = (v: number | bigint): Outcome => ({ val: BigInt(v), error: 0 });
const fail = (negErrno: number): Outcome => ({ val: 0n, error: negErrno });
const errnoOf = (name: string): number => ERRNOS[name] ?? ERRNOS.EPERM!;

const s32 = (v: bigint | undefined): number => Number(BigInt.asIntN(32, v ?? 0n));
const u32 = (v: bigint | undefined): number => Number(BigInt.asUintN(32, v ?? 0n));

export class Supervisor {
  private readonly n = native();
  /** Notified calls decided and not answered yet (asked users, later). */
  /** byCall: notifications per call, keyed `openat` (linux) or `linux32-openat`. */
  stats = { notifications: 0, denied: 0, byCall: new Map<string, number>() };
  private helperExeced = false;

  constructor(private readonly opts: SupervisorOptions) {}

  handle(raw: Notification): void {
    this.stats.notifications++;
    const emu: Emulation | undefined =
      raw.arch === AUDIT_ARCH_X86_64 ? 'linux' : raw.arch === AUDIT_ARCH_I386 ? 'linux32' : undefined;
    // An i386 call's arguments are 32 bits: the kernel reads only the low
    // half of each register. The seccomp data holds all 64 bits, which a
    // 64-bit program's int 0x80 can fill above: every check, and every
    // pointer read, must see what the kernel will use, or a path checked
    // at one address would be executed from another.
    const note = emu === 'linux32' ? { ...raw, args: raw.args.map(a => a & 0xffffffffn) } : raw;
    const name = emu && syscallName(emu, note.nr);
    const key = emu === 'linux' ? name : `${emu ?? `arch-${note.arch.toString(16)}`}-${name ?? note.nr}`;
    if (key) this.stats.byCall.set(key, (this.stats.byCall.get(key) ?? 0) + 1);
    // The exec helper's execve of the program is the command the user ran:
    // as in Systrace, a program's policy governs what it does once it runs,
    // not its own start (its parent's policy would). The helper execs from
    // its worker thread, so its tid is not the helper's pid.
    if (!this.helperExeced && emu === 'linux' && name === 'execve' && this.tgid(note.pid) === this.opts.helperPid) {
      this.helperExeced = true;
      this.answer(note, 'continue');
      return;
    }
    const loaded = emu && this.opts.policies.get(emu);
    if (!emu || !loaded || !name) {
      this.answer(note, fail(-errnoOf('ENOSYS')));
      return;
    }
    let prep: Prepared | number;
    try {
      prep = this.read(emu, name, note);
    } catch (e) {
      this.opts.report(`systrace: internal error on ${name}: ${(e as Error).message}; denied`);
      prep = -errnoOf('EPERM');
    }
    // Everything read from /proc/TID and the target's memory is meaningful
    // only if TID is still the task that made this call.
    if (!this.n.notifyIdValid(this.opts.listenerFd, note.id)) return;
    if (typeof prep === 'number') {
      this.answer(note, fail(prep));
      return;
    }
    this.carryOut(note, emu, name, prep, loaded, decide(loaded.prepared, prep.view));
  }

  /** Does what was decided: perform a permit, refuse a denial, or ask the user. */
  private carryOut(note: Notification, emu: Emulation, name: string, prep: Prepared, loaded: Loaded, decision: Decision): void {
    const verdict = decision.action.verdict;
    if (verdict.kind === 'permit') {
      if (decision.action.log) {
        this.opts.report(this.line('permit', note, emu, name, prep, loaded, decision));
        this.emit('log', note, emu, name, prep, decision);
      }
      if (decision.action.rewrite) {
        const done = this.rewrite(note, emu, name, prep, decision);
        if (done !== true) {
          this.answer(note, done);
          return;
        }
      }
      if (decision.action.asUser) {
        if (this.elevate(note, emu, name, prep, decision)) return;
      }
      this.opts.record?.(emu, prep.view);
      let out: Outcome;
      try {
        out = prep.perform();
      } catch (e) {
        this.opts.report(`systrace: internal error performing ${name}: ${(e as Error).message}`);
        out = fail(-errnoOf('EPERM'));
      }
      this.answer(note, out);
      return;
    }
    if (verdict.kind === 'ask' && this.opts.asker) {
      this.ask(note, emu, name, prep, loaded, decision);
      return;
    }
    // deny, kill, and ask without anyone to ask (-a has turned it into deny already)
    this.stats.denied++;
    const errno = verdict.kind === 'deny' ? verdict.errno : 'EPERM';
    this.opts.report(this.line('deny', note, emu, name, prep, loaded, decision, errno));
    this.emit('deny', note, emu, name, prep, decision, { errno, ...(verdict.kind === 'kill' ? { detail: 'killed' } : {}) });
    if (verdict.kind === 'kill' || this.opts.killOnViolation) {
      if (verdict.kind !== 'kill') this.opts.report(`systrace: --kill-on-violation: killing pid ${note.pid}`);
      try {
        process.kill(this.tgid(note.pid), 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    this.answer(note, fail(-errnoOf(errno)));
  }

  /**
   * `then rewrite`: the call is carried out on the rewritten value of the
   * normalised argument that was checked; the program's memory is not read
   * again. A rewritten path is resolved like any other (symlinks and all),
   * so that RESOLVE_NO_SYMLINKS still guards the use. true when the target
   * is rewritten (perform goes on); otherwise the refusal to answer with.
   */
  private rewrite(note: Notification, emu: Emulation, name: string, prep: Prepared, decision: Decision): true | Outcome {
    const rw = decision.action.rewrite!;
    const where = decision.rule ? `${decision.rule.pos.file}:${decision.rule.pos.line}` : 'policy';
    const target = prep.target;
    if (prep.noRewrite) {
      this.opts.report(`systrace: ${where}: ${emu}-${name} cannot be rewritten (${prep.noRewrite}): denied (pid ${note.pid}, ${prep.shown})`);
      return fail(-errnoOf('EPERM'));
    }
    const changes: string[] = [];
    if (target && target.addr !== undefined && prep.view.sockaddr !== undefined) {
      const to = rewriteSockaddr(prep.view.sockaddr, rw);
      const buf = to === undefined ? undefined : parseSockaddr(to);
      if (to !== undefined && buf) {
        target.addr = buf;
        if (to.startsWith('/')) {
          const r = this.n.resolvePath(0, note.pid, AT_FDCWD, to, !target.unix?.bind);
          const bind = target.unix?.bind ?? false;
          target.unix = typeof r === 'number' ? { errno: r, bind } : 'missing' in r ? { errno: -r.errno, bind } : { path: r.path, bind };
        } else {
          delete target.unix;
        }
        changes.push(`sockaddr: ${prep.view.sockaddr} -> ${to}`);
      }
    } else if (target && target.paths.length > 0) {
      const shown = prep.view.filenames ?? [];
      const loaded = this.opts.policies.get(emu);
      target.paths.forEach((t, i) => {
        const from = shown[i];
        if (from === undefined) return;
        // Each path gets its own rule's rewrite: rename and link may be
        // permitted through two different rewrites (or one, for one path).
        let own = rw;
        if (shown.length > 1 && loaded) {
          const d = decide(loaded.prepared, { ...prep.view, filenames: [from] });
          if (!d.action.rewrite) return;
          own = d.action.rewrite;
        }
        const to = rewritePath(from, own);
        if (to === undefined) return;
        // Resolved as the call resolves its own (lstat, readlink, unlink
        // keep a final symlink; open and stat follow it).
        const r = this.n.resolvePath(0, note.pid, AT_FDCWD, to, t.follow);
        if (typeof r === 'number') target.paths[i] = { errno: r, follow: t.follow };
        else if ('missing' in r) target.paths[i] = { errno: -r.errno, follow: t.follow, shown: this.selfName(note.pid, r.missing) };
        else target.paths[i] = { path: r.path, follow: t.follow };
        changes.push(`${i === 0 ? 'filename' : `filename[${i}]`}: ${from} -> ${to}`);
      });
    }
    if (changes.length === 0) {
      // The rule matched, yet its rewrite fits nothing here: carrying out
      // the original instead would be a permit nobody wrote.
      this.opts.report(`systrace: ${where}: rewrite does not apply to ${emu}-${name} (pid ${note.pid}, ${prep.shown}): denied`);
      return fail(-errnoOf('EPERM'));
    }
    // The rewritten call is a call like any other: decided again, on what
    // it now names (symlinks resolved, every path, the address with its
    // host filled in), by the policy without its rewrite rules. A target
    // reached through a symlink the program made, a write where only a
    // read was checked, a host the policy does not name: all denied.
    const again = this.recheck(note, emu, prep, target);
    if (again !== undefined) {
      this.opts.report(`systrace: ${where}: the rewritten ${emu}-${name} is not permitted (${again}): denied (pid ${note.pid}, ${changes.join(', ')})`);
      return fail(-errnoOf('EPERM'));
    }
    // Learning keeps the program's own arguments in the policy it writes;
    // the log says what they were rewritten to.
    this.emit('rewrite', note, emu, name, prep, decision, { detail: changes.join(', ') });
    if (decision.action.log || this.opts.record) this.opts.report(`systrace: rewrite user: ${this.opts.user.name}, pid: ${note.pid}, syscall: ${emu}-${name}(${note.nr}), ${changes.join(', ')}, rule: ${where}`);
    return true;
  }

  /** Why the call, as rewritten, is not permitted by the policy without rewrites; undefined if it is. */
  private recheck(note: Notification, emu: Emulation, prep: Prepared, target: Target | undefined): string | undefined {
    const loaded = this.opts.policies.get(emu);
    if (!loaded || !target) return 'nothing to check it against';
    let plain = this.withoutRewrites.get(loaded.prepared);
    if (!plain) {
      const rules = new Map<string, Rule[]>();
      for (const [k, rs] of loaded.policy.rules) {
        const kept = rs.filter(r => !r.action.rewrite);
        if (kept.length) rules.set(k, kept);
      }
      plain = prepare({ ...loaded.policy, rules }, loaded.prepared.options);
      this.withoutRewrites.set(loaded.prepared, plain);
    }
    const view: CallView = { ...prep.view };
    if (target.paths.length > 0) {
      view.filenames = target.paths.map((t, i) => (t.path !== undefined ? this.selfName(note.pid, t.path) : t.shown ?? prep.view.filenames?.[i]));
    }
    if (target.unix) view.sockaddr = target.unix.path ?? view.sockaddr;
    else if (target.addr) view.sockaddr = formatSockaddr(target.addr);
    const d = decide(plain, view);
    if (d.action.verdict.kind === 'permit' && !d.action.rewrite) return undefined;
    const what = view.sockaddr !== undefined && target.paths.length === 0 ? view.sockaddr : (view.filenames ?? []).join(', ');
    return `${what}: ${d.action.verdict.kind}${d.rule ? ` by ${d.rule.pos.file}:${d.rule.pos.line}` : ' by default'}`;
  }
  private readonly withoutRewrites = new WeakMap<PreparedPolicy, PreparedPolicy>();

  /**
   * `permit as root`: the broker carries the call out with root's rights
   * and answers the notification itself. Refused (or no broker), the call
   * goes on with the program's own rights and fails as it would have.
   * true when the broker has taken the call.
   */
  private elevate(note: Notification, emu: Emulation, name: string, prep: Prepared, decision: Decision): boolean {
    const as = decision.action.asUser!;
    const where = decision.rule ? `${decision.rule.pos.file}:${decision.rule.pos.line}` : 'policy';
    const broker = this.opts.broker;
    const op = emu === 'linux' ? broker?.operationFor(prep.view.syscall) : undefined;
    if (!broker || op === undefined || as.user !== 'root' || as.group !== undefined) {
      const why = !broker ? 'no root broker is connected' : op === undefined ? `the broker does not carry out ${emu}-${prep.view.syscall}` : 'the broker elevates to root only';
      this.opts.report(`systrace: ${where}: "as ${as.user}${as.group ? ':' + as.group : ''}": ${why}: ${name} performed as ${this.opts.user.name} (pid ${note.pid})`);
      return false;
    }
    void broker.request(note.pid, note.id, op, note.nr, note.args).then(r => {
      this.emit('elevate', note, emu, name, prep, decision, { detail: r.granted ? `granted${r.errno ? `, ${r.errno}` : ''}` : `refused: ${r.reason}`, severity: r.granted ? 'info' : 'warning' });
      if (r.granted) {
        this.opts.report(`systrace: elevated user: ${this.opts.user.name}, pid: ${note.pid}, syscall: ${emu}-${name}(${note.nr}), ${prep.shown}${r.errno ? `, errno: ${r.errno}` : ''}, rule: ${where}`);
        return;
      }
      this.opts.report(`systrace: elevation refused by the broker (${r.reason}): ${name} performed as ${this.opts.user.name} (pid ${note.pid}, ${prep.shown})`);
      if (!this.n.notifyIdValid(this.opts.listenerFd, note.id)) return;
      let out: Outcome;
      try {
        out = prep.perform();
      } catch {
        out = fail(-errnoOf('EPERM'));
      }
      this.answer(note, out);
    });
    return true;
  }

  /**
   * The thread waits (its call unanswered) while the user decides; every
   * other notification goes on being handled meanwhile.
   */
  private ask(note: Notification, emu: Emulation, name: string, prep: Prepared, loaded: Loaded, decision: Decision): void {
    const aliases = loaded.prepared.options.aliases;
    const key = (aliases && aliasOf(emu, prep.view.syscall, prep.view.args, prep.view.openHowFlags)) || prep.view.syscall;
    const alias = key !== prep.view.syscall ? ` [${key}]` : '';
    const q: Question = {
      line: this.line('ask', note, emu, name, prep, loaded, decision).replace(/, rule: .*$/, '').replace(`(${note.nr})`, `(${note.nr})${alias}`),
      emulation: emu,
      view: prep.view,
      decision,
      key,
      policyFile: loaded.policy.file,
      redecide: () => {
        if (!this.n.notifyIdValid(this.opts.listenerFd, note.id)) return false;
        const current = this.opts.policies.get(emu) ?? loaded;
        const d = decide(current.prepared, prep.view);
        if (d.action.verdict.kind === 'ask') {
          q.decision = d;
          return true;
        }
        this.carryOut(note, emu, name, prep, current, d);
        return false;
      },
      settle: answer => {
        if (!this.n.notifyIdValid(this.opts.listenerFd, note.id)) return;
        const current = this.opts.policies.get(emu) ?? loaded;
        const action: Decision['action'] =
          answer.kind === 'permit'
            ? { verdict: { kind: 'permit' }, log: false }
            : answer.kind === 'kill'
              ? { verdict: { kind: 'kill' }, log: true }
              : { verdict: { kind: 'deny', errno: answer.errno }, log: true };
        this.carryOut(note, emu, name, prep, current, { action, via: 'default' });
      },
    };
    q.id = ++this.questions;
    this.emit('ask', note, emu, name, prep, decision, { question: q.id, detail: q.line });
    const settle = q.settle;
    q.settle = answer => {
      this.emit('answer', note, emu, name, prep, decision, { question: q.id, detail: answer.kind === 'deny' ? `deny ${answer.errno}` : answer.kind });
      settle(answer);
    };
    this.opts.asker!.enqueue(q);
  }

  private questions = 0;

  /** After an "always" answer: the policy as the file now says. */
  reload(emu: Emulation, policy: Policy): void {
    const old = this.opts.policies.get(emu);
    if (!old) return;
    this.opts.policies.set(emu, { policy, prepared: prepare(policy, old.prepared.options) });
  }

  private emit(kind: SupervisorEvent['kind'], note: Notification, emu: Emulation, name: string, prep: Prepared, decision: Decision, extra: Partial<SupervisorEvent> = {}): void {
    if (!this.opts.event) return;
    const args: Record<string, string> = {};
    (prep.view.filenames ?? []).forEach((f, i) => {
      if (f !== undefined) args[i === 0 ? 'filename' : `filename[${i}]`] = f;
    });
    if (prep.view.sockaddr !== undefined) args.sockaddr = prep.view.sockaddr;
    if (prep.view.linkname !== undefined) args.linkname = prep.view.linkname;
    let program = '?';
    try {
      program = fs.readlinkSync(`/proc/${note.pid}/exe`);
    } catch {
      /* gone */
    }
    this.opts.event({
      kind,
      pid: note.pid,
      program,
      syscall: `${emu}-${name}`,
      args,
      rule: decision.rule ? `${decision.rule.pos.file}:${decision.rule.pos.line}` : 'default',
      decision: decision.action.verdict.kind,
      severity: kind === 'deny' ? 'warning' : kind === 'ask' ? 'notice' : 'info',
      ...extra,
    });
  }

  private answer(note: Notification, out: Outcome): void {
    if (out === 'answered') return;
    const fd = this.opts.listenerFd;
    if (out === 'continue') this.n.notifyRespond(fd, note.id, 0n, 0, this.n.FLAG_CONTINUE);
    else this.n.notifyRespond(fd, note.id, out.val, out.error, 0);
    // A failed answer means the target is gone (ENOENT): nothing to do.
  }

  private line(
    what: 'deny' | 'permit' | 'ask',
    note: Notification,
    emu: Emulation,
    name: string,
    prep: Prepared,
    loaded: Loaded,
    decision: Decision,
    errno?: string,
  ): string {
    let prog = '?';
    try {
      prog = fs.readlinkSync(`/proc/${note.pid}/exe`);
    } catch {
      /* gone */
    }
    const rule = decision.rule ? `${decision.rule.pos.file}:${decision.rule.pos.line}` : 'default';
    const parts = [
      `systrace: ${what} user: ${this.opts.user.name}`,
      `prog: ${prog}`,
      `pid: ${note.pid}`,
      `policy: ${loaded.policy.file}`,
      `syscall: ${emu}-${name}(${note.nr})`,
    ];
    if (prep.shown) parts.push(prep.shown);
    if (errno) parts.push(`errno: ${errno}`);
    parts.push(`rule: ${rule}`);
    // File names come from the program: no terminal escapes into the log.
    return printable(parts.join(', '));
  }

  // ---- reading the call -------------------------------------------------

  private read(emu: Emulation, name: string, note: Notification): Prepared | number {
    const a = note.args;
    const base: CallView = { emulation: emu, syscall: name, args: a, user: this.opts.user };
    switch (name) {
      case 'open':
        return this.open(note, base, AT_FDCWD, a[0]!, s32(a[1]), u32(a[2]));
      case 'openat':
        return this.open(note, base, s32(a[0]), a[1]!, s32(a[2]), u32(a[3]));
      case 'creat':
        return this.open(note, base, AT_FDCWD, a[0]!, 0o1101, u32(a[1]));
      case 'openat2':
        return this.openat2(note, base);
      case 'stat':
      case 'stat64':
        return this.stat(note, base, AT_FDCWD, a[0]!, a[1]!, 0, emu, name);
      case 'lstat':
      case 'lstat64':
        return this.stat(note, base, AT_FDCWD, a[0]!, a[1]!, AT_SYMLINK_NOFOLLOW, emu, name);
      case 'newfstatat':
      case 'fstatat64':
        return this.stat(note, base, s32(a[0]), a[1]!, a[2]!, s32(a[3]), emu, name);
      case 'statx':
        return this.statx(note, base);
      case 'access':
        return this.pathOp(note, base, [{ dirfd: AT_FDCWD, addr: a[0]!, follow: true }], p => this.n.pathCall('access', p[0]!, s32(a[1]), 0));
      case 'faccessat':
      case 'faccessat2': {
        const flags = name === 'faccessat2' ? s32(a[3]) : 0;
        return this.pathOp(note, base, [{ dirfd: s32(a[0]), addr: a[1]!, follow: !(flags & AT_SYMLINK_NOFOLLOW) }], p =>
          this.n.pathCall('access', p[0]!, s32(a[2]), flags),
        );
      }
      case 'readlink':
        return this.readlink(note, base, AT_FDCWD, a[0]!, a[1]!, s32(a[2]));
      case 'readlinkat':
        return this.readlink(note, base, s32(a[0]), a[1]!, a[2]!, s32(a[3]));
      case 'unlink':
        return this.pathOp(note, base, [{ dirfd: AT_FDCWD, addr: a[0]!, follow: false, entry: true }], p => this.n.pathCall('unlink', p[0]!));
      case 'rmdir':
        return this.pathOp(note, base, [{ dirfd: AT_FDCWD, addr: a[0]!, follow: false, entry: true }], p => this.n.pathCall('rmdir', p[0]!));
      case 'unlinkat':
        return this.pathOp(note, base, [{ dirfd: s32(a[0]), addr: a[1]!, follow: false, entry: true }], p =>
          this.n.pathCall(s32(a[2]) & AT_REMOVEDIR ? 'rmdir' : 'unlink', p[0]!),
        );
      case 'mkdir':
        return this.pathOp(note, base, [{ dirfd: AT_FDCWD, addr: a[0]!, follow: false, entry: true, creates: 'dir' }], p =>
          this.n.pathCall('mkdir', p[0]!, u32(a[1]) & ~this.umask(note.pid) & 0o7777),
        );
      case 'mkdirat':
        return this.pathOp(note, base, [{ dirfd: s32(a[0]), addr: a[1]!, follow: false, entry: true, creates: 'dir' }], p =>
          this.n.pathCall('mkdir', p[0]!, u32(a[2]) & ~this.umask(note.pid) & 0o7777),
        );
      case 'rename':
        return this.pathOp(
          note, base,
          [{ dirfd: AT_FDCWD, addr: a[0]!, follow: false, entry: true }, { dirfd: AT_FDCWD, addr: a[1]!, follow: false, entry: true, creates: 'rename-to' }],
          p => this.n.pathCall('rename', p[0]!, 0, 0, p[1]!),
        );
      case 'renameat':
      case 'renameat2':
        return this.pathOp(
          note, base,
          [{ dirfd: s32(a[0]), addr: a[1]!, follow: false, entry: true }, { dirfd: s32(a[2]), addr: a[3]!, follow: false, entry: true, creates: 'rename-to' }],
          p => this.n.pathCall('rename', p[0]!, name === 'renameat2' ? u32(a[4]) : 0, 0, p[1]!),
        );
      case 'link':
        return this.pathOp(
          note, base,
          [{ dirfd: AT_FDCWD, addr: a[0]!, follow: false }, { dirfd: AT_FDCWD, addr: a[1]!, follow: false, entry: true, creates: 'file' }],
          p => this.n.pathCall('link', p[0]!, 0, 0, p[1]!),
        );
      case 'linkat': {
        const flags = s32(a[4]);
        if (flags & AT_EMPTY_PATH) return -errnoOf('EPERM');
        return this.pathOp(
          note, base,
          [{ dirfd: s32(a[0]), addr: a[1]!, follow: !!(flags & AT_SYMLINK_FOLLOW) }, { dirfd: s32(a[2]), addr: a[3]!, follow: false, entry: true, creates: 'file' }],
          p => this.n.pathCall('link', p[0]!, 0, 0, p[1]!),
        );
      }
      case 'symlink':
      case 'symlinkat': {
        const textAddr = a[0]!;
        const text = this.n.procReadString(note.pid, textAddr, PATH_MAX, true);
        if (typeof text === 'number') return text;
        base.linkname = text;
        const where = name === 'symlink' ? { dirfd: AT_FDCWD, addr: a[1]! } : { dirfd: s32(a[1]), addr: a[2]! };
        return this.pathOp(note, base, [{ ...where, follow: false, entry: true, creates: 'file' }], p => this.n.pathCall('symlink', p[0]!, 0, 0, text), `linkname: ${text}`);
      }
      case 'chmod':
        return this.pathOp(note, base, [{ dirfd: AT_FDCWD, addr: a[0]!, follow: true }], p => this.n.pathCall('chmod', p[0]!, u32(a[1]) & 0o7777));
      case 'fchmodat':
      case 'fchmodat2': {
        const flags = name === 'fchmodat2' ? s32(a[3]) : 0;
        return this.pathOp(note, base, [{ dirfd: s32(a[0]), addr: a[1]!, follow: !(flags & AT_SYMLINK_NOFOLLOW) }], p =>
          this.n.pathCall('chmod', p[0]!, u32(a[2]) & 0o7777),
        );
      }
      case 'chown':
      case 'chown32':
      case 'lchown':
      case 'lchown32':
        return this.pathOp(note, base, [{ dirfd: AT_FDCWD, addr: a[0]!, follow: !name.startsWith('l') }], p =>
          this.n.pathCall('chown', p[0]!, s32(a[1]), s32(a[2])),
        );
      case 'fchownat': {
        const flags = s32(a[4]);
        if (flags & AT_EMPTY_PATH) return -errnoOf('EPERM');
        return this.pathOp(note, base, [{ dirfd: s32(a[0]), addr: a[1]!, follow: !(flags & AT_SYMLINK_NOFOLLOW) }], p =>
          this.n.pathCall('chown', p[0]!, s32(a[2]), s32(a[3])),
        );
      }
      case 'truncate':
        return this.pathOp(note, base, [{ dirfd: AT_FDCWD, addr: a[0]!, follow: true }], p => this.n.pathCall('truncate', p[0]!, Number(BigInt.asIntN(64, a[1]!))));
      case 'truncate64': {
        const len = (BigInt(u32(a[2])) << 32n) | BigInt(u32(a[1]));
        return this.pathOp(note, base, [{ dirfd: AT_FDCWD, addr: a[0]!, follow: true }], p => this.n.pathCall('truncate', p[0]!, Number(len)));
      }
      case 'chdir':
        // CONTINUE is safe here: if another thread swaps the path after the
        // check, the program's cwd is some other directory, which grants
        // nothing: every later relative path is normalised against the
        // cwd the kernel really has, and checked again.
        return this.noRewrite(this.pathOp(note, base, [{ dirfd: AT_FDCWD, addr: a[0]!, follow: true }], () => 'continue'), 'the kernel reads chdir\'s path itself');
      case 'execve':
        return this.exec(note, base, AT_FDCWD, a[0]!, 0);
      case 'execveat':
        return this.exec(note, base, s32(a[0]), a[1]!, s32(a[4]));
      case 'utimensat':
      case 'utimensat_time64':
        return this.utimes(note, base, s32(a[0]), a[1]!, a[2]!, name === 'utimensat' && emu === 'linux32' ? 'timespec32' : 'timespec', s32(a[3]));
      case 'utimes':
        return this.utimes(note, base, AT_FDCWD, a[0]!, a[1]!, emu === 'linux' ? 'timeval' : 'timeval32', 0);
      case 'futimesat':
        return this.utimes(note, base, s32(a[0]), a[1]!, a[2]!, emu === 'linux' ? 'timeval' : 'timeval32', 0);
      case 'utime':
        return this.utimes(note, base, AT_FDCWD, a[0]!, a[1]!, emu === 'linux' ? 'utimbuf' : 'utimbuf32', 0);
      case 'mknod':
      case 'mknodat': {
        const at = name === 'mknodat' ? 1 : 0;
        const dirfd = at ? s32(a[0]) : AT_FDCWD;
        const mode = u32(a[at + 1]);
        const dev = u32(a[at + 2]);
        return this.pathOp(note, base, [{ dirfd, addr: a[at]!, follow: false, entry: true, creates: 'file' }], p =>
          this.n.pathCall('mknod', p[0]!, (mode & 0o170000) | (mode & ~this.umask(note.pid) & 0o7777), dev),
        );
      }
      case 'statfs':
        if (emu !== 'linux') return this.integerOnly(note, base, name);
        return this.pathOp(note, base, [{ dirfd: AT_FDCWD, addr: a[0]!, follow: true }], p => {
          const r = this.n.pathCall('statfs', p[0]!);
          if (typeof r === 'number') return r;
          const w = this.n.procWriteMemory(note.pid, a[1]!, r);
          return w < 0 ? w : 0;
        });
      case 'getxattr':
      case 'lgetxattr':
      case 'listxattr':
      case 'llistxattr':
        return this.xattrRead(note, base, name);
      case 'setxattr':
      case 'lsetxattr':
      case 'removexattr':
      case 'lremovexattr':
        return this.xattrWrite(note, base, name);
      case 'inotify_add_watch': {
        const IN_DONT_FOLLOW = 0x02000000;
        const mask = u32(a[2]);
        return this.pathOp(note, base, [{ dirfd: AT_FDCWD, addr: a[1]!, follow: !(mask & IN_DONT_FOLLOW) }], p =>
          this.onTargetFd(note, s32(a[0]), fd => {
            const r = this.n.pathCall('inotify_add_watch', p[0]!, fd, mask) as number;
            return r < 0 ? fail(r) : ok(r);
          }),
        );
      }
      case 'sendto':
      case 'sendmsg':
      case 'sendmmsg':
        // i386 sends notified only for the flag, which is in a register
        // here: checked, and the rest let through as the kernel would.
        if (emu === 'linux32' && this.opts.fastOpenNotified?.(name)) return this.fastOpenOnly(note, base, a[FASTOPEN_FLAGS[name]!]!);
        if (name === 'sendmmsg') return this.integerOnly(note, base, name);
        return name === 'sendto' ? this.sendto(note, base, emu) : this.sendmsg(note, base, emu);
      case 'connect':
      case 'bind':
        return this.socketCall(note, base, name, a);
      case 'socketcall':
        return emu === 'linux32' ? this.socketcall(note, base) : this.integerOnly(note, base, name);
      default:
        return this.integerOnly(note, base, name);
    }
  }

  /** Whether the policy's ioctl rules test cmd (then TIOCSTI is its explicit choice). */
  private namesTiocsti(emu: Emulation): boolean {
    const rules = this.opts.policies.get(emu)?.policy.rules.get('ioctl') ?? [];
    return rules.some(r => /\bcmd\b/.test(r.text));
  }

  /** A send notified only for MSG_FASTOPEN: refused with it, else let through to the kernel. */
  private fastOpenOnly(note: Notification, view: CallView, flags: bigint): Prepared {
    return {
      view,
      shown: '',
      perform: () => (Number(flags & 0xffffffffn) & MSG_FASTOPEN ? this.refuseFastOpen(note) : 'continue'),
    };
  }

  private refuseFastOpen(note: Notification): Outcome {
    // As in the kernel filter (compile.ts: guardFastOpen): it would
    // connect the socket, which the connect rules never see.
    this.opts.report(`systrace: a send with MSG_FASTOPEN connects, and connect is restricted: denied (pid ${note.pid})`);
    return fail(-errnoOf('EPERM'));
  }

  /** Marks a call whose argument the kernel reads itself: it cannot be rewritten. */
  private noRewrite(p: Prepared | number, why: string): Prepared | number {
    if (typeof p !== 'number') p.noRewrite = why;
    return p;
  }

  /** A call decided on its integer arguments alone: CONTINUE is exact (registers are not re-read). */
  private integerOnly(note: Notification, view: CallView, name: string): Prepared {
    return {
      view,
      shown: '',
      perform: () => {
        if (name === 'seccomp' && !this.opts.policies.get(view.emulation)?.policy.rules.has('seccomp')) {
          // As in the kernel filter (hardenEscapes): a listener of its own
          // would let the program answer its own notified calls.
          const NEW_LISTENER = 8n;
          if ((view.args[1] ?? 0n) & NEW_LISTENER) {
            this.opts.report(`systrace: seccomp with a new listener is never permitted here: denied (pid ${note.pid})`);
            return fail(-errnoOf('EPERM'));
          }
        }
        if (name === 'ioctl' && ((view.args[1] ?? 0n) & 0xffffffffn) === 0x5412n && !this.namesTiocsti(view.emulation)) {
          this.opts.report(`systrace: ioctl(TIOCSTI) would type into a terminal: denied (pid ${note.pid})`);
          return fail(-errnoOf('EPERM'));
        }
        if (name === 'clone') {
          // The guards the kernel filter puts on a clone it permits outright
          // (see hardenEscapes in the compiler), for a clone decided here.
          const flags = view.args[0] ?? 0n;
          const named = this.opts.policies.get(view.emulation)?.policy.rules.has('clone');
          if ((flags & (CLONE_VM | CLONE_THREAD | CLONE_VFORK)) === CLONE_VM ||
            (flags & (CLONE_VM | CLONE_THREAD | CLONE_PARENT)) === (CLONE_VM | CLONE_PARENT) ||
            (!named && flags & (CLONE_NEWUSER | CLONE_NEWNS))) {
            this.opts.report(`systrace: clone with flags 0x${flags.toString(16)} is never permitted here: denied (pid ${note.pid})`);
            return fail(-errnoOf('EPERM'));
          }
        }
        if (MEMORY_CALLS.has(name)) {
          // A call whose pointer argument the policy could not see: permitted
          // only if we can carry it out, and this one we cannot yet.
          this.opts.report(`systrace: ${name} is permitted by the policy but not emulated yet: denied (EPERM)`);
          return fail(-errnoOf('EPERM'));
        }
        return 'continue';
      },
    };
  }

  /**
   * A path argument. Bytes that are not UTF-8 are refused (EILSEQ): a JS
   * string would carry them changed, and the check and the call would then
   * be about another name than the program's.
   */
  private readPath(note: Notification, addr: bigint): string | number {
    const r = this.n.procReadString(note.pid, addr, PATH_MAX, true);
    if (r === -errnoOf('EILSEQ')) this.opts.report(`systrace: a path that is not UTF-8 cannot be checked here: refused with EILSEQ (pid ${note.pid})`);
    return r;
  }

  /**
   * Normalise a path as the target would see it. Unresolvable paths are
   * shown as Systrace showed them and carry the errno the kernel would give.
   */
  private normalise(note: Notification, dirfd: number, raw: string, follow: boolean): { shown: string; path?: string; errno?: number; magic?: string } {
    const r = this.n.resolvePath(0, note.pid, dirfd, raw, follow);
    if (typeof r === 'number') return { shown: `/<non-existent filename>: ${raw}`, errno: r };
    if ('missing' in r) return { shown: this.selfName(note.pid, r.missing), errno: -r.errno };
    return { shown: this.selfName(note.pid, r.path), path: r.path, ...(r.magic ? { magic: r.magic } : {}) };
  }

  /** The target's own /proc/PID prints as /proc/self. */
  private selfName(tid: number, p: string): string {
    if (!p.startsWith('/proc/')) return p;
    const m = /^\/proc\/(\d+)(\/task\/(\d+))?(?=\/|$)/.exec(p);
    if (!m) return p;
    const tgid = this.tgid(tid);
    if (Number(m[1]) !== tgid) return p;
    return '/proc/self' + p.slice(m[0].length);
  }

  /** A file under /proc/PID, whole (latin1), or undefined when it cannot be read. */
  private proc(pid: number, file: string, max = 1 << 20): string | undefined {
    const text = this.n.procFile(`/proc/${pid}/${file}`, max);
    return typeof text === 'number' ? undefined : text;
  }

  private tgid(tid: number): number {
    const m = /\nTgid:\s*(\d+)/.exec(this.proc(tid, 'status') ?? '');
    return m ? Number(m[1]) : tid;
  }

  private umask(tid: number): number {
    const m = /\nUmask:\s*([0-7]+)/.exec(this.proc(tid, 'status') ?? '');
    return m ? parseInt(m[1]!, 8) : 0o022;
  }

  private open(note: Notification, view: CallView, dirfd: number, addr: bigint, flags: number, mode: number): Prepared | number {
    const raw = this.readPath(note, addr);
    if (typeof raw === 'number') return raw;
    // With O_PATH the kernel ignores O_CREAT|O_EXCL and follows a final symlink.
    const follow = followsLink(raw, !(flags & O_NOFOLLOW) && ((flags & O_PATH) !== 0 || (flags & (O_CREAT | O_EXCL)) !== (O_CREAT | O_EXCL)));
    const norm = this.normalise(note, dirfd, raw, follow);
    view.filenames = [norm.shown];
    const target: Target = { paths: [{ path: norm.path, errno: norm.errno, follow }] };
    return {
      view,
      shown: `filename: ${norm.shown}`,
      target,
      perform: () => {
        // The kernel refuses a create through a trailing slash before it
        // looks the name up (O_PATH drops O_CREAT); the normalised path
        // has lost the slash.
        if (flags & O_CREAT && !(flags & O_PATH) && raw.endsWith('/')) return fail(-errnoOf('EISDIR'));
        const path = target.paths[0]!.path;
        if (path === undefined) return fail(target.paths[0]!.errno ?? -errnoOf('ENOENT'));
        if (OTHER_PROC_MEM.test(norm.shown) || OTHER_PROC_MEM.test(path)) {
          // Another process's memory: writing it would let one confined
          // process change another's arguments after our check.
          this.opts.report(`systrace: ${norm.shown} is another process's memory: denied (pid ${note.pid})`);
          return fail(-errnoOf('EACCES'));
        }
        if (flags & O_PATH) {
          // The kernel will not inject an O_PATH file (ADDFD takes only
          // files fget() returns). CONTINUE is exact when nothing can
          // change the path's bytes after our check (see pathRace); a
          // rewritten one cannot be continued at all.
          if (path !== norm.path) return fail(-errnoOf('EPERM'));
          const race = this.pathRace(note.pid, addr, raw, follow);
          if (!race) return 'continue';
          this.opts.report(`systrace: O_PATH open of ${norm.shown} cannot be checked race-free (${race}): denied (pid ${note.pid})`);
          return fail(-errnoOf('EPERM'));
        }
        const creating = (flags & O_CREAT) !== 0 || (flags & O_TMPFILE) === O_TMPFILE;
        const m = creating ? mode & ~this.umask(note.pid) & 0o7777 : 0;
        // A kept /proc magic link must still lead to the object checked.
        const fd = this.n.openResolved(path, flags & ~O_CLOEXEC, m, path === norm.path ? norm.magic : undefined);
        if (fd < 0) return fail(fd);
        try {
          const r = this.n.notifyAddFd(this.opts.listenerFd, note.id, fd, (flags & O_CLOEXEC) !== 0, true);
          return r < 0 && r !== -errnoOf('ENOENT') ? fail(r) : 'answered';
        } finally {
          this.n.closeFd(fd);
        }
      },
    };
  }

  private openat2(note: Notification, view: CallView): Prepared | number {
    const a = note.args;
    const size = Number(a[3]);
    if (size < 24) return -errnoOf('EINVAL');
    const how = this.n.procReadMemory(note.pid, a[2]!, 24);
    if (typeof how === 'number') return how;
    const flags = how.readBigUInt64LE(0);
    const mode = how.readBigUInt64LE(8);
    const resolve = how.readBigUInt64LE(16);
    // The program's own RESOLVE_* restrictions would have to be honoured on
    // top of ours; until they are, openat2 with any of them is refused as
    // unknown, and libcs fall back to openat.
    if (resolve !== 0n || flags > 0xffffffffn) return -errnoOf('ENOSYS');
    view.openHowFlags = flags;
    return this.open(note, view, s32(a[0]), a[1]!, Number(flags), Number(mode));
  }

  /**
   * The stat family. `newfstatat(fd, "", AT_EMPTY_PATH)` is how glibc
   * spells fstat(fd): it names no file, so it is decided as `fstat` would
   * be (a documented policy choice) and carried out on the fd itself.
   */
  private stat(note: Notification, view: CallView, dirfd: number, addr: bigint, buf: bigint, flags: number, emu: Emulation, name: string): Prepared | number {
    const raw = this.readPath(note, addr);
    if (typeof raw === 'number') return raw;
    const write = (st: Buffer | number): Outcome => {
      if (typeof st === 'number') return fail(st);
      const out = emu === 'linux' ? st : toStat64(st);
      const w = this.n.procWriteMemory(note.pid, buf, out);
      return w < 0 ? fail(w) : ok(0);
    };
    if (raw === '' && flags & AT_EMPTY_PATH && dirfd !== AT_FDCWD) {
      view.syscall = emu === 'linux' ? 'fstat' : 'fstat64';
      return { view, shown: `fd: ${dirfd}`, perform: () => this.onTargetFd(note, dirfd, fd => write(this.n.fdStat(fd))) };
    }
    const follow = followsLink(raw, !(flags & AT_SYMLINK_NOFOLLOW));
    const norm = this.normalise(note, raw === '' && flags & AT_EMPTY_PATH ? AT_FDCWD : dirfd, raw === '' && flags & AT_EMPTY_PATH ? '.' : raw, follow);
    view.filenames = [norm.shown];
    const target: Target = { paths: [{ path: norm.path, errno: norm.errno, follow }] };
    return {
      view,
      shown: `filename: ${norm.shown}`,
      target,
      perform: () => {
        const t = target.paths[0]!;
        return t.path === undefined ? fail(t.errno ?? -errnoOf('ENOENT')) : write(this.n.pathCall(name.startsWith('l') ? 'lstat' : 'stat', t.path));
      },
    };
  }

  private statx(note: Notification, view: CallView): Prepared | number {
    const a = note.args;
    const dirfd = s32(a[0]);
    const flags = s32(a[2]);
    const mask = u32(a[3]);
    const buf = a[4]!;
    const raw = this.readPath(note, a[1]!);
    if (typeof raw === 'number') return raw;
    const write = (st: Buffer | number): Outcome => {
      if (typeof st === 'number') return fail(st);
      const w = this.n.procWriteMemory(note.pid, buf, st);
      return w < 0 ? fail(w) : ok(0);
    };
    if (raw === '' && flags & AT_EMPTY_PATH && dirfd !== AT_FDCWD) {
      view.syscall = view.emulation === 'linux' ? 'fstat' : 'fstat64';
      return { view, shown: `fd: ${dirfd}`, perform: () => this.onTargetFd(note, dirfd, fd => write(this.n.fdStatx(fd, mask, flags))) };
    }
    const empty = raw === '' && flags & AT_EMPTY_PATH;
    const follow = followsLink(raw, !(flags & AT_SYMLINK_NOFOLLOW));
    const norm = this.normalise(note, dirfd, empty ? '.' : raw, follow);
    view.filenames = [norm.shown];
    const target: Target = { paths: [{ path: norm.path, errno: norm.errno, follow }] };
    return {
      view,
      shown: `filename: ${norm.shown}`,
      target,
      perform: () => {
        const t = target.paths[0]!;
        return t.path === undefined ? fail(t.errno ?? -errnoOf('ENOENT')) : write(this.n.pathCall('statx', t.path, mask, flags));
      },
    };
  }

  private readlink(note: Notification, view: CallView, dirfd: number, addr: bigint, buf: bigint, size: number): Prepared | number {
    if (size <= 0) return -errnoOf('EINVAL');
    return this.pathOp(note, view, [{ dirfd, addr, follow: false }], p => {
      const r = this.n.pathCall('readlink', p[0]!);
      if (typeof r === 'number') return r;
      const out = r.subarray(0, Math.min(r.length, size));
      const w = this.n.procWriteMemory(note.pid, buf, out);
      return w < 0 ? w : out.length;
    });
  }

  /** Calls on one or two paths that the supervisor performs itself. */
  private pathOp(
    note: Notification,
    view: CallView,
    paths: { dirfd: number; addr: bigint; follow: boolean; entry?: true; creates?: 'file' | 'dir' | 'rename-to' }[],
    run: (resolved: string[]) => number | Buffer | Outcome,
    extra?: string,
  ): Prepared | number {
    const shown: string[] = [];
    const target: Target = { paths: [] };
    const slashed: boolean[] = [];
    for (const p of paths) {
      const raw = this.readPath(note, p.addr);
      if (typeof raw === 'number') return raw;
      slashed.push(raw.endsWith('/'));
      const follow = followsLink(raw, p.follow, p.entry);
      const norm = this.normalise(note, p.dirfd, raw, follow);
      shown.push(norm.shown);
      target.paths.push({ path: norm.path, errno: norm.errno, follow });
    }
    view.filenames = shown;
    const label = shown.map((s, i) => `${i === 0 ? 'filename' : `filename[${i}]`}: ${s}`);
    if (extra) label.push(extra);
    return {
      view,
      shown: label.join(', '),
      target,
      perform: () => {
        const why = entrySlash(paths, slashed, target);
        if (why !== undefined) return fail(-errnoOf(why));
        const missing = target.paths.find(t => t.path === undefined);
        if (missing) return fail(missing.errno ?? -errnoOf('ENOENT'));
        const r = run(target.paths.map(t => t.path!));
        if (typeof r === 'number') return r < 0 ? fail(r) : ok(r);
        if (Buffer.isBuffer(r)) return ok(0);
        return r;
      },
    };
  }

  /**
   * execve cannot be performed for the target, so a permit is a CONTINUE.
   * It is exact only when nothing can change the path's bytes between our
   * check and the kernel's read (see execRace).
   */
  private exec(note: Notification, view: CallView, dirfd: number, addr: bigint, flags: number): Prepared | number {
    return this.noRewrite(this.execPrepared(note, view, dirfd, addr, flags), 'the kernel reads execve\'s path itself');
  }

  private execPrepared(note: Notification, view: CallView, dirfd: number, addr: bigint, flags: number): Prepared | number {
    const raw = this.readPath(note, addr);
    if (typeof raw === 'number') return raw;
    if (raw === '' && flags & AT_EMPTY_PATH) return -errnoOf('EPERM');
    // argv, for Systrace's argv translator: read whole or not at all (a
    // rule must never see half of it); where each string lies is kept, for
    // the race check below.
    const argv = this.readArgv(note, view.emulation, note.args[view.syscall === 'execveat' ? 2 : 1]!);
    if (typeof argv === 'number') return argv;
    view.argv = argv.words;
    const norm = this.normalise(note, dirfd, raw, true);
    view.filenames = [norm.shown];
    const words = argv.words.join(' ');
    return {
      view,
      shown: `filename: ${norm.shown}, argv: ${words.length > 200 ? `${words.slice(0, 200)}...` : words}`,
      perform: () => {
        if (norm.path === undefined) return fail(norm.errno ?? -errnoOf('ENOENT'));
        const race = this.pathRace(note.pid, addr, raw, true, argv.regions);
        if (race) {
          this.opts.report(`systrace: execve of ${norm.shown} cannot be checked race-free (${race}): denied (pid ${note.pid})`);
          return fail(-errnoOf('EPERM'));
        }
        return 'continue';
      },
    };
  }

  /**
   * Why another task could change a path argument's bytes after our check
   * (for the calls that must be CONTINUEd: execve, O_PATH opens), or
   * undefined when none can:
   * - the caller must be its process's only thread;
   * - it may share its memory only with vfork parents (the kernel filter
   *   refuses clone(CLONE_VM) without CLONE_VFORK or CLONE_THREAD, and
   *   with CLONE_PARENT outside a thread, so each is the parent of the
   *   next), which are blocked in vfork; each of them must be
   *   single-threaded too;
   * - the path's bytes must lie in private memory that no other process
   *   maps: an anonymous private mapping, or a private mapping of a file
   *   this user cannot write (a sibling could otherwise rewrite the file
   *   under a page not yet copied on write).
   * ptrace, process_vm_writev and /proc/PID/mem of other processes are
   * denied to confined programs, so no other confined task writes there.
   */
  /** The argv array and its strings, bounded; -errno as the kernel would answer (EFAULT, E2BIG). */
  private readArgv(note: Notification, emu: Emulation, ptr: bigint): { words: string[]; regions: { addr: bigint; len: number }[] } | number {
    const MAX_WORDS = 16384;
    const MAX_BYTES = 1 << 20;
    const size = emu === 'linux' ? 8 : 4;
    const words: string[] = [];
    const regions: { addr: bigint; len: number }[] = [];
    if (ptr === 0n) return { words, regions };
    let total = 0;
    // The pointers are read a page's worth at a time (never past the page
    // end, where the array may end and the next page be unmapped).
    let cells: Buffer | undefined;
    let at = 0;
    for (let i = 0; ; i++) {
      if (i >= MAX_WORDS) return -errnoOf('E2BIG');
      const slot = ptr + BigInt(i * size);
      if (cells === undefined || at + size > cells.length) {
        const toPageEnd = 4096 - Number(slot % 4096n);
        const chunk = Math.max(size, Math.min(toPageEnd, 1024) - (Math.min(toPageEnd, 1024) % size));
        const got = this.n.procReadMemory(note.pid, slot, chunk);
        if (typeof got === 'number') return got;
        cells = got;
        at = 0;
      }
      regions.push({ addr: slot, len: size });
      const p = size === 8 ? cells.readBigUInt64LE(at) : BigInt(cells.readUInt32LE(at));
      at += size;
      if (p === 0n) break;
      const w = this.n.procReadString(note.pid, p, PATH_MAX * 32);
      if (typeof w === 'number') return w === -errnoOf('ENAMETOOLONG') ? -errnoOf('E2BIG') : w;
      total += Buffer.byteLength(w) + 1;
      if (total > MAX_BYTES) return -errnoOf('E2BIG');
      words.push(w);
      regions.push({ addr: p, len: Buffer.byteLength(w) + 1 });
    }
    return { words, regions };
  }

  private pathRace(tid: number, addr: bigint, raw: string, follow: boolean, more: { addr: bigint; len: number }[] = []): string | undefined {
    const len = Buffer.byteLength(raw) + 1;
    // The kernel resolves the path again. It must not be able to reach
    // anything else: an absolute path (a relative one depends on a cwd or
    // dirfd another task may share and change), and every directory it
    // passes through (symlinks and all) beyond this user's power to change.
    if (!raw.startsWith('/')) return 'a relative path: the kernel would resolve it again against a cwd or dirfd';
    const r = this.n.resolvePath(0, tid, AT_FDCWD, raw, follow, true);
    if (typeof r === 'number' || 'missing' in r) return 'the path does not resolve';
    for (const name of new Set(r.dirs ?? [])) {
      if (this.userCanChange(name)) return `${name} could be replaced by this user (its directory is writable)`;
    }
    return this.memoryRace(tid, [{ addr, len }, ...more]);
  }

  /**
   * Why another task could change the bytes at `regions` (the first one
   * the call's own, the rest its argv) before the kernel reads them again;
   * undefined when none can: the caller is its process's only thread, so
   * is every vfork parent sharing its memory, and the bytes lie in private
   * memory no other process maps.
   */
  private memoryRace(tid: number, regions: { addr: bigint; len: number }[]): string | undefined {
    const self = this.task(tid);
    if (self?.threads !== 1) return 'the process has other threads';
    let parent = self.ppid;
    for (let depth = 0, cur = tid; ; depth++) {
      if (parent <= 1 || this.n.sameMemory(cur, parent) !== 1) break;
      // Past this many vfork parents the chain is not followed to its top
      // (whose other threads could write the path): refused.
      if (depth === 64) return 'more than 64 vfork parents share its memory';
      const up = this.task(parent);
      if (up?.threads !== 1) return 'a vfork parent has other threads';
      cur = parent;
      parent = up.ppid;
    }
    const found = this.mappings(tid, regions.map(r => r.addr));
    if (found === undefined) return 'its memory map is unreadable';
    for (const [i, region] of regions.entries()) {
      const why = this.privateMemory(found[i], region.addr, region.len);
      if (why) return i === 0 ? why : `argv: ${why}`;
    }
    return undefined;
  }

  /** The mapping of TID that covers each address, by PROCMAP_QUERY (Linux 6.11) or else from the text of /proc/TID/maps. */
  private mappings(tid: number, addrs: bigint[]): (Mapping | null)[] | undefined {
    const asked = this.n.procMappings(tid, addrs);
    if (asked !== -errnoOf('ENOTTY')) return typeof asked === 'number' ? undefined : asked;
    const text = this.proc(tid, 'maps', 64 << 20);
    if (text === undefined) return undefined;
    const all = parseMaps(text);
    return addrs.map(a => all.find(m => a >= m.lo && a < m.hi) ?? null);
  }

  /** Why [addr, addr+len) could change under another task, from /proc/PID/maps; undefined if it cannot. */
  private privateMemory(m: Mapping | null | undefined, addr: bigint, len: number): string | undefined {
    const end = addr + BigInt(len);
    if (!m) return 'the path is not in mapped memory';
    if (end > m.hi) return 'the path crosses a mapping boundary';
    if (!m.private) return 'the path is in shared memory';
    if (m.inode === '0') return undefined; // anonymous private memory: the heap, the stack
    return mappedFileChangeable(m);
  }

  /**
   * Whether this user (the program's) could replace the entry `name` (swap
   * it for a symlink, rename another file over it): its directory is
   * writable to the user, and not a sticky directory (/tmp) where the
   * entry belongs to someone else.
   */
  private userCanChange(name: string): boolean {
    const dir = path.posix.dirname(name);
    if (dir === name) return false; // "/"
    try {
      const st = fs.statSync(dir);
      const uid = this.opts.user.uid;
      // The owner of a directory can always make it writable (chmod), so
      // a directory of the user's own counts as writable even at 0555.
      const writable = uid === 0 ? st.uid !== 0 || (st.mode & 0o022) !== 0 : st.uid === uid || ((): boolean => {
        try {
          fs.accessSync(dir, fs.constants.W_OK);
          return true;
        } catch {
          return false;
        }
      })();
      if (!writable) return false;
      if (st.mode & 0o1000) {
        const entry = fs.lstatSync(name, { throwIfNoEntry: false });
        if (entry && entry.uid !== uid && st.uid !== uid) return false;
      }
      return true;
    } catch {
      return true; // cannot tell: assume the worst
    }
  }

  /** From /proc/PID/stat: the parent (field 4) and the thread count (field 20). */
  private task(pid: number): { ppid: number; threads: number } | undefined {
    const stat = this.proc(pid, 'stat');
    if (stat === undefined) return undefined;
    // The command name (field 2) may hold spaces and parentheses: fields
    // are counted from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ppid = Number(fields[1]);
    const threads = Number(fields[17]);
    return Number.isInteger(ppid) && Number.isInteger(threads) ? { ppid, threads } : undefined;
  }

  /**
   * connect and bind are performed on the target's own socket, taken with
   * pidfd_getfd, with our copy of the address: what was checked is what
   * is used.
   */
  private socketCall(note: Notification, view: CallView, name: 'connect' | 'bind', a: readonly bigint[]): Prepared | number {
    const fd = s32(a[0]);
    const len = u32(a[2]);
    if (len > MAX_SOCKADDR) return -errnoOf('EINVAL');
    const addr = this.n.procReadMemory(note.pid, a[1]!, len);
    if (typeof addr === 'number') return addr;
    const target: Target = { paths: [], addr, ...this.unixTarget(note, addr, name === 'bind') };
    view.sockaddr = target.unix?.path ?? formatSockaddr(addr);
    return {
      view,
      shown: `sockaddr: ${view.sockaddr}`,
      target,
      perform: () => {
        const use = this.addrFor(note, target);
        if (typeof use === 'number') return fail(use);
        if (name === 'connect') return this.connect(note, fd, use.buf, use.release);
        try {
          return this.onTargetFd(note, fd, sock => {
            // bind creates the socket file: with the program's umask, not ours (0).
            const old = this.n.setUmask(this.umask(note.pid));
            try {
              const r = this.n.socketBind(sock, use.buf);
              return r < 0 ? fail(r) : ok(0);
            } finally {
              this.n.setUmask(old);
            }
          });
        } finally {
          use.release();
        }
      },
    };
  }

  /**
   * i386 socketcall(call, args): the call number is a register, the
   * arguments sit in the target's memory. They are read once and the
   * sub-call is decided as the call it names (connect, socket ...) on that
   * copy. A permit is carried out on the copy (bind, connect, socket), or
   * is a CONTINUE only when the policy permits that call whatever its
   * arguments, so that changing them after the check gains nothing.
   */
  private socketcall(note: Notification, view: CallView): Prepared | number {
    const call = u32(note.args[0]);
    const sub = SOCKETCALLS[call];
    if (!sub) return -errnoOf('EINVAL');
    const argsAt = note.args[1]!;
    const mem = this.n.procReadMemory(note.pid, argsAt, 4 * sub.args);
    if (typeof mem === 'number') return mem;
    const args: bigint[] = [];
    for (let i = 0; i < 6; i++) args.push(i < sub.args ? BigInt(mem.readUInt32LE(4 * i)) : 0n);
    const subView: CallView = { ...view, syscall: sub.name, args };
    if (sub.name === 'connect' || sub.name === 'bind') return this.socketCall(note, subView, sub.name, args);
    if (sub.name in FASTOPEN_FLAGS && this.opts.fastOpenRefused?.('linux32')) {
      // MSG_FASTOPEN is read from the copy of the arguments. A send the
      // kernel would have carried out gets them read again by the kernel
      // only when nothing can change them meanwhile (as for execve);
      // otherwise the send is carried out on the copy, where sendData
      // refuses the flag (sendmmsg, which systrace does not carry out, is
      // refused by integerOnly).
      const stable = this.opts.fastOpenNotified?.(sub.name) && this.memoryRace(note.pid, [{ addr: argsAt, len: 4 * sub.args }]) === undefined;
      if (stable) return this.fastOpenOnly(note, subView, args[FASTOPEN_FLAGS[sub.name]!]!);
      return sub.name === 'sendto' ? this.sendto({ ...note, args }, subView, 'linux32', true)
        : sub.name === 'sendmsg' ? this.sendmsg({ ...note, args }, subView, 'linux32')
        : this.integerOnly(note, subView, sub.name);
    }
    if (sub.name === 'socket') {
      return {
        view: subView,
        shown: '',
        perform: () => {
          const fd = this.n.socketCreate(s32(args[0]), s32(args[1]), s32(args[2]));
          if (fd < 0) return fail(fd);
          try {
            const SOCK_CLOEXEC = 0o2000000;
            const r = this.n.notifyAddFd(this.opts.listenerFd, note.id, fd, (s32(args[1]) & SOCK_CLOEXEC) !== 0, true);
            return r < 0 && r !== -errnoOf('ENOENT') ? fail(r) : 'answered';
          } finally {
            this.n.closeFd(fd);
          }
        },
      };
    }
    return {
      view: subView,
      shown: '',
      perform: () => {
        if (this.opts.unconditional?.('linux32', sub.name)) return 'continue';
        this.opts.report(`systrace: socketcall(${sub.name}) is permitted only for some arguments, which sit in the program's memory: denied (EPERM)`);
        return fail(-errnoOf('EPERM'));
      },
    };
  }

  /**
   * The utime family: the times are read once, converted to two x86_64
   * timespecs, and applied to the object the normalised path names.
   */
  private utimes(
    note: Notification,
    view: CallView,
    dirfd: number,
    addr: bigint,
    timesAddr: bigint,
    shape: 'timespec' | 'timespec32' | 'timeval' | 'timeval32' | 'utimbuf' | 'utimbuf32',
    flags: number,
  ): Prepared | number {
    let times: Buffer | undefined;
    if (timesAddr !== 0n) {
      const size = { timespec: 32, timespec32: 16, timeval: 32, timeval32: 16, utimbuf: 16, utimbuf32: 8 }[shape];
      const raw = this.n.procReadMemory(note.pid, timesAddr, size);
      if (typeof raw === 'number') return raw;
      times = Buffer.alloc(32);
      for (let i = 0; i < 2; i++) {
        let sec: bigint;
        let nsec: bigint;
        if (shape === 'timespec') {
          sec = raw.readBigInt64LE(16 * i);
          nsec = raw.readBigInt64LE(16 * i + 8);
        } else if (shape === 'timespec32') {
          sec = BigInt(raw.readInt32LE(8 * i));
          nsec = BigInt(raw.readInt32LE(8 * i + 4));
        } else if (shape === 'timeval') {
          sec = raw.readBigInt64LE(16 * i);
          nsec = raw.readBigInt64LE(16 * i + 8) * 1000n;
        } else if (shape === 'timeval32') {
          sec = BigInt(raw.readInt32LE(8 * i));
          nsec = BigInt(raw.readInt32LE(8 * i + 4)) * 1000n;
        } else {
          sec = shape === 'utimbuf' ? raw.readBigInt64LE(8 * i) : BigInt(raw.readInt32LE(4 * i));
          nsec = 0n;
        }
        times.writeBigInt64LE(sec, 16 * i);
        times.writeBigInt64LE(nsec, 16 * i + 8);
      }
    }
    if (addr === 0n && shape.startsWith('timespec')) {
      // futimens(fd) is utimensat(fd, NULL, ...): it names no file, so it
      // is decided on the call alone and carried out on the fd itself.
      // For the policy, the fd is named by the file it is open on.
      // The calling thread's own fd table (it may not share its leader's),
      // the same one pidfd_getfd takes the fd from below.
      const norm = this.normalise(note, AT_FDCWD, `/proc/thread-self/fd/${dirfd}`, true);
      view.filenames = [norm.shown];
      return {
        view,
        shown: `fd: ${dirfd}, filename: ${norm.shown}`,
        perform: () =>
          this.onTargetFd(note, dirfd, fd => {
            const r = this.n.fdUtimens(fd, times);
            return r < 0 ? fail(r) : ok(0);
          }),
      };
    }
    return this.pathOp(note, view, [{ dirfd, addr, follow: !(flags & AT_SYMLINK_NOFOLLOW) }], p =>
      this.n.pathCall('utimens', p[0]!, 0, 0, undefined, times),
    );
  }

  private xattrRead(note: Notification, view: CallView, name: string): Prepared | number {
    const a = note.args;
    const list = name.includes('list');
    const attr = list ? undefined : this.n.procReadString(note.pid, a[1]!, 256, true);
    if (typeof attr === 'number') return attr;
    const bufAddr = list ? a[1]! : a[2]!;
    const size = u32(list ? a[2] : a[3]);
    return this.pathOp(note, view, [{ dirfd: AT_FDCWD, addr: a[0]!, follow: !name.startsWith('l') }], p => {
      const r = this.n.pathCall(name, p[0]!, size, 0, attr);
      if (typeof r === 'number') return r;
      const w = this.n.procWriteMemory(note.pid, bufAddr, r);
      return w < 0 ? w : r.length;
    }, attr === undefined ? undefined : `xattr: ${attr}`);
  }

  private xattrWrite(note: Notification, view: CallView, name: string): Prepared | number {
    const a = note.args;
    const attr = this.n.procReadString(note.pid, a[1]!, 256, true);
    if (typeof attr === 'number') return attr;
    let value: Buffer | undefined;
    if (name.includes('set')) {
      const size = u32(a[3]);
      if (size > 65536) return -errnoOf('E2BIG');
      const v = this.n.procReadMemory(note.pid, a[2]!, size);
      if (typeof v === 'number') return v;
      value = v;
    }
    return this.pathOp(note, view, [{ dirfd: AT_FDCWD, addr: a[0]!, follow: !name.startsWith('l') }], p =>
      this.n.pathCall(name, p[0]!, value ? s32(a[4]) : 0, 0, attr, value),
    `xattr: ${attr}`);
  }

  /**
   * sendto with an address is carried out on the target's socket with our
   * copy of the data and the address. Without one (a register holds the
   * NULL), nothing in memory decides the call, and CONTINUE is exact.
   */
  private sendto(note: Notification, view: CallView, emu: Emulation, copied = false): Prepared | number {
    const a = note.args;
    const addrPtr = emu === 'linux' ? a[4]! : BigInt(u32(a[4]));
    if (addrPtr === 0n) {
      // Arguments read from memory (socketcall's) would be read again by
      // the kernel: carried out on the copy, as is any MSG_FASTOPEN check.
      if (copied || (s32(a[3]) & MSG_FASTOPEN && this.opts.fastOpenRefused?.(emu))) {
        return { view, shown: '', perform: () => this.send(note, s32(a[0]), a[1]!, u32(a[2]), s32(a[3])) };
      }
      return { view, shown: '', perform: () => 'continue' };
    }
    const len = u32(a[5]);
    if (len > MAX_SOCKADDR) return -errnoOf('EINVAL');
    const addr = this.n.procReadMemory(note.pid, addrPtr, len);
    if (typeof addr === 'number') return addr;
    const target: Target = { paths: [], addr, ...this.unixTarget(note, addr, false) };
    view.sockaddr = target.unix?.path ?? formatSockaddr(addr);
    return {
      view,
      shown: `sockaddr: ${view.sockaddr}`,
      target,
      perform: () => {
        const use = this.addrFor(note, target);
        if (typeof use === 'number') return fail(use);
        return this.send(note, s32(a[0]), a[1]!, u32(a[2]), s32(a[3]), use.buf, use.release);
      },
    };
  }

  /** sendmsg: the header and the data are read once; control messages (fds, credentials) are not carried. */
  private sendmsg(note: Notification, view: CallView, emu: Emulation): Prepared | number {
    const a = note.args;
    const wide = emu === 'linux';
    const hdr = this.n.procReadMemory(note.pid, a[1]!, wide ? 56 : 28);
    if (typeof hdr === 'number') return hdr;
    const word = (off32: number, off64: number): bigint => (wide ? hdr.readBigUInt64LE(off64) : BigInt(hdr.readUInt32LE(off32)));
    const namePtr = word(0, 0);
    const nameLen = hdr.readUInt32LE(wide ? 8 : 4);
    const iovPtr = word(8, 16);
    const iovLen = Number(word(12, 24));
    const controlLen = Number(word(20, 40));
    let addr: Buffer | undefined;
    if (namePtr !== 0n) {
      if (nameLen > MAX_SOCKADDR) return -errnoOf('EINVAL');
      const r = this.n.procReadMemory(note.pid, namePtr, nameLen);
      if (typeof r === 'number') return r;
      addr = r;
    }
    const target: Target = { paths: [], addr, ...(addr ? this.unixTarget(note, addr, false) : {}) };
    if (addr) view.sockaddr = target.unix?.path ?? formatSockaddr(addr);
    return {
      view,
      shown: view.sockaddr ? `sockaddr: ${view.sockaddr}` : '',
      target,
      perform: () => {
        if (controlLen > 0) {
          this.opts.report(`systrace: sendmsg with control data (fds, credentials) cannot be carried out for the program yet: denied (pid ${note.pid})`);
          return fail(-errnoOf('EPERM'));
        }
        if (iovLen > 1024) return fail(-errnoOf('EMSGSIZE'));
        const iov = this.n.procReadMemory(note.pid, iovPtr, iovLen * (wide ? 16 : 8));
        if (typeof iov === 'number') return fail(iov);
        const parts: Buffer[] = [];
        let total = 0;
        let cut = false;
        for (let i = 0; i < iovLen && !cut; i++) {
          const base = wide ? iov.readBigUInt64LE(16 * i) : BigInt(iov.readUInt32LE(8 * i));
          let len = Number(wide ? iov.readBigUInt64LE(16 * i + 8) : BigInt(iov.readUInt32LE(8 * i + 4)));
          if (total + len > MAX_SEND) {
            len = MAX_SEND - total;
            cut = true;
          }
          total += len;
          const part = this.n.procReadMemory(note.pid, base, len);
          if (typeof part === 'number') return fail(part);
          parts.push(part);
        }
        if (!target.addr) return this.sendData(note, s32(a[0]), Buffer.concat(parts), s32(a[2]), undefined, undefined, cut);
        const use = this.addrFor(note, target);
        if (typeof use === 'number') return fail(use);
        return this.sendData(note, s32(a[0]), Buffer.concat(parts), s32(a[2]), use.buf, use.release, cut);
      },
    };
  }

  private send(note: Notification, fd: number, buf: bigint, len: number, flags: number, addr?: Buffer, release: () => void = () => undefined): Outcome {
    const data = this.n.procReadMemory(note.pid, buf, Math.min(len, MAX_SEND));
    if (typeof data === 'number') {
      release();
      return fail(data);
    }
    return this.sendData(note, fd, data, flags, addr, release, len > MAX_SEND);
  }

  /**
   * The send itself, on the target's socket with our copies. One that must
   * wait for its peer waits in a thread of its own (native socketSend),
   * and is answered when done, as a blocking connect is. `release` (what
   * keeps a unix path's address valid) is called once the send is over.
   */
  private sendData(
    note: Notification, fd: number, data: Buffer, flags: number, addr?: Buffer, release: () => void = () => undefined, cut = false,
  ): Outcome {
    const emu: Emulation = note.arch === AUDIT_ARCH_I386 ? 'linux32' : 'linux';
    if (flags & MSG_FASTOPEN && this.opts.fastOpenRefused?.(emu)) {
      release();
      return this.refuseFastOpen(note);
    }
    if (flags & MSG_ZEROCOPY) {
      // The kernel would keep sending from our copy's pages after the call
      // returns, while we reuse them: refused, as the program's own memory
      // cannot be lent here.
      release();
      this.opts.report(`systrace: a send with MSG_ZEROCOPY cannot be carried out for the program: denied (pid ${note.pid})`);
      return fail(-errnoOf('EPERM'));
    }
    const sock = this.takeTargetFd(note, fd);
    if (sock < 0) {
      release();
      return fail(sock);
    }
    if (cut && this.n.socketKind(sock)?.type !== SOCK_STREAM) {
      // Only a stream can take the first MAX_SEND bytes as a short send.
      this.n.closeFd(sock);
      release();
      return fail(-errnoOf('EMSGSIZE'));
    }
    const done = (r: number): Outcome => {
      this.n.closeFd(sock);
      release();
      // We send with MSG_NOSIGNAL; the program gets the SIGPIPE it asked for.
      if (r === -errnoOf('EPIPE') && !(flags & MSG_NOSIGNAL)) {
        try {
          process.kill(note.pid, 'SIGPIPE');
        } catch {
          /* gone */
        }
      }
      return r < 0 ? fail(r) : ok(r);
    };
    const r = this.n.socketSend(sock, data, flags, addr, this.opts.listenerFd, note.id, note.pid, later => this.answer(note, done(later)));
    return r === undefined ? 'answered' : done(r);
  }

  /** The target's descriptor `targetFd`, ours now (pidfd_getfd), or -errno (EBADF for anything but a missing process). */
  private takeTargetFd(note: Notification, targetFd: number): number {
    const pidfd = this.pidfd(note.pid);
    if (pidfd < 0) return pidfd;
    const fd = this.n.pidfdGetfd(pidfd, targetFd);
    this.n.closeFd(pidfd);
    return fd < 0 ? -errnoOf('EBADF') : fd;
  }

  /**
   * connect on a non-blocking socket answers at once (EINPROGRESS); on a
   * blocking one it lasts as long as the peer makes it, so it runs on a
   * worker thread and is answered when done.
   */
  private connect(note: Notification, targetFd: number, addr: Buffer, release: () => void = () => undefined): Outcome {
    const sock = this.takeTargetFd(note, targetFd);
    if (sock < 0) {
      release();
      return fail(sock);
    }
    if (this.n.socketNonblocking(sock)) {
      const r = this.n.socketConnect(sock, addr);
      this.n.closeFd(sock);
      release();
      return r < 0 ? fail(r) : ok(0);
    }
    this.n.socketConnectAsync(sock, addr, r => {
      this.n.closeFd(sock);
      release();
      this.answer(note, r < 0 ? fail(r) : ok(0));
    });
    return 'answered';
  }

  /** A unix socket path in a sockaddr, normalised as the program would reach it. */
  private unixTarget(note: Notification, addr: Buffer, bind: boolean): { unix?: Target['unix'] } {
    if (addr.length < 3 || addr.readUInt16LE(0) !== 1 /* AF_UNIX */ || addr[2] === 0) return {};
    const raw = addr.subarray(2, addr.indexOf(0, 2) < 0 ? addr.length : addr.indexOf(0, 2)).toString();
    // bind makes the name (a final symlink is not followed: EADDRINUSE);
    // connect and sendto follow it to the socket.
    const norm = this.normalise(note, AT_FDCWD, raw, !bind);
    return { unix: { path: norm.path ?? norm.shown, errno: norm.path === undefined ? norm.errno ?? -errnoOf('ENOENT') : undefined, bind } };
  }

  /** The address to use: unix paths through an fd no symlink led to; release() after the call. */
  private addrFor(note: Notification, target: Target): { buf: Buffer; release(): void } | number {
    const u = target.unix;
    if (!u) return { buf: target.addr!, release: () => undefined };
    if (u.errno !== undefined) return u.errno;
    const via = this.n.unixPathVia(u.path!, u.bind);
    if (typeof via === 'number') return via;
    return { buf: via.addr, release: () => this.n.closeFd(via.fd) };
  }

  /** A pidfd for the calling thread (its fd table), without a /proc lookup where the kernel allows. */
  private pidfd(tid: number): number {
    if (this.threadPidfds) {
      const fd = this.n.pidfdOpen(tid, true);
      if (fd !== -errnoOf('EINVAL')) return fd;
      this.threadPidfds = false; // a kernel older than 6.9
    }
    return this.n.pidfdOpen(this.tgid(tid));
  }
  private threadPidfds = true;

  /** Runs `fn` on our duplicate of the target's fd, closing it after. */
  private onTargetFd(note: Notification, targetFd: number, fn: (fd: number) => Outcome): Outcome {
    const fd = this.takeTargetFd(note, targetFd);
    if (fd < 0) return fail(fd);
    try {
      return fn(fd);
    } finally {
      this.n.closeFd(fd);
    }
  }
}

/** /proc/PID/mem and /proc/PID/task/TID/mem of a process other than the caller (its own shows as /proc/self). */
const OTHER_PROC_MEM = /^\/proc\/\d+(\/task\/\d+)?\/mem$/;

/** send(2)'s flag that connects an unconnected TCP socket as it sends (TCP Fast Open). */
const MSG_FASTOPEN = 0x20000000;
/** send(2)'s flag that lends the sender's pages to the kernel past the call's return. */
const MSG_ZEROCOPY = 0x4000000;
/** send(2)'s flag against SIGPIPE. */
const MSG_NOSIGNAL = 0x4000;
const SOCK_STREAM = 1;

/** The send calls' flags argument (compile.ts guardFastOpen). */
const FASTOPEN_FLAGS: Readonly<Record<string, number>> = { sendto: 3, sendmsg: 2, sendmmsg: 3 };


/** Pointer-argument calls this supervisor cannot carry out yet. */
const MEMORY_CALLS = new Set([
  'statfs', 'getxattrat', 'setxattrat', 'listxattrat', 'removexattrat', 'statfs64', 'oldstat', 'oldlstat',
  'file_getattr', 'file_setattr', 'fanotify_mark', 'name_to_handle_at', 'sendmmsg',
  'uselib', 'acct', 'swapon', 'swapoff', 'quotactl', 'mount', 'umount', 'umount2', 'pivot_root', 'chroot',
])

/**
 * x86_64 `struct stat` (144 bytes) to i386 `struct stat64` (96 bytes,
 * 4-byte aligned 64-bit fields), which stat64, lstat64 and fstatat64 fill.
 */
export function toStat64(st: Buffer): Buffer {
  const o = Buffer.alloc(96);
  o.writeBigUInt64LE(st.readBigUInt64LE(0), 0); // st_dev
  o.writeUInt32LE(Number(st.readBigUInt64LE(8) & 0xffffffffn), 12); // __st_ino
  o.writeUInt32LE(st.readUInt32LE(24), 16); // st_mode
  o.writeUInt32LE(Number(st.readBigUInt64LE(16) & 0xffffffffn), 20); // st_nlink
  o.writeUInt32LE(st.readUInt32LE(28), 24); // st_uid
  o.writeUInt32LE(st.readUInt32LE(32), 28); // st_gid
  o.writeBigUInt64LE(st.readBigUInt64LE(40), 32); // st_rdev
  o.writeBigInt64LE(st.readBigInt64LE(48), 44); // st_size
  o.writeUInt32LE(Number(st.readBigInt64LE(56) & 0xffffffffn), 52); // st_blksize
  o.writeBigUInt64LE(st.readBigUInt64LE(64), 56); // st_blocks
  o.writeUInt32LE(Number(st.readBigInt64LE(72) & 0xffffffffn), 64); // st_atime
  o.writeUInt32LE(Number(st.readBigUInt64LE(80) & 0xffffffffn), 68);
  o.writeUInt32LE(Number(st.readBigInt64LE(88) & 0xffffffffn), 72); // st_mtime
  o.writeUInt32LE(Number(st.readBigUInt64LE(96) & 0xffffffffn), 76);
  o.writeUInt32LE(Number(st.readBigInt64LE(104) & 0xffffffffn), 80); // st_ctime
  o.writeUInt32LE(Number(st.readBigUInt64LE(112) & 0xffffffffn), 84);
  o.writeBigUInt64LE(st.readBigUInt64LE(8), 88); // st_ino
  return o;
}


/** /proc/PID/maps, line by line ("lo-hi perms offset dev inode [file]"); lines of another shape are left out. */
/**
 * Why the file a private mapping shows could change under it, or undefined
 * when it cannot: a private mapping of a file shows later writes to that
 * file until the page is copied.
 */
export function mappedFileChangeable(m: Mapping): string | undefined {
  // A private mapping of a file shows later writes to that file until
  // the page is copied: only a file nobody but root can change will do
  // (a program's or library's own strings), and it must be the very
  // file mapped (not deleted, not a memfd): the same device and inode
  // at that name, the name itself not a symlink (a deleted file of the
  // user's shows as "NAME (deleted)", which the user may then create).
  if (!m.file.startsWith('/') || m.file.endsWith(' (deleted)')) return `the path is in a mapping of ${m.file}, which is not a file at that name`;
  let st: fs.BigIntStats;
  try {
    st = fs.lstatSync(m.file, { bigint: true });
  } catch {
    return `the path is in a mapping of a file that cannot be checked (${m.file})`;
  }
  // dev_t as glibc's major() and minor() take it apart.
  const major = ((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn);
  const minor = (st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn);
  if (String(st.ino) !== m.inode || major !== BigInt(m.major) || minor !== BigInt(m.minor)) return `the path is in a mapping of ${m.file}, which is not the file at that name`;
  if (st.uid !== 0n || (st.mode & 0o022n) !== 0n || !st.isFile()) return `the path is in a mapping of ${m.file}, which others than root can write`;
  return undefined;
}

/**
 * The kernel's answer to a trailing slash on a name a call creates, which
 * the normalised path no longer shows (undefined: none):
 * - a file (symlink, mknod, link's new name): EEXIST when the name
 *   exists, else ENOENT, for the slash asks for a directory;
 * - a directory (mkdir): EEXIST when the name exists as anything;
 * - rename's new name: ENOTDIR when what is renamed is not a directory.
 * What exists is read here, when the call is performed: a name that comes
 * or goes meanwhile changes only which error is answered.
 */
function entrySlash(
  paths: readonly { creates?: 'file' | 'dir' | 'rename-to' }[],
  slashed: readonly boolean[],
  target: Target,
): 'EEXIST' | 'ENOENT' | 'ENOTDIR' | undefined {
  const lstat = (p: string | undefined): fs.Stats | undefined =>
    p === undefined ? undefined : fs.lstatSync(p, { throwIfNoEntry: false });
  for (const [i, p] of paths.entries()) {
    if (!slashed[i] || !p.creates) continue;
    const t = target.paths[i]!;
    if (p.creates === 'rename-to') {
      const from = lstat(target.paths[0]?.path);
      if (from && !from.isDirectory()) return 'ENOTDIR';
      continue;
    }
    // ENOTDIR from the normalisation: the name exists, and is no directory.
    const exists = t.errno === -errnoOf('ENOTDIR') || lstat(t.path) !== undefined;
    if (exists) return 'EEXIST';
    if (p.creates === 'file') return 'ENOENT';
  }
  return undefined;
}

/**
 * Whether the kernel follows a final symlink of `raw`: as the call asks,
 * or because of a trailing slash, which makes every lookup of an object
 * follow it (stat, lstat, readlink, open with O_NOFOLLOW: "link/" is the
 * directory the link names). Calls on the entry itself (unlink, rmdir,
 * rename, mkdir, symlink, mknod, link's new name, a unix socket's bind)
 * look up its parent instead, and refuse the slash on anything but a
 * directory.
 */
function followsLink(raw: string, follow: boolean, entry = false): boolean {
  return follow || (!entry && /[^/]\/+$/.test(raw));
}

export function parseMaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S{3}(\S) \S+ ([0-9a-f]+):([0-9a-f]+) (\d+)\s*(.*)$/.exec(line);
    if (m) {
      out.push({
        lo: BigInt('0x' + m[1]), hi: BigInt('0x' + m[2]), private: m[3] === 'p',
        major: parseInt(m[4]!, 16), minor: parseInt(m[5]!, 16), inode: m[6]!, file: m[7] ?? '',
      });
    }
  }
  return out;
}
