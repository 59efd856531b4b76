// `systrace policy show|lint FILE`: what the engine and the kernel will enforce.
import type { Command } from 'commander';
import { loadPolicyFileSync } from '../../policy/load.js';
import { PolicyError } from '../../policy/parse.js';
import { compile } from '../../policy/compile.js';
import { native } from '../../native.js';
import { currentUser, policyEnv } from '../policy-env.js';

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('inspect policies');
  policy
    .command('show')
    .description('show where each system call is decided (kernel or user space); --bpf prints the filter')
    .argument('<file>', 'policy file (YAML)')
    .option('-a', 'as under enforcement (ask becomes deny)', false)
    .option('--bpf', 'print the seccomp filter as libseccomp PFC text', false)
    .action((file: string, opts: { a: boolean; bpf: boolean }) => {
      try {
        const p = loadPolicyFileSync(file, policyEnv());
        const user = currentUser();
        const plan = compile([p], { enforce: opts.a, aliases: true, user, reportDefaultDenials: true });
        const built = native().filterBuild(plan.filter);
        if (opts.bpf) {
          process.stdout.write(built.pfc);
          return;
        }
        for (const arch of plan.arches) {
          if (arch.emulation !== p.emulation) continue;
          for (const [name, place] of arch.calls) {
            if (place.target === 'kernel' && place.why === 'default') continue;
            process.stdout.write(`${name.padEnd(22)} ${place.target.padEnd(6)} ${place.why}\n`);
          }
        }
        if (built.skipped.length > 0) {
          process.stdout.write(`libseccomp placed no rule for (these fall to the filter's default): ${built.skipped.join(' ')}\n`);
        }
      } catch (e) {
        fail(e);
      }
    });
  policy
    .command('lint')
    .description('check a policy: syntax, system calls, translators, regular expressions, errno names')
    .argument('<file...>', 'policy files (YAML)')
    .action((files: string[]) => {
      let bad = 0;
      for (const file of files) {
        try {
          loadPolicyFileSync(file, policyEnv());
        } catch (e) {
          bad++;
          process.stderr.write(`${e instanceof PolicyError ? e.message : `systrace: ${(e as Error).message}`}\n`);
        }
      }
      process.exitCode = bad ? 1 : 0;
    });
}

function fail(e: unknown): never {
  process.stderr.write(e instanceof PolicyError ? `${e.message}\n` : `systrace: ${(e as Error).message}\n`);
  process.exit(125);
}
