// Run systrace and the fixtures as user `nobody`, the way a real user runs it.
//
// Integration tests are real: the tracer is unprivileged, so the tests run
// it unprivileged too. Two obstacles, each handled here once:
//
// - CI clones the repository somewhere `nobody` may not enter (/root is
//   0700). unprivRoot() therefore copies what the unprivileged side needs
//   into a world-readable tree under /tmp, once per build: bin/, dist/,
//   build/Release/, the production node_modules, test/fixtures/bin/,
//   policies/ and package.json.
// - Several tap processes start at once. Each builds into its own temporary
//   directory and renames it into place; rename(2) is atomic, so a reader
//   sees either no copy or a complete one, and the loser of a race throws
//   its copy away.
//
// runUnpriv() drops to nobody:nogroup with setpriv (util-linux), without
// supplementary groups or inheritable capabilities, in a new process group,
// with a deadline after which the whole tree is killed.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const NOBODY_UID = 65534;
export const NOGROUP_GID = 65534;

const SETPRIV_DROP = ['--reuid=nobody', '--regid=nogroup', '--clear-groups'];

/** What the unprivileged side runs, relative to the repository (and to the copy). */
export const paths = {
  systrace: 'bin/systrace',
  cliMain: 'dist/tracer/cli/main.js',
  addon: 'build/Release/systrace.node',
  launcher: 'build/Release/systrace-launch',
  fixtures: 'test/fixtures/bin',
} as const;

/** A fixture program's path inside the unprivileged copy. */
export function fixture(name: string): string {
  return path.join(unprivRoot(), paths.fixtures, name);
}

// ---------------------------------------------------------------------------
// Skipping: a test that cannot run here says why, and CI can forbid skips.

function missingArtefacts(needSystrace: boolean): string[] {
  const need: string[] = [path.join(paths.fixtures, 'try')];
  if (needSystrace)
    need.push(paths.systrace, paths.cliMain, paths.addon, paths.launcher);
  return need.filter(p => !fs.existsSync(path.join(repoRoot, p)));
}

/**
 * Why the integration tests cannot run here, or false when they can.
 * With needSystrace = false only the fixtures and privilege drop are needed.
 *
 * Set SYSTRACE_TEST_NO_SKIP=1 (CI does) to turn every reason into a thrown
 * error: in CI a missing build is a failure, not a skip.
 */
export function integrationSkip(needSystrace = true): string | false {
  let reason: string | false = false;
  if (process.platform !== 'linux')
    reason = 'integration tests need Linux';
  else if (process.getuid?.() !== 0)
    reason = 'integration tests need root to drop to nobody with setpriv';
  else if (spawnSync('setpriv', ['--version']).status !== 0)
    reason = 'setpriv (util-linux) is not installed';
  else {
    const missing = missingArtefacts(needSystrace);
    if (missing.length > 0)
      reason = `not built (run npm run build): missing ${missing.join(', ')}`;
  }
  if (reason !== false && process.env.SYSTRACE_TEST_NO_SKIP === '1')
    throw new Error(`SYSTRACE_TEST_NO_SKIP=1 but: ${reason}`);
  return reason;
}

// ---------------------------------------------------------------------------
// The world-readable copy.

/** The trees and files copied, relative to the repository. */
const COPIED_TREES = ['bin', 'dist', 'policies', 'monitor/web', paths.fixtures];
const COPIED_FILES = ['package.json'];
const RELEASE_DIR = 'build/Release';

interface Entry { rel: string; mtimeMs: number; size: number }

function listTree(root: string, rel: string, out: Entry[]): void {
  const abs = path.join(root, rel);
  let st: fs.Stats;
  try {
    st = fs.statSync(abs);
  } catch {
    return; // an optional tree (policies/) that does not exist yet
  }
  if (st.isDirectory()) {
    for (const name of fs.readdirSync(abs).sort())
      listTree(root, path.join(rel, name), out);
  } else if (st.isFile()) {
    out.push({ rel, mtimeMs: st.mtimeMs, size: st.size });
  }
}

/** Top-level regular files of build/Release: the addon and executables, not obj.target/. */
function listRelease(out: Entry[]): void {
  const dir = path.join(repoRoot, RELEASE_DIR);
  if (!fs.existsSync(dir))
    return;
  for (const name of fs.readdirSync(dir).sort()) {
    const st = fs.statSync(path.join(dir, name));
    if (st.isFile())
      out.push({ rel: path.join(RELEASE_DIR, name), mtimeMs: st.mtimeMs, size: st.size });
  }
}

/** Production dependencies, transitively, from the flat npm layout. */
function productionPackages(): string[] {
  const seen = new Set<string>();
  const queue: string[] = [];
  const addDeps = (pkgJson: string): void => {
    const pkg = JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    for (const name of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies }))
      if (!seen.has(name)) {
        seen.add(name);
        queue.push(name);
      }
  };
  addDeps(path.join(repoRoot, 'package.json'));
  const found: string[] = [];
  while (queue.length > 0) {
    const name = queue.shift()!;
    const pj = path.join(repoRoot, 'node_modules', name, 'package.json');
    if (!fs.existsSync(pj))
      continue; // an optional dependency not installed on this platform
    found.push(name);
    addDeps(pj);
  }
  return found.sort();
}

function buildKey(entries: Entry[], packages: string[]): string {
  const h = createHash('sha256');
  h.update(repoRoot + '\0');
  for (const e of entries)
    h.update(`${e.rel}\0${e.mtimeMs}\0${e.size}\0`);
  const lock = path.join(repoRoot, 'package-lock.json');
  h.update(`${packages.join(',')}\0${fs.existsSync(lock) ? fs.statSync(lock).mtimeMs : 0}`);
  return h.digest('hex').slice(0, 16);
}

/**
 * Copy src to dst with modes nobody can use: directories 0755, files 0755
 * when the source is executable by its owner, else 0644. Symbolic links are
 * followed (a link into /root would defeat the copy); links that dangle or
 * point at directories already visited are skipped.
 */
function copyForNobody(src: string, dst: string, seen = new Set<string>()): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(src);
  } catch {
    return; // dangling symlink
  }
  if (st.isDirectory()) {
    const key = `${st.dev}:${st.ino}`;
    if (seen.has(key))
      return;
    seen.add(key);
    fs.mkdirSync(dst, { recursive: true, mode: 0o755 });
    fs.chmodSync(dst, 0o755);
    for (const name of fs.readdirSync(src)) {
      if (name === '.bin')
        continue; // node_modules/.bin: symlinks to tools, not needed at runtime
      copyForNobody(path.join(src, name), path.join(dst, name), seen);
    }
    seen.delete(key);
  } else if (st.isFile()) {
    fs.mkdirSync(path.dirname(dst), { recursive: true, mode: 0o755 });
    fs.copyFileSync(src, dst);
    fs.chmodSync(dst, (st.mode & 0o100) !== 0 ? 0o755 : 0o644);
    // Kept: bin/run-loader.cjs uses the run bundle only while its inputs'
    // mtimes are the build's.
    fs.utimesSync(dst, st.atimeMs / 1000, st.mtimeMs / 1000);
  }
}

function removeQuietly(p: string): void {
  try {
    fs.rmSync(p, { recursive: true, force: true });
  } catch {
    // another process may be removing it too
  }
}

function runAsNobody(args: string[]): boolean {
  return spawnSync('setpriv', [...SETPRIV_DROP, ...args], { stdio: 'ignore', cwd: '/' }).status === 0;
}

/** Name the first directory on the way to target that nobody cannot enter. */
function explainUnreachable(target: string): string {
  const parts = target.split('/').filter(Boolean);
  let dir = '';
  for (const part of parts.slice(0, -1)) {
    dir += '/' + part;
    if (!runAsNobody(['test', '-x', dir]))
      return `user nobody cannot enter ${dir} (mode ${(fs.statSync(dir).mode & 0o7777).toString(8)})`;
  }
  return `user nobody cannot execute ${target}`;
}

let cachedRoot: string | undefined;

/**
 * The world-readable copy of what the unprivileged side needs, built once
 * per test process (and shared between processes through its name, which
 * hashes the repository path and every copied file's mtime and size).
 */
export function unprivRoot(): string {
  if (cachedRoot !== undefined)
    return cachedRoot;

  const entries: Entry[] = [];
  for (const tree of COPIED_TREES)
    listTree(repoRoot, tree, entries);
  for (const file of COPIED_FILES)
    listTree(repoRoot, file, entries);
  listRelease(entries);
  const packages = productionPackages();
  const repoTag = createHash('sha256').update(repoRoot).digest('hex').slice(0, 8);
  const prefix = `/tmp/systrace-test-${repoTag}-`;
  const final = prefix + buildKey(entries, packages);

  if (!fs.existsSync(path.join(final, '.complete'))) {
    const tmp = fs.mkdtempSync(`/tmp/systrace-test-tmp-${repoTag}-`);
    try {
      fs.chmodSync(tmp, 0o755);
      for (const e of entries)
        copyForNobody(path.join(repoRoot, e.rel), path.join(tmp, e.rel));
      for (const name of packages)
        copyForNobody(path.join(repoRoot, 'node_modules', name), path.join(tmp, 'node_modules', name));
      fs.writeFileSync(path.join(tmp, '.complete'), `${repoRoot}\n`, { mode: 0o644 });
      try {
        fs.renameSync(tmp, final);
      } catch (err) {
        // ENOTEMPTY/EEXIST: another process won the race; use its copy.
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST')
          throw err;
      }
    } finally {
      removeQuietly(tmp);
    }
    removeStaleCopies(prefix, final);
  }

  // Probe with bin/systrace, or with a fixture while systrace is not built
  // (the fixture controls run without it).
  const probeRel = fs.existsSync(path.join(repoRoot, paths.systrace))
    ? paths.systrace : path.join(paths.fixtures, 'try');
  const probe = path.join(final, probeRel);
  if (!fs.existsSync(probe))
    throw new Error(`${probe} is missing from the unprivileged copy: run npm run build`);
  if (!runAsNobody(['test', '-x', probe]))
    throw new Error(`the unprivileged copy is unusable: ${explainUnreachable(probe)}`);
  cachedRoot = final;
  return final;
}

/** Copies of older builds of this same repository, left by earlier runs. */
function removeStaleCopies(prefix: string, keep: string): void {
  const hourAgo = Date.now() - 3600_000;
  for (const name of fs.readdirSync('/tmp')) {
    const p = path.join('/tmp', name);
    if (!p.startsWith(prefix) || p === keep)
      continue;
    try {
      if (fs.statSync(p).mtimeMs < hourAgo)
        removeQuietly(p);
    } catch {
      // gone already
    }
  }
}

// ---------------------------------------------------------------------------
// Process trees.

/** pid -> parent pid for every process visible in /proc. */
function parentMap(): Map<number, number> {
  const map = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name))
      continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // The command name may contain spaces and parentheses: split after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      map.set(Number(name), Number(fields[1]));
    } catch {
      // exited while we looked
    }
  }
  return map;
}

/** Every live descendant of pid, parents before children. */
export function descendants(pid: number): number[] {
  const parents = parentMap();
  const out: number[] = [];
  let frontier = [pid];
  while (frontier.length > 0) {
    const next: number[] = [];
    for (const [child, parent] of parents)
      if (frontier.includes(parent)) {
        out.push(child);
        next.push(child);
      }
    frontier = next;
  }
  return out;
}

/** The executable of a live process, or undefined once it is gone. */
export function processExe(pid: number): string | undefined {
  try {
    return fs.readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH: already gone
  }
}

/** SIGKILL a process, its process group and every descendant found. */
export function killTree(pid: number): void {
  const tree = descendants(pid);
  killQuietly(-pid, 'SIGKILL');
  killQuietly(pid, 'SIGKILL');
  for (const p of tree)
    killQuietly(p, 'SIGKILL');
}

// ---------------------------------------------------------------------------
// Running as nobody.

export interface RunOptions {
  /** Written to stdin, which is then closed. Without it stdin is /dev/null. */
  input?: string;
  /** Deadline for the whole run; the process tree is killed after it. Default 30 s. */
  timeoutMs?: number;
  /** Environment; default a minimal PATH/HOME/LANG. */
  env?: NodeJS.ProcessEnv;
  /** Working directory; default '/' (nobody may not enter the repository). */
  cwd?: string;
  /** Called with the pid of the setpriv process once it is running. */
  onSpawn?: (pid: number) => void;
  /**
   * Conversation: called with all stdout so far after each chunk, and a
   * function that writes to stdin (which stays open until the run ends).
   * Excludes `input`.
   */
  interact?: (stdoutSoFar: string, write: (text: string) => void) => void;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The most of each output stream a run keeps (16 MiB). */
const MAX_CAPTURE = 16 << 20;

export const defaultEnv: NodeJS.ProcessEnv = {
  PATH: '/usr/local/bin:/usr/bin:/bin',
  HOME: '/nonexistent',
  LANG: 'C',
};

/** Run cmd as nobody:nogroup, no groups, no inheritable capabilities. */
export function runUnpriv(cmd: string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  // The environment is set by env -i after the drop, not by spawn(): tap's
  // process-info hook adds NODE_OPTIONS to every child it sees spawned, and
  // the node inside bin/systrace would then try to write into the
  // repository's .tap/ as nobody. (env takes no '--' after the
  // assignments; no command here has '=' in its first word.)
  const env = Object.entries(opts.env ?? defaultEnv)
    .filter((kv): kv is [string, string] => kv[1] !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  const argv = [...SETPRIV_DROP, '--inh-caps=-all', '/usr/bin/env', '-i', ...env, ...cmd];
  return new Promise((resolve, reject) => {
    const child = spawn('setpriv', argv, {
      cwd: opts.cwd ?? '/',
      detached: true, // its own process group, so the whole tree can be killed
      stdio: [opts.input === undefined && opts.interact === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    // Bounded: a confined program looping on a denied call must not take
    // the test runner down with it (a string has a maximum length).
    const cap = (have: string, more: string): string =>
      have.length >= MAX_CAPTURE ? have : have + more.slice(0, MAX_CAPTURE - have.length);
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      stdout = cap(stdout, s);
      opts.interact?.(stdout, text => child.stdin!.write(text));
    });
    if (opts.interact !== undefined)
      child.stdin!.on('error', () => { /* the run ended first */ });
    child.stderr!.setEncoding('utf8').on('data', (s: string) => { stderr = cap(stderr, s); });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => { /* EPIPE: the program did not read it all */ });
      child.stdin!.end(opts.input);
    }
    const pid = child.pid;
    const timer = setTimeout(() => {
      timedOut = true;
      if (pid !== undefined)
        killTree(pid);
      // A process that left the group and the tree may still hold the
      // pipes open; do not wait for it.
      setTimeout(() => {
        child.stdout!.destroy();
        child.stderr!.destroy();
        child.emit('close', null, 'SIGKILL');
      }, 2000).unref();
    }, timeoutMs);
    if (pid !== undefined)
      opts.onSpawn?.(pid);
    child.on('error', err => {
      clearTimeout(timer);
      settled = true;
      reject(err);
    });
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled)
        return;
      settled = true;
      clearTimeout(timer);
      // Stragglers that kept to the group (a daemonised grandchild) go too.
      if (pid !== undefined)
        killQuietly(-pid, 'SIGKILL');
      if (timedOut) {
        reject(new Error(
          `timed out after ${timeoutMs} ms and killed: ${cmd.join(' ')}\n` +
          `--- stdout ---\n${stdout}--- stderr ---\n${stderr}`));
        return;
      }
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Run the unprivileged copy's bin/systrace as nobody. */
export function systraceUnpriv(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return runUnpriv([path.join(unprivRoot(), paths.systrace), ...args], opts);
}
