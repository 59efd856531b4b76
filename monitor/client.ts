// The tracer's side of the monitor protocol. Monitoring never weakens
// enforcement, so nothing here throws into the tracer or waits on the
// monitor: send() queues and returns. While the monitor is unreachable (or
// slow) up to `bufferSize` events wait; beyond that the oldest are dropped
// and counted, and after reconnecting a kind=dropped event says how many.
//
// The client numbers events itself (seq, from 1): the monitor sees seq in
// order, and the only gaps are the ones a dropped event accounts for. That
// event takes the seq of the last event it stands for, so seq stays
// strictly increasing on the wire.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { completeEvent, encodeFrame, EVENTS_VERSION, FrameReader, type Answer, type Hello, type MonitorEvent } from './protocol.js';

export interface MonitorClientOptions {
  /** Events kept while disconnected (default 10000). */
  bufferSize?: number;
  /** First reconnect delay, doubled up to maxBackoffMs (defaults 100 and 5000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** TLS: the CA (PEM text or a file name) that signed the monitor's certificate; the system's CAs if not given. */
  ca?: string;
  /** TLS: the name the certificate must carry (default: the host of the address). */
  servername?: string;
  /** Called with what went wrong, for the tracer's log; never required. */
  onStatus?: (status: ClientStatus, detail: string) => void;
}

export type ClientStatus = 'connected' | 'disconnected' | 'refused' | 'error';

export type MonitorAddress = { path: string } | { host: string; port: number };

/** A path (contains a /) is a Unix socket; HOST:PORT or [V6]:PORT is TLS over TCP. */
export function parseMonitorAddress(addr: string): MonitorAddress {
  if (addr.startsWith('unix:')) return { path: addr.slice(5) };
  if (addr.includes('/')) return { path: addr };
  const m = /^(?:tls:\/\/)?(\[[^\]]+\]|[^:]+):(\d+)$/.exec(addr);
  if (!m || !(Number(m[2]) > 0 && Number(m[2]) < 65536)) {
    throw new Error(`${addr}: not a monitor address (a socket path, or HOST:PORT for TLS)`);
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

export class MonitorClient {
  /** Events dropped since the last dropped event was sent (and in all, below). */
  dropped = 0;
  droppedTotal = 0;
  /** Events handed to the socket. */
  sent = 0;
  private seq = 0;
  private readonly buffer: MonitorEvent[] = [];
  private sock?: net.Socket;
  private welcomed = false;
  private closed = false;
  private retry?: NodeJS.Timeout;
  private delay: number;
  private readonly answerCbs: ((a: Answer) => void)[] = [];
  private readonly welcomeWaiters: (() => void)[] = [];
  private readonly bufferSize: number;
  private readonly address: MonitorAddress;
  private ca?: string;

  /** This run's session key (see Hello.key): drawn here, sent only to the monitor. */
  private readonly key = randomBytes(32).toString('hex');

  private constructor(addr: string, private readonly token: string, private readonly hello: Omit<Hello, 'token' | 'version' | 'key'>,
    private readonly opts: MonitorClientOptions) {
    this.bufferSize = Math.max(1, opts.bufferSize ?? 10_000);
    this.delay = opts.backoffMs ?? 100;
    this.address = parseMonitorAddress(addr);
  }

  /**
   * Starts connecting and returns at once; events sent before the monitor
   * welcomes us wait in the buffer. Throws only on an address that cannot
   * be one (a usage error of the caller, at start-up).
   */
  static connect(addr: string, token: string, hello: Omit<Hello, 'token' | 'version' | 'key'>, opts: MonitorClientOptions = {}): MonitorClient {
    const c = new MonitorClient(addr, token, hello, opts);
    if (opts.ca !== undefined) c.ca = opts.ca.includes('-----BEGIN') ? opts.ca : fs.readFileSync(opts.ca, 'utf8');
    c.open();
    return c;
  }

  get connected(): boolean {
    return this.welcomed;
  }

  /** Events waiting for the monitor. */
  get buffered(): number {
    return this.buffer.length;
  }

  /** Queue an event (its seq is ours to give; any seq in it is ignored). */
  send(event: Partial<MonitorEvent> & { kind: string }): void {
    try {
      const e = completeEvent(event);
      e.seq = ++this.seq;
      if (!e.time) e.time = new Date().toISOString();
      if (this.welcomed && this.buffer.length === 0 && this.sock && !this.sock.writableNeedDrain) {
        this.write(e);
        return;
      }
      this.buffer.push(e);
      if (this.buffer.length > this.bufferSize) {
        this.buffer.shift();
        this.dropped++;
        this.droppedTotal++;
      }
    } catch {
      // An event that does not encode is lost; the tracer goes on.
      this.dropped++;
      this.droppedTotal++;
    }
  }

  /** The operator's answers to kind=ask events, as they come. */
  onAnswer(cb: (a: Answer) => void): void {
    this.answerCbs.push(cb);
  }

  /** Resolves once the monitor has welcomed us (now, if it has), or false after timeoutMs. */
  waitConnected(timeoutMs = 5000): Promise<boolean> {
    if (this.welcomed) return Promise.resolve(true);
    return new Promise(resolve => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.welcomeWaiters.push(() => { clearTimeout(t); resolve(true); });
    });
  }

  /** Send what is buffered if connected (waiting at most timeoutMs for it to go out), then close. */
  async close(timeoutMs = 2000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const sock = this.sock;
    if (!sock) return;
    if (this.welcomed) this.flush();
    await new Promise<void>(resolve => {
      const t = setTimeout(() => { sock.destroy(); resolve(); }, timeoutMs);
      t.unref();
      sock.once('close', () => { clearTimeout(t); resolve(); });
      sock.end();
    });
  }

  private status(s: ClientStatus, detail: string): void {
    try { this.opts.onStatus?.(s, detail); } catch { /* the caller's callback is not our failure */ }
  }

  private open(): void {
    if (this.closed) return;
    const a = this.address;
    let sock: net.Socket;
    try {
      sock = 'path' in a
        ? net.connect({ path: a.path })
        : tls.connect({ host: a.host, port: a.port, servername: this.opts.servername ?? (net.isIP(a.host) ? undefined : a.host),
          ...(this.ca !== undefined ? { ca: this.ca } : {}) });
    } catch (e) {
      this.status('error', (e as Error).message);
      this.schedule();
      return;
    }
    this.sock = sock;
    const reader = new FrameReader();
    const ready = 'path' in a ? 'connect' : 'secureConnect';
    sock.once(ready, () => {
      sock.write(encodeFrame({ hello: { ...this.hello, token: this.token, version: EVENTS_VERSION, key: this.key } }));
    });
    sock.on('data', chunk => {
      let frames;
      try {
        frames = reader.push(chunk);
      } catch (e) {
        this.status('error', `monitor sent a bad frame: ${(e as Error).message}`);
        sock.destroy();
        return;
      }
      for (const f of frames) {
        if ('welcome' in f) {
          if (!f.welcome.ok) {
            this.status('refused', f.welcome.reason || 'refused');
            sock.destroy();
            return;
          }
          this.welcomed = true;
          this.delay = this.opts.backoffMs ?? 100;
          this.status('connected', 'path' in a ? a.path : `${a.host}:${a.port}`);
          this.flush();
          for (const w of this.welcomeWaiters.splice(0)) w();
        } else if ('answer' in f && this.welcomed) {
          for (const cb of this.answerCbs) {
            try { cb(f.answer); } catch { /* the callback's failure stays the callback's */ }
          }
        }
      }
    });
    sock.on('drain', () => { if (this.welcomed) this.flush(); });
    sock.on('error', e => this.status('error', e.message));
    sock.on('close', () => {
      if (this.sock === sock) this.sock = undefined;
      const was = this.welcomed;
      this.welcomed = false;
      if (was) this.status('disconnected', 'the monitor closed the connection');
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.closed || this.retry) return;
    // Jitter, so that a fleet of tracers does not reconnect in step after a monitor restart.
    const wait = this.delay * (0.75 + Math.random() / 2);
    this.delay = Math.min(this.delay * 2, this.opts.maxBackoffMs ?? 5000);
    this.retry = setTimeout(() => { this.retry = undefined; this.open(); }, wait);
    // A tracer whose program has ended does not stay for its monitor.
    this.retry.unref();
  }

  /** Put the dropped event at the head of the buffer, numbered as the last event it stands for. */
  private reportDropped(): void {
    if (this.dropped === 0) return;
    const first = this.buffer[0];
    const seq = first ? first.seq - 1 : this.seq + 1;
    if (!first) this.seq = seq;
    const e = completeEvent({
      seq, kind: 'dropped', time: new Date().toISOString(), severity: 'warning', program: this.hello.program,
      detail: `${this.dropped} events dropped while the monitor was unreachable`, args: { count: String(this.dropped) },
    });
    this.dropped = 0;
    this.buffer.unshift(e);
  }

  private flush(): void {
    const sock = this.sock;
    this.reportDropped();
    while (sock && this.buffer.length > 0 && !sock.writableNeedDrain) this.write(this.buffer.shift()!);
  }

  private write(e: MonitorEvent): void {
    this.sock!.write(encodeFrame({ event: e }));
    this.sent++;
  }
}
