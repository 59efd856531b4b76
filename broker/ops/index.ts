// The registry of privileged operations: every module in this directory
// (but this one and types) exports one `operation`. The set is closed by
// what is installed: the broker's code is root-owned, all the way up, or
// the launcher refuses to start it. Adding an operation is adding a file.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Operation } from './types.js';

export async function loadOperations(): Promise<Map<string, Operation>> {
  const dir = path.dirname(fileURLToPath(import.meta.url));
  const ops = new Map<string, Operation>();
  for (const file of fs.readdirSync(dir).sort()) {
    // .js when built; .ts when run from the sources (the tests).
    const m = /^(.*)\.(js|ts)$/.exec(file);
    if (!m || file.endsWith('.d.ts') || m[1] === 'index' || m[1] === 'types') continue;
    const mod = (await import(path.join(dir, file))) as { operation?: Operation };
    const op = mod.operation;
    if (!op) throw new Error(`broker/ops/${file} exports no operation`);
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
