// What each argument of a system call is, for the calls whose arguments a
// policy can test, on both emulations. From this table come the path
// arguments (`filename`, `filename[1]`), the socket address, argv, and the
// argument an integer translator (`oflags`, `uid`, ...) reads.
//
// Calls absent from the table have no testable arguments: only `true` rules
// apply to them. i386 notes:
//  - socketcall(2) multiplexes every socket call through (call, argsptr); the
//    real arguments sit in the target's memory, so translators on socketcall
//    are out of scope for now. Since Linux 4.3 i386 also has the direct calls
//    (socket, bind, connect ...), which glibc uses when the kernel has them.
//  - ipc(2) multiplexes SysV IPC the same way; no translators either.
//  - the old i386 `mmap` takes a pointer to a struct of six arguments; the
//    real one is mmap2.
//  - setuid, chown ... without the `32` suffix take 16-bit ids.
import type { Emulation } from './types.js';
import { isSyscall } from './syscalls.js';

export type ArgKind =
  | 'fd'
  | 'dirfd'
  | 'path'
  | 'oflags'
  | 'mode'
  | 'uid'
  | 'gid'
  | 'signal'
  | 'prot'
  | 'sockaddr'
  | 'sockdom'
  | 'socktype'
  /** socket's and socketpair's protocol (translator `sockproto`). */
  | 'sockproto'
  | 'argv'
  | 'pid'
  | 'atflags'
  | 'int'
  | 'ptr'
  /** symlink's target: a plain string, never resolved (translator `linkname`). */
  | 'linkname'
  /** lseek's whence (translator `whence`). */
  | 'whence'
  /** fcntl's command (translator `cmd`). */
  | 'cmd';

type Sig = readonly ArgKind[];
const s = (...kinds: ArgKind[]): Sig => Object.freeze(kinds);

/** Same layout on both emulations (a name missing from one table is simply not found there). */
const COMMON: Record<string, Sig> = {
  // --- open family
  open: s('path', 'oflags', 'mode'),
  openat: s('dirfd', 'path', 'oflags', 'mode'),
  openat2: s('dirfd', 'path', 'ptr', 'int'), // flags are in struct open_how
  creat: s('path', 'mode'),
  // --- stat family
  stat: s('path', 'ptr'),
  lstat: s('path', 'ptr'),
  oldstat: s('path', 'ptr'),
  oldlstat: s('path', 'ptr'),
  stat64: s('path', 'ptr'),
  lstat64: s('path', 'ptr'),
  newfstatat: s('dirfd', 'path', 'ptr', 'atflags'),
  fstatat64: s('dirfd', 'path', 'ptr', 'atflags'),
  statx: s('dirfd', 'path', 'atflags', 'int', 'ptr'),
  fstat: s('fd', 'ptr'),
  fstat64: s('fd', 'ptr'),
  oldfstat: s('fd', 'ptr'),
  statfs: s('path', 'ptr'),
  fstatfs: s('fd', 'ptr'),
  // --- access, readlink
  access: s('path', 'int'),
  faccessat: s('dirfd', 'path', 'int'),
  faccessat2: s('dirfd', 'path', 'int', 'atflags'),
  readlink: s('path', 'ptr', 'int'),
  readlinkat: s('dirfd', 'path', 'ptr', 'int'),
  // --- namespace changes
  unlink: s('path'),
  unlinkat: s('dirfd', 'path', 'atflags'),
  rmdir: s('path'),
  mkdir: s('path', 'mode'),
  mkdirat: s('dirfd', 'path', 'mode'),
  mknod: s('path', 'mode', 'int'),
  mknodat: s('dirfd', 'path', 'mode', 'int'),
  rename: s('path', 'path'),
  renameat: s('dirfd', 'path', 'dirfd', 'path'),
  renameat2: s('dirfd', 'path', 'dirfd', 'path', 'int'),
  link: s('path', 'path'),
  linkat: s('dirfd', 'path', 'dirfd', 'path', 'atflags'),
  symlink: s('linkname', 'path'),
  symlinkat: s('linkname', 'dirfd', 'path'),
  // --- attributes
  chmod: s('path', 'mode'),
  fchmod: s('fd', 'mode'),
  fchmodat: s('dirfd', 'path', 'mode'),
  fchmodat2: s('dirfd', 'path', 'mode', 'atflags'),
  chown: s('path', 'uid', 'gid'),
  lchown: s('path', 'uid', 'gid'),
  fchown: s('fd', 'uid', 'gid'),
  chown32: s('path', 'uid', 'gid'),
  lchown32: s('path', 'uid', 'gid'),
  fchown32: s('fd', 'uid', 'gid'),
  fchownat: s('dirfd', 'path', 'uid', 'gid', 'atflags'),
  truncate: s('path', 'int'),
  truncate64: s('path', 'int', 'int'),
  ftruncate: s('fd', 'int'),
  ftruncate64: s('fd', 'int', 'int'),
  utime: s('path', 'ptr'),
  utimes: s('path', 'ptr'),
  utimensat: s('dirfd', 'path', 'ptr', 'atflags'),
  utimensat_time64: s('dirfd', 'path', 'ptr', 'atflags'),
  futimesat: s('dirfd', 'path', 'ptr'),
  getxattr: s('path', 'ptr', 'ptr', 'int'),
  lgetxattr: s('path', 'ptr', 'ptr', 'int'),
  setxattr: s('path', 'ptr', 'ptr', 'int', 'int'),
  lsetxattr: s('path', 'ptr', 'ptr', 'int', 'int'),
  listxattr: s('path', 'ptr', 'int'),
  llistxattr: s('path', 'ptr', 'int'),
  removexattr: s('path', 'ptr'),
  lremovexattr: s('path', 'ptr'),
  fgetxattr: s('fd', 'ptr', 'ptr', 'int'),
  fsetxattr: s('fd', 'ptr', 'ptr', 'int', 'int'),
  flistxattr: s('fd', 'ptr', 'int'),
  fremovexattr: s('fd', 'ptr'),
  getxattrat: s('dirfd', 'path', 'atflags', 'ptr', 'ptr'),
  setxattrat: s('dirfd', 'path', 'atflags', 'ptr', 'ptr', 'int'),
  listxattrat: s('dirfd', 'path', 'atflags', 'ptr', 'int'),
  removexattrat: s('dirfd', 'path', 'atflags', 'ptr'),
  file_getattr: s('dirfd', 'path', 'ptr', 'int', 'atflags'),
  file_setattr: s('dirfd', 'path', 'ptr', 'int', 'atflags'),
  // --- directories, exec
  chdir: s('path'),
  fchdir: s('fd'),
  chroot: s('path'),
  getdents: s('fd', 'ptr', 'int'),
  getdents64: s('fd', 'ptr', 'int'),
  execve: s('path', 'argv', 'ptr'),
  execveat: s('dirfd', 'path', 'argv', 'ptr', 'atflags'),
  // --- mounts and other administrative paths
  mount: s('ptr', 'path', 'ptr', 'int', 'ptr'), // source is often not a path ("proc", a device name)
  umount: s('path'),
  umount2: s('path', 'int'),
  pivot_root: s('path', 'path'),
  open_tree: s('dirfd', 'path', 'int'),
  open_tree_attr: s('dirfd', 'path', 'int', 'ptr', 'int'),
  move_mount: s('dirfd', 'path', 'dirfd', 'path', 'int'),
  fspick: s('dirfd', 'path', 'int'),
  mount_setattr: s('dirfd', 'path', 'atflags', 'ptr', 'int'),
  acct: s('path'),
  swapon: s('path', 'int'),
  swapoff: s('path'),
  uselib: s('path'),
  quotactl: s('int', 'path', 'int', 'ptr'),
  name_to_handle_at: s('dirfd', 'path', 'ptr', 'ptr', 'atflags'),
  inotify_add_watch: s('fd', 'path', 'int'),
  inotify_rm_watch: s('fd', 'int'),
  // --- plain I/O on descriptors
  read: s('fd', 'ptr', 'int'),
  write: s('fd', 'ptr', 'int'),
  close: s('fd'),
  pread64: s('fd', 'ptr', 'int', 'int'),
  pwrite64: s('fd', 'ptr', 'int', 'int'),
  readv: s('fd', 'ptr', 'int'),
  writev: s('fd', 'ptr', 'int'),
  preadv: s('fd', 'ptr', 'int', 'int', 'int'),
  pwritev: s('fd', 'ptr', 'int', 'int', 'int'),
  preadv2: s('fd', 'ptr', 'int', 'int', 'int', 'int'),
  pwritev2: s('fd', 'ptr', 'int', 'int', 'int', 'int'),
  lseek: s('fd', 'int', 'whence'),
  ioctl: s('fd', 'int', 'ptr'),
  fcntl: s('fd', 'cmd', 'int'),
  fcntl64: s('fd', 'cmd', 'int'),
  dup: s('fd'),
  dup2: s('fd', 'fd'),
  dup3: s('fd', 'fd', 'int'),
  fsync: s('fd'),
  fdatasync: s('fd'),
  syncfs: s('fd'),
  flock: s('fd', 'int'),
  fadvise64: s('fd', 'int', 'int', 'int'),
  fadvise64_64: s('fd', 'int', 'int', 'int'),
  readahead: s('fd', 'int', 'int'),
  sync_file_range: s('fd', 'int', 'int', 'int'),
  fallocate: s('fd', 'int', 'int', 'int'),
  sendfile: s('fd', 'fd', 'ptr', 'int'),
  sendfile64: s('fd', 'fd', 'ptr', 'int'),
  splice: s('fd', 'ptr', 'fd', 'ptr', 'int', 'int'),
  tee: s('fd', 'fd', 'int', 'int'),
  copy_file_range: s('fd', 'ptr', 'fd', 'ptr', 'int', 'int'),
  epoll_ctl: s('fd', 'int', 'fd', 'ptr'),
  // --- memory
  mprotect: s('ptr', 'int', 'prot'),
  pkey_mprotect: s('ptr', 'int', 'prot', 'int'),
  mmap2: s('ptr', 'int', 'prot', 'int', 'fd', 'int'),
  // --- sockets (direct calls; see socketcall above)
  socket: s('sockdom', 'socktype', 'sockproto'),
  socketpair: s('sockdom', 'socktype', 'sockproto', 'ptr'),
  bind: s('fd', 'sockaddr', 'int'),
  connect: s('fd', 'sockaddr', 'int'),
  accept: s('fd', 'ptr', 'ptr'),
  accept4: s('fd', 'ptr', 'ptr', 'int'),
  listen: s('fd', 'int'),
  shutdown: s('fd', 'int'),
  sendto: s('fd', 'ptr', 'int', 'int', 'sockaddr', 'int'),
  recvfrom: s('fd', 'ptr', 'int', 'int', 'ptr', 'ptr'),
  sendmsg: s('fd', 'ptr', 'int'), // the address is msg_name inside the msghdr: see sockaddrArg
  recvmsg: s('fd', 'ptr', 'int'),
  sendmmsg: s('fd', 'ptr', 'int', 'int'),
  recvmmsg: s('fd', 'ptr', 'int', 'int', 'ptr'),
  getsockname: s('fd', 'ptr', 'ptr'),
  getpeername: s('fd', 'ptr', 'ptr'),
  setsockopt: s('fd', 'int', 'int', 'ptr', 'int'),
  getsockopt: s('fd', 'int', 'int', 'ptr', 'ptr'),
  socketcall: s('int', 'ptr'),
  // --- signals and processes
  kill: s('pid', 'signal'),
  tkill: s('pid', 'signal'),
  tgkill: s('pid', 'pid', 'signal'),
  rt_sigaction: s('signal', 'ptr', 'ptr', 'int'),
  sigaction: s('signal', 'ptr', 'ptr'),
  signal: s('signal', 'ptr'),
  rt_sigqueueinfo: s('pid', 'signal', 'ptr'),
  rt_tgsigqueueinfo: s('pid', 'pid', 'signal', 'ptr'),
  pidfd_send_signal: s('fd', 'signal', 'ptr', 'int'),
  pidfd_open: s('pid', 'int'),
  pidfd_getfd: s('fd', 'int', 'int'),
  wait4: s('pid', 'ptr', 'int', 'ptr'),
  waitpid: s('pid', 'ptr', 'int'),
  setpgid: s('pid', 'pid'),
  getpgid: s('pid'),
  getsid: s('pid'),
  ptrace: s('int', 'pid', 'ptr', 'ptr'),
  process_vm_readv: s('pid', 'ptr', 'int', 'ptr', 'int', 'int'),
  process_vm_writev: s('pid', 'ptr', 'int', 'ptr', 'int', 'int'),
  prlimit64: s('pid', 'int', 'ptr', 'ptr'),
  sched_setaffinity: s('pid', 'int', 'ptr'),
  sched_getaffinity: s('pid', 'int', 'ptr'),
  sched_setscheduler: s('pid', 'int', 'ptr'),
  sched_getscheduler: s('pid'),
  sched_setparam: s('pid', 'ptr'),
  sched_getparam: s('pid', 'ptr'),
  sched_setattr: s('pid', 'ptr', 'int'),
  sched_getattr: s('pid', 'ptr', 'int', 'int'),
  kcmp: s('pid', 'pid', 'int', 'int', 'int'),
  migrate_pages: s('pid', 'int', 'ptr', 'ptr'),
  move_pages: s('pid', 'int', 'ptr', 'ptr', 'ptr', 'int'),
  get_robust_list: s('pid', 'ptr', 'ptr'),
  // --- credentials
  setuid: s('uid'),
  setgid: s('gid'),
  setreuid: s('uid', 'uid'),
  setregid: s('gid', 'gid'),
  setresuid: s('uid', 'uid', 'uid'),
  setresgid: s('gid', 'gid', 'gid'),
  setfsuid: s('uid'),
  setfsgid: s('gid'),
  setuid32: s('uid'),
  setgid32: s('gid'),
  setreuid32: s('uid', 'uid'),
  setregid32: s('gid', 'gid'),
  setresuid32: s('uid', 'uid', 'uid'),
  setresgid32: s('gid', 'gid', 'gid'),
  setfsuid32: s('uid'),
  setfsgid32: s('gid'),
  umask: s('mode'),
};

const ONLY_X86_64: Record<string, Sig> = {
  mmap: s('ptr', 'int', 'prot', 'int', 'fd', 'int'),
  fanotify_mark: s('fd', 'int', 'int', 'dirfd', 'path'),
};

const ONLY_I386: Record<string, Sig> = {
  mmap: s('ptr'), // old_mmap(struct mmap_arg_struct *)
  _llseek: s('fd', 'int', 'int', 'ptr', 'whence'),
  statfs64: s('path', 'int', 'ptr'),
  fstatfs64: s('fd', 'int', 'ptr'),
  // the 64-bit mask is split in two 32-bit arguments
  fanotify_mark: s('fd', 'int', 'int', 'int', 'dirfd', 'path'),
};

const TABLE: Record<Emulation, ReadonlyMap<string, Sig>> = {
  linux: new Map(Object.entries({ ...COMMON, ...ONLY_X86_64 })),
  linux32: new Map(Object.entries({ ...COMMON, ...ONLY_I386 })),
};

/** i386 calls that take 16-bit uids and gids (`(uid16_t)-1` means "unchanged"). */
export const UID16_I386: ReadonlySet<string> = new Set([
  'setuid', 'setgid', 'setreuid', 'setregid', 'setresuid', 'setresgid',
  'setfsuid', 'setfsgid', 'chown', 'lchown', 'fchown',
]);

export function argKinds(emulation: Emulation, name: string): readonly ArgKind[] | undefined {
  if (!isSyscall(emulation, name)) return undefined;
  return TABLE[emulation].get(name);
}

export interface PathArg {
  pathIndex: number;
  /** The directory file descriptor the path is relative to (the *at calls). */
  dirfdIndex?: number;
}

/**
 * The path arguments in order: `filename` is [0], `filename[1]` is [1]. Each
 * is paired with the nearest dirfd before it, so renameat gives
 * [{1, dirfd 0}, {3, dirfd 2}]. symlink's target is not a path (`linkname`).
 */
export function pathArgs(emulation: Emulation, name: string): PathArg[] {
  const kinds = argKinds(emulation, name);
  if (!kinds) return [];
  const out: PathArg[] = [];
  let dirfd: number | undefined;
  kinds.forEach((kind, i) => {
    if (kind === 'dirfd') dirfd = i;
    if (kind === 'path') {
      out.push(dirfd === undefined ? { pathIndex: i } : { pathIndex: i, dirfdIndex: dirfd });
      dirfd = undefined;
    }
  });
  return out;
}

function firstOfKind(emulation: Emulation, name: string, kind: ArgKind): number | undefined {
  const i = argKinds(emulation, name)?.indexOf(kind);
  return i === undefined || i < 0 ? undefined : i;
}

/** symlink / symlinkat: the target string (translator `linkname`). */
export function linknameArg(emulation: Emulation, name: string): number | undefined {
  return firstOfKind(emulation, name, 'linkname');
}

/** execve / execveat: the argv array. */
export function argvArg(emulation: Emulation, name: string): number | undefined {
  return firstOfKind(emulation, name, 'argv');
}

export interface SockaddrArg {
  /** Argument holding the address pointer, or for sendmsg the msghdr pointer. */
  index: number;
  /** Argument holding the address length (absent for sendmsg). */
  lenIndex?: number;
  /** sendmsg: the address is msg_name/msg_namelen inside the struct msghdr at `index`. */
  inMsghdr?: boolean;
}

/** connect, bind: arg1 (length arg2); sendto: arg4 (length arg5); sendmsg: in the msghdr at arg1. */
export function sockaddrArg(emulation: Emulation, name: string): SockaddrArg | undefined {
  if (name === 'sendmsg' && isSyscall(emulation, name)) return { index: 1, inMsghdr: true };
  const i = firstOfKind(emulation, name, 'sockaddr');
  return i === undefined ? undefined : { index: i, lenIndex: i + 1 };
}

/** Translators computed from an integer argument, and the kind of argument each reads. */
export const INTEGER_TRANSLATORS: Readonly<Record<string, ArgKind>> = Object.freeze({
  oflags: 'oflags',
  mode: 'mode',
  uid: 'uid',
  gid: 'gid',
  signame: 'signal',
  prot: 'prot',
  sockdom: 'sockdom',
  socktype: 'socktype',
  sockproto: 'sockproto',
  fd: 'fd',
  pid: 'pid',
  cmd: 'cmd',
  whence: 'whence',
});

/** Translators whose value is read from the target's memory (user space decides). */
export const MEMORY_TRANSLATORS: readonly string[] = Object.freeze(['filename', 'linkname', 'sockaddr', 'argv']);

export function isTranslator(name: string): boolean {
  return MEMORY_TRANSLATORS.includes(name) || Object.hasOwn(INTEGER_TRANSLATORS, name);
}

/**
 * Which argument an integer translator reads: `uid` on setreuid is arg0,
 * `uid[1]` arg1; `oflags` on openat arg2. undefined when the call has no such
 * argument (creat's flags are implied: see impliedInteger).
 */
export function integerArg(emulation: Emulation, name: string, translator: string, nth = 0): number | undefined {
  if (!Object.hasOwn(INTEGER_TRANSLATORS, translator)) return undefined;
  const kind = INTEGER_TRANSLATORS[translator];
  const kinds = argKinds(emulation, name);
  if (!kinds || !kind) return undefined;
  let seen = 0;
  for (let i = 0; i < kinds.length; i++) {
    if (kinds[i] === kind && seen++ === nth) return i;
  }
  return undefined;
}

/** O_WRONLY | O_CREAT | O_TRUNC: what creat(2) means. */
const CREAT_FLAGS = 0o1101n;

/** An integer translator's value that is fixed by the call itself rather than read from an argument. */
export function impliedInteger(emulation: Emulation, name: string, translator: string, nth = 0): bigint | undefined {
  if (name === 'creat' && translator === 'oflags' && nth === 0 && isSyscall(emulation, name)) return CREAT_FLAGS;
  return undefined;
}

/**
 * Whether `translator[nth]` has a value for this call: what the parser checks
 * to reject, say, `filename` on read.
 */
export function translatorApplies(emulation: Emulation, name: string, translator: string, nth = 0): boolean {
  switch (translator) {
    case 'filename':
      return pathArgs(emulation, name).length > nth;
    case 'linkname':
      return nth === 0 && linknameArg(emulation, name) !== undefined;
    case 'sockaddr':
      return nth === 0 && sockaddrArg(emulation, name) !== undefined;
    case 'argv':
      return nth === 0 && argvArg(emulation, name) !== undefined;
    default:
      return (
        integerArg(emulation, name, translator, nth) !== undefined ||
        impliedInteger(emulation, name, translator, nth) !== undefined
      );
  }
}
