import t from 'tap';
import { syscallName, syscallNames, syscallNumber } from '../../tracer/policy/syscalls.js';
import {
  argKinds,
  impliedInteger,
  integerArg,
  pathArgs,
  sockaddrArg,
  translatorApplies,
} from '../../tracer/policy/signatures.js';
import { aliasMembers, aliasOf, groupMembers, groupNames, isAlias } from '../../tracer/policy/aliases.js';

t.test('numbers from the headers, both emulations', async t => {
  const table: [string, 'linux' | 'linux32', number | undefined][] = [
    ['read', 'linux', 0],
    ['open', 'linux', 2],
    ['openat', 'linux', 257],
    ['newfstatat', 'linux', 262],
    ['set_mempolicy_home_node', 'linux', 450],
    ['read', 'linux32', 3],
    ['socketcall', 'linux32', 102],
    ['stat64', 'linux32', 195],
    ['setuid32', 'linux32', 213],
    ['openat', 'linux32', 295],
    ['stat64', 'linux', undefined],
    ['socketcall', 'linux', undefined],
    ['newfstatat', 'linux32', undefined],
    ['constructor', 'linux', undefined],
    ['toString', 'linux32', undefined],
  ];
  for (const [name, emu, nr] of table) t.equal(syscallNumber(emu, name), nr, `${emu} ${name}`);
});

t.test('calls newer than the headers', async t => {
  const newer: [string, number][] = [
    ['cachestat', 451], ['fchmodat2', 452], ['futex_wake', 454], ['futex_wait', 455],
    ['futex_requeue', 456], ['statmount', 457], ['listmount', 458], ['lsm_get_self_attr', 459],
    ['lsm_set_self_attr', 460], ['lsm_list_modules', 461], ['mseal', 462], ['setxattrat', 463],
    ['getxattrat', 464], ['listxattrat', 465], ['removexattrat', 466], ['open_tree_attr', 467],
    ['file_getattr', 468], ['file_setattr', 469],
  ];
  for (const [name, nr] of newer) {
    t.equal(syscallNumber('linux', name), nr, `linux ${name}`);
    t.equal(syscallNumber('linux32', name), nr, `linux32 ${name}`);
  }
  t.equal(syscallNumber('linux', 'map_shadow_stack'), 453);
  t.equal(syscallNumber('linux32', 'map_shadow_stack'), undefined, 'shadow stacks are 64-bit only');
  t.equal(syscallName('linux32', 453), undefined);
  t.equal(syscallNumber('linux', 'uretprobe'), 335);
});

t.test('reverse lookup and name lists', async t => {
  t.equal(syscallName('linux', 0), 'read');
  t.equal(syscallName('linux32', 0), 'restart_syscall');
  t.equal(syscallName('linux', 99999), undefined);
  const names = syscallNames('linux');
  t.ok(names.includes('openat2'));
  t.same(names, [...names].sort());
  for (const emu of ['linux', 'linux32'] as const) {
    const bad = syscallNames(emu).filter(n => syscallName(emu, syscallNumber(emu, n)!) !== n);
    t.same(bad, [], `${emu}: name -> number -> name`);
  }
});

t.test('path arguments', async t => {
  const table: [string, 'linux' | 'linux32', { pathIndex: number; dirfdIndex?: number }[]][] = [
    ['open', 'linux', [{ pathIndex: 0 }]],
    ['openat', 'linux', [{ pathIndex: 1, dirfdIndex: 0 }]],
    ['renameat', 'linux', [{ pathIndex: 1, dirfdIndex: 0 }, { pathIndex: 3, dirfdIndex: 2 }]],
    ['renameat2', 'linux32', [{ pathIndex: 1, dirfdIndex: 0 }, { pathIndex: 3, dirfdIndex: 2 }]],
    ['linkat', 'linux', [{ pathIndex: 1, dirfdIndex: 0 }, { pathIndex: 3, dirfdIndex: 2 }]],
    ['rename', 'linux', [{ pathIndex: 0 }, { pathIndex: 1 }]],
    ['symlink', 'linux', [{ pathIndex: 1 }]],
    ['symlinkat', 'linux', [{ pathIndex: 2, dirfdIndex: 1 }]],
    ['newfstatat', 'linux', [{ pathIndex: 1, dirfdIndex: 0 }]],
    ['fstatat64', 'linux32', [{ pathIndex: 1, dirfdIndex: 0 }]],
    ['stat64', 'linux32', [{ pathIndex: 0 }]],
    ['statx', 'linux', [{ pathIndex: 1, dirfdIndex: 0 }]],
    ['execve', 'linux', [{ pathIndex: 0 }]],
    ['execveat', 'linux', [{ pathIndex: 1, dirfdIndex: 0 }]],
    ['fanotify_mark', 'linux', [{ pathIndex: 4, dirfdIndex: 3 }]],
    ['fanotify_mark', 'linux32', [{ pathIndex: 5, dirfdIndex: 4 }]],
    ['mount', 'linux', [{ pathIndex: 1 }]],
    ['pivot_root', 'linux', [{ pathIndex: 0 }, { pathIndex: 1 }]],
    ['read', 'linux', []],
    ['stat64', 'linux', []],
  ];
  for (const [name, emu, want] of table) t.same(pathArgs(emu, name), want, `${emu} ${name}`);
});

t.test('argument kinds differ where i386 differs', async t => {
  t.same(argKinds('linux', 'mmap'), ['ptr', 'int', 'prot', 'int', 'fd', 'int']);
  t.same(argKinds('linux32', 'mmap'), ['ptr']);
  t.same(argKinds('linux32', '_llseek'), ['fd', 'int', 'int', 'ptr', 'whence']);
  t.equal(argKinds('linux', '_llseek'), undefined);
  t.equal(argKinds('linux', 'getpid'), undefined);
});

t.test('socket address arguments', async t => {
  t.same(sockaddrArg('linux', 'connect'), { index: 1, lenIndex: 2 });
  t.same(sockaddrArg('linux32', 'bind'), { index: 1, lenIndex: 2 });
  t.same(sockaddrArg('linux', 'sendto'), { index: 4, lenIndex: 5 });
  t.same(sockaddrArg('linux', 'sendmsg'), { index: 1, inMsghdr: true });
  t.equal(sockaddrArg('linux', 'read'), undefined);
  t.equal(sockaddrArg('linux32', 'socketcall'), undefined, 'socketcall is out of scope');
});

t.test('integer translator arguments', async t => {
  const table: [string, string, number, number | undefined][] = [
    ['open', 'oflags', 0, 1],
    ['openat', 'oflags', 0, 2],
    ['creat', 'oflags', 0, undefined],
    ['open', 'mode', 0, 2],
    ['openat', 'mode', 0, 3],
    ['mkdir', 'mode', 0, 1],
    ['mkdirat', 'mode', 0, 2],
    ['chmod', 'mode', 0, 1],
    ['fchmodat', 'mode', 0, 2],
    ['setuid', 'uid', 0, 0],
    ['setreuid', 'uid', 1, 1],
    ['setreuid', 'uid', 2, undefined],
    ['chown', 'uid', 0, 1],
    ['chown', 'gid', 0, 2],
    ['fchownat', 'gid', 0, 3],
    ['kill', 'signame', 0, 1],
    ['tgkill', 'signame', 0, 2],
    ['rt_sigaction', 'signame', 0, 0],
    ['mmap', 'prot', 0, 2],
    ['mprotect', 'prot', 0, 2],
    ['socket', 'sockdom', 0, 0],
    ['socket', 'socktype', 0, 1],
    ['socket', 'sockproto', 0, 2],
    ['socketpair', 'sockproto', 0, 2],
    ['socket', 'sockproto', 1, undefined],
    ['connect', 'sockproto', 0, undefined],
    ['read', 'fd', 0, 0],
    ['dup2', 'fd', 1, 1],
    ['kill', 'pid', 0, 0],
    ['tgkill', 'pid', 1, 1],
    ['lseek', 'whence', 0, 2],
    ['fcntl', 'cmd', 0, 1],
    ['read', 'uid', 0, undefined],
    ['read', 'bogus', 0, undefined],
  ];
  for (const [name, tr, nth, want] of table) t.equal(integerArg('linux', name, tr, nth), want, `${name} ${tr}[${nth}]`);
  t.equal(integerArg('linux32', 'mmap2', 'prot'), 2);
  t.equal(integerArg('linux32', 'mmap', 'prot'), undefined);
  t.equal(integerArg('linux32', 'setuid32', 'uid'), 0);
  t.equal(integerArg('linux32', '_llseek', 'whence'), 4);
  t.equal(integerArg('linux32', 'socket', 'sockproto'), 2, 'the direct socket call of Linux 4.3');
  t.equal(integerArg('linux32', 'socketcall', 'sockproto'), undefined, 'socketcall hides its arguments');
  t.equal(impliedInteger('linux', 'creat', 'oflags'), 0o1101n);
  t.ok(translatorApplies('linux', 'creat', 'oflags'));
  t.notOk(translatorApplies('linux', 'read', 'filename'));
  t.ok(translatorApplies('linux', 'rename', 'filename', 1));
  t.notOk(translatorApplies('linux', 'rename', 'filename', 2));
  t.ok(translatorApplies('linux', 'symlink', 'linkname'));
  t.ok(translatorApplies('linux', 'execve', 'argv'));
});

t.test('aliases', async t => {
  const O_WRONLY = 1n, O_RDWR = 2n, O_CREAT = 0o100n, O_TRUNC = 0o1000n, O_PATH = 0o10000000n;
  const O_TMPFILE = 0o20200000n, O_CLOEXEC = 0o2000000n, O_DIRECTORY = 0o200000n;
  const table: [string, bigint[], 'fsread' | 'fswrite' | undefined][] = [
    ['open', [0n, 0n], 'fsread'],
    ['open', [0n, O_CLOEXEC | O_DIRECTORY], 'fsread'],
    ['open', [0n, O_WRONLY], 'fswrite'],
    ['open', [0n, O_RDWR], 'fswrite'],
    ['open', [0n, 3n], 'fswrite'],
    ['open', [0n, O_CREAT], 'fswrite'],
    ['open', [0n, O_TRUNC], 'fswrite'],
    ['open', [0n, O_PATH], 'fsread'],
    ['openat', [0n, 0n, O_TMPFILE | O_RDWR], 'fswrite'],
    ['openat', [0n, 0n, 0n], 'fsread'],
    ['openat', [0n, 0n, O_WRONLY], 'fswrite'],
    ['creat', [0n, 0o644n], 'fswrite'],
    ['stat', [], 'fsread'],
    ['newfstatat', [], 'fsread'],
    ['statx', [], 'fsread'],
    ['access', [], 'fsread'],
    ['readlinkat', [], 'fsread'],
    ['chdir', [], 'fsread'],
    ['getxattr', [], 'fsread'],
    ['unlinkat', [], 'fswrite'],
    ['rename', [], 'fswrite'],
    ['symlink', [], 'fswrite'],
    ['chmod', [], 'fswrite'],
    ['fchownat', [], 'fswrite'],
    ['truncate', [], 'fswrite'],
    ['utimensat', [], 'fswrite'],
    ['setxattr', [], 'fswrite'],
    ['execve', [], undefined],
    ['read', [], undefined],
    ['fchmod', [], undefined],
  ];
  for (const [name, args, want] of table) t.equal(aliasOf('linux', name, args), want, `${name} ${args.join(',')}`);
  t.equal(aliasOf('linux32', 'stat64', []), 'fsread');
  t.equal(aliasOf('linux', 'stat64', []), undefined);
  t.equal(aliasOf('linux', 'openat2', []), 'fswrite', 'openat2 without open_how flags is the stricter alias');
  t.equal(aliasOf('linux', 'openat2', [], 0n), 'fsread');
  t.equal(aliasOf('linux', 'openat2', [], O_CREAT), 'fswrite');
  t.ok(aliasMembers('linux', 'fsread').includes('openat2'));
  t.notOk(aliasMembers('linux', 'fsread').includes('creat'));
  t.ok(aliasMembers('linux', 'fswrite').includes('creat'));
  t.notOk(aliasMembers('linux', 'fsread').includes('stat64'));
  t.ok(aliasMembers('linux32', 'fsread').includes('stat64'));
  t.ok(isAlias('fsread'));
  t.notOk(isAlias('read'));
});

t.test('groups', async t => {
  t.ok(groupNames().includes('@basic-io'));
  t.ok(groupNames().includes('@system-service'));
  t.equal(groupMembers('linux', '@nope'), undefined);
  const basic = groupMembers('linux', '@basic-io')!;
  t.ok(basic.includes('read') && basic.includes('pwrite64'));
  t.notOk(basic.includes('_llseek'), 'names absent from the emulation are dropped');
  t.ok(groupMembers('linux32', '@basic-io')!.includes('_llseek'));
  const priv = groupMembers('linux', '@privileged')!;
  t.ok(priv.includes('chown'), 'nested @chown');
  t.ok(priv.includes('reboot'), 'nested @reboot');
  const svc = groupMembers('linux', '@system-service')!;
  t.ok(svc.includes('exit_group') && svc.includes('openat') && svc.includes('socket'));
  t.equal(new Set(svc).size, svc.length, 'no duplicates');
  t.ok(groupMembers('linux', '@default')!.includes('rt_sigreturn'));
  for (const g of groupNames()) {
    for (const emu of ['linux', 'linux32'] as const) {
      const missing = groupMembers(emu, g)!.filter(m => syscallNumber(emu, m) === undefined);
      t.same(missing, [], `${emu} ${g}: every member exists`);
    }
  }
});
