// The monitor as tracers and browsers meet it: several fake tracers
// (MonitorClient, the library the tracer uses) stream to one monitor over
// its Unix socket and over TLS; events arrive complete and in order per
// session, survive a restart, are buffered and counted while the monitor is
// down; wrong tokens are refused, on both sides.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MonitorClient, type ClientStatus } from '../../monitor/client.js';
import { encodeFrame, FrameReader, type Answer, type Frame } from '../../monitor/protocol.js';
import { MonitorServer, type MonitorOptions } from '../../monitor/server.js';
import { WebInterface } from '../../monitor/web.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TOKEN = 'tracer-secret';

interface Teardown { teardown(fn: () => unknown): void }

/** A short path: a Unix socket's name must fit in 108 bytes. */
function tempDir(t: Teardown): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'systrace-monitor-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function startMonitor(t: Teardown, dir: string, opts: Partial<MonitorOptions> = {}) {
  const server = new MonitorServer({ socket: path.join(dir, 'monitor.sock'), db: path.join(dir, 'monitor.db'), token: TOKEN, ...opts });
  await server.start();
  const web = new WebInterface(server, { host: '127.0.0.1', port: 0 });
  const { url, port } = await web.start();
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await web.close();
    await server.close();
  };
  t.teardown(close);
  return { server, web, url, port, socket: path.join(dir, 'monitor.sock'), close };
}

function client(t: Teardown, addr: string, session: string, opts: Parameters<typeof MonitorClient.connect>[3] = {}, token = TOKEN): MonitorClient {
  const c = MonitorClient.connect(addr, token, { host: `host-${session}`, session, program: '/usr/bin/fake', policy: '/etc/systrace/fake.yaml', user: 'nobody' },
    { backoffMs: 20, maxBackoffMs: 200, ...opts });
  t.teardown(() => c.close(200));
  return c;
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 20));
  }
}

function count(server: MonitorServer, session?: string): number {
  const row = session
    ? server.storage.db.prepare('SELECT COUNT(*) AS n FROM events WHERE session = ?').get(session)
    : server.storage.db.prepare('SELECT COUNT(*) AS n FROM events').get();
  return (row as { n: number }).n;
}

t.test('several tracers stream to one monitor: complete, in order per session', async t => {
  const dir = tempDir(t);
  const m = await startMonitor(t, dir);
  const sessions = ['alpha', 'beta', 'gamma', 'delta'];
  const clients = sessions.map(s => client(t, m.socket, s));
  const N = 300;
  // Interleaved, as concurrent tracers would: the monitor must not mix them up.
  for (let i = 1; i <= N; i++) {
    for (const [k, c] of clients.entries()) {
      c.send({ kind: i % 7 === 0 ? 'deny' : 'exec', pid: 1000 + k, program: `/usr/bin/p${k}`, syscall: 'linux-openat',
        args: { filename: `/tmp/${sessions[k]}/${i}`, flags: 'O_RDONLY' }, rule: `/p.yaml:${i}`, decision: i % 7 === 0 ? 'deny' : 'permit',
        errno: i % 7 === 0 ? 'EACCES' : '', detail: `n=${i}` });
    }
  }
  await until('every event', () => count(m.server) === N * sessions.length);
  for (const [k, s] of sessions.entries()) {
    const events = m.server.storage.sessionEvents(s);
    t.same(events.map(e => e.seq), Array.from({ length: N }, (_, i) => i + 1), `${s}: seq 1..${N}, in order`);
    t.same(events.map(e => e.id), [...events.map(e => e.id)].sort((a, b) => a - b), `${s}: stored in the order sent`);
    t.match(events[6], { host: `host-${s}`, user: 'nobody', policy: '/etc/systrace/fake.yaml', kind: 'deny', pid: 1000 + k, program: `/usr/bin/p${k}`,
      syscall: 'linux-openat', args: { filename: `/tmp/${s}/7`, flags: 'O_RDONLY' }, rule: '/p.yaml:7', decision: 'deny', errno: 'EACCES', detail: 'n=7' },
    'every field arrives');
    t.ok(events[0]!.time.length > 0, 'the client stamps the time');
  }
  const alerts = m.server.storage.alerts({ limit: 10_000 });
  t.equal(alerts.filter(a => a.type === 'denial').length, sessions.length * Math.floor(N / 7), 'each denial is an alert');
});

t.test('a restart keeps what was stored; a tracer whose monitor is down buffers, counts what it dropped, and reconnects', async t => {
  const dir = tempDir(t);
  let m = await startMonitor(t, dir);
  const statuses: ClientStatus[] = [];
  const c = client(t, m.socket, 'resilient', { bufferSize: 50, onStatus: s => statuses.push(s) });
  for (let i = 0; i < 10; i++) c.send({ kind: 'exec', detail: `before ${i}` });
  await until('the first 10', () => count(m.server, 'resilient') === 10);
  await m.close();
  await until('the client to notice', () => !c.connected);

  // Down: 120 events, room for 50; the tracer is never blocked and nothing throws.
  for (let i = 0; i < 120; i++) c.send({ kind: 'deny', syscall: 'linux-openat', args: { filename: `/x/${i}` }, detail: `during ${i}` });
  t.equal(c.buffered, 50);
  t.equal(c.dropped, 70);

  m = await startMonitor(t, dir);
  t.equal(count(m.server, 'resilient'), 10, 'the stored events survived the restart');
  await until('the buffered events', () => count(m.server, 'resilient') === 10 + 1 + 50);
  const events = m.server.storage.sessionEvents('resilient');
  const dropped = events.find(e => e.kind === 'dropped');
  t.match(dropped, { seq: 80, args: { count: '70' }, severity: 'warning', detail: /70 events dropped/ }, 'a dropped event with the count');
  t.same(events.map(e => e.seq), [...Array.from({ length: 10 }, (_, i) => i + 1), 80, ...Array.from({ length: 50 }, (_, i) => 81 + i)],
    'seq stays increasing: the gap 11..79 is what the dropped event stands for');
  t.equal(events.at(-1)?.detail, 'during 119', 'the newest are kept');
  t.equal(c.dropped, 0);
  t.equal(c.droppedTotal, 70);
  t.ok(statuses.includes('disconnected') && statuses.lastIndexOf('connected') > statuses.indexOf('disconnected'), `reconnected: ${statuses.join(' ')}`);
  c.send({ kind: 'exit', detail: 'after' });
  await until('events after reconnecting', () => count(m.server, 'resilient') === 62);
});

t.test('questions: the operator answers over HTTP, the tracer that asked receives it', async t => {
  const dir = tempDir(t);
  const m = await startMonitor(t, dir);
  const asker = client(t, m.socket, 'asker');
  const other = client(t, m.socket, 'other');
  const answers: Answer[] = [];
  const otherAnswers: Answer[] = [];
  asker.onAnswer(a => answers.push(a));
  other.onAnswer(a => otherAnswers.push(a));
  asker.send({ kind: 'ask', pid: 7, syscall: 'linux-openat', args: { filename: '/etc/hostname' }, decision: 'ask', question: 1 });
  asker.send({ kind: 'ask', pid: 7, syscall: 'linux-connect', args: { sockaddr: 'inet-[10.1.2.3]:443' }, decision: 'ask', question: 2 });
  other.send({ kind: 'ask', pid: 8, syscall: 'linux-openat', args: { filename: '/etc/passwd' }, question: 1 });
  await until('three questions', () => m.server.pending().length === 3);

  const auth = await login(m.url);
  const get = (p: string) => fetch(`http://127.0.0.1:${m.port}${p}`, { headers: auth });
  const post = (body: unknown, headers: Record<string, string> = { 'content-type': 'application/json', ...auth }) =>
    fetch(`http://127.0.0.1:${m.port}/api/answer`, { method: 'POST', headers, body: JSON.stringify(body) });
  const pending = (await (await get('/api/questions')).json()) as { session: string; question: number; args: Record<string, string> }[];
  t.same(pending.map(q => [q.session, q.question]), [['asker', 1], ['asker', 2], ['other', 1]]);

  t.equal((await post({ session: 'asker', question: 1, answer: 'P' })).status, 200);
  t.equal((await post({ session: 'asker', question: 2, answer: 'D', errno: 'econnrefused' })).status, 200);
  await until('two answers', () => answers.length === 2);
  t.same(answers, [{ question: 1, answer: 'P', errno: '', rule: '' }, { question: 2, answer: 'D', errno: 'ECONNREFUSED', rule: '' }]);
  t.same(otherAnswers, [], 'only the tracer that asked');
  t.equal((await post({ session: 'asker', question: 1, answer: 'd' })).status, 409, 'answered already');
  t.equal((await post({ session: 'asker', question: 99, answer: 'p' })).status, 404);
  t.equal((await post({ session: 'other', question: 1, answer: 'Z' })).status, 400, 'not one of the prompt\'s answers');
  t.equal((await post({ session: 'other', question: 1, answer: 'D', errno: 'rm -rf' })).status, 400, 'not an errno');
  t.equal((await post({ session: 'other', question: 1, answer: 'p' }, { 'content-type': 'text/plain', ...auth })).status, 415, 'JSON only');

  // Answered at the terminal instead: the tracer reports it, and it is no longer pending.
  other.send({ kind: 'answer', question: 1, decision: 'permit', detail: 'p' });
  await until('no question left', () => m.server.pending().length === 0);
  t.same(await (await get('/api/questions')).json(), []);
  await other.close();
  t.equal((await post({ session: 'other', question: 1, answer: 'p' })).status, 409);
});

/** What the page does with the printed URL: the token from its #fragment, sent as a header. */
async function login(url: string): Promise<Record<string, string>> {
  const token = /#token=(.+)$/.exec(url)?.[1];
  if (!token) throw new Error(`login: no #token in ${url}`);
  return { 'x-systrace-token': token };
}

t.test('refused: a tracer with the wrong token, a first frame that is not a Hello, a browser without the token', async t => {
  const dir = tempDir(t);
  const m = await startMonitor(t, dir);

  const raw = net.connect(m.socket);
  const reader = new FrameReader();
  const frames: Frame[] = [];
  raw.on('data', d => frames.push(...reader.push(d)));
  const closed = new Promise(r => raw.on('close', r));
  raw.write(encodeFrame({ hello: { token: 'guess', host: 'evil', session: 'e1', program: '/bin/sh', policy: '', user: 'mallory', version: 1, key: 'k'.repeat(64) } }));
  raw.write(encodeFrame({ event: { seq: 1, time: '', kind: 'exec', pid: 1, program: '', syscall: '', args: {}, rule: '', decision: '', errno: '', severity: '', detail: 'sneaked in', question: 0 } }));
  await closed;
  t.same(frames, [{ welcome: { ok: false, reason: 'wrong token' } }], 'Welcome{ok:false}, then the connection is closed');
  t.equal(count(m.server), 0, 'nothing of it is stored');
  t.match(m.server.storage.hellos(), [{ ok: false, reason: 'wrong token', host: 'evil', user: 'mallory', session: 'e1' }], 'the attempt is recorded');

  const statuses: [ClientStatus, string][] = [];
  const bad = client(t, m.socket, 'wrong', { onStatus: (s, d) => statuses.push([s, d]) }, 'not-the-token');
  bad.send({ kind: 'exec' });
  await until('a refusal', () => statuses.some(([s]) => s === 'refused'));
  t.notOk(bad.connected);
  t.same(statuses.find(([s]) => s === 'refused'), ['refused', 'wrong token']);
  t.equal(count(m.server), 0);

  const early = net.connect(m.socket);
  await new Promise(r => early.on('connect', r));
  early.write(encodeFrame({ answer: { question: 1, answer: 'p', errno: '', rule: '' } }));
  await new Promise(r => early.on('close', r));
  t.pass('a first frame that is not a Hello closes the connection');

  const garbage = net.connect(m.socket);
  await new Promise(r => garbage.on('connect', r));
  garbage.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
  await new Promise(r => garbage.on('close', r));
  t.pass('a frame larger than the limit closes the connection');

  const base = `http://127.0.0.1:${m.port}`;
  for (const p of ['/api/events', '/api/stream', '/api/questions', '/api/alerts', '/nonexistent', '/api/events?token=wrong']) {
    t.equal((await fetch(base + p)).status, 403, `GET ${p} without the token`);
  }
  t.equal((await fetch(`${base}/api/events`, { headers: { 'x-systrace-token': 'wrong' } })).status, 403, 'a wrong token');
  t.equal((await fetch(`${base}/api/answer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status, 403, 'POST without the token');
  const auth = await login(m.url);
  t.equal((await fetch(`${base}/api/events`, { headers: auth })).status, 200, 'the token in the header opens the API');
  // The page itself holds no data: served to anyone, it asks the API.
  const page = await fetch(`${base}/`);
  t.equal(page.status, 200);
  t.match(await page.text(), /systrace monitor/);
  t.match(page.headers.get('content-security-policy'), /default-src 'self'/);
  t.equal(page.headers.get('set-cookie'), null, 'no cookie: it would reach every other server on 127.0.0.1');
  t.equal((await fetch(`${base}/api/events?token=${m.web.token}`)).status, 200, 'the token in the query works for the API too');
});

t.test('TLS over TCP: a tracer that trusts the certificate connects; one that does not, does not', async t => {
  if (spawnSync('openssl', ['version']).status !== 0) {
    t.skip('openssl is not installed (Debian: openssl), needed to make a test certificate');
    return;
  }
  const dir = tempDir(t);
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=systrace-monitor-test', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { encoding: 'utf8' });
  t.equal(made.status, 0, `a self-signed certificate for 127.0.0.1\n${made.stderr}`);
  const m = await startMonitor(t, dir, { socket: undefined, listen: { host: '127.0.0.1', port: 0, cert, key } });
  const where = await (async () => {
    // start() already ran in startMonitor; the bound port is on the server.
    const srv = (m.server as unknown as { tlsServer: net.Server }).tlsServer;
    return (srv.address() as net.AddressInfo).port;
  })();
  const good = client(t, `127.0.0.1:${where}`, 'tls-good', { ca: cert });
  good.send({ kind: 'exec', detail: 'over tls' });
  await until('the event over TLS', () => count(m.server, 'tls-good') === 1);
  t.equal(m.server.storage.sessionEvents('tls-good')[0]?.detail, 'over tls');

  const statuses: string[] = [];
  const untrusting = client(t, `127.0.0.1:${where}`, 'tls-bad', { onStatus: (s, d) => statuses.push(`${s}: ${d}`) });
  untrusting.send({ kind: 'exec' });
  await until('a certificate error', () => statuses.some(s => /self-signed|certificate/i.test(s)));
  t.notOk(untrusting.connected, 'a certificate it does not trust is not talked to');

  const plain = net.connect({ host: '127.0.0.1', port: where });
  plain.on('error', () => {});
  plain.write(encodeFrame({ hello: { token: TOKEN, host: 'h', session: 'plain', program: '', policy: '', user: '', version: 1, key: 'k'.repeat(64) } }));
  await new Promise(r => plain.on('close', r));
  t.equal(count(m.server, 'plain'), 0, 'no plain TCP');
});

t.test('a session id alone does not take a session over: the second Hello must carry the same key', async t => {
  const dir = tempDir(t);
  const m = await startMonitor(t, dir);
  const owner = client(t, m.socket, 'victim');
  owner.send({ kind: 'exec', detail: 'from the owner' });
  await until('the owner connected', () => m.server.sessions.get('victim')?.hello.host === 'host-victim' && count(m.server, 'victim') === 1);

  // Another tracer that has the token and learned the session id.
  const helloFrom = (key: string) => encodeFrame({ hello: { token: TOKEN, host: 'intruder', session: 'victim', program: '/bin/sh', policy: '', user: 'mallory', version: 1, key } });
  for (const [what, key] of [['a different key', 'x'.repeat(64)], ['no key', '']] as const) {
    const raw = net.connect(m.socket);
    const reader = new FrameReader();
    const frames: Frame[] = [];
    raw.on('data', d => frames.push(...reader.push(d)));
    const closed = new Promise(r => raw.on('close', r));
    raw.write(helloFrom(key));
    raw.write(encodeFrame({ event: { seq: 99, time: '', kind: 'exit', pid: 1, program: '', syscall: '', args: {}, rule: '', decision: '', errno: '', severity: '', detail: 'forged', question: 0 } }));
    await closed;
    t.match(frames, [{ welcome: { ok: false, reason: key ? /belongs to another tracer/ : /no session key/ } }], `${what}: refused`);
  }
  t.equal(m.server.sessions.get('victim')?.hello.host, 'host-victim', 'the owner keeps its connection');
  t.ok(owner.connected, 'and stays connected');
  owner.send({ kind: 'exec', detail: 'still the owner' });
  await until('the owner\'s second event', () => count(m.server, 'victim') === 2);
  t.notOk(m.server.storage.events({ session: 'victim', limit: 100 }).some(e => e.detail === 'forged'), 'nothing forged is stored');
  t.match(m.server.storage.hellos().filter(h => h.session === 'victim' && !h.ok), [{ host: 'intruder' }, { host: 'intruder' }], 'both attempts are recorded');
});

t.test('alerts and every event go to the JSON-lines export', async t => {
  const dir = tempDir(t);
  const exportFile = path.join(dir, 'export.jsonl');
  const m = await startMonitor(t, dir, { jsonExport: exportFile, detector: { burstCount: 3, burstSeconds: 60 } });
  const c = client(t, m.socket, 'intruder');
  c.send({ kind: 'deny', syscall: 'linux-execve', args: { filename: '/bin/nc' }, pid: 66 });
  c.send({ kind: 'deny', syscall: 'linux-connect', args: { sockaddr: 'inet-[203.0.113.9]:4444' }, pid: 66 });
  c.send({ kind: 'deny', syscall: 'linux-openat', args: { filename: '/etc/shadow' }, pid: 66 });
  await until('4 alerts', () => m.server.storage.alerts().length === 4);
  await m.close();
  const lines = fs.readFileSync(exportFile, 'utf8').trim().split('\n').map(l => JSON.parse(l) as { type: string; kind?: string; session: string });
  t.same(lines.map(l => l.type === 'event' ? `event:${l.kind}` : `alert:${(l as unknown as { type: string; severity: string }).severity}`),
    ['event:deny', 'alert:alert', 'event:deny', 'alert:alert', 'event:deny', 'alert:warning', 'alert:alert']);
  t.ok(lines.every(l => l.session === 'intruder'));
});

t.test('`systrace monitor` prints the URL with its token and the tracer token', async t => {
  const main = path.join(repoRoot, 'dist', 'tracer', 'cli', 'main.js');
  const compiled = path.join(repoRoot, 'dist', 'tracer', 'cli', 'commands', 'monitor.js');
  if (!fs.existsSync(compiled)) {
    t.skip('dist/ has no monitor command: run `npx tsc -p tsconfig.json` first');
    return;
  }
  const dir = tempDir(t);
  const sock = path.join(dir, 'cli.sock');
  const child = spawn(process.execPath, [main, 'monitor', '--socket', sock, '--db', path.join(dir, 'cli.db'), '--http', '127.0.0.1:0'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let out = '';
  child.stdout.on('data', d => { out += d; });
  child.stderr.on('data', d => { out += d; });
  await until('the banner', () => /tracer token: \S+\n/.test(out) && /database/.test(out));
  const url = /web interface: (http:\/\/127\.0\.0\.1:\d+\/#token=[\w-]{20,})/.exec(out)?.[1];
  const token = /tracer token: (\S+)/.exec(out)?.[1];
  t.ok(url, `the URL with a token:\n${out}`);
  t.ok(token && token.length >= 20, 'a random tracer token');
  const auth = await login(url!);
  const c = client(t, sock, 'cli', {}, token);
  c.send({ kind: 'exec', detail: 'via the cli' });
  const port = new URL(url!).port;
  let events: { detail: string }[] = [];
  for (let i = 0; i < 100 && events.length === 0; i++) {
    events = (await (await fetch(`http://127.0.0.1:${port}/api/events?session=cli`, { headers: auth })).json()) as { detail: string }[];
    if (events.length === 0) await new Promise(r => setTimeout(r, 50));
  }
  t.equal(events[0]?.detail, 'via the cli');
  const exit = new Promise<number | null>(r => child.on('exit', code => r(code)));
  child.kill('SIGTERM');
  t.equal(await exit, 0, 'SIGTERM stops it cleanly');
  t.notOk(fs.existsSync(sock), 'and removes its socket');
});
