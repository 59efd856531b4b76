// More of `systrace run`'s command-line contract: -E FILE, the policy
// lookup without -f (-d, -U), SIGTERM passed on to the program, stdin from
// a pipe, and a daemon that outlives the main program staying confined.

import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { makeFiles } from '../helpers/files.js';
import { fileIs, policyYaml } from '../helpers/policy.js';
import { denialLines, findDenial, runConfined, show } from '../helpers/systrace.js';
import {
  descendants, fixture, integrationSkip, paths, processExe, runUnpriv, systraceUnpriv, unprivRoot,
} from '../helpers/unpriv.js';

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

/** Systrace's policy file name for a program, from its real path. */
function mangled(program: string): string {
  return `${fs.realpathSync(program).replace(/^\/+/, '').replace(/\//g, '_')}.yaml`;
}

t.test('-E FILE: denials are appended to FILE and still printed on stderr', { skip }, async t => {
  const dir = makeFiles(t, { allowed: 'allowed\n', secret1: 'one\n', secret2: 'two\n' });
  const logDir = makeFiles(t, {}, { writableByNobody: true });
  const log = path.join(logDir, 'systrace.log');
  const policy = path.join(makeFiles(t, {
    'policy.yaml': policyYaml({ rules: { fsread: [fileIs(path.join(dir, 'allowed'), 'permit')] } }),
  }), 'policy.yaml');

  const first = await systraceUnpriv(['run', '-a', '-E', log, '-f', policy, '--',
    fixture('try'), 'open', path.join(dir, 'secret1')]);
  t.equal(first.stdout, 'ERR EPERM\n', show(first));
  const onStderr = findDenial(first.stderr, { syscall: 'openat', filename: path.join(dir, 'secret1') });
  t.ok(onStderr, `the denial is printed on stderr\n${show(first)}`);
  t.ok(fs.existsSync(log), 'the log file was created');
  const logged1 = fs.readFileSync(log, 'utf8');
  t.ok(onStderr !== undefined && logged1.split('\n').includes(onStderr),
    `the same line is in the log file\n--- log ---\n${logged1}`);

  const second = await systraceUnpriv(['run', '-a', '-E', log, '-f', policy, '--',
    fixture('try'), 'open', path.join(dir, 'secret2')]);
  t.equal(second.stdout, 'ERR EPERM\n', show(second));
  const logged2 = fs.readFileSync(log, 'utf8');
  t.ok(logged2.startsWith(logged1), `appended, not truncated\n--- log ---\n${logged2}`);
  const lines = denialLines(logged2);
  t.ok(findDenial(lines.join('\n'), { syscall: 'openat', filename: path.join(dir, 'secret1') }), 'first run\'s denial kept');
  t.ok(findDenial(lines.join('\n'), { syscall: 'openat', filename: path.join(dir, 'secret2') }), 'second run\'s denial added');
  t.equal(fs.statSync(log).uid, 65534, 'the log file belongs to the user who ran systrace');
});

t.test('without -f, -d DIR holds the policy under Systrace\'s mangled name', { skip }, async t => {
  const dir = makeFiles(t, { allowed: 'allowed\n', secret: 'secret\n' });
  const allowed = path.join(dir, 'allowed');
  const secret = path.join(dir, 'secret');
  const name = mangled('/usr/bin/cat');
  const policyDir = makeFiles(t, {
    [name]: `policy: ${fs.realpathSync('/usr/bin/cat')}\n` + policyYaml({ rules: { fsread: [fileIs(allowed, 'permit')] } }),
  });
  const policyFile = path.join(policyDir, name);

  for (const cmd of ['/usr/bin/cat', 'cat']) {
    const r = await systraceUnpriv(['run', '-a', '-d', policyDir, '--', cmd, allowed, secret]);
    t.equal(r.stdout, 'allowed\n', `${cmd}: the policy's permit applies\n${show(r)}`);
    t.equal(r.code, 1, `${cmd}: cat fails on the second file\n${show(r)}`);
    t.ok(findDenial(r.stderr, { syscall: 'openat', filename: secret, policy: policyFile }),
      `${cmd}: the denial names the policy found in -d DIR\n${show(r)}`);
  }

  // -U: global policies only; /etc/systrace has none for cat here.
  const globalOnly = await systraceUnpriv(['run', '-a', '-U', '-d', policyDir, '--', '/usr/bin/cat', allowed]);
  t.equal(globalOnly.code, 125, `-U ignores -d\n${show(globalOnly)}`);
  t.notMatch(globalOnly.stdout, /allowed/);
});

t.test('without -f and without a policy: exit 125, naming where it looked', { skip }, async t => {
  const empty = makeFiles(t, {});
  const prog = fixture('try');
  const name = mangled(prog);

  const withDir = await systraceUnpriv(['run', '-a', '-d', empty, '--', prog, 'write-stdout', 'RAN']);
  t.equal(withDir.code, 125, show(withDir));
  t.notMatch(withDir.stdout, /RAN/, 'the program never ran');
  t.match(withDir.stderr, path.join(empty, name), `names the -d DIR candidate\n${withDir.stderr}`);
  t.match(withDir.stderr, path.join('/etc/systrace', name), `names the global candidate\n${withDir.stderr}`);

  const withHome = await systraceUnpriv(['run', '-a', '--', prog, 'write-stdout', 'RAN']);
  t.equal(withHome.code, 125, show(withHome));
  t.notMatch(withHome.stdout, /RAN/);
  t.match(withHome.stderr, path.join('/nonexistent/.systrace', name), `names ~/.systrace (HOME=/nonexistent)\n${withHome.stderr}`);
});

/** A process of the tree running python with a SIGTERM handler installed. */
function pythonReady(root: number): number | undefined {
  for (const pid of descendants(root)) {
    if (!/\/python3[.\d]*$/.test(processExe(pid) ?? ''))
      continue;
    try {
      const m = /\nSigCgt:\s*([0-9a-f]+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m !== null && ((BigInt(`0x${m[1]}`) >> 14n) & 1n) === 1n) // bit 15 - 1: SIGTERM
        return pid;
    } catch {
      // exited, or still exec'ing
    }
  }
  return undefined;
}

const noPython = fs.existsSync('/usr/bin/python3') ? false : '/usr/bin/python3 is not installed';

t.test('SIGTERM sent to systrace reaches the program', { skip: skip || noPython }, async t => {
  // python3 reads much at startup: default permit, one filename rule.
  const policy = policyYaml({ default: 'permit', rules: { fsread: [fileIs('/nonexistent/secret', 'deny')] } });
  const script = [
    'import signal, sys, time',
    'def on_term(sig, frame):',
    '    print("got TERM", flush=True)',
    '    sys.exit(7)',
    'signal.signal(signal.SIGTERM, on_term)',
    'time.sleep(30)',
    'print("slept", flush=True)',
  ].join('\n');
  let root: number | undefined;
  let tracers: number[] = [];
  const running = runConfined(t, policy, ['/usr/bin/python3', '-c', script], {
    timeoutMs: 60_000,
    onSpawn: pid => { root = pid; },
  });
  const ready = await waitFor(() => root !== undefined && pythonReady(root) !== undefined, 20_000);
  if (ready && root !== undefined) {
    tracers = [root, ...descendants(root)].filter(p => processExe(p)?.endsWith('/node'));
    for (const pid of tracers)
      process.kill(pid, 'SIGTERM');
  }
  const r = await running;
  t.ok(ready, `python installed its handler under a live tracer\n${show(r)}`);
  t.equal(tracers.length, 1, 'found the tracer (one node process) in the tree');
  t.equal(r.stdout, 'got TERM\n', show(r));
  t.equal(r.code, 7, `the program's own exit status\n${show(r)}`);
});

t.test('stdin from a shell pipe reaches the program', { skip }, async t => {
  const policy = path.join(makeFiles(t, {
    'policy.yaml': policyYaml({ rules: { fsread: [fileIs('/nonexistent/secret', 'deny')] } }),
  }), 'policy.yaml');
  const systrace = path.join(unprivRoot(), paths.systrace);
  const r = await runUnpriv(['/bin/sh', '-c', `echo hi | ${systrace} run -a -f ${policy} -- /bin/cat`]);
  t.equal(r.stdout, 'hi\n', show(r));
  t.equal(r.code, 0, show(r));
});

t.test('a background child stays confined after the main program exits', { skip }, async t => {
  const dir = makeFiles(t, { secret: 'secret\n' });
  const secret = path.join(dir, 'secret');
  const outDir = makeFiles(t, {}, { writableByNobody: true });
  const out = path.join(outDir, 'out');
  // The child's output goes to a file, so it holds none of the pipes: the
  // run ends when systrace exits, not when the child does.
  const policy = policyYaml({ rules: { fswrite: [`filename inpath ${JSON.stringify(outDir)} then permit`] } });
  const script = `(/bin/sleep 0.5; ${fixture('try')} open ${secret}) >${out} 2>&1 & exit 0`;
  const started = Date.now();
  const r = await runConfined(t, policy, ['/bin/sh', '-c', script], { timeoutMs: 30_000 });
  const elapsed = Date.now() - started;
  const childOut = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '(no file)';
  t.equal(r.code, 0, `the main program's status\n${show(r)}`);
  t.ok(elapsed >= 500, `systrace waited for the background child (${elapsed} ms)`);
  t.equal(childOut, 'ERR EPERM\n', `the child's open was denied before systrace exited\n${show(r)}`);
  t.ok(findDenial(r.stderr, { syscall: 'openat', filename: secret }), `the child's denial is logged\n${show(r)}`);
});
