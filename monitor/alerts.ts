// Intrusion detection: which events are alerts. Pure: a detector is fed
// events (with the session they came from) and returns the alerts they
// raise; time comes from the events themselves, so a test replays a burst
// without waiting for it.
//
// A kind=deny event is only ever sent for a call the policy (or its
// default) denied: an operator's "deny" at a prompt is a kind=answer event.
// So every deny is a violation of the policy in force, which is what
// Systrace called "an indication of a security problem".
import type { MonitorEvent } from './protocol.js';

export type AlertSeverity = 'warning' | 'alert';

export type AlertType =
  /** A call the policy denied. */
  | 'denial'
  /** An exec of a program the policy does not name (a denied execve/execveat). */
  | 'exec-not-in-policy'
  /** A connect to an address the policy does not name. */
  | 'connect-not-in-policy'
  /** Many denials from one session in a short time: something is probing. */
  | 'burst'
  /** The tracer itself raised it (kind=alert). */
  | 'tracer';

export interface Alert {
  type: AlertType;
  severity: AlertSeverity;
  /** When it happened (the event's time, ISO 8601). */
  time: string;
  host: string;
  session: string;
  program: string;
  pid: number;
  /** The seq of the event that raised it. */
  seq: number;
  message: string;
}

export interface DetectorOptions {
  /** A burst is at least this many denials ... */
  burstCount: number;
  /** ... from one session within this many seconds. */
  burstSeconds: number;
}

export const DEFAULT_DETECTOR: DetectorOptions = { burstCount: 10, burstSeconds: 10 };

/** Where an event came from: the Hello of its connection. */
export interface EventSource {
  host: string;
  session: string;
  program: string;
}

const EXEC = /(^|-)execve(at)?$/;
const CONNECT = /(^|-)connect$/;

/** The call's argument that says what it was about, for the message. */
function subject(e: MonitorEvent): string {
  const a = e.args;
  const what = a.filename ?? a.path ?? a.sockaddr ?? a.address ?? Object.values(a)[0];
  return what ? ` ${what}` : '';
}

export class AlertDetector {
  /** Per session: times (ms) of its recent denials, oldest first. */
  private readonly denials = new Map<string, number[]>();
  /** Per session: the time a burst was last reported; no second one until its window has passed. */
  private readonly lastBurst = new Map<string, number>();

  constructor(private readonly opts: DetectorOptions = DEFAULT_DETECTOR) {
    if (!(opts.burstCount >= 2) || !(opts.burstSeconds > 0)) throw new RangeError('a burst needs a count of 2 or more and a positive window');
  }

  /** The alerts this event raises (none for most). `now` is used when the event carries no valid time. */
  check(src: EventSource, e: MonitorEvent, now: Date = new Date()): Alert[] {
    const parsed = Date.parse(e.time);
    const at = Number.isNaN(parsed) ? now.getTime() : parsed;
    const base = {
      time: new Date(at).toISOString(), host: src.host, session: src.session,
      program: e.program || src.program, pid: e.pid, seq: e.seq,
    };
    const alerts: Alert[] = [];
    if (e.kind === 'alert') {
      alerts.push({ ...base, type: 'tracer', severity: e.severity === 'warning' ? 'warning' : 'alert', message: e.detail || 'alert from the tracer' });
    }
    if (e.kind !== 'deny') return alerts;

    const call = `${e.syscall}${subject(e)}`;
    const rule = e.rule ? ` (${e.rule})` : '';
    if (EXEC.test(e.syscall)) {
      alerts.push({ ...base, type: 'exec-not-in-policy', severity: 'alert', message: `exec of a program the policy does not name: ${call}${rule}` });
    } else if (CONNECT.test(e.syscall)) {
      alerts.push({ ...base, type: 'connect-not-in-policy', severity: 'alert', message: `connect to an address the policy does not name: ${call}${rule}` });
    } else {
      alerts.push({ ...base, type: 'denial', severity: 'warning', message: `denied ${call}${rule}` });
    }

    const windowMs = this.opts.burstSeconds * 1000;
    const times = (this.denials.get(src.session) ?? []).filter(t => t > at - windowMs && t <= at);
    times.push(at);
    this.denials.set(src.session, times.slice(-this.opts.burstCount));
    const last = this.lastBurst.get(src.session);
    if (times.length >= this.opts.burstCount && (last === undefined || at - last >= windowMs)) {
      this.lastBurst.set(src.session, at);
      alerts.push({
        ...base, type: 'burst', severity: 'alert',
        message: `${this.opts.burstCount} or more denials within ${this.opts.burstSeconds}s from ${base.program} (session ${src.session})`,
      });
    }
    return alerts;
  }

  /** Forget a session's history (it ended). */
  forget(session: string): void {
    this.denials.delete(session);
    this.lastBurst.delete(session);
  }
}
