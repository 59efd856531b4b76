// Systrace's integer translators: a raw system-call argument printed the way
// a rule compares it (`oflags eq "O_WRONLY|O_CREAT|O_TRUNC"`, `mode eq
// "0644"`, `signame eq "SIGKILL"`). Pure functions over bigint arguments as
// seccomp delivers them (64 bits, the upper half meaningless for int args).
import type { Emulation } from '../policy/types.js';
import {
  ADDRESS_FAMILIES,
  AT_FDCWD,
  FCNTL_COMMANDS,
  IP_PROTOCOLS,
  O_ACCMODE,
  O_DIRECTORY,
  O_DSYNC,
  O_LARGEFILE,
  OPEN_FLAG_BITS,
  PROT_BITS,
  SIGNALS,
  SIGRTMAX,
  SIGRTMIN,
  SOCK_TYPE_MASK,
  SOCKET_TYPES,
  WHENCE,
  __O_SYNC,
  __O_TMPFILE,
} from '../policy/constants.js';
import { impliedInteger, integerArg, UID16_I386 } from '../policy/signatures.js';

const u32 = (v: bigint): bigint => BigInt.asUintN(32, v);
const i32 = (v: bigint): number => Number(BigInt.asIntN(32, v));
const hex = (v: bigint): string => `0x${v.toString(16)}`;

/**
 * open flags: the access mode first (O_RDONLY, O_WRONLY, O_RDWR; the
 * ioctl-only mode 3 prints as O_WRONLY|O_RDWR), then the flags in bit order,
 * then any unknown bits in hex. O_LARGEFILE is left out: i386 libcs pass it
 * and x86_64 kernels force it, so printing it would only make the same open
 * compare differently on the two emulations.
 */
export function formatOflags(v: bigint): string {
  let flags = u32(v) & ~O_LARGEFILE;
  const parts: string[] = [];
  const acc = flags & O_ACCMODE;
  parts.push(acc === 0n ? 'O_RDONLY' : acc === 1n ? 'O_WRONLY' : acc === 2n ? 'O_RDWR' : 'O_WRONLY|O_RDWR');
  flags &= ~O_ACCMODE;
  if (flags & __O_SYNC) flags &= ~O_DSYNC; // O_SYNC includes O_DSYNC
  if (flags & __O_TMPFILE) flags &= ~O_DIRECTORY; // O_TMPFILE includes O_DIRECTORY
  for (const [name, bit] of OPEN_FLAG_BITS) {
    if (flags & bit) {
      parts.push(name);
      flags &= ~bit;
    }
  }
  if (flags) parts.push(hex(flags));
  return parts.join('|');
}

/** File mode in octal with a leading 0 and at least three digits: '0644', '04755', '0100644'. */
export function formatMode(v: bigint): string {
  return `0${u32(v).toString(8).padStart(3, '0')}`;
}

/**
 * uid or gid in decimal. (id_t)-1 ("leave unchanged" for setreuid and
 * chown) prints as '-1'; `bits` is 16 for the old i386 calls.
 */
export function formatId(v: bigint, bits: 16 | 32 = 32): string {
  const n = BigInt.asUintN(bits, v);
  return n === (1n << BigInt(bits)) - 1n ? '-1' : n.toString();
}
export const formatUid = formatId;
export const formatGid = formatId;

/** 'SIGKILL'; real-time signals as 'SIGRTMIN', 'SIGRTMIN+3' ... 'SIGRTMAX'; 0 and unknowns in decimal. */
export function formatSigname(v: bigint): string {
  const n = i32(v);
  if (n > 0 && n < SIGNALS.length) return SIGNALS[n]!;
  if (n === SIGRTMIN) return 'SIGRTMIN';
  if (n === SIGRTMAX) return 'SIGRTMAX';
  if (n > SIGRTMIN && n < SIGRTMAX) return `SIGRTMIN+${n - SIGRTMIN}`;
  return String(n);
}

/** 'PROT_READ|PROT_WRITE', or 'PROT_NONE' for 0. */
export function formatProt(v: bigint): string {
  let bits = u32(v);
  if (bits === 0n) return 'PROT_NONE';
  const parts: string[] = [];
  for (const [name, bit] of PROT_BITS) {
    if (bits & bit) {
      parts.push(name);
      bits &= ~bit;
    }
  }
  if (bits) parts.push(hex(bits));
  return parts.join('|');
}

/** 'AF_INET'; unknown families in decimal. */
export function formatSockdom(v: bigint): string {
  const n = i32(v);
  return ADDRESS_FAMILIES[n] ?? String(n);
}

/**
 * 'SOCK_STREAM'. The SOCK_NONBLOCK and SOCK_CLOEXEC bits that socket(2)
 * accepts in the same argument are not printed: they do not change what the
 * socket is, and `socktype eq "SOCK_STREAM"` should match glibc's calls.
 */
export function formatSocktype(v: bigint): string {
  const n = Number(u32(v) & SOCK_TYPE_MASK);
  return SOCKET_TYPES[n] ?? String(n);
}

/**
 * socket's protocol, always in decimal ('0', '6', '262'): the number means
 * something different in each family (6 is TCP for AF_INET but NETLINK_XFRM
 * for AF_NETLINK), so printing IPPROTO_* names would mislabel other
 * families, and printing them only for inet would make the value depend on
 * another argument, which no single kernel comparison can test. 0 asks
 * for the family's default (TCP for an inet SOCK_STREAM).
 */
export function formatSockproto(v: bigint): string {
  return String(i32(v));
}

/**
 * The text a `sockproto eq` literal stands for: decimal as printed, with the
 * IP protocol names read as their numbers (`IPPROTO_TCP` is '6'), so that
 * `sockproto eq "IPPROTO_TCP"` means what it says. undefined for a literal
 * formatSockproto never prints ('06', 'tcp', '4294967296'): the parser
 * refuses those rather than keep a rule that can never match.
 */
export function sockprotoLiteral(text: string): string | undefined {
  if (Object.hasOwn(IP_PROTOCOLS, text)) return String(IP_PROTOCOLS[text]);
  if (!/^(0|-?[1-9]\d*)$/.test(text)) return undefined;
  const n = Number(text);
  return n >= -(2 ** 31) && n < 2 ** 31 ? text : undefined;
}

/** A descriptor in decimal; AT_FDCWD by name. */
export function formatFd(v: bigint): string {
  const n = i32(v);
  return n === AT_FDCWD ? 'AT_FDCWD' : String(n);
}

/** A pid in decimal (signed: kill(-1) and kill(-pgrp) keep their sign). */
export function formatPid(v: bigint): string {
  return String(i32(v));
}

/** fcntl command: 'F_SETFD'; unknowns in decimal. */
export function formatFcntlCmd(v: bigint): string {
  const n = i32(v);
  return FCNTL_COMMANDS[n] ?? String(n);
}

/** lseek whence: 'SEEK_SET' ... 'SEEK_HOLE'. */
export function formatWhence(v: bigint): string {
  const n = i32(v);
  return WHENCE[n] ?? String(n);
}

/**
 * The value of integer translator `translator[nth]` for a call, formatted as
 * above; undefined when the call has no such argument.
 */
export function integerTranslatorValue(
  emulation: Emulation,
  syscall: string,
  translator: string,
  nth: number,
  args: readonly bigint[],
): string | undefined {
  let raw = impliedInteger(emulation, syscall, translator, nth);
  if (raw === undefined) {
    const i = integerArg(emulation, syscall, translator, nth);
    if (i === undefined) return undefined;
    raw = args[i];
    if (raw === undefined) return undefined;
  }
  switch (translator) {
    case 'oflags':
      return formatOflags(raw);
    case 'mode':
      return formatMode(raw);
    case 'uid':
    case 'gid':
      return formatId(raw, emulation === 'linux32' && UID16_I386.has(syscall) ? 16 : 32);
    case 'signame':
      return formatSigname(raw);
    case 'prot':
      return formatProt(raw);
    case 'sockdom':
      return formatSockdom(raw);
    case 'socktype':
      return formatSocktype(raw);
    case 'sockproto':
      return formatSockproto(raw);
    case 'fd':
      return formatFd(raw);
    case 'pid':
      return formatPid(raw);
    case 'cmd':
      return formatFcntlCmd(raw);
    case 'whence':
      return formatWhence(raw);
    default:
      return undefined;
  }
}
