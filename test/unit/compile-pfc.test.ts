// The filter as libseccomp's PFC text, for two small policies: a change in
// what reaches the kernel shows up as a snapshot diff to review.
import t from 'tap';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parsePolicy } from '../../tracer/policy/parse.js';
import { compile } from '../../tracer/policy/compile.js';

const addon = fileURLToPath(new URL('../../build/Release/systrace.node', import.meta.url));
if (!fs.existsSync(addon)) {
  t.skip('native addon not built (npx node-gyp rebuild)');
} else {
  const { native } = await import('../../tracer/native.js');
  const env = { HOME: '/home/u', USER: 'u', CWD: '/w' };
  const user = { name: 'u', groups: ['g'] };

  t.test('linux and linux32, default deny, with integer and filename rules', async t => {
    const linux = parsePolicy(`emulation: linux
default: deny
rules:
  read: permit
  write: permit
  close: permit
  "@process": permit
  socket:
    - sockdom eq "AF_UNIX" then permit
  openat:
    - filename match "/usr/lib/*" then permit
  unlink: deny[enoent]
`, 'linux.yaml', env);
    const linux32 = parsePolicy(`emulation: linux32
default: deny
rules:
  read: permit
  kill:
    - signame eq "SIGKILL" then deny[eacces]
    - true then permit
  socketcall: permit
`, 'linux32.yaml', env);
    const plan = compile([linux, linux32], { enforce: true, aliases: true, user });
    const { pfc } = native().filterBuild(plan.filter);
    t.matchSnapshot(pfc, 'PFC');
    // i386 read is 3 and kill 37 (notified). libseccomp reads rule numbers
    // as x86_64 ones and translates them by name into the x86 filter, so
    // native/filter.cc passes names' native numbers: 3 must stay read.
    const x86 = pfc.slice(pfc.indexOf('# filter for arch x86 '));
    t.match(x86, /\$syscall == 3\)\n\s*action ALLOW/, 'i386 read permitted');
    t.match(x86, /\$syscall == 37\)\n\s*action 0x7fc00000/, 'i386 kill notified');
    t.notMatch(x86, /\$syscall == 6\)/, 'i386 close not named');
  });
}
