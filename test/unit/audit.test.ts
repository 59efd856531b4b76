import t, { type Test } from 'tap';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { AuditLog, formatAuditEntry, readAudit, syslogDatagram, verifyAudit, type AuditEntry, type AuditRecord } from '../../broker/audit.js';
import { registerAudit } from '../../tracer/cli/commands/audit.js';
import { native } from '../../tracer/native.js';

const isRoot = process.geteuid?.() === 0;

function tempDir(t: Test): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'systrace-audit-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const bind = (n: number, over: Partial<AuditEntry> = {}): AuditEntry => ({
  time: `2025-01-0${n}T12:00:00.000Z`,
  user: 'www-data',
  uid: 33,
  pid: 1000 + n,
  program: '/usr/sbin/nginx',
  call: 'bind',
  args: { sockaddr: 'inet-[127.0.0.1]:80' },
  grant: '/etc/systrace/elevate.yaml:7',
  result: 'granted',
  ...over,
});

/** A log of `n` records, closed, with syslog off (no /dev/log needed). */
function writeLog(t: Test, n: number): string {
  const file = path.join(tempDir(t), 'elevate.log');
  const log = AuditLog.open(file, { syslog: null });
  for (let i = 1; i <= n; i++) log.append(bind(i));
  log.close();
  return file;
}

const lines = (file: string) => fs.readFileSync(file, 'utf8').split('\n').slice(0, -1);
const writeLines = (file: string, ls: string[]) => fs.writeFileSync(file, ls.map(l => `${l}\n`).join(''));

t.test('append then verify: a clean chain', async t => {
  const file = writeLog(t, 4);
  t.equal(fs.statSync(file).mode & 0o777, 0o600, 'created 0600');
  const ls = lines(file).map(l => JSON.parse(l) as AuditRecord);
  t.same(ls.map(r => r.seq), [1, 2, 3, 4]);
  t.equal(ls[0]!.prev, '0'.repeat(64), 'the first prev is 64 zeros');
  for (let i = 1; i < ls.length; i++) t.equal(ls[i]!.prev, ls[i - 1]!.hash, `record ${i + 1} chains to ${i}`);
  t.match(ls[0]!.hash, /^[0-9a-f]{64}$/);
  t.same(verifyAudit(file), { ok: true, records: 4, problems: [] });
});

t.test('time is filled in; errno and reason are kept; absent ones are not written', async t => {
  const file = path.join(tempDir(t), 'elevate.log');
  const log = AuditLog.open(file, { syslog: null });
  const { time: _t, ...noTime } = bind(1);
  const before = Date.now();
  const r = log.append({ ...noTime, result: 'refused', grant: null, errno: 'EACCES', reason: 'no grant' });
  log.close();
  t.ok(Date.parse(r.time) >= before - 1000, 'time filled in');
  const [line] = lines(file);
  t.notMatch(line!, /"errno":null/);
  const rec = JSON.parse(line!) as AuditRecord;
  t.equal(rec.grant, null);
  t.equal(rec.errno, 'EACCES');
  t.equal(rec.reason, 'no grant');
  t.ok(verifyAudit(file).ok);
});

t.test('editing a field of record 3 names line 3', async t => {
  const file = writeLog(t, 5);
  const ls = lines(file);
  ls[2] = ls[2]!.replace('inet-[127.0.0.1]:80', 'inet-[127.0.0.1]:8080');
  writeLines(file, ls);
  const v = verifyAudit(file);
  t.equal(v.ok, false);
  t.same(v.problems.map(p => p.line), [3]);
  t.match(v.problems[0]!.reason, /hash does not match/);
});

t.test('editing record 3 and recomputing its hash is still caught, at line 4', async t => {
  // Without a key the editor can fix the record's own hash; the next record's
  // prev then gives it away (unless they rewrite the rest of the chain too:
  // see the top of broker/audit.ts).
  const file = writeLog(t, 5);
  const ls = lines(file);
  const r = JSON.parse(ls[2]!) as AuditRecord;
  const forged = path.join(tempDir(t), 'forge.log');
  const f = AuditLog.open(forged, { syslog: null });
  // Rebuild record 3 with the same seq and prev by replaying records 1-2.
  f.append(bind(1));
  f.append(bind(2));
  const edited = f.append({ ...bind(3), args: { sockaddr: 'inet-[0.0.0.0]:22' } });
  f.close();
  t.equal(edited.prev, r.prev, 'same chain position');
  ls[2] = lines(forged)[2]!;
  writeLines(file, ls);
  const v = verifyAudit(file);
  t.same(v.problems.map(p => p.line), [4]);
  t.match(v.problems[0]!.reason, /prev is not the hash of seq 3 \(line 3\)/);
});

t.test('deleting record 2 names line 2', async t => {
  // Line 2 now holds record 3: its seq jumps from 1 to 3, so the gap is
  // reported where the deleted record stood (the first line after the hole),
  // not at line 3, whose record (4) follows 3 correctly.
  const file = writeLog(t, 4);
  const ls = lines(file);
  ls.splice(1, 1);
  writeLines(file, ls);
  const v = verifyAudit(file);
  t.same(v.problems.map(p => p.line), [2]);
  t.match(v.problems[0]!.reason, /1 record\(s\) \(seq 2\) deleted before this line/);
  t.equal(v.records, 3);
});

t.test('deleting records and renumbering the rest is caught by prev', async t => {
  const file = writeLog(t, 4);
  const ls = lines(file).map(l => JSON.parse(l) as Record<string, unknown>);
  ls.splice(1, 1);
  ls[1]!.seq = 2;
  ls[2]!.seq = 3;
  writeLines(file, ls.map(r => JSON.stringify(r)));
  const v = verifyAudit(file);
  t.equal(v.ok, false);
  t.ok(v.problems.some(p => p.line === 2 && /prev is not the hash of seq 1/.test(p.reason)), JSON.stringify(v.problems));
});

t.test('swapping records 2 and 3 names lines 2 and 3', async t => {
  const file = writeLog(t, 4);
  const ls = lines(file);
  [ls[1], ls[2]] = [ls[2]!, ls[1]!];
  writeLines(file, ls);
  const v = verifyAudit(file);
  t.same(v.problems.map(p => p.line), [2, 3]);
  t.match(v.problems[1]!.reason, /seq 2 after seq 3: records out of order/);
});

t.test('a duplicated record is reported', async t => {
  const file = writeLog(t, 3);
  const ls = lines(file);
  ls.splice(2, 0, ls[1]!);
  writeLines(file, ls);
  const v = verifyAudit(file);
  t.same(v.problems.map(p => p.line), [3]);
  t.match(v.problems[0]!.reason, /seq 2 repeated \(first at line 2\)/);
});

t.test('a line that is not JSON', async t => {
  const file = writeLog(t, 3);
  const ls = lines(file);
  ls[1] = 'this is not { json';
  writeLines(file, ls);
  const v = verifyAudit(file);
  t.same(v.problems, [{ line: 2, reason: 'not JSON' }], 'line 3 is not blamed again for the missing seq 2');
  t.equal(v.records, 2);
  t.same(readAudit(file).map(r => r.seq), [1, 3], 'show skips it');
});

t.test('a torn last line (no newline)', async t => {
  const file = writeLog(t, 2);
  fs.appendFileSync(file, '{"seq":3,"ti');
  const v = verifyAudit(file);
  t.same(v.problems.map(p => p.line), [3]);
  t.throws(() => AuditLog.open(file, { syslog: null }), { code: 'EBADMSG' }, 'the broker will not continue a torn log');
});

t.test('the chain continues across close and open', async t => {
  const file = writeLog(t, 2);
  const log = AuditLog.open(file, { syslog: null });
  const r = log.append(bind(3));
  log.close();
  t.equal(r.seq, 3);
  t.equal(r.prev, (JSON.parse(lines(file)[1]!) as AuditRecord).hash);
  t.same(verifyAudit(file), { ok: true, records: 3, problems: [] });
});

t.test('two writers on one file continue each other\'s chain', async t => {
  const file = path.join(tempDir(t), 'elevate.log');
  const a = AuditLog.open(file, { syslog: null });
  const b = AuditLog.open(file, { syslog: null });
  a.append(bind(1));
  b.append(bind(2));
  a.append(bind(3));
  a.close();
  b.close();
  t.same(verifyAudit(file), { ok: true, records: 3, problems: [] });
});

t.test('the record is on disk (written and fsync\'d) when append returns', async t => {
  const file = path.join(tempDir(t), 'elevate.log');
  const log = AuditLog.open(file, { syslog: null });
  t.teardown(() => log.close());
  const real = fs.fsyncSync;
  const synced: number[] = [];
  fs.fsyncSync = (fd: number) => {
    synced.push(fd);
    real(fd);
  };
  try {
    log.append(bind(1));
  } finally {
    fs.fsyncSync = real;
  }
  t.equal(synced.length, 1, 'fsync once per record');
  t.equal(lines(file).length, 1, 'the line is in the file before close');
  t.ok(verifyAudit(file).ok);
});

t.test('a write that fails throws with a code, and the chain does not advance', async t => {
  const file = path.join(tempDir(t), 'elevate.log');
  const log = AuditLog.open(file, { syslog: null });
  t.teardown(() => log.close());
  log.append(bind(1));
  const real = fs.writeSync;
  (fs as { writeSync: unknown }).writeSync = () => {
    throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
  };
  try {
    t.throws(() => log.append(bind(2)), { code: 'ENOSPC' });
  } finally {
    fs.writeSync = real;
  }
  const r = log.append(bind(3));
  t.equal(r.seq, 2, 'the failed record took no seq');
  t.same(verifyAudit(file), { ok: true, records: 2, problems: [] });
});

t.test('a torn write is truncated away', async t => {
  const file = path.join(tempDir(t), 'elevate.log');
  const log = AuditLog.open(file, { syslog: null });
  t.teardown(() => log.close());
  log.append(bind(1));
  const real = fs.writeSync;
  let calls = 0;
  (fs as { writeSync: unknown }).writeSync = (fd: number, buf: Buffer, off: number, len: number) => {
    if (++calls === 1) return real(fd, buf, off, 10);
    throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
  };
  try {
    t.throws(() => log.append(bind(2)), { code: 'EIO' });
  } finally {
    fs.writeSync = real;
  }
  t.same(verifyAudit(file), { ok: true, records: 1, problems: [] }, 'no half line left');
  t.equal(log.append(bind(3)).seq, 2);
});

t.test('append to a read-only file throws', async t => {
  const file = path.join(tempDir(t), 'elevate.log');
  if (!isRoot) {
    // For an unprivileged owner, a 0400 file cannot even be opened for writing.
    fs.writeFileSync(file, '', { mode: 0o400 });
    t.throws(() => AuditLog.open(file, { syslog: null }), { code: 'EACCES' });
  }
  // Root ignores the mode bits, so make the log's own descriptor read-only:
  // close it and open the file O_RDONLY, which takes the same (lowest free)
  // descriptor number. The kernel then refuses the write (EBADF).
  fs.rmSync(file, { force: true });
  const log = AuditLog.open(file, { syslog: null });
  t.teardown(() => log.close());
  const fd = (log as unknown as { fd: number }).fd;
  fs.closeSync(fd);
  const ro = fs.openSync(file, 'r');
  t.equal(ro, fd, 'the same descriptor number, now read-only');
  t.throws(() => log.append(bind(1)), { code: 'EBADF' });
  t.equal(fs.statSync(file).size, 0, 'nothing written');
});

t.test('open refuses a symlink, a directory, a group-writable file', async t => {
  const dir = tempDir(t);
  const target = path.join(dir, 'real.log');
  fs.writeFileSync(target, '', { mode: 0o600 });
  fs.symlinkSync(target, path.join(dir, 'link.log'));
  t.throws(() => AuditLog.open(path.join(dir, 'link.log'), { syslog: null }), { code: 'ELOOP' });
  const gw = path.join(dir, 'gw.log');
  fs.writeFileSync(gw, '');
  fs.chmodSync(gw, 0o620);
  t.throws(() => AuditLog.open(gw, { syslog: null }), { code: 'EPERM', message: /writable by group or others/ });
  const dirAsLog = path.join(dir, 'sub');
  fs.mkdirSync(dirAsLog);
  t.throws(() => AuditLog.open(dirAsLog, { syslog: null }), { code: 'EISDIR' });
});

t.test('open refuses a file owned by another uid', { skip: isRoot ? false : 'needs root to chown a file' }, async t => {
  const foreign = path.join(tempDir(t), 'foreign.log');
  fs.writeFileSync(foreign, '', { mode: 0o600 });
  fs.chownSync(foreign, 65534, 65534);
  t.throws(() => AuditLog.open(foreign, { syslog: null }), { code: 'EPERM', message: /owned by uid 65534/ });
});

t.test('append checks the entry before writing', async t => {
  const file = path.join(tempDir(t), 'elevate.log');
  const log = AuditLog.open(file, { syslog: null });
  t.teardown(() => log.close());
  t.throws(() => log.append({ ...bind(1), uid: -1 }), { code: 'EINVAL' });
  t.throws(() => log.append({ ...bind(1), args: { a: 1 as unknown as string } }), { code: 'EINVAL' });
  t.throws(() => log.append({ ...bind(1), result: 'maybe' as 'granted' }), { code: 'EINVAL' });
  t.equal(fs.statSync(file).size, 0);
});

t.test('readAudit filters by user, program and time', async t => {
  const file = path.join(tempDir(t), 'elevate.log');
  const log = AuditLog.open(file, { syslog: null });
  log.append(bind(1));
  log.append(bind(2, { user: 'alice', uid: 1000, program: '/usr/bin/python3.11' }));
  log.append(bind(3, { result: 'refused', grant: null, errno: 'EACCES', reason: 'no grant' }));
  log.close();
  t.same(readAudit(file).map(r => r.seq), [1, 2, 3]);
  t.same(readAudit(file, { user: 'alice' }).map(r => r.seq), [2]);
  t.same(readAudit(file, { user: '33' }).map(r => r.seq), [1, 3]);
  t.same(readAudit(file, { program: 'nginx' }).map(r => r.seq), [1, 3]);
  t.same(readAudit(file, { program: '/usr/bin/python3.11' }).map(r => r.seq), [2]);
  t.same(readAudit(file, { since: new Date('2025-01-02T00:00:00Z') }).map(r => r.seq), [2, 3]);
  t.same(readAudit(file, { until: new Date('2025-01-02T12:00:00Z') }).map(r => r.seq), [1, 2]);
  const r = readAudit(file)[2]!;
  t.notOk('hash' in r || 'prev' in r, 'chain fields are not part of the entry');
  t.equal(formatAuditEntry(r), '2025-01-03T12:00:00.000Z  www-data(33)  1003  /usr/sbin/nginx  bind  sockaddr=inet-[127.0.0.1]:80  refused  -  [EACCES: no grant]');
});

t.test('hostile text is escaped in readable output and syslog', async t => {
  const e = bind(1, { args: { filename: '/tmp/x\n\x1b[31mfake\\' } });
  t.equal(formatAuditEntry(e).split('\n').length, 1);
  t.match(formatAuditEntry(e), 'filename=/tmp/x\\x0a\\x1b[31mfake\\\\');
  const d = syslogDatagram({ ...e, time: e.time!, seq: 7, prev: '0'.repeat(64), hash: 'ab'.repeat(32) }, new Date(2025, 0, 5, 9, 3, 4), 42).toString();
  t.equal(d.indexOf('\n'), -1);
  t.match(d, /^<85>Jan  5 09:03:04 systrace-broker\[42\]: seq=7 2025-01-01T12:00:00.000Z  www-data\(33\) .* hash=(ab){32}$/);
  const long = syslogDatagram({ ...e, args: { filename: 'x'.repeat(10000) }, time: e.time!, seq: 1, prev: '', hash: '' });
  t.ok(long.length <= 4096, 'capped');
});

let addonSkip: string | false = false;
try {
  native();
} catch (e) {
  addonSkip = `the native addon is not built: ${(e as Error).message}`;
}

t.test('each record goes to syslog (authpriv.notice) when the socket exists', { skip: addonSkip }, async t => {
  const dir = tempDir(t);
  const sockPath = path.join(dir, 'log.sock');
  const addon = native();
  const sock = addon.socketCreate(1, 2, 0); // AF_UNIX, SOCK_DGRAM
  t.ok(sock >= 0);
  t.teardown(() => addon.closeFd(sock));
  const p = Buffer.from(sockPath);
  const addr = Buffer.alloc(3 + p.length);
  addr.writeUInt16LE(1, 0);
  p.copy(addr, 2);
  t.equal(addon.socketBind(sock, addr), 0);
  const file = path.join(dir, 'elevate.log');
  const log = AuditLog.open(file, { syslog: sockPath });
  log.append(bind(1));
  // Nonblocking (the addon's third argument, not in its typed surface): a missing datagram fails the test instead of hanging it.
  const got = addon.recvMessage(sock, 8192, true as never);
  t.ok(got, 'a datagram arrived');
  t.match(got!.data.toString(), /^<85>\w{3} [ \d]\d \d\d:\d\d:\d\d systrace-broker\[\d+\]: seq=1 .*bind  sockaddr=inet-\[127\.0\.0\.1\]:80  granted/);
  // Nobody listening any more, and then no socket at all: appends still succeed.
  fs.rmSync(sockPath);
  t.equal(log.append(bind(2)).seq, 2);
  log.close();
  const gone = AuditLog.open(file, { syslog: path.join(dir, 'absent.sock') });
  t.equal(gone.append(bind(3)).seq, 3);
  gone.close();
});

/** Runs `systrace audit ARGS` in-process: stdout, stderr, exit code. */
function cli(args: string[]): { out: string; err: string; code: number } {
  const program = new Command().exitOverride();
  registerAudit(program);
  let out = '';
  let err = '';
  let code = 0;
  const w1 = process.stdout.write;
  const w2 = process.stderr.write;
  const exit = process.exit;
  const saved = process.exitCode;
  process.exitCode = 0;
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((err += s), true)) as typeof process.stderr.write;
  process.exit = ((c?: number) => {
    throw Object.assign(new Error('exit'), { exitCode: c ?? 0 });
  }) as typeof process.exit;
  try {
    program.parse(['node', 'systrace', 'audit', ...args]);
    code = Number(process.exitCode ?? 0);
  } catch (e) {
    const x = e as { exitCode?: number };
    if (typeof x.exitCode !== 'number') throw e;
    code = x.exitCode;
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
    process.exit = exit;
    process.exitCode = saved;
  }
  return { out, err, code };
}

t.test('systrace audit verify', async t => {
  const file = writeLog(t, 3);
  t.same(cli(['verify', '--file', file]), { out: 'ok: 3 records\n', err: '', code: 0 });
  const ls = lines(file);
  [ls[0], ls[1]] = [ls[1]!, ls[0]!];
  writeLines(file, ls);
  const r = cli(['verify', '--file', file]);
  t.equal(r.code, 1);
  t.match(r.out, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1: seq 2 follows seq 0`));
  t.match(r.out, `${file}:2: seq 1 after seq 2: records out of order`);
  const missing = cli(['verify', '--file', path.join(path.dirname(file), 'nope.log')]);
  t.equal(missing.code, 125);
  t.match(missing.err, /nope\.log: no such audit log/);
});

t.test('systrace audit show', async t => {
  const file = path.join(tempDir(t), 'elevate.log');
  const log = AuditLog.open(file, { syslog: null });
  log.append(bind(1));
  log.append(bind(2, { user: 'alice', uid: 1000, result: 'refused', grant: null, errno: 'EACCES', reason: 'no grant' }));
  log.close();
  const all = cli(['show', '--file', file]);
  t.equal(all.code, 0);
  t.equal(all.out,
    '2025-01-01T12:00:00.000Z  www-data(33)  1001  /usr/sbin/nginx  bind  sockaddr=inet-[127.0.0.1]:80  granted  /etc/systrace/elevate.yaml:7\n' +
    '2025-01-02T12:00:00.000Z  alice(1000)  1002  /usr/sbin/nginx  bind  sockaddr=inet-[127.0.0.1]:80  refused  -  [EACCES: no grant]\n');
  const json = cli(['show', '--file', file, '--json', '--user', 'alice']);
  const recs = json.out.trim().split('\n').map(l => JSON.parse(l) as AuditRecord);
  t.equal(recs.length, 1);
  t.equal(recs[0]!.seq, 2);
  t.equal(recs[0]!.errno, 'EACCES');
  t.equal(cli(['show', '--file', file, '--since', '2025-01-02T00:00:00Z']).out.split('\n').length, 2);
  const bad = cli(['show', '--file', file, '--since', 'yesterday-ish']);
  t.equal(bad.code, 125);
  t.match(bad.err, /--since yesterday-ish: not a date/);
  t.equal(cli(['show', '--file', path.join(path.dirname(file), 'nope.log')]).code, 125);
});

t.test('without --file, audit reads the log the admin policy names', async t => {
  const dir = tempDir(t);
  const file = path.join(dir, 'elsewhere.log');
  const log = AuditLog.open(file, { syslog: null });
  log.append(bind(1));
  log.close();
  const policy = path.join(dir, 'elevate.yaml');
  fs.writeFileSync(policy, `audit: ${file}\ngrants: []\n`);
  t.same(cli(['verify', '--policy', policy]), { out: 'ok: 1 records\n', err: '', code: 0 });
  t.match(cli(['show', '--policy', policy]).out, /www-data\(33\)/);
  fs.writeFileSync(policy, 'audit: [not, a, path]\ngrants: []\n');
  const bad = cli(['verify', '--policy', policy]);
  t.equal(bad.code, 125, 'a policy that does not load is not guessed around');
  t.match(bad.err, /cannot tell which audit log to read: .*elevate\.yaml.*\(give --file\)/);
  // No policy: the broker's default log (absent on a test machine: its name is in the error).
  if (!fs.existsSync('/var/log/systrace/elevate.log')) {
    const none = cli(['verify', '--policy', path.join(dir, 'absent.yaml')]);
    t.match(none.err, 'systrace: /var/log/systrace/elevate.log: no such audit log', 'no policy: the default log');
  }
});
