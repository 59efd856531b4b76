// Classic Systrace policies -> YAML (tracer/policy/import.ts). Every import
// must load with parsePolicy; lines that cannot be mapped are reported.
import t from 'tap';
import { importClassicPolicy, mapCallName } from '../../tracer/policy/import.js';
import { parsePolicy } from '../../tracer/policy/parse.js';
import type { Policy } from '../../tracer/policy/types.js';

const env = { HOME: '/home/alice', USER: 'alice', CWD: '/work' };

function load(text: string): { policy: Policy; problems: { line: number; reason: string }[]; yaml: string } {
  const r = importClassicPolicy(text, 'classic.policy');
  const policy = parsePolicy(r.yaml, 'imported.yaml', env);
  return { policy, problems: r.problems, yaml: r.yaml };
}
const texts = (p: Policy, key: string): string[] => (p.rules.get(key) ?? []).map(r => r.text);

// In the style of Systrace 1.6's shipped policies (OpenBSD, native emulation).
const BIN_LS = `# Policy for /bin/ls
Policy: /bin/ls, Emulation: native
	native-__sysctl: permit
	native-break: permit
	native-close: permit
	native-exit: permit
	native-fchdir: permit
	native-fcntl: permit
	native-fsread: filename eq "/etc/malloc.conf" then permit
	native-fsread: filename match "/usr/lib/libc.so.*" then permit
	native-fsread: filename eq "$HOME" then permit
	native-fsread: filename match "/<non-existent filename>: *" then deny[enoent]
	native-fstat: permit
	native-fstatfs: permit
	native-getdirentries: permit
	native-getuid: permit
	native-ioctl: permit
	native-issetugid: permit
	native-lseek: permit
	native-mmap: permit
	native-mprotect: permit
	native-munmap: permit
	native-read: permit
	native-sigprocmask: permit
	native-write: permit
`;

const NAMED = `Policy: /usr/sbin/named, Emulation: native
	native-accept: permit
	native-bind: sockaddr match "inet-*:53" then permit as root
	native-bind: sockaddr eq "inet-[127.0.0.1]:953" then elevate
	native-connect: sockaddr eq "inet-[127.0.0.1]:53" then permit
	native-connect: sockaddr eq "/var/run/log" then permit   # syslog
	native-fsread: filename eq "/etc/named.conf" then permit
	native-fsread: filename match "/var/named/*" and not filename match "/var/named/*.key" then permit
	native-fsread: filename eq "/etc/localtime" or filename match "/usr/share/zoneinfo/*" then permit
	native-fswrite: filename match "/tmp/*" then deny[enoent]
	native-fswrite: (filename match "/var/named/slave/*" or filename eq "/var/run/named.pid") then permit log
	native-open: filename eq "/dev/null" then permit
	native-rename: filename match "/var/named/slave/*.tmp" and filename[1] match "/var/named/slave/*" then permit
	native-setuid: uid eq "53" then permit, if user = root
	native-setgid: permit, if user = root
	native-kill: signame eq "SIGHUP" then permit
	native-kill: signame neq "SIGHUP" then deny[eperm]
	native-socket: sockdom eq "AF_INET" and socktype eq "SOCK_DGRAM" then permit
	native-stat: filename inpath "/var/named" then permit
	native-kqueue: permit
`;

t.test('/bin/ls: native names mapped, unmappable calls reported, the rest kept verbatim', async t => {
  const r = importClassicPolicy(BIN_LS, 'bin_ls');
  t.same(r.problems.map(p => p.line), [3, 18], 'only __sysctl and issetugid are left out');
  t.match(r.problems[0]!.reason, /__sysctl.*no Linux system call/);
  t.match(r.problems[1]!.reason, /issetugid/);
  const { policy: p } = load(BIN_LS);
  t.equal(p.program, '/bin/ls');
  t.equal(p.emulation, 'linux');
  t.equal(p.default, 'ask');
  t.same(texts(p, 'brk'), ['permit'], 'native-break is brk');
  t.same(texts(p, 'getdents64'), ['permit'], 'getdirentries is getdents64');
  t.same(texts(p, 'rt_sigprocmask'), ['permit']);
  t.same(texts(p, 'exit_group'), ['permit'], 'exit also as exit_group (glibc exit)');
  t.same(texts(p, 'fsread'), [
    'filename eq "/etc/malloc.conf" then permit',
    'filename match "/usr/lib/libc.so.*" then permit',
    'filename eq "$HOME" then permit',
    'filename match "/<non-existent filename>: *" then deny[enoent]',
  ], 'alias rules kept in order and verbatim ($HOME expanded only when loaded)');
  t.equal(p.rules.get('fsread')![2]!.expr.kind === 'pred' && (p.rules.get('fsread')![2]!.expr as { value: string }).value, '/home/alice');
  t.notOk(p.rules.has('open'), 'an alias stays an alias');
  t.same([...p.rules.keys()].slice(0, 4), ['brk', 'close', 'exit', 'exit_group'], 'first-seen order');
});

t.test('named: and, or, not, parentheses, filename[1], deny[enoent], permit as root, elevate, predicates', async t => {
  const { policy: p, problems, yaml } = load(NAMED);
  t.same(problems.map(x => x.line), [20], 'only kqueue is left out');
  t.same(texts(p, 'bind'), ['sockaddr match "inet-*:53" then permit as root', 'sockaddr eq "inet-[127.0.0.1]:953" then elevate']);
  t.same(p.rules.get('bind')!.map(r => r.action.asUser), [{ user: 'root' }, { user: 'root' }], 'both elevate');
  t.same(texts(p, 'open'), ['filename eq "/dev/null" then permit']);
  t.same(texts(p, 'openat'), ['filename eq "/dev/null" then permit'], 'native-open also under openat');
  t.match(yaml, /# native-open -> open, openat/);
  t.same(texts(p, 'newfstatat'), ['filename inpath "/var/named" then permit'], 'stat also under newfstatat');
  t.same(texts(p, 'rename'), ['filename match "/var/named/slave/*.tmp" and filename[1] match "/var/named/slave/*" then permit']);
  t.same(texts(p, 'setuid'), ['uid eq "53" then permit, if user = root']);
  t.same(p.rules.get('setuid')![0]!.condition, { subject: 'user', op: '=', value: 'root' });
  t.same(texts(p, 'setgid'), ['permit, if user = root'], 'a lone action with a predicate stays a scalar');
  t.same(texts(p, 'kill'), ['signame eq "SIGHUP" then permit', 'signame neq "SIGHUP" then deny[eperm]']);
  t.same(p.rules.get('fswrite')![0]!.action.verdict, { kind: 'deny', errno: 'ENOENT' });
  t.equal(p.rules.get('fswrite')![1]!.action.log, true);
  t.same(texts(p, 'connect'), ['sockaddr eq "inet-[127.0.0.1]:53" then permit', 'sockaddr eq "/var/run/log" then permit'], 'the comment is gone');
});

t.test('unconditional and conditional rules of one call: the list form needs `true then`', async t => {
  const { policy: p, problems } = load(`Policy: /x, Emulation: native
  native-fcntl: cmd eq "F_SETOWN" then deny
  native-fcntl: permit
`);
  t.same(problems, []);
  t.same(texts(p, 'fcntl'), ['cmd eq "F_SETOWN" then deny', 'true then permit']);
});

t.test('emulations: native and linux map to linux, linux32 stays, others are reported', async t => {
  t.equal(load('Policy: /bin/true, Emulation: linux32\n\tlinux32-fstat64: permit\n').policy.emulation, 'linux32');
  const linux = load(`Policy: /bin/cat, Emulation: linux
	linux-fstat64: permit
	linux-mmap2: permit
	linux-_llseek: permit
	linux-getuid32: permit
	linux-stat64: filename inpath "/usr" then permit
	linux-socketcall: permit
`);
  t.same(texts(linux.policy, 'fstat'), ['permit']);
  t.same(texts(linux.policy, 'mmap'), ['permit']);
  t.same(texts(linux.policy, 'lseek'), ['permit']);
  t.same(texts(linux.policy, 'getuid'), ['permit']);
  t.same(texts(linux.policy, 'newfstatat'), ['filename inpath "/usr" then permit']);
  t.same(linux.problems.map(p => p.line), [7]);
  t.match(linux.problems[0]!.reason, /socketcall multiplexes/);

  const bsd = importClassicPolicy('Policy: /bin/ls, Emulation: netbsd\n\tnetbsd-read: permit\n\tnetbsd-write: permit\n');
  t.same(bsd.problems.map(p => p.line), [1, 2, 3], 'the header and every rule line');
  t.match(bsd.problems[0]!.reason, /emulation 'netbsd' has no equivalent/);
  t.same(parsePolicy(bsd.yaml, 'x.yaml', env).rules.size, 0, 'still a loadable (empty) policy');
});

t.test('lines that cannot be mapped: reported with their line, the rest still written', async t => {
  const r = importClassicPolicy(`# header comment
Policy: /usr/bin/tor, Emulation: native
	native-setuid: uid eq "1001" and uname eq "_tor" then permit
	native-read: permit
	native-fsread filename eq "/x" then permit
	linux-write: permit
	native-futimes: permit
	native-seteuid: uid eq "53" then permit
	native-fsread: filename eq "/x" then frobnicate
	native-fsread: filename eq "/y" then permit
	native-nosuchcall: permit
	native-read:
detached
Policy: /usr/bin/other, Emulation: native
	native-write: permit
`);
  const lines = r.problems.map(p => p.line);
  t.same(lines, [3, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15]);
  const why = (line: number): string => r.problems.find(p => p.line === line)!.reason;
  t.match(why(3), /unknown translator 'uname'/);
  t.match(why(5), /not a rule line/);
  t.match(why(6), /rule for emulation 'linux' in a policy for 'native'/);
  t.match(why(7), /utimensat/);
  t.match(why(8), /setresuid/);
  t.match(why(9), /expected an action/);
  t.match(why(11), /no system call 'nosuchcall'/);
  t.match(why(13), /detached/);
  t.match(why(14), /second policy header/);
  const p = parsePolicy(r.yaml, 'x.yaml', env);
  t.same([...p.rules.keys()], ['read', 'fsread']);
  t.same(texts(p, 'fsread'), ['filename eq "/y" then permit']);
  t.match(r.yaml, /# 11 line\(s\) left out/);
});

t.test('a rule whose translator does not apply to a mapped call is reported', async t => {
  // getdirentries -> getdents64: no file name there.
  const r = importClassicPolicy('Policy: /bin/ls, Emulation: native\n\tnative-getdirentries: filename eq "/x" then permit\n');
  t.same(r.problems.map(p => p.line), [2]);
  t.match(r.problems[0]!.reason, /as getdents64: translator 'filename' does not apply/);
});

t.test('templates: the header becomes a comment, the rules are imported', async t => {
  const r = importClassicPolicy(`Template: resolv, Emulation: native, Description: DNS lookups
	native-fsread: filename eq "/etc/resolv.conf" then permit
	native-connect: sockaddr match "inet-*:53" then permit
`);
  t.same(r.problems, []);
  t.match(r.yaml, /# Template: resolv: DNS lookups/);
  const p = parsePolicy(r.yaml, 't.yaml', env);
  t.equal(p.program, undefined, 'a template is for no program');
  t.same(texts(p, 'connect'), ['sockaddr match "inet-*:53" then permit']);
});

t.test('quotes and hashes survive the YAML', async t => {
  const { policy: p, problems } = load(`Policy: /x, Emulation: native
	native-fsread: filename eq "/tmp/it's #1" then permit # trailing comment
	native-fswrite: filename re "^/tmp/[a-z]+\\.log$" then permit
`);
  t.same(problems, []);
  t.same(texts(p, 'fsread'), [`filename eq "/tmp/it's #1" then permit`]);
  t.same(texts(p, 'fswrite'), ['filename re "^/tmp/[a-z]+\\.log$" then permit']);
});

t.test('not a policy at all', async t => {
  const r = importClassicPolicy('hello\n');
  t.same(r.problems, [{ line: 1, reason: "expected a 'Policy: NAME, Emulation: EMULATION' header first" }]);
  t.same(importClassicPolicy('').problems.map(p => p.line), [1]);
});

t.test('mapCallName', async t => {
  t.same(mapCallName('native', 'open', 'linux'), ['open', 'openat']);
  t.same(mapCallName('native', 'fsread', 'linux'), ['fsread']);
  t.same(mapCallName('native', 'fstat', 'linux'), ['fstat']);
  t.same(mapCallName('native', 'pread', 'linux'), ['pread64']);
  t.match(mapCallName('native', '__sysctl', 'linux'), { none: /sysctl/ });
  t.same(mapCallName('linux', 'setuid32', 'linux'), ['setuid']);
  t.same(mapCallName('linux32', 'fstat64', 'linux32'), ['fstat64']);
});
