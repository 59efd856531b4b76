// Real confined programs stream to a monitor: the tracer's side of
// --monitor. (The monitor itself is tested in monitor-stream and
// monitor-browser with fake tracers.)

import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import t from 'tap';
import { makeFiles } from '../helpers/files.js';
import { policyYaml, fileIs } from '../helpers/policy.js';
import { denialLines, show } from '../helpers/systrace.js';
import { fixture, integrationSkip, repoRoot, systraceUnpriv } from '../helpers/unpriv.js';

const skip = integrationSkip();

t.test('two confined programs stream their events to one monitor; a missing monitor changes nothing but says so', { skip }, async t => {
  const dir = makeFiles(t, { allowed: 'yes\n', secret: 'no\n' }, { writableByNobody: true });
  const sock = path.join(dir, 'm.sock');
  const db = path.join(dir, 'm.db');
  const mon = spawn(process.execPath, [path.join(repoRoot, 'dist/tracer/cli/main.js'), 'monitor', '--socket', sock, '--db', db, '--http', '127.0.0.1:0', '--token', 'tok'], { stdio: 'ignore' });
  t.teardown(() => {
    mon.kill('SIGTERM');
  });
  for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await new Promise(r => setTimeout(r, 50));
  fs.chmodSync(sock, 0o666); // the tracers run as nobody
  const policy = policyYaml({ rules: { fsread: [fileIs(path.join(dir, 'allowed'), 'permit')] } });
  const pfile = path.join(dir, 'p.yaml');
  fs.writeFileSync(pfile, policy, { mode: 0o644 });
  const runs = await Promise.all([1, 2].map(() =>
    systraceUnpriv(['run', '-a', '-f', pfile, '--monitor', sock, '--monitor-token', 'tok', '--', fixture('try'), 'open', path.join(dir, 'secret')])));
  for (const r of runs) {
    t.equal(r.stdout, 'ERR EPERM\n', show(r));
    t.notMatch(r.stderr, /did not reach/, 'every event reached the monitor');
  }
  mon.kill('SIGTERM');
  await new Promise(r => mon.once('exit', r));
  const Database = (await import('better-sqlite3')).default;
  const rows = new Database(db, { readonly: true }).prepare('SELECT * FROM events ORDER BY session, seq').all() as Record<string, unknown>[];
  const sessions = [...new Set(rows.map(r => r.session))];
  t.equal(sessions.length, 2, 'two sessions');
  for (const s of sessions) {
    const ev = rows.filter(r => r.session === s);
    const kinds = ev.map(r => r.kind);
    t.equal(kinds[0], 'start', 'starts with start');
    t.equal(kinds.at(-1), 'exit', 'ends with exit');
    t.same(ev.map(r => Number(r.seq)), ev.map((_, i) => i + 1), 'in order, nothing missing');
    const deny = ev.find(r => r.kind === 'deny' && String(r.syscall) === 'linux-openat');
    t.ok(deny, 'the denial is there');
    t.match(String(deny?.args ?? ''), 'secret', 'with its file name');
    t.equal(deny?.rule, 'default', 'and what decided');
  }
  // The monitor is gone: enforcement is the same, and the loss is reported.
  const down = await systraceUnpriv(['run', '-a', '-f', pfile, '--monitor', path.join(dir, 'nowhere.sock'), '--monitor-token', 'tok', '--', fixture('try'), 'open', path.join(dir, 'secret')]);
  t.equal(down.stdout, 'ERR EPERM\n', 'still enforced');
  t.equal(denialLines(down.stderr).length > 0, true, 'still logged');
  t.match(down.stderr, /events did not reach/, 'and the lost events are counted');
});

t.test('a question with no terminal goes to the monitor; "permit always" from its page lets the program go on and lands in the policy', { skip }, async t => {
  const dir = makeFiles(t, { wanted: 'wanted text\n' }, { writableByNobody: true });
  const sock = path.join(dir, 'm.sock');
  const mon = spawn(process.execPath, [path.join(repoRoot, 'dist/tracer/cli/main.js'), 'monitor', '--socket', sock, '--db', path.join(dir, 'm.db'), '--http', '127.0.0.1:0', '--token', 'tok'], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.teardown(() => mon.kill('SIGTERM'));
  let out = '';
  mon.stdout!.on('data', d => (out += d));
  for (let i = 0; i < 100 && !(fs.existsSync(sock) && /#token=/.test(out)); i++) await new Promise(r => setTimeout(r, 50));
  fs.chmodSync(sock, 0o666);
  const web = /(http:\/\/127\.0\.0\.1:\d+)\/#token=(\S+)/.exec(out)!;
  const pfile = path.join(dir, 'p.yaml');
  fs.writeFileSync(pfile, policyYaml({ default: 'ask' }), { mode: 0o644 });
  fs.chownSync(pfile, 65534, 65534);
  const wanted = path.join(dir, 'wanted');
  const run = systraceUnpriv(['run', '-f', pfile, '--monitor', sock, '--monitor-token', 'tok', '--', fixture('try'), 'open', wanted], { timeoutMs: 30_000 });
  // The operator's side: wait for the question, answer it.
  let answered = false;
  for (let i = 0; i < 200 && !answered; i++) {
    await new Promise(r => setTimeout(r, 100));
    const qs = (await (await fetch(`${web[1]}/api/questions?token=${web[2]}`)).json()) as { session: string; question: number; args: unknown }[];
    const q = qs.find(x => JSON.stringify(x).includes('wanted'));
    if (!q) continue;
    const r = await fetch(`${web[1]}/api/answer?token=${web[2]}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ session: q.session, question: q.question, answer: 'P', rule: 'filename inpath "/" then permit' }) });
    t.equal(r.status, 200, 'the answer is sent');
    answered = true;
  }
  t.ok(answered, 'the question reached the page');
  const r = await run;
  t.equal(r.stdout, 'OK wanted text\n', `the program went on\n${show(r)}`);
  t.match(r.stderr, /questions go to the monitor/);
  t.match(fs.readFileSync(pfile, 'utf8'), `filename eq "${wanted}" then permit`, 'the rule landed in the policy file');
  t.notMatch(fs.readFileSync(pfile, 'utf8'), 'inpath "/"', 'a rule text sent from the page is not taken: the tracer writes its own');
});

t.test('--kill-on-violation: the denied call kills its process', { skip }, async t => {
  const dir = makeFiles(t, { secret: 'no\n' });
  const pfile = path.join(dir, 'p.yaml');
  fs.writeFileSync(pfile, policyYaml({}), { mode: 0o644 });
  const r = await systraceUnpriv(['run', '-a', '--kill-on-violation', '-f', pfile, '--', fixture('try'), 'open', path.join(dir, 'secret')]);
  t.equal(r.code, 137, show(r));
  t.equal(r.stdout, '', 'it never saw the answer');
  t.match(r.stderr, /kill-on-violation: killing pid/);
});
