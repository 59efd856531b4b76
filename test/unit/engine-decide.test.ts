import t from 'tap';
import { parsePolicy } from '../../tracer/policy/parse.js';
import {
  conditionHolds,
  decide,
  inPath,
  predicateArgIndex,
  prepare,
  ruleNeedsMemory,
  rulesFor,
  type CallView,
  type PrepareOptions,
} from '../../tracer/engine/decide.js';
import {
  formatFcntlCmd,
  formatFd,
  formatId,
  formatMode,
  formatOflags,
  formatPid,
  formatProt,
  formatSigname,
  formatSockdom,
  formatSockproto,
  formatSocktype,
  formatWhence,
  integerTranslatorValue,
  sockprotoLiteral,
} from '../../tracer/engine/translate.js';
import { globToRegExp } from '../../tracer/policy/glob.js';
import type { Predicate } from '../../tracer/policy/types.js';

const env = { HOME: '/home/alice', USER: 'alice', CWD: '/work' };
const interactive: PrepareOptions = { aliases: true, enforce: false };

function policy(text: string, opts: PrepareOptions = interactive) {
  return prepare(parsePolicy(text, 'e.yaml', env), opts);
}

function call(syscall: string, extra: Partial<CallView> = {}): CallView {
  return { emulation: 'linux', syscall, args: [0n, 0n, 0n, 0n, 0n, 0n], ...extra };
}

/** The decision as a short string: 'permit', 'deny ENOENT', 'ask', 'kill', plus where it came from. */
function outcome(p: ReturnType<typeof policy>, c: CallView): string {
  const d = decide(p, c);
  const v = d.action.verdict;
  const verdict = v.kind === 'deny' ? `deny ${v.errno}` : v.kind;
  return `${verdict} via ${d.via}${d.key ? ` ${d.key}` : ''}${d.rule ? ` #${d.rule.pos.line}` : ''}`;
}

const O_WRONLY = 1n, O_CREAT = 0o100n, O_TRUNC = 0o1000n;

t.test('first match wins, in file order, groups included', async t => {
  const p = policy(`default: deny
rules:
  "@basic-io":
    - fd eq "0" then permit
  read:
    - fd eq "0" then deny[eio]
    - fd eq "5" then deny[ebadf]
    - true then ask
  write: permit
`);
  const table: [CallView, string][] = [
    [call('read', { args: [0n, 0n, 0n] }), 'permit via syscall @basic-io #4'],
    [call('read', { args: [5n, 0n, 0n] }), 'deny EBADF via syscall read #7'],
    [call('read', { args: [9n, 0n, 0n] }), 'ask via syscall read #8'],
    [call('write', { args: [1n] }), 'permit via syscall write #9'],
    [call('pread64', { args: [0n] }), 'permit via syscall @basic-io #4'],
    [call('pread64', { args: [1n] }), 'deny EPERM via default'],
    [call('getpid'), 'deny EPERM via default'],
  ];
  for (const [c, want] of table) t.equal(outcome(p, c), want, `${c.syscall}(${c.args[0]})`);
  t.equal(rulesFor(p, 'read').length, 4);
  t.equal(rulesFor(p, 'close').length, 1);
  t.equal(rulesFor(p, 'getpid').length, 0);
});

t.test('alias after the call, then the default', async t => {
  const text = `rules:
  openat:
    - filename eq "/etc/shadow" then deny[eacces]
  fsread:
    - filename inpath "/usr/lib" then permit
    - filename eq "/etc/passwd" then permit
  fswrite:
    - filename match "/tmp/*" then permit log
`;
  const p = policy(text);
  const open = (path: string, flags: bigint) => call('openat', { args: [-100n, 0n, flags, 0o644n], filenames: [path] });
  const table: [CallView, string][] = [
    [open('/etc/shadow', 0n), 'deny EACCES via syscall openat #3'],
    [open('/usr/lib/libc.so.6', 0n), 'permit via alias fsread #5'],
    [open('/etc/passwd', 0n), 'permit via alias fsread #6'],
    [open('/etc/passwd', O_WRONLY), 'ask via default'],
    [open('/tmp/x', O_WRONLY | O_CREAT | O_TRUNC), 'permit via alias fswrite #8'],
    [open('/tmp/x', O_CREAT), 'permit via alias fswrite #8'],
    [open('/tmp/x', 0n), 'ask via default'],
    [call('newfstatat', { filenames: ['/usr/lib/x'] }), 'permit via alias fsread #5'],
    [call('unlink', { filenames: ['/tmp/a/b'] }), 'permit via alias fswrite #8'],
    // An alias judges each of rename's two paths: both must be permitted.
    [call('renameat', { filenames: ['/tmp/a', '/home/x'] }), 'ask via default'],
    [call('renameat', { filenames: ['/home/x', '/tmp/a'] }), 'ask via default'],
    [call('renameat', { filenames: ['/tmp/a', '/tmp/b'] }), 'permit via alias fswrite #8'],
    [call('openat2', { filenames: ['/usr/lib/x'], openHowFlags: 0n }), 'permit via alias fsread #5'],
    [call('openat2', { filenames: ['/usr/lib/x'] }), 'ask via default'],
    [call('execve', { filenames: ['/usr/lib/x'] }), 'ask via default'],
    [call('stat64', { emulation: 'linux32', filenames: ['/usr/lib/x'] }), 'permit via alias fsread #5'],
  ];
  for (const [c, want] of table) t.equal(outcome(p, c), want, `${c.syscall} ${c.filenames?.join(',')}`);
  t.equal(decide(p, open('/tmp/x', O_WRONLY)).action.log, true);

  const noAliases = policy(text, { aliases: false, enforce: false });
  t.equal(outcome(noAliases, open('/usr/lib/libc.so.6', 0n)), 'ask via default', '-u: aliases are not consulted');
  t.equal(outcome(noAliases, open('/etc/shadow', 0n)), 'deny EACCES via syscall openat #3');
});

t.test('defaults and enforce mode', async t => {
  const text = (def: string) => `default: ${def}\nrules:\n  read:\n    - fd eq "0" then ask\n    - fd eq "1" then ask log\n`;
  const table: [string, PrepareOptions, number, string, boolean][] = [
    ['ask', interactive, 7, 'ask via default', false],
    ['ask', { aliases: true, enforce: true }, 7, 'deny EPERM via default', true],
    ['deny', interactive, 7, 'deny EPERM via default', false],
    ['deny', { aliases: true, enforce: true }, 7, 'deny EPERM via default', true],
    ['permit', { aliases: true, enforce: true }, 7, 'permit via default', false],
    ['permit', interactive, 0, 'ask via syscall read #4', false],
    ['permit', { aliases: true, enforce: true }, 0, 'deny EPERM via syscall read #4', false],
    ['permit', { aliases: true, enforce: true }, 1, 'deny EPERM via syscall read #5', true],
  ];
  for (const [def, opts, fd, want, log] of table) {
    const p = policy(text(def), opts);
    const c = call('read', { args: [BigInt(fd)] });
    t.equal(outcome(p, c), want, `default ${def}, enforce ${opts.enforce}, fd ${fd}`);
    t.equal(decide(p, c).action.log, log, 'log');
  }
  const p = policy(text('ask'), { aliases: true, enforce: true });
  t.same(decide(p, call('read', { args: [0n] })).rule?.action.verdict, { kind: 'ask' }, 'the rule itself is unchanged');
});

t.test('integer translators', async t => {
  const p = policy(`default: deny
rules:
  openat:
    - oflags eq "O_RDONLY|O_CLOEXEC" then permit
    - oflags sub "O_CREAT" and mode eq "0600" then permit
  creat:
    - oflags eq "O_WRONLY|O_CREAT|O_TRUNC" then permit
  kill:
    - signame eq "SIGKILL" and pid eq "1" then deny[eacces]
    - signame eq "SIGTERM" then permit
  mmap:
    - prot eq "PROT_READ|PROT_EXEC" then ask
    - prot eq "PROT_NONE" then permit
  socket:
    - sockdom eq "AF_INET6" and socktype eq "SOCK_DGRAM" then permit
  setreuid:
    - uid[1] eq "0" then deny
    - uid eq "-1" then permit
  chown:
    - gid eq "100" then permit
  fcntl:
    - cmd eq "F_SETFL" then permit
  lseek:
    - whence eq "SEEK_END" then permit
  close:
    - fd eq "3" then permit
`);
  const table: [string, bigint[], string][] = [
    ['openat', [-100n, 0n, 0o2000000n], 'permit'],
    ['openat', [-100n, 0n, 0o2000000n | 0o100000n], 'permit'], // O_LARGEFILE is not printed
    ['openat', [-100n, 0n, 0o2000001n], 'deny'],
    ['openat', [-100n, 0n, 0o101n, 0o600n], 'permit'],
    ['openat', [-100n, 0n, 0o101n, 0o644n], 'deny'],
    ['creat', [0n, 0o644n], 'permit'],
    ['kill', [1n, 9n], 'deny EACCES'],
    ['kill', [2n, 9n], 'deny'],
    ['kill', [2n, 15n], 'permit'],
    ['mmap', [0n, 4096n, 5n], 'ask'],
    ['mmap', [0n, 4096n, 0n], 'permit'],
    ['socket', [10n, 2n | 0o2000000n, 0n], 'permit'],
    ['socket', [2n, 2n, 0n], 'deny'],
    ['setreuid', [0xffffffffn, 0n], 'deny'],
    ['setreuid', [0xffffffffn, 1000n], 'permit'],
    ['chown', [0n, 0n, 100n], 'permit'],
    ['fcntl', [3n, 4n, 0n], 'permit'],
    ['lseek', [3n, 0n, 2n], 'permit'],
    ['close', [3n], 'permit'],
    ['close', [0xffffffff00000003n], 'permit'], // upper half of an int argument is ignored
  ];
  for (const [name, args, want] of table) {
    const got = outcome(p, call(name, { args })).split(' via')[0];
    t.equal(got, want === 'deny' ? 'deny EPERM' : want, `${name}(${args.join(', ')})`);
  }
});

t.test('sockproto: TCP only, not MPTCP or SCTP stream sockets', async t => {
  const p = policy(`default: deny
rules:
  socket:
    - sockdom eq "AF_INET" and socktype eq "SOCK_STREAM" and (sockproto eq "0" or sockproto eq "IPPROTO_TCP") then permit
    - sockproto eq "IPPROTO_MPTCP" then deny[eprotonosupport]
  socketpair:
    - sockproto eq "0" then permit
`);
  const SOCK_NONBLOCK = 0o4000n;
  const table: [string, bigint[], string][] = [
    ['socket', [2n, 1n, 0n], 'permit'],
    ['socket', [2n, 1n, 6n], 'permit'],
    ['socket', [2n, 1n | SOCK_NONBLOCK, 6n], 'permit'],
    ['socket', [2n, 1n, 0xffffffff00000006n], 'permit'], // upper half of an int argument is ignored
    ['socket', [2n, 1n, 262n], 'deny EPROTONOSUPPORT'],
    ['socket', [2n, 1n, 132n], 'deny'], // SCTP
    ['socket', [10n, 1n, 6n], 'deny'], // AF_INET6: not named
    ['socket', [2n, 2n, 17n], 'deny'],
    ['socketpair', [1n, 1n, 0n, 0x1000n], 'permit'],
    ['socketpair', [1n, 1n, 1n, 0x1000n], 'deny'],
  ];
  for (const [name, args, want] of table) {
    const got = outcome(p, call(name, { args })).split(' via')[0];
    t.equal(got, want === 'deny' ? 'deny EPERM' : want, `${name}(${args.join(', ')})`);
  }
});

t.test('formatters', async t => {
  t.equal(formatOflags(0n), 'O_RDONLY');
  t.equal(formatOflags(0o1101n), 'O_WRONLY|O_CREAT|O_TRUNC');
  t.equal(formatOflags(0o2n | 0o2000000n | 0o200n), 'O_RDWR|O_EXCL|O_CLOEXEC');
  t.equal(formatOflags(3n), 'O_WRONLY|O_RDWR');
  t.equal(formatOflags(0o4010000n), 'O_RDONLY|O_SYNC');
  t.equal(formatOflags(0o10000n), 'O_RDONLY|O_DSYNC');
  t.equal(formatOflags(0o20200002n), 'O_RDWR|O_TMPFILE');
  t.equal(formatOflags(0o10000000n | 0o400000n), 'O_RDONLY|O_NOFOLLOW|O_PATH');
  t.equal(formatOflags(0x80000000n), 'O_RDONLY|0x80000000');
  t.equal(formatMode(0o644n), '0644');
  t.equal(formatMode(0o4755n), '04755');
  t.equal(formatMode(0n), '0000');
  t.equal(formatMode(0o100600n), '0100600');
  t.equal(formatId(33n), '33');
  t.equal(formatId(0xffffffffn), '-1');
  t.equal(formatId(0xffffn, 16), '-1');
  t.equal(formatId(0xffffn), '65535');
  t.equal(formatSigname(9n), 'SIGKILL');
  t.equal(formatSigname(31n), 'SIGSYS');
  t.equal(formatSigname(32n), 'SIGRTMIN');
  t.equal(formatSigname(35n), 'SIGRTMIN+3');
  t.equal(formatSigname(64n), 'SIGRTMAX');
  t.equal(formatSigname(0n), '0');
  t.equal(formatSigname(99n), '99');
  t.equal(formatProt(0n), 'PROT_NONE');
  t.equal(formatProt(3n), 'PROT_READ|PROT_WRITE');
  t.equal(formatProt(7n), 'PROT_READ|PROT_WRITE|PROT_EXEC');
  t.equal(formatSockdom(1n), 'AF_UNIX');
  t.equal(formatSockdom(2n), 'AF_INET');
  t.equal(formatSockdom(16n), 'AF_NETLINK');
  t.equal(formatSockdom(200n), '200');
  t.equal(formatSocktype(1n), 'SOCK_STREAM');
  t.equal(formatSocktype(5n | 0o4000n), 'SOCK_SEQPACKET');
  t.equal(formatSockproto(0n), '0');
  t.equal(formatSockproto(6n), '6');
  t.equal(formatSockproto(262n), '262');
  t.equal(formatSockproto(0xffffffffn), '-1');
  t.equal(integerTranslatorValue('linux', 'socket', 'sockproto', 0, [16n, 3n, 6n]), '6', 'NETLINK_XFRM is not shown as TCP');
  t.equal(integerTranslatorValue('linux32', 'socketpair', 'sockproto', 0, [1n, 1n, 0n]), '0');
  t.equal(integerTranslatorValue('linux', 'connect', 'sockproto', 0, [3n, 0n, 16n]), undefined);
  t.equal(sockprotoLiteral('IPPROTO_TCP'), '6');
  t.equal(sockprotoLiteral('IPPROTO_IP'), '0');
  t.equal(sockprotoLiteral('IPPROTO_MPTCP'), '262');
  t.equal(sockprotoLiteral('17'), '17');
  t.equal(sockprotoLiteral('-2147483648'), '-2147483648');
  t.equal(sockprotoLiteral('2147483648'), undefined, 'prints as -2147483648');
  t.equal(sockprotoLiteral('06'), undefined);
  t.equal(sockprotoLiteral('-0'), undefined);
  t.equal(sockprotoLiteral('tcp'), undefined);
  t.equal(sockprotoLiteral('toString'), undefined);
  t.equal(formatFd(3n), '3');
  t.equal(formatFd(BigInt.asUintN(64, -100n)), 'AT_FDCWD');
  t.equal(formatPid(BigInt.asUintN(64, -1n)), '-1');
  t.equal(formatFcntlCmd(1030n), 'F_DUPFD_CLOEXEC');
  t.equal(formatWhence(1n), 'SEEK_CUR');
  t.equal(integerTranslatorValue('linux32', 'setuid', 'uid', 0, [0xffffn]), '-1', '16-bit ids on old i386 calls');
  t.equal(integerTranslatorValue('linux32', 'setuid32', 'uid', 0, [0xffffn]), '65535');
  t.equal(integerTranslatorValue('linux', 'read', 'uid', 0, [0n]), undefined);
});

t.test('match, inpath, sub, re semantics', async t => {
  const p = policy(`default: deny
rules:
  openat:
    - filename match "/usr/lib/*" then permit
    - filename inpath "/srv/www" then permit
    - filename match "/etc/*.conf" then permit
    - filename match "/dev/tty[0-9]" then permit
    - filename sub "cache" then permit
    - filename re "^/opt/[a-z]+$" then permit
    - filename match "/home/?" then permit
`);
  const table: [string, boolean][] = [
    ['/usr/lib/x', true],
    ['/usr/lib/x86_64-linux-gnu/libc.so.6', true], // * crosses '/', as in Systrace
    ['/usr/lib', false],
    ['/usr/libexec', false],
    ['/srv/www', true],
    ['/srv/www/index.html', true],
    ['/srv/wwwdata', false],
    ['/etc/a.conf', true],
    ['/etc/sub/a.conf', true],
    ['/dev/tty1', true],
    ['/dev/ttyS', false],
    ['/var/cache/x', true],
    ['/opt/abc', true],
    ['/opt/abc/d', false],
    ['/home/a', true],
    ['/home/ab', false],
  ];
  for (const [path, ok] of table) {
    t.equal(decide(p, call('openat', { filenames: [path] })).action.verdict.kind, ok ? 'permit' : 'deny', path);
  }
  t.ok(inPath('/a/b', '/a/'));
  t.ok(inPath('/anything', '/'));
  t.notOk(inPath('/ab', '/a'));
  t.notOk(inPath('/a', ''));
  t.ok(globToRegExp('a[!b]c').test('axc'));
  t.notOk(globToRegExp('a[!b]c').test('abc'));
  t.ok(globToRegExp('a[bc').test('a[bc'), 'unclosed [ is literal');
  t.ok(globToRegExp('a\\*').test('a*'));
  t.notOk(globToRegExp('a\\*').test('ab'));
  t.ok(globToRegExp('[]x]').test(']'));
  t.ok(globToRegExp('x.y(z)').test('x.y(z)'));
  t.notOk(globToRegExp('x.y').test('xzy'));
});

t.test('missing values never match', async t => {
  const p = policy(`default: deny
rules:
  openat:
    - filename neq "/etc/passwd" then permit
    - filename nsub "secret" then permit
    - not filename eq "/x" then ask
  connect:
    - sockaddr neq "inet-[127.0.0.1]:80" then permit
  execve:
    - argv eq "/bin/ls -l" then permit
  symlinkat:
    - linkname eq "../target" then permit
`);
  t.equal(outcome(p, call('openat')), 'ask via syscall openat #6', 'no filename: neq, nsub, eq fail; not(eq) holds');
  t.equal(outcome(p, call('openat', { filenames: [undefined] })), 'ask via syscall openat #6');
  t.equal(outcome(p, call('openat', { filenames: ['/etc/motd'] })), 'permit via syscall openat #4');
  t.equal(outcome(p, call('connect')), 'deny EPERM via default');
  t.equal(outcome(p, call('connect', { sockaddr: 'inet-[10.0.0.1]:80' })), 'permit via syscall connect #8');
  t.equal(outcome(p, call('execve', { argv: ['/bin/ls', '-l'] })), 'permit via syscall execve #10');
  t.equal(outcome(p, call('execve')), 'deny EPERM via default');
  t.equal(outcome(p, call('symlinkat', { linkname: '../target' })), 'permit via syscall symlinkat #12');
});

t.test('user and group conditions', async t => {
  const p = policy(`default: deny
rules:
  setuid:
    - uid eq "33" then permit, if user = root
    - uid eq "34" then permit, if group = adm
    - uid eq "35" then permit, if user >= 1000
    - uid eq "36" then permit, if user != root
`);
  const root = { uid: 0, gid: 0, name: 'root', groups: ['root'] };
  const bob = { uid: 1000, gid: 1000, name: 'bob', groups: ['bob', 'adm'] };
  const table: [bigint, typeof root | undefined, string][] = [
    [33n, root, 'permit'],
    [33n, bob, 'deny'],
    [33n, undefined, 'deny'],
    [34n, bob, 'permit'],
    [34n, root, 'deny'],
    [35n, bob, 'permit'],
    [35n, root, 'deny'],
    [36n, bob, 'permit'],
    [36n, root, 'deny'],
  ];
  for (const [uid, user, want] of table) {
    const c = call('setuid', user ? { args: [uid], user } : { args: [uid] });
    t.equal(decide(p, c).action.verdict.kind, want, `uid ${uid} as ${user?.name}`);
  }
  t.ok(conditionHolds({ subject: 'user', op: '=', value: '0' }, root));
  t.ok(conditionHolds({ subject: 'group', op: '=', value: '1000' }, bob));
});

t.test('what the compiler asks', async t => {
  const pol = parsePolicy(
    `rules:
  openat:
    - oflags sub "O_CREAT" then deny
    - oflags eq "O_RDONLY" and filename eq "/x" then permit
  renameat:
    - filename[1] eq "/y" then permit
  connect:
    - sockaddr eq "x" then permit
  sendto:
    - sockaddr eq "x" or fd eq "3" then permit
  setresuid:
    - uid[2] eq "0" then deny
  symlink:
    - linkname eq "t" then permit
  execve:
    - argv eq "ls" then permit
  creat:
    - oflags eq "O_WRONLY|O_CREAT|O_TRUNC" then permit
`,
    'c.yaml',
    env,
  );
  const first = (k: string) => pol.rules.get(k)![0]!;
  t.equal(ruleNeedsMemory(first('openat')), false);
  t.equal(ruleNeedsMemory(pol.rules.get('openat')![1]!), true);
  t.equal(ruleNeedsMemory(first('sendto')), true);
  t.equal(ruleNeedsMemory(first('setresuid')), false);
  const pred = (k: string, i = 0) => {
    const e = pol.rules.get(k)![i]!.expr;
    return (e.kind === 'pred' ? e : e.kind === 'and' || e.kind === 'or' ? e.left : e) as Predicate;
  };
  t.equal(predicateArgIndex('linux', 'openat', pred('openat')), 2);
  t.equal(predicateArgIndex('linux', 'renameat', pred('renameat')), 3);
  t.equal(predicateArgIndex('linux', 'connect', pred('connect')), 1);
  t.equal(predicateArgIndex('linux', 'sendto', pred('sendto')), 4);
  t.equal(predicateArgIndex('linux', 'setresuid', pred('setresuid')), 2);
  t.equal(predicateArgIndex('linux', 'symlink', pred('symlink')), 0);
  t.equal(predicateArgIndex('linux', 'execve', pred('execve')), 1);
  t.equal(predicateArgIndex('linux', 'creat', pred('creat')), undefined, 'implied by the call');
  t.equal(predicateArgIndex('linux', 'read', pred('openat')), undefined);
});

t.test('prepare refuses keys a parsed policy cannot have', async t => {
  const pol = parsePolicy('rules:\n  read: permit\n', 'x.yaml', env);
  pol.rules.set('stat64', pol.rules.get('read')!);
  t.throws(() => prepare(pol, interactive), /unknown rules key 'stat64'/);
});
