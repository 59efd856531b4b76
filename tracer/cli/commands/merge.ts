// `systrace policy merge FILE FILE... [-o OUT]`
import fs from 'node:fs';
import type { Command } from 'commander';
import { loadPolicyFileSync } from '../../policy/load.js';
import { parsePolicy, PolicyError } from '../../policy/parse.js';
import { mergePolicies } from '../../policy/merge.js';
import { policyEnv } from '../policy-env.js';

export function registerMerge(policy: Command): void {
  policy
    .command('merge')
    .description('combine policies for one program (learned in several runs): the first is the base, the others add the rules it lacks')
    .argument('<files...>', 'policy files (YAML), two or more')
    .option('-o <file>', 'write the result here (a new file) instead of standard output')
    .action((files: string[], o: { o?: string }) => {
      try {
        if (files.length < 2) throw new Error('merge needs two policies or more');
        if (o.o && fs.existsSync(o.o)) throw new Error(`${o.o} exists: merge into a new file`);
        const env = policyEnv();
        const inputs = files.map(f => ({ text: fs.readFileSync(f, 'utf8'), policy: loadPolicyFileSync(f, env) }));
        const result = mergePolicies(inputs[0]!, inputs.slice(1));
        parsePolicy(result.text, o.o ?? '<merged>', env); // what we write must load
        for (const c of result.conflicts) process.stderr.write(`systrace: conflict: ${c}\n`);
        if (o.o) {
          const tmp = `${o.o}.tmp-${process.pid}`;
          fs.writeFileSync(tmp, result.text, { mode: 0o644, flag: 'wx' });
          fs.renameSync(tmp, o.o);
          process.stderr.write(`systrace: ${result.added} rules added to ${files[0]}'s, written to ${o.o}\n`);
        } else {
          process.stdout.write(result.text);
        }
        process.exitCode = result.conflicts.length ? 1 : 0;
      } catch (e) {
        process.stderr.write(e instanceof PolicyError ? `${e.message}\n` : `systrace: ${(e as Error).message}\n`);
        process.exit(125);
      }
    });
}
