// `systrace broker install|status|uninstall` and the setuid launcher, for
// real: an installation in a temporary prefix under a root-owned 0755 chain,
// the launcher run as nobody, and every kind of unsafe installation refused
// with a message naming the path.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { AdminPolicyError, checkRootOwned, loadAdminPolicy } from '../../broker/admin-policy.js';
import { repoRoot } from '../helpers/unpriv.js';

const CLI = path.join(repoRoot, 'dist/tracer/cli/main.js');
const BUILT_LAUNCHER = path.join(repoRoot, 'build/Release/broker-launch');
const BASE = '/usr/local/lib';

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root: install makes a setuid-root launcher and root-owned files';
  if (spawnSync('setpriv', ['--version']).status !== 0) return 'setpriv (util-linux) is not installed';
  const missing = [CLI, BUILT_LAUNCHER].filter(p => !fs.existsSync(p));
  if (missing.length) return `not built (npm run build): missing ${missing.join(', ')}`;
  try {
    checkRootOwned(BASE);
  } catch (e) {
    return `${BASE} is not a root-owned 0755 chain here: ${(e as Error).message}`;
  }
  return false;
}
const skip = skipReason();
if (skip && process.env.SYSTRACE_TEST_NO_SKIP === '1') throw new Error(`SYSTRACE_TEST_NO_SKIP=1 but: ${skip}`);

function cli(args: string[], asNobody = false): SpawnSyncReturns<string> {
  const argv = asNobody ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, CLI, ...args] : [process.execPath, CLI, ...args];
  return spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 120_000 });
}

/**
 * The launcher as nobody. stdio[3] is 'pipe', which libuv makes with
 * socketpair(AF_UNIX): the session socket. stdio[4] is another one, which
 * the launcher must close before exec.
 */
function launchAsNobody(launcher: string, fd3: 'pipe' | 'ignore' = 'pipe'): SpawnSyncReturns<string> {
  return spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', launcher], {
    encoding: 'utf8',
    timeout: 30_000,
    stdio: ['ignore', 'pipe', 'pipe', fd3, 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '--require=/nonexistent/evil.js', SYSTRACE_TEST_CALLER_ENV: '1' },
  });
}

// Stands in for the broker in the test's own installed copy: reports how
// the launcher ran it (argv, ids, environment, which sockets are open).
const PROBE = `import fs from 'node:fs';
const sockets = [];
for (const fd of fs.readdirSync('/proc/self/fd')) {
  try { if (fs.readlinkSync('/proc/self/fd/' + fd).startsWith('socket:')) sockets.push(Number(fd)); } catch {}
}
process.stdout.write(JSON.stringify({
  argv: process.argv.slice(2), uid: process.getuid(), euid: process.geteuid(), gid: process.getgid(),
  egid: process.getegid(), groups: process.getgroups(), env: process.env, cwd: process.cwd(), sockets,
}));
`;

t.test('install, status, launcher, unsafe installations, uninstall', { skip }, async t => {
  const base = path.join(BASE, `systrace-test-${randomBytes(5).toString('hex')}`);
  fs.mkdirSync(base, { mode: 0o755 });
  fs.chmodSync(base, 0o755);
  t.teardown(() => fs.rmSync(base, { recursive: true, force: true }));
  const prefix = path.join(base, 'lib');
  const etc = path.join(base, 'etc');
  const policy = path.join(etc, 'elevate.yaml');
  const audit = path.join(base, 'log', 'elevate.log');
  const systemd = path.join(base, 'systemd');
  fs.mkdirSync(etc, { mode: 0o755 });
  fs.mkdirSync(systemd, { mode: 0o755 });
  // An admin policy already in place: install keeps it, and takes the audit
  // directory from it (the template's would be /var/log/systrace).
  fs.writeFileSync(policy, `audit: ${audit}\ngrants:\n  - users: [nobody]\n    allow:\n      bind:\n        - sockaddr match "inet-*:80" then permit\n`, { mode: 0o644 });
  const common = ['--prefix', prefix, '--policy', policy, '--systemd-dir', systemd];

  const refused = cli(['broker', 'install', ...common], true);
  t.equal(refused.status, 125, 'install as nobody: exit 125');
  t.match(refused.stderr, /broker install must be run as root/);
  t.notOk(fs.existsSync(prefix));

  const inst = cli(['broker', 'install', ...common]);
  t.equal(inst.status, 0, `install: exit 0\n${inst.stdout}${inst.stderr}`);
  t.match(inst.stdout, `installed the launcher ${prefix}/broker-launch (root:root, setuid root, 04755)`);
  t.match(inst.stdout, `kept the existing admin policy ${policy}`);
  t.match(inst.stdout, `created the audit directory ${path.dirname(audit)} (0750 root)`);
  t.match(inst.stdout, /broker: usable/);

  const launcher = path.join(prefix, 'broker-launch');
  const st = fs.statSync(launcher);
  t.equal(st.uid, 0, 'launcher owned by root');
  t.equal(st.gid, 0);
  t.equal(st.mode & 0o7777, 0o4755, 'launcher mode 04755');
  t.equal(fs.statSync(path.dirname(audit)).mode & 0o7777, 0o750, 'audit directory 0750');
  for (const rel of ['package.json', 'dist/tracer/cli/main.js', 'build/Release/systrace.node', 'build/Release/systrace-launch', 'node_modules/yaml/package.json', 'node_modules/commander/package.json']) {
    t.ok(fs.existsSync(path.join(prefix, rel)), `installed ${rel}`);
  }
  t.notOk(fs.existsSync(path.join(prefix, 'node_modules/tap')), 'development dependencies are not installed');
  t.equal(fs.statSync(path.join(prefix, 'build/Release/systrace-launch')).mode & 0o7777, 0o755);
  t.equal(fs.statSync(path.join(prefix, 'package.json')).mode & 0o7777, 0o644);
  const unit = fs.readFileSync(path.join(systemd, 'systrace-broker.service'), 'utf8');
  t.match(unit, `ExecStart=/usr/bin/node ${prefix}/dist/broker/main.js --daemon`, 'the unit names the prefix');
  t.match(fs.readFileSync(path.join(systemd, 'systrace-broker.socket'), 'utf8'), 'ListenSequentialPacket=/run/systrace/broker.sock');

  // The launcher runs whatever is at dist/broker/main.js; in this copy only,
  // a probe stands in for the broker (it may not be written yet, and the
  // real one would need /etc/systrace/elevate.yaml).
  const main = path.join(prefix, 'dist/broker/main.js');
  if (!fs.existsSync(main)) t.comment('dist/broker/main.js is not built yet: the probe is a placeholder in the test copy');
  fs.writeFileSync(main, PROBE, { mode: 0o644 });

  const status = cli(['broker', 'status', ...common]);
  t.equal(status.status, 0, `status: usable\n${status.stdout}`);
  t.match(status.stdout, `launcher ${launcher} is setuid root (mode 04755)`);
  t.match(status.stdout, /admin policy .* loads: 1 grant, audit log/);
  t.match(status.stdout, /broker: usable/);

  await t.test('the launcher, as nobody: root for good, clean environment, only fd 3 kept', async t => {
    const r = launchAsNobody(launcher);
    t.equal(r.status, 0, `probe ran\n${r.stderr}`);
    const seen = JSON.parse(r.stdout) as { argv: string[]; uid: number; euid: number; gid: number; egid: number; groups: number[]; env: Record<string, string>; cwd: string; sockets: number[] };
    t.same(seen.argv, ['--session', '--caller-uid=65534', '--caller-gid=65534'], 'the caller is who the kernel says');
    t.same([seen.uid, seen.euid, seen.gid, seen.egid], [0, 0, 0, 0], 'real and effective ids are root');
    // node lists the effective gid among the groups; nothing else may be there.
    t.same(seen.groups.filter(g => g !== 0), [], 'no supplementary groups');
    t.same(seen.env, { PATH: '/usr/bin:/bin', LANG: 'C' }, 'environment cleared (the caller\'s NODE_OPTIONS gone)');
    t.equal(seen.cwd, '/');
    // stdout and stderr are libuv socketpairs too; fd 4 was one and must be closed.
    t.same(seen.sockets.filter(fd => fd > 2), [3], 'fd 3 kept, fd 4 closed');

    const noSock = launchAsNobody(launcher, 'ignore');
    t.equal(noSock.status, 125);
    t.match(noSock.stderr, /^systrace broker-launch: fd 3 is not open/);
    const args = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', launcher, '--policy=/tmp/x'], { encoding: 'utf8' });
    t.equal(args.status, 125);
    t.match(args.stderr, /takes no arguments/);
    const notSetuid = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', BUILT_LAUNCHER], { encoding: 'utf8' });
    t.equal(notSetuid.status, 125, 'the build copy is not setuid');
    t.match(notSetuid.stderr, /not running as root \(euid 65534\)/);
  });

  await t.test('unsafe installations are refused, naming the path', async t => {
    const cases: [string, string, number][] = [
      ['group-writable prefix', prefix, 0o775],
      ['group-writable dist/broker', path.join(prefix, 'dist/broker'), 0o775],
      ['other-writable module file', path.join(prefix, 'node_modules/yaml/package.json'), 0o646],
      ['world-writable sticky directory above the prefix', base, 0o1777],
    ];
    for (const [name, p, mode] of cases) {
      const old = fs.statSync(p).mode & 0o7777;
      fs.chmodSync(p, mode);
      try {
        const s = cli(['broker', 'status', ...common]);
        t.equal(s.status, 1, `${name}: status exit 1`);
        t.match(s.stdout, /broker: NOT usable/, name);
        t.match(s.stdout, new RegExp(`FAIL .*${escape(p)}`), `${name}: status names ${p}`);
        const r = launchAsNobody(launcher);
        t.equal(r.status, 125, `${name}: launcher refuses`);
        t.match(r.stderr, new RegExp(`^systrace broker-launch: unsafe installation.*${escape(p)} is writable by (its group|others)`), `${name}: launcher names ${p}`);
        t.equal(r.stdout, '', `${name}: the broker code did not run`);
      } finally {
        fs.chmodSync(p, old);
      }
    }
    // A file not root's.
    fs.chownSync(main, 65534, 65534);
    try {
      const r = launchAsNobody(launcher);
      t.equal(r.status, 125);
      t.match(r.stderr, `${main} is owned by uid 65534, not root`);
    } finally {
      fs.chownSync(main, 0, 0);
    }
    // A symlink in the tree.
    const link = path.join(prefix, 'dist', 'evil.js');
    fs.symlinkSync('/tmp/evil.js', link);
    try {
      const r = launchAsNobody(launcher);
      t.equal(r.status, 125);
      t.match(r.stderr, `${link} is a symbolic link`);
      t.equal(cli(['broker', 'status', ...common]).status, 1);
    } finally {
      fs.unlinkSync(link);
    }
    t.equal(cli(['broker', 'status', ...common]).status, 0, 'usable again once repaired');
  });

  await t.test('a writable admin policy is refused, naming the file', async t => {
    fs.chmodSync(policy, 0o666);
    try {
      t.throws(() => loadAdminPolicy(policy), new AdminPolicyError({ file: policy, reason: 'is writable by others (mode 0666)' }));
      const s = cli(['broker', 'status', ...common]);
      t.equal(s.status, 1);
      t.match(s.stdout, `FAIL admin policy refused: ${policy}: is writable by others (mode 0666)`);
    } finally {
      fs.chmodSync(policy, 0o644);
    }
    fs.chmodSync(etc, 0o775);
    try {
      t.throws(() => loadAdminPolicy(policy), { message: `${policy}: ${etc} (above it): is writable by its group, gid 0 (mode 0775)` });
    } finally {
      fs.chmodSync(etc, 0o755);
    }
  });

  await t.test('install again replaces the code and keeps the policy', async t => {
    const before = fs.readFileSync(policy, 'utf8');
    const again = cli(['broker', 'install', ...common]);
    t.match(again.stdout, `kept the existing admin policy ${policy}`);
    t.match(again.stdout, `kept the existing audit directory ${path.dirname(audit)}`);
    t.equal(fs.readFileSync(policy, 'utf8'), before);
    t.equal(fs.statSync(launcher).mode & 0o7777, 0o4755);
    t.same(fs.readdirSync(base).filter(n => n.includes('.new-') || n.includes('.old-')), [], 'no staging left behind');
    // The real main.js is back; put the probe in again for the status check if it is missing.
    if (!fs.existsSync(main)) fs.writeFileSync(main, PROBE, { mode: 0o644 });
  });

  await t.test('install refuses to replace a directory that is not an installation', async t => {
    const other = path.join(base, 'other');
    fs.mkdirSync(other, { mode: 0o755 });
    fs.writeFileSync(path.join(other, 'keep'), 'x');
    const r = cli(['broker', 'install', '--prefix', other, '--policy', policy, '--systemd-dir', systemd]);
    t.equal(r.status, 125);
    t.match(r.stderr, `${other} exists and is not a systrace installation`);
    t.ok(fs.existsSync(path.join(other, 'keep')));
    const u = cli(['broker', 'uninstall', '--prefix', other, '--policy', policy, '--systemd-dir', systemd]);
    t.equal(u.status, 125);
    t.ok(fs.existsSync(path.join(other, 'keep')), 'uninstall did not remove it');
  });

  await t.test('uninstall removes the prefix and the units, keeps the policy and the log', async t => {
    fs.writeFileSync(audit, '{}\n');
    const u = cli(['broker', 'uninstall', ...common]);
    t.equal(u.status, 0, u.stderr);
    t.match(u.stdout, `removed ${prefix}`);
    t.match(u.stdout, `kept the admin policy ${policy} and the audit log ${audit}`);
    t.notOk(fs.existsSync(prefix));
    t.notOk(fs.existsSync(path.join(systemd, 'systrace-broker.service')));
    t.notOk(fs.existsSync(path.join(systemd, 'systrace-broker.socket')));
    t.ok(fs.existsSync(policy));
    t.ok(fs.existsSync(audit));
    const s = cli(['broker', 'status', ...common]);
    t.equal(s.status, 1);
    t.match(s.stdout, `FAIL not installed: no ${prefix}`);
  });
});

t.test('install writes the template when there is no admin policy', { skip }, async t => {
  // The template's audit directory is /var/log/systrace. Where it is not
  // there yet, install creates it (root's, 0750), and the test removes it
  // again; an existing one is kept as it is.
  const auditDir = '/var/log/systrace';
  const hadAuditDir = fs.existsSync(auditDir);
  if (!hadAuditDir) t.teardown(() => fs.rmSync(auditDir, { recursive: true, force: true }));
  const base = path.join(BASE, `systrace-test-${randomBytes(5).toString('hex')}`);
  fs.mkdirSync(base, { mode: 0o755 });
  fs.chmodSync(base, 0o755);
  t.teardown(() => fs.rmSync(base, { recursive: true, force: true }));
  const policy = path.join(base, 'etc', 'elevate.yaml');
  const r = cli(['broker', 'install', '--prefix', path.join(base, 'lib'), '--policy', policy, '--systemd-dir', path.join(base, 'none')]);
  t.match(r.stdout, `wrote the admin policy template ${policy}`);
  t.equal(fs.readFileSync(policy, 'utf8'), fs.readFileSync(path.join(repoRoot, 'policies/elevate.yaml'), 'utf8'));
  t.equal(fs.statSync(policy).mode & 0o7777, 0o644);
  t.equal(loadAdminPolicy(policy).grants.length, 0);
  if (hadAuditDir) {
    t.match(r.stdout, `kept the existing audit directory ${auditDir}`);
  } else {
    t.match(r.stdout, `created the audit directory ${auditDir} (0750 root)`);
    const st = fs.statSync(auditDir);
    t.same([st.uid, st.gid, st.mode & 0o7777], [0, 0, 0o750], 'root\'s, and no one else may write it');
  }
});

function escape(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}
