// Loads the addon: the whole native surface, typed, in one place.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

/** An error from native code: callers branch on `code` ('EPERM'), never on the message. */
export class NativeError extends Error {
  code = '';
  errno = 0;
  syscall = '';
  constructor(message: string) {
    super(message);
    this.name = 'NativeError';
  }
}

export interface FilterCompare {
  arg: number;
  op: 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge' | 'masked_eq';
  a: bigint;
  b?: bigint;
}
export interface FilterRule {
  nr: number;
  action: number;
  cmps?: FilterCompare[];
}
export interface FilterSpec {
  defaultAction: number;
  badArchAction: number;
  arches: { arch: 'x86_64' | 'x86'; rules: FilterRule[] }[];
}

/** tree: the path and all beneath it; file: that file alone; below: only what is under that directory. */
export interface LandlockRule {
  path: string;
  access: bigint;
  kind: 'tree' | 'file' | 'below';
}

export interface Notification {
  id: bigint;
  /** The thread that made the call (its tid in our pid namespace). */
  pid: number;
  nr: number;
  arch: number;
  ip: bigint;
  args: bigint[];
}

export interface Listener {
  /** `cb(null)` once when no task uses the filter any more. */
  start(cb: (n: Notification | null) => void): void;
  stop(): void;
  /** Calls answered in native code when their normalised path is permitted (compile.ts: fastPlan). */
  setFast(calls: { nr: number; op: string; reads: { path: string; kind: string }[] }[]): void;
  /** How many calls each setFast entry answered, in order. */
  fastCounts(): number[];
  /** From now on every call goes to JS (the policy changed); the counts stay. */
  stopFast(): void;
}

/** dirs (when asked): every name looked up on the way (each in its directory); magic: a /proc link kept as a name, and its target. */
export type ResolveResult = ({ path: string } | { missing: string; errno: number }) & { dirs?: string[]; magic?: string } | number;

interface Addon {
  setErrorClass(cls: typeof NativeError): void;
  /** `skipped`: 'ARCHBITS:NR' of rules libseccomp would not place (they keep the default). */
  filterBuild(spec: FilterSpec): { bpf: Buffer; pfc: string; skipped: string[] };
  resolveSyscall(arch: 'x86_64' | 'x86', name: string): number;
  /** Landlock's ABI version; 0 when the kernel has none or it is disabled. */
  landlockAbi(): number;
  /**
   * A Landlock ruleset handling `handled`, with one path-beneath rule per
   * entry that exists, has no symlink on its way, and is of its kind
   * (`file`: not a directory; `below`: a directory); the others are
   * skipped, with why.
   */
  landlockRuleset(
    handled: bigint, rules: LandlockRule[], net?: { handled: bigint; ports: { port: number; access: bigint }[] },
  ): { fd: number; skipped: { index: number; path: string; why: string }[] };
  /** What a descriptor is when it is a socket (what a program would inherit); null otherwise. */
  socketKind(fd: number): { domain: number; type: number; protocol: number; cloexec: boolean } | null;
  Listener: new (fd: number) => Listener;
  notifyRespond(fd: number, id: bigint, val: bigint, error: number, flags: number): number;
  notifyIdValid(fd: number, id: bigint): boolean;
  notifyAddFd(fd: number, id: bigint, srcfd: number, cloexec: boolean, send: boolean): number;
  notifySetFlags(fd: number, flags: number): number;
  SYNC_WAKE_UP: number;
  FLAG_CONTINUE: number;
  /** utf8: -EILSEQ for bytes that are not UTF-8 (a path must reach us unchanged). */
  procReadString(pid: number, addr: bigint, max: number, utf8?: boolean): string | number;
  procReadMemory(pid: number, addr: bigint, len: number): Buffer | number;
  procWriteMemory(pid: number, addr: bigint, data: Buffer): number;
  /** thread: PIDFD_THREAD (Linux 6.9), so that a tid will do. */
  pidfdOpen(pid: number, thread?: boolean): number;
  pidfdGetfd(pidfd: number, targetfd: number): number;
  closeFd(fd: number): void;
  /** flock(LOCK_EX) or LOCK_UN: 0 or -errno. */
  fileLock(fd: number, lock: boolean): number;
  sameMemory(pid1: number, pid2: number): number;
  /** The mapping covering each address (null: none), by PROCMAP_QUERY; -ENOTTY before Linux 6.11. */
  procMappings(pid: number, addrs: bigint[]): (Mapping | null)[] | number;
  /** A /proc file, whole, as latin1; -ENOSPC when longer than max (at most 64 MiB). */
  procFile(path: string, max: number): string | number;
  socketPair(): [number, number];
  clearCloexec(fd: number): void;
  /** nonblocking: null when nothing is waiting. EOF: empty data. */
  recvMessage(sock: number, max: number, nonblocking?: boolean): { data: Buffer; fds: number[] } | null;
  unixListen(path: string, mode: number): number;
  unixAccept(fd: number): number;
  unixConnect(path: string): number;
  peerCred(fd: number): { pid: number; uid: number; gid: number };
  Poller: new (fd: number, cb: () => void) => { stop(): void };
  sendMessage(sock: number, data: Buffer, fds: number[]): void;
  socketConnect(fd: number, addr: Buffer): number;
  socketBind(fd: number, addr: Buffer): number;
  socketConnectAsync(fd: number, addr: Buffer, cb: (result: number) => void): void;
  socketNonblocking(fd: number): boolean;
  socketCreate(domain: number, type: number, protocol: number): number;
  resolvePath(tgid: number, tid: number, dirfd: number, path: string, followLast: boolean, wantDirs?: boolean): ResolveResult;
  /** expectMagic: for a /proc magic link kept as a name, what it must still point to. */
  openResolved(path: string, flags: number, mode: number, expectMagic?: string): number;
  /** path2: the second path (rename, link), a symlink's text, or an xattr name; data: times or an xattr value. */
  pathCall(op: string, path: string, a?: number, b?: number, path2?: string, data?: Buffer): number | Buffer;
  /**
   * sendto on a socket taken from the target, with our copies: the bytes
   * sent or -errno when it did not have to wait; undefined when it waits
   * for its peer in a thread of its own, and cb gets that result (given up
   * once notification `id` on `listener` is gone; a signal thread `tid`
   * catches ends it with -ERESTARTSYS). fd stays the caller's.
   */
  socketSend(fd: number, data: Buffer, flags: number, addr: Buffer | undefined): number;
  socketSend(fd: number, data: Buffer, flags: number, addr: Buffer | undefined, listener: number, id: bigint, tid: number, cb: (result: number) => void): number | undefined;
  fdStat(fd: number): Buffer | number;
  fdStatx(fd: number, mask: number, flags: number): Buffer | number;
  setUmask(mask: number): number;
  unixPathVia(path: string, forBind: boolean): { fd: number; addr: Buffer } | number;
  fdUtimens(fd: number, times?: Buffer): number;
}

/** The package root: two levels above this file, in the source tree and in dist/. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('systrace: cannot find the package root');
}

export function launcherPath(): string {
  return path.join(packageRoot(), 'build', 'Release', 'systrace-launch');
}

let loaded: Addon | undefined;

export function native(): Addon {
  if (loaded) return loaded;
  const file = path.join(packageRoot(), 'build', 'Release', 'systrace.node');
  const require = createRequire(import.meta.url);
  const addon = require(file) as Addon;
  addon.setErrorClass(NativeError);
  loaded = addon;
  return addon;
}

/** One mapping, as a line of /proc/PID/maps shows it: inode "0" for anonymous memory; the file's device as major and minor. */
export interface Mapping { lo: bigint; hi: bigint; private: boolean; major: number; minor: number; inode: string; file: string }
