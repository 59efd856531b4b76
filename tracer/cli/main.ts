#!/usr/bin/env node
// The CLI entry only dispatches: one file per command under commands/.
import { Command } from 'commander';
import { registerRun } from './commands/run.js';

// Output piped into `head` that stops reading is not an error of ours.
// (Only for the commands that print: touching process.stdout makes a pipe
// non-blocking for everyone sharing it, which `run` must not do.)
if (process.argv[2] !== 'run') {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

const program = new Command();
program
  .name('systrace')
  .description(
    'Confine a program with a per-program system-call policy (seccomp user notification).\n' +
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

registerRun(program);
// `run` is what starts confined programs, and node's start-up is most of a
// short run's cost: the other commands (and what they import: the broker,
// the monitor server, protobufjs) load only when the command line may need
// them, which includes `systrace --help`.
if (process.argv[2] !== 'run') {
  const [{ registerPolicy }, { registerMerge }, { registerBrokerServe }, { registerBroker }, { registerAudit }, { registerMonitor }] = await Promise.all([
    import('./commands/policy.js'),
    import('./commands/merge.js'),
    import('./commands/broker-serve.js'),
    import('./commands/broker.js'),
    import('./commands/audit.js'),
    import('./commands/monitor.js'),
  ]);
  registerPolicy(program);
  registerMerge(program.commands.find(c => c.name() === 'policy')!);
  registerBrokerServe(registerBroker(program));
  registerAudit(program);
  registerMonitor(program);
}

await program.parseAsync(process.argv);
