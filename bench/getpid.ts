// getpid in a loop: the cost of a call decided in the kernel.
// Native vs a bare allow-all seccomp filter vs systrace with a policy that
// permits getpid unconditionally (compiled to BPF, never notified).
// Target: systrace within 5% of the allow-all filter.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { perIteration, underSystrace, type BenchContext, type ScenarioResult } from './measure.js';

const POLICY = `# getpid is decided in the kernel; the rest lets a static program start.
emulation: linux
default: deny
rules:
  "@default": permit
  "@basic-io": permit
  getpid: permit
`;

export function getpidScenario(ctx: BenchContext): ScenarioResult {
  const policy = path.join(ctx.tmp, 'getpid.yaml');
  fs.writeFileSync(policy, POLICY);
  const tryStatic = path.join(ctx.fixtures, 'try-static');
  const n = Math.max(1, Math.round(10_000_000 * ctx.scale));
  const loop = (k: number) => [tryStatic, 'getpid', String(k)];
  const ok = (out: string, code: number | null) => code === 0 && out.startsWith('OK');
  const ns = 1e6; // ms per iteration -> ns

  return {
    name: `getpid loop (${n} calls, in-kernel decision)`,
    unit: 'ns/call',
    rows: [
      perIteration(ctx, 'native', loop, n, ns, ok),
      perIteration(ctx, 'seccomp-allow-all', k => [path.join(ctx.fixtures, 'seccomp-allow-all'), ...loop(k)], n, ns, ok),
      perIteration(ctx, 'systrace', k => underSystrace(ctx, policy, loop(k)), n, ns, ok),
    ],
    targets: [{ label: 'systrace / seccomp-allow-all', numerator: 'systrace', denominator: 'seccomp-allow-all', max: 1.05 }],
  };
}
