// The ways of running one program that every workload compares (issue 6):
//
//   native                 no filter
//   seccomp-allow-all      a bare allow-all filter: the floor of any seccomp sandbox
//   bwrap+seccomp          bubblewrap (--bind / / --dev /dev --proc /proc) with an
//                          allow-all BPF program given as --seccomp 3
//   strace -f              ptrace on every call (Systrace-on-Linux's old way)
//   strace --seccomp-bpf   ptrace only for open/openat, the rest decided by BPF
//   notify-floor (C)       a C seccomp-notify supervisor emulating open/openat
//                          (no policy; other calls are allowed in BPF)
//   systrace in-kernel     systrace -a with unconditional permits only: no call notified
//   systrace confining     systrace -a with file rules: every file call notified
//
// and the helpers that produce the two systrace policies from one learning run.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse, stringify } from 'yaml';
import { underSystrace, type BenchContext, type Launch } from './measure.js';

export interface Variant {
  name: string;
  wrap: (cmd: string[]) => Launch;
  /** Pays a stop or a notification per call the workload makes: run fewer iterations. */
  slow: boolean;
}

export interface Policies {
  /** Unconditional permits only: decided wholly in the kernel. */
  kernel: string;
  /** File (and address) rules: those calls are notified. */
  confining: string;
}

export const VARIANTS = [
  'native', 'seccomp-allow-all', 'bwrap+seccomp', 'strace -f', 'strace --seccomp-bpf',
  'notify-floor (C)', 'systrace in-kernel', 'systrace confining',
] as const;

export function variants(ctx: BenchContext, policies: Policies): Variant[] {
  const v = (name: string, slow: boolean, wrap: (cmd: string[]) => Launch): Variant => ({ name, slow, wrap });
  return [
    v('native', false, cmd => ({ argv: cmd })),
    v('seccomp-allow-all', false, cmd => ({ argv: [path.join(ctx.fixtures, 'seccomp-allow-all'), ...cmd] })),
    v('bwrap+seccomp', false, cmd => ({
      argv: ['bwrap', '--bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--seccomp', '3', '--', ...cmd],
      fd3: ctx.allowAllBpf,
    })),
    v('strace -f', true, cmd => ({ argv: ['strace', '-f', '-o', '/dev/null', ...cmd] })),
    v('strace --seccomp-bpf', true, cmd => ({
      argv: ['strace', '-f', '--seccomp-bpf', '-o', '/dev/null', '-e', 'trace=open,openat', ...cmd],
    })),
    v('notify-floor (C)', true, cmd => ({ argv: [path.join(ctx.fixtures, 'notify-floor'), ...cmd] })),
    v('systrace in-kernel', false, cmd => ({ argv: underSystrace(ctx, policies.kernel, cmd) })),
    v('systrace confining', true, cmd => ({ argv: underSystrace(ctx, policies.confining, cmd) })),
  ];
}

/** The targets, shared by every workload measured in time (lower is better). */
export function standardTargets(opts: { confiningMax?: number; floor?: boolean }): {
  label: string; numerator: string; denominator: string; max: number;
}[] {
  const t = [{ label: 'systrace in-kernel / seccomp-allow-all', numerator: 'systrace in-kernel', denominator: 'seccomp-allow-all', max: 1.05 }];
  if (opts.confiningMax !== undefined)
    t.push({ label: 'systrace confining / native', numerator: 'systrace confining', denominator: 'native', max: opts.confiningMax });
  if (opts.floor === true)
    t.push({ label: 'systrace confining / notify-floor (C)', numerator: 'systrace confining', denominator: 'notify-floor (C)', max: 2 });
  return t;
}

type Rules = Record<string, unknown>;
interface PolicyDoc { policy?: string; emulation?: string; default?: string; rules?: Rules }

/** Run `systrace run -A -o OUT -- cmd` (from the bench's own cwd, so $CWD means the same later). */
export function learnSync(ctx: BenchContext, name: string, cmd: string[]): PolicyDoc {
  const out = path.join(ctx.tmp, `${name}-learned.yaml`);
  fs.rmSync(out, { force: true });
  const r = spawnSync(ctx.systrace, ['run', '-A', '-o', out, '--', ...cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (!fs.existsSync(out))
    throw new Error(`learning ${name} failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return readPolicy(out);
}

export function readPolicy(file: string): PolicyDoc {
  return parse(fs.readFileSync(file, 'utf8')) as PolicyDoc;
}

/** The learned calls, every one permitted unconditionally (file and address rules become `permit`). */
export function kernelOnly(learned: PolicyDoc): PolicyDoc {
  const rules: Rules = {};
  for (const call of Object.keys(learned.rules ?? {}))
    rules[call] = 'permit';
  // fsread and fswrite both permitted means every open is; said per call,
  // because the compiler notifies open* whenever their alias depends on the
  // flags, even when both aliases are unconditional permits.
  if ('fsread' in rules || 'fswrite' in rules)
    for (const call of ['open', 'openat', 'openat2', 'creat'])
      rules[call] = 'permit';
  return { emulation: learned.emulation ?? 'linux', default: 'deny', rules };
}

/** The learned policy, with the learned rules of the aliases (or calls) in `files` replaced. */
export function confining(learned: PolicyDoc, files: Rules): PolicyDoc {
  return { emulation: learned.emulation ?? 'linux', default: 'deny', rules: { ...learned.rules, ...files } };
}

export function writePolicy(ctx: BenchContext, name: string, doc: PolicyDoc, comment: string): string {
  const file = path.join(ctx.tmp, `${name}.yaml`);
  fs.writeFileSync(file, `# ${comment}\n${stringify(doc)}`);
  return file;
}

function reEscape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The learned file rules of `alias`, with every rule that names something
 * under one of `dirs` replaced by one `filename inpath "DIR" then permit`
 * per directory, placed first: a policy an administrator would write from
 * what learning showed.
 */
export function foldRules(learned: PolicyDoc, alias: string, dirs: string[]): string[] {
  const old = learned.rules?.[alias];
  const list = Array.isArray(old) ? old.filter((r): r is string => typeof r === 'string') : [];
  const names = (r: string, d: string) =>
    r.includes(`"${d}"`) || r.includes(`"${d}/`) || r.includes(`"^${reEscape(d)}`);
  return [
    ...dirs.map(d => `filename inpath ${JSON.stringify(d)} then permit`),
    ...list.filter(r => !dirs.some(d => names(r, d))),
  ];
}
