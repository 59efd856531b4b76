// Argument rewriting: what a `rewrite` action does to a normalised value,
// and the load-time check that a rewrite cannot lead out of what the
// policy permits. Pure.
//
//   filename eq "/etc/resolv.conf" then rewrite "/srv/app/resolv.conf"
//   filename inpath "$HOME/.cache" then rewrite "$HOME/.cache" to "/scratch/cache"
//   sockaddr eq "inet-[10.0.0.5]:5432" then rewrite "inet-[127.0.0.1]:6432"
//   sockaddr match "inet-*:80" then rewrite "inet-*:8080"      (keep the host)
//
// The value finally used is exactly the normalised value that was checked,
// rewritten: the program's memory is never read again.
import type { Action, Emulation, Policy, Rule, SourcePos } from './types.js';

export interface RewriteProblem {
  pos: SourcePos;
  reason: string;
}

const isAddress = (v: string): boolean => /^(inet6?-|@)/.test(v) || v.startsWith('unix-');

/** A path under `dir` at a component boundary (or dir itself). */
function under(path: string, dir: string): boolean {
  if (dir === '/') return path.startsWith('/');
  return path === dir || path.startsWith(dir + '/');
}

/**
 * The rewritten file name, or undefined when the rewrite does not apply to
 * this one (a prefix rewrite and a path outside FROM).
 */
export function rewritePath(path: string, rw: NonNullable<Action['rewrite']>): string | undefined {
  if (rw.from === undefined) return rw.to;
  if (!under(path, rw.from)) return undefined;
  const rest = path.slice(rw.from === '/' ? 0 : rw.from.length);
  const to = rw.to.endsWith('/') && rest.startsWith('/') ? rw.to.slice(0, -1) : rw.to;
  return rest === '' ? to : `${to}${rest.startsWith('/') ? '' : '/'}${rest}`;
}

/**
 * The rewritten socket address (in Systrace's form), or undefined when it
 * does not apply. `*` as the host keeps the program's host; `*` as the port
 * keeps its port.
 */
export function rewriteSockaddr(addr: string, rw: NonNullable<Action['rewrite']>): string | undefined {
  if (rw.from !== undefined && rw.from !== addr) return undefined;
  const m = /^(inet6?)-\[(.*)\]:(\d+)$/.exec(addr);
  const t = /^(inet6?)-(?:\[(.*)\]|\*):(\d+|\*)$/.exec(rw.to);
  if (m && t) {
    const family = t[1]!;
    const host = t[2] === undefined ? m[2]! : t[2];
    const port = t[3] === '*' ? m[3]! : t[3]!;
    if (t[2] === undefined && family !== m[1]) return undefined; // cannot keep a host of another family
    return `${family}-[${host}]:${port}`;
  }
  return rw.to;
}

/** Representative calls an alias's rules decide, for the load-time check. */
const REPRESENTATIVE: Record<string, { syscall: string; args: bigint[] }> = {
  fsread: { syscall: 'openat', args: [-100n, 0n, 0n, 0n, 0n, 0n] },
  fswrite: { syscall: 'openat', args: [-100n, 0n, 0o101n, 0o644n, 0n, 0n] },
};

/** Calls whose path the kernel reads itself: a rewrite could not be honoured. */
const UNREWRITABLE = new Set(['execve', 'execveat', 'chdir', 'chroot', 'mount', 'umount2', 'pivot_root', 'swapon', 'swapoff', 'acct']);

/**
 * Every rewrite in the policy must lead somewhere the policy itself
 * permits (ignoring rewrite rules, so that two rewrites cannot chain out of
 * the permitted tree), or the policy is refused. `decideTarget` is the
 * engine's decision for a call under the policy without its rewrite rules.
 */
export function checkRewrites(
  policy: Policy,
  decideTarget: (p: Policy, call: { emulation: Emulation; syscall: string; args: bigint[]; filenames?: string[]; sockaddr?: string }) => string,
): RewriteProblem[] {
  const problems: RewriteProblem[] = [];
  const without: Policy = { ...policy, rules: new Map() };
  for (const [key, rules] of policy.rules) {
    const kept = rules.filter(r => !r.action.rewrite);
    if (kept.length) without.rules.set(key, kept);
  }
  for (const [key, rules] of policy.rules) {
    for (const rule of rules) {
      const rw = rule.action.rewrite;
      if (!rw) continue;
      const fail = (reason: string): void => {
        problems.push({ pos: rule.pos, reason });
      };
      if (UNREWRITABLE.has(key)) {
        fail(`${key} cannot be rewritten: the kernel reads its path from the program's memory itself (and swapping it there would race)`);
        continue;
      }
      if (key.startsWith('@')) {
        fail('rewrite rules are written under a system call or an alias, not a group');
        continue;
      }
      const call = REPRESENTATIVE[key] ?? { syscall: key, args: [0n, 0n, 0n, 0n, 0n, 0n] };
      const address = isAddress(rw.to);
      if (!address && !rw.to.startsWith('/')) {
        fail(`rewrite target "${rw.to}" is neither an absolute path nor an address (inet-[HOST]:PORT, inet6-[HOST]:PORT)`);
        continue;
      }
      if (rw.from !== undefined && isAddress(rw.from) !== address) {
        fail(`rewrite "${rw.from}" to "${rw.to}": one is an address, the other a path`);
        continue;
      }
      if (address && /\*/.test(rw.to) && !/^(inet6?)-(?:\[[^\]*]*\]|\*):(\d+|\*)$/.test(rw.to)) {
        fail(`rewrite target "${rw.to}": '*' may stand only for the whole host or the whole port`);
        continue;
      }
      const targets = address
        ? [rw.to.replace('-*:', '-[127.0.0.1]:').replace(/:\*$/, ':1')]
        : rw.from === undefined
          ? [rw.to]
          : [rw.to, `${rw.to.replace(/\/$/, '')}/.systrace-rewrite-check`];
      for (const target of targets) {
        const verdict = decideTarget(without, {
          emulation: policy.emulation,
          syscall: call.syscall,
          args: call.args,
          ...(address ? { sockaddr: target } : { filenames: [target] }),
        });
        if (verdict !== 'permit') {
          fail(`rewrite target "${target}" is not permitted by this policy's own rules (${verdict}): a rewrite may not lead out of what the policy permits`);
          break;
        }
      }
    }
  }
  return problems;
}

export function describeRewrite(rule: Rule): string | undefined {
  const rw = rule.action.rewrite;
  if (!rw) return undefined;
  return rw.from === undefined ? `rewrite to ${rw.to}` : `rewrite ${rw.from} to ${rw.to}`;
}

