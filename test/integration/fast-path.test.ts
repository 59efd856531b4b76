// The native fast path: stat and readlink calls whose policy permits and
// denies files and trees only are answered in native code when the path is
// permitted, and reach the supervisor (which reports) otherwise. Each
// answer must be the one the supervisor would give: checked against the
// file system from outside, and against the same run with the rules in a
// form the fast path does not take (a `re` rule, and a `log` rule).

import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { makeFiles, writeTempPolicy } from '../helpers/files.js';
import { baseRules, policyYaml, type Rules } from '../helpers/policy.js';
import { findDenial, show } from '../helpers/systrace.js';
import { integrationSkip, systraceUnpriv } from '../helpers/unpriv.js';

const skip = integrationSkip();

t.test('stat and readlink: permitted paths answered natively, the rest by the policy', { skip }, async t => {
  const dir = makeFiles(t, { 'pub/a.txt': 'twelve bytes', 'pub/sub/b': 'b', 'sec/s': 'secret!' });
  fs.symlinkSync(path.join(dir, 'sec/s'), path.join(dir, 'pub/out'));
  fs.symlinkSync('a.txt', path.join(dir, 'pub/in'));
  // A name that is not UTF-8, beside the one JS would turn it into (U+FFFD).
  fs.writeFileSync(Buffer.concat([Buffer.from(`${dir}/pub/`), Buffer.from([0xff])]), '1');
  fs.writeFileSync(path.join(dir, 'pub/\ufffd'), 'replacement');
  const code = [
    'import os',
    `d = ${JSON.stringify(dir)}`,
    'def tryit(label, f):',
    '    try:',
    '        print(label, f())',
    '    except OSError as e:',
    '        print(label, "ERR", os.strerror(e.errno))',
    'tryit("size", lambda: os.stat(d + "/pub/a.txt").st_size)',
    'tryit("ino", lambda: os.stat(d + "/pub/a.txt").st_ino)',
    'tryit("lstat-in", lambda: oct(os.lstat(d + "/pub/in").st_mode))',
    'tryit("stat-in", lambda: os.stat(d + "/pub/in").st_size)',
    'tryit("readlink-in", lambda: os.readlink(d + "/pub/in"))',
    'tryit("lstat-out", lambda: oct(os.lstat(d + "/pub/out").st_mode))',
    'tryit("stat-out", lambda: os.stat(d + "/pub/out").st_size)',
    'tryit("stat-sec", lambda: os.stat(d + "/sec/s").st_size)',
    'tryit("missing", lambda: os.stat(d + "/pub/nope").st_size)',
    'fd = os.open(d + "/pub", os.O_RDONLY | os.O_DIRECTORY)',
    'tryit("at-dirfd", lambda: os.stat("sub/b", dir_fd=fd).st_size)',
    'tryit("at-dotdot", lambda: os.stat("../sec/s", dir_fd=fd).st_size)',
    'os.chdir(d + "/pub")',
    'tryit("relative", lambda: os.stat("a.txt").st_size)',
    'tryit("readlinkat", lambda: os.readlink("in", dir_fd=fd))',
    'tryit("not-a-link", lambda: os.readlink(d + "/pub/a.txt"))',
    'tryit("not-utf8", lambda: os.stat(os.fsencode(d) + b"/pub/\\xff").st_size)',
  ].join('\n');
  const ino = fs.statSync(path.join(dir, 'pub/a.txt')).ino;
  const expected = [
    'size 12', `ino ${ino}`, 'lstat-in 0o120777', 'stat-in 12', 'readlink-in a.txt',
    'lstat-out 0o120777', 'stat-out ERR Operation not permitted', 'stat-sec ERR Operation not permitted',
    'missing ERR No such file or directory', 'at-dirfd 1', 'at-dotdot ERR Operation not permitted',
    'relative 12', 'readlinkat a.txt', 'not-a-link ERR Invalid argument',
    // Neither the file the program named nor the U+FFFD one a JS string would make of it.
    'not-utf8 ERR Invalid or incomplete multibyte or wide character',
  ].join('\n') + '\n';
  // The base rules permit newfstatat and statx outright (in the kernel): here they must be notified.
  const rules = (pub: string): Rules => {
    const base = baseRules('linux');
    delete base.newfstatat;
    delete base.statx;
    return { ...base, fsread: [pub, ...(base.fsread as string[]), 'filename inpath "/etc" then permit'], chdir: 'permit', sysinfo: 'permit' };
  };
  const run = (text: string) => systraceUnpriv(['run', '-a', '--stats', '-f', writeTempPolicy(t, text), '--', '/usr/bin/python3', '-S', '-c', code]);
  const fast = await run(policyYaml({ bare: true, rules: rules(`filename inpath "${dir}/pub" then permit`) }));
  t.equal(fast.stdout, expected, `fast path\n${show(fast)}`);
  t.match(fast.stderr, /systrace: a path that is not UTF-8 cannot be checked here: refused with EILSEQ/, 'the refusal says why');
  t.ok(findDenial(fast.stderr, { syscall: 'newfstatat', filename: `${dir}/sec/s` }), 'a denial still reaches the supervisor and is reported');
  const natively = Number(/; (\d+) answered in native code/.exec(fast.stderr)?.[1] ?? -1);
  t.ok(natively >= 10, `most of python's stats were answered natively (${natively})`);
  // The same, with the permit as a regular expression and a logged permit
  // of a path nobody uses: the supervisor decides every call.
  const re = `filename re "^${dir}/pub(/|$)" then permit`;
  const slowRules = rules(re);
  slowRules.fsread = [`filename eq "${dir}/never" then permit log`, ...(slowRules.fsread as string[])];
  const slow = await run(policyYaml({ bare: true, rules: slowRules }));
  t.equal(slow.stdout, fast.stdout, `the supervisor answers the same\n${show(slow)}`);
  t.match(slow.stderr, /; 0 answered in native code/, 'and none natively');
  // A `re` permit beside the tree: paths under the tree are still answered natively.
  const mixed = await run(policyYaml({ bare: true, rules: rules(`filename re "^${dir}/nothing$" then permit`) }));
  t.ok(Number(/; (\d+) answered in native code/.exec(mixed.stderr)?.[1] ?? 0) >= 10, `a re permit does not turn the fast path off\n${show(mixed)}`);
});
