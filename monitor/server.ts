// `systrace monitor`'s server: accepts tracers (a Unix socket, or TLS over
// TCP), checks their token, stores their events, raises alerts, forwards
// both to syslog and a JSON-lines file, and hands the operator's answers
// back to the tracer that asked. The web interface (web.ts) reads from here.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { AlertDetector, DEFAULT_DETECTOR, type DetectorOptions } from './alerts.js';
import { encodeFrame, EVENTS_VERSION, FrameReader, type Answer, type Hello, type MonitorEvent } from './protocol.js';
import { Storage, type StoredAlert, type StoredEvent } from './storage.js';
import { alertRecord, eventRecord, facilityCode, formatSyslog, parseSyslogUrl, SyslogForwarder } from './syslog.js';

export interface MonitorOptions {
  /** Unix socket for tracers on this machine. */
  socket?: string;
  /** TCP for tracers elsewhere: always TLS. */
  listen?: { host: string; port: number; cert: string; key: string };
  /** The database file (':memory:' for tests). */
  db: string;
  /** The tracers' shared secret; random if not given. */
  token?: string;
  /** `udp://HOST:PORT` or `tcp://HOST:PORT`. */
  syslog?: string;
  syslogFacility?: string;
  /** Append every event and alert here as JSON lines. */
  jsonExport?: string;
  detector?: DetectorOptions;
  /** A tracer must say Hello within this time (default 10 s). */
  helloTimeoutMs?: number;
}

/** A tracer that said Hello with the right token. */
export interface TracerSession {
  hello: Omit<Hello, 'token' | 'key'>;
  peer: string;
  since: string;
  socket: net.Socket;
}

/** What the web interface is told as it happens. */
export type MonitorUpdate =
  | { type: 'event'; event: StoredEvent }
  | { type: 'alert'; alert: StoredAlert }
  | { type: 'answered'; session: string; question: number; answer: string; source: string }
  | { type: 'session'; session: string; connected: boolean; host: string; program: string };

export type AnswerResult = 'sent' | 'no-such-question' | 'answered-already' | 'not-connected';

export function randomToken(): string {
  return randomBytes(24).toString('base64url');
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class MonitorServer extends EventEmitter<{ update: [MonitorUpdate] }> {
  readonly token: string;
  readonly storage: Storage;
  /** Live connections by session id (a reconnecting tracer replaces its old one). */
  readonly sessions = new Map<string, TracerSession>();
  private readonly detector: AlertDetector;
  private readonly syslog?: SyslogForwarder;
  private readonly facility: number;
  private readonly exportFd?: number;
  private unixServer?: net.Server;
  private tlsServer?: tls.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(private readonly opts: MonitorOptions) {
    super();
    this.setMaxListeners(0);
    this.token = opts.token ?? randomToken();
    this.detector = new AlertDetector(opts.detector ?? DEFAULT_DETECTOR);
    this.facility = facilityCode(opts.syslogFacility ?? 'local0');
    if (opts.syslog) this.syslog = new SyslogForwarder(parseSyslogUrl(opts.syslog));
    this.storage = new Storage(opts.db);
    if (opts.jsonExport) this.exportFd = fs.openSync(opts.jsonExport, 'a', 0o600);
  }

  /** Starts listening; resolves with where (the TLS port as bound, for port 0). */
  async start(): Promise<{ socket?: string; tls?: { host: string; port: number } }> {
    const out: { socket?: string; tls?: { host: string; port: number } } = {};
    if (this.opts.socket) {
      const path = this.opts.socket;
      removeStaleSocket(path);
      this.unixServer = net.createServer(s => this.accept(s, 'unix'));
      await listen(this.unixServer, { path });
      out.socket = path;
    }
    if (this.opts.listen) {
      const l = this.opts.listen;
      this.tlsServer = tls.createServer({ cert: fs.readFileSync(l.cert), key: fs.readFileSync(l.key), minVersion: 'TLSv1.2' },
        s => this.accept(s, `${s.remoteAddress}:${s.remotePort}`));
      // A failed handshake is the peer's problem, not the server's.
      this.tlsServer.on('tlsClientError', () => {});
      await listen(this.tlsServer, { host: l.host, port: l.port });
      const a = this.tlsServer.address() as net.AddressInfo;
      out.tls = { host: l.host, port: a.port };
    }
    return out;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all([this.unixServer, this.tlsServer].map(srv => srv && new Promise<void>(r => srv.close(() => r()))));
    if (this.opts.socket) removeStaleSocket(this.opts.socket);
    await this.syslog?.close();
    if (this.exportFd !== undefined) fs.closeSync(this.exportFd);
    this.storage.close();
  }

  /** Send the operator's answer to the tracer that asked, and record it. */
  answer(session: string, a: Answer): AnswerResult {
    const asked = this.storage.db.prepare("SELECT 1 FROM events WHERE session = ? AND kind = 'ask' AND question = ?").get(session, a.question);
    if (!asked) return 'no-such-question';
    if (this.storage.answer(session, a.question)) return 'answered-already';
    const live = this.sessions.get(session);
    if (!live) return 'not-connected';
    live.socket.write(encodeFrame({ answer: a }));
    this.storage.addAnswer({ ...a, session, source: 'web' });
    this.emit('update', { type: 'answered', session, question: a.question, answer: a.answer, source: 'web' });
    return 'sent';
  }

  /** Questions still waiting, from tracers still connected (an ended session's question has no one to answer). */
  pending(): StoredEvent[] {
    return this.storage.pendingQuestions([...this.sessions.keys()]);
  }

  private accept(sock: net.Socket, peer: string): void {
    this.sockets.add(sock);
    const reader = new FrameReader();
    let session: TracerSession | undefined;
    const helloTimer = setTimeout(() => sock.destroy(), this.opts.helloTimeoutMs ?? 10_000);
    sock.on('error', () => { /* 'close' follows */ });
    sock.on('close', () => {
      clearTimeout(helloTimer);
      this.sockets.delete(sock);
      if (session && this.sessions.get(session.hello.session) === session) {
        this.sessions.delete(session.hello.session);
        this.detector.forget(session.hello.session);
        this.emit('update', { type: 'session', session: session.hello.session, connected: false, host: session.hello.host, program: session.hello.program });
      }
    });
    sock.on('data', chunk => {
      let frames;
      try {
        frames = reader.push(chunk);
      } catch {
        sock.destroy();
        return;
      }
      for (const f of frames) {
        if (sock.destroyed) return;
        if (!session) {
          clearTimeout(helloTimer);
          if (!('hello' in f)) { sock.destroy(); return; }
          session = this.greet(sock, peer, f.hello);
          if (!session) return;
        } else if ('event' in f) {
          this.record(session, f.event);
        } else {
          // Only events come after the Hello.
          sock.destroy();
          return;
        }
      }
    });
  }

  private greet(sock: net.Socket, peer: string, h: Hello): TracerSession | undefined {
    const { token, key, ...hello } = h;
    let reason = '';
    if (!sameToken(token, this.token)) reason = 'wrong token';
    else if (h.version !== EVENTS_VERSION) reason = `protocol version ${h.version}, this monitor speaks ${EVENTS_VERSION}`;
    else if (!h.session) reason = 'no session id';
    else if (key.length < 32) reason = 'no session key';
    else if (!this.storage.claimSession(h.session, key)) reason = 'session id belongs to another tracer (its key differs)';
    const time = new Date().toISOString();
    this.storage.addHello({ ...hello, time, peer, ok: reason === '', reason });
    if (reason) {
      sock.end(encodeFrame({ welcome: { ok: false, reason } }));
      setTimeout(() => sock.destroy(), 1000).unref();
      return undefined;
    }
    const s: TracerSession = { hello, peer, since: time, socket: sock };
    const old = this.sessions.get(h.session);
    this.sessions.set(h.session, s);
    if (old) old.socket.destroy();
    sock.write(encodeFrame({ welcome: { ok: true, reason: '' } }));
    this.emit('update', { type: 'session', session: h.session, connected: true, host: h.host, program: h.program });
    return s;
  }

  private record(s: TracerSession, e: MonitorEvent): void {
    const h = s.hello;
    const stored = this.storage.addEvent({ host: h.host, session: h.session, user: h.user, policy: h.policy, program: h.program }, e);
    this.emit('update', { type: 'event', event: stored });
    this.forward('event', stored, formatSyslog(eventRecord(this.facility, { host: h.host, session: h.session, user: h.user }, stored)));
    if (e.kind === 'answer' && e.question) {
      // Answered at the terminal (or a decision the tracer reports): no longer pending.
      if (this.storage.addAnswer({ session: h.session, question: e.question, answer: e.detail || e.decision, errno: e.errno, rule: e.rule, source: 'tracer' })) {
        this.emit('update', { type: 'answered', session: h.session, question: e.question, answer: e.detail || e.decision, source: 'tracer' });
      }
    }
    for (const a of this.detector.check({ host: h.host, session: h.session, program: h.program }, e)) {
      const sa = this.storage.addAlert(a, stored.id);
      this.emit('update', { type: 'alert', alert: sa });
      this.forward('alert', sa, formatSyslog(alertRecord(this.facility, sa)));
    }
  }

  private forward(type: 'event' | 'alert', value: StoredEvent | StoredAlert, syslogLine: string): void {
    this.syslog?.send(syslogLine);
    if (this.exportFd !== undefined) {
      try {
        fs.writeSync(this.exportFd, `${JSON.stringify({ type, ...value })}\n`);
      } catch {
        // A full disk stops the export, not the monitor; the database still has it.
      }
    }
  }
}

function listen(srv: net.Server, where: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(where, () => { srv.off('error', reject); resolve(); });
  });
}

/** A socket file left by a monitor that died is removed; anything else at that path is not ours to remove. */
function removeStaleSocket(path: string): void {
  try {
    if (fs.lstatSync(path).isSocket()) fs.unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
