// `systrace run [options] -- CMD [ARG...]`
import type { Command } from 'commander';
import { describeError, runConfined } from '../../supervisor/run.js';
import { writeStderr } from '../stderr.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function registerRun(program: Command): void {
  program
    .command('run')
    .description(
      // Paragraphs only: commander wraps each to the terminal's width.
      'run CMD under its policy.\n\n' +
        'Exit status: the program\'s own; 128+N if it died of signal N; 125 if systrace failed ' +
        '(bad policy, cannot start); 126 not executable; 127 not found.\n\n' +
        'Without -a or -A, a call the policy does not cover is asked about on the terminal (/dev/tty), ' +
        'and "always" answers are saved to the policy; with no terminal, systrace says so and enforces as with -a.',
    )
    .argument('<cmd...>', 'the program and its arguments (put -- before them)')
    .option('-a', 'enforce: calls the policy does not permit are denied and logged', false)
    .option('-A', 'learn: permit and record every call, then write a policy that permits exactly this run', false)
    .option('-o <file>', 'where -A writes the policy (default ~/.systrace/<program>.yaml; never overwritten)')
    .option('--within <file>', 'with -A: learn only inside this maximal policy; what it forbids is denied and reported', collect, [])
    .option('--collapse <n>', 'with -A: more files than N in one directory become dir/* (default 5)')
    .option('-f <file>', 'policy file (YAML); once per emulation (linux, linux32)', collect, [])
    .option('-d <dir>', 'user policy directory instead of ~/.systrace')
    .option('-U', 'use global policies (/etc/systrace) only', false)
    .option('-u', 'no aliases: fsread/fswrite rules are ignored', false)
    .option('-i', 'keep the policy across execve (always the case here: one policy governs the whole process tree)', false)
    .option('-c <user:group>', 'root only: run the program, and systrace with it, as USER:GROUP (names or numbers; supplementary groups cleared) once the policies and the -E log are open; not with -A or --gui')
    .option('-e', 'log denials to stderr (the default; kept for Systrace compatibility)', false)
    .option('-E <file>', 'also append the log to FILE')
    .option('--kill-on-violation', 'with -a: a denied call kills the process that made it (SIGKILL)', false)
    .option('--stats', 'at exit, print how many calls reached systrace (were notified), per system call: what the policy costs', false)
    .option('--gui', 'ask on a local web page (a monitor of its own) instead of the terminal', false)
    .option('--monitor <addr>', 'stream events to a monitor: its socket path, or HOST:PORT (TLS); the token from --monitor-token or $SYSTRACE_MONITOR_TOKEN')
    .option('--monitor-token <token>', 'the monitor\'s tracer token')
    .option('--monitor-ca <file>', 'for TLS: the CA that signed the monitor\'s certificate')
    .option('--broker <path>', 'for "permit as root": the broker daemon\'s socket or the setuid launcher (default /run/systrace/broker.sock, else /usr/local/lib/systrace/broker-launch)')
    .passThroughOptions()
    .action(async (cmd: string[], o: { killOnViolation: boolean; stats: boolean; gui: boolean; monitor?: string; monitorToken?: string; monitorCa?: string; broker?: string; a: boolean; A: boolean; o?: string; within: string[]; collapse?: string; f: string[]; d?: string; U: boolean; u: boolean; E?: string; c?: string }) => {
      if (o.a && o.A) {
        writeStderr('systrace: -a (enforce) and -A (learn) exclude each other\n');
        process.exit(125);
      }
      const collapse = o.collapse === undefined ? undefined : Number(o.collapse);
      if (collapse !== undefined && !(Number.isInteger(collapse) && collapse >= 1)) {
        writeStderr('systrace: --collapse takes a whole number of files, 1 or more\n');
        process.exit(125);
      }
      try {
        const status = await runConfined(cmd, {
          enforce: o.a,
          policyFiles: o.f,
          policyDir: o.d,
          globalOnly: o.U,
          aliases: !o.u,
          logStderr: true,
          logFile: o.E,
          runAs: o.c,
          brokerSocket: o.broker,
          gui: o.gui,
          killOnViolation: o.killOnViolation,
          stats: o.stats,
          monitor: o.monitor ? { address: o.monitor, token: o.monitorToken ?? process.env.SYSTRACE_MONITOR_TOKEN ?? '', ca: o.monitorCa } : undefined,
          learn: o.A ? { output: o.o, within: o.within, collapse } : undefined,
        });
        process.exit(status);
      } catch (e) {
        const { message, exitCode } = describeError(e);
        writeStderr(message + '\n');
        process.exit(exitCode);
      }
    });
}
