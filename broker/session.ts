// One tracer's connection to the broker. The broker trusts no one but the
// kernel and root-owned files:
// - who is asking comes from the kernel (SO_PEERCRED, or the real uid the
//   setuid launcher saw), never from a message;
// - the target must run as that user (every uid of /proc/PID/status), be
//   blocked in the very call claimed (/proc/PID/syscall: number and
//   arguments), and the notification must still be pending on the listener
//   this tracer handed over (ID_VALID);
// - the arguments are read from the target by the broker itself, normalised
//   by it, checked against the administrator's policy, and that same copy
//   is what the call uses;
// - every request, granted or refused, is recorded, and the record is on
//   disk before the program sees a result; if it cannot be written, the
//   call is refused.
import type { AuditLog, AuditEntry } from './audit.js';
import type { AdminPolicy } from './admin-policy.js';
import { decideElevation } from './admin-policy.js';
import { decodeHello, decodeRequest, encodeResponse, MAX_MESSAGE, type Request } from './protocol.js';
import { blockedCall, readTarget, userInfo } from './target.js';
import type { Operation } from './ops/types.js';
import { native } from '../tracer/native.js';

export interface Caller {
  uid: number;
  gid: number;
  /** How the uid was learnt, for the log. */
  how: 'SO_PEERCRED' | 'setuid launcher';
}

export interface SessionOptions {
  policy: () => AdminPolicy;
  /** The closed set of operations: broker/ops/, one file each. */
  operations: Map<string, Operation>;
  audit: AuditLog;
  log(line: string): void;
}

const errnoName = (negative: number): string => {
  const names: Record<number, string> = { 1: 'EPERM', 2: 'ENOENT', 9: 'EBADF', 13: 'EACCES', 14: 'EFAULT', 22: 'EINVAL', 98: 'EADDRINUSE', 99: 'EADDRNOTAVAIL' };
  return names[-negative] ?? `errno ${-negative}`;
};

export class Session {
  private readonly n = native();
  private listener = -1;
  private poller: { stop(): void } | undefined;
  private closed = false;
  private readonly user: { name: string; groups: string[] };

  constructor(private readonly sock: number, private readonly caller: Caller, private readonly opts: SessionOptions, private readonly onClose: () => void) {
    this.user = userInfo(caller.uid, caller.gid);
    this.poller = new this.n.Poller(sock, () => this.readable());
  }

  private readable(): void {
    // Drain what is there; a hostile or broken peer must not stop the broker.
    for (let i = 0; i < 64 && !this.closed; i++) {
      let msg: { data: Buffer; fds: number[] } | null;
      try {
        msg = this.n.recvMessage(this.sock, MAX_MESSAGE, true);
      } catch (e) {
        this.refuseUnread(`unreadable message: ${(e as Error).message}`);
        continue;
      }
      if (msg === null) return;
      if (msg.data.length === 0 && msg.fds.length === 0) {
        this.close();
        return;
      }
      this.message(msg.data, msg.fds);
    }
  }

  private message(data: Buffer, fds: number[]): void {
    if (this.listener < 0) {
      // The first message: Hello, with the session's listener.
      let ok = false;
      try {
        ok = decodeHello(data).version === 1 && fds.length === 1;
      } catch {
        ok = false;
      }
      if (!ok) {
        for (const fd of fds) this.n.closeFd(fd);
        this.refuseUnread('the first message was not a Hello carrying one listener');
        this.close();
        return;
      }
      this.listener = fds[0]!;
      return;
    }
    for (const fd of fds) this.n.closeFd(fd); // nothing else carries fds
    let req: Request;
    try {
      req = decodeRequest(data);
    } catch (e) {
      this.refuseUnread(`malformed request: ${(e as Error).message}`);
      return;
    }
    this.request(req);
  }

  private request(req: Request): void {
    const base: AuditEntry = {
      user: this.user.name,
      uid: this.caller.uid,
      pid: req.pid,
      program: '?',
      call: req.op.slice(0, 32) || '?',
      args: {},
      grant: null,
      result: 'refused',
    };
    const refuse = (reason: string, entry: AuditEntry = base): void => {
      this.record({ ...entry, result: 'refused', reason });
      this.reply(req, false, '', reason);
    };
    const op = this.opts.operations.get(req.op);
    if (!op) return refuse('no such operation');
    if (!Number.isInteger(req.pid) || req.pid <= 0 || req.pid > 0x3fffffff) return refuse('bad pid');
    // The pidfd first: everything read after it is about this process or,
    // if it is gone and its pid reused, fails through it.
    const pidfd = this.n.pidfdOpen(req.pid, true);
    if (pidfd < 0) return refuse('no such process');
    try {
      this.checked(req, op, pidfd, base, refuse);
    } finally {
      this.n.closeFd(pidfd);
    }
  }

  private checked(req: Request, op: Operation, pidfd: number, base: AuditEntry, refuse: (reason: string, entry?: AuditEntry) => void): void {
    const target = readTarget(req.pid);
    if (!target) return refuse('no such process');
    base.program = target.program;
    // The caller's own process, and nobody else's: all four uids.
    if (target.uids.some(u => u !== this.caller.uid)) return refuse(`pid ${req.pid} does not run as uid ${this.caller.uid}`);
    if (!op.nrs.includes(req.nr)) return refuse(`system call ${req.nr} is not ${op.name}`);
    const blocked = blockedCall(req.pid);
    if (!blocked || blocked.nr !== req.nr) return refuse(`pid ${req.pid} is not blocked in ${op.name}`);
    for (let i = 0; i < req.args.length; i++) {
      if (req.args[i] !== blocked.args[i]) return refuse(`the arguments claimed are not those of pid ${req.pid}'s call`);
    }
    if (!this.n.notifyIdValid(this.listener, req.notifId)) return refuse('the notification is not pending on this session\'s listener');
    const prepared = op.prepare({ pid: req.pid, tgid: target.tgid, args: blocked.args, nr: blocked.nr, listener: this.listener, notifId: req.notifId, pidfd, n: this.n });
    if (typeof prepared === 'string') return refuse(prepared);
    const entry: AuditEntry = { ...base, call: prepared.call.syscall, args: prepared.shown };
    let decision: ReturnType<typeof decideElevation>;
    try {
      decision = decideElevation(this.opts.policy(), {
        uid: this.caller.uid,
        user: this.user.name,
        groups: this.user.groups,
        program: target.program,
        call: prepared.call,
      });
    } catch (e) {
      return refuse(`the admin policy cannot be used: ${(e as Error).message}`, entry);
    }
    if (!decision.granted) return refuse(decision.reason, { ...entry, grant: decision.grant });
    // Last look before acting: the call may have been interrupted meanwhile.
    if (!this.n.notifyIdValid(this.listener, req.notifId)) return refuse('the notification went stale', entry);
    const granted: AuditEntry = { ...entry, grant: decision.grant, result: 'granted' };
    if (!this.record(granted)) return this.reply(req, false, '', 'the audit record could not be written');
    const r = prepared.perform();
    if (r < 0) this.record({ ...granted, errno: errnoName(r), reason: 'the elevated call itself failed' });
    this.reply(req, true, r < 0 ? errnoName(r) : '', '');
  }

  /** true once the record is on disk. */
  private record(entry: AuditEntry): boolean {
    try {
      this.opts.audit.append(entry);
      return true;
    } catch (e) {
      this.opts.log(`systrace-broker: audit log: ${(e as Error).message}`);
      return false;
    }
  }

  private refuseUnread(reason: string): void {
    this.record({ user: this.user.name, uid: this.caller.uid, pid: 0, program: '?', call: '?', args: {}, grant: null, result: 'refused', reason });
  }

  private reply(req: Request, granted: boolean, errno: string, reason: string): void {
    try {
      this.n.sendMessage(this.sock, encodeResponse({ id: req.id, granted, errno, reason }), []);
    } catch {
      this.close();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.poller?.stop();
    this.poller = undefined;
    if (this.listener >= 0) this.n.closeFd(this.listener);
    this.listener = -1;
    this.n.closeFd(this.sock);
    this.onClose();
  }
}
