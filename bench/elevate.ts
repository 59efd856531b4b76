// One elevated bind of port 80 by an unprivileged program, whole run, in ms:
// systrace with the broker daemon (its start excluded), systrace with the
// setuid launcher (a broker started per session, included), authbind
// (Debian's LD_PRELOAD way; dynamic programs only), and the same program's
// run as root and, under systrace, binding an unprivileged port (so the
// difference is the elevation itself). Needs root (it sets up the broker,
// authbind's port file and /etc/systrace for the launcher, and removes
// them after); otherwise it reports why it did not run.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { wallTime, type BenchContext, type Row, type ScenarioResult } from './measure.js';

const NOBODY = ['/usr/bin/setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups'];
/** A privileged port nothing here uses (80 may be in TIME_WAIT after the tests' web servers). */
const PORT = '83';

function skipped(why: string): ScenarioResult {
  return { name: `elevated bind of a port below 1024 (not run: ${why})`, unit: 'ms/run', rows: [], targets: [] };
}

export function elevateScenario(ctx: BenchContext): ScenarioResult {
  if (process.getuid?.() !== 0) return skipped('needs root');
  const id = randomBytes(4).toString('hex');
  // A copy nobody can reach, as the tests make.
  const pkg = path.join(ctx.tmp, 'pkg');
  fs.mkdirSync(pkg, { mode: 0o755 });
  for (const d of ['bin', 'dist', 'build', 'node_modules', 'package.json', 'test/fixtures/bin']) {
    fs.cpSync(path.join(ctx.root, d), path.join(pkg, d), { recursive: true });
  }
  execFileSync('chmod', ['-R', 'a+rX', ctx.tmp]);
  fs.chmodSync(ctx.tmp, 0o755);
  const systrace = path.join(pkg, 'bin/systrace');
  // python3, not a raw-syscall fixture: authbind works only through libc's bind().
  const python = fs.realpathSync('/usr/bin/python3');
  const bindCmd = (port: string) => [python, '-c', 'import socket, sys; s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); print("OK")', port];
  const etc = `/etc/systrace-bench-${id}`;
  const logdir = `/var/log/systrace-bench-${id}`;
  const prefix = `/usr/local/lib/systrace-bench-${id}`;
  const socket = `/run/systrace-bench-${id}.sock`;
  const authbindPort = `/etc/authbind/byport/${PORT}`;
  const createdEtcSystrace = !fs.existsSync('/etc/systrace');
  const createdAuthbind = fs.existsSync('/etc/authbind/byport') && !fs.existsSync(authbindPort);
  const grant = (audit: string) => `audit: ${audit}\ngrants:\n  - users: [nobody]\n    program: ${python}\n    allow:\n      bind:\n        - sockaddr match "inet-*:${PORT}" then permit\n`;
  const policy = path.join(ctx.tmp, 'elevate-user.yaml');
  fs.writeFileSync(policy, `emulation: linux\ndefault: permit\nrules:\n  bind:\n    - sockaddr match "inet-*:${PORT}" then permit as root\n`, { mode: 0o644 });
  fs.mkdirSync(etc, { mode: 0o755 });
  fs.mkdirSync(logdir, { mode: 0o750 });
  fs.writeFileSync(path.join(etc, 'elevate.yaml'), grant(path.join(logdir, 'daemon.log')), { mode: 0o644 });
  const broker = spawn(process.execPath, [path.join(ctx.root, 'dist/broker/main.js'), '--daemon', `--socket=${socket}`, `--policy=${path.join(etc, 'elevate.yaml')}`], { stdio: 'ignore' });
  const rows: Row[] = [];
  const ok = (out: string, code: number | null) => code === 0 && out.startsWith('OK');
  try {
    for (let i = 0; i < 100 && !fs.existsSync(socket); i++) execFileSync('sleep', ['0.05']);
    rows.push(wallTime(ctx, 'native, as root', bindCmd(PORT), ok));
    rows.push(wallTime(ctx, 'systrace, port 8080 (no elevation)', [...NOBODY, systrace, 'run', '-a', '-f', policy, '--', ...bindCmd('8080')], ok));
    rows.push(wallTime(ctx, 'systrace + broker daemon', [...NOBODY, systrace, 'run', '-a', '-f', policy, '--broker', socket, '--', ...bindCmd(PORT)], ok));
    if (createdEtcSystrace) {
      fs.mkdirSync('/etc/systrace', { mode: 0o755 });
      fs.writeFileSync('/etc/systrace/elevate.yaml', grant(path.join(logdir, 'launcher.log')), { mode: 0o644 });
      execFileSync(process.execPath, [path.join(ctx.root, 'dist/tracer/cli/main.js'), 'broker', 'install', '--prefix', prefix, '--systemd-dir', '/nonexistent'], { stdio: 'pipe' });
      rows.push(wallTime(ctx, 'systrace + setuid launcher', [...NOBODY, systrace, 'run', '-a', '-f', policy, '--broker', path.join(prefix, 'broker-launch'), '--', ...bindCmd(PORT)], ok));
    } else {
      rows.push({ variant: 'systrace + setuid launcher', samples: [], error: '/etc/systrace exists: not touched' });
    }
    if (fs.existsSync('/usr/bin/authbind') && (createdAuthbind || fs.existsSync(authbindPort))) {
      if (createdAuthbind) {
        fs.writeFileSync(authbindPort, '');
        fs.chownSync(authbindPort, 65534, 65534);
        fs.chmodSync(authbindPort, 0o500);
      }
      rows.push(wallTime(ctx, 'authbind', [...NOBODY, '/usr/bin/authbind', ...bindCmd(PORT)], ok));
    } else {
      rows.push({ variant: 'authbind', samples: [], error: 'authbind is not installed' });
    }
  } finally {
    broker.kill('SIGKILL');
    fs.rmSync(etc, { recursive: true, force: true });
    fs.rmSync(logdir, { recursive: true, force: true });
    fs.rmSync(prefix, { recursive: true, force: true });
    fs.rmSync(socket, { force: true });
    if (createdEtcSystrace) fs.rmSync('/etc/systrace', { recursive: true, force: true });
    if (createdAuthbind) fs.rmSync(authbindPort, { force: true });
  }
  return {
    name: `elevated bind of port ${PORT} by nobody, one whole run (elevation = row minus "port 8080")`,
    unit: 'ms/run',
    rows,
    targets: [],
  };
}
