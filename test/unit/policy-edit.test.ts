import t from 'tap';
import { addRule, newPolicyText } from '../../tracer/policy/edit.js';
import { parsePolicy } from '../../tracer/policy/parse.js';

const env = { HOME: '/h', USER: 'u', CWD: '/w' };
const base = `# my policy
policy: /bin/cat
emulation: linux
default: ask   # ask me
rules:
  read: permit        # reads are fine
  fsread:
    - filename inpath "/usr" then permit   # libraries
    - filename eq "/etc/motd" then ask
  openat: ask
`;

t.test('a rule lands last among the key\'s rules, comments intact', async t => {
  const out = addRule(base, { key: 'fsread', rule: 'filename eq "/etc/hostname" then permit' });
  t.match(out, /# my policy\n/);
  t.match(out, /default: ask *# ask me\n/);
  t.match(out, /read: permit *# reads are fine\n/);
  t.match(out, /- filename inpath "\/usr" then permit *# libraries\n/);
  const p = parsePolicy(out, 'p.yaml', env);
  t.same(p.rules.get('fsread')!.map(r => r.text), [
    'filename inpath "/usr" then permit',
    'filename eq "/etc/motd" then ask',
    'filename eq "/etc/hostname" then permit',
  ]);
});

t.test('before the ask rule that matched, so that it is consulted first', async t => {
  const out = addRule(base, { key: 'fsread', rule: 'filename eq "/etc/motd" then permit', beforeLine: 9 });
  const p = parsePolicy(out, 'p.yaml', env);
  t.same(p.rules.get('fsread')!.map(r => r.text), [
    'filename inpath "/usr" then permit',
    'filename eq "/etc/motd" then permit',
    'filename eq "/etc/motd" then ask',
  ]);
});

t.test('a new key, unconditional and conditional', async t => {
  let out = addRule(base, { key: 'getpid', rule: 'permit' });
  out = addRule(out, { key: 'connect', rule: 'sockaddr eq "inet-[127.0.0.1]:80" then permit' });
  const p = parsePolicy(out, 'p.yaml', env);
  t.equal(p.rules.get('getpid')![0]!.action.verdict.kind, 'permit');
  t.equal(p.rules.get('connect')![0]!.text, 'sockaddr eq "inet-[127.0.0.1]:80" then permit');
  t.match(out, /\n  getpid: permit\n/);
});

t.test('a key with a plain action becomes a list, the new rule first', async t => {
  const out = addRule(base, { key: 'openat', rule: 'filename eq "/x" then permit', beforeLine: 10 });
  const p = parsePolicy(out, 'p.yaml', env);
  t.same(p.rules.get('openat')!.map(r => r.text), ['filename eq "/x" then permit', 'true then ask']);
});

t.test('a policy made from nothing', async t => {
  const out = addRule(newPolicyText('/bin/cat', 'linux'), { key: 'fsread', rule: 'filename eq "/etc/hostname" then permit' });
  const p = parsePolicy(out, 'p.yaml', env);
  t.equal(p.default, 'ask');
  t.equal(p.program, '/bin/cat');
  t.equal(p.rules.get('fsread')!.at(-1)!.text, 'filename eq "/etc/hostname" then permit');
  t.equal(p.rules.get('execve')![0]!.action.verdict.kind, 'ask', 'running another program is asked about');
  t.equal(p.rules.get('@basic-io')![0]!.action.verdict.kind, 'permit', 'the basics are not');
});
