// The execve race check asks which mapping holds each byte of the path
// and argv: by PROCMAP_QUERY (Linux 6.11) where the kernel has it, from the
// text of /proc/PID/maps where it does not. Both must give the same
// answer; this kernel has both, so they are compared on live processes.

import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { native } from '../../tracer/native.js';
import { parseMaps } from '../../tracer/supervisor/supervisor.js';

type Tap = Test;

function compare(t: Tap, pid: number): void {
  const n = native();
  const text = n.procFile(`/proc/${pid}/maps`, 1 << 20);
  t.type(text, 'string', 'the maps text is read');
  if (typeof text !== 'string')
    return;
  // The vsyscall page is the kernel's, not the process's: PROCMAP_QUERY
  // does not report it (a path there is refused as unmapped either way).
  const all = parseMaps(text).filter(m => m.file !== '[vsyscall]');
  t.ok(all.length >= 5, `the text has mappings (${all.length})`);
  // Each mapping's first and last byte, and an address in no mapping.
  const addrs = all.flatMap(m => [m.lo, m.hi - 1n]);
  const gap = all.findIndex((m, i) => i + 1 < all.length && m.hi < all[i + 1]!.lo);
  if (gap >= 0)
    addrs.push(all[gap]!.hi);
  const asked = n.procMappings(pid, addrs);
  t.not(typeof asked, 'number', `PROCMAP_QUERY answers on this kernel (${typeof asked === 'number' ? asked : 'it did'})`);
  if (typeof asked === 'number')
    return;
  const fromText = addrs.map(a => all.find(m => a >= m.lo && a < m.hi) ?? null);
  // The text escapes a newline in a name; neither process here has one.
  t.same(asked, fromText, 'each address: the same mapping, sharing, inode and file');
  if (gap >= 0)
    t.equal(asked[asked.length - 1], null, 'an address between mappings is in none');
}

t.test('PROCMAP_QUERY and the maps text agree: another process', async t => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  await new Promise(r => setTimeout(r, 100));
  compare(t, child.pid!);
});

t.test('PROCMAP_QUERY and the maps text agree: this process (shared memory, anonymous, files)', async t => {
  compare(t, process.pid);
});

t.test('procMappings: a process that is gone', async t => {
  const child = spawn('true', [], { stdio: 'ignore' });
  await new Promise(r => child.on('exit', r));
  t.equal(native().procMappings(child.pid!, [0x1000n]), -2, 'ENOENT (its /proc entry is gone), not a crash');
});
