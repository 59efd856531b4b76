// The policy tools as a user meets them: import an old Systrace policy and
// run with it; lint a policy with mistakes; explain a decision.

import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { makeFiles } from '../helpers/files.js';
import { denialLines, show } from '../helpers/systrace.js';
import { fixture, integrationSkip, systraceUnpriv } from '../helpers/unpriv.js';

const skip = integrationSkip();

// A classic Systrace policy, in its own format, for a program reading one file.
const classic = (dir: string, prog: string) => `Policy: ${prog}, Emulation: linux
	linux-fsread: filename eq "/etc/ld.so.cache" then permit
	linux-fsread: filename eq "/etc/ld.so.preload" then permit
	linux-pread64: permit
	linux-fsread: filename match "/usr/lib/*" then permit
	linux-fsread: filename eq "${dir}/public" then permit
	linux-fsread: filename eq "${dir}/hidden" then deny[enoent]
	linux-read: permit
	linux-write: permit
	linux-close: permit
	linux-mmap: permit
	linux-mprotect: permit
	linux-munmap: permit
	linux-brk: permit
	linux-fstat: permit
	linux-arch_prctl: permit
	linux-set_tid_address: permit
	linux-set_robust_list: permit
	linux-rseq: permit
	linux-prlimit64: permit
	linux-getrandom: permit
	linux-exit_group: permit
	linux-__sysctl: permit
`;

t.test('import a classic policy and run with it', { skip }, async t => {
  const dir = makeFiles(t, { public: 'public text\n', hidden: 'hidden text\n', secret: 'secret text\n' }, { writableByNobody: true });
  const prog = fixture('try');
  fs.writeFileSync(path.join(dir, 'classic'), classic(dir, prog), { mode: 0o644 });
  const out = path.join(dir, 'imported.yaml');
  const imp = await systraceUnpriv(['policy', 'import', path.join(dir, 'classic'), '-o', out]);
  t.equal(imp.code, 1, `one line could not be mapped\n${show(imp)}`);
  t.match(imp.stderr, /classic:23: .*__sysctl/, 'and it is named with its line');
  const run = (f: string) => systraceUnpriv(['run', '-a', '-f', out, '--', prog, 'open', path.join(dir, f)]);
  const pub = await run('public');
  t.equal(pub.stdout, 'OK public text\n', `the permitted file is read\n${show(pub)}`);
  t.same(denialLines(pub.stderr), []);
  t.equal((await run('hidden')).stdout, 'ERR ENOENT\n', 'deny[enoent] is kept');
  const sec = await run('secret');
  t.equal(sec.stdout, 'ERR EPERM\n', 'what the policy does not name is denied');
  t.ok(denialLines(sec.stderr).some(l => l.includes(`filename: ${dir}/secret`)));
});

t.test('lint finds the mistakes, with file:line:col', { skip }, async t => {
  const dir = makeFiles(t, {
    'bad.yaml': `emulation: linux
default: permit
rules:
  "@file-system": permit
  fsread:
    - filename eq "/etc/hostname" then permit
  fswrite:
    - filename inpath "/" then permit
  ptrace: permit
  openat:
    - true then permit
    - filename eq "/etc/shadow" then deny
`,
    'good.yaml': 'emulation: linux\ndefault: deny\nrules:\n  read: permit\n',
  });
  const bad = await systraceUnpriv(['policy', 'lint', path.join(dir, 'bad.yaml')]);
  t.equal(bad.code, 1, `errors make lint fail\n${show(bad)}`);
  const out = bad.stdout + bad.stderr;
  t.match(out, /bad\.yaml:2:\d+: warning: .*default: permit/i);
  t.match(out, /bad\.yaml:8:\d+: error: .*/, 'writing anywhere');
  t.match(out, /bad\.yaml:9:\d+: error: .*ptrace/);
  t.match(out, /bad\.yaml:12:\d+: warning: .*never/, 'a rule after an unconditional one');
  t.match(out, /fsread/, 'alias rules made dead by the group');
  const good = await systraceUnpriv(['policy', 'lint', path.join(dir, 'good.yaml')]);
  t.equal(good.code, 0, show(good));
});

t.test('explain names the rule that decides', { skip }, async t => {
  const dir = makeFiles(t, { 'p.yaml': 'emulation: linux\ndefault: deny\nrules:\n  fsread:\n    - filename inpath "/usr" then permit\n    - filename eq "/etc/shadow" then deny[eacces]\n' });
  const r = await systraceUnpriv(['policy', 'explain', path.join(dir, 'p.yaml'), '--', 'openat', '/etc/shadow', 'O_RDONLY']);
  t.equal(r.code, 0, show(r));
  t.match(r.stdout, /deny/);
  t.match(r.stdout, /p\.yaml:6:\d+: filename eq "\/etc\/shadow" then deny\[eacces\]/);
  t.match(r.stdout, /fsread/);
});
