// Lint findings on deliberately bad policies (tracer/policy/lint.ts).
import t from 'tap';
import { readFileSync } from 'node:fs';
import { parsePolicy } from '../../tracer/policy/parse.js';
import { formatFinding, lintPolicy, type LintFinding } from '../../tracer/policy/lint.js';

const env = { HOME: '/home/alice', USER: 'alice', CWD: '/work' };
const lint = (text: string): LintFinding[] => lintPolicy(parsePolicy(text, 'p.yaml', env));
const at = (fs: LintFinding[]): string[] => fs.map(f => `${f.line}:${f.col} ${f.severity}`);
const head = 'emulation: linux\ndefault: deny\nrules:\n';

t.test('a tight policy has no findings (the shipped demo policy included)', async t => {
  t.same(lint(readFileSync('policies/demo.yaml', 'utf8')), []);
  t.same(lint(`${head}  read: permit\n  fsread:\n    - filename inpath "/usr" then permit\n  connect:\n    - sockaddr re "^inet-\\\\[127\\\\.0\\\\.0\\\\.1\\\\]:80$" then permit\n`), []);
});

t.test('rules after an unconditional rule of the same call can never match', async t => {
  const fs = lint(`${head}  unlink:
    - filename eq "/tmp/a" then permit
    - true then deny[enoent]
    - filename eq "/tmp/b" then permit
`);
  t.same(at(fs), ['7:7 warning']);
  t.match(fs[0]!.reason, /can never match: 'true then deny\[enoent\]' \(unlink, line 6\) decides every call first/);
  t.equal(formatFinding(fs[0]!), `p.yaml:7:7: warning: ${fs[0]!.reason}`);
});

t.test('a rule shadowed by an earlier identical condition', async t => {
  const fs = lint(`${head}  fsread:
    - filename eq "/etc/passwd" then permit
    - filename eq "/etc/passwd" then deny
    - filename eq "/etc/passwd" then deny, if user = root
`);
  t.same(at(fs), ['6:7 warning'], 'a different predicate is a different condition');
  t.match(fs[0]!.reason, /same condition and comes first/);
});

t.test('sockproto: a protocol name and its number are the same condition', async t => {
  const fs = lint(`${head}  socket:
    - sockproto eq "IPPROTO_TCP" then permit
    - sockproto eq "6" then deny
    - sockproto eq "IPPROTO_MPTCP" then deny
`);
  t.same(at(fs), ['6:7 warning']);
  t.match(fs[0]!.reason, /'sockproto eq "IPPROTO_TCP" then permit' \(socket, line 5\) has the same condition and comes first/);
});

t.test('a group counts as the call\'s own rules: its unconditional rule kills the alias and later call rules', async t => {
  const fs = lint(`${head}  "@file-system": permit
  fstat: deny
  fsread:
    - filename eq "/etc/hosts" then permit
`);
  const reasons = fs.map(f => `${f.line} ${f.reason}`);
  t.match(reasons.find(r => r.startsWith('5 ')), /can never match: 'permit' \(@file-system, line 4\)/);
  t.match(reasons.find(r => r.startsWith('7 ')), /rules under fsread never apply to open, openat, .* and \d+ more \(decided first by 'permit' \(@file-system, line 4\)\)/);
  t.match(reasons.find(r => r.startsWith('4 ')), /too broad: permits @file-system/, 'and the group itself permits writing anywhere');
});

t.test('an alias rule is dead when every member decides first', async t => {
  // No group covers all of fsread: make every member unconditional by hand.
  const { aliasMembers } = await import('../../tracer/policy/aliases.js');
  const own = aliasMembers('linux', 'fsread').map(n => `  ${n}: deny`).join('\n');
  const fs = lint(`${head}${own}\n  fsread:\n    - filename eq "/x" then permit\n`);
  t.equal(fs.length, 1);
  t.match(fs[0]!.reason, /every call of fsread has an unconditional rule of its own/);
});

t.test('a group rule is dead only if dead for every member', async t => {
  t.same(lint(`${head}  read: permit\n  "@basic-io": deny\n`), [], 'write, close ... still get it');
  const fs = lint(`${head}  "@basic-io": permit\n  "@basic-io ": deny\n`.replace('  "@basic-io ": deny\n', ''));
  t.same(fs, []);
});

t.test('dangerously broad file rules', async t => {
  const cases: [string, string, 'error' | 'warning'][] = [
    ['fswrite', 'filename inpath "/" then permit', 'error'],
    ['fswrite', 'filename match "/*" then permit', 'error'],
    ['fswrite', 'filename match "*" then permit', 'error'],
    ['fswrite', 'filename re ".*" then permit log', 'error'],
    ['fswrite', 'filename neq "/etc/shadow" then permit', 'error'],
    ['fswrite', 'true then permit', 'error'],
    ['openat', 'filename sub "/" then permit', 'error'],
    ['unlink', 'filename match "/*" then permit as root', 'error'],
    ['fsread', 'filename inpath "/" then permit', 'warning'],
    ['stat', 'filename match "*" then permit', 'warning'],
  ];
  for (const [key, rule, sev] of cases) {
    const fs = lint(`${head}  ${key}:\n    - '${rule}'\n`).filter(f => /too broad/.test(f.reason));
    t.same(at(fs), [`5:8 ${sev}`], `${key}: ${rule}`);
  }
  for (const [key, rule] of [
    ['fswrite', 'filename inpath "/tmp" then permit'],
    ['fswrite', 'filename inpath "/" then deny'],
    ['fsread', 'filename match "/usr/*" or filename match "/etc/*" then permit'],
    ['openat', 'filename inpath "/" and oflags sub "O_RDONLY" then permit'],
  ]) {
    t.same(lint(`${head}  ${key}:\n    - '${rule}'\n`).filter(f => /too broad/.test(f.reason)), [], `not broad: ${key}: ${rule}`);
  }
});

t.test('permitting the escape calls is an error; a conditional permit a warning', async t => {
  for (const call of ['ptrace', 'io_uring_setup', 'process_vm_writev', 'unshare', 'mount', 'setns', 'bpf', 'chroot']) {
    const fs = lint(`${head}  ${call}: permit\n`);
    t.same(at(fs), ['4:3 error'.replace('4:3', `4:${call.length + 5}`)], call);
    t.match(fs[0]!.reason, new RegExp(`permits ${call}, which escapes`));
  }
  t.same(at(lint(`${head}  ptrace: deny\n`)), [], 'naming it to deny is fine');
  t.same(at(lint(`${head}  kill: permit\n`)), []);
  t.same(at(lint(`${head}  ptrace:\n    - pid eq "1" then permit\n`)), ['5:7 warning']);
  t.same(lint(`${head}  "@debug": permit\n`).filter(f => /escapes/.test(f.reason)), [], 'a group does not name ptrace (the kernel still denies it)');
});

t.test('default: permit is a warning at the default', async t => {
  const fs = lint('emulation: linux\ndefault: permit\nrules:\n  read: permit\n');
  t.same(at(fs), ['2:10 warning']);
  t.match(fs[0]!.reason, /default: permit/);
});

t.test('re without anchors', async t => {
  const fs = lint(`${head}  connect:
    - sockaddr re "inet-.*:80$" then permit
    - sockaddr eq "x" or sockaddr re "^inet-.*:443" then permit
    - sockaddr re "\\\\.example\\\\.org" then deny
    - sockaddr re "^inet-\\\\[10\\\\..*\\\\]:22$" then permit
`);
  t.same(fs.map(f => f.line), [5, 6, 7]);
  t.match(fs[0]!.reason, /no '\^'/);
  t.match(fs[1]!.reason, /no '\$'/);
  t.match(fs[2]!.reason, /neither '\^' nor '\$'/);
  t.equal(fs[1]!.col, 26, 'at the predicate');
});

t.test('exit cannot be denied', async t => {
  const fs = lint(`${head}  exit_group: deny\n`);
  t.match(fs[0]!.reason, /always permitted/);
});
