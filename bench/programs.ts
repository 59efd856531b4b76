// Whole programs under every variant, wall time of one run (start-up
// included), median over trials:
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
// Two tables per program: the whole run, and the run minus the same variant
// running /bin/true in the same trial (start-up excluded: systrace's own
// start is node's, about 0.2 s, which dwarfs a 30 ms tar).

import * as fs from 'node:fs';
import * as path from 'node:path';
import { median, RunFailed, timeOnce, type BenchContext, type Cmd, type Row, type ScenarioResult } from './measure.js';
import { confining, foldRules, kernelOnly, landlockDocs, learnSync, programPath, standardTargets, variants, writePolicy } from './peers.js';

interface ProgramSpec {
  name: string;
  short: string;
  cmd: string[];
  fsread: string[];
  fswrite: string[];
  ok: (out: string, code: number | null) => boolean;
}

/**
 * Per trial: the workload, then /bin/true the same way. Whole-run rows are
 * the workload's times; start-up-excluded rows are each workload time minus
 * the median /bin/true time (one slow start of node would otherwise swing a
 * paired difference by more than tar's whole run).
 */
function measure(ctx: BenchContext, variant: string, work: Cmd, startOnly: Cmd,
  ok: (out: string, code: number | null) => boolean): [Row, Row] {
  const whole: number[] = [];
  const start: number[] = [];
  try {
    timeOnce(work, ok); // warm the page cache
    timeOnce(startOnly, (_o, code) => code === 0);
    for (let i = 0; i < ctx.trials; i++) {
      whole.push(timeOnce(work, ok));
      start.push(timeOnce(startOnly, (_o, code) => code === 0));
    }
  } catch (err) {
    if (!(err instanceof RunFailed))
      throw err;
    return [{ variant, samples: whole, error: err.message }, { variant, samples: [], error: err.message }];
  }
  const net = whole.map(t => t - median(start));
  return [{ variant, value: median(whole), samples: whole }, { variant, value: median(net), samples: net }];
}

function programScenario(ctx: BenchContext, spec: ProgramSpec): ScenarioResult[] {
  let whole: Row[] = [];
  let net: Row[] = [];
  try {
    const learned = learnSync(ctx, spec.short, spec.cmd);
    const kernel = writePolicy(ctx, `${spec.short}-kernel`, kernelOnly(learned),
      `${spec.name}: every learned call permitted unconditionally (in the kernel)`);
    const confDoc = confining(learned, {
      fsread: foldRules(learned, 'fsread', spec.fsread),
      fswrite: foldRules(learned, 'fswrite', spec.fswrite),
    });
    const where = [...new Set([...spec.fsread, ...spec.fswrite])].join(', ');
    const conf = writePolicy(ctx, `${spec.short}-confining`, confDoc, `${spec.name}: files confined to ${where}`);
    const docs = landlockDocs(confDoc, [programPath(spec.cmd[0]!), '/bin/true']);
    const landlock = writePolicy(ctx, `${spec.short}-confining-landlock`, docs.landlock,
      `${spec.name}: the confining policy, read-only opens decided by Landlock`);
    const freeStat = writePolicy(ctx, `${spec.short}-confining-landlock-free-stat`, docs.freeStat,
      `${spec.name}: the confining policy with Landlock, metadata calls permitted outright`);
    for (const v of variants(ctx, { kernel, confining: conf, landlock, freeStat })) {
      const [w, n] = measure(ctx, v.name, v.wrap(spec.cmd), v.wrap(['/bin/true']), spec.ok);
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
      name: `${spec.name}: start-up excluded (minus the median /bin/true run the same way)`, short: `${spec.short}-start`,
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
