// The audit log of elevated calls: one JSON line per broker request, granted
// or refused, each chained to the one before by a sha256 hash.
//
// What the chain proves, and what it does not. Every record carries `seq`
// (1, 2, ...), `prev` (the previous record's `hash`) and its own `hash`, so an
// edited, deleted, inserted or reordered record is found by `verifyAudit`,
// naming the line. There is no key: whoever can write the file can rewrite
// the whole chain from the edit onwards, so the file's protection is its
// ownership (root, 0600, in a root-only directory) and the copy in syslog.
// Deleting the last record(s) cannot be detected from the file alone: the
// shortened file is a valid chain. The syslog copy (which carries seq and
// hash) is the witness for the tail.
//
// Ordering guarantee the broker relies on: `append` returns only once the
// line is written and fsync'd, and throws (err.code set) if it could not be,
// so the caller refuses the call: no elevated action without its record.
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import { native } from '../tracer/native.js';

export interface AuditEntry {
  /** ISO 8601; filled in by append if absent. */
  time?: string;
  user: string;
  uid: number;
  pid: number;
  /** /proc/PID/exe of the target. */
  program: string;
  /** 'bind', 'openat', 'socket' ... */
  call: string;
  /** Normalised arguments: { sockaddr: 'inet-[127.0.0.1]:80' }, { filename: '/etc/ssl/private/key.pem', oflags: 'O_RDONLY' }. */
  args: Record<string, string>;
  /** 'FILE:LINE' of the grant rule that decided; null when none did. */
  grant: string | null;
  result: 'granted' | 'refused';
  /** The call's outcome when it failed, or why it was refused ('EACCES'). */
  errno?: string;
  /** Human-readable why, for refusals. */
  reason?: string;
}

export interface AuditRecord extends AuditEntry {
  time: string;
  seq: number;
  prev: string;
  hash: string;
}

/** An audit failure the caller branches on by `code` ('EROFS', 'ENOSPC', 'ELOOP', 'EPERM', 'EBADMSG', 'EINVAL'). */
export class AuditError extends Error {
  code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'AuditError';
    this.code = code;
  }
}

const ZERO_HASH = '0'.repeat(64);
const HEX64 = /^[0-9a-f]{64}$/;
/** The longest last line we will read back on open; records are a few KiB at most (PATH_MAX filenames). */
const MAX_LINE = 1 << 20;
/** The order fields are written in, for a reader's eye; hashing does not depend on it. */
const FIELD_ORDER = ['seq', 'time', 'user', 'uid', 'pid', 'program', 'call', 'args', 'grant', 'result', 'errno', 'reason', 'prev', 'hash'];

/**
 * The canonical form that is hashed: the record without `hash`, as JSON with
 * every object's keys sorted (recursively). It is recomputed from the parsed
 * line, so the order the line was written in does not matter, and a field
 * added to a line changes the hash just as an edited one does.
 */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o).filter(k => o[k] !== undefined).sort();
    return `{${keys.map(k => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function recordHash(record: Record<string, unknown>): string {
  const { hash: _ignored, ...rest } = record;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

function orderedJson(record: Record<string, unknown>): string {
  const out: Record<string, unknown> = {};
  for (const k of FIELD_ORDER) if (record[k] !== undefined) out[k] = record[k];
  return JSON.stringify(out);
}

/** The broker's caller passes values read from a hostile target; check the shape before writing anything. */
function checkEntry(e: AuditEntry): void {
  const bad = (what: string): never => {
    throw new AuditError('EINVAL', `audit: bad entry: ${what}`);
  };
  if (e === null || typeof e !== 'object') bad('not an object');
  if (e.time !== undefined && (typeof e.time !== 'string' || Number.isNaN(Date.parse(e.time)))) bad('time');
  if (typeof e.user !== 'string') bad('user');
  for (const k of ['uid', 'pid'] as const) if (!Number.isSafeInteger(e[k]) || e[k] < 0) bad(k);
  for (const k of ['program', 'call'] as const) if (typeof e[k] !== 'string' || e[k] === '') bad(k);
  if (e.args === null || typeof e.args !== 'object' || Array.isArray(e.args)) bad('args');
  for (const [k, v] of Object.entries(e.args)) if (typeof v !== 'string') bad(`args.${k}`);
  if (e.grant !== null && typeof e.grant !== 'string') bad('grant');
  if (e.result !== 'granted' && e.result !== 'refused') bad('result');
  if (e.errno !== undefined && typeof e.errno !== 'string') bad('errno');
  if (e.reason !== undefined && typeof e.reason !== 'string') bad('reason');
}

function isRecord(x: unknown): x is AuditRecord {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
  const r = x as Record<string, unknown>;
  return Number.isSafeInteger(r.seq) && (r.seq as number) >= 1 && typeof r.prev === 'string' && typeof r.hash === 'string';
}

function errCode(e: unknown): string {
  return typeof (e as NodeJS.ErrnoException)?.code === 'string' ? (e as NodeJS.ErrnoException).code! : 'EIO';
}

export interface AuditOpenOptions {
  /** The syslog socket; null: no syslog copy. Default /dev/log. */
  syslog?: string | null;
}

export class AuditLog {
  private fd: number;
  private seq: number;
  private prev: string;
  /** The file's size after our last good append, to notice other writers and to undo a torn write. */
  private size: number;
  private readonly syslog: SyslogSender | null;
  /** A failed write could not be undone: the file holds a torn line, and every later append is refused. */
  private broken = false;

  private constructor(readonly file: string, fd: number, seq: number, prev: string, size: number, syslog: SyslogSender | null) {
    this.fd = fd;
    this.seq = seq;
    this.prev = prev;
    this.size = size;
    this.syslog = syslog;
  }

  /**
   * Opens (creating it 0600) the log for appending, and continues its chain
   * from the last line. Refused: a symlink (O_NOFOLLOW: ELOOP), anything but
   * a regular file, a file not owned by our euid or writable by group or
   * others (whoever can write it can forge the chain), a last line that is
   * not a record (a torn write: run `systrace audit verify` and move the
   * file aside). The directory's safety is `broker install`'s business.
   */
  static open(file: string, opts: AuditOpenOptions = {}): AuditLog {
    let fd: number; // libuv opens every file O_CLOEXEC: the fd does not leak into children
    try {
      fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600);
    } catch (e) {
      const code = errCode(e);
      throw new AuditError(code, code === 'ELOOP' ? `audit log ${file} is a symlink: refused` : `audit log ${file}: ${(e as Error).message}`);
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new AuditError('EINVAL', `audit log ${file} is not a regular file: refused`);
      const euid = process.geteuid?.() ?? -1;
      if (st.uid !== euid) throw new AuditError('EPERM', `audit log ${file} is owned by uid ${st.uid}, not ${euid}: refused`);
      if (st.mode & 0o022) throw new AuditError('EPERM', `audit log ${file} is writable by group or others (mode ${(st.mode & 0o7777).toString(8)}): refused`);
      const last = lastRecord(file, st.size);
      const syslog = opts.syslog === null ? null : new SyslogSender(opts.syslog ?? '/dev/log');
      return new AuditLog(file, fd, last?.seq ?? 0, last?.hash ?? ZERO_HASH, st.size, syslog);
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  /**
   * Writes one record and fsyncs it before returning; returns the record as
   * written. Throws (err.code) if it could not be written in full: the
   * caller must then refuse the call. A partial write is truncated away so
   * the file stays a clean chain; the chain does not advance.
   */
  append(entry: AuditEntry): AuditRecord {
    if (this.fd < 0) throw new AuditError('EBADF', `audit log ${this.file} is closed`);
    if (this.broken) throw new AuditError('EIO', `audit log ${this.file} holds a torn record that could not be removed: run \`systrace audit verify\``);
    checkEntry(entry);
    // Brokers (one per session under the setuid launcher) share the file:
    // each append holds flock(LOCK_EX) from reading the last record to the
    // fsync of its own, so the chain never forks.
    const locked = native().fileLock(this.fd, true) === 0;
    try {
      return this.appendLocked(entry);
    } finally {
      if (locked) native().fileLock(this.fd, false);
    }
  }

  private appendLocked(entry: AuditEntry): AuditRecord {
    try {
      // Another writer (a second broker on the same file) appended since our
      // last record: continue from its last line.
      const size = fs.fstatSync(this.fd).size;
      if (size !== this.size) {
        const last = lastRecord(this.file, size);
        this.seq = last?.seq ?? 0;
        this.prev = last?.hash ?? ZERO_HASH;
        this.size = size;
      }
    } catch (e) {
      if (e instanceof AuditError) throw e;
      throw new AuditError(errCode(e), `audit log ${this.file}: ${(e as Error).message}`);
    }
    const record: Record<string, unknown> = {
      seq: this.seq + 1,
      time: entry.time ?? new Date().toISOString(),
      user: entry.user,
      uid: entry.uid,
      pid: entry.pid,
      program: entry.program,
      call: entry.call,
      args: { ...entry.args },
      grant: entry.grant,
      result: entry.result,
      errno: entry.errno,
      reason: entry.reason,
      prev: this.prev,
    };
    record.hash = recordHash(record);
    const line = Buffer.from(`${orderedJson(record)}\n`, 'utf8');
    let written = 0;
    try {
      while (written < line.length) written += fs.writeSync(this.fd, line, written, line.length - written);
      fs.fsyncSync(this.fd);
    } catch (e) {
      // Undo a torn line, so that the next append does not glue onto it. If
      // even that fails, the file needs an administrator: refuse from now on.
      try {
        if (written > 0 || fs.fstatSync(this.fd).size !== this.size) fs.ftruncateSync(this.fd, this.size);
      } catch {
        this.broken = true;
      }
      throw new AuditError(errCode(e), `audit log ${this.file}: cannot write: ${(e as Error).message}`);
    }
    this.seq++;
    this.prev = record.hash as string;
    this.size += line.length;
    // After the record is safe on disk; never fails the call.
    this.syslog?.send(record as unknown as AuditRecord);
    return record as unknown as AuditRecord;
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    this.syslog?.close();
  }
}

/**
 * The last line of the file as a record, or null for an empty file. Reads
 * backwards from the end in chunks. A last line that is not a record, or a
 * file that does not end in a newline, is a torn write or tampering: refused.
 */
function lastRecord(file: string, size: number): AuditRecord | null {
  if (size === 0) return null;
  // Our own fd is write-only (O_APPEND); read through a second, read-only one.
  const rfd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    let chunks: Buffer[] = [];
    let start = size;
    let text = '';
    for (;;) {
      const n = Math.min(65536, start);
      start -= n;
      const buf = Buffer.alloc(n);
      fs.readSync(rfd, buf, 0, n, start);
      chunks = [buf, ...chunks];
      const all = Buffer.concat(chunks);
      const body = all.subarray(0, all.length - 1);
      const nl = body.lastIndexOf(0x0a);
      if (all[all.length - 1] !== 0x0a) throw new AuditError('EBADMSG', `audit log ${file} does not end with a newline (a torn write?): run \`systrace audit verify\` and move it aside`);
      if (nl >= 0 || start === 0) {
        text = body.subarray(nl + 1).toString('utf8');
        break;
      }
      if (all.length > MAX_LINE) throw new AuditError('EBADMSG', `audit log ${file}: last line longer than ${MAX_LINE} bytes`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!isRecord(parsed) || !HEX64.test(parsed.hash)) {
      throw new AuditError('EBADMSG', `audit log ${file}: the last line is not an audit record: run \`systrace audit verify\` and move it aside`);
    }
    return parsed;
  } finally {
    fs.closeSync(rfd);
  }
}

export interface AuditProblem {
  line: number;
  reason: string;
}

/**
 * Checks the whole chain. Problems are reported by line (one entry per line,
 * reasons joined): a line that is not JSON or not a record; a hash that does
 * not match the contents (edited); a seq gap (deleted records before this
 * line); a seq lower than or equal to one already seen (reordered or
 * duplicated); a `prev` that is not the hash of the record numbered seq-1.
 * `prev` is checked against the record with the previous seq rather than the
 * previous line, so a swap of two records names exactly those two lines.
 * Deleting the last record(s) cannot be seen here (see the top of the file).
 * Throws the fs error (code ENOENT, EACCES) if the file cannot be read.
 */
export function verifyAudit(file: string): { ok: boolean; records: number; problems: AuditProblem[] } {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const unterminated = lines[lines.length - 1] !== '';
  if (!unterminated) lines.pop();
  const problems: AuditProblem[] = [];
  const hashBySeq = new Map<number, { hash: string; line: number }>();
  let maxSeq = 0;
  let unreadableSinceLast = 0;
  let records = 0;
  lines.forEach((raw, i) => {
    const line = i + 1;
    const reasons: string[] = [];
    let parsed: unknown;
    try {
      parsed = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    if (raw === '') reasons.push('empty line');
    else if (parsed === undefined) reasons.push('not JSON');
    else if (!isRecord(parsed)) reasons.push('not an audit record (no seq, prev or hash)');
    if (reasons.length > 0 || !isRecord(parsed)) {
      unreadableSinceLast++;
      problems.push({ line, reason: reasons.join('; ') });
      return;
    }
    records++;
    const r = parsed;
    if (recordHash(r as unknown as Record<string, unknown>) !== r.hash) reasons.push('hash does not match the contents (record edited)');
    const seen = hashBySeq.get(r.seq);
    if (seen) {
      reasons.push(`seq ${r.seq} repeated (first at line ${seen.line}): record duplicated`);
    } else if (r.seq <= maxSeq) {
      reasons.push(`seq ${r.seq} after seq ${maxSeq}: records out of order`);
    } else if (r.seq > maxSeq + 1) {
      const missing = r.seq - maxSeq - 1;
      // Lines we could not read may be those records: already reported.
      if (missing > unreadableSinceLast) {
        const which = missing === 1 ? `seq ${maxSeq + 1}` : `seq ${maxSeq + 1}-${r.seq - 1}`;
        reasons.push(`seq ${r.seq} follows seq ${maxSeq}: ${missing} record(s) (${which}) deleted before this line, or moved`);
      }
    }
    if (r.seq === 1) {
      if (r.prev !== ZERO_HASH) reasons.push('the first record (seq 1) has a prev that is not zero');
    } else {
      const before = hashBySeq.get(r.seq - 1);
      if (before && before.hash !== r.prev) reasons.push(`prev is not the hash of seq ${r.seq - 1} (line ${before.line}): a record was altered or replaced`);
    }
    if (line === lines.length && unterminated) reasons.push('no newline at the end (torn write?)');
    if (!seen) hashBySeq.set(r.seq, { hash: r.hash, line });
    if (r.seq > maxSeq) maxSeq = r.seq;
    unreadableSinceLast = 0;
    if (reasons.length > 0) problems.push({ line, reason: reasons.join('; ') });
  });
  // Records that appear out of order further down leave `prev` checks for
  // their successors undone above (the predecessor was not yet seen): check
  // them now that every seq is known.
  lines.forEach((raw, i) => {
    let r: unknown;
    try {
      r = JSON.parse(raw);
    } catch {
      return;
    }
    if (!isRecord(r) || r.seq === 1) return;
    const before = hashBySeq.get(r.seq - 1);
    if (!before || before.line < i + 1 || before.hash === r.prev) return;
    const reason = `prev is not the hash of seq ${r.seq - 1} (line ${before.line}): a record was altered or replaced`;
    const p = problems.find(x => x.line === i + 1);
    if (p) p.reason += `; ${reason}`;
    else problems.push({ line: i + 1, reason });
  });
  problems.sort((a, b) => a.line - b.line);
  return { ok: problems.length === 0, records, problems };
}

export interface AuditFilter {
  /** A user name or a numeric uid. */
  user?: string;
  /** The program's full path, or its base name. */
  program?: string;
  since?: Date;
  until?: Date;
}

/**
 * The records, filtered, in file order. Lines that are not records are
 * skipped: integrity is `verifyAudit`'s job. Throws the fs error (code) if
 * the file cannot be read.
 */
export function readAudit(file: string, filter: AuditFilter = {}): (AuditEntry & { seq: number })[] {
  const out: (AuditEntry & { seq: number })[] = [];
  for (const raw of fs.readFileSync(file, 'utf8').split('\n')) {
    if (raw === '') continue;
    let r: unknown;
    try {
      r = JSON.parse(raw);
    } catch {
      continue;
    }
    if (!isRecord(r)) continue;
    if (filter.user !== undefined && r.user !== filter.user && String(r.uid) !== filter.user) continue;
    if (filter.program !== undefined && r.program !== filter.program && r.program?.split('/').pop() !== filter.program) continue;
    const t = Date.parse(r.time);
    if (filter.since && !(t >= filter.since.getTime())) continue;
    if (filter.until && !(t <= filter.until.getTime())) continue;
    const { prev: _p, hash: _h, ...entry } = r;
    out.push(entry);
  }
  return out;
}

/** Control characters and backslashes escaped: values come from a hostile target's memory and must not drive a terminal or split a syslog line. */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\\\x00-\x1f\x7f-\x9f]/g, c => (c === '\\' ? '\\\\' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

/** One record as one readable line: TIME  user(uid)  pid  program  call  args  result  grant  [errno: reason]. */
export function formatAuditEntry(r: AuditEntry & { seq?: number }): string {
  const args = Object.entries(r.args ?? {}).map(([k, v]) => `${printable(k)}=${printable(String(v))}`).join(' ');
  const why = [r.errno, r.reason].filter((x): x is string => typeof x === 'string' && x !== '').map(printable).join(': ');
  const parts = [
    printable(String(r.time ?? '-')),
    `${printable(String(r.user))}(${r.uid})`,
    String(r.pid),
    printable(String(r.program)),
    printable(String(r.call)),
    args || '-',
    printable(String(r.result)),
    r.grant === null || r.grant === undefined ? '-' : printable(String(r.grant)),
  ];
  if (why) parts.push(`[${why}]`);
  return parts.join('  ');
}

// authpriv (10) * 8 + notice (5): what the brief and `logger -p authpriv.notice` use.
const SYSLOG_PRI = 10 * 8 + 5;
const SYSLOG_MAX = 4096;
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const MSG_DONTWAIT = 0x40;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 3164 as glibc's syslog(3) writes it to /dev/log: `<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG` (local time, no host name). */
export function syslogDatagram(r: AuditRecord, now = new Date(), pid = process.pid): Buffer {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const stamp = `${MONTHS[now.getMonth()]} ${String(now.getDate()).padStart(2, ' ')} ${p2(now.getHours())}:${p2(now.getMinutes())}:${p2(now.getSeconds())}`;
  let msg = `seq=${r.seq} ${formatAuditEntry(r)} hash=${r.hash}`;
  const head = `<${SYSLOG_PRI}>${stamp} systrace-broker[${pid}]: `;
  let buf = Buffer.from(head + msg, 'utf8');
  if (buf.length > SYSLOG_MAX) {
    msg = Buffer.from(msg, 'utf8').subarray(0, SYSLOG_MAX - Buffer.byteLength(head) - 3).toString('utf8').replace(/\uFFFD$/, '');
    buf = Buffer.from(`${head}${msg}...`, 'utf8');
  }
  return buf;
}

/**
 * The syslog copy. Node has no AF_UNIX datagram sockets, so this uses the
 * addon's socketCreate / socketSend (sendto(2), MSG_DONTWAIT so a stalled
 * syslog daemon can never block the broker) rather than logger(1). Every
 * failure (no /dev/log, nobody listening, a full queue, no addon) is
 * ignored: syslog is a second copy, and never decides a call.
 */
class SyslogSender {
  private fd = -1;
  private readonly addr: Buffer | null;

  constructor(private readonly path: string) {
    // sockaddr_un: sa_family_t (little-endian on x86), then the path, NUL-terminated; sun_path is 108 bytes.
    const p = Buffer.from(path, 'utf8');
    if (p.length >= 108 || p.includes(0)) {
      this.addr = null;
      return;
    }
    const a = Buffer.alloc(2 + p.length + 1);
    a.writeUInt16LE(AF_UNIX, 0);
    p.copy(a, 2);
    this.addr = a;
  }

  send(r: AuditRecord): void {
    if (!this.addr) return;
    try {
      if (!fs.existsSync(this.path)) return;
      const n = native();
      if (this.fd < 0) {
        const fd = n.socketCreate(AF_UNIX, SOCK_DGRAM, 0);
        if (fd < 0) return;
        this.fd = fd;
      }
      n.socketSend(this.fd, syslogDatagram(r), MSG_DONTWAIT, this.addr);
    } catch {
      // ignored: see above
    }
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      native().closeFd(this.fd);
    } catch {
      // ignored
    }
    this.fd = -1;
  }
}
