// Fail closed: when the tracer dies, the seccomp listener closes and every
// call that would have been notified fails with ENOSYS. Nothing falls back
// to permit.
//
// The confined shell prints `ready`, runs a dynamic `sleep` (whose library
// loading needs the live tracer), and only then execs the static try, whose
// first notified call is the open under test. The test kills the tracer
// while sleep sleeps.

import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { makeFiles } from '../helpers/files.js';
import { fileIs, policyYaml } from '../helpers/policy.js';
import { runConfined, show } from '../helpers/systrace.js';
import { descendants, fixture, integrationSkip, processExe } from '../helpers/unpriv.js';

const skip = integrationSkip();

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/** Poll until cond() holds or the deadline passes. */
async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond())
      return true;
    await sleep(20);
  }
  return cond();
}

/** A process of the tree running `sleep` with libc mapped: done loading. */
function loadedSleep(root: number): number | undefined {
  for (const pid of descendants(root)) {
    if (!processExe(pid)?.endsWith('/sleep'))
      continue;
    try {
      if (fs.readFileSync(`/proc/${pid}/maps`, 'utf8').includes('libc.so'))
        return pid;
    } catch {
      // exited, or still exec'ing
    }
  }
  return undefined;
}

t.test('killing the tracer makes later notified calls fail', { skip }, async t => {
  const dir = makeFiles(t, { allowed: 'allowed\n' });
  const allowed = path.join(dir, 'allowed');
  // default permit keeps sh and sleep simple; the filename rule is what
  // makes openat a notified call.
  const policy = policyYaml({ default: 'permit', rules: { fsread: [fileIs(allowed, 'permit')] } });
  const script = `echo ready; /bin/sleep 3; exec ${fixture('try-static')} open ${allowed}`;

  let root: number | undefined;
  let killed: number[] = [];
  const running = runConfined(t, policy, ['/bin/sh', '-c', script], {
    timeoutMs: 30_000,
    onSpawn: pid => { root = pid; },
  });

  const ready = await waitFor(() => root !== undefined && loadedSleep(root) !== undefined, 10_000);
  if (ready && root !== undefined) {
    // The tracer is every node process in the tree (setpriv execs the
    // bin/systrace script, which runs node).
    killed = [root, ...descendants(root)].filter(p => processExe(p)?.endsWith('/node'));
    for (const pid of killed)
      process.kill(pid, 'SIGKILL');
  }
  const r = await running;

  t.ok(ready, `the confined sleep started under a live tracer\n${show(r)}`);
  t.ok(killed.length > 0, 'found the tracer (a node process) in the tree');
  t.match(r.stdout, /^ready$/m, show(r));
  t.notMatch(r.stdout, /^OK/m, `the open after the tracer's death must not succeed\n${show(r)}`);
  if (/^ERR/m.test(r.stdout))
    t.match(r.stdout, /^ERR ENOSYS$/m, 'a notified call without a listener fails with ENOSYS');
  else
    t.comment('the confined program died with its tracer (also fail-closed)');
});

t.test('calls decided in the kernel keep working after the tracer dies', { skip }, async t => {
  // The counterpart: only notified calls depend on the tracer. A static
  // program that makes no notified call finishes normally.
  const dir = makeFiles(t, { allowed: 'allowed\n' });
  const policy = policyYaml({ default: 'permit', rules: { fsread: [fileIs(path.join(dir, 'allowed'), 'permit')] } });
  const script = `echo ready; /bin/sleep 3; exec ${fixture('try-static')} getpid 1000`;
  let root: number | undefined;
  const running = runConfined(t, policy, ['/bin/sh', '-c', script], { onSpawn: pid => { root = pid; } });
  const ready = await waitFor(() => root !== undefined && loadedSleep(root) !== undefined, 10_000);
  if (ready && root !== undefined)
    for (const pid of [root, ...descendants(root)].filter(p => processExe(p)?.endsWith('/node')))
      process.kill(pid, 'SIGKILL');
  const r = await running;
  t.ok(ready, show(r));
  if (/^OK/m.test(r.stdout) || /^ERR/m.test(r.stdout))
    t.match(r.stdout, /^OK \d+$/m, `getpid is not notified\n${show(r)}`);
  else
    t.comment('the confined program died with its tracer');
});
