// The command-line program both entries start from: main.ts (every
// command) and run-main.ts (`run` alone, bundled; see bin/run-loader.cjs).
import { Command } from 'commander';

export function newProgram(): Command {
  return new Command()
    .name('systrace')
    .description(
      'Confine a program with a per-program system-call policy (seccomp user notification).\n\n' +
        'There is no -p PID (attach): on seccomp a filter is installed by the process itself ' +
        'before exec, so systrace can only confine programs it starts.',
    )
    .version('0.1.0')
    .enablePositionalOptions()
    .showHelpAfterError()
    .exitOverride(err => {
      // commander's own usage errors: systrace itself failed to start.
      process.exit(err.exitCode === 0 ? 0 : 125);
    });
}
