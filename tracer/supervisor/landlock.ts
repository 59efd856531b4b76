// `landlock: true`: the ruleset the exec helper installs, built from the
// plan (compile.ts: landlockPlan) with the user's own rights, and the one
// check that saves a confusing failure: Landlock checks read access at
// exec too, so the program and its ELF interpreter must be readable.
import fs from 'node:fs';
import { native } from '../native.js';
import { covers, type LandlockPlan } from '../policy/compile.js';

export interface Ruleset {
  fd: number;
  /** Rules that grant nothing here (missing path, a symlink on the way, wrong kind). */
  skipped: { index: number; path: string; why: string }[];
}

/** PT_INTERP of an ELF file (the dynamic loader it names), if any. */
function elfInterpreter(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(64);
    if (fs.readSync(fd, head, 0, 64, 0) < 64 || head.readUInt32BE(0) !== 0x7f454c46) return undefined;
    const is64 = head[4] === 2;
    const phoff = is64 ? Number(head.readBigUInt64LE(32)) : head.readUInt32LE(28);
    const phentsize = head.readUInt16LE(is64 ? 54 : 42);
    const phnum = Math.min(head.readUInt16LE(is64 ? 56 : 44), 64);
    const table = Buffer.alloc(phentsize * phnum);
    fs.readSync(fd, table, 0, table.length, phoff);
    for (let i = 0; i < phnum; i++) {
      const e = table.subarray(i * phentsize);
      if (e.readUInt32LE(0) !== 3) continue; // PT_INTERP
      const off = is64 ? Number(e.readBigUInt64LE(8)) : e.readUInt32LE(4);
      const size = Math.min(is64 ? Number(e.readBigUInt64LE(32)) : e.readUInt32LE(16), 4096);
      const name = Buffer.alloc(size);
      fs.readSync(fd, name, 0, size, off);
      return name.toString('latin1').replace(/\0.*$/s, '');
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** What the kernel reads to exec `file`: the file, a #! interpreter, and the ELF interpreter of the binary reached. */
function execChain(file: string): string[] {
  const chain = [file];
  let head = '';
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const b = Buffer.alloc(256);
      head = b.subarray(0, fs.readSync(fd, b, 0, 256, 0)).toString('latin1');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return chain;
  }
  let binary = file;
  if (head.startsWith('#!')) {
    const interp = head.slice(2).split('\n')[0]!.trim().split(/\s+/)[0];
    if (interp) {
      chain.push(interp);
      binary = interp;
    }
  }
  const loader = elfInterpreter(binary);
  if (loader) chain.push(loader);
  return chain;
}

/**
 * The sockets the program inherits (0, 1, 2, and whatever else is not
 * close-on-exec). `why`: one that is not TCP (a unix socket on stdout, as
 * under systemd, say), whose bind or connect Landlock would not check and
 * the filter could not tell: then Landlock must not decide ports. `tcp`:
 * the families of the TCP ones, which can bind and connect as well as
 * any socket() makes.
 */
export function inheritedSockets(): { why?: string; tcp: ('inet' | 'inet6')[] } {
  const n = native();
  let fds: number[];
  try {
    fds = fs.readdirSync('/proc/self/fd').map(Number).filter(Number.isInteger);
  } catch (e) {
    return { why: `the descriptors the program inherits cannot be listed: ${(e as Error).message}`, tcp: [] };
  }
  const AF: Record<number, string> = { 1: 'a unix', 2: 'an IPv4', 10: 'an IPv6' };
  const tcp = new Set<'inet' | 'inet6'>();
  for (const fd of fds.sort((a, b) => a - b)) {
    const k = n.socketKind(fd);
    if (!k || (fd > 2 && k.cloexec)) continue;
    if ((k.domain === 2 || k.domain === 10) && k.type === 1 && k.protocol === 6) {
      tcp.add(k.domain === 2 ? 'inet' : 'inet6');
      continue;
    }
    return { why: `fd ${fd}, which the program inherits, is ${AF[k.domain] ?? `a family ${k.domain}`} socket that is not TCP; Landlock would not check its bind or connect`, tcp: [] };
  }
  return { tcp: [...tcp] };
}

/**
 * The ruleset for `plan`. Throws, naming the file, when the program or its
 * interpreter would not be readable under it: its exec would fail with
 * EACCES before its first instruction.
 */
export function buildRuleset(plan: LandlockPlan, program: string): Ruleset {
  const n = native();
  const { fd, skipped } = n.landlockRuleset(
    plan.handled,
    plan.rules.map(r => ({ path: r.path, kind: r.kind, access: r.access })),
    ...(plan.net ? [{ handled: plan.net.handled, ports: plan.net.ports.map(p => ({ port: p.port, access: p.access })) }] : []),
  );
  if (!(plan.handled & 4n)) return { fd, skipped }; // files are not Landlock's: exec reads nothing through it
  const granted = plan.rules.filter((_, i) => !skipped.some(s => s.index === i));
  const reads = granted.filter(r => r.access & 4n); // READ_FILE
  for (const file of execChain(program)) {
    let real: string;
    try {
      real = fs.realpathSync(file);
    } catch {
      continue; // exec reports it
    }
    if (!reads.some(r => covers(r, real))) {
      n.closeFd(fd);
      const what = file === program ? 'the program' : `its interpreter ${file}`;
      throw new Error(
        `landlock: the policy does not let the program read ${real} (${what}); ` +
          'Landlock checks read access at exec: permit it under fsread, or drop landlock: true',
      );
    }
  }
  return { fd, skipped };
}
