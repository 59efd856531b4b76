// What each privileged operation provides to the broker's session.
import type { CallView } from '../../tracer/engine/decide.js';
import type { native } from '../../tracer/native.js';

export interface OpContext {
  /** The thread blocked in the call (checked by the session). */
  pid: number;
  tgid: number;
  /** The call's arguments as /proc/PID/syscall shows them (not as the tracer claimed). */
  args: bigint[];
  nr: number;
  listener: number;
  notifId: bigint;
  /**
   * A pidfd of the target, opened before anything was read about it: if
   * the pid is reused meanwhile, this still names the old process and
   * pidfd_getfd fails, instead of reaching another process's fds.
   */
  pidfd: number;
  n: ReturnType<typeof native>;
}

export interface Prepared {
  /** The call as the admin policy's rules see it. */
  call: CallView;
  /** The normalised arguments, for the audit record. */
  shown: Record<string, string>;
  /**
   * Performs the call as root and answers the notification. Returns 0 or
   * -errno (the call's own outcome). Called only once granted, and only
   * after the record that grants it is on disk where the operation cannot
   * be undone (bind).
   */
  perform(): number;
}

export interface Operation {
  /** The name requests give (Request.op). */
  name: string;
  /** The x86_64 calls it carries out, by name (for the tracer) and number (checked against /proc/PID/syscall). */
  calls: string[];
  nrs: number[];
  /** Reads what the call names, from the target itself; a string is a refusal. */
  prepare(ctx: OpContext): Prepared | string;
}

/**
 * Answers the notification with a new fd made as root (or with the error
 * that making it gave): the target receives it through ADDFD, atomically
 * with the answer. Our copy is closed. Returns 0 or -errno.
 */
export function answerWithFd(ctx: OpContext, fd: number, cloexec: boolean): number {
  if (fd < 0) {
    ctx.n.notifyRespond(ctx.listener, ctx.notifId, 0n, fd, 0);
    return fd;
  }
  try {
    const got = ctx.n.notifyAddFd(ctx.listener, ctx.notifId, fd, cloexec, true);
    return got < 0 ? got : 0;
  } finally {
    ctx.n.closeFd(fd);
  }
}
