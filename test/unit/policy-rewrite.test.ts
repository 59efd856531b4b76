import t from 'tap';
import { parsePolicy, PolicyError } from '../../tracer/policy/parse.js';
import { rewritePath, rewriteSockaddr } from '../../tracer/policy/rewrite.js';
import { prepare, decide } from '../../tracer/engine/decide.js';

const env = { HOME: '/home/u', USER: 'u', CWD: '/w' };

t.test('the rewrite action parses, with variables', async t => {
  const p = parsePolicy(`emulation: linux
default: deny
rules:
  fsread:
    - filename eq "/etc/app.conf" then rewrite "$HOME/app.conf" log
    - filename inpath "$HOME/.cache" then rewrite "$HOME/.cache" to "/scratch/cache"
    - filename inpath "/home/u" then permit
    - filename inpath "/scratch" then permit
  connect:
    - sockaddr eq "inet-[10.0.0.5]:5432" then rewrite "inet-[127.0.0.1]:6432"
    - sockaddr eq "inet-[127.0.0.1]:6432" then permit
`, 'p.yaml', env);
  const rules = p.rules.get('fsread')!;
  t.same(rules[0]!.action.rewrite, { to: '/home/u/app.conf' });
  t.equal(rules[0]!.action.log, true);
  t.equal(rules[0]!.action.verdict.kind, 'permit', 'a rewrite is a permit carried out elsewhere');
  t.same(rules[1]!.action.rewrite, { from: '/home/u/.cache', to: '/scratch/cache' });
  const d = decide(prepare(p, { enforce: true, aliases: true }), { emulation: 'linux', syscall: 'openat', args: [0n, 0n, 0n, 0n, 0n, 0n], filenames: ['/etc/app.conf'] });
  t.same(d.action.rewrite, { to: '/home/u/app.conf' });
});

t.test('rewrites that lead out of what the policy permits are refused at load, with file:line', async t => {
  const bad = `emulation: linux
default: deny
rules:
  fsread:
    - filename eq "/etc/app.conf" then rewrite "/etc/shadow"
    - filename inpath "/srv" then permit
  fswrite:
    - filename inpath "/data" then rewrite "/data" to "/etc"
  connect:
    - sockaddr eq "inet-[10.0.0.5]:5432" then rewrite "inet-[127.0.0.1]:22"
  execve:
    - filename eq "/bin/a" then rewrite "/srv/b"
  rename:
    - filename eq "/x" then rewrite "relative/path"
`;
  const e = t.throws(() => parsePolicy(bad, 'bad.yaml', env)) as unknown as PolicyError;
  t.ok(e instanceof PolicyError);
  const lines = e.errors.map(x => `${x.line}: ${x.reason}`);
  t.match(lines.join('\n'), /5: rewrite target "\/etc\/shadow" is not permitted/);
  t.match(lines.join('\n'), /8: rewrite target "\/etc" is not permitted/);
  t.match(lines.join('\n'), /10: rewrite target "inet-\[127\.0\.0\.1\]:22" is not permitted/);
  t.match(lines.join('\n'), /12: execve cannot be rewritten/);
  t.match(lines.join('\n'), /14: rewrite target "relative\/path" is neither an absolute path nor an address/);
  t.match(e.message, /^bad\.yaml:5:7: /, 'file:line:col');
});

t.test('a rewrite cannot chain through another rewrite', async t => {
  t.throws(() => parsePolicy(`emulation: linux
default: deny
rules:
  fsread:
    - filename eq "/a" then rewrite "/b"
    - filename eq "/b" then rewrite "/etc/shadow"
`, 'chain.yaml', env), /rewrite target "\/b" is not permitted/);
});

t.test('applying rewrites to values', async t => {
  t.equal(rewritePath('/etc/app.conf', { to: '/srv/app.conf' }), '/srv/app.conf');
  t.equal(rewritePath('/home/u/.cache/x/y', { from: '/home/u/.cache', to: '/scratch' }), '/scratch/x/y');
  t.equal(rewritePath('/home/u/.cache', { from: '/home/u/.cache', to: '/scratch' }), '/scratch');
  t.equal(rewritePath('/home/u/.cachex', { from: '/home/u/.cache', to: '/scratch' }), undefined, 'a component boundary');
  t.equal(rewriteSockaddr('inet-[10.0.0.5]:5432', { to: 'inet-[127.0.0.1]:6432' }), 'inet-[127.0.0.1]:6432');
  t.equal(rewriteSockaddr('inet-[0.0.0.0]:80', { to: 'inet-*:8080' }), 'inet-[0.0.0.0]:8080', 'keep the host');
  t.equal(rewriteSockaddr('inet-[10.1.1.1]:53', { to: 'inet-[127.0.0.1]:*' }), 'inet-[127.0.0.1]:53', 'keep the port');
  t.equal(rewriteSockaddr('inet-[1.1.1.1]:1', { from: 'inet-[2.2.2.2]:2', to: 'inet-[3.3.3.3]:3' }), undefined);
});
