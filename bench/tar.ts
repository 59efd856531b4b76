// tar -cf /dev/null /usr/include: a real program walking a tree, with a
// realistic policy (reads confined to /usr and a few /etc files, writes to
// /dev/null only). Every openat and newfstatat is notified. Wall time of
// the whole run, startup included.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { underSystrace, wallTime, type BenchContext, type ScenarioResult } from './measure.js';

const POLICY = `# A policy an administrator might write for "archive /usr/include".
emulation: linux
default: deny
rules:
  "@default": permit
  "@basic-io": permit
  fcntl: permit
  ioctl: permit
  getdents64: permit
  rt_sigaction: permit
  rt_sigprocmask: permit
  fstat: permit
  fsread:
    - filename inpath "/usr" then permit
    - filename eq "/etc/ld.so.cache" then permit
    - filename eq "/etc/nsswitch.conf" then permit
    - filename eq "/etc/passwd" then permit
    - filename eq "/etc/group" then permit
    - filename eq "/etc/localtime" then permit
  fswrite:
    - filename eq "/dev/null" then permit
`;

export function tarScenario(ctx: BenchContext): ScenarioResult {
  const policy = path.join(ctx.tmp, 'tar.yaml');
  fs.writeFileSync(policy, POLICY);
  const tar = ['tar', '-cf', '/dev/null', '/usr/include'];
  // tar exits 1 when some file changed or was unreadable; the archive is still written.
  const ok = (_out: string, code: number | null) => code === 0;
  const files = fs.readdirSync('/usr/include', { recursive: true }).length;

  return {
    name: `tar -cf /dev/null /usr/include (${files} entries)`,
    unit: 'ms',
    rows: [
      wallTime(ctx, 'native', tar, ok),
      wallTime(ctx, 'systrace', underSystrace(ctx, policy, tar), ok),
    ],
    targets: [],
  };
}
