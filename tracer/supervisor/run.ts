// `systrace run`: find the program and its policy, compile, start it under
// the filter, supervise it until every confined process is gone.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Emulation, Policy } from '../policy/types.js';
import { loadPolicyFileSync } from '../policy/load.js';
import { PolicyError } from '../policy/parse.js';
import { mangleProgramName } from '../policy/mangle.js';
import { compile, SECCOMP_RET } from '../policy/compile.js';
import { prepare } from '../engine/decide.js';
import { native, packageRoot } from '../native.js';
import { currentUser, policyEnv } from '../cli/policy-env.js';
import { writeStderr } from '../cli/stderr.js';
import { parsePolicy, type PolicyEnv } from '../policy/parse.js';
import { newPolicyText } from '../policy/edit.js';
import { emptyRecording, learnedPolicy, record as recordCall, type Recording } from '../policy/learn.js';
import { aliasOf } from '../policy/aliases.js';
import type { CallView } from '../engine/decide.js';
import { startConfined, type Confined } from './spawn.js';
import { buildRuleset, inheritedSockets, type Ruleset } from './landlock.js';
import { RepeatFilter } from './repeats.js';
import { MonitorAsker, TerminalAsker } from './prompt.js';
import { spawn } from 'node:child_process';
// The broker and monitor clients (and protobufjs under them) load only
// when a run uses them: node's start-up is most of a short run's cost.
import type { BrokerClient } from './broker-client.js';
import type { MonitorClient } from '../../monitor/client.js';
import { randomUUID } from 'node:crypto';
import { Supervisor, type Loaded } from './supervisor.js';
import { dropTo, parseCredentials } from './credentials.js';

export interface RunOptions {
  enforce: boolean;
  policyFiles: string[];
  policyDir?: string;
  globalOnly: boolean;
  aliases: boolean;
  logStderr: boolean;
  logFile?: string;
  /** The broker daemon's socket (default: /run/systrace/broker.sock, else the setuid launcher). */
  brokerSocket?: string;
  /** Kill a process whose call is denied (intrusion response). */
  killOnViolation?: boolean;
  /** --stats: at exit, how many calls were notified, per system call. */
  stats?: boolean;
  /** --gui: questions on a local monitor's web page instead of the terminal. */
  gui?: boolean;
  /** --monitor: a socket path, or HOST:PORT (TLS); the token, and a CA for TLS. */
  monitor?: { address: string; token: string; ca?: string };
  /** -A: permit (within `within`, if given) and record; write the policy to `output`. */
  learn?: { output?: string; within: string[]; collapse?: number };
  /** -c U:G (root only): the tracer and the program run as U:G once the policies and the log file are open. */
  runAs?: string;
}

/** Exit status of systrace itself failing, as DESIGN.md fixes it. */
export const EXIT_FAILED = 125;
export const EXIT_NOT_EXECUTABLE = 126;
export const EXIT_NOT_FOUND = 127;

export class RunError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
  }
}

/** The program as execve will see it: a path, searched in PATH when it has no slash. */
export function findProgram(cmd: string): string {
  const check = (p: string): string => {
    let st: fs.Stats;
    try {
      st = fs.statSync(p);
    } catch {
      throw new RunError(`${cmd}: command not found`, EXIT_NOT_FOUND);
    }
    if (st.isDirectory()) throw new RunError(`${cmd}: is a directory`, EXIT_NOT_EXECUTABLE);
    try {
      fs.accessSync(p, fs.constants.X_OK);
    } catch {
      throw new RunError(`${cmd}: permission denied`, EXIT_NOT_EXECUTABLE);
    }
    // The exec helper cannot speak once the filter is on: say here what
    // execve would refuse for its format (a script without #!, a text file).
    const head = Buffer.alloc(4);
    let fd: number | undefined;
    try {
      fd = fs.openSync(p, 'r');
      fs.readSync(fd, head, 0, 4, 0);
    } catch {
      /* unreadable but executable: let execve decide */
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
    if (fd !== undefined && head.toString('latin1') !== '\x7fELF' && head.toString('latin1', 0, 2) !== '#!') {
      throw new RunError(`${cmd}: cannot execute: not an ELF binary or a #! script`, EXIT_NOT_EXECUTABLE);
    }
    return path.resolve(p);
  };
  if (cmd.includes('/')) return check(cmd);
  for (const dir of (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':')) {
    const p = path.join(dir || '.', cmd);
    if (fs.existsSync(p)) return check(p);
  }
  throw new RunError(`${cmd}: command not found`, EXIT_NOT_FOUND);
}

/** -f files, or Systrace's lookup: ~/.systrace (or -d DIR), then /etc/systrace. */
function policyFilesFor(program: string, opts: RunOptions, mayCreate = false): string[] {
  if (opts.policyFiles.length > 0) return opts.policyFiles;
  const name = `${mangleProgramName(fs.realpathSync(program))}.yaml`;
  const dirs = [];
  if (!opts.globalOnly) dirs.push(opts.policyDir ?? path.join(os.homedir(), '.systrace'));
  dirs.push('/etc/systrace');
  for (const d of dirs) {
    const f = path.join(d, name);
    if (fs.existsSync(f)) return [f];
  }
  // Interactive: start from nothing; the first "always" answer writes it.
  if (mayCreate) return [path.join(dirs[0]!, name)];
  throw new RunError(`no policy for ${program}: looked for ${dirs.map(d => path.join(d, name)).join(' and ')} (give one with -f)`, EXIT_FAILED);
}

/**
 * --gui: a monitor of our own, on a private socket, its web page printed
 * for the user to open (as xsystrace was a window of its own).
 */
async function startLocalMonitor(): Promise<{ address: string; token: string; stop(): void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'systrace-gui-'));
  const token = randomUUID();
  const address = path.join(dir, 'monitor.sock');
  // main.js, not process.argv[1]: `run` may have started from its bundle,
  // which has no other command.
  const main = path.join(packageRoot(), 'dist', 'tracer', 'cli', 'main.js');
  const child = spawn(process.execPath, [main, 'monitor', '--socket', address, '--db', path.join(dir, 'events.db'), '--http', '127.0.0.1:0', '--token', token], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let errors = '';
  let told = false;
  child.stderr!.on('data', d => {
    errors = (errors + d).slice(-2000);
  });
  child.stdout!.on('data', d => {
    out += d;
    const url = /(http:\/\/127\.0\.0\.1:\d+\/#token=\S+)/.exec(out);
    if (url && !told) {
      told = true;
      writeStderr(`systrace: answer the questions at ${url[1]}\n`);
    }
  });
  // Ready once it has printed its page's address and made its socket.
  for (let i = 0; i < 100 && !(told && fs.existsSync(address)) && child.exitCode === null; i++) await new Promise(r => setTimeout(r, 50));
  if (!(told && fs.existsSync(address)) || child.exitCode !== null) {
    // Nobody would be there to answer: systrace cannot start as asked.
    child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
    const why = errors.trim().split('\n').pop() ?? '';
    throw new RunError(`--gui: the local monitor did not start${why ? `: ${why.replace(/^systrace: /, '')}` : ''}`, EXIT_FAILED);
  }
  return {
    address,
    token,
    stop() {
      child.kill('SIGTERM');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function runConfined(argv: string[], opts: RunOptions): Promise<number> {
  let reportLine: (line: string) => void = line => writeStderr(line + '\n');
  if (argv.length === 0) throw new RunError('no program given (systrace run [options] -- CMD [ARG...])', EXIT_FAILED);
  if (opts.runAs !== undefined) {
    if (process.geteuid?.() !== 0) throw new RunError(`-c ${opts.runAs} needs root (systrace runs as uid ${process.geteuid?.()}); a user's programs run as that user`, EXIT_FAILED);
    if (opts.learn || opts.gui) throw new RunError(`-c cannot be combined with ${opts.learn ? '-A' : '--gui'}: learn or ask as the user itself (setpriv or su), then enforce with -c`, EXIT_FAILED);
    try {
      parseCredentials(opts.runAs);
    } catch (e) {
      throw new RunError((e as Error).message, EXIT_FAILED);
    }
  }
  const program = findProgram(argv[0]!);
  const env = policyEnv();
  let user = currentUser();
  const learning = opts.learn ? startLearning(program, argv, opts.learn, env) : undefined;
  // Interactive unless -a or -A: questions go to the controlling terminal.
  let enforce = opts.enforce || learning !== undefined;
  let supervisorRef: Supervisor | undefined;
  let asker: TerminalAsker | MonitorAsker | undefined;
  const report = (line: string): void => reportLine(line);
  // An "always" answer changes the policy: the native fast path, compiled
  // from the old one, stops, and the supervisor decides from then on.
  let stopFastPath = (): void => {};
  const askerOpts = {
    env,
    program,
    report,
    reload: (emu: Emulation, p: Policy) => {
      stopFastPath();
      supervisorRef?.reload(emu, p);
    },
  };
  // --gui: the monitor's web page on this machine instead of the terminal.
  let gui: { address: string; token: string; stop(): void } | undefined;
  if (!enforce && opts.gui) {
    gui = await startLocalMonitor();
    opts = { ...opts, monitor: { address: gui.address, token: gui.token } };
  }
  if (!enforce) {
    asker = opts.gui ? undefined : TerminalAsker.open(askerOpts);
    if (!asker && opts.monitor) {
      asker = new MonitorAsker(askerOpts);
      if (!opts.gui) writeStderr(`systrace: no terminal: questions go to the monitor at ${opts.monitor.address}\n`);
    }
    if (!asker) {
      writeStderr('systrace: no terminal to ask on: enforcing as with -a\n');
      enforce = true;
    }
  }
  const policies: Policy[] = learning
    ? learning.policies
    : policyFilesFor(program, opts, asker !== undefined).map(f =>
        // Only a looked-up policy may not exist yet (interactive mode starts
        // one); a file named with -f must exist.
        opts.policyFiles.length === 0 && !fs.existsSync(f) ? parsePolicy(newPolicyText(program, 'linux'), f, env) : loadPolicyFileSync(f, env),
      );
  let logFd: number | undefined;
  if (opts.logFile) logFd = fs.openSync(opts.logFile, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
  if (opts.runAs !== undefined) {
    // From here on everything runs as U:G: the compiled policy's idea of
    // "names the user cannot replace", every call the supervisor makes for
    // the program, and the program itself.
    try {
      dropTo(opts.runAs);
    } catch (e) {
      throw new RunError((e as Error).message, EXIT_FAILED);
    }
    user = currentUser();
  }
  const landlockAbi = policies.some(p => p.landlock) ? native().landlockAbi() : 0;
  const inherited = landlockAbi > 0 ? inheritedSockets() : { tcp: [] };
  const plan = compile(policies, {
    enforce,
    aliases: opts.aliases,
    user,
    reportDefaultDenials: true,
    notifyAll: learning !== undefined,
    landlockAbi,
    ...(opts.killOnViolation && enforce ? { landlockOff: '--kill-on-violation must see every denial' } : {}),
    ...(inherited.why ? { landlockNetOff: inherited.why } : {}),
    inheritedTcp: inherited.tcp,
  });
  const loaded = new Map<Emulation, Loaded>();
  for (const p of policies) loaded.set(p.emulation, { policy: p, prepared: prepare(p, { enforce, aliases: opts.aliases }) });
  const n = native();
  const { bpf } = n.filterBuild(plan.filter);

  const repeats = new RepeatFilter(line => {
    if (opts.logStderr) writeStderr(line + '\n');
    if (logFd !== undefined) fs.writeSync(logFd, line + '\n');
  });
  reportLine = line => repeats.line(line);

  // The supervisor creates files with the target's umask, applied by hand.
  n.setUmask(0);
  // The program gets the user's environment, less what is systrace's own.
  const { SYSTRACE_MONITOR_TOKEN: _token, ...programEnv } = process.env;
  let ruleset: Ruleset | undefined;
  if (plan.landlockWhy) writeStderr(`systrace: landlock: not used: ${plan.landlockWhy}; reads are decided by the supervisor\n`);
  if (plan.landlockNetWhy) writeStderr(`systrace: landlock: ports not used: ${plan.landlockNetWhy}; bind and connect are decided by the supervisor\n`);
  if (plan.landlock) {
    try {
      ruleset = buildRuleset(plan.landlock, program);
    } catch (e) {
      throw new RunError((e as Error).message, EXIT_FAILED);
    }
  }
  let confined: Confined;
  try {
    confined = startConfined(program, argv, bpf, programEnv, ruleset?.fd);
  } finally {
    if (ruleset) n.closeFd(ruleset.fd);
  }
  // Elevation: only when a policy asks for it.
  let broker: BrokerClient | undefined;
  if (policies.some(p => [...p.rules.values()].some(rules => rules.some(r => r.action.asUser)))) {
    try {
      const { BrokerClient } = await import('./broker-client.js');
      broker = await BrokerClient.open(confined.listenerFd, opts.brokerSocket);
    } catch (e) {
      report(`systrace: elevation unavailable: ${(e as Error).message}; "permit as root" calls run with your own rights`);
    }
  }
  // Monitoring never weakens enforcement: the client queues and never throws.
  let monitor: MonitorClient | undefined;
  if (opts.monitor) {
    const { MonitorClient } = await import('../../monitor/client.js');
    monitor = MonitorClient.connect(
      opts.monitor.address,
      opts.monitor.token,
      { host: os.hostname(), session: randomUUID(), program, policy: policies.map(p => p.file).join(', '), user: user.name },
      {
        ...(opts.monitor.ca ? { ca: opts.monitor.ca } : {}),
        onStatus: (status, detail) => {
          if (status === 'refused' || status === 'error') report(`systrace: monitor ${opts.monitor!.address}: ${status}: ${detail} (enforcing goes on)`);
        },
      },
    );
    if (asker instanceof MonitorAsker) {
      const remote = asker;
      monitor.onAnswer(a => remote.answer(a));
    }
    monitor.send({ kind: 'start', pid: confined.child.pid ?? 0, program, detail: argv.join(' '), severity: 'info' });
  }
  const supervisor = new Supervisor({
    killOnViolation: opts.killOnViolation && enforce,
    event: monitor ? e => monitor!.send({ ...e, errno: e.errno ?? '', detail: e.detail ?? '', question: e.question ?? 0 }) : undefined,
    broker,
    listenerFd: confined.listenerFd,
    policies: loaded,
    report,
    user,
    helperPid: confined.child.pid ?? -1,
    record: learning?.record,
    asker,
    fastOpenRefused: emu => plan.arches.find(a => a.emulation === emu)?.fastOpenRefused === true,
    fastOpenNotified: name => plan.arches.find(a => a.emulation === 'linux32')?.fastOpenNotified?.has(name) === true,
    unconditional: (emu, name) => {
      const place = plan.arches.find(a => a.emulation === emu)?.calls.get(name);
      return place?.target === 'kernel' && !place.rules && place.action === SECCOMP_RET.ALLOW;
    },
  });
  supervisorRef = supervisor;
  const flags = n.notifySetFlags(confined.listenerFd, n.SYNC_WAKE_UP);
  if (flags < 0 && flags !== -22) report(`systrace: SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP unavailable (${flags})`);

  const listener = new n.Listener(confined.listenerFd);
  listener.setFast(plan.fast);
  stopFastPath = () => listener.stopFast();
  let filterGone!: () => void;
  const allGone = new Promise<void>(resolve => (filterGone = resolve));
  listener.start(note => {
    if (note === null) filterGone();
    else supervisor.handle(note);
  });
  const exited = new Promise<number>(resolve => {
    confined.child.on('exit', (code, signal) => {
      resolve(signal ? 128 + (os.constants.signals[signal] ?? 0) : (code ?? EXIT_FAILED));
    });
  });
  // SIGINT from the terminal reaches the program's process group already;
  // SIGTERM and SIGHUP sent to systrace are passed on.
  const forward = (sig: NodeJS.Signals) => () => confined.child.kill(sig);
  process.on('SIGINT', () => {});
  process.on('SIGTERM', forward('SIGTERM'));
  process.on('SIGHUP', forward('SIGHUP'));
  confined.release();

  const status = await exited;
  // Processes the program left behind (daemons) stay confined until they end.
  await allGone;
  listener.stop();
  broker?.close();
  n.closeFd(confined.listenerFd);
  if (monitor) {
    monitor.send({ kind: 'exit', pid: confined.child.pid ?? 0, program, detail: `status ${status}`, severity: 'info' });
    // A moment for the queue to reach the monitor; what does not is counted.
    if (!monitor.connected) await monitor.waitConnected(1500);
    const unsent = monitor.connected ? monitor.droppedTotal : monitor.buffered + monitor.droppedTotal;
    await monitor.close();
    if (unsent > 0) report(`systrace: monitor: ${unsent} events did not reach ${opts.monitor!.address}`);
  }
  if (learning) learning.finish(report, supervisor.stats.denied);
  gui?.stop();
  if (asker) {
    asker.close();
    const files = [...asker.files];
    const seen = supervisor.stats.notifications + listener.fastCounts().reduce((x, y) => x + y, 0);
    report(`systrace: ${seen} calls seen, ${asker.stats.asked} asked, ${asker.stats.rulesWritten} rules written${files.length ? ` to ${files.join(', ')}` : ''}, ${supervisor.stats.denied} denied`);
  }
  if (opts.stats) {
    const byCall = new Map(supervisor.stats.byCall);
    let total = supervisor.stats.notifications;
    let native = 0;
    listener.fastCounts().forEach((k, i) => {
      const name = plan.fast[i]!.name;
      byCall.set(name, (byCall.get(name) ?? 0) + k);
      total += k;
      native += k;
    });
    const counts = [...byCall].filter(([, k]) => k > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    const list = counts.map(([name, k]) => `${name} ${k}`).join(', ');
    writeStderr(`systrace: stats: ${total} calls notified${list ? `: ${list}` : ''}; ${native} answered in native code; ${supervisor.stats.denied} denied\n`);
  }
  repeats.flush();
  if (logFd !== undefined) fs.closeSync(logFd);
  return status;
}

/**
 * -A: what the program may do while learning (everything, or what the
 * --within policies permit), how each permitted call is recorded, and how
 * the result is written: atomically, never over an existing file.
 */
function startLearning(program: string, argv: string[], learn: NonNullable<RunOptions['learn']>, env: PolicyEnv) {
  const output = path.resolve(learn.output ?? path.join(os.homedir(), '.systrace', `${mangleProgramName(fs.realpathSync(program))}.yaml`));
  if (fs.existsSync(output)) {
    throw new RunError(`${output} exists: learn into a new file with -o and combine them with \`systrace policy merge\``, EXIT_FAILED);
  }
  const within = learn.within.map(f => loadPolicyFileSync(f, env));
  const policies: Policy[] = [...within];
  for (const emulation of ['linux', 'linux32'] as Emulation[]) {
    if (!policies.some(p => p.emulation === emulation)) {
      policies.push({ file: '(learning: everything permitted)', emulation, default: 'permit', rules: new Map() });
    }
  }
  const recordings = new Map<Emulation, Recording>();
  const record = (emu: Emulation, view: CallView): void => {
    let rec = recordings.get(emu);
    if (!rec) recordings.set(emu, (rec = emptyRecording(emu)));
    recordCall(rec, view, aliasOf(emu, view.syscall, view.args, view.openHowFlags));
  };
  const finish = (report: (line: string) => void, denied: number): void => {
    // The exec helper's own execve is a 64-bit call even for an i386
    // program: a linux recording holding only that is not a policy.
    const used = [...recordings.values()].filter(r => !(r.emulation === 'linux' && recordings.size > 1 && r.calls.size === 0 && r.paths.size <= 1 && (r.paths.get('exec')?.size ?? 0) <= 1));
    const written: string[] = [];
    used.forEach((rec, i) => {
      const file = i === 0 ? output : output.replace(/(\.ya?ml)?$/, `.${rec.emulation}$1`);
      const yaml = learnedPolicy(rec, {
        home: env.HOME,
        cwd: env.CWD,
        collapse: learn.collapse,
        program,
        comment: `learned by systrace -A on ${new Date().toISOString()} from: ${argv.join(' ')}`,
      });
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      const tmp = `${file}.tmp-${process.pid}`;
      fs.writeFileSync(tmp, yaml, { mode: 0o644, flag: 'wx' });
      fs.renameSync(tmp, file);
      const paths = [...rec.paths.values()].reduce((n, set) => n + set.size, 0);
      written.push(`${file} (${rec.emulation}: ${rec.calls.size} calls, ${paths} paths, ${[...rec.sockaddrs.values()].reduce((n, s) => n + s.size, 0)} addresses)`);
    });
    report(`systrace: learned ${written.join('; ') || 'nothing'}${denied ? `; ${denied} calls denied by --within` : ''}`);
  };
  return { policies, record, finish };
}

export function describeError(e: unknown): { message: string; exitCode: number } {
  if (e instanceof PolicyError) return { message: e.message, exitCode: EXIT_FAILED };
  if (e instanceof RunError) return { message: `systrace: ${e.message}`, exitCode: e.exitCode };
  return { message: `systrace: ${(e as Error).message ?? String(e)}`, exitCode: EXIT_FAILED };
}
