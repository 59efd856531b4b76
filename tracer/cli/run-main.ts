// `systrace run` alone. npm run build bundles it, with everything it
// imports, into dist/tracer/cli/run-bundle.cjs, which bin/systrace starts
// through bin/run-loader.cjs for `run`; every other command starts from
// main.ts.
import { registerRun } from './commands/run.js';
import { newProgram } from './program.js';

const program = newProgram();
registerRun(program);
program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`systrace: ${(e as Error).message}\n`);
  process.exit(125);
});
