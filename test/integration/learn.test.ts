// Learn then enforce: a policy learned with -A runs the same work under -a
// with no denial, and still denies what the learned run never did.

import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { makeFiles, type Teardown } from '../helpers/files.js';
import { denialLines, show } from '../helpers/systrace.js';
import { fixture, integrationSkip, systraceUnpriv } from '../helpers/unpriv.js';

const skip = integrationSkip();

/** A directory nobody may write, for the learned policies and the programs' files. */
function workdir(t: Teardown): string {
  return makeFiles(t, { 'data.txt': 'data line\n', 'other.txt': 'never read\n', 'tmpf.py': TMP_SCRIPT, 'script.py': PY_SCRIPT }, { writableByNobody: true });
}

const PY_SCRIPT = `
import json, sys
with open(sys.argv[1]) as f:
    print(json.dumps({"line": f.readline().strip()}))
`;

// Temporary files with random names, made and removed.
const TMP_SCRIPT = `
import os, sys, tempfile
print(open(sys.argv[1]).readline().strip())
fd, name = tempfile.mkstemp(prefix='job-')
os.write(fd, b'x'); os.close(fd); os.unlink(name)
with tempfile.NamedTemporaryFile() as f:
    f.write(b'y'); f.flush()
print('temp ok')
`;

interface Case {
  name: string;
  cmd: (dir: string) => string[];
  /** The same program reading a file the learned run never touched. */
  stray: (dir: string) => string[];
}

const cases: Case[] = [
  {
    name: 'a shell pipeline',
    cmd: d => ['/bin/sh', '-c', `cat ${d}/data.txt | tr a-z A-Z | head -n 1`],
    stray: d => ['/bin/sh', '-c', `cat ${d}/other.txt | tr a-z A-Z | head -n 1`],
  },
  {
    name: 'python3 running a small script',
    cmd: d => ['/usr/bin/python3', `${d}/script.py`, `${d}/data.txt`],
    stray: d => ['/usr/bin/python3', `${d}/script.py`, `${d}/other.txt`],
  },
  {
    name: 'a static binary',
    cmd: d => [fixture('try-static'), 'open', `${d}/data.txt`],
    stray: d => [fixture('try-static'), 'open', `${d}/other.txt`],
  },
  {
    name: 'a program making temp files with random names',
    cmd: d => ['/usr/bin/python3', `${d}/tmpf.py`, `${d}/data.txt`],
    stray: d => ['/usr/bin/python3', `${d}/tmpf.py`, `${d}/other.txt`],
  },
];

for (const c of cases) {
  t.test(c.name, { skip }, async t => {
    const dir = workdir(t);
    const out = path.join(dir, 'learned.yaml');
    const learn = await systraceUnpriv(['run', '-A', '-o', out, '--', ...c.cmd(dir)]);
    t.equal(learn.code, 0, `learning run succeeds\n${show(learn)}`);
    t.match(learn.stderr, /systrace: learned .*learned\.yaml/, 'says what it learned');
    t.ok(fs.existsSync(out), 'the policy is written');
    const policy = fs.readFileSync(out, 'utf8');
    t.match(policy, /^default: deny$/m);

    // The same work twice: temp names differ from the learned run's.
    for (const round of [1, 2]) {
      const run = await systraceUnpriv(['run', '-a', '-f', out, '--', ...c.cmd(dir)]);
      t.equal(run.code, 0, `round ${round}: enforced run succeeds\n${show(run)}\n--- policy ---\n${policy}`);
      t.same(denialLines(run.stderr), [], `round ${round}: no denial`);
      t.equal(run.stdout, learn.stdout, `round ${round}: same output as the learning run`);
    }

    const stray = await systraceUnpriv(['run', '-a', '-f', out, '--', ...c.stray(dir)]);
    t.ok(denialLines(stray.stderr).some(l => l.includes(`filename: ${dir}/other.txt`)), `reading a file the learned run never touched is denied\n${show(stray)}`);
    t.notMatch(stray.stdout, /never read|NEVER READ/, 'and its contents stay unread');
  });
}

t.test('learning never overwrites a policy, and --within bounds it', { skip }, async t => {
  const dir = workdir(t);
  const out = path.join(dir, 'learned.yaml');
  fs.writeFileSync(out, '# mine\n');
  fs.chmodSync(out, 0o644);
  const again = await systraceUnpriv(['run', '-A', '-o', out, '--', '/bin/true']);
  t.equal(again.code, 125, 'refused');
  t.match(again.stderr, /exists/);
  t.equal(fs.readFileSync(out, 'utf8'), '# mine\n', 'the existing file is untouched');

  // A maximal policy that forbids other.txt: learning inside it denies and reports it.
  const within = path.join(dir, 'within.yaml');
  fs.writeFileSync(within, `emulation: linux\ndefault: permit\nrules:\n  fsread:\n    - filename eq "${dir}/other.txt" then deny[eacces]\n`);
  fs.chmodSync(within, 0o644);
  const bounded = path.join(dir, 'bounded.yaml');
  const run = await systraceUnpriv(['run', '-A', '--within', within, '-o', bounded, '--', fixture('try'), 'open', `${dir}/other.txt`]);
  t.equal(run.stdout, 'ERR EACCES\n', `the forbidden read is denied while learning\n${show(run)}`);
  t.ok(denialLines(run.stderr).some(l => l.includes(`${dir}/other.txt`)), 'and reported');
  const rules = fs.readFileSync(bounded, 'utf8').split('\n').filter(l => !l.startsWith('#')).join('\n');
  t.notMatch(rules, /other\.txt/, 'and not learned');
});
