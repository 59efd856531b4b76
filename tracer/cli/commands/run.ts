// `systrace run [options] -- CMD [ARG...]`
import type { Command } from 'commander';
import { describeError, runConfined } from '../../supervisor/run.js';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function registerRun(program: Command): void {
  program
    .command('run')
    .description(
      'run CMD under its policy. Exit status: the program\'s own; 128+N if it died of signal N;\n' +
        '125 if systrace failed (bad policy, cannot start); 126 not executable; 127 not found.\n' +
        'Interactive prompts (no -a) and learning (-A) are not available yet: without -a,\n' +
        'systrace says so and enforces as with -a.',
    )
    .argument('<cmd...>', 'the program and its arguments (put -- before them)')
    .option('-a', 'enforce: calls the policy does not permit are denied and logged', false)
    .option('-f <file>', 'policy file (YAML); once per emulation (linux, linux32)', collect, [])
    .option('-d <dir>', 'user policy directory instead of ~/.systrace')
    .option('-U', 'use global policies (/etc/systrace) only', false)
    .option('-u', 'no aliases: fsread/fswrite rules are ignored', false)
    .option('-i', 'keep the policy across execve (always the case here: one policy governs the whole process tree)', false)
    .option('-e', 'log denials to stderr (the default; kept for Systrace compatibility)', false)
    .option('-E <file>', 'also append the log to FILE')
    .passThroughOptions()
    .action(async (cmd: string[], o: { a: boolean; f: string[]; d?: string; U: boolean; u: boolean; E?: string }) => {
      if (!o.a) process.stderr.write('systrace: interactive prompts are not available yet: enforcing as with -a\n');
      try {
        const status = await runConfined(cmd, {
          enforce: true,
          policyFiles: o.f,
          policyDir: o.d,
          globalOnly: o.U,
          aliases: !o.u,
          logStderr: true,
          logFile: o.E,
        });
        process.exit(status);
      } catch (e) {
        const { message, exitCode } = describeError(e);
        process.stderr.write(message + '\n');
        process.exit(exitCode);
      }
    });
}
