// Benchmark runner: `npm run bench` (builds, then node dist/bench/run.js).
//
//   node dist/bench/run.js [--trials N] [--scale X] [--only NAME[,NAME]] [--json FILE] [--keep]
//   (--keep: leave the temporary directory, with the generated policies, in place)
//
// Each scenario runs its variants (bench/peers.ts: native, the peers, the C
// floor, systrace) as fresh processes, several trials each, and prints
// medians with their min..max spread, the ratio to native measured in the
// same run, and the design's targets next to the numbers; a summary of the
// ratios ends the run. The bench's own C helpers (bench/Makefile) are built
// into the temporary directory first. Run it as root or as any user that can
// read the repository; it touches nothing outside a temporary directory
// (the elevate scenario, as root, says what it sets up and removes).

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchContext, Row, ScenarioResult } from './measure.js';
import { getpidScenario, openCloseScenario, statScenario } from './loops.js';
import { gccScenario, tarScenario } from './programs.js';
import { nginxScenario } from './nginx.js';
import { elevateScenario } from './elevate.js';
import { VARIANTS } from './peers.js';

type Scenario = (ctx: BenchContext) => ScenarioResult | ScenarioResult[] | Promise<ScenarioResult | ScenarioResult[]>;

const SCENARIOS: Record<string, Scenario> = {
  getpid: getpidScenario,
  'open-close': openCloseScenario,
  stat: statScenario,
  tar: tarScenario,
  gcc: gccScenario,
  nginx: nginxScenario,
  elevate: elevateScenario,
};

interface Options { trials: number; scale: number; only?: string[]; json?: string; keep?: boolean }

function parseArgs(argv: string[]): Options {
  const opts: Options = {
    trials: Number(process.env.BENCH_TRIALS ?? 5),
    scale: Number(process.env.BENCH_SCALE ?? 1),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = argv[i + 1];
    if (arg === '--trials' && value !== undefined) { opts.trials = Number(value); i++; }
    else if (arg === '--scale' && value !== undefined) { opts.scale = Number(value); i++; }
    else if (arg === '--only' && value !== undefined) { opts.only = value.split(','); i++; }
    else if (arg === '--keep') opts.keep = true;
    else if (arg === '--json' && value !== undefined) { opts.json = value; i++; }
    else {
      process.stderr.write(`usage: run.js [--trials N] [--scale X] [--only ${Object.keys(SCENARIOS).join('|')}] [--json FILE] [--keep]\n`);
      process.exit(2);
    }
  }
  if (!(opts.trials >= 1) || !(opts.scale > 0)) {
    process.stderr.write('run.js: --trials must be >= 1 and --scale > 0\n');
    process.exit(2);
  }
  for (const name of opts.only ?? [])
    if (!(name in SCENARIOS)) {
      process.stderr.write(`run.js: unknown scenario ${name} (${Object.keys(SCENARIOS).join(', ')})\n`);
      process.exit(2);
    }
  return opts;
}

/** The repository: the nearest ancestor with systrace's package.json (works from bench/ and dist/bench/). */
function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = path.join(dir, 'package.json');
    if (fs.existsSync(pj) && (JSON.parse(fs.readFileSync(pj, 'utf8')) as { name?: string }).name === 'systrace')
      return dir;
    const up = path.dirname(dir);
    if (up === dir)
      throw new Error('cannot find the systrace repository above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

function machine(): Record<string, string> {
  return {
    date: new Date().toISOString(),
    kernel: `${os.type()} ${os.release()}`,
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    nproc: String(os.availableParallelism()),
    node: process.version,
    user: os.userInfo().username,
  };
}

function fmt(x: number | undefined): string {
  if (x === undefined)
    return '-';
  if (x >= 100)
    return x.toFixed(0);
  if (x >= 10)
    return x.toFixed(1);
  return x.toFixed(2);
}

function valueOf(rows: Row[], variant: string): number | undefined {
  return rows.find(r => r.variant === variant)?.value;
}

function report(s: ScenarioResult): string[] {
  const lines = [`## ${s.name}`];
  const native = valueOf(s.rows, 'native');
  const width = Math.max(...s.rows.map(r => r.variant.length), 8);
  lines.push(`  ${'variant'.padEnd(width)}  ${('median ' + s.unit).padStart(16)}  ${'x native'.padStart(8)}  range`);
  for (const r of s.rows) {
    if (r.value === undefined) {
      lines.push(`  ${r.variant.padEnd(width)}  ${'FAILED'.padStart(16)}  ${''.padStart(8)}  ${r.error ?? ''}`);
      continue;
    }
    const ratio = native !== undefined && native > 0 ? `${(r.value / native).toFixed(2)}x` : '-';
    const range = `${fmt(Math.min(...r.samples))}..${fmt(Math.max(...r.samples))}`;
    lines.push(`  ${r.variant.padEnd(width)}  ${fmt(r.value).padStart(16)}  ${ratio.padStart(8)}  ${range}`);
  }
  for (const tgt of s.targets) {
    const num = valueOf(s.rows, tgt.numerator);
    const den = valueOf(s.rows, tgt.denominator);
    const bound = tgt.max !== undefined ? `<= ${tgt.max}x` : `>= ${tgt.min}x`;
    if (num === undefined || den === undefined || den <= 0) {
      lines.push(`  target ${tgt.label} ${bound}: not measured`);
      continue;
    }
    const ratio = num / den;
    const met = (tgt.max === undefined || ratio <= tgt.max) && (tgt.min === undefined || ratio >= tgt.min);
    lines.push(`  target ${tgt.label} ${bound}: ${ratio.toFixed(2)}x ${met ? 'MET' : 'MISSED'}`);
  }
  return lines;
}

/** Every scenario's ratio to native, one column per scenario, one row per variant. */
function summary(results: ScenarioResult[]): string[] {
  const cols = results.filter(r => r.short !== undefined && valueOf(r.rows, 'native') !== undefined);
  if (cols.length === 0)
    return [];
  const names = [...VARIANTS, ...new Set(cols.flatMap(c => c.rows.map(r => r.variant)))].filter((v, i, a) => a.indexOf(v) === i);
  const width = Math.max(...names.map(n => n.length));
  const cell = (c: ScenarioResult, v: string): string => {
    const row = c.rows.find(r => r.variant === v);
    if (row === undefined)
      return '';
    if (row.value === undefined)
      return 'failed';
    return `${(row.value / valueOf(c.rows, 'native')!).toFixed(2)}x`;
  };
  const widths = cols.map(c => Math.max(c.short!.length, 7));
  const lines = ['## summary: median / native (time: lower is better; nginx rps: higher is better)'];
  lines.push(`  ${'variant'.padEnd(width)}  ${cols.map((c, i) => c.short!.padStart(widths[i]!)).join('  ')}`);
  for (const v of names) {
    const cells = cols.map((c, i) => cell(c, v).padStart(widths[i]!));
    if (cells.some(x => x.trim() !== ''))
      lines.push(`  ${v.padEnd(width)}  ${cells.join("  ")}`.trimEnd());
  }
  return lines;
}

/** bench/Makefile into DIR; the allow-all BPF program for bwrap. */
function buildHelpers(root: string, dir: string, bpf: string): void {
  execFileSync('make', ['-s', '-C', path.join(root, 'bench'), `OUT=${dir}`], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync(path.join(dir, 'export-bpf'), [bpf], { stdio: 'inherit' });
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const root = findRoot();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'systrace-bench-'));
  const ctx: BenchContext = {
    root,
    fixtures: path.join(root, 'test/fixtures/bin'),
    systrace: path.join(root, 'bin/systrace'),
    trials: opts.trials,
    scale: opts.scale,
    tmp,
    helpers: path.join(tmp, 'bin'),
    allowAllBpf: path.join(tmp, 'allow-all.bpf'),
  };
  for (const need of [path.join(ctx.fixtures, 'seccomp-allow-all'), path.join(ctx.fixtures, 'notify-floor')])
    if (!fs.existsSync(need)) {
      process.stderr.write(`run.js: ${need} is missing: run make -C test/fixtures\n`);
      process.exit(1);
    }

  const info = machine();
  console.log('# systrace benchmark');
  for (const [k, v] of Object.entries(info))
    console.log(`${k.padEnd(7)} ${v}`);
  console.log(`command node dist/bench/run.js ${process.argv.slice(2).join(' ')}`.trimEnd());
  console.log(`trials  ${ctx.trials} per variant, nginx ${Math.min(ctx.trials, 3)} (median shown, range min..max; loops timed inside the loop)`);
  console.log('');

  const results: ScenarioResult[] = [];
  try {
    buildHelpers(root, ctx.helpers, ctx.allowAllBpf);
    for (const [name, scenario] of Object.entries(SCENARIOS)) {
      if (opts.only !== undefined && !opts.only.includes(name))
        continue;
      const out = await scenario(ctx);
      for (const result of Array.isArray(out) ? out : [out]) {
        results.push(result);
        console.log(report(result).join('\n'));
        console.log('');
      }
    }
    const sum = summary(results);
    if (sum.length > 0)
      console.log(sum.join('\n'));
  } finally {
    if (opts.keep === true) console.log(`kept: ${ctx.tmp} (the policies each variant ran under)`);
    else fs.rmSync(ctx.tmp, { recursive: true, force: true });
  }
  if (opts.json !== undefined)
    fs.writeFileSync(opts.json, JSON.stringify({ machine: info, trials: ctx.trials, scale: ctx.scale, results }, null, 2) + '\n');
}

await main();
