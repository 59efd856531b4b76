// Timing fresh processes: every trial is a new process (better-sqlite3's
// rule), so no run warms a cache for the next within the same process.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';

export interface BenchContext {
  /** Repository root. */
  root: string;
  /** Directory holding the fixture programs (test/fixtures/bin). */
  fixtures: string;
  /** bin/systrace. */
  systrace: string;
  /** Trials per measurement. */
  trials: number;
  /** Scratch directory for policies and files, removed after the run. */
  tmp: string;
  /** Scale factor for loop counts (BENCH_SCALE), for quick runs. */
  scale: number;
  /** The bench's own C helpers (bench/Makefile, built into tmp): loop, timed, export-bpf. */
  helpers: string;
  /** An allow-all seccomp filter as raw BPF, for bwrap --seccomp. */
  allowAllBpf: string;
}

/** A command, with a file to open as its fd 3 (bwrap --seccomp 3). */
export interface Launch {
  argv: string[];
  fd3?: string;
}

export type Cmd = string[] | Launch;

function asLaunch(cmd: Cmd): Launch {
  return Array.isArray(cmd) ? { argv: cmd } : cmd;
}

/** One measured quantity for one way of running the program. */
export interface Row {
  variant: string;
  /** Median, in the scenario's unit; undefined when the variant failed. */
  value?: number;
  samples: number[];
  error?: string;
}

export interface Target {
  /** e.g. "systrace / seccomp-allow-all". */
  label: string;
  numerator: string;
  denominator: string;
  /** The ratio must be at most this. */
  max?: number;
  /** The ratio must be at least this (throughput). */
  min?: number;
}

export interface ScenarioResult {
  name: string;
  /** Column name in the summary table (e.g. "tar", "nginx rps"). */
  short?: string;
  unit: string;
  rows: Row[];
  targets: Target[];
}

export class RunFailed extends Error {}

/** Wall time of one fresh process in milliseconds; throws RunFailed unless check(stdout) holds. */
export function timeOnce(command: Cmd, check: (stdout: string, code: number | null) => boolean): number {
  return runOnce(command, check).ms;
}

/** One fresh process: its wall time in milliseconds, and what it printed. */
export function runOnce(command: Cmd, check: (stdout: string, code: number | null) => boolean): { ms: number; stdout: string; stderr: string } {
  const { argv: cmd, fd3 } = asLaunch(command);
  const [file, ...args] = cmd;
  const extra = fd3 === undefined ? undefined : fs.openSync(fd3, 'r');
  const start = process.hrtime.bigint();
  const r = spawnSync(file!, args, {
    encoding: 'utf8', maxBuffer: 64 << 20,
    stdio: extra === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe', extra],
  });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (extra !== undefined)
    fs.closeSync(extra);
  if (r.error !== undefined)
    throw new RunFailed(`${cmd.join(' ')}: ${r.error.message}`);
  if (!check(r.stdout, r.status)) {
    const tail = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
    throw new RunFailed(`${cmd.slice(0, 6).join(' ')}...: exit ${r.status ?? r.signal}: ${tail}`);
  }
  return { ms, stdout: r.stdout, stderr: r.stderr };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * Cost of one iteration of a loop inside a program, startup excluded: each
 * trial runs the program with 0 and with n iterations, back to back, and
 * keeps (t_n - t_0) / n. The median over trials is the result. Startup
 * (node, the filter, the dynamic loader) is the same in both runs and
 * cancels out, which is what makes an in-kernel permit comparable with a
 * bare seccomp filter.
 */
export function perIteration(
  ctx: BenchContext, variant: string, cmd: (n: number) => Cmd, n: number, unitScale: number,
  check: (stdout: string, code: number | null) => boolean,
): Row {
  const samples: number[] = [];
  try {
    timeOnce(cmd(n), check); // warm the page cache and the binary
    for (let i = 0; i < ctx.trials; i++) {
      const base = timeOnce(cmd(0), check);
      const loaded = timeOnce(cmd(n), check);
      samples.push(((loaded - base) / n) * unitScale);
    }
  } catch (err) {
    if (err instanceof RunFailed)
      return { variant, samples, error: err.message };
    throw err;
  }
  return { variant, value: median(samples), samples };
}

/**
 * Cost of one iteration, timed by the program itself: cmd(n) prints
 * "OK N NS" with NS its loop's elapsed nanoseconds (bench/loop.c), so
 * nothing outside the loop is counted. Result in ns per iteration x unitScale/1e6.
 */
export function selfTimed(ctx: BenchContext, variant: string, cmd: Cmd, n: number, unitScale: number): Row {
  const samples: number[] = [];
  const run = (): number => {
    let ns = NaN;
    timeOnce(cmd, (out, code) => {
      const m = /^OK (\d+) (\d+)$/m.exec(out);
      if (code !== 0 || m === null)
        return false;
      ns = Number(m[2]);
      return true;
    });
    return ns;
  };
  try {
    run(); // warm the page cache and the binary
    for (let i = 0; i < ctx.trials; i++)
      samples.push((run() / n) * (unitScale / 1e6));
  } catch (err) {
    if (err instanceof RunFailed)
      return { variant, samples, error: err.message };
    throw err;
  }
  return { variant, value: median(samples), samples };
}

/** Wall time of the whole program, median over trials. */
export function wallTime(
  ctx: BenchContext, variant: string, cmd: Cmd, check: (stdout: string, code: number | null) => boolean,
  trials = ctx.trials,
): Row {
  const samples: number[] = [];
  try {
    timeOnce(cmd, check);
    for (let i = 0; i < trials; i++)
      samples.push(timeOnce(cmd, check));
  } catch (err) {
    if (err instanceof RunFailed)
      return { variant, samples, error: err.message };
    throw err;
  }
  return { variant, value: median(samples), samples };
}

/** `systrace run -a -f POLICY -- cmd...` */
export function underSystrace(ctx: BenchContext, policy: string, cmd: string[]): string[] {
  return [ctx.systrace, 'run', '-a', '-f', policy, '--', ...cmd];
}
