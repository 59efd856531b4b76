// Controls: the fixtures behave as the other integration tests assume,
// without systrace. If one of these fails, a "denied" result elsewhere
// proves nothing.

import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import t from 'tap';
import { makeFiles } from '../helpers/files.js';
import { fixture, integrationSkip, paths, repoRoot, runUnpriv } from '../helpers/unpriv.js';

const skip = integrationSkip(false);

const noFile = spawnSync('file', ['--version']).status !== 0 ? 'file(1) is not installed' : false;

t.test('fixtures are built for the architectures the tests need', { skip: skip || noFile }, async t => {
  const expect: Record<string, RegExp> = {
    'try': /ELF 64-bit .*x86-64.*dynamically linked/,
    'try-static': /ELF 64-bit .*x86-64.*statically linked/,
    'try32-static': /ELF 32-bit .*Intel 80386.*statically linked/,
    'race': /ELF 64-bit .*x86-64/,
    'race32-static': /ELF 32-bit .*Intel 80386.*statically linked/,
    'int80-open': /ELF 64-bit LSB executable, x86-64.*statically linked/, // non-PIE
    'int80-exec-high': /ELF 64-bit .*x86-64.*statically linked/,
  };
  for (const [name, re] of Object.entries(expect)) {
    const out = spawnSync('file', ['-b', path.join(repoRoot, paths.fixtures, name)], { encoding: 'utf8' });
    t.match(out.stdout, re, name);
  }
});

t.test('try reports results as nobody', { skip }, async t => {
  const dir = makeFiles(t, { 'a.txt': 'first line\nsecond\n' });
  for (const prog of ['try', 'try-static', 'try32-static']) {
    const ok = await runUnpriv([fixture(prog), 'open', path.join(dir, 'a.txt')]);
    t.equal(ok.stdout, 'OK first line\n', `${prog} open`);
    t.equal(ok.code, 0);
    const missing = await runUnpriv([fixture(prog), 'open', path.join(dir, 'none')]);
    t.equal(missing.stdout, 'ERR ENOENT\n', `${prog} open missing`);
    const denied = await runUnpriv([fixture(prog), 'open', '/etc/shadow']);
    t.equal(denied.stdout, 'ERR EACCES\n', `${prog}: nobody cannot read /etc/shadow`);
    const rel = await runUnpriv([fixture(prog), 'openat', dir, 'a.txt']);
    t.equal(rel.stdout, 'OK first line\n', `${prog} openat`);
    const fork = await runUnpriv([fixture(prog), 'fork-open', path.join(dir, 'a.txt')]);
    t.equal(fork.stdout, 'child OK first line\nOK child-exit=0\n', `${prog} fork-open`);
    const thread = await runUnpriv([fixture(prog), 'thread-open', path.join(dir, 'a.txt')]);
    t.equal(thread.stdout, 'OK first line\n', `${prog} thread-open`);
  }
});

t.test('int 0x80 reaches the i386 table from a 64-bit process', { skip }, async t => {
  const dir = makeFiles(t, { 'a.txt': 'via int80\n' });
  const r = await runUnpriv([fixture('int80-open'), path.join(dir, 'a.txt')]);
  // ENOSYS here means the kernel runs without IA32 emulation
  // (ia32_emulation=0); the int80 confinement test then proves nothing.
  t.equal(r.stdout, 'OK via int80\n');
});

t.test('race flips paths fast enough to be caught without confinement', { skip }, async t => {
  const dir = makeFiles(t, { 'allowed': 'allowed\n', 'forbid': 'forbidden\n' });
  const r = await runUnpriv([fixture('race'), path.join(dir, 'allowed'), path.join(dir, 'forbid'), '20000']);
  const m = /^forbidden-reads=(\d+) opens-ok=(\d+) denied=(\d+)$/m.exec(r.stdout);
  t.ok(m, `race output: ${r.stdout}${r.stderr}`);
  // Unconfined, the forbidden file is of course readable: the race reads it.
  t.ok(Number(m?.[1]) > 0, 'unconfined race reads the forbidden file at least once');
});

t.test('exit statuses of the fixtures themselves', { skip }, async t => {
  t.equal((await runUnpriv([fixture('try'), 'exit', '3'])).code, 3);
  const killed = await runUnpriv([fixture('try'), 'kill-self', 'SIGTERM']);
  t.equal(killed.signal, 'SIGTERM');
  t.equal((await runUnpriv([fixture('try'), 'write-stdout', 'hello'])).stdout, 'hello\n');
});

t.test('runUnpriv kills the process tree at the deadline', { skip }, async t => {
  const started = Date.now();
  await t.rejects(runUnpriv(['/bin/sh', '-c', 'sleep 30 & sleep 30'], { timeoutMs: 500 }), /timed out/);
  t.ok(Date.now() - started < 10_000, 'returned promptly');
});
