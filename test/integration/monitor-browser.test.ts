// The web interface in a real browser: Debian's chromium, headless, driven
// by playwright-core. A fake tracer (MonitorClient) asks a question; the
// page shows it; "permit always" reaches that tracer as Answer{answer:'P'};
// denials from another tracer appear in the live feed as they happen.
// A screenshot is kept in .tap/artifacts/.
import t from 'tap';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MonitorClient } from '../../monitor/client.js';
import type { Answer } from '../../monitor/protocol.js';
import { MonitorServer } from '../../monitor/server.js';
import { WebInterface } from '../../monitor/web.js';

const CHROMIUM = '/usr/bin/chromium';
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const artifacts = path.join(repoRoot, '.tap', 'artifacts');

let playwright: typeof import('playwright-core') | undefined;
try {
  playwright = await import('playwright-core');
} catch {
  playwright = undefined;
}
const skip = !fs.existsSync(CHROMIUM) ? `${CHROMIUM} is not installed (Debian: apt-get install chromium)`
  : !playwright ? 'playwright-core is not installed (npm ci)' : false;

t.test('answer a question from the browser; watch denials arrive', { skip, timeout: 120_000 }, async t => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'systrace-browser-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const server = new MonitorServer({ socket: path.join(dir, 'm.sock'), db: path.join(dir, 'm.db'), token: 'tok' });
  await server.start();
  const web = new WebInterface(server, { host: '127.0.0.1', port: 0 });
  const { url } = await web.start();
  t.teardown(async () => { await web.close(); await server.close(); });

  const hello = (session: string, program: string) => ({ host: 'workstation', session, program, policy: `/home/op/.systrace/${path.basename(program)}.yaml`, user: 'op' });
  const interactive = MonitorClient.connect(path.join(dir, 'm.sock'), 'tok', hello('term-1', '/usr/bin/curl'));
  const enforced = MonitorClient.connect(path.join(dir, 'm.sock'), 'tok', hello('term-2', '/usr/sbin/nginx'));
  t.teardown(() => Promise.all([interactive.close(200), enforced.close(200)]));
  const answers: Answer[] = [];
  interactive.onAnswer(a => answers.push(a));
  interactive.send({ kind: 'ask', pid: 5151, program: '/usr/bin/curl', syscall: 'linux-openat', args: { filename: '/etc/ssl/certs/ca-certificates.crt' },
    decision: 'ask', question: 1, detail: 'not in policy' });
  enforced.send({ kind: 'deny', pid: 6262, program: '/usr/sbin/nginx', syscall: 'linux-openat', args: { filename: '/etc/shadow' }, rule: 'default', decision: 'deny', errno: 'EACCES' });
  t.ok(await interactive.waitConnected() && await enforced.waitConnected(), 'both tracers connected');

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'systrace-chromium-'));
  t.teardown(() => fs.rmSync(profile, { recursive: true, force: true }));
  const context = await playwright!.chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1280, height: 800 },
  });
  t.teardown(() => context.close());
  const page = context.pages()[0] ?? await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', e => errors.push(e.message));
  page.on('console', m => { if (m.type() === 'error') errors.push(m.text()); });

  await page.goto(url);
  t.notMatch(page.url(), /token=/, 'the token leaves the address bar (kept in the tab, sent as a header)');
  await page.locator('#status[data-state=live]').waitFor({ timeout: 10_000 });

  const question = page.locator('li.question[data-session="term-1"][data-question="1"]');
  await question.waitFor({ timeout: 10_000 });
  t.match(await question.textContent(), /\/usr\/bin\/curl \[5151\] linux-openat filename: \/etc\/ssl\/certs\/ca-certificates\.crt/, 'the question, in one line');
  for (const key of ['p', 'P', 'd', 'D', 'k']) t.equal(await question.locator(`button[data-answer="${key}"]`).count(), 1, `a button for ${key}`);

  const denial = page.locator('#feed tr[data-kind="deny"]', { hasText: '/etc/shadow' });
  await denial.waitFor({ timeout: 10_000 });
  t.match(await denial.textContent(), /\/usr\/sbin\/nginx.*linux-openat.*EACCES/, 'the feed shows the denial');

  // A denial while the page is open arrives over the stream.
  enforced.send({ kind: 'deny', pid: 6262, program: '/usr/sbin/nginx', syscall: 'linux-connect', args: { sockaddr: 'inet-[203.0.113.7]:25' }, rule: 'default', decision: 'deny', errno: 'ECONNREFUSED' });
  await page.locator('#feed tr[data-kind="deny"]', { hasText: '203.0.113.7' }).waitFor({ timeout: 10_000 });
  t.pass('a live denial appears without reloading');
  await page.locator('#alert-count', { hasText: '2' }).waitFor({ timeout: 10_000 });
  t.pass('and is counted among the alerts');

  fs.mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, 'monitor-question.png'), fullPage: true });

  await question.locator('button[data-answer="P"]').click();
  const deadline = Date.now() + 10_000;
  while (answers.length === 0 && Date.now() < deadline) await new Promise(r => setTimeout(r, 20));
  t.same(answers, [{ question: 1, answer: 'P', errno: '', rule: '' }], 'the tracer that asked receives permit always');
  await question.waitFor({ state: 'detached', timeout: 10_000 });
  t.equal(await page.locator('#question-count').textContent(), '0', 'no question left');

  await page.locator('#tab-alerts').click();
  await page.locator('#alerts tr[data-type="connect-not-in-policy"]').waitFor({ timeout: 10_000 });
  t.pass('the alerts view lists the connect the policy does not name');
  await page.locator('#tab-programs').click();
  await page.locator('#programs-table tr[data-program="/usr/sbin/nginx"]').click();
  await page.locator('#denied tr', { hasText: '/etc/shadow' }).waitFor({ timeout: 10_000 });
  t.pass('the per-program view shows what was denied');
  await page.screenshot({ path: path.join(artifacts, 'monitor-denied.png'), fullPage: true });
  t.same(errors, [], `no errors in the page: ${errors.join(' / ')}`);
  t.ok(fs.statSync(path.join(artifacts, 'monitor-question.png')).size > 1000, 'a screenshot is kept in .tap/artifacts/');
});

// The same with a real confined program (as nobody, no terminal): the
// question on the page is its call; "permit always" lets it go on, and the
// rule lands in its policy file.
t.test('a real confined program, answered from the browser', { skip, timeout: 120_000 }, async t => {
  const { makeFiles } = await import('../helpers/files.js');
  const { policyYaml } = await import('../helpers/policy.js');
  const { fixture, systraceUnpriv, integrationSkip } = await import('../helpers/unpriv.js');
  const why = integrationSkip();
  if (why) {
    t.skip(why);
    return;
  }
  const dir = makeFiles(t, { wanted: 'wanted text\n' }, { writableByNobody: true });
  const sock = path.join(dir, 'm.sock');
  const server = new MonitorServer({ socket: sock, db: path.join(dir, 'm.db'), token: 'tok' });
  await server.start();
  fs.chmodSync(sock, 0o666);
  const web = new WebInterface(server, { host: '127.0.0.1', port: 0 });
  const { url } = await web.start();
  t.teardown(async () => { await web.close(); await server.close(); });
  const pfile = path.join(dir, 'p.yaml');
  fs.writeFileSync(pfile, policyYaml({ default: 'ask' }), { mode: 0o644 });
  fs.chownSync(pfile, 65534, 65534);
  const wanted = path.join(dir, 'wanted');
  const run = systraceUnpriv(['run', '-f', pfile, '--monitor', sock, '--monitor-token', 'tok', '--', fixture('try'), 'open', wanted], { timeoutMs: 60_000 });

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'systrace-chromium-'));
  t.teardown(() => fs.rmSync(profile, { recursive: true, force: true }));
  const context = await playwright!.chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  t.teardown(() => context.close());
  const page = context.pages()[0] ?? await context.newPage();
  await page.goto(url);
  const question = page.locator('li.question', { hasText: wanted });
  await question.waitFor({ timeout: 20_000 });
  fs.mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, 'monitor-real-question.png'), fullPage: true });
  await question.locator('button[data-answer="P"]').click();
  const r = await run;
  t.equal(r.stdout, 'OK wanted text\n', `the program went on after the click\n${r.stderr}`);
  t.match(fs.readFileSync(pfile, 'utf8'), `filename eq "${wanted}" then permit`, 'the rule is in its policy file');
});
