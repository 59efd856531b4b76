// What the broker learns about a target from the kernel, not from the
// tracer: who it runs as, what it runs, and which call it is blocked in.
import fs from 'node:fs';

export interface Target {
  pid: number;
  tgid: number;
  uids: number[]; // real, effective, saved, filesystem
  program: string;
}

/** undefined when the process is gone or unreadable. */
export function readTarget(pid: number): Target | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'latin1');
    const uids = /\nUid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/.exec(status);
    const tgid = /\nTgid:\s*(\d+)/.exec(status);
    if (!uids || !tgid) return undefined;
    let program = '(unreadable)';
    try {
      program = fs.readlinkSync(`/proc/${pid}/exe`);
    } catch {
      /* a kernel thread, or a process even root may not inspect here: its uids still count */
    }
    return { pid, tgid: Number(tgid[1]), uids: uids.slice(1, 5).map(Number), program };
  } catch {
    return undefined;
  }
}

/**
 * The call the thread is blocked in, from /proc/PID/syscall ("NR ARG0 ...
 * ARG5 SP PC" while in a system call; "running" or "-1 ..." otherwise).
 */
export function blockedCall(pid: number): { nr: number; args: bigint[] } | undefined {
  try {
    const words = fs.readFileSync(`/proc/${pid}/syscall`, 'latin1').trim().split(/\s+/);
    const nr = Number(words[0]);
    if (!Number.isInteger(nr) || nr < 0 || words.length < 7) return undefined;
    return { nr, args: words.slice(1, 7).map(w => BigInt(w)) };
  } catch {
    return undefined;
  }
}

/** The user's name and groups (names), from the system's databases. */
export function userInfo(uid: number, gid: number): { name: string; groups: string[] } {
  let name = String(uid);
  const groups = new Set<string>();
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length >= 4 && Number(f[2]) === uid) {
        name = f[0]!;
        gid = Number(f[3]);
        break;
      }
    }
    for (const line of fs.readFileSync('/etc/group', 'utf8').split('\n')) {
      const f = line.split(':');
      if (f.length < 4) continue;
      if (Number(f[2]) === gid || (f[3] ?? '').split(',').includes(name)) groups.add(f[0]!);
    }
  } catch {
    /* no databases: the numbers stand */
  }
  return { name, groups: [...groups] };
}
