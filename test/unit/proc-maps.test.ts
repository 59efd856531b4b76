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

// Found in review: a mapping's file was matched by inode number alone, at
// a name stat() followed. A deleted file of the user's shows as
// "NAME (deleted)", which the user may then create as a symlink to a
// root-owned file that has the same inode number on another filesystem.
t.test('a mapped file is the one at its name: same device and inode, no symlink, not deleted', async t => {
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const { mappedFileChangeable } = await import('../../tracer/supervisor/supervisor.js');
  const root = '/usr/bin/true'; // a root-owned, read-only regular file (through no symlink here)
  const real = fs.realpathSync(root);
  const st = fs.statSync(real, { bigint: true });
  const major = Number(((st.dev >> 8n) & 0xfffn) | ((st.dev >> 32n) & ~0xfffn));
  const minor = Number((st.dev & 0xffn) | ((st.dev >> 12n) & ~0xffn));
  const mapping = (file: string, over: Partial<{ major: number; minor: number; inode: string }> = {}) =>
    ({ lo: 0n, hi: 4096n, private: true, major, minor, inode: String(st.ino), file, ...over });
  t.equal(mappedFileChangeable(mapping(real)), undefined, 'the file itself: nobody but root can change it');
  t.match(mappedFileChangeable(mapping(real, { major: major + 1 })), /not the file at that name/,
    'the same inode number on another device is another file');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'systrace-maps-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const link = path.join(dir, 'link');
  fs.symlinkSync(real, link);
  t.match(mappedFileChangeable(mapping(link)), /not the file at that name/, 'a symlink to the file is not the file');
  const deleted = path.join(dir, 'gone (deleted)');
  fs.symlinkSync(real, deleted);
  t.match(mappedFileChangeable(mapping(deleted)), /not a file at that name/, 'a deleted file is refused by its name');
  // The text of /proc/PID/maps gives the device as hex major:minor.
  const line = `00400000-00401000 r--p 00000000 ${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')} ${st.ino} ${real}`;
  t.same(parseMaps(line)[0], { ...mapping(real), lo: 0x400000n, hi: 0x401000n }, 'parseMaps reads the device');
});
