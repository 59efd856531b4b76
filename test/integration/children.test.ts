// Confinement covers every task the program creates: forked children and
// threads are held by the same filter and the same policy.

import * as path from 'node:path';
import t from 'tap';
import { makeFiles } from '../helpers/files.js';
import { fileIs, policyYaml, type Emulation } from '../helpers/policy.js';
import { findDenial, runConfined, show } from '../helpers/systrace.js';
import { fixture, integrationSkip } from '../helpers/unpriv.js';

const skip = integrationSkip();

const programs: Array<[string, Emulation]> = [
  ['try', 'linux'], ['try-static', 'linux'], ['try32-static', 'linux32'],
];

for (const [prog, emulation] of programs) {
  t.test(`${prog}: fork and thread stay confined`, { skip }, async t => {
    const dir = makeFiles(t, { allowed: 'allowed\n', secret: 'secret\n' });
    const allowed = path.join(dir, 'allowed');
    const secret = path.join(dir, 'secret');
    const policy = policyYaml({ emulation, rules: { fsread: [fileIs(allowed, 'permit')] } });

    const forkOk = await runConfined(t, policy, [fixture(prog), 'fork-open', allowed]);
    t.equal(forkOk.stdout, 'child OK allowed\nOK child-exit=0\n', `child may read the allowed file\n${show(forkOk)}`);

    const forkNo = await runConfined(t, policy, [fixture(prog), 'fork-open', secret]);
    t.equal(forkNo.stdout, 'child ERR EPERM\nOK child-exit=0\n', `child is denied\n${show(forkNo)}`);
    t.ok(findDenial(forkNo.stderr, { syscall: 'openat', filename: secret }), `child's denial logged\n${forkNo.stderr}`);

    const threadOk = await runConfined(t, policy, [fixture(prog), 'thread-open', allowed]);
    t.equal(threadOk.stdout, 'OK allowed\n', `thread may read the allowed file\n${show(threadOk)}`);

    const threadNo = await runConfined(t, policy, [fixture(prog), 'thread-open', secret]);
    t.equal(threadNo.stdout, 'ERR EPERM\n', `thread is denied\n${show(threadNo)}`);
  });
}

t.test('a shell pipeline: every process in it is confined', { skip }, async t => {
  const dir = makeFiles(t, { allowed: 'allowed\n', secret: 'secret\n' });
  const allowed = path.join(dir, 'allowed');
  const secret = path.join(dir, 'secret');
  const policy = policyYaml({ rules: { fsread: [fileIs(allowed, 'permit')] } });
  const r = await runConfined(t, policy,
    ['/bin/sh', '-c', `${fixture('try')} open ${allowed} | /bin/cat; ${fixture('try')} open ${secret} | /bin/cat`]);
  t.equal(r.stdout, 'OK allowed\nERR EPERM\n', show(r));
});
