// The protocol's messages, from broker/protocol.proto (loaded once).
import protobuf from 'protobufjs';

export const PROTOCOL_VERSION = 1;
/** No message of the protocol is larger; anything larger is refused unread. */
export const MAX_MESSAGE = 4096;

export interface Request {
  id: bigint;
  pid: number;
  notifId: bigint;
  /** The operation's name (a file in broker/ops/). */
  op: string;
  nr: number;
  args: bigint[];
}

export interface Response {
  id: bigint;
  granted: boolean;
  errno: string;
  reason: string;
}

/**
 * broker/protocol.proto, word for word (test/unit/broker-protocol.test.ts
 * holds them equal): compiled in, so that neither side depends on finding
 * the file at run time.
 */
export const PROTOCOL_PROTO = `// The tracer <-> broker protocol: one message per SOCK_SEQPACKET packet,
// at most 4096 bytes. The broker speaks only these operations.
syntax = "proto3";
package systrace.broker;

// Tracer -> broker, once, first: carries the session's seccomp listener as
// SCM_RIGHTS. The broker answers elevated notifications on it itself.
message Hello {
  uint32 version = 1;
}

// Tracer -> broker: "the target PID is blocked in this call, notification
// NOTIF_ID on the listener you hold; its policy marks it for elevation".
// The broker believes none of it: it checks each claim with the kernel.
message Request {
  uint64 id = 1;         // the tracer's own number, echoed in the response
  uint32 pid = 2;        // the thread that made the call
  uint64 notif_id = 3;
  // The operation, by name: the closed set is the files in broker/ops/
  // (root-owned, installed with the broker), one per privileged call
  // ("bind", "open", "raw-socket"); adding one is adding a file.
  string op = 4;
  uint32 nr = 5;         // the system call number (x86_64)
  repeated uint64 args = 6;
}

// Broker -> tracer. granted: the broker performed the call as root and
// answered the notification itself. Not granted: the tracer carries the
// call out with the program's own rights, so it fails as it would have.
message Response {
  uint64 id = 1;
  bool granted = 2;
  string errno = 3;      // the elevated call's own failure, when granted and it failed
  string reason = 4;     // why not granted
}
`;

let root: protobuf.Root | undefined;

function types(): { Hello: protobuf.Type; Request: protobuf.Type; Response: protobuf.Type } {
  if (!root) root = protobuf.parse(PROTOCOL_PROTO, { keepCase: false }).root;
  return {
    Hello: root.lookupType('systrace.broker.Hello'),
    Request: root.lookupType('systrace.broker.Request'),
    Response: root.lookupType('systrace.broker.Response'),
  };
}

const big = (v: unknown): bigint => (typeof v === 'bigint' ? v : BigInt(String(v ?? 0)));

export function encodeHello(): Buffer {
  const T = types().Hello;
  return Buffer.from(T.encode(T.create({ version: PROTOCOL_VERSION })).finish());
}

export function decodeHello(buf: Buffer): { version: number } {
  const m = types().Hello.decode(buf) as unknown as { version?: number };
  return { version: m.version ?? 0 };
}

export function encodeRequest(r: Request): Buffer {
  const T = types().Request;
  const msg = T.create({ id: r.id.toString(), pid: r.pid, notifId: r.notifId.toString(), op: r.op, nr: r.nr, args: r.args.map(a => a.toString()) });
  return Buffer.from(T.encode(msg).finish());
}

/** Throws on a malformed message: the caller refuses and records it. */
export function decodeRequest(buf: Buffer): Request {
  const T = types().Request;
  const m = T.toObject(T.decode(buf), { longs: String, defaults: true }) as Record<string, unknown>;
  const args = (m.args as string[]).map(big);
  if (args.length > 6) throw new Error('more than six arguments');
  return { id: big(m.id), pid: Number(m.pid), notifId: big(m.notifId), op: String(m.op ?? ''), nr: Number(m.nr), args };
}

export function encodeResponse(r: Response): Buffer {
  const T = types().Response;
  return Buffer.from(T.encode(T.create({ id: r.id.toString(), granted: r.granted, errno: r.errno, reason: r.reason })).finish());
}

export function decodeResponse(buf: Buffer): Response {
  const T = types().Response;
  const m = T.toObject(T.decode(buf), { longs: String, defaults: true }) as Record<string, unknown>;
  return { id: big(m.id), granted: Boolean(m.granted), errno: String(m.errno ?? ''), reason: String(m.reason ?? '') };
}
