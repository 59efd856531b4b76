// The time-of-check-to-time-of-use attack that broke the original Systrace:
// another thread swaps the path between the supervisor's check and the
// kernel's use. A permitted open must be carried out on the supervisor's
// own copy of the path, so the forbidden file is never read.
// fixtures.test.ts shows the same race does read it when unconfined.

import * as path from 'node:path';
import t from 'tap';
import { makeFiles } from '../helpers/files.js';
import { fileIs, policyYaml, type Emulation } from '../helpers/policy.js';
import { runConfined, show } from '../helpers/systrace.js';
import { fixture, integrationSkip } from '../helpers/unpriv.js';

const skip = integrationSkip();
const TRIES = 20000;

const programs: Array<[string, Emulation]> = [['race', 'linux'], ['race32-static', 'linux32']];

for (const [prog, emulation] of programs) {
  t.test(`${prog}: ${TRIES} swaps never read the forbidden file`, { skip }, async t => {
    // Same-length names: a torn path is more likely to name one of the two.
    const dir = makeFiles(t, { allowed: 'allowed\n', forbids: 'forbidden\n' });
    const allowed = path.join(dir, 'allowed');
    const policy = policyYaml({ emulation, rules: { fsread: [fileIs(allowed, 'permit')] } });

    const r = await runConfined(t, policy, [fixture(prog), allowed, path.join(dir, 'forbids'), String(TRIES)],
      { timeoutMs: 240_000 });
    const m = /^forbidden-reads=(\d+) opens-ok=(\d+) denied=(\d+)$/m.exec(r.stdout);
    t.ok(m, `race printed its counts\n${show(r)}`);
    if (m === null)
      return;
    t.equal(Number(m[1]), 0, `no forbidden read\n${show(r)}`);
    t.ok(Number(m[2]) > 0, 'the allowed file was opened (the race ran)');
    t.ok(Number(m[3]) > 0, 'some swapped paths were denied (the flipper ran)');
    t.equal(Number(m[2]) + Number(m[3]), TRIES, 'every try accounted for');
  });
}

// chdir is the one path call the supervisor lets the kernel carry out
// (it cannot change another process's cwd). The race does land the
// program in the forbidden directory now and then, and that must grant
// nothing: a relative path is normalised against the cwd the kernel
// really has, so the file there is never read.
t.test(`chdir-race: ${TRIES / 4} swapped chdirs never lead to a forbidden read`, { skip }, async t => {
  const dir = makeFiles(t, { 'okdir/f': 'allowed\n', 'nodir/f': 'forbidden\n' });
  const okdir = path.join(dir, 'okdir');
  const nodir = path.join(dir, 'nodir');
  const policy = policyYaml({ rules: { fsread: [`filename inpath "${okdir}" then permit`] } });
  const r = await runConfined(t, policy, [fixture('chdir-race'), okdir, nodir, 'f', String(TRIES / 4)], { timeoutMs: 240_000 });
  const m = /^landed-in-forbidden=(\d+) forbidden-reads=(\d+) reads-ok=(\d+)$/m.exec(r.stdout);
  t.ok(m, `chdir-race printed its counts\n${show(r)}`);
  if (m === null)
    return;
  t.equal(Number(m[2]), 0, `no forbidden read\n${show(r)}`);
  t.ok(Number(m[3]) > 0, 'reads in the allowed directory worked (the race ran)');
  t.comment(`landed in the forbidden directory ${m[1]} times (harmless: later paths are checked against it)`);
});
