// Whole programs under every variant, median over trials:
//   tar -cf /dev/null /usr/include   a tree walk: GNU tar only stats and opens
//                                    (it does not read what goes to /dev/null)
//   gcc -O2 -o hello hello.c         cc1, as, collect2, ld: execs, reads of the
//                                    toolchain, temporary files
// The systrace policies come from one learning run (`systrace run -A`) at the
// start of the scenario: "in-kernel" permits every learned call
// unconditionally; "confining" is the learned policy with files confined
// to the workload's directories (the learned rules under those
// directories folded into `inpath` rules, the few other learned files kept).
//
// Each trial runs the program under bench/timed.c, itself run the variant's
// way: two tables per program from the same runs, the whole run (the
// variant's own start and end included: systrace's is node's, about
// 0.1 s, which dwarfs a 30 ms tar) and the program's own life inside the
// sandbox as timed.c measured it (fork to wait; start-up excluded). An
// earlier version subtracted a /bin/true run from each trial instead,
// which carried one start's noise into every row.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { median, RunFailed, runOnce, type BenchContext, type Cmd, type Row, type ScenarioResult } from './measure.js';
import { confining, foldRules, kernelOnly, landlockDocs, learnSync, programPath, standardTargets, variants, writePolicy } from './peers.js';

interface ProgramSpec {
  name: string;
  short: string;
  cmd: string[];
  fsread: string[];
  fswrite: string[];
  ok: (out: string, code: number | null) => boolean;
}

const TIMED = /^TIMED (\d+) (\d+)$/m;

/**
 * Per trial, the workload under timed.c: the whole run's wall time, and
 * the program's own as timed.c printed it.
 */
function measure(ctx: BenchContext, variant: string, work: Cmd, ok: (out: string, code: number | null) => boolean): [Row, Row] {
  const whole: number[] = [];
  const inner: number[] = [];
  try {
    runOnce(work, ok); // warm the page cache
    for (let i = 0; i < ctx.trials; i++) {
      const r = runOnce(work, ok);
      const m = TIMED.exec(r.stderr);
      if (m === null)
        throw new RunFailed(`timed printed no time: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
      whole.push(r.ms);
      inner.push(Number(m[1]) / 1e6);
    }
  } catch (err) {
    if (!(err instanceof RunFailed))
      throw err;
    return [{ variant, samples: whole, error: err.message }, { variant, samples: [], error: err.message }];
  }
  return [{ variant, value: median(whole), samples: whole }, { variant, value: median(inner), samples: inner }];
}

function programScenario(ctx: BenchContext, spec: ProgramSpec): ScenarioResult[] {
  let whole: Row[] = [];
  let net: Row[] = [];
  try {
    const timed = path.join(ctx.helpers, 'timed');
    const cmd = [timed, programPath(spec.cmd[0]!), ...spec.cmd.slice(1)];
    const learned = learnSync(ctx, spec.short, cmd);
    const kernel = writePolicy(ctx, `${spec.short}-kernel`, kernelOnly(learned),
      `${spec.name}: every learned call permitted unconditionally (in the kernel)`);
    const confDoc = confining(learned, {
      fsread: foldRules(learned, 'fsread', spec.fsread),
      fswrite: foldRules(learned, 'fswrite', spec.fswrite),
    });
    const where = [...new Set([...spec.fsread, ...spec.fswrite])].join(', ');
    const conf = writePolicy(ctx, `${spec.short}-confining`, confDoc, `${spec.name}: files confined to ${where}`);
    const docs = landlockDocs(confDoc, [cmd[0]!, cmd[1]!]);
    const landlock = writePolicy(ctx, `${spec.short}-confining-landlock`, docs.landlock,
      `${spec.name}: the confining policy, read-only opens decided by Landlock`);
    const freeStat = writePolicy(ctx, `${spec.short}-confining-landlock-free-stat`, docs.freeStat,
      `${spec.name}: the confining policy with Landlock, metadata calls permitted outright`);
    for (const v of variants(ctx, { kernel, confining: conf, landlock, freeStat })) {
      const [w, n] = measure(ctx, v.name, v.wrap(cmd), spec.ok);
      whole.push(w);
      net.push(n);
    }
  } catch (err) {
    whole = [{ variant: 'native', samples: [], error: (err as Error).message }];
    net = [];
  }
  return [
    { name: `${spec.name}: whole run`, short: spec.short, unit: 'ms', rows: whole, targets: standardTargets({ confiningMax: 1.3 }) },
    {
      name: `${spec.name}: start-up excluded (the program's own time, fork to wait, timed inside the sandbox)`, short: `${spec.short}-start`,
      unit: 'ms', rows: net, targets: standardTargets({ confiningMax: 1.3 }),
    },
  ];
}

export function tarScenario(ctx: BenchContext): ScenarioResult[] {
  const files = fs.readdirSync('/usr/include', { recursive: true }).length;
  return programScenario(ctx, {
    name: `tar -cf /dev/null /usr/include (${files} entries)`,
    short: 'tar',
    cmd: ['tar', '-cf', '/dev/null', '/usr/include'],
    fsread: ['/usr/include', '/usr/lib'],
    fswrite: ['/dev/null'],
    ok: (_out, code) => code === 0,
  });
}

export function gccScenario(ctx: BenchContext): ScenarioResult[] {
  const dir = path.join(ctx.tmp, 'gcc');
  fs.mkdirSync(dir, { recursive: true });
  const src = path.join(dir, 'hello.c');
  fs.writeFileSync(src, '#include <stdio.h>\n#include <string.h>\n\nint main(int argc, char **argv)\n{\n  printf("%zu\\n", strlen(argc > 1 ? argv[1] : "hello"));\n  return 0;\n}\n');
  // gcc's temporary files (ccXXXXXX.s, .o) go to TMPDIR: the workload's own directory.
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  try {
    return programScenario(ctx, {
      name: 'gcc -O2 -o hello hello.c (compile, assemble, link)',
      short: 'gcc',
      cmd: ['gcc', '-O2', '-o', path.join(dir, 'hello'), src],
      fsread: ['/usr/lib/gcc', '/usr/libexec/gcc', '/usr/bin', '/usr/include', '/usr/local/include', '/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/lib64', dir],
      fswrite: [dir],
      ok: (_out, code) => code === 0,
    });
  } finally {
    if (saved === undefined)
      delete process.env.TMPDIR;
    else
      process.env.TMPDIR = saved;
  }
}
