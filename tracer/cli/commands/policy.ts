// `systrace policy show|lint|import|explain`: what the engine and the kernel
// will enforce, what a policy gets wrong, classic policies, one call's verdict.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { importClassicPolicy } from '../../policy/import.js';
import { formatFinding, lintPolicy } from '../../policy/lint.js';
import { ExplainError, explainCall } from '../../policy/explain.js';
import { loadPolicyFileSync } from '../../policy/load.js';
import { PolicyError } from '../../policy/parse.js';
import { compile, LANDLOCK_ACCESS, LANDLOCK_NET } from '../../policy/compile.js';
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
        const abi = p.landlock ? native().landlockAbi() : 0;
        const plan = compile([p], { enforce: opts.a, aliases: true, user, reportDefaultDenials: true, landlockAbi: abi });
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
        if (plan.landlockWhy) process.stdout.write(`landlock: not used: ${plan.landlockWhy}\n`);
        if (plan.landlockNetWhy) process.stdout.write(`landlock: ports not used: ${plan.landlockNetWhy}\n`);
        const net = plan.landlock?.net;
        if (net) {
          const { fd } = native().landlockRuleset(0n, [], net);
          native().closeFd(fd);
          process.stdout.write(`landlock: ${net.calls.join(' and ')} in the kernel, TCP ports checked by Landlock (ABI ${abi}); a refusal is EACCES and not reported. Granted:\n`);
          for (const p of net.ports) {
            const rights = [p.access & LANDLOCK_NET.BIND_TCP ? 'bind' : '', p.access & LANDLOCK_NET.CONNECT_TCP ? 'connect' : ''].filter(Boolean).join('+');
            process.stdout.write(`  ${rights.padEnd(12)} port ${p.port}  (${p.source})\n`);
          }
        }
        if (plan.landlock && plan.landlock.calls.length > 0) {
          const { fd, skipped } = native().landlockRuleset(plan.landlock.handled, plan.landlock.rules);
          native().closeFd(fd);
          const ll = plan.landlock;
          const opens = ll.writes ? 'read-only and for writing' : 'read-only';
          process.stdout.write(`landlock: ${ll.calls.join(' and ')} ${opens}: in the kernel, checked by Landlock (ABI ${abi}); a refusal is EACCES and not reported. Granted:\n`);
          if (!ll.writes && ll.writesWhy) process.stdout.write(`landlock: opens for writing stay notified: ${ll.writesWhy}\n`);
          for (const [i, r] of ll.rules.entries()) {
            const what = r.kind === 'tree' ? `${r.path} and all beneath` : r.kind === 'below' ? `all beneath ${r.path}` : r.path;
            const skip = skipped.find(x => x.index === i);
            const rights = r.access === LANDLOCK_ACCESS.REFER ? 'rename/link across directories' : r.access & LANDLOCK_ACCESS.WRITE_FILE ? 'write' : 'read';
            process.stdout.write(`  ${rights.padEnd(6)} ${what}  (${r.source})${skip ? `: grants nothing here: ${skip.why}` : ''}\n`);
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
    .description('check a policy: syntax, rules that can never match, rules that permit too much, unanchored re')
    .argument('<file...>', 'policy files (YAML)')
    .action((files: string[]) => {
      // Exit 1 if any error (a policy that does not load is one), 0 with warnings only.
      let errors = 0;
      for (const file of files) {
        try {
          for (const f of lintPolicy(loadPolicyFileSync(file, policyEnv()))) {
            if (f.severity === 'error') errors++;
            process.stdout.write(`${formatFinding(f)}\n`);
          }
        } catch (e) {
          errors++;
          if (e instanceof PolicyError) for (const x of e.errors) process.stderr.write(`${x.file}:${x.line}:${x.col}: error: ${x.reason}\n`);
          else process.stderr.write(`systrace: ${(e as Error).message}\n`);
        }
      }
      process.exitCode = errors ? 1 : 0;
    });
  policy
    .command('import')
    .description('convert a classic Systrace policy to YAML; lines that cannot be mapped are reported and left out (exit 1)')
    .argument('<file>', 'classic Systrace policy or template')
    .option('-o <out>', 'write the YAML here instead of stdout')
    .action((file: string, opts: { o?: string }) => {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (e) {
        process.stderr.write(`systrace: ${file}: ${(e as Error).message}\n`);
        process.exit(125);
      }
      const r = importClassicPolicy(text, file);
      try {
        if (opts.o) writeFileSync(opts.o, r.yaml);
        else process.stdout.write(r.yaml);
      } catch (e) {
        process.stderr.write(`systrace: ${opts.o}: ${(e as Error).message}\n`);
        process.exit(125);
      }
      for (const p of r.problems) process.stderr.write(`${file}:${p.line}: ${p.reason}\n`);
      process.exitCode = r.problems.length ? 1 : 0;
    });
  policy
    .command('explain')
    .description('which rule decides a call, and why: explain FILE -- CALL [ARG...] (e.g. -- openat /etc/passwd O_RDONLY)')
    .argument('<file>', 'policy file (YAML)')
    .argument('<call>', 'system call (or fsread / fswrite with a path)')
    .argument('[args...]', 'paths, addresses (inet-[127.0.0.1]:80), O_* flags, signal names, numbers, or translator=value')
    .option('-a', 'as under enforcement (ask becomes deny)', false)
    .option('-u', 'as with run -u: aliases off', false)
    .action((file: string, call: string, args: string[], opts: { a: boolean; u: boolean }) => {
      try {
        const env = policyEnv();
        const p = loadPolicyFileSync(file, env);
        const x = explainCall(p, [call, ...args], { enforce: opts.a, aliases: !opts.u, user: currentUser(), cwd: env.CWD });
        process.stdout.write(x.lines.join('\n') + '\n');
      } catch (e) {
        fail(e);
      }
    });
}

function fail(e: unknown): never {
  const msg = e instanceof PolicyError ? e.message : e instanceof ExplainError ? `systrace: explain: ${e.message}` : `systrace: ${(e as Error).message}`;
  process.stderr.write(`${msg}\n`);
  process.exit(125);
}
