// Systrace's aliases: `fsread` and `fswrite` stand for every file-system call
// that reads or writes, so a policy can say "read anything under /usr/lib"
// once instead of once per call. The engine consults a call's alias after the
// call's own rules (`run -u` turns aliases off).
//
// Deliberate departure from Systrace: open with O_CREAT or O_TRUNC counts as
// fswrite even when the access mode is O_RDONLY (both change the file
// system). O_TMPFILE is fswrite too. O_PATH opens nothing for reading or
// writing and the kernel ignores the other flags with it: fsread.
import type { Emulation } from './types.js';
import { isSyscall } from './syscalls.js';
import { O_ACCMODE, O_CREAT, O_PATH, O_TRUNC, __O_TMPFILE } from './constants.js';

export type Alias = 'fsread' | 'fswrite';
export { groupMembers, groupNames, isGroup } from './groups.js';

export function isAlias(key: string): key is Alias {
  return key === 'fsread' || key === 'fswrite';
}

/** Where the open flags are: open arg1, openat arg2; openat2 keeps them in struct open_how. */
const OPEN_FLAGS_ARG: Readonly<Record<string, number>> = { open: 1, openat: 2 };
const OPEN_CALLS = ['open', 'openat', 'openat2', 'creat'];

const FSREAD = new Set([
  'stat', 'lstat', 'oldstat', 'oldlstat', 'stat64', 'lstat64', 'newfstatat', 'fstatat64', 'statx',
  'access', 'faccessat', 'faccessat2',
  'readlink', 'readlinkat',
  'chdir',
  'getxattr', 'lgetxattr', 'listxattr', 'llistxattr', 'getxattrat', 'listxattrat',
  'statfs', 'statfs64',
  'file_getattr',
]);

const FSWRITE = new Set([
  'unlink', 'unlinkat', 'rmdir',
  'mkdir', 'mkdirat', 'mknod', 'mknodat',
  'rename', 'renameat', 'renameat2',
  'link', 'linkat', 'symlink', 'symlinkat',
  'chmod', 'fchmodat', 'fchmodat2',
  'chown', 'lchown', 'chown32', 'lchown32', 'fchownat',
  'truncate', 'truncate64',
  'utime', 'utimes', 'utimensat', 'utimensat_time64', 'futimesat',
  'setxattr', 'lsetxattr', 'removexattr', 'lremovexattr', 'setxattrat', 'removexattrat',
  'file_setattr',
]);

/** fsread or fswrite for a set of open flags. */
export function openFlagsAlias(flags: bigint): Alias {
  if (flags & __O_TMPFILE) return 'fswrite';
  if (flags & O_PATH) return 'fsread';
  if ((flags & O_ACCMODE) !== 0n) return 'fswrite'; // O_WRONLY, O_RDWR, and 3 (ioctl-only, needs both)
  if (flags & (O_CREAT | O_TRUNC)) return 'fswrite';
  return 'fsread';
}

/**
 * The alias a call falls under, or undefined. For openat2 pass the flags
 * read from struct open_how; without them the call counts as fswrite (the
 * stricter of the two).
 */
export function aliasOf(
  emulation: Emulation,
  name: string,
  args: readonly bigint[],
  openHowFlags?: bigint,
): Alias | undefined {
  if (!isSyscall(emulation, name)) return undefined;
  if (name === 'creat') return 'fswrite';
  if (name === 'openat2') return openHowFlags === undefined ? 'fswrite' : openFlagsAlias(openHowFlags);
  const flagsArg = OPEN_FLAGS_ARG[name];
  if (flagsArg !== undefined && Object.hasOwn(OPEN_FLAGS_ARG, name)) return openFlagsAlias(args[flagsArg] ?? 0n);
  if (FSREAD.has(name)) return 'fsread';
  if (FSWRITE.has(name)) return 'fswrite';
  return undefined;
}

/** Every call of the emulation that may fall under the alias (the open family under both, creat only under fswrite). */
export function aliasMembers(emulation: Emulation, alias: Alias): string[] {
  const set = alias === 'fsread' ? FSREAD : FSWRITE;
  const opens = alias === 'fsread' ? OPEN_CALLS.filter(n => n !== 'creat') : OPEN_CALLS;
  return [...opens, ...set].filter(n => isSyscall(emulation, n));
}
