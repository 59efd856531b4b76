// `policy explain`: which rule decides a call, and where (tracer/policy/explain.ts).
import t from 'tap';
import { parsePolicy } from '../../tracer/policy/parse.js';
import { buildCallView, explainCall, ExplainError, symbolValue, type ExplainOptions } from '../../tracer/policy/explain.js';

const env = { HOME: '/home/alice', USER: 'alice', CWD: '/work' };
const user = { uid: 1000, gid: 1000, name: 'alice', groups: ['1000'] };
const opts: ExplainOptions = { enforce: true, aliases: true, user, cwd: '/work' };

const POLICY = `emulation: linux
default: deny
rules:
  "@basic-io": permit
  fstat: permit
  kill:
    - signame eq "SIGKILL" then deny
  fsread:
    - filename inpath "/usr" then permit
    - filename eq "/etc/passwd" then permit
  fswrite:
    - filename inpath "/tmp" then permit log
  openat:
    - filename eq "/etc/shadow" then deny[eacces]
  connect:
    - sockaddr eq "inet-[127.0.0.1]:80" then permit
  setuid:
    - uid eq "0" then permit as root
  ptrace: deny[eperm]
`;
const p = parsePolicy(POLICY, 'p.yaml', env);
const explain = (...words: string[]) => explainCall(p, words, opts);

t.test('a path call decided by its alias, in user space', async t => {
  const x = explain('openat', '/etc/passwd', 'O_RDONLY');
  t.equal(x.alias, 'fsread');
  t.equal(x.action.verdict.kind, 'permit');
  t.equal(x.decision.via, 'alias');
  t.equal(x.decision.rule?.pos.line, 10);
  t.equal(x.placement.target, 'user');
  t.match(x.lines.join('\n'), /rule: +p\.yaml:10:7: filename eq "\/etc\/passwd" then permit/);
  t.match(x.lines.join('\n'), /under alias fsread: no rule of openat itself matched/);
  t.match(x.lines.join('\n'), /decided: +in user space/);
  t.equal(x.shown, 'openat(filename "/etc/passwd", oflags O_RDONLY, mode 0000)');
});

t.test("the call's own rule comes before the alias", async t => {
  const x = explain('openat', '/etc/shadow');
  t.same(x.action.verdict, { kind: 'deny', errno: 'EACCES' });
  t.equal(x.decision.via, 'syscall');
  t.match(x.lines.join('\n'), /a rule of openat/);
});

t.test('flags decide the alias: O_WRONLY|O_CREAT is fswrite', async t => {
  const x = explain('openat', '/tmp/out', 'O_WRONLY|O_CREAT', '0644');
  t.equal(x.alias, 'fswrite');
  t.equal(x.action.verdict.kind, 'permit');
  t.equal(x.action.log, true);
  t.match(x.shown, /oflags O_WRONLY\|O_CREAT, mode 0644/);
  t.equal(explain('openat', '/usr/lib/x', 'O_RDWR').action.verdict.kind, 'deny', 'reading rules do not cover writing');
  t.equal(explain('fsread', '/usr/lib/libc.so.6').call.syscall, 'openat', 'fsread PATH is an openat for reading');
});

t.test('relative paths are taken from the cwd', async t => {
  t.same(explain('openat', '../usr/lib/x').call.filenames, ['/usr/lib/x']);
});

t.test('sockaddr, signals, uids', async t => {
  const c = explain('connect', 'inet-[127.0.0.1]:80');
  t.equal(c.call.sockaddr, 'inet-[127.0.0.1]:80');
  t.equal(c.action.verdict.kind, 'permit');
  t.equal(explain('connect', 'inet-[127.0.0.1]:81').decision.via, 'default');

  const k = explain('kill', 'SIGKILL');
  t.equal(k.action.verdict.kind, 'deny');
  t.equal(k.decision.rule?.pos.line, 7);
  t.equal(k.placement.target, 'user', 'under default: deny every denial is reported, so kill is notified');
  const permissive = parsePolicy('emulation: linux\ndefault: permit\nrules:\n  kill:\n    - signame eq "SIGKILL" then deny\n', 'k.yaml', env);
  const kk = explainCall(permissive, ['kill', '1', 'SIGKILL'], opts);
  t.equal(kk.placement.target, 'kernel', 'integer rules over a permit default are decided in the kernel');
  t.match(kk.lines.join('\n'), /decided: +in the kernel \(BPF\): integer rules/);
  t.equal(explain('kill', '1234', 'SIGTERM').shown, 'kill(pid 1234, signame SIGTERM)');
  t.equal(explain('kill', 'pid=-1', 'signame=9').shown, 'kill(pid -1, signame SIGKILL)');

  const s = explain('setuid', '0');
  t.same(s.action.asUser, { user: 'root' });
  t.match(s.lines.join('\n'), /decision: +permit as root/);
});

t.test('rename: two paths, judged each under the alias', async t => {
  const x = explain('rename', '/tmp/a', '/home/b');
  t.same(x.call.filenames, ['/tmp/a', '/home/b']);
  t.equal(x.alias, 'fswrite');
  t.equal(x.decision.via, 'default', 'the second path is not under /tmp');
  t.match(x.lines.join('\n'), /rule: +default \(deny; p\.yaml:2\)/);
  t.match(x.lines.join('\n'), /no rule of rename nor of its alias fswrite matched/);
  t.equal(explain('rename', '/tmp/a', '/tmp/b').action.verdict.kind, 'permit');
});

t.test('group rules count as the call\'s own', async t => {
  const x = explain('read', '3');
  t.equal(x.decision.key, '@basic-io');
  t.match(x.lines.join('\n'), /under @basic-io, which counts as read's own/);
  t.equal(x.placement.target, 'kernel');
});

t.test("the kernel's fixed answers: exit, and the escape calls unless named", async t => {
  const q = parsePolicy('emulation: linux\ndefault: permit\nrules:\n  exit: deny\n', 'q.yaml', env);
  const e = explainCall(q, ['exit'], opts);
  t.equal(e.action.verdict.kind, 'permit');
  t.match(e.lines.join('\n'), /exit is always permitted \(the rules alone would say deny\)/);
  const b = explainCall(q, ['bpf'], opts);
  t.same(b.action.verdict, { kind: 'deny', errno: 'EPERM' });
  t.match(b.lines.join('\n'), /bpf escapes the filter: denied unless the policy names it \(the rules alone would say permit\)/);
  t.equal(explain('ptrace').decision.rule?.pos.line, 19, 'named: its own rule decides');
});

t.test('ask under -a and without', async t => {
  const q = parsePolicy('emulation: linux\nrules:\n  read: permit\n', 'q.yaml', env);
  t.equal(explainCall(q, ['write', '1'], { ...opts, enforce: false }).action.verdict.kind, 'ask');
  t.equal(explainCall(q, ['write', '1'], opts).action.verdict.kind, 'deny');
  t.match(explainCall(q, ['write', '1'], opts).lines.join('\n'), /default \(ask, deny under -a; not written: ask\)/);
});

t.test('aliases off (-u)', async t => {
  const x = explainCall(p, ['openat', '/etc/passwd'], { ...opts, aliases: false });
  t.equal(x.decision.via, 'default');
  t.match(x.lines[0]!, /\[alias fsread, ignored \(-u\)\]/);
});

t.test('words that do not fit', async t => {
  t.throws(() => buildCallView('linux', [], '/'), { code: 'EEXPLAIN', name: 'ExplainError' });
  t.ok(ExplainError);
  t.throws(() => buildCallView('linux', ['nosuch'], '/'), /unknown system call 'nosuch'/);
  t.throws(() => buildCallView('linux', ['kill', 'O_RDONLY'], '/'), /takes no oflags/);
  t.throws(() => buildCallView('linux', ['read', '/etc/x'], '/'), /no argument left/);
  t.throws(() => buildCallView('linux', ['kill', 'SIGNOPE'], '/'), /unknown name 'SIGNOPE'/);
  t.throws(() => buildCallView('linux', ['getpid', 'uid=0'], '/'), /getpid has no uid/);
});

t.test('socket: the protocol by name or number, shown in decimal', async t => {
  const q = parsePolicy(`emulation: linux
default: permit
rules:
  socket:
    - sockdom eq "AF_INET" and socktype eq "SOCK_STREAM" and sockproto eq "IPPROTO_MPTCP" then deny
`, 'q.yaml', env);
  const m = explainCall(q, ['socket', 'AF_INET', 'SOCK_STREAM', 'IPPROTO_MPTCP'], opts);
  t.equal(m.shown, 'socket(sockdom AF_INET, socktype SOCK_STREAM, sockproto 262)');
  t.equal(m.action.verdict.kind, 'deny');
  t.match(m.lines.join('\n'), /rule: +q\.yaml:5:7: .*sockproto eq "IPPROTO_MPTCP" then deny/);
  t.equal(m.placement.target, 'kernel');
  t.equal(explainCall(q, ['socket', 'AF_INET', 'SOCK_STREAM', '262'], opts).action.verdict.kind, 'deny', 'a number fills the protocol');
  t.equal(explainCall(q, ['socket', 'AF_INET', 'SOCK_STREAM', 'sockproto=IPPROTO_TCP'], opts).action.verdict.kind, 'permit');
  t.equal(explainCall(q, ['socket', 'AF_INET', 'SOCK_STREAM'], opts).shown, 'socket(sockdom AF_INET, socktype SOCK_STREAM, sockproto 0)');
  t.throws(() => buildCallView('linux', ['connect', 'IPPROTO_TCP'], '/'), /connect takes no sockproto argument/);
});

t.test('execve: path then argv', async t => {
  const v = buildCallView('linux', ['execve', '/bin/ls', 'ls', '-l'], '/');
  t.same(v.filenames, ['/bin/ls']);
  t.same(v.argv, ['ls', '-l']);
  t.same(buildCallView('linux', ['execve', '/bin/true'], '/').argv, ['/bin/true']);
});

t.test('symbolValue', async t => {
  t.equal(symbolValue('oflags', 'O_WRONLY|O_CREAT|O_TRUNC'), 0o1101n);
  t.equal(symbolValue('mode', '0644'), 0o644n);
  t.equal(symbolValue('signal', 'SIGRTMIN+2'), 34n);
  t.equal(symbolValue('prot', 'PROT_READ|PROT_EXEC'), 5n);
  t.equal(symbolValue('sockdom', 'AF_INET6'), 10n);
  t.equal(symbolValue('socktype', 'SOCK_DGRAM'), 2n);
  t.equal(symbolValue('sockproto', 'IPPROTO_MPTCP'), 262n);
  t.equal(symbolValue('sockproto', 'IPPROTO_NOPE'), undefined);
  t.equal(symbolValue('cmd', 'F_SETFD'), 2n);
  t.equal(symbolValue('whence', 'SEEK_END'), 2n);
  t.equal(symbolValue('pid', '-1'), (1n << 64n) - 1n);
});
