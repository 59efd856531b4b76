// open+close of a permitted file in a loop: the cost of a notified call
// whose permit rests on the path, so the supervisor opens the file itself
// and injects the descriptor (never CONTINUE).
// Native vs the C floor (test/fixtures/notify-floor.c: the same emulation
// with no policy) vs systrace with a filename rule.
// Target: systrace within 2x of the C floor.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { perIteration, underSystrace, type BenchContext, type ScenarioResult } from './measure.js';

export function openCloseScenario(ctx: BenchContext): ScenarioResult {
  const file = path.join(ctx.tmp, 'permitted.txt');
  fs.writeFileSync(file, 'permitted\n');
  const policy = path.join(ctx.tmp, 'open-close.yaml');
  fs.writeFileSync(policy, `# Every openat is notified; this file's is permitted by its name.
emulation: linux
default: deny
rules:
  "@default": permit
  "@basic-io": permit
  fsread:
    - filename eq ${JSON.stringify(file)} then permit
`);
  const tryStatic = path.join(ctx.fixtures, 'try-static');
  const n = Math.max(1, Math.round(20_000 * ctx.scale));
  const loop = (k: number) => [tryStatic, 'openclose', file, String(k)];
  const ok = (out: string, code: number | null) => code === 0 && out.startsWith('OK');
  const us = 1e3; // ms per iteration -> µs

  return {
    name: `open+close of a permitted file (${n} calls, notified and emulated)`,
    unit: 'µs/call',
    rows: [
      perIteration(ctx, 'native', loop, n, us, ok),
      perIteration(ctx, 'notify-floor (C)', k => [path.join(ctx.fixtures, 'notify-floor'), ...loop(k)], n, us, ok),
      perIteration(ctx, 'systrace', k => underSystrace(ctx, policy, loop(k)), n, us, ok),
    ],
    targets: [{ label: 'systrace / notify-floor (C)', numerator: 'systrace', denominator: 'notify-floor (C)', max: 2 }],
  };
}
