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
//   systrace confining+landlock
//                          the same policy with `landlock: true`: read-only opens
//                          decided by Landlock in the kernel, the rest notified
//   systrace confining+landlock+free-stat
//                          and the stat family, readlink and access permitted
//                          outright: file contents confined, metadata not
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
  /** The confining policy with `landlock: true`. */
  landlock?: string;
  /** That, with metadata calls permitted outright (freeStat below). */
  freeStat?: string;
}

/** Calls that read metadata by name, never contents: permitted outright by the free-stat variant. */
export const METADATA_CALLS = ['stat', 'lstat', 'newfstatat', 'statx', 'readlink', 'readlinkat', 'access', 'faccessat', 'faccessat2'];

/**
 * The landlock variants of a confining policy. Landlock checks read access
 * at exec, so the policy must let each program exec'd read itself (the
 * workload, and timed.c, which runs it).
 */
export function landlockDocs(conf: PolicyDoc, programs: string[]): { landlock: PolicyDoc; freeStat: PolicyDoc } {
  const rules = { ...conf.rules };
  const reads = programs.map(p => `filename eq ${JSON.stringify(fs.realpathSync(p))} then permit`);
  const fsread = Array.isArray(rules.fsread) ? rules.fsread : [];
  rules.fsread = [...reads, ...fsread];
  const landlock = { ...conf, landlock: true, rules };
  const free: Rules = {};
  for (const call of METADATA_CALLS) free[call] = 'permit';
  return { landlock, freeStat: { ...landlock, rules: { ...free, ...rules } } };
}

/** Where a command's program is, as execvp would find it. */
export function programPath(name: string): string {
  if (name.includes('/')) return name;
  const r = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${name}: not found`);
  return r.stdout.trim();
}

export const VARIANTS = [
  'native', 'seccomp-allow-all', 'bwrap+seccomp', 'strace -f', 'strace --seccomp-bpf',
  'notify-floor (C)', 'systrace in-kernel', 'systrace confining', 'systrace confining+landlock',
  'systrace confining+landlock+free-stat',
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
    ...(policies.landlock === undefined ? [] : [
      v('systrace confining+landlock', true, cmd => ({ argv: underSystrace(ctx, policies.landlock!, cmd) })),
    ]),
    ...(policies.freeStat === undefined ? [] : [
      v('systrace confining+landlock+free-stat', false, cmd => ({ argv: underSystrace(ctx, policies.freeStat!, cmd) })),
    ]),
  ];
}

/** The targets, shared by every workload measured in time (lower is better). */
export function standardTargets(opts: { confiningMax?: number; floor?: boolean }): {
  label: string; numerator: string; denominator: string; max: number;
}[] {
  const t = [{ label: 'systrace in-kernel / seccomp-allow-all', numerator: 'systrace in-kernel', denominator: 'seccomp-allow-all', max: 1.05 }];
  if (opts.confiningMax !== undefined) {
    t.push({ label: 'systrace confining / native', numerator: 'systrace confining', denominator: 'native', max: opts.confiningMax });
    t.push({ label: 'systrace confining+landlock / native', numerator: 'systrace confining+landlock', denominator: 'native', max: opts.confiningMax });
    t.push({ label: 'systrace confining+landlock+free-stat / native', numerator: 'systrace confining+landlock+free-stat', denominator: 'native', max: opts.confiningMax });
  }
  if (opts.floor === true)
    t.push({ label: 'systrace confining / notify-floor (C)', numerator: 'systrace confining', denominator: 'notify-floor (C)', max: 2 });
  return t;
}

type Rules = Record<string, unknown>;
interface PolicyDoc { policy?: string; emulation?: string; default?: string; landlock?: boolean; 'fast-fstat'?: boolean; rules?: Rules }

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

/**
 * Whether a learned `re` rule names something under `dir`: its anchored
 * pattern, read token by token (literals, escapes, and the learner's
 * `[A-Za-z0-9]{N}` for random names), accepts `dir` followed by '/'. The
 * bench's own temporary directory has a random name, which learning turns
 * into such a class.
 */
function reUnder(rule: string, dir: string): boolean {
  const m = /filename re "\^(.*)" then/.exec(rule);
  if (!m) return false;
  const src = JSON.parse(`"${m[1]}"`) as string; // the YAML/JSON escapes of the rule text
  const want = `${dir}/`;
  let i = 0;
  let k = 0;
  while (k < want.length) {
    if (i >= src.length) return false;
    const cls = /^\[A-Za-z0-9\]\{(\d+)\}/.exec(src.slice(i));
    if (cls) {
      const n = Number(cls[1]);
      if (!/^[A-Za-z0-9]*$/.test(want.slice(k, k + n)) || k + n > want.length) return false;
      k += n;
      i += cls[0].length;
      continue;
    }
    let c = src[i]!;
    if (c === '\\') c = src[++i] ?? '';
    else if ('.*+?()[]{}|^$'.includes(c)) return false;
    if (c !== want[k]) return false;
    i++;
    k++;
  }
  return true;
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
    r.includes(`"${d}"`) || r.includes(`"${d}/`) || r.includes(`"^${reEscape(d)}`) || reUnder(r, d);
  const base = dirs.map(d => /systrace-bench-[A-Za-z0-9]{6}/.exec(d)?.[0]).find(b => b !== undefined);
  return [
    ...dirs.map(d => `filename inpath ${JSON.stringify(d)} then permit`),
    ...list.filter(r => !dirs.some(d => names(r, d))).map(r => (base === undefined ? r : pinned(r, base))),
  ];
}

/**
 * A learned `re` rule that names the bench's own temporary directory (a
 * random name, which learning turns into `[A-Za-z0-9]{6}`) as the `eq`
 * rule an administrator would write for that one path; any other rule as
 * it is.
 */
function pinned(rule: string, base: string): string {
  const m = /^filename re "\^(.*)\$" then (.*)$/.exec(rule);
  if (!m) return rule;
  const src = (JSON.parse(`"${m[1]}"`) as string).replace('systrace-bench-[A-Za-z0-9]{6}', base);
  if (/(^|[^\\])[.*+?()[\]{}|^$]/.test(src.replace(/\\./g, ''))) return rule; // still a pattern
  return `filename eq ${JSON.stringify(src.replace(/\\(.)/g, '$1'))} then ${m[2]}`;
}
