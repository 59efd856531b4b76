// One system call in a loop (bench/loop.c, static), under every variant:
//   getpid     no argument: decided in the kernel by every filter
//   openclose  openat of a permitted file + close: systrace confining and
//              notify-floor open it themselves and inject the descriptor
//   stat       newfstatat of a permitted file: systrace confining emulates it
//              on an O_PATH descriptor; notify-floor does not notify stat
// The loop times itself (clock_gettime through the vDSO around the loop), so
// start-up (node, the filter, the loader) is not counted. Variants that stop
// on the measured call run fewer iterations.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { selfTimed, type BenchContext, type ScenarioResult } from './measure.js';
import { standardTargets, variants, type Policies } from './peers.js';

// What the static loop needs besides its measured call; static glibc reads
// /proc/self/exe once at start (in the kernel for the in-kernel policy).
const BASE = `emulation: linux
default: deny
rules:
  "@default": permit
  "@basic-io": permit
  fstat: permit
`;
const KERNEL = `${BASE}  readlink: permit\n`;
const CONFINING = `${BASE}  readlink:\n    - filename eq "/proc/self/exe" then permit\n`;

interface LoopSpec {
  name: string;
  short: string;
  args: string[];
  /** Iterations for variants that decide the call in BPF, and for those that stop on it. */
  nFast: number;
  nSlow: number;
  /** Variants that stop (ptrace) or are notified on this call. */
  slow: string[];
  policies: Policies;
  unit: 'ns/call' | 'µs/call';
  floor: boolean;
  /** Variants also run pinned to one CPU (taskset -c 0): tracer and program share it. */
  pinned?: string[];
}

/**
 * On this kind of VM a notification that wakes a tracer idle on the other
 * vCPU costs 3-5x what a same-CPU hand-off does, and which one happens
 * varies from run to run (10 vs 50 µs for the C floor). Pinned rows are the
 * stable comparison; the unpinned ones show what an unpinned service sees.
 */
const PIN = ['taskset', '-c', '0'];

function loopScenario(ctx: BenchContext, spec: LoopSpec): ScenarioResult {
  const loop = path.join(ctx.helpers, 'loop');
  const perMs = spec.unit === 'ns/call' ? 1e6 : 1e3;
  const nFast = Math.max(1, Math.round(spec.nFast * ctx.scale));
  const nSlow = Math.max(1, Math.round(spec.nSlow * ctx.scale));
  const rows = variants(ctx, spec.policies).map(v => {
    const n = spec.slow.includes(v.name) ? nSlow : nFast;
    return selfTimed(ctx, v.name, v.wrap([loop, ...spec.args, String(n)]), n, perMs);
  });
  for (const v of variants(ctx, spec.policies).filter(x => spec.pinned?.includes(x.name) === true)) {
    const n = spec.slow.includes(v.name) ? nSlow : nFast;
    const launch = v.wrap([loop, ...spec.args, String(n)]);
    rows.push(selfTimed(ctx, `${v.name} @cpu0`, { ...launch, argv: [...PIN, ...launch.argv] }, n, perMs));
  }
  const targets = standardTargets({ floor: spec.floor });
  if (spec.floor && spec.pinned !== undefined)
    targets.push({ label: 'systrace confining @cpu0 / notify-floor (C) @cpu0', numerator: 'systrace confining @cpu0', denominator: 'notify-floor (C) @cpu0', max: 2 });
  return {
    name: `${spec.name} (${nFast} calls; ${nSlow} under ${spec.slow.join(', ')})`,
    short: spec.short,
    unit: spec.unit,
    rows,
    targets,
  };
}

function policyFile(ctx: BenchContext, name: string, text: string): string {
  const file = path.join(ctx.tmp, `${name}.yaml`);
  fs.writeFileSync(file, text);
  return file;
}

export function getpidScenario(ctx: BenchContext): ScenarioResult {
  // getpid has no pointer argument: a confining policy permits it in BPF too.
  return loopScenario(ctx, {
    name: 'getpid loop', short: 'getpid', args: ['getpid'],
    nFast: 3_000_000, nSlow: 30_000, slow: ['strace -f'],
    policies: {
      kernel: policyFile(ctx, 'getpid-kernel', `${KERNEL}  getpid: permit\n`),
      confining: policyFile(ctx, 'getpid-confining', `${CONFINING}  getpid: permit\n`),
    },
    unit: 'ns/call', floor: false,
  });
}

export function openCloseScenario(ctx: BenchContext): ScenarioResult {
  const file = path.join(ctx.tmp, 'permitted.txt');
  fs.writeFileSync(file, 'permitted\n');
  return loopScenario(ctx, {
    name: 'open+close loop', short: 'open+close', args: ['openclose', file],
    nFast: 200_000, nSlow: 20_000,
    slow: ['strace -f', 'strace --seccomp-bpf', 'notify-floor (C)', 'systrace confining'],
    policies: {
      kernel: policyFile(ctx, 'openclose-kernel', `${KERNEL}  openat: permit\n`),
      confining: policyFile(ctx, 'openclose-confining',
        `${CONFINING}  fsread:\n    - filename eq ${JSON.stringify(file)} then permit\n`),
    },
    unit: 'µs/call', floor: true, pinned: ['notify-floor (C)', 'systrace confining'],
  });
}

export function statScenario(ctx: BenchContext): ScenarioResult {
  const file = path.join(ctx.tmp, 'permitted.txt');
  fs.writeFileSync(file, 'permitted\n');
  return loopScenario(ctx, {
    name: 'stat loop (notify-floor does not notify stat)', short: 'stat', args: ['stat', file],
    nFast: 300_000, nSlow: 20_000, slow: ['strace -f', 'systrace confining'],
    policies: {
      kernel: policyFile(ctx, 'stat-kernel', `${KERNEL}  newfstatat: permit\n`),
      confining: policyFile(ctx, 'stat-confining',
        `${CONFINING}  fsread:\n    - filename eq ${JSON.stringify(file)} then permit\n`),
    },
    unit: 'µs/call', floor: false, pinned: ['systrace confining'],
  });
}
