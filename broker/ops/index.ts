// The registry of privileged operations: each module in this directory
// (but this one and types) exports one `operation`, and is named here. The
// set is closed by what is installed: the broker's code is root-owned, all
// the way up, or the launcher refuses to start it. Adding an operation is
// adding a file and its line below. (The list was once read from the
// directory at run time; named imports also let `systrace run`, which
// needs the registry too, be bundled into one file.)
import type { Operation } from './types.js';
import { operation as bind } from './bind.js';
import { operation as open } from './open.js';
import { operation as rawSocket } from './raw-socket.js';

const OPERATIONS: readonly Operation[] = [bind, open, rawSocket];

export async function loadOperations(): Promise<Map<string, Operation>> {
  const ops = new Map<string, Operation>();
  for (const op of OPERATIONS) {
    if (ops.has(op.name)) throw new Error(`two operations named ${op.name}`);
    ops.set(op.name, op);
  }
  return ops;
}

/** The operation that carries out a call, by its x86_64 name. */
export function operationFor(ops: Map<string, Operation>, syscall: string): Operation | undefined {
  for (const op of ops.values()) if (op.calls.includes(syscall)) return op;
  return undefined;
}
