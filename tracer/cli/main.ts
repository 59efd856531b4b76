#!/usr/bin/env node
// The CLI entry only dispatches: one file per command under commands/.
import { Command } from 'commander';
import { registerRun } from './commands/run.js';
import { registerPolicy } from './commands/policy.js';
import { registerMerge } from './commands/merge.js';
import { registerBrokerServe } from './commands/broker-serve.js';
import { registerBroker } from './commands/broker.js';
import { registerAudit } from './commands/audit.js';
import { registerMonitor } from './commands/monitor.js';

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
      'There is no -p PID (attach): on seccomp a filter is installed by the process itself\n' +
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
registerPolicy(program);
registerMerge(program.commands.find(c => c.name() === 'policy')!);
registerBrokerServe(registerBroker(program));
registerAudit(program);
registerMonitor(program);

await program.parseAsync(process.argv);
