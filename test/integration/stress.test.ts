// Many notifications at once: threads of one process and a storm of short
// processes keep the supervisor's queue full. Every call must get its own
// answer: no permitted call lost or denied, no denied call let through.

import * as path from 'node:path';
import t from 'tap';
import { makeFiles } from '../helpers/files.js';
import { fileIs, policyYaml } from '../helpers/policy.js';
import { findDenial, runConfined, show } from '../helpers/systrace.js';
import { fixture, integrationSkip } from '../helpers/unpriv.js';

const skip = integrationSkip();
const THREADS = 8;
const PER_THREAD = 500;
const TOTAL = THREADS * PER_THREAD;

function counts(stdout: string): { ok: number; fail: number } | undefined {
  const m = /^ok=(\d+) fail=(\d+)$/m.exec(stdout);
  return m === null ? undefined : { ok: Number(m[1]), fail: Number(m[2]) };
}

t.test(`${THREADS} threads x ${PER_THREAD} permitted opens: every one succeeds`, { skip }, async t => {
  const dir = makeFiles(t, { allowed: 'allowed\n' });
  const allowed = path.join(dir, 'allowed');
  // The filename rule makes every openat a notified call.
  const policy = policyYaml({ rules: { fsread: [fileIs(allowed, 'permit')] } });
  const r = await runConfined(t, policy, [fixture('stress-open'), allowed, String(THREADS), String(PER_THREAD)],
    { timeoutMs: 120_000 });
  const c = counts(r.stdout);
  t.ok(c, `stress-open printed its counts\n${show(r)}`);
  t.same(c, { ok: TOTAL, fail: 0 }, show(r));
  t.equal(r.code, 0, show(r));
});

t.test(`${THREADS} threads x ${PER_THREAD} forbidden opens: every one denied`, { skip }, async t => {
  const dir = makeFiles(t, { allowed: 'allowed\n', secret: 'secret\n' });
  const allowed = path.join(dir, 'allowed');
  const secret = path.join(dir, 'secret');
  const policy = policyYaml({ rules: { fsread: [fileIs(allowed, 'permit')] } });
  const r = await runConfined(t, policy, [fixture('stress-open'), secret, String(THREADS), String(PER_THREAD)],
    { timeoutMs: 120_000 });
  const c = counts(r.stdout);
  t.ok(c, `stress-open printed its counts\n${show(r)}`);
  t.same(c, { ok: 0, fail: TOTAL }, show(r));
  t.match(r.stderr, /first failure: EPERM/, 'denied with EPERM');
  t.ok(findDenial(r.stderr, { syscall: 'openat', filename: secret }), 'the denials are logged');
});

t.test('a fork storm: 50 background processes each open a permitted file', { skip }, async t => {
  const dir = makeFiles(t, { allowed: 'allowed\n' });
  const allowed = path.join(dir, 'allowed');
  // dash's `wait` sleeps in rt_sigsuspend with every signal blocked: denied,
  // it spins forever (and floods the log with denials).
  const policy = policyYaml({ rules: { rt_sigsuspend: 'permit', fsread: [fileIs(allowed, 'permit')] } });
  const script = `for i in $(seq 1 50); do ${fixture('try')} open ${allowed} & done; wait`;
  const r = await runConfined(t, policy, ['/bin/sh', '-c', script], { timeoutMs: 60_000 });
  const lines = r.stdout.split('\n').filter(l => l !== '');
  t.equal(lines.length, 50, `50 results\n${show(r)}`);
  t.ok(lines.every(l => l === 'OK allowed'), `every one read the file\n${show(r)}`);
  t.equal(r.code, 0, show(r));
});
