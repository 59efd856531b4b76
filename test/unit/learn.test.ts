import t from 'tap';
import { emptyRecording, generalisePaths, learnedPolicy, record } from '../../tracer/policy/learn.js';
import { parsePolicy } from '../../tracer/policy/parse.js';
import { prepare, decide, type CallView } from '../../tracer/engine/decide.js';

const opts = { home: '/home/u', cwd: '/home/u/proj' };

t.test('generalisation of paths', async t => {
  const table: [string, string[], 'fsread' | 'fswrite', string[]][] = [
    ['libraries fold into their directory', ['/usr/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/locale/C.utf8/LC_CTYPE'], 'fsread', ['filename inpath "/usr/lib"']],
    ['locale data too', ['/usr/share/locale/de/LC_MESSAGES/x.mo'], 'fsread', ['filename inpath "/usr/share/locale"']],
    ['but not for writing', ['/usr/lib/x'], 'fswrite', ['filename eq "/usr/lib/x"']],
    ['few files stay exact', ['/etc/a', '/etc/b'], 'fsread', ['filename eq "/etc/a"', 'filename eq "/etc/b"']],
    ['many files collapse', ['/srv/1', '/srv/2', '/srv/3', '/srv/4', '/srv/5', '/srv/6'], 'fsread', ['filename match "/srv/*"']],
    ['home and cwd become variables', ['/home/u/.rc', '/home/u/proj/x'], 'fsread', ['filename eq "$HOME/.rc"', 'filename eq "$CWD/x"']],
    // Random parts become expressions confined to their component: a glob's
    // * would cross '/' and grant everything below a temp directory.
    ['python temp names', ['/tmp/tmpa1b2c3d4'], 'fswrite', ['filename re "^/tmp/tmp[a-z0-9_]{8}$"']],
    ['python\'s probe of the temp directory', ['/tmp/k2j3h4_a'], 'fswrite', ['filename re "^/tmp/[a-z0-9_]{8}$"']],
    ['mkstemp names', ['/tmp/build-Xa9kQz'], 'fswrite', ['filename re "^/tmp/build-[A-Za-z0-9]{6}$"']],
    ['python names with a prefix, even all letters', ['/tmp/job-abcdefgh'], 'fswrite', ['filename re "^/tmp/job-[a-z0-9_]{8}$"']],
    ['random parts elsewhere', ['/home/u/.cache/app/9fK2x7Qa/data'], 'fswrite', ['filename re "^$HOME/\\\\.cache/app/[^/]*/data$"']],
    ['versions are not random', ['/opt/app-1.2.3/lib'], 'fsread', ['filename eq "/opt/app-1.2.3/lib"']],
    ['glob characters in names are escaped', ['/srv/a*b/1', '/srv/a*b/2', '/srv/a*b/3', '/srv/a*b/4', '/srv/a*b/5', '/srv/a*b/6'], 'fsread', ['filename match "/srv/a\\\\*b/*"']],
  ];
  for (const [name, paths, access, want] of table) t.same(generalisePaths(paths, access, opts), want, name);
  t.same(generalisePaths(['/srv/1', '/srv/2', '/srv/3'], 'fsread', { ...opts, collapse: 2 }), ['filename match "/srv/*"'], 'the threshold is the user\'s');
});

// The learned policy must permit every call the run made, and parse.
t.test('a learned policy permits exactly what was recorded, and loads', async t => {
  const rec = emptyRecording('linux');
  const calls: CallView[] = [
    { emulation: 'linux', syscall: 'read', args: [0n, 0n, 0n, 0n, 0n, 0n] },
    { emulation: 'linux', syscall: 'openat', args: [-100n, 0n, 0n, 0n, 0n, 0n], filenames: ['/etc/hostname'] },
    { emulation: 'linux', syscall: 'openat', args: [-100n, 0n, 0o1101n, 0n, 0n, 0n], filenames: ['/tmp/tmpx9y8z7w6'] },
    { emulation: 'linux', syscall: 'newfstatat', args: [-100n, 0n, 0n, 0n, 0n, 0n], filenames: ['/usr/lib/x86_64-linux-gnu/libc.so.6'] },
    { emulation: 'linux', syscall: 'connect', args: [3n, 0n, 16n, 0n, 0n, 0n], sockaddr: 'inet-[127.0.0.1]:5432' },
    { emulation: 'linux', syscall: 'execve', args: [0n, 0n, 0n, 0n, 0n, 0n], filenames: ['/usr/bin/python3.11'] },
    { emulation: 'linux', syscall: 'rename', args: [0n, 0n, 0n, 0n, 0n, 0n], filenames: ['/home/u/proj/a', '/home/u/proj/b'] },
  ];
  const { aliasOf } = await import('../../tracer/policy/aliases.js');
  for (const c of calls) record(rec, c, aliasOf('linux', c.syscall, c.args));
  const yaml = learnedPolicy(rec, { ...opts, program: '/usr/bin/python3.11', comment: 'test' });
  const policy = parsePolicy(yaml, 'learned.yaml', { HOME: '/home/u', USER: 'u', CWD: '/home/u/proj' });
  const p = prepare(policy, { enforce: true, aliases: true });
  for (const c of calls) t.equal(decide(p, c).action.verdict.kind, 'permit', `${c.syscall} ${c.filenames ?? c.sockaddr ?? ''} permitted`);
  const untouched: CallView[] = [
    { ...calls[1]!, filenames: ['/etc/shadow'] },
    { ...calls[4]!, sockaddr: 'inet-[10.0.0.1]:5432' },
    { ...calls[5]!, filenames: ['/bin/sh'] },
    { emulation: 'linux', syscall: 'write', args: [0n, 0n, 0n, 0n, 0n, 0n] },
    { ...calls[6]!, filenames: ['/home/u/proj/a', '/etc/passwd'] },
    { ...calls[2]!, filenames: ['/tmp/tmpx9y8z7w6/escape'] },
    { ...calls[2]!, filenames: ['/tmp/other'] },
  ];
  for (const c of untouched) t.equal(decide(p, c).action.verdict.kind, 'deny', `${c.syscall} ${c.filenames ?? c.sockaddr ?? ''} denied`);
  t.match(yaml, /^# test\npolicy: "\/usr\/bin\/python3.11"\nemulation: linux\ndefault: deny\n/);
  t.match(yaml, /  read: permit\n/);
  t.match(yaml, /    - filename eq "\/etc\/hostname" then permit\n/, 'rules read plainly');
});
