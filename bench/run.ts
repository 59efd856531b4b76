// Benchmark runner: `npm run bench` (builds, then node dist/bench/run.js).
//
//   node dist/bench/run.js [--trials N] [--scale X] [--only NAME] [--json FILE]
//
// Each scenario runs its variants as fresh processes, several trials each,
// and prints medians, the ratio to native measured in the same run, and the
// design's targets next to the numbers. Run it as root or as any user that
// can read the repository; it touches nothing outside a temporary directory.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { getpidScenario } from './getpid.js';
import type { BenchContext, Row, ScenarioResult } from './measure.js';
import { openCloseScenario } from './open-close.js';
import { tarScenario } from './tar.js';
import { elevateScenario } from './elevate.js';

const SCENARIOS: Record<string, (ctx: BenchContext) => ScenarioResult> = {
  getpid: getpidScenario,
  'open-close': openCloseScenario,
  tar: tarScenario,
  elevate: elevateScenario,
};

interface Options { trials: number; scale: number; only?: string; json?: string }

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
    else if (arg === '--only' && value !== undefined) { opts.only = value; i++; }
    else if (arg === '--json' && value !== undefined) { opts.json = value; i++; }
    else {
      process.stderr.write(`usage: run.js [--trials N] [--scale X] [--only ${Object.keys(SCENARIOS).join('|')}] [--json FILE]\n`);
      process.exit(2);
    }
  }
  if (!(opts.trials >= 1) || !(opts.scale > 0)) {
    process.stderr.write('run.js: --trials must be >= 1 and --scale > 0\n');
    process.exit(2);
  }
  if (opts.only !== undefined && !(opts.only in SCENARIOS)) {
    process.stderr.write(`run.js: unknown scenario ${opts.only}\n`);
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
    if (num === undefined || den === undefined || den <= 0) {
      lines.push(`  target ${tgt.label} <= ${tgt.max}x: not measured`);
      continue;
    }
    const ratio = num / den;
    lines.push(`  target ${tgt.label} <= ${tgt.max}x: ${ratio.toFixed(2)}x ${ratio <= tgt.max ? 'MET' : 'MISSED'}`);
  }
  return lines;
}

function main(): void {
  const opts = parseArgs(process.argv.slice(2));
  const root = findRoot();
  const ctx: BenchContext = {
    root,
    fixtures: path.join(root, 'test/fixtures/bin'),
    systrace: path.join(root, 'bin/systrace'),
    trials: opts.trials,
    scale: opts.scale,
    tmp: fs.mkdtempSync(path.join(os.tmpdir(), 'systrace-bench-')),
  };
  for (const need of [path.join(ctx.fixtures, 'try-static'), path.join(ctx.fixtures, 'notify-floor')])
    if (!fs.existsSync(need)) {
      process.stderr.write(`run.js: ${need} is missing: run make -C test/fixtures\n`);
      process.exit(1);
    }

  const info = machine();
  console.log('# systrace benchmark');
  for (const [k, v] of Object.entries(info))
    console.log(`${k.padEnd(7)} ${v}`);
  console.log(`trials  ${ctx.trials} per variant (median shown; loops measured as t(N) - t(0))`);
  console.log('');

  const results: ScenarioResult[] = [];
  try {
    for (const [name, scenario] of Object.entries(SCENARIOS)) {
      if (opts.only !== undefined && opts.only !== name)
        continue;
      const result = scenario(ctx);
      results.push(result);
      console.log(report(result).join('\n'));
      console.log('');
    }
  } finally {
    fs.rmSync(ctx.tmp, { recursive: true, force: true });
  }
  if (opts.json !== undefined)
    fs.writeFileSync(opts.json, JSON.stringify({ machine: info, trials: ctx.trials, scale: ctx.scale, results }, null, 2) + '\n');
}

main();
