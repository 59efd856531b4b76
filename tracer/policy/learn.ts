// Learning (`run -A`): what a run did, made into a policy that permits
// exactly that run, readable and durable. Pure: a recording in, YAML out.
//
// Generalisations, each of which only widens what the run itself did:
// - calls with no pointer argument become unconditional permits (decided
//   in the kernel);
// - the program's own /proc/PID already reads /proc/self (normalisation);
// - shared libraries, locale and zoneinfo data fold into their directories;
// - a path component with a random part (mkstemp's XXXXXX, Python's
//   tmpabc123) becomes a regular expression that matches within that
//   component only;
// - more than `collapse` files read or written in one directory become
//   `dir/*`;
// - the user's home and the working directory become $HOME and $CWD.
import type { Emulation } from './types.js';

export type Access = 'fsread' | 'fswrite' | 'exec';

export interface Recording {
  emulation: Emulation;
  /** Calls decided on their integer arguments alone, by name. */
  calls: Set<string>;
  /** Paths by how they were used (alias, or exec). */
  paths: Map<Access, Set<string>>;
  /** Calls with a path that fall under no alias (rare), by name. */
  otherPaths: Map<string, Set<string>>;
  /** Socket addresses by call (connect, bind, sendto ...). */
  sockaddrs: Map<string, Set<string>>;
}

/** Adds one permitted call, as the supervisor saw it, to the recording. */
export function record(
  rec: Recording,
  call: { syscall: string; filenames?: (string | undefined)[]; sockaddr?: string },
  alias: 'fsread' | 'fswrite' | undefined,
): void {
  const add = <K>(m: Map<K, Set<string>>, k: K, v: string): void => {
    const set = m.get(k);
    if (set) set.add(v);
    else m.set(k, new Set([v]));
  };
  const files = (call.filenames ?? []).filter((f): f is string => f !== undefined);
  if (call.syscall === 'execve' || call.syscall === 'execveat') {
    for (const f of files) add(rec.paths, 'exec', f);
  } else if (files.length > 0) {
    for (const f of files) {
      if (alias) add(rec.paths, alias, f);
      else add(rec.otherPaths, call.syscall, f);
    }
  } else if (call.sockaddr !== undefined) {
    add(rec.sockaddrs, call.syscall, call.sockaddr);
  } else {
    rec.calls.add(call.syscall);
  }
}

export function emptyRecording(emulation: Emulation): Recording {
  return { emulation, calls: new Set(), paths: new Map(), otherPaths: new Map(), sockaddrs: new Map() };
}

export interface LearnOptions {
  /** `$HOME` and `$CWD` of the run. */
  home: string;
  cwd: string;
  /** More files than this in one directory become `dir/*` (default 5). */
  collapse?: number;
  /** The program, for the `policy:` header. */
  program?: string;
  /** A comment line on top (the command, the date). */
  comment?: string;
}

/** Directories whose contents any program may read as a whole. */
const FOLDED_READS = [
  '/usr/lib', '/lib', '/lib64', '/usr/lib64', '/usr/lib32', '/usr/libx32', '/lib32',
  '/usr/share/locale', '/usr/lib/locale', '/usr/share/zoneinfo', '/usr/share/i18n',
  '/etc/ld.so.conf.d', '/usr/share/terminfo', '/lib/terminfo', '/etc/terminfo',
];

/** A name part that looks generated: 6+ characters mixing cases and digits, or tmp/mkstemp prefixes. */
const RANDOM_PART = /^(?<prefix>[a-z._-]*?)(?<rand>(?=[A-Za-z0-9_]*[0-9])(?=[A-Za-z0-9_]*[A-Za-z])[A-Za-z0-9_]{6,})(?<suffix>\.[a-z0-9]{1,5})?$/;

function isRandom(part: string): boolean {
  const m = RANDOM_PART.exec(part);
  if (!m?.groups) return false;
  const rand = m.groups.rand!;
  // Versions and plain words are not random: need at least two letter/digit alternations.
  const flips = rand.split('').filter((c, i) => i > 0 && /\d/.test(c) !== /\d/.test(rand[i - 1]!)).length;
  return flips >= 2;
}

function escapeGlobText(text: string): string {
  return text.replace(/[*?[\]\\]/g, ch => `\\${ch}`);
}

/** Where programs make files with generated names. */
const TEMP_DIRS = ['/tmp', '/var/tmp', '/dev/shm', '/run/user'];

/**
 * The fixed part of a generated name in a temporary directory, by the
 * conventions that make them: Python's tempfile (`tmp` + 8 of [a-z0-9_]),
 * mkstemp's XXXXXX (6 trailing letters and digits). undefined if the
 * name follows neither.
 */
function tempStem(name: string): string | undefined {
  // Python's tempfile: 8 of [a-z0-9_], after its `tmp` prefix or alone
  // (the name it tries first to find a usable temporary directory).
  // (Its eight may all be letters: 6% of names. A real 8-letter name made
  // directly in a temporary directory is generalised too: a small widening,
  // to names of that length and alphabet only.)
  const py = /^(tmp|)[a-z0-9_]{8}(\.[A-Za-z0-9]{1,8})?$/.exec(name);
  if (py) return `${py[1]}[a-z0-9_]{8}${escapeRe(py[2] ?? '')}`;
  // mkstemp(prefix='job-'): the prefix, then Python's 8 characters.
  const pre = /^(.*[^A-Za-z0-9])[a-z0-9_]{8}(\.[A-Za-z0-9]{1,8})?$/.exec(name);
  if (pre) return `${escapeRe(pre[1]!)}[a-z0-9_]{8}${escapeRe(pre[2] ?? '')}`;
  // mkstemp and mkdtemp: XXXXXX, six letters and digits, after a prefix.
  const mk = /^(.*?[^A-Za-z0-9]|)[A-Za-z0-9]{6}$/.exec(name);
  if (mk && name.length >= 6) return `${escapeRe(mk[1]!)}[A-Za-z0-9]{6}`;
  return undefined;
}

const escapeRe = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A path with its random components replaced, as a regular expression in
 * which each replaced part stays within its component (`[^/]*`): a glob's
 * `*` would cross `/` (Systrace's match), and a pattern for a directory
 * made in /tmp would then grant everything below it. undefined if the
 * path has no random part.
 */
function randomPattern(path: string, opts: LearnOptions): string | undefined {
  const named = withVariables(path, opts);
  const variable = /^\$(HOME|CWD)(?=\/|$)/.exec(named)?.[0];
  const parts = path.split('/');
  const skip = variable ? (variable === '$HOME' ? opts.home : opts.cwd).split('/').length : 0;
  let changed = false;
  const out = parts.map((p, i) => {
    if (i < skip) return undefined;
    // A name made directly in a temporary directory.
    if (TEMP_DIRS.includes(parts.slice(0, i).join('/'))) {
      const stem = tempStem(p);
      if (stem !== undefined) {
        changed = true;
        return stem;
      }
    }
    if (!isRandom(p)) return escapeRe(p);
    changed = true;
    const m = RANDOM_PART.exec(p)!.groups!;
    return `${escapeRe(m.prefix ?? '')}[^/]*${escapeRe(m.suffix ?? '')}`;
  });
  if (!changed) return undefined;
  const tail = out.slice(skip).join('/');
  return `^${variable ?? ''}${skip ? '/' : ''}${tail}$`.replace(/^\^\/\//, '^/');
}

function quote(s: string): string {
  return JSON.stringify(s);
}

/** `/home/u/x` -> `$HOME/x` (the longer of $CWD and $HOME wins). */
function withVariables(path: string, opts: LearnOptions): string {
  const vars: [string, string][] = [
    ['$CWD', opts.cwd],
    ['$HOME', opts.home],
  ];
  vars.sort((a, b) => b[1].length - a[1].length);
  for (const [name, dir] of vars) {
    if (dir && dir !== '/' && (path === dir || path.startsWith(dir + '/'))) return name + path.slice(dir.length);
  }
  return path;
}

/** The rule texts (without action) that cover a set of paths for one access. */
export function generalisePaths(paths: Iterable<string>, access: Access, opts: LearnOptions): string[] {
  const collapse = opts.collapse ?? 5;
  const exprs: string[] = [];
  const seen = new Set<string>();
  const add = (e: string): void => {
    if (!seen.has(e)) {
      seen.add(e);
      exprs.push(e);
    }
  };
  const rest: string[] = [];
  const folded = new Set<string>();
  for (const p of [...paths].sort()) {
    const dir = access === 'fsread' ? FOLDED_READS.find(d => p === d || p.startsWith(d + '/')) : undefined;
    if (dir) folded.add(dir);
    else rest.push(p);
  }
  for (const d of [...folded].sort()) add(`filename inpath ${quote(d)}`);

  const patterns = new Map<string, string>();
  const plain: string[] = [];
  for (const p of rest) {
    const pat = p.startsWith('/<non-existent filename>') ? undefined : randomPattern(p, opts);
    if (pat) patterns.set(pat, p);
    else plain.push(p);
  }
  // Directories holding more than `collapse` of the remaining files.
  const byDir = new Map<string, string[]>();
  for (const p of plain) {
    const dir = p.slice(0, p.lastIndexOf('/')) || '/';
    byDir.set(dir, [...(byDir.get(dir) ?? []), p]);
  }
  for (const [dir, files] of [...byDir].sort()) {
    if (files.length > collapse && dir !== '/') {
      add(`filename match ${quote(escapeGlobText(withVariables(dir, opts)) + '/*')}`);
    } else {
      for (const f of files) add(`filename eq ${quote(withVariables(f, opts))}`);
    }
  }
  for (const pat of [...patterns.keys()].sort()) add(`filename re ${quote(pat)}`);
  return exprs;
}

const yamlKey = (k: string): string => (/^[a-z_][a-z0-9_]*$/.test(k) ? k : quote(k));

/** A rule as a YAML list item: plain where YAML reads it back as it is, else single-quoted. */
function yamlRule(rule: string): string {
  if (!/: |\s#|^[-?:,[\]{}#&*!|>'"%@`]/.test(rule) && !/\s$/.test(rule)) return rule;
  return `'${rule.replace(/'/g, "''")}'`;
}

/** The learned policy as YAML text. */
export function learnedPolicy(rec: Recording, opts: LearnOptions): string {
  const lines: string[] = [];
  if (opts.comment) for (const c of opts.comment.split('\n')) lines.push(`# ${c}`);
  if (opts.program) lines.push(`policy: ${quote(opts.program)}`);
  lines.push(`emulation: ${rec.emulation}`, 'default: deny', 'rules:');
  const calls = [...rec.calls].sort();
  if (calls.length > 0) lines.push('  # calls decided on their integer arguments alone: in the kernel');
  for (const c of calls) lines.push(`  ${yamlKey(c)}: permit`);
  for (const access of ['fsread', 'fswrite'] as const) {
    const paths = rec.paths.get(access);
    if (!paths?.size) continue;
    lines.push(`  ${access}:`);
    for (const e of generalisePaths(paths, access, opts)) lines.push(`    - ${yamlRule(`${e} then permit`)}`);
  }
  const exec = rec.paths.get('exec');
  if (exec?.size) {
    lines.push('  execve:');
    for (const p of [...exec].sort()) lines.push(`    - ${yamlRule(`filename eq ${quote(withVariables(p, opts))} then permit`)}`);
  }
  // An unconditional permit of a call covers any argument rules for it.
  for (const [call, paths] of [...rec.otherPaths].sort()) {
    if (rec.calls.has(call)) continue;
    lines.push(`  ${yamlKey(call)}:`);
    for (const e of generalisePaths(paths, 'fswrite', opts)) lines.push(`    - ${yamlRule(`${e} then permit`)}`);
  }
  for (const [call, addrs] of [...rec.sockaddrs].sort()) {
    if (rec.calls.has(call)) continue;
    lines.push(`  ${yamlKey(call)}:`);
    for (const a of [...addrs].sort()) lines.push(`    - ${yamlRule(`sockaddr eq ${quote(a)} then permit`)}`);
  }
  return lines.join('\n') + '\n';
}
