// The monitor's database: every event, every Hello (accepted or refused),
// every answer and alert, in one SQLite file (better-sqlite3), so that they
// survive restarts and can be searched by host, session, pid and program.
// Writes are synchronous and small; WAL lets the web interface read while
// tracers write.
import { createHash, timingSafeEqual } from 'node:crypto';
import Database from 'better-sqlite3';
import type { Alert } from './alerts.js';
import type { Answer, Hello, MonitorEvent } from './protocol.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS hellos (
  id INTEGER PRIMARY KEY,
  time TEXT NOT NULL,
  peer TEXT NOT NULL,
  host TEXT NOT NULL, session TEXT NOT NULL, program TEXT NOT NULL, policy TEXT NOT NULL, user TEXT NOT NULL,
  version INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY,
  received TEXT NOT NULL,
  host TEXT NOT NULL,
  session TEXT NOT NULL,
  user TEXT NOT NULL,
  policy TEXT NOT NULL,
  seq INTEGER NOT NULL,
  time TEXT NOT NULL,
  kind TEXT NOT NULL,
  pid INTEGER NOT NULL,
  program TEXT NOT NULL,
  syscall TEXT NOT NULL,
  args TEXT NOT NULL,
  rule TEXT NOT NULL,
  decision TEXT NOT NULL,
  errno TEXT NOT NULL,
  severity TEXT NOT NULL,
  detail TEXT NOT NULL,
  question INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_host ON events (host, id);
CREATE INDEX IF NOT EXISTS events_session ON events (session, seq);
CREATE INDEX IF NOT EXISTS events_pid ON events (pid, id);
CREATE INDEX IF NOT EXISTS events_program ON events (program, kind, id);
CREATE INDEX IF NOT EXISTS events_kind ON events (kind, id);
CREATE TABLE IF NOT EXISTS session_keys (
  session TEXT PRIMARY KEY,
  key_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS answers (
  id INTEGER PRIMARY KEY,
  time TEXT NOT NULL,
  session TEXT NOT NULL,
  question INTEGER NOT NULL,
  answer TEXT NOT NULL,
  errno TEXT NOT NULL,
  rule TEXT NOT NULL,
  source TEXT NOT NULL,
  UNIQUE (session, question)
);
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY,
  event_id INTEGER,
  time TEXT NOT NULL,
  type TEXT NOT NULL,
  severity TEXT NOT NULL,
  host TEXT NOT NULL,
  session TEXT NOT NULL,
  program TEXT NOT NULL,
  pid INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_session ON alerts (session, id);
`;

/** An event as stored: the event, where it came from and when it arrived. */
export interface StoredEvent extends MonitorEvent {
  id: number;
  received: string;
  host: string;
  session: string;
  user: string;
  policy: string;
}

export interface StoredAlert extends Alert {
  id: number;
  eventId: number | null;
}

export interface StoredHello extends Omit<Hello, 'token' | 'key'> {
  id: number;
  time: string;
  peer: string;
  ok: boolean;
  reason: string;
}

export interface StoredAnswer extends Answer {
  session: string;
  time: string;
  /** "web" (answered here) or "tracer" (answered at the terminal, reported by a kind=answer event). */
  source: string;
}

export interface EventFilter {
  host?: string;
  session?: string;
  program?: string;
  kind?: string;
  pid?: number;
  /** Only events with a smaller id (paging backwards). */
  before?: number;
  /** Only events with a larger id. */
  after?: number;
  /** At most this many, newest first (default 200, at most 10000). */
  limit?: number;
}

export interface DeniedSummary {
  program: string;
  syscall: string;
  args: Record<string, string>;
  rule: string;
  errno: string;
  count: number;
  last: string;
}

/** Where an event came from, as the Hello of its connection said. */
export interface Origin {
  host: string;
  session: string;
  user: string;
  policy: string;
  program: string;
}

interface EventRow extends Omit<StoredEvent, 'args'> { args: string }

function toEvent(r: EventRow): StoredEvent {
  return { ...r, args: JSON.parse(r.args) as Record<string, string> };
}

export class Storage {
  readonly db: Database.Database;
  private readonly insertEventStmt: Database.Statement;
  private readonly insertAlertStmt: Database.Statement;
  private readonly insertHelloStmt: Database.Statement;
  private readonly insertAnswerStmt: Database.Statement;

  /** Opens (creating if need be) the database at `file`; ':memory:' for tests. */
  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // An event lost in a power cut is acceptable; a corrupt file is not, and WAL with NORMAL never corrupts.
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.insertEventStmt = this.db.prepare(`INSERT INTO events
      (received, host, session, user, policy, seq, time, kind, pid, program, syscall, args, rule, decision, errno, severity, detail, question)
      VALUES (@received, @host, @session, @user, @policy, @seq, @time, @kind, @pid, @program, @syscall, @args, @rule, @decision, @errno, @severity, @detail, @question)`);
    this.insertAlertStmt = this.db.prepare(`INSERT INTO alerts (event_id, time, type, severity, host, session, program, pid, seq, message)
      VALUES (@eventId, @time, @type, @severity, @host, @session, @program, @pid, @seq, @message)`);
    this.insertHelloStmt = this.db.prepare(`INSERT INTO hellos (time, peer, host, session, program, policy, user, version, ok, reason)
      VALUES (@time, @peer, @host, @session, @program, @policy, @user, @version, @ok, @reason)`);
    this.insertAnswerStmt = this.db.prepare(`INSERT OR IGNORE INTO answers (time, session, question, answer, errno, rule, source)
      VALUES (@time, @session, @question, @answer, @errno, @rule, @source)`);
  }

  addHello(h: Omit<StoredHello, 'id'>): number {
    return Number(this.insertHelloStmt.run({ ...h, ok: h.ok ? 1 : 0 }).lastInsertRowid);
  }

  /**
   * Binds a session id to the hash of its key the first time it is seen;
   * afterwards true only for the same key. Kept in the database, so a
   * tracer that reconnects after a monitor restart still resumes its session.
   */
  claimSession(session: string, key: string): boolean {
    const hash = createHash('sha256').update(key).digest('hex');
    this.db.prepare('INSERT OR IGNORE INTO session_keys (session, key_hash) VALUES (?, ?)').run(session, hash);
    const row = this.db.prepare('SELECT key_hash FROM session_keys WHERE session = ?').get(session) as { key_hash: string };
    return timingSafeEqual(Buffer.from(row.key_hash), Buffer.from(hash));
  }

  hellos(limit = 200): StoredHello[] {
    const rows = this.db.prepare('SELECT * FROM hellos ORDER BY id DESC LIMIT ?').all(limit) as (Omit<StoredHello, 'ok'> & { ok: number })[];
    return rows.map(r => ({ ...r, ok: r.ok === 1 }));
  }

  addEvent(origin: Origin, e: MonitorEvent, received = new Date()): StoredEvent {
    const row = {
      ...e, received: received.toISOString(), host: origin.host, session: origin.session, user: origin.user, policy: origin.policy,
      program: e.program || origin.program, args: JSON.stringify(e.args),
    };
    const id = Number(this.insertEventStmt.run(row).lastInsertRowid);
    return { ...row, id, args: { ...e.args } };
  }

  event(id: number): StoredEvent | undefined {
    const r = this.db.prepare('SELECT * FROM events WHERE id = ?').get(id) as EventRow | undefined;
    return r && toEvent(r);
  }

  events(f: EventFilter = {}): StoredEvent[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    for (const k of ['host', 'session', 'program', 'kind', 'pid'] as const) {
      const v = f[k];
      if (v !== undefined && v !== '') { where.push(`${k} = ?`); params.push(v); }
    }
    if (f.before !== undefined) { where.push('id < ?'); params.push(f.before); }
    if (f.after !== undefined) { where.push('id > ?'); params.push(f.after); }
    const limit = Math.max(1, Math.min(f.limit ?? 200, 10_000));
    const sql = `SELECT * FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${limit}`;
    return (this.db.prepare(sql).all(...params) as EventRow[]).map(toEvent);
  }

  /** One session's events in seq order. */
  sessionEvents(session: string): StoredEvent[] {
    return (this.db.prepare('SELECT * FROM events WHERE session = ? ORDER BY seq, id').all(session) as EventRow[]).map(toEvent);
  }

  addAnswer(a: Omit<StoredAnswer, 'time'> & { time?: string }): boolean {
    return this.insertAnswerStmt.run({ ...a, time: a.time ?? new Date().toISOString() }).changes > 0;
  }

  answer(session: string, question: number): StoredAnswer | undefined {
    return this.db.prepare('SELECT time, session, question, answer, errno, rule, source FROM answers WHERE session = ? AND question = ?')
      .get(session, question) as StoredAnswer | undefined;
  }

  /** Questions (kind=ask) nobody has answered yet, oldest first; of the given sessions only, if given. */
  pendingQuestions(sessions?: string[]): StoredEvent[] {
    if (sessions && sessions.length === 0) return [];
    const only = sessions ? `AND e.session IN (${sessions.map(() => '?').join(',')})` : '';
    const rows = this.db.prepare(`SELECT e.* FROM events e WHERE e.kind = 'ask' ${only}
      AND NOT EXISTS (SELECT 1 FROM answers a WHERE a.session = e.session AND a.question = e.question) ORDER BY e.id`)
      .all(...(sessions ?? [])) as EventRow[];
    return rows.map(toEvent);
  }

  addAlert(a: Alert, eventId: number | null): StoredAlert {
    const id = Number(this.insertAlertStmt.run({ ...a, eventId }).lastInsertRowid);
    return { ...a, id, eventId };
  }

  alerts(f: { session?: string; limit?: number } = {}): StoredAlert[] {
    const limit = Math.max(1, Math.min(f.limit ?? 200, 10_000));
    const sel = 'SELECT id, event_id AS eventId, time, type, severity, host, session, program, pid, seq, message FROM alerts';
    return (f.session
      ? this.db.prepare(`${sel} WHERE session = ? ORDER BY id DESC LIMIT ${limit}`).all(f.session)
      : this.db.prepare(`${sel} ORDER BY id DESC LIMIT ${limit}`).all()) as StoredAlert[];
  }

  /** What was denied, per program: each distinct call and argument set once, with a count. */
  denied(program?: string): DeniedSummary[] {
    const rows = this.db.prepare(`SELECT program, syscall, args, rule, errno, COUNT(*) AS count, MAX(time) AS last
      FROM events WHERE kind = 'deny' ${program ? 'AND program = ?' : ''}
      GROUP BY program, syscall, args, rule, errno ORDER BY program, count DESC LIMIT 2000`)
      .all(...(program ? [program] : [])) as (Omit<DeniedSummary, 'args'> & { args: string })[];
    return rows.map(r => ({ ...r, args: JSON.parse(r.args) as Record<string, string> }));
  }

  /** Each program seen: its policy files, sessions, hosts and event/denial counts. */
  programs(): { program: string; policies: string; sessions: number; hosts: string; events: number; denials: number; last: string }[] {
    return this.db.prepare(`SELECT program, GROUP_CONCAT(DISTINCT policy) AS policies, COUNT(DISTINCT session) AS sessions,
      GROUP_CONCAT(DISTINCT host) AS hosts, COUNT(*) AS events, SUM(kind = 'deny') AS denials, MAX(received) AS last
      FROM events GROUP BY program ORDER BY last DESC LIMIT 1000`).all() as never;
  }

  close(): void {
    this.db.close();
  }
}
