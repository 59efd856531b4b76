// Policy texts for integration tests.
//
// A test states only the rules it is about; policyYaml() adds what any
// program needs to start and exit under `default: deny` (the dynamic loader
// reading /usr and /etc/ld.so.cache, memory and signal setup, fstat on its
// own descriptors). Those base rules stay boring on purpose: they must not
// make the rule under test moot, so they never permit open/stat of
// arbitrary paths.

export type Emulation = 'linux' | 'linux32';
export type Rules = Record<string, string | string[]>;

export interface PolicyOptions {
  emulation?: Emulation;
  default?: 'deny' | 'permit' | 'ask';
  /** The rules under test; for a call also in the base, these come first. */
  rules?: Rules;
  /** Leave out the base rules (for tests about the policy file itself). */
  bare?: boolean;
}

/** Calls every test program makes, decided in the kernel. */
const COMMON = [
  'brk', 'mmap', 'munmap', 'mprotect', 'madvise', 'mremap',
  'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'sigaltstack',
  'fcntl', 'ioctl', 'uname', 'getcwd', 'getdents64', 'statx',
  'clone', 'clone3', 'fork', 'vfork', 'wait4', 'kill', 'tgkill',
  'pipe2', 'prlimit64', 'set_robust_list', 'set_tid_address', 'rseq',
  'futex', 'getrandom', 'exit', 'exit_group', 'execve',
];

const PER_EMULATION: Record<Emulation, string[]> = {
  linux: ['fstat', 'newfstatat', 'arch_prctl', 'fadvise64', 'pipe'],
  linux32: ['fstat64', 'fstatat64', 'set_thread_area', 'mmap2', 'fcntl64', 'ugetrlimit',
    'waitpid', 'fadvise64_64', 'pipe', '_llseek'],
};

/** Reads the dynamic loader and libc make before main(). */
export const LOADER_READS = [
  'filename inpath "/usr" then permit',
  'filename eq "/etc/ld.so.cache" then permit',
  'filename eq "/etc/ld.so.preload" then permit',
  'filename eq "/dev/null" then permit',
];

export function baseRules(emulation: Emulation): Rules {
  const rules: Rules = { '@default': 'permit', '@basic-io': 'permit' };
  for (const name of [...COMMON, ...PER_EMULATION[emulation]])
    rules[name] = 'permit';
  rules.fsread = [...LOADER_READS];
  return rules;
}

/** Test rules first; an unconditional test action replaces the base one. */
function merge(base: Rules, extra: Rules): Rules {
  const out: Rules = { ...base };
  for (const [name, value] of Object.entries(extra)) {
    const prev = out[name];
    if (Array.isArray(value) && Array.isArray(prev))
      out[name] = [...value, ...prev];
    else
      out[name] = value;
  }
  return out;
}

/** A YAML scalar: plain when unambiguous, else JSON's double-quoted form (valid YAML). */
function scalar(s: string): string {
  return /^[A-Za-z_][A-Za-z0-9_[\]-]*$/.test(s) ? s : JSON.stringify(s);
}

export function policyYaml(opts: PolicyOptions = {}): string {
  const emulation = opts.emulation ?? 'linux';
  const rules = opts.bare === true ? (opts.rules ?? {}) : merge(baseRules(emulation), opts.rules ?? {});
  const lines = [
    `emulation: ${emulation}`,
    `default: ${opts.default ?? 'deny'}`,
  ];
  lines.push(Object.keys(rules).length === 0 ? 'rules: {}' : 'rules:');
  for (const [name, value] of Object.entries(rules)) {
    if (typeof value === 'string') {
      lines.push(`  ${scalar(name)}: ${scalar(value)}`);
    } else {
      lines.push(`  ${scalar(name)}:`);
      for (const rule of value)
        lines.push(`    - ${scalar(rule)}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** A filter string naming one file exactly. */
export function fileIs(p: string, action: string): string {
  return `filename eq ${JSON.stringify(p)} then ${action}`;
}
