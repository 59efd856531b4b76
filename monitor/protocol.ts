// The tracer <-> monitor protocol, from broker/events.proto (loaded once):
// length-delimited Frames (a varint length, then the Frame) over a Unix
// socket or TLS on TCP. Both sides use this file: the monitor's server and
// the tracer's MonitorClient.
import protobuf from 'protobufjs';

export const EVENTS_VERSION = 1;
/**
 * No frame of ours comes near this (an event carries a few paths); a peer
 * announcing more is refused before we buffer it, so a hostile or broken
 * tracer cannot make the monitor hold megabytes for one frame.
 */
export const MAX_FRAME = 64 * 1024;

/**
 * broker/events.proto, word for word (test/unit/monitor-protocol.test.ts
 * holds them equal): compiled in, so that neither side depends on finding
 * the file at run time.
 */
export const EVENTS_PROTO = `// Tracer <-> monitor: events out, questions answered back. Each frame is
// length-delimited (a varint length, then the Frame), over a Unix socket
// or TLS on TCP.
syntax = "proto3";
package systrace.monitor;

message Frame {
  oneof body {
    Hello hello = 1;       // tracer -> monitor, first
    Event event = 2;       // tracer -> monitor
    Answer answer = 3;     // monitor -> tracer: the operator answered a question
    Welcome welcome = 4;   // monitor -> tracer, after a Hello it accepts
  }
}

message Hello {
  string token = 1;        // the monitor's token (shared secret)
  string host = 2;
  string session = 3;      // unique per \`systrace run\`
  string program = 4;
  string policy = 5;       // the policy file
  string user = 6;
  uint32 version = 7;      // 1
  string key = 8;          // random per run, never shown: only its holder may resume the session
}

message Welcome {
  bool ok = 1;
  string reason = 2;
}

message Event {
  uint64 seq = 1;          // per session, from 1, in order
  string time = 2;         // ISO 8601
  string kind = 3;         // start exec exit deny ask answer elevate log policy alert dropped
  uint32 pid = 4;
  string program = 5;
  string syscall = 6;      // "linux-openat"
  map<string, string> args = 7;   // normalised: filename, sockaddr ...
  string rule = 8;         // FILE:LINE, or "default"
  string decision = 9;     // permit deny ask kill
  string errno = 10;
  string severity = 11;    // info notice warning alert
  string detail = 12;      // free text (exit status, answer, dropped count ...)
  uint64 question = 13;    // for kind=ask: the id an Answer names
}

message Answer {
  uint64 question = 1;
  // p P d D k x, as at the terminal prompt (P/D save a rule)
  string answer = 2;
  string errno = 3;        // for D
  string rule = 4;         // a generalised rule (g), or a typed filter (f)
}
`;

export interface Hello {
  token: string;
  host: string;
  /** Unique per `systrace run`. */
  session: string;
  program: string;
  policy: string;
  user: string;
  version: number;
  /**
   * A secret the tracer draws once per run. The monitor keeps its hash with
   * the session id: a later Hello for that session (a reconnect) must carry
   * the same key, so knowing a session id is not enough to take it over.
   */
  key: string;
}

export interface Welcome {
  ok: boolean;
  reason: string;
}

export type EventKind =
  | 'start' | 'exec' | 'exit' | 'deny' | 'ask' | 'answer' | 'elevate' | 'log' | 'policy' | 'alert' | 'dropped';

export interface MonitorEvent {
  /** Per session, from 1, in order. */
  seq: number;
  /** ISO 8601. */
  time: string;
  kind: string;
  pid: number;
  program: string;
  /** "linux-openat". */
  syscall: string;
  args: Record<string, string>;
  /** FILE:LINE, or "default". */
  rule: string;
  decision: string;
  errno: string;
  /** info notice warning alert */
  severity: string;
  detail: string;
  /** For kind=ask: the id an Answer names. */
  question: number;
}

/** The terminal prompt's keys (P and D save a rule). */
export const ANSWER_KEYS = ['p', 'P', 'd', 'D', 'k', 'x'] as const;

export interface Answer {
  question: number;
  answer: string;
  errno: string;
  rule: string;
}

export type Frame =
  | { hello: Hello }
  | { event: MonitorEvent }
  | { answer: Answer }
  | { welcome: Welcome };

let frameType: protobuf.Type | undefined;

function Frame(): protobuf.Type {
  frameType ??= protobuf.parse(EVENTS_PROTO, { keepCase: false }).root.lookupType('systrace.monitor.Frame');
  return frameType;
}

/** An event with every field present (the defaults proto3 gives missing ones). */
export function completeEvent(e: Partial<MonitorEvent>): MonitorEvent {
  return {
    seq: e.seq ?? 0, time: e.time ?? '', kind: e.kind ?? '', pid: e.pid ?? 0, program: e.program ?? '',
    syscall: e.syscall ?? '', args: { ...(e.args ?? {}) }, rule: e.rule ?? '', decision: e.decision ?? '',
    errno: e.errno ?? '', severity: e.severity ?? '', detail: e.detail ?? '', question: e.question ?? 0,
  };
}

/** One frame with its varint length in front, ready to write. */
export function encodeFrame(f: Frame): Buffer {
  const T = Frame();
  return Buffer.from(T.encodeDelimited(T.fromObject(f)).finish());
}

/** Throws on a malformed frame: the caller closes that connection. */
export function decodeFrame(body: Uint8Array): Frame {
  const T = Frame();
  const o = T.toObject(T.decode(body), { longs: Number, defaults: true, oneofs: true }) as Record<string, unknown>;
  switch (o.body) {
    case 'hello': {
      const h = o.hello as Hello;
      return { hello: { token: h.token, host: h.host, session: h.session, program: h.program, policy: h.policy, user: h.user, version: h.version, key: h.key } };
    }
    case 'welcome': {
      const w = o.welcome as Welcome;
      return { welcome: { ok: w.ok, reason: w.reason } };
    }
    case 'answer': {
      const a = o.answer as Answer;
      return { answer: { question: a.question, answer: a.answer, errno: a.errno, rule: a.rule } };
    }
    case 'event':
      return { event: completeEvent(o.event as MonitorEvent) };
    default:
      throw new FrameError('EBADFRAME', 'a frame with no body');
  }
}

export class FrameError extends Error {
  constructor(readonly code: 'EBADFRAME' | 'EFRAMETOOBIG', message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/**
 * Cuts a byte stream into frames. push() returns the complete frames so
 * far and keeps the rest; it throws a FrameError on a frame larger than
 * MAX_FRAME (announced, so nothing of it is kept) or one that does not
 * decode.
 */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxFrame = MAX_FRAME) {}

  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Frame[] = [];
    for (;;) {
      const head = readVarint(this.pending);
      if (!head) {
        if (this.pending.length > 5) throw new FrameError('EBADFRAME', 'a length prefix longer than five bytes');
        break;
      }
      if (head.value > this.maxFrame) throw new FrameError('EFRAMETOOBIG', `a frame of ${head.value} bytes (at most ${this.maxFrame})`);
      if (this.pending.length < head.bytes + head.value) break;
      const body = this.pending.subarray(head.bytes, head.bytes + head.value);
      this.pending = this.pending.subarray(head.bytes + head.value);
      try {
        frames.push(decodeFrame(body));
      } catch (e) {
        if (e instanceof FrameError) throw e;
        throw new FrameError('EBADFRAME', `a frame that does not decode: ${(e as Error).message}`);
      }
    }
    return frames;
  }
}

/** A protobuf varint of at most 32 bits at the start of buf, or undefined if it is not all there yet. */
function readVarint(buf: Buffer): { value: number; bytes: number } | undefined {
  let value = 0;
  for (let i = 0; i < Math.min(buf.length, 5); i++) {
    const b = buf[i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return { value, bytes: i + 1 };
  }
  return undefined;
}
