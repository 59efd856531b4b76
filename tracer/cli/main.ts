#!/usr/bin/env node
// The CLI entry only dispatches: one file per command under commands/.
import { registerRun } from './commands/run.js';
import { newProgram } from './program.js';

// Output piped into `head` that stops reading is not an error of ours.
// (Only for the commands that print: touching process.stdout makes a pipe
// non-blocking for everyone sharing it, which `run` must not do.)
if (process.argv[2] !== 'run') {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

const program = newProgram();
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
