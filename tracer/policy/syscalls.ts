// System-call names and numbers for the two emulations. The tables are
// generated (tools/gen-syscalls.mjs); this file only indexes them.
import type { Emulation } from './types.js';
import { SYSCALLS_I386, SYSCALLS_X86_64 } from './syscall-table.js';

interface Table {
  byName: ReadonlyMap<string, number>;
  byNumber: ReadonlyMap<number, string>;
  names: readonly string[];
}

function index(raw: Readonly<Record<string, number>>): Table {
  // Maps, not the records themselves: a policy key such as `constructor`
  // must not find Object.prototype.
  const byName = new Map(Object.entries(raw));
  const byNumber = new Map<number, string>();
  for (const [name, nr] of byName) byNumber.set(nr, name);
  return { byName, byNumber, names: [...byName.keys()].sort() };
}

// Indexed on first use: a run without i386 programs never needs linux32's.
const RAW: Record<Emulation, Readonly<Record<string, number>>> = { linux: SYSCALLS_X86_64, linux32: SYSCALLS_I386 };
const TABLES: Partial<Record<Emulation, Table>> = {};

function table(emulation: Emulation): Table {
  return (TABLES[emulation] ??= index(RAW[emulation]));
}

/** What error messages call each emulation. */
export const EMULATION_LABEL: Record<Emulation, string> = {
  linux: 'linux (x86_64)',
  linux32: 'linux32 (i386)',
};

export function isEmulation(s: string): s is Emulation {
  return s === 'linux' || s === 'linux32';
}

export function syscallNumber(emulation: Emulation, name: string): number | undefined {
  return table(emulation).byName.get(name);
}

export function syscallName(emulation: Emulation, nr: number): string | undefined {
  return table(emulation).byNumber.get(nr);
}

/** Every call of the emulation, sorted by name. */
export function syscallNames(emulation: Emulation): string[] {
  return [...table(emulation).names];
}

export function isSyscall(emulation: Emulation, name: string): boolean {
  return table(emulation).byName.has(name);
}
