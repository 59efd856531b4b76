// How `systrace run` starts: bin/systrace hands it to bin/run-loader.cjs,
// which runs the build's bundle (dist/tracer/cli/run-bundle.cjs) with its
// V8 code cache while the build's manifest says both are current, and the
// modules themselves (main.js) otherwise. SYSTRACE_DEBUG_START=1 says which.

import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { baseRules, policyYaml } from '../helpers/policy.js';
import { writeTempPolicy } from '../helpers/files.js';
import { defaultEnv, integrationSkip, repoRoot, systraceUnpriv } from '../helpers/unpriv.js';
import { show } from '../helpers/systrace.js';

const skip = integrationSkip();
const policyText = policyYaml({ rules: baseRules('linux') });

t.test('as nobody, run starts from the bundle, and V8 takes its code cache', { skip }, async t => {
  const policy = writeTempPolicy(t, policyText);
  const r = await systraceUnpriv(['run', '-a', '-f', policy, '--', '/bin/echo', 'confined'],
    { env: { ...defaultEnv, SYSTRACE_DEBUG_START: '1' } });
  t.equal(r.stdout, 'confined\n', show(r));
  t.match(r.stderr, /^systrace: started from the run bundle, its code cache accepted$/m, show(r));
});

/**
 * A private copy of the built package (bin, dist, package.json; the addon
 * and node_modules linked), mtimes kept, to change without touching the
 * build. Runs as root: this is about which code starts, not about rights.
 */
function packageCopy(t: Test): string {
  const dir = fs.mkdtempSync('/tmp/systrace-start-');
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  for (const tree of ['bin', 'dist', 'package.json'])
    fs.cpSync(path.join(repoRoot, tree), path.join(dir, tree), { recursive: true, preserveTimestamps: true });
  fs.mkdirSync(path.join(dir, 'build'));
  fs.symlinkSync(path.join(repoRoot, 'build', 'Release'), path.join(dir, 'build', 'Release'));
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

function runFrom(t: Test, dir: string): ReturnType<typeof spawnSync> & { stdout: string; stderr: string } {
  const policy = writeTempPolicy(t, policyText);
  return spawnSync(path.join(dir, 'bin/systrace'), ['run', '-a', '-f', policy, '--', '/bin/echo', 'confined'], {
    encoding: 'utf8', env: { ...defaultEnv, SYSTRACE_DEBUG_START: '1' }, timeout: 30_000,
  }) as ReturnType<typeof spawnSync> & { stdout: string; stderr: string };
}

t.test('a module changed after the build: run starts from the modules, not the stale bundle', { skip }, async t => {
  const dir = packageCopy(t);
  const control = runFrom(t, dir);
  t.match(control.stderr, /started from the run bundle, its code cache accepted/, `the copy starts from its bundle\n${control.stderr}`);
  const mod = path.join(dir, 'dist/tracer/supervisor/supervisor.js');
  fs.appendFileSync(mod, '\n// changed after the build\n');
  const r = runFrom(t, dir);
  t.equal(r.stdout, 'confined\n', r.stderr);
  t.match(r.stderr, /started from the modules \(no current run bundle\)/, r.stderr);
});

t.test('a code cache that is not the build\'s is never offered to V8', { skip }, async t => {
  const dir = packageCopy(t);
  // V8 checks a cache against its source's length only; the manifest's
  // mtime and size of the cache keep a foreign one out.
  const cache = path.join(dir, 'dist/tracer/cli/run-bundle.cjs.cache');
  fs.writeFileSync(cache, Buffer.alloc(fs.statSync(cache).size + 1, 0x41));
  const r = runFrom(t, dir);
  t.equal(r.stdout, 'confined\n', r.stderr);
  t.match(r.stderr, /started from the run bundle, without a code cache/, r.stderr);
});

t.test('without a bundle, bin/systrace starts run from main.js', { skip }, async t => {
  const dir = packageCopy(t);
  fs.rmSync(path.join(dir, 'dist/tracer/cli/run-bundle.cjs'));
  const r = runFrom(t, dir);
  t.equal(r.stdout, 'confined\n', r.stderr);
  t.notMatch(r.stderr, /started from/, 'bin/systrace did not go through the loader');
});

// --gui starts a monitor of its own with `systrace monitor`, which the run
// bundle does not have: it must come from main.js.
t.test('run --gui from the bundle starts its monitor and prints where to answer', { skip }, async t => {
  const policy = writeTempPolicy(t, policyText);
  const r = await systraceUnpriv(['run', '--gui', '-f', policy, '--', '/bin/echo', 'confined'],
    { env: { ...defaultEnv, SYSTRACE_DEBUG_START: '1' }, timeoutMs: 30_000 });
  t.equal(r.stdout, 'confined\n', show(r));
  t.match(r.stderr, /started from the run bundle/, show(r));
  t.match(r.stderr, /^systrace: answer the questions at http:\/\/127\.0\.0\.1:\d+\/#token=\S+$/m, `the monitor started\n${show(r)}`);
  t.equal(r.code, 0, show(r));
});

t.test('run --gui whose monitor cannot start: systrace fails to start (125), saying why', { skip }, async t => {
  const dir = packageCopy(t); // without monitor/web: the monitor has no page to serve
  const policy = writeTempPolicy(t, policyText);
  const r = spawnSync(path.join(dir, 'bin/systrace'), ['run', '--gui', '-f', policy, '--', '/bin/echo', 'confined'], {
    encoding: 'utf8', env: defaultEnv, timeout: 30_000,
  });
  t.equal(r.status, 125, r.stderr);
  t.equal(r.stdout, '', 'the program never ran');
  t.match(r.stderr, /--gui: the local monitor did not start: .*web interface's files are missing/, r.stderr);
});
