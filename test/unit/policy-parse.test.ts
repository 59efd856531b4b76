import t, { type Test } from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePolicy, parseRuleText, PolicyError } from '../../tracer/policy/parse.js';
import { loadPolicyFile, loadPolicyFileSync } from '../../tracer/policy/load.js';
import type { Expr, Policy, Predicate, Rule } from '../../tracer/policy/types.js';

const env = { HOME: '/home/alice', USER: 'alice', CWD: '/work/dir' };

/** Parses a policy with one rule list under `key` and returns those rules. */
function rules(key: string, items: string[], emulation = 'linux'): Rule[] {
  const text = `emulation: ${emulation}\nrules:\n  "${key}":\n${items.map(i => `    - '${i.replace(/'/g, "''")}'`).join('\n')}\n`;
  return parsePolicy(text, 'p.yaml', env).rules.get(key)!;
}

function errorsOf(text: string, file = 'bad.yaml'): PolicyError {
  try {
    parsePolicy(text, file, env);
  } catch (e) {
    if (e instanceof PolicyError) return e;
    throw e;
  }
  throw new Error('expected a PolicyError');
}

/** A compact rendering of an expression, to check precedence. */
function show(e: Expr): string {
  switch (e.kind) {
    case 'true':
      return 'true';
    case 'pred':
      return `${e.translator}${e.index ? `[${e.index}]` : ''} ${e.op} ${e.value}`;
    case 'not':
      return `(not ${show(e.expr)})`;
    default:
      return `(${show(e.left)} ${e.kind} ${show(e.right)})`;
  }
}

t.test('the example from DESIGN.md', async t => {
  const text = `policy: /usr/sbin/nginx          # Systrace's "Policy:"
emulation: linux
default: ask
rules:
  read: permit
  "@basic-io": permit
  fsread:
    - filename match "/usr/lib/*" then permit
    - filename eq "/etc/nginx/nginx.conf" then permit
  fswrite:
    - filename match "/var/log/nginx/*" then permit log
  bind:
    - sockaddr match "inet-*:80" then permit as root
  connect:
    - sockaddr eq "inet-[127.0.0.1]:5432" then permit
  unlink: deny[enoent]
  setuid:
    - uid eq "33" then permit, if user = root
`;
  const p: Policy = parsePolicy(text, 'nginx.yaml', env);
  t.equal(p.file, 'nginx.yaml');
  t.equal(p.program, '/usr/sbin/nginx');
  t.equal(p.emulation, 'linux');
  t.equal(p.default, 'ask');
  t.same(p.defaultPos, { file: 'nginx.yaml', line: 3, col: 10 });
  t.same([...p.rules.keys()], ['read', '@basic-io', 'fsread', 'fswrite', 'bind', 'connect', 'unlink', 'setuid']);
  const read = p.rules.get('read')![0]!;
  t.same(read.expr, { kind: 'true' });
  t.same(read.action, { verdict: { kind: 'permit' }, log: false });
  t.same(read.pos, { file: 'nginx.yaml', line: 5, col: 9 });
  t.equal(read.text, 'permit');
  const fsread = p.rules.get('fsread')!;
  t.equal(fsread.length, 2);
  t.equal(fsread[0]!.text, 'filename match "/usr/lib/*" then permit');
  t.same(fsread[0]!.pos, { file: 'nginx.yaml', line: 8, col: 7 });
  const pred = fsread[1]!.expr as Predicate;
  t.same(pred, {
    kind: 'pred',
    translator: 'filename',
    index: 0,
    op: 'eq',
    value: '/etc/nginx/nginx.conf',
    pos: { file: 'nginx.yaml', line: 9, col: 7 },
  });
  t.equal(p.rules.get('fswrite')![0]!.action.log, true);
  t.same(p.rules.get('bind')![0]!.action, { verdict: { kind: 'permit' }, log: false, asUser: { user: 'root' } });
  t.same(p.rules.get('unlink')![0]!.action.verdict, { kind: 'deny', errno: 'ENOENT' });
  t.same(p.rules.get('setuid')![0]!.condition, { subject: 'user', op: '=', value: 'root' });
});

t.test('defaults when the header is absent', async t => {
  const p = parsePolicy('rules:\n  read: permit\n', 'x.yaml', env);
  t.equal(p.emulation, 'linux');
  t.equal(p.default, 'ask');
  t.equal(p.program, undefined);
  const q = parsePolicy('default: deny\nrules:\n', 'x.yaml', env);
  t.equal(q.rules.size, 0);
  t.equal(q.default, 'deny');
});

t.test('every action form', async t => {
  const table: [string, unknown][] = [
    ['permit', { verdict: { kind: 'permit' }, log: false }],
    ['deny', { verdict: { kind: 'deny', errno: 'EPERM' }, log: false }],
    ['deny[enoent]', { verdict: { kind: 'deny', errno: 'ENOENT' }, log: false }],
    ['deny[EACCES] log', { verdict: { kind: 'deny', errno: 'EACCES' }, log: true }],
    ['deny[ewouldblock]', { verdict: { kind: 'deny', errno: 'EWOULDBLOCK' }, log: false }],
    ['ask', { verdict: { kind: 'ask' }, log: false }],
    ['kill', { verdict: { kind: 'kill' }, log: false }],
    ['kill log', { verdict: { kind: 'kill' }, log: true }],
    ['permit log', { verdict: { kind: 'permit' }, log: true }],
    ['elevate', { verdict: { kind: 'permit' }, log: false, asUser: { user: 'root' } }],
    ['elevate log', { verdict: { kind: 'permit' }, log: true, asUser: { user: 'root' } }],
    ['permit as root', { verdict: { kind: 'permit' }, log: false, asUser: { user: 'root' } }],
    ['permit as www-data:adm', { verdict: { kind: 'permit' }, log: false, asUser: { user: 'www-data', group: 'adm' } }],
    ['permit as root log', { verdict: { kind: 'permit' }, log: true, asUser: { user: 'root' } }],
    ['permit log as root', { verdict: { kind: 'permit' }, log: true, asUser: { user: 'root' } }],
  ];
  for (const [text, want] of table) {
    const single = parsePolicy(`rules:\n  bind: ${text}\n`, 'a.yaml', env).rules.get('bind')![0]!;
    t.same(single.action, want, `single: ${text}`);
    t.same(single.expr, { kind: 'true' });
    t.same(rules('bind', [`true then ${text}`])[0]!.action, want, `rule: ${text}`);
  }
  const c = rules('setuid', ['uid eq "0" then deny, if group != wheel'])[0]!;
  t.same(c.condition, { subject: 'group', op: '!=', value: 'wheel' });
  const d = rules('setuid', ['true then permit, if user >= 1000'])[0]!;
  t.same(d.condition, { subject: 'user', op: '>=', value: '1000' });
  const single = parsePolicy('rules:\n  open: filename eq "/x" then permit\n', 'a.yaml', env).rules.get('open')![0]!;
  t.equal(show(single.expr), 'filename eq /x', 'a single string with then is a full rule');
});

t.test('operators, translators and indexes', async t => {
  const r = rules('renameat', [
    'filename eq "/a" then permit',
    'filename[1] neq "/b" then permit',
    'filename match "/tmp/*" then permit',
    'filename sub "tmp" then permit',
    'filename nsub "secret" then permit',
    'filename re "\\.so(\\.[0-9]+)*$" then permit',
    'filename[0] inpath "/usr" then permit',
  ]);
  t.same(
    r.map(x => show(x.expr)),
    ['filename eq /a', 'filename[1] neq /b', 'filename match /tmp/*', 'filename sub tmp', 'filename nsub secret',
      'filename re \\.so(\\.[0-9]+)*$', 'filename inpath /usr'],
  );
  const re = r[5]!.expr as Predicate;
  t.ok(re.regex instanceof RegExp);
  t.ok(re.regex!.test('/lib/libc.so.6'));
  t.equal((r[0]!.expr as Predicate).regex, undefined);
  t.equal(show(rules('symlink', ['linkname eq "../x" then permit'])[0]!.expr), 'linkname eq ../x');
  t.equal(show(rules('execve', ['argv sub "--help" then permit'])[0]!.expr), 'argv sub --help');
  t.equal(show(rules('connect', ['sockaddr eq "inet6-[::1]:443" then permit'])[0]!.expr), 'sockaddr eq inet6-[::1]:443');
  t.equal(show(rules('open', ['oflags sub "O_CREAT" then deny'])[0]!.expr), 'oflags sub O_CREAT');
  t.equal(show(rules('creat', ['oflags sub "O_CREAT" then deny'])[0]!.expr), 'oflags sub O_CREAT');
  t.equal(show(rules('kill', ['signame eq "SIGKILL" and pid eq "1" then deny'])[0]!.expr), '(signame eq SIGKILL and pid eq 1)');
  t.equal(show(rules('mmap', ['prot sub "PROT_EXEC" then ask'])[0]!.expr), 'prot sub PROT_EXEC');
  t.equal(show(rules('socket', ['sockdom eq "AF_INET" and socktype eq "SOCK_RAW" then deny'])[0]!.expr),
    '(sockdom eq AF_INET and socktype eq SOCK_RAW)');
  // sockproto prints in decimal: IP protocol names are read as their numbers.
  t.equal(show(rules('socket', ['sockdom eq "AF_INET" and socktype eq "SOCK_STREAM" and sockproto eq "IPPROTO_TCP" then permit'])[0]!.expr),
    '((sockdom eq AF_INET and socktype eq SOCK_STREAM) and sockproto eq 6)');
  t.equal(show(rules('socket', ['sockproto eq "0" or sockproto neq "IPPROTO_MPTCP" then permit'])[0]!.expr),
    '(sockproto eq 0 or sockproto neq 262)');
  t.equal(show(rules('socket', ['sockproto eq "IPPROTO_IP" then permit'])[0]!.expr), 'sockproto eq 0');
  t.equal(show(rules('socketpair', ['sockproto eq "-1" then deny'])[0]!.expr), 'sockproto eq -1');
  t.equal(show(rules('socket', ['sockproto match "1*" then deny'])[0]!.expr), 'sockproto match 1*', 'other operators keep the text');
  t.equal(show(rules('setresuid', ['uid[2] eq "0" then deny'])[0]!.expr), 'uid[2] eq 0');
  t.equal(show(rules('fchown', ['gid eq "0" or fd eq "3" then deny'])[0]!.expr), '(gid eq 0 or fd eq 3)');
  t.equal(show(rules('fcntl', ['cmd eq "F_SETFL" then permit'])[0]!.expr), 'cmd eq F_SETFL');
  t.equal(show(rules('lseek', ['whence eq "SEEK_END" then permit'])[0]!.expr), 'whence eq SEEK_END');
  t.equal(show(rules('_llseek', ['whence eq "SEEK_END" then permit'], 'linux32')[0]!.expr), 'whence eq SEEK_END');
  t.equal(show(rules('chmod', ['mode eq "0777" then deny'])[0]!.expr), 'mode eq 0777');
  t.equal(show(rules('open', ['filename eq "a \\"quoted\\" name" then permit'])[0]!.expr), 'filename eq a "quoted" name');
});

t.test('precedence: not > and > or, parentheses', async t => {
  const table: [string, string][] = [
    ['fd eq "1" or fd eq "2" and fd eq "3"', '(fd eq 1 or (fd eq 2 and fd eq 3))'],
    ['fd eq "1" and fd eq "2" or fd eq "3"', '((fd eq 1 and fd eq 2) or fd eq 3)'],
    ['not fd eq "1" and fd eq "2"', '((not fd eq 1) and fd eq 2)'],
    ['not (fd eq "1" and fd eq "2")', '(not (fd eq 1 and fd eq 2))'],
    ['(fd eq "1" or fd eq "2") and fd eq "3"', '((fd eq 1 or fd eq 2) and fd eq 3)'],
    ['not not true', '(not (not true))'],
    ['fd eq "1" or fd eq "2" or fd eq "3"', '((fd eq 1 or fd eq 2) or fd eq 3)'],
  ];
  for (const [src, want] of table) t.equal(show(rules('read', [`${src} then permit`])[0]!.expr), want, src);
});

t.test('groups and aliases as keys', async t => {
  const p = parsePolicy(
    `rules:
  "@basic-io": permit
  "@file-system":
    - filename inpath "/usr" then permit
  fsread:
    - filename match "/etc/*" then permit
    - oflags sub "O_DIRECTORY" then permit
  fswrite: deny[erofs]
`,
    'g.yaml',
    env,
  );
  t.same([...p.rules.keys()], ['@basic-io', '@file-system', 'fsread', 'fswrite']);
});

t.test('variables expand at load', async t => {
  const r = rules('open', [
    'filename eq "$HOME/.profile" then permit',
    'filename eq "${HOME}x" then permit',
    'filename inpath "$CWD" then permit',
    'filename eq "/home/$USER/$HOMEx" then permit',
    'filename re "^$HOME/[^/]+$" then permit',
    'filename match "$HOME/*" then permit',
  ]);
  t.same(r.map(x => (x.expr as Predicate).value), [
    '/home/alice/.profile',
    '/home/alicex',
    '/work/dir',
    '/home/alice/$HOMEx',
    '^\\/home\\/alice/[^/]+$',
    '/home/alice/*',
  ]);
  t.ok((r[4]!.expr as Predicate).regex!.test('/home/alice/x'));
  const star = { HOME: '/home/a*b', USER: 'u', CWD: '/' };
  const q = parsePolicy('rules:\n  open:\n    - filename match "$HOME/*" then permit\n', 'v.yaml', star);
  t.equal((q.rules.get('open')![0]!.expr as Predicate).value, '/home/a\\*b/*', 'glob characters in $HOME are literal');
  t.equal(
    rules('setuid', ['true then permit, if user = $USER'])[0]!.condition!.value,
    'alice',
  );
});

t.test('linux32 policies use the i386 table', async t => {
  const p = parsePolicy(
    'emulation: linux32\nrules:\n  stat64: permit\n  socketcall: permit\n  setuid32:\n    - uid eq "0" then deny\n',
    'i.yaml',
    env,
  );
  t.equal(p.emulation, 'linux32');
  t.same([...p.rules.keys()], ['stat64', 'socketcall', 'setuid32']);
});

interface Want {
  line: number;
  col: number;
  reason: string;
}

function checkErrors(t: Test, text: string, wants: Want[]): void {
  const e = errorsOf(text);
  t.equal(e.code, 'EPOLICY');
  t.equal(e.errors.length, wants.length, `${wants.length} errors: ${e.message}`);
  wants.forEach((w, i) => {
    const got = e.errors[i];
    t.ok(got, `error ${i}`);
    if (!got) return;
    t.equal(got.file, 'bad.yaml');
    t.equal(`${got.line}:${got.col}`, `${w.line}:${w.col}`, `position of: ${w.reason}`);
    t.match(got.reason, w.reason);
  });
  t.equal(e.message, e.errors.map(x => `${x.file}:${x.line}:${x.col}: ${x.reason}`).join('\n'));
  t.equal(`${e.file}:${e.line}:${e.col}: ${e.reason}`, e.message.split('\n')[0]);
}

t.test('malformed policies: one error each', async t => {
  const cases: [string, string, Want][] = [
    ['YAML syntax', 'rules:\n  read: [permit\n', { line: 3, col: 1, reason: 'YAML: ' }],
    ['YAML bad indentation', 'rules:\n  read: permit\n bogus: x\n', { line: 3, col: 1, reason: 'YAML: ' }],
    ['not a mapping', '- read\n', { line: 1, col: 1, reason: 'must be a YAML mapping' }],
    ['empty', '', { line: 1, col: 1, reason: 'empty policy' }],
    ['unknown top-level key', 'rulez:\n  read: permit\n', { line: 1, col: 1, reason: "unknown top-level key 'rulez'" }],
    ['bad emulation', 'emulation: arm64\n', { line: 1, col: 12, reason: "unknown emulation 'arm64'" }],
    ['bad default', 'default: allow\n', { line: 1, col: 10, reason: "unknown default 'allow'" }],
    ['policy not a string', 'policy: [a]\n', { line: 1, col: 9, reason: "'policy' (the program's path) must be a string" }],
    ['rules not a map', 'rules: [read]\n', { line: 1, col: 8, reason: "'rules' must be a mapping" }],
    ['duplicate top-level key', 'default: ask\ndefault: deny\n', { line: 2, col: 1, reason: "duplicate key 'default' (first at line 1)" }],
    ['duplicate rules key', 'rules:\n  read: permit\n  read: deny\n', { line: 3, col: 3, reason: "duplicate key 'read' (first at line 2)" }],
    ['i386 name under linux', 'rules:\n  stat64: permit\n', { line: 2, col: 3, reason: "unknown system call 'stat64' for emulation linux (x86_64)" }],
    ['x86_64 name under linux32', 'emulation: linux32\nrules:\n  newfstatat: permit\n', { line: 3, col: 3, reason: "unknown system call 'newfstatat' for emulation linux32 (i386)" }],
    ['no such call', 'rules:\n  frobnicate: permit\n', { line: 2, col: 3, reason: "unknown system call 'frobnicate'" }],
    ['unknown group', 'rules:\n  "@nope": permit\n', { line: 2, col: 3, reason: "unknown group '@nope'" }],
    ['value not action or list', 'rules:\n  read: {a: 1}\n', { line: 2, col: 9, reason: "rules for 'read' must be an action" }],
    ['null value', 'rules:\n  read:\n', { line: 2, col: 3, reason: "rules for 'read' must be an action" }],
    ['list item not a string', 'rules:\n  read:\n    - [a]\n', { line: 3, col: 7, reason: 'each rule must be a string' }],
    ['unknown action', 'rules:\n  read: allow\n', { line: 2, col: 9, reason: "expected an action (permit, deny, ask, kill, elevate, rewrite), found 'allow'" }],
    ['missing then', 'rules:\n  open:\n    - filename eq "/x" permit\n', { line: 3, col: 24, reason: "expected 'and', 'or' or 'then' after the condition, found 'permit'" }],
    ['missing value quotes', 'rules:\n  read:\n    - fd eq 3 then permit\n', { line: 3, col: 13, reason: 'expected a quoted "value" after \'eq\', found \'3\'' }],
    ['bad operator', 'rules:\n  read:\n    - fd is "3" then permit\n', { line: 3, col: 10, reason: 'expected an operator (eq, neq, match, sub, nsub, re, inpath)' }],
    ['unclosed paren', 'rules:\n  read:\n    - (fd eq "3" then permit\n', { line: 3, col: 18, reason: "expected ')' to close the '(' at column 7, found 'then'" }],
    ['unterminated string', 'rules:\n  read:\n    - fd eq "3 then permit\n', { line: 3, col: 13, reason: 'unterminated string' }],
    ['trailing garbage', 'rules:\n  read:\n    - true then permit now\n', { line: 3, col: 24, reason: "expected end of rule (or 'log', 'as', ', if ...'), found 'now'" }],
    ['empty condition', 'rules:\n  read:\n    - then permit\n', { line: 3, col: 7, reason: "expected a condition before 'then'" }],
    ['bad index', 'rules:\n  rename:\n    - filename[x] eq "/a" then permit\n', { line: 3, col: 16, reason: "expected an argument index after 'filename['" }],
    ['unknown translator', 'rules:\n  open:\n    - filname eq "/x" then permit\n', { line: 3, col: 7, reason: "unknown translator 'filname'" }],
    ['filename on read', 'rules:\n  read:\n    - filename eq "/x" then permit\n', { line: 3, col: 7, reason: "translator 'filename' does not apply to system call 'read'" }],
    ['filename[2] on rename', 'rules:\n  rename:\n    - filename[2] eq "/x" then permit\n', { line: 3, col: 7, reason: "translator 'filename[2]' does not apply" }],
    ['sockaddr on fsread', 'rules:\n  fsread:\n    - sockaddr eq "x" then permit\n', { line: 3, col: 7, reason: "does not apply to any member of alias 'fsread'" }],
    ['filename on @basic-io', 'rules:\n  "@basic-io":\n    - filename eq "x" then permit\n', { line: 3, col: 7, reason: "does not apply to any member of group '@basic-io'" }],
    ['oflags on read', 'rules:\n  read:\n    - oflags eq "O_RDONLY" then permit\n', { line: 3, col: 7, reason: "translator 'oflags' does not apply" }],
    ['sockproto on connect', 'rules:\n  connect:\n    - sockproto eq "6" then permit\n', { line: 3, col: 7, reason: "translator 'sockproto' does not apply to system call 'connect'" }],
    ['sockproto by an unknown name', 'rules:\n  socket:\n    - sockproto eq "tcp" then permit\n', { line: 3, col: 20, reason: 'sockproto is the protocol as a decimal number ("0", "6", "262"), never "tcp"' }],
    ['sockproto with a leading zero', 'rules:\n  socket:\n    - sockproto neq "06" then deny\n', { line: 3, col: 21, reason: 'never "06"' }],
    ['sockproto beyond 32 bits', 'rules:\n  socket:\n    - sockproto eq "4294967302" then permit\n', { line: 3, col: 20, reason: 'never "4294967302"' }],
    ['sockproto name with match', 'rules:\n  socket:\n    - sockproto match "IPPROTO_*" then permit\n', { line: 3, col: 23, reason: 'IP protocol name (IPPROTO_TCP, IPPROTO_UDP ...) with eq or neq' }],
    ['bad regex', 'rules:\n  open:\n    - filename re "a(b" then permit\n', { line: 3, col: 19, reason: 'bad regular expression "a(b"' }],
    ['bad errno', 'rules:\n  unlink: deny[enope]\n', { line: 2, col: 16, reason: "unknown errno 'enope'" }],
    ['errno on permit', 'rules:\n  unlink: permit[enoent]\n', { line: 2, col: 17, reason: 'only deny takes an errno' }],
    ['as on deny', 'rules:\n  bind: deny as root\n', { line: 2, col: 14, reason: "'as' applies only to permit" }],
    ['elevate as', 'rules:\n  bind: elevate as bob\n', { line: 2, col: 17, reason: "'elevate' already means 'permit as root'" }],
    ['bad condition subject', 'rules:\n  read:\n    - true then permit, if uid = 0\n', { line: 3, col: 28, reason: "expected 'user' or 'group' after 'if'" }],
    ['ordered condition needs a number', 'rules:\n  read:\n    - true then permit, if user < root\n', { line: 3, col: 35, reason: "'<' compares numeric ids" }],
    ['bad character', 'rules:\n  read:\n    - fd eq "1" & fd eq "2" then permit\n', { line: 3, col: 17, reason: "unexpected character '&'" }],
    ['YAML alias in rules', 'rules:\n  read: &a permit\n  write: *a\n', { line: 3, col: 10, reason: 'YAML aliases (*name) are not supported' }],
  ];
  for (const [name, text, want] of cases) t.test(name, async t => checkErrors(t, text, [want]));
});

t.test('positions inside quoted, folded and indented rule strings', async t => {
  // The error is at 'frob' in each; check that line:col lands on it.
  const cases: [string, string, number, number][] = [
    ['plain', 'rules:\n  read:\n    - true then frob\n', 3, 17],
    ['double-quoted', 'rules:\n  read:\n    - "true then frob"\n', 3, 18],
    ['double-quoted with escapes', 'rules:\n  open:\n    - "filename eq \\"/a\\\\b\\" then frob"\n', 3, 35],
    ['single-quoted', "rules:\n  read:\n    - 'true then frob'\n", 3, 18],
    ['single-quoted with quote', "rules:\n  open:\n    - 'filename eq \"it''s\" then frob'\n", 3, 33],
    ['plain on two lines', 'rules:\n  read:\n    - true\n      then frob\n', 4, 12],
    ['block literal', 'rules:\n  read:\n    - |\n      true then frob\n', 4, 17],
    ['single action value', 'rules:\n  read:   frob\n', 2, 11],
  ];
  for (const [name, text, line, col] of cases) {
    const e = errorsOf(text);
    t.equal(`${e.line}:${e.col}`, `${line}:${col}`, name);
  }
});

t.test('every error is reported at once, in file order', async t => {
  const text = `policy: /bin/x
bogus: 1
emulation: linux
rules:
  stat64: permit
  "@nope": permit
  read:
    - filename eq "/x" then permit
    - fd eq "3" then frobnicate
    - fd eq "3" then permit
  open:
    - filname eq "/x" then permit
    - filename re "(" then permit
    - "filename eq \\"/a\\" then deny[ENOPE]"
  unlink: deny[enoent]
  unlink: permit
`;
  checkErrors(t, text, [
    { line: 2, col: 1, reason: "unknown top-level key 'bogus'" },
    { line: 5, col: 3, reason: "unknown system call 'stat64' for emulation linux (x86_64)" },
    { line: 6, col: 3, reason: "unknown group '@nope'" },
    { line: 8, col: 7, reason: "translator 'filename' does not apply to system call 'read'" },
    { line: 9, col: 22, reason: "found 'frobnicate'" },
    { line: 12, col: 7, reason: "unknown translator 'filname'" },
    { line: 13, col: 19, reason: 'bad regular expression "("' },
    { line: 14, col: 37, reason: "unknown errno 'ENOPE'" },
    { line: 16, col: 3, reason: "duplicate key 'unlink' (first at line 15)" },
  ]);
});

t.test('emulation is read before rules, whatever the order', async t => {
  const p = parsePolicy('rules:\n  stat64: permit\nemulation: linux32\n', 'o.yaml', env);
  t.equal(p.emulation, 'linux32');
  const e = errorsOf('rules:\n  newfstatat: permit\nemulation: linux32\n');
  t.match(e.reason, "unknown system call 'newfstatat' for emulation linux32 (i386)");
});

t.test('parseRuleText for the prompt', async t => {
  const r = parseRuleText('filename eq "/etc/passwd" then permit', { emulation: 'linux', key: 'openat', env });
  t.equal(r.text, 'filename eq "/etc/passwd" then permit');
  t.equal(show(r.expr), 'filename eq /etc/passwd');
  try {
    parseRuleText('filename eq "/x" then frob', { emulation: 'linux', key: 'openat', env });
    t.fail('should throw');
  } catch (e) {
    t.ok(e instanceof PolicyError);
    t.equal((e as PolicyError).col, 23);
    t.equal((e as PolicyError).line, 1);
  }
});

t.test('loadPolicyFile', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'systrace-policy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const good = join(dir, 'good.yaml');
  writeFileSync(good, 'rules:\n  read: permit\n');
  t.equal((await loadPolicyFile(good, env)).file, good);
  t.equal(loadPolicyFileSync(good, env).rules.size, 1);
  const missing = join(dir, 'missing.yaml');
  await t.rejects(loadPolicyFile(missing, env), { code: 'EPOLICY', file: missing, line: 1, col: 1, reason: 'no such policy file' });
  t.throws(() => loadPolicyFileSync(missing, env), { code: 'EPOLICY', reason: 'no such policy file' });
  await t.rejects(loadPolicyFile(dir, env), { code: 'EPOLICY', reason: /directory/ });
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'rules:\n  nope: permit\n');
  await t.rejects(loadPolicyFile(bad, env), { message: `${bad}:2:3: unknown system call 'nope' for emulation linux (x86_64)` });
});
