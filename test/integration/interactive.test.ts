// Interactive policy generation through a real pseudo-terminal: script(1)
// gives the run a controlling terminal, the answers are typed into it, and
// the confined program's own stdin is /dev/null, so only systrace's prompt
// can read them.

import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { makeFiles, type Teardown } from '../helpers/files.js';
import { fixture, integrationSkip, paths, runUnpriv, unprivRoot } from '../helpers/unpriv.js';
import { denialLines } from '../helpers/systrace.js';

const skip = integrationSkip() || (fs.existsSync('/usr/bin/script') ? false : 'script(1) from util-linux is not installed');

const POLICY = `# my policy: comments must survive
emulation: linux
default: ask   # ask about the rest
rules:
  "@default": permit        # the basics
  "@basic-io": permit
  "@signal": permit
  fstat: permit
  fsread:
    - filename inpath "/usr" then permit     # libraries
    - filename eq "/etc/ld.so.cache" then permit
    - filename eq "/etc/ld.so.preload" then permit
`;

function setup(t: Teardown) {
  const dir = makeFiles(t, { 'policy.yaml': POLICY, 'a.txt': 'file a\n', 'b.txt': 'file b\n' }, { writableByNobody: true });
  const policy = path.join(dir, 'policy.yaml');
  fs.chownSync(policy, 65534, 65534);
  return { dir, policy };
}

/** systrace run (interactive) under script(1), with `answers` typed at the terminal. */
async function interactive(policy: string, cmd: string[], answers: string[]) {
  const systrace = path.join(unprivRoot(), paths.systrace);
  const line = `${systrace} run -f ${policy} -- ${cmd.join(' ')} </dev/null`;
  const r = await runUnpriv(['/usr/bin/script', '-qec', line, '/dev/null'], { input: answers.map(a => a + '\n').join(''), timeoutMs: 30_000 });
  // Everything (prompts, the program's output, the log) comes through the terminal.
  const out = r.stdout.replace(/\r/g, '');
  return { ...r, out, asked: out.split('\n').filter(l => l.startsWith('systrace: ask')) };
}

const tryOpen = (f: string) => [fixture('try'), 'open', f];

t.test('permit once, then deny once: nothing saved', { skip }, async t => {
  const { dir, policy } = setup(t);
  const r = await interactive(policy, tryOpen(path.join(dir, 'a.txt')), ['p']);
  t.equal(r.asked.length, 1, `asked once\n${r.out}`);
  t.match(r.asked[0], /pid: \d+.*linux-openat\(257\) \[fsread\], filename: .*a\.txt/, 'one clear line: pid, call, alias, file, policy');
  t.match(r.asked[0], `policy: ${policy}`);
  t.match(r.out, /OK file a/, 'permitted once: the file was read');
  t.equal(fs.readFileSync(policy, 'utf8'), POLICY, 'nothing saved');

  const d = await interactive(policy, tryOpen(path.join(dir, 'a.txt')), ['d']);
  t.match(d.out, /ERR EPERM/, 'denied once');
  t.equal(fs.readFileSync(policy, 'utf8'), POLICY, 'nothing saved');
});

t.test('permit always is saved, keeps comments, and is not asked again', { skip }, async t => {
  const { dir, policy } = setup(t);
  const a = path.join(dir, 'a.txt');
  const r = await interactive(policy, tryOpen(a), ['P']);
  t.match(r.out, /OK file a/);
  const text = fs.readFileSync(policy, 'utf8');
  t.match(text, `filename eq "${a}" then permit`, 'the rule is in the file');
  for (const c of ['# my policy: comments must survive', '# ask about the rest', '# the basics', '# libraries']) t.match(text, c, `comment kept: ${c}`);
  const again = await interactive(policy, tryOpen(a), []);
  t.equal(again.asked.length, 0, `not asked again\n${again.out}`);
  t.match(again.out, /OK file a/);
  // And under enforcement the saved rule is all it takes.
  const enforced = await runUnpriv([path.join(unprivRoot(), paths.systrace), 'run', '-a', '-f', policy, '--', ...tryOpen(a)]);
  t.equal(enforced.stdout, 'OK file a\n');
  t.same(denialLines(enforced.stderr), []);
});

t.test('deny always with an errno', { skip }, async t => {
  const { dir, policy } = setup(t);
  const a = path.join(dir, 'a.txt');
  const r = await interactive(policy, tryOpen(a), ['D', 'enoent']);
  t.match(r.out, /ERR ENOENT/, `the program sees the chosen errno\n${r.out}`);
  t.match(fs.readFileSync(policy, 'utf8'), `filename eq "${a}" then deny[enoent]`);
  const again = await interactive(policy, tryOpen(a), []);
  t.equal(again.asked.length, 0, 'not asked again');
  t.match(again.out, /ERR ENOENT/);
});

t.test('a typed filter is kept only if it matches this call', { skip }, async t => {
  const { dir, policy } = setup(t);
  const a = path.join(dir, 'a.txt');
  const r = await interactive(policy, tryOpen(a), ['f', 'filename eq "/nowhere" then permit', 'f', `filename match "${dir}/*.txt" then permit`]);
  t.match(r.out, /does not match this call: not kept/, `a filter that does not match is refused\n${r.out}`);
  t.match(r.out, /OK file a/, 'the matching filter permits the call');
  const text = fs.readFileSync(policy, 'utf8');
  t.notMatch(text, '/nowhere');
  t.match(text, `filename match "${dir}/*.txt" then permit`);
  const b = await interactive(policy, tryOpen(path.join(dir, 'b.txt')), []);
  t.equal(b.asked.length, 0, 'it covers the other file too');
  t.match(b.out, /OK file b/);
});

t.test('generalise to the directory\'s files', { skip }, async t => {
  const { dir, policy } = setup(t);
  const r = await interactive(policy, tryOpen(path.join(dir, 'a.txt')), ['g', '2']);
  t.match(r.out, /1\) filename eq .*\n.*2\) filename match .*\/\*"\n.*3\) filename inpath/, `the choices are offered\n${r.out}`);
  t.match(fs.readFileSync(policy, 'utf8'), `filename match "${dir}/*" then permit`);
  const b = await interactive(policy, tryOpen(path.join(dir, 'b.txt')), []);
  t.equal(b.asked.length, 0);
  t.match(b.out, /OK file b/);
});

t.test('kill, detach, and help', { skip }, async t => {
  const { dir, policy } = setup(t);
  const k = await interactive(policy, tryOpen(path.join(dir, 'a.txt')), ['?', 'k']);
  t.match(k.out, /p {2}permit once/, 'help lists the answers');
  t.equal(k.code, 137, `killed (SIGKILL): systrace exits 128+9\n${k.out}`);
  t.notMatch(k.out, /OK file a/);
  const x = await interactive(policy, ['/bin/sh', '-c', `"${fixture('try')} open ${dir}/a.txt; ${fixture('try')} open ${dir}/b.txt"`], ['x']);
  t.match(x.out, /detached/);
  t.match(x.out, /OK file a[\s\S]*OK file b/, `after detaching, nothing more is asked\n${x.out}`);
});

t.test('without a terminal it enforces, and says so', { skip }, async t => {
  const { dir, policy } = setup(t);
  const r = await runUnpriv([path.join(unprivRoot(), paths.systrace), 'run', '-f', policy, '--', ...tryOpen(path.join(dir, 'a.txt'))]);
  t.match(r.stderr, /no terminal to ask on: enforcing as with -a/);
  t.equal(r.stdout, 'ERR EPERM\n');
});

t.test('one thread waiting for an answer does not hold the others', { skip }, async t => {
  const { dir, policy } = setup(t);
  fs.writeFileSync(policy, POLICY.replace('  fstat: permit\n', '  fstat: permit\n  clone: permit\n') + `    - filename eq "${dir}/b.txt" then permit\n`);
  const systrace = path.join(unprivRoot(), paths.systrace);
  const line = `${systrace} run -f ${policy} -- ${fixture('two-threads')} ${dir}/a.txt ${dir}/b.txt </dev/null`;
  let answered = 0;
  let freeBeforeAnswer = false;
  const r = await runUnpriv(['/usr/bin/script', '-qec', line, '/dev/null'], {
    timeoutMs: 30_000,
    interact: (out, write) => {
      // The question about a.txt is answered only once the other thread
      // has finished its own open; any later question (thread exit) at once.
      const asked = out.split('systrace: ask').length - 1;
      if (answered === 0) {
        if (asked >= 1 && /systrace: ask[^\n]*a\.txt/.test(out) && /free OK/.test(out)) {
          freeBeforeAnswer = true;
          answered = 1;
          write('p\n');
        }
      } else if (asked > answered) {
        answered = asked;
        write('p\n');
      }
    },
  });
  const out = r.stdout.replace(/\r/g, '');
  t.ok(freeBeforeAnswer, `the permitted thread ran while the other waited\n${out}`);
  t.match(out, /free OK[\s\S]*asked OK/, 'and the asked call went on after the answer');
});
