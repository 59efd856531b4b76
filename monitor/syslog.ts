// Forwarding to syslog: RFC 5424 records, over UDP (one record per
// datagram, RFC 5426) or TCP (octet-counting framing, RFC 6587 3.4.1), so
// that a collector such as rsyslog feeds the SIEM a fleet already runs.
// formatSyslog() is pure; SyslogForwarder does the I/O and never throws
// into the monitor: a collector that is down costs records, not the monitor.
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { Alert } from './alerts.js';
import type { MonitorEvent } from './protocol.js';

/** Our private enterprise number slot for the structured data ID, as in `systrace@32473` (32473 is IANA's example PEN, RFC 5612). */
export const SD_ID = 'systrace@32473';

const FACILITIES: Record<string, number> = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10, ftp: 11,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
};

const SEVERITIES: Record<string, number> = {
  emerg: 0, alert: 1, crit: 2, error: 3, warning: 4, notice: 5, info: 6, debug: 7,
};

export function facilityCode(name: string): number {
  const f = FACILITIES[name];
  if (f === undefined) throw new RangeError(`unknown syslog facility ${name} (one of ${Object.keys(FACILITIES).join(' ')})`);
  return f;
}

export interface SyslogRecord {
  /** Facility code (local0 = 16). */
  facility: number;
  /** info notice warning alert ... */
  severity: string;
  time: string;
  host: string;
  /** MSGID: the event kind, or "alert". */
  kind: string;
  params: Record<string, string | number | undefined>;
  message: string;
}

/** PRINTUSASCII (33..126), at most `max` characters, or the NILVALUE. */
function header(value: string, max: number): string {
  const v = value.replace(/[^\x21-\x7e]/g, '_').slice(0, max);
  return v === '' ? '-' : v;
}

/** SD-NAME: PRINTUSASCII except = SP ] ", at most 32. */
function sdName(name: string): string {
  return name.replace(/[^\x21-\x7e]|[=\]"]/g, '_').slice(0, 32);
}

/** PARAM-VALUE: UTF-8 with ", \ and ] escaped (RFC 5424 6.3.3). */
function sdValue(value: string): string {
  return value.replace(/[\\"\]]/g, c => `\\${c}`);
}

/** TIMESTAMP: RFC 3339 with at most 6 fractional digits; the NILVALUE if the time is not one. */
function timestamp(time: string): string {
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? '-' : new Date(ms).toISOString();
}

/** One RFC 5424 record: `<PRI>1 TIMESTAMP HOST systrace - KIND [systrace@32473 key="value"...] MSG`. */
export function formatSyslog(r: SyslogRecord): string {
  const pri = r.facility * 8 + (SEVERITIES[r.severity] ?? SEVERITIES.info!);
  const params = Object.entries(r.params)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${sdName(k)}="${sdValue(String(v))}"`);
  const sd = params.length > 0 ? `[${SD_ID} ${params.join(' ')}]` : '-';
  // Control characters (a newline in a file name) would split the record at a collector that reads lines.
  const msg = r.message.replace(/[\x00-\x1f\x7f]/g, c => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `<${pri}>1 ${timestamp(r.time)} ${header(r.host, 255)} systrace - ${header(r.kind, 32)} ${sd}${msg ? ` ${msg}` : ''}`;
}

/** What an event says in one line, after the structured data. */
export function eventMessage(e: MonitorEvent): string {
  const args = Object.entries(e.args).map(([k, v]) => `${k}: ${v}`);
  const parts = [e.kind, e.program && `prog: ${e.program}`, e.pid && `pid: ${e.pid}`, e.syscall && `syscall: ${e.syscall}`, ...args,
    e.errno && `errno: ${e.errno}`, e.rule && `rule: ${e.rule}`, e.detail].filter(Boolean);
  return parts.join(', ');
}

export function eventRecord(facility: number, src: { host: string; session: string; user?: string }, e: MonitorEvent): SyslogRecord {
  const params: SyslogRecord['params'] = {
    session: src.session, seq: e.seq, user: src.user, pid: e.pid || undefined, program: e.program, syscall: e.syscall,
    decision: e.decision, errno: e.errno, rule: e.rule, question: e.question || undefined,
  };
  for (const [k, v] of Object.entries(e.args)) params[`arg.${k}`] = v;
  const severity = e.severity || (e.kind === 'deny' ? 'warning' : 'info');
  return { facility, severity, time: e.time, host: src.host, kind: e.kind || 'event', params, message: eventMessage(e) };
}

export function alertRecord(facility: number, a: Alert): SyslogRecord {
  return {
    facility, severity: a.severity, time: a.time, host: a.host, kind: 'alert',
    params: { type: a.type, severity: a.severity, session: a.session, seq: a.seq, pid: a.pid || undefined, program: a.program },
    message: a.message,
  };
}

export interface SyslogTarget {
  protocol: 'udp' | 'tcp';
  host: string;
  port: number;
}

/** `udp://127.0.0.1:514` or `tcp://[::1]:6514`. */
export function parseSyslogUrl(url: string): SyslogTarget {
  const m = /^(udp|tcp):\/\/(\[[^\]]+\]|[^:/]+)(?::(\d+))?\/?$/.exec(url);
  if (!m) throw new Error(`${url}: not a syslog address (udp://HOST:PORT or tcp://HOST:PORT)`);
  const port = m[3] === undefined ? 514 : Number(m[3]);
  if (!(port > 0 && port < 65536)) throw new Error(`${url}: port out of range`);
  return { protocol: m[1] as 'udp' | 'tcp', host: m[2]!.replace(/^\[|\]$/g, ''), port };
}

/**
 * Sends records as they come. TCP: one connection, reopened with backoff;
 * up to `queueMax` records wait while it is down, older ones are dropped
 * and counted (`dropped`).
 */
export class SyslogForwarder {
  dropped = 0;
  private udp?: dgram.Socket;
  private tcp?: net.Socket;
  private tcpReady = false;
  private queue: string[] = [];
  private retryMs = 200;
  private timer?: NodeJS.Timeout;
  private closed = false;

  constructor(readonly target: SyslogTarget, private readonly queueMax = 10_000) {}

  send(record: string): void {
    if (this.closed) return;
    if (this.target.protocol === 'udp') {
      if (!this.udp) {
        this.udp = dgram.createSocket(net.isIPv6(this.target.host) ? 'udp6' : 'udp4');
        this.udp.on('error', () => { this.dropped++; });
        this.udp.unref();
      }
      this.udp.send(Buffer.from(record), this.target.port, this.target.host, err => { if (err) this.dropped++; });
      return;
    }
    this.queue.push(record);
    if (this.queue.length > this.queueMax) {
      this.dropped += this.queue.length - this.queueMax;
      this.queue.splice(0, this.queue.length - this.queueMax);
    }
    if (this.tcpReady) this.flush();
    else if (!this.tcp && !this.timer) this.connect();
  }

  private connect(): void {
    const sock = net.connect({ host: this.target.host, port: this.target.port });
    this.tcp = sock;
    sock.setNoDelay(true);
    sock.on('connect', () => {
      this.tcpReady = true;
      this.retryMs = 200;
      this.flush();
    });
    sock.on('data', () => { /* a collector says nothing; ignore what it does */ });
    sock.on('error', () => { /* 'close' follows */ });
    sock.on('close', () => {
      this.tcp = undefined;
      this.tcpReady = false;
      if (this.closed) return;
      this.timer = setTimeout(() => { this.timer = undefined; this.connect(); }, this.retryMs);
      this.timer.unref();
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    });
  }

  private flush(): void {
    const sock = this.tcp;
    if (!sock || !this.tcpReady) return;
    const batch = this.queue;
    this.queue = [];
    // RFC 6587 octet counting: MSG-LEN SP SYSLOG-MSG, the length in bytes.
    sock.write(batch.map(r => `${Buffer.byteLength(r)} ${r}`).join(''));
  }

  /** Send what is queued (TCP), then close. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.udp) { const u = this.udp; this.udp = undefined; await new Promise<void>(r => u.close(() => r())); }
    if (this.tcp) {
      const s = this.tcp;
      if (!this.tcpReady) {
        await new Promise<void>(r => { s.once('connect', () => r()); s.once('close', () => r()); setTimeout(r, 2000).unref(); });
      }
      if (this.tcpReady) this.flush();
      await new Promise<void>(r => { s.once('close', () => r()); s.end(); setTimeout(() => { s.destroy(); }, 2000).unref(); });
    }
  }
}
