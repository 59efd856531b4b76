// Kernel constants the translators and aliases need, x86 values (x86_64 and
// i386 agree on all of these). Names in the order they are printed.

/** open(2) flags, octal as in <asm-generic/fcntl.h>. */
export const O_ACCMODE = 0o3n;
export const O_RDONLY = 0o0n;
export const O_WRONLY = 0o1n;
export const O_RDWR = 0o2n;
export const O_CREAT = 0o100n;
export const O_TRUNC = 0o1000n;
export const O_DSYNC = 0o10000n;
export const O_LARGEFILE = 0o100000n;
export const O_DIRECTORY = 0o200000n;
export const O_PATH = 0o10000000n;
/** The bit that makes O_TMPFILE; O_TMPFILE itself is this | O_DIRECTORY (Linux 3.11). */
export const __O_TMPFILE = 0o20000000n;
export const __O_SYNC = 0o4000000n;

/** Single-bit open flags after the access mode, in bit order. */
export const OPEN_FLAG_BITS: readonly (readonly [string, bigint])[] = [
  ['O_CREAT', O_CREAT],
  ['O_EXCL', 0o200n],
  ['O_NOCTTY', 0o400n],
  ['O_TRUNC', O_TRUNC],
  ['O_APPEND', 0o2000n],
  ['O_NONBLOCK', 0o4000n],
  ['O_DSYNC', O_DSYNC],
  ['O_ASYNC', 0o20000n],
  ['O_DIRECT', 0o40000n],
  ['O_DIRECTORY', O_DIRECTORY],
  ['O_NOFOLLOW', 0o400000n],
  ['O_NOATIME', 0o1000000n],
  ['O_CLOEXEC', 0o2000000n],
  ['O_SYNC', __O_SYNC], // O_SYNC is __O_SYNC | O_DSYNC: printed as O_SYNC alone
  ['O_PATH', O_PATH], // Linux 2.6.39
  ['O_TMPFILE', __O_TMPFILE], // printed as O_TMPFILE, with O_DIRECTORY folded in
];

export const PROT_BITS: readonly (readonly [string, bigint])[] = [
  ['PROT_READ', 0x1n],
  ['PROT_WRITE', 0x2n],
  ['PROT_EXEC', 0x4n],
  ['PROT_SEM', 0x8n],
  ['PROT_GROWSDOWN', 0x01000000n],
  ['PROT_GROWSUP', 0x02000000n],
];

/** Address families, index = number (<linux/socket.h>). */
export const ADDRESS_FAMILIES: readonly string[] = [
  'AF_UNSPEC', 'AF_UNIX', 'AF_INET', 'AF_AX25', 'AF_IPX', 'AF_APPLETALK', 'AF_NETROM',
  'AF_BRIDGE', 'AF_ATMPVC', 'AF_X25', 'AF_INET6', 'AF_ROSE', 'AF_DECnet', 'AF_NETBEUI',
  'AF_SECURITY', 'AF_KEY', 'AF_NETLINK', 'AF_PACKET', 'AF_ASH', 'AF_ECONET', 'AF_ATMSVC',
  'AF_RDS', 'AF_SNA', 'AF_IRDA', 'AF_PPPOX', 'AF_WANPIPE', 'AF_LLC', 'AF_IB', 'AF_MPLS',
  'AF_CAN', 'AF_TIPC', 'AF_BLUETOOTH', 'AF_IUCV', 'AF_RXRPC', 'AF_ISDN', 'AF_PHONET',
  'AF_IEEE802154', 'AF_CAIF', 'AF_ALG', 'AF_NFC', 'AF_VSOCK', 'AF_KCM', 'AF_QIPCRTR',
  'AF_SMC', 'AF_XDP', 'AF_MCTP',
];

export const SOCKET_TYPES: Readonly<Record<number, string>> = {
  1: 'SOCK_STREAM',
  2: 'SOCK_DGRAM',
  3: 'SOCK_RAW',
  4: 'SOCK_RDM',
  5: 'SOCK_SEQPACKET',
  6: 'SOCK_DCCP',
  10: 'SOCK_PACKET',
};
/** socket(2)'s type carries SOCK_NONBLOCK | SOCK_CLOEXEC above this mask. */
export const SOCK_TYPE_MASK = 0xfn;

/**
 * IP protocol names a `sockproto` literal may use (<netinet/in.h>). Only
 * names: protocol numbers are per family (for AF_NETLINK 6 is
 * NETLINK_XFRM, not TCP), so sockproto prints numbers and these are read.
 */
export const IP_PROTOCOLS: Readonly<Record<string, number>> = {
  IPPROTO_IP: 0, // "the family's default for the type": TCP for inet SOCK_STREAM
  IPPROTO_ICMP: 1,
  IPPROTO_TCP: 6,
  IPPROTO_UDP: 17,
  IPPROTO_IPV6: 41,
  IPPROTO_ICMPV6: 58,
  IPPROTO_SCTP: 132,
  IPPROTO_UDPLITE: 136,
  IPPROTO_RAW: 255,
  IPPROTO_MPTCP: 262, // Linux 5.6
};

/** Signal names, index = number; 32..64 are real-time signals. */
export const SIGNALS: readonly string[] = [
  '', 'SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGILL', 'SIGTRAP', 'SIGABRT', 'SIGBUS', 'SIGFPE',
  'SIGKILL', 'SIGUSR1', 'SIGSEGV', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGTERM', 'SIGSTKFLT',
  'SIGCHLD', 'SIGCONT', 'SIGSTOP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGURG', 'SIGXCPU',
  'SIGXFSZ', 'SIGVTALRM', 'SIGPROF', 'SIGWINCH', 'SIGIO', 'SIGPWR', 'SIGSYS',
];
export const SIGRTMIN = 32;
export const SIGRTMAX = 64;

export const FCNTL_COMMANDS: Readonly<Record<number, string>> = {
  0: 'F_DUPFD', 1: 'F_GETFD', 2: 'F_SETFD', 3: 'F_GETFL', 4: 'F_SETFL', 5: 'F_GETLK',
  6: 'F_SETLK', 7: 'F_SETLKW', 8: 'F_SETOWN', 9: 'F_GETOWN', 10: 'F_SETSIG', 11: 'F_GETSIG',
  12: 'F_GETLK64', 13: 'F_SETLK64', 14: 'F_SETLKW64', // i386 fcntl64 only
  15: 'F_SETOWN_EX', 16: 'F_GETOWN_EX', 17: 'F_GETOWNER_UIDS',
  36: 'F_OFD_GETLK', 37: 'F_OFD_SETLK', 38: 'F_OFD_SETLKW',
  1024: 'F_SETLEASE', 1025: 'F_GETLEASE', 1026: 'F_NOTIFY',
  1027: 'F_DUPFD_QUERY', // Linux 6.10
  1028: 'F_CREATED_QUERY', // Linux 6.12
  1029: 'F_CANCELLK', 1030: 'F_DUPFD_CLOEXEC', 1031: 'F_SETPIPE_SZ', 1032: 'F_GETPIPE_SZ',
  1033: 'F_ADD_SEALS', 1034: 'F_GET_SEALS', 1035: 'F_GET_RW_HINT', 1036: 'F_SET_RW_HINT',
  1037: 'F_GET_FILE_RW_HINT', 1038: 'F_SET_FILE_RW_HINT',
};

export const WHENCE: readonly string[] = ['SEEK_SET', 'SEEK_CUR', 'SEEK_END', 'SEEK_DATA', 'SEEK_HOLE'];

export const AT_FDCWD = -100;
