import t from 'tap';
import { mergePolicies } from '../../tracer/policy/merge.js';
import { parsePolicy } from '../../tracer/policy/parse.js';

const env = { HOME: '/h', USER: 'u', CWD: '/w' };
const input = (text: string, file: string) => ({ text, policy: parsePolicy(text, file, env) });

const a = `# learned run 1
emulation: linux
default: deny
rules:
  read: permit
  fsread:
    - filename eq "/etc/a" then permit
  connect:
    - sockaddr eq "inet-[127.0.0.1]:80" then permit
`;
const b = `emulation: linux
default: deny
rules:
  read: permit
  write: permit
  fsread:
    - filename eq "/etc/a" then permit
    - filename eq "/etc/b" then permit
  unlink: deny
`;

t.test('union of two learned policies', async t => {
  const r = mergePolicies(input(a, 'a.yaml'), [input(b, 'b.yaml')]);
  t.same(r.conflicts, []);
  t.equal(r.added, 3, 'write, /etc/b, unlink');
  const p = parsePolicy(r.text, 'm.yaml', env);
  t.same(p.rules.get('fsread')!.map(x => x.text), ['filename eq "/etc/a" then permit', 'filename eq "/etc/b" then permit']);
  t.ok(p.rules.has('write'));
  t.ok(p.rules.has('connect'));
  t.match(r.text, /^# learned run 1\n/, 'the base\'s comments stay');
});

t.test('conflicts keep the base and are reported', async t => {
  const c = `emulation: linux\ndefault: permit\nrules:\n  read: deny\n`;
  const r = mergePolicies(input(a, 'a.yaml'), [input(c, 'c.yaml')]);
  t.equal(r.conflicts.length, 2);
  t.match(r.conflicts.join('\n'), /default permit differs/);
  t.match(r.conflicts.join('\n'), /c\.yaml:4: read: deny conflicts with permit; kept permit/);
  t.equal(parsePolicy(r.text, 'm.yaml', env).rules.get('read')![0]!.action.verdict.kind, 'permit');
});

t.test('emulations must agree', async t => {
  t.throws(() => mergePolicies(input(a, 'a.yaml'), [input('emulation: linux32\nrules: {}\n', 'c.yaml')]), /emulation linux32/);
});
