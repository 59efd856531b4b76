// `systrace broker install|uninstall|status`: putting the root broker in
// place with ownership and modes it will accept, taking it away, and saying
// whether what is in place is usable. (`serve` is added by the broker's own
// command code.)
//
// The installation is a copy, not the build tree: the setuid launcher runs
// node as root on PREFIX/dist/broker/main.js, so every file node may load
// from PREFIX must be root's and closed to everyone else (the launcher checks
// the same, and refuses otherwise). Symbolic links are not copied as links:
// their targets are copied, so that nothing in PREFIX points outside it.
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { packageRoot } from '../../native.js';
import {
  AdminPolicyError,
  checkRootOwned,
  DEFAULT_ADMIN_POLICY,
  DEFAULT_AUDIT_LOG,
  loadAdminPolicy,
  parseAdminPolicy,
} from '../../../broker/admin-policy.js';

export const DEFAULT_PREFIX = '/usr/local/lib/systrace';
export const DEFAULT_SYSTEMD_DIR = '/etc/systemd/system';
/** The node the launcher runs (compiled into broker-launch; keep the two in step). */
export const BROKER_NODE = '/usr/bin/node';
const LAUNCHER = 'broker-launch';
const BROKER_MAIN = 'dist/broker/main.js';
const UNITS = ['systrace-broker.socket', 'systrace-broker.service'];
/** The path written in the shipped units, replaced by the prefix on install. */
const UNIT_PREFIX = '/usr/local/lib/systrace';
const EXIT_FAILED = 125;

export interface BrokerPaths {
  prefix: string;
  policy: string;
  systemdDir: string;
}

export function registerBroker(program: Command): Command {
  const broker = program.command('broker').description('the root broker: performs elevated calls granted by the admin policy');
  broker
    .command('install')
    .description(`install the broker (as root): code in PREFIX, setuid launcher, admin policy template, audit directory, systemd units (not started)`)
    .option('--prefix <dir>', 'installation directory', DEFAULT_PREFIX)
    .option('--policy <file>', 'admin elevation policy (a template is written if missing; never overwritten)', DEFAULT_ADMIN_POLICY)
    .option('--systemd-dir <dir>', 'where the systemd units go (skipped if the directory does not exist)', DEFAULT_SYSTEMD_DIR)
    .action((opts: { prefix: string; policy: string; systemdDir: string }) => {
      const paths = resolvePaths(opts);
      requireRoot('install');
      try {
        for (const line of installBroker(paths)) out(line);
      } catch (e) {
        failWith(e);
      }
      out('');
      process.exitCode = printStatus(paths) ? 0 : 1;
    });
  broker
    .command('uninstall')
    .description('remove the broker (as root): PREFIX and the systemd units; the admin policy and the audit log are kept')
    .option('--prefix <dir>', 'installation directory', DEFAULT_PREFIX)
    .option('--policy <file>', 'admin elevation policy (kept; named in the report)', DEFAULT_ADMIN_POLICY)
    .option('--systemd-dir <dir>', 'where the systemd units are', DEFAULT_SYSTEMD_DIR)
    .action((opts: { prefix: string; policy: string; systemdDir: string }) => {
      const paths = resolvePaths(opts);
      requireRoot('uninstall');
      try {
        for (const line of uninstallBroker(paths)) out(line);
      } catch (e) {
        failWith(e);
      }
    });
  broker
    .command('status')
    .description('what is installed, and whether it is usable (exit 0) or not (exit 1)')
    .option('--prefix <dir>', 'installation directory', DEFAULT_PREFIX)
    .option('--policy <file>', 'admin elevation policy', DEFAULT_ADMIN_POLICY)
    .option('--systemd-dir <dir>', 'where the systemd units are', DEFAULT_SYSTEMD_DIR)
    .action((opts: { prefix: string; policy: string; systemdDir: string }) => {
      process.exitCode = printStatus(resolvePaths(opts)) ? 0 : 1;
    });
  return broker;
}

function resolvePaths(opts: { prefix: string; policy: string; systemdDir: string }): BrokerPaths {
  return { prefix: path.resolve(opts.prefix), policy: path.resolve(opts.policy), systemdDir: path.resolve(opts.systemdDir) };
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function requireRoot(what: string): void {
  if (process.getuid?.() === 0) return;
  process.stderr.write(`systrace: broker ${what} must be run as root (it installs a setuid-root program and root-owned files)\n`);
  process.exit(EXIT_FAILED);
}

function failWith(e: unknown): never {
  process.stderr.write(`systrace: ${(e as Error).message}\n`);
  process.exit(EXIT_FAILED);
}

// ---------------------------------------------------------------- install

/** Installs into paths.prefix; returns what it did, one line each. Throws on failure. */
export function installBroker(paths: BrokerPaths, source = packageRoot()): string[] {
  const done: string[] = [];
  const { prefix } = paths;
  if (path.dirname(prefix) === prefix) throw new Error(`refusing to install into ${prefix}`);
  if (fs.existsSync(prefix) && !isOurInstall(prefix) && fs.readdirSync(prefix).length > 0) {
    throw new Error(`${prefix} exists and is not a systrace installation: refusing to replace it`);
  }
  const files = sourceFiles(source);

  // Build the new tree beside the old one and swap it in with rename(2), so
  // that a launcher started meanwhile sees the old installation or the new
  // one, never half of each.
  mkdirChain(path.dirname(prefix), 0o755);
  const stage = `${prefix}.new-${process.pid}`;
  fs.rmSync(stage, { recursive: true, force: true });
  try {
    makeDir(stage, 0o755);
    for (const rel of files.trees) copyTree(path.join(source, rel), path.join(stage, rel));
    for (const rel of files.plain) copyFile(path.join(source, rel), path.join(stage, rel));
    // chown first: chown(2) clears the setuid bit, chmod sets it.
    const launcher = path.join(stage, LAUNCHER);
    fs.copyFileSync(path.join(source, 'build', 'Release', LAUNCHER), launcher);
    fs.chownSync(launcher, 0, 0);
    fs.chmodSync(launcher, 0o4755);
    let old: string | undefined;
    if (fs.existsSync(prefix)) {
      old = `${prefix}.old-${process.pid}`;
      fs.renameSync(prefix, old);
    }
    fs.renameSync(stage, prefix);
    if (old) fs.rmSync(old, { recursive: true, force: true });
  } catch (e) {
    fs.rmSync(stage, { recursive: true, force: true });
    throw e;
  }
  done.push(`installed the broker code in ${prefix} (root:root, directories 0755, files 0644, programs 0755)`);
  done.push(`installed the launcher ${path.join(prefix, LAUNCHER)} (root:root, setuid root, 04755)`);
  if (!fs.existsSync(path.join(source, BROKER_MAIN))) {
    done.push(`warning: ${BROKER_MAIN} is not built yet: the broker cannot start until it is (npm run build, then install again)`);
  }

  // The admin policy: the template if there is none; an administrator's own is never touched.
  const template = fs.readFileSync(path.join(source, 'policies', 'elevate.yaml'), 'utf8');
  if (fs.existsSync(paths.policy)) {
    done.push(`kept the existing admin policy ${paths.policy}`);
  } else {
    mkdirChain(path.dirname(paths.policy), 0o755);
    fs.writeFileSync(paths.policy, template, { flag: 'wx', mode: 0o644 });
    fs.chownSync(paths.policy, 0, 0);
    fs.chmodSync(paths.policy, 0o644);
    done.push(`wrote the admin policy template ${paths.policy} (0644 root; it grants nothing until you add a grant)`);
  }

  // The audit directory named by the policy in place (or the template's).
  let audit = DEFAULT_AUDIT_LOG;
  try {
    audit = loadAdminPolicy(paths.policy, { checkOwnership: false }).audit;
  } catch {
    try {
      audit = parseAdminPolicy(template, 'template').audit;
    } catch {
      /* the default, then */
    }
  }
  const auditDir = path.dirname(audit);
  if (fs.existsSync(auditDir)) {
    const st = fs.statSync(auditDir);
    done.push(`kept the existing audit directory ${auditDir} (owner uid ${st.uid}, mode ${octal(st.mode & 0o7777)})`);
  } else {
    mkdirChain(path.dirname(auditDir), 0o755);
    fs.mkdirSync(auditDir, { mode: 0o750 });
    fs.chownSync(auditDir, 0, 0);
    fs.chmodSync(auditDir, 0o750);
    done.push(`created the audit directory ${auditDir} (0750 root)`);
  }

  // systemd units, for daemon mode; installed, not enabled or started.
  if (fs.existsSync(paths.systemdDir) && fs.statSync(paths.systemdDir).isDirectory()) {
    for (const unit of UNITS) {
      const text = fs.readFileSync(path.join(source, 'policies', 'systemd', unit), 'utf8').split(UNIT_PREFIX).join(prefix);
      const dest = path.join(paths.systemdDir, unit);
      const tmp = `${dest}.new-${process.pid}`;
      fs.writeFileSync(tmp, text, { mode: 0o644 });
      fs.chownSync(tmp, 0, 0);
      fs.chmodSync(tmp, 0o644);
      fs.renameSync(tmp, dest);
    }
    done.push(`installed ${UNITS.join(' and ')} in ${paths.systemdDir} (not started: systemctl daemon-reload && systemctl enable --now ${UNITS[0]})`);
  } else {
    done.push(`no ${paths.systemdDir}: systemd units not installed (daemon mode: systrace broker serve --socket PATH)`);
  }
  return done;
}

interface SourceFiles {
  /** Directories copied whole. */
  trees: string[];
  /** Single files. */
  plain: string[];
}

/** What an installation is made of, relative to the package root; throws naming what is missing. */
function sourceFiles(source: string): SourceFiles {
  const plain = ['package.json', 'build/Release/systrace.node', 'build/Release/systrace-launch'];
  const trees = ['dist', ...productionModules(source)];
  // A concurrent `node-gyp rebuild` empties build/Release for a moment: wait a little for it.
  const needed = [...plain, `build/Release/${LAUNCHER}`, 'dist', 'policies/elevate.yaml'];
  const deadline = Date.now() + 30_000;
  for (;;) {
    const missing = needed.filter(rel => !fs.existsSync(path.join(source, rel)));
    if (missing.length === 0) break;
    if (Date.now() > deadline) throw new Error(`cannot install from ${source}: missing ${missing.join(', ')} (run npm run build first)`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
  }
  return { trees, plain };
}

/** The production dependencies (package-lock.json: entries not marked dev), as node_modules/... paths. */
function productionModules(source: string): string[] {
  const lockFile = path.join(source, 'package-lock.json');
  if (fs.existsSync(lockFile)) {
    const lock = JSON.parse(fs.readFileSync(lockFile, 'utf8')) as { packages?: Record<string, { dev?: boolean; devOptional?: boolean; link?: boolean }> };
    const out: string[] = [];
    for (const [key, info] of Object.entries(lock.packages ?? {})) {
      if (!key.startsWith('node_modules/') || info.dev || info.devOptional) continue;
      // Nested node_modules are copied with the package that holds them.
      if (key.indexOf('/node_modules/') >= 0) continue;
      if (fs.existsSync(path.join(source, key))) out.push(key);
    }
    return out;
  }
  // No lock file: follow `dependencies` from package.json, breadth first.
  const out = new Set<string>();
  const queue = Object.keys(readJson(path.join(source, 'package.json')).dependencies ?? {});
  while (queue.length) {
    const name = queue.shift()!;
    const rel = `node_modules/${name}`;
    if (out.has(rel) || !fs.existsSync(path.join(source, rel))) continue;
    out.add(rel);
    queue.push(...Object.keys(readJson(path.join(source, rel, 'package.json')).dependencies ?? {}));
  }
  return [...out];
}

function readJson(file: string): { name?: string; version?: string; dependencies?: Record<string, string> } {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; dependencies?: Record<string, string> };
}

function makeDir(dir: string, mode: number): void {
  fs.mkdirSync(dir, { mode });
  fs.chownSync(dir, 0, 0);
  fs.chmodSync(dir, mode); // mkdir's mode is filtered by the umask
}

/** mkdir -p, each new directory root's with this mode; existing ones are left as they are (status judges them). */
function mkdirChain(dir: string, mode: number): void {
  if (fs.existsSync(dir)) return;
  mkdirChain(path.dirname(dir), mode);
  makeDir(dir, mode);
}

function copyFile(src: string, dst: string): void {
  const st = fs.statSync(src); // follows a symlink: its target is copied
  if (!fs.existsSync(path.dirname(dst))) mkdirChain(path.dirname(dst), 0o755);
  fs.copyFileSync(src, dst);
  fs.chownSync(dst, 0, 0);
  fs.chmodSync(dst, st.mode & 0o111 ? 0o755 : 0o644);
}

function copyTree(src: string, dst: string): void {
  const st = fs.statSync(src);
  if (!st.isDirectory()) {
    if (st.isFile()) copyFile(src, dst);
    return; // sockets, fifos, devices: nothing of ours
  }
  if (!fs.existsSync(path.dirname(dst))) mkdirChain(path.dirname(dst), 0o755);
  makeDir(dst, 0o755);
  for (const name of fs.readdirSync(src)) {
    // .bin holds links to package scripts: nothing the broker runs.
    if (name === '.bin') continue;
    copyTree(path.join(src, name), path.join(dst, name));
  }
}

function isOurInstall(prefix: string): boolean {
  try {
    return readJson(path.join(prefix, 'package.json')).name === 'systrace' && fs.existsSync(path.join(prefix, LAUNCHER));
  } catch {
    return false;
  }
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

// ---------------------------------------------------------------- uninstall

export function uninstallBroker(paths: BrokerPaths): string[] {
  const done: string[] = [];
  const { prefix } = paths;
  if (!fs.existsSync(prefix)) done.push(`nothing installed in ${prefix}`);
  else if (!isOurInstall(prefix)) throw new Error(`${prefix} is not a systrace installation (no package.json of systrace and ${LAUNCHER}): not removing it`);
  else {
    fs.rmSync(prefix, { recursive: true, force: true });
    done.push(`removed ${prefix}`);
  }
  for (const unit of UNITS) {
    const file = path.join(paths.systemdDir, unit);
    if (!fs.existsSync(file)) continue;
    fs.rmSync(file, { force: true });
    done.push(`removed ${file} (if it was enabled: systemctl disable --now ${unit}; systemctl daemon-reload)`);
  }
  let audit = DEFAULT_AUDIT_LOG;
  try {
    audit = loadAdminPolicy(paths.policy, { checkOwnership: false }).audit;
  } catch {
    /* the default, then */
  }
  done.push(`kept the admin policy ${paths.policy} and the audit log ${audit}: remove them yourself if you no longer need them`);
  return done;
}

// ---------------------------------------------------------------- status

export interface StatusItem {
  ok: boolean;
  /** false: informational, does not make the installation unusable. */
  required: boolean;
  text: string;
}

/** What is installed and whether the broker can run from it. */
export function brokerStatus(paths: BrokerPaths, node = BROKER_NODE): { usable: boolean; items: StatusItem[] } {
  const items: StatusItem[] = [];
  const need = (ok: boolean, text: string): void => void items.push({ ok, required: true, text });
  const note = (ok: boolean, text: string): void => void items.push({ ok, required: false, text });
  const { prefix } = paths;

  if (!fs.existsSync(prefix)) {
    need(false, `not installed: no ${prefix} (systrace broker install, as root)`);
  } else {
    let version = '?';
    try {
      const pkg = readJson(path.join(prefix, 'package.json'));
      version = pkg.name === 'systrace' ? (pkg.version ?? '?') : '?';
      need(pkg.name === 'systrace', pkg.name === 'systrace' ? `installed in ${prefix} (systrace ${version})` : `${prefix}/package.json is not systrace's`);
    } catch {
      need(false, `${prefix}: no package.json: not a systrace installation`);
    }
    const launcher = path.join(prefix, LAUNCHER);
    try {
      const st = fs.lstatSync(launcher);
      const setuidRoot = st.isFile() && st.uid === 0 && (st.mode & 0o4000) !== 0 && (st.mode & 0o111) !== 0;
      need(setuidRoot, setuidRoot ? `launcher ${launcher} is setuid root (mode ${octal(st.mode & 0o7777)})` : `launcher ${launcher} is not setuid root (owner uid ${st.uid}, mode ${octal(st.mode & 0o7777)})`);
    } catch {
      need(false, `launcher ${launcher} is missing`);
    }
    const main = path.join(prefix, BROKER_MAIN);
    need(fs.existsSync(main), fs.existsSync(main) ? `broker code ${main} present` : `broker code ${main} is missing`);
    for (const [what, p] of [['launcher', launcher], ['broker code', main]] as const) {
      if (!fs.existsSync(p)) continue;
      const why = rootOwnedProblem(p);
      need(!why, why ? `${what}: ${why}` : `${what} and every directory above it: root's, writable by root alone`);
    }
    const tree = treeProblems(prefix);
    need(tree.length === 0, tree.length === 0 ? `every file under ${prefix}: root's, writable by root alone, no symbolic links` : `unsafe under ${prefix}: ${tree.join('; ')}`);
  }

  let nodeReal = node;
  try {
    nodeReal = fs.realpathSync(node);
    const why = rootOwnedProblem(nodeReal);
    need(!why, why ? `node: ${why}` : `node ${nodeReal}${nodeReal !== node ? ` (from ${node})` : ''}: root's, writable by root alone`);
  } catch {
    need(false, `node ${node} is missing (the launcher runs it)`);
  }

  try {
    const p = loadAdminPolicy(paths.policy);
    need(true, `admin policy ${paths.policy} loads: ${p.grants.length} grant${p.grants.length === 1 ? '' : 's'}, audit log ${p.audit}`);
    const auditDir = path.dirname(p.audit);
    const why = fs.existsSync(auditDir) ? rootOwnedProblem(auditDir) : `${auditDir} does not exist`;
    note(!why, why ? `audit directory: ${why}` : `audit directory ${auditDir}: root's, writable by root alone`);
  } catch (e) {
    if (!(e instanceof AdminPolicyError)) throw e;
    need(false, `admin policy refused: ${e.message.split('\n').join('; ')}`);
  }

  const units = UNITS.filter(u => fs.existsSync(path.join(paths.systemdDir, u)));
  note(true, units.length ? `systemd units in ${paths.systemdDir}: ${units.join(', ')}` : `no systemd units in ${paths.systemdDir} (daemon mode not set up)`);
  return { usable: items.every(i => i.ok || !i.required), items };
}

function rootOwnedProblem(p: string): string | undefined {
  try {
    checkRootOwned(p);
    return undefined;
  } catch (e) {
    if (e instanceof AdminPolicyError) return e.message;
    throw e;
  }
}

/** As the launcher walks the tree: every entry root's, not group/other-writable, no symlinks (at most 5 reported). */
function treeProblems(root: string): string[] {
  const bad: string[] = [];
  const walk = (p: string): void => {
    if (bad.length >= 5) return;
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch (e) {
      bad.push(`${p} cannot be read (${(e as NodeJS.ErrnoException).code})`);
      return;
    }
    if (st.isSymbolicLink()) bad.push(`${p} is a symbolic link`);
    else if (st.uid !== 0) bad.push(`${p} is owned by uid ${st.uid}, not root`);
    else if (st.mode & 0o022) bad.push(`${p} is writable by ${st.mode & 0o002 ? 'others' : 'its group'} (mode ${octal(st.mode & 0o7777)})`);
    if (st.isDirectory() && !st.isSymbolicLink()) for (const name of fs.readdirSync(p)) walk(path.join(p, name));
  };
  walk(root);
  return bad;
}

function printStatus(paths: BrokerPaths): boolean {
  const { usable, items } = brokerStatus(paths);
  for (const i of items) out(`${i.ok ? 'ok  ' : i.required ? 'FAIL' : 'note'} ${i.text}`);
  out(usable ? 'broker: usable' : 'broker: NOT usable');
  return usable;
}
