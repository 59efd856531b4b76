// Classic Systrace policies -> this project's YAML. Pure: text in, YAML text
// and a list of problems out (the CLI reads and writes the files).
//
// The classic format (Systrace 1.6, policy.c: systrace_readpolicy):
//
//   # comment
//   Policy: /usr/sbin/named, Emulation: native
//   	native-fsread: filename eq "/etc/named.conf" then permit
//   	native-fstat: permit
//   	native-setuid: permit, if user = root
//
// and templates (systrace_readtemplate), whose header is
// `Template: NAME, Emulation: EMUL, Description: TEXT` followed by the same
// rule lines. A line is `EMUL-CALL: RULE`; the rule language is the one this
// project parses (parse.ts), so each rule is kept verbatim and only the call
// names change: Systrace ran on the BSDs (`native` there) and on Linux
// i386 (`linux`); both are mapped to x86_64 names here, the i386 ones when
// the file says `linux32`.
//
// A line that cannot be mapped is left out and reported, never guessed at:
// the result must not permit more than the classic policy did, except where
// a call is split in two on Linux (open is openat in modern glibc), which is
// said in a comment at the top of the output.
import type { Emulation } from './types.js';
import { isSyscall } from './syscalls.js';
import { isAlias } from './aliases.js';
import { parseRuleText, PolicyError, type PolicyEnv } from './parse.js';

export interface ImportProblem {
  line: number;
  reason: string;
}

export interface ImportResult {
  yaml: string;
  /** Each line left out, and why. Empty when everything was mapped. */
  problems: ImportProblem[];
  /** The program the policy is for (`Policy:`), if the file named one. */
  program?: string;
  emulation: Emulation;
}

/** Classic emulation names this project can enforce, and what each becomes. */
const EMULATIONS: Readonly<Record<string, Emulation>> = { native: 'linux', linux: 'linux', linux32: 'linux32' };

type Mapping = readonly string[] | { none: string };
const none = (why: string): Mapping => ({ none: why });

/**
 * BSD native calls (OpenBSD and NetBSD, the platforms Systrace shipped on)
 * whose Linux name differs, or that have none. A list maps a rule onto every
 * call Linux programs use for the same thing; calls absent from this table
 * keep their name (and are reported if Linux has no such call).
 */
const BSD_TO_LINUX: Readonly<Record<string, Mapping>> = {
  break: ['brk'],
  obreak: ['brk'],
  getdirentries: ['getdents64', 'getdents'],
  getdents: ['getdents64', 'getdents'],
  __getcwd: ['getcwd'],
  pread: ['pread64'],
  pwrite: ['pwrite64'],
  sigaction: ['rt_sigaction'],
  sigprocmask: ['rt_sigprocmask'],
  sigreturn: ['rt_sigreturn'],
  sigsuspend: ['rt_sigsuspend'],
  sigpending: ['rt_sigpending'],
  getentropy: ['getrandom'],
  mkfifo: ['mknod', 'mknodat'],
  __semctl: ['semctl'],
  __sysctl: none('BSD sysctl(3) has no Linux system call (Linux reads /proc/sys)'),
  issetugid: none('no Linux system call (glibc reads AT_SECURE from the auxiliary vector)'),
  mquery: none('OpenBSD mquery(2) has no Linux equivalent'),
  minherit: none('BSD minherit(2) has no Linux equivalent (madvise MADV_DONTFORK is a different call with other arguments)'),
  kqueue: none('kqueue(2) has no Linux equivalent (epoll is a different interface: write epoll_* rules)'),
  kevent: none('kevent(2) has no Linux equivalent (epoll is a different interface: write epoll_* rules)'),
  seteuid: none('glibc makes seteuid(u) setresuid(-1, u, -1): write a setresuid rule (uid[1] is the effective uid)'),
  setegid: none('glibc makes setegid(g) setresgid(-1, g, -1): write a setresgid rule (gid[1] is the effective gid)'),
  futimes: none('no Linux system call (glibc uses utimensat on the descriptor): write a utimensat rule'),
  chflags: none('BSD file flags have no Linux system call'),
  fchflags: none('BSD file flags have no Linux system call'),
  lchflags: none('BSD file flags have no Linux system call'),
  pathconf: none('no Linux system call (glibc answers pathconf itself, with statfs)'),
  fpathconf: none('no Linux system call (glibc answers fpathconf itself, with fstatfs)'),
  getfsstat: none('BSD getfsstat(2) has no Linux equivalent (programs read /proc/self/mounts)'),
  getlogin: none('BSD getlogin(2) has no Linux system call'),
  setlogin: none('BSD setlogin(2) has no Linux system call'),
  revoke: none('BSD revoke(2) has no Linux equivalent'),
  ktrace: none('BSD ktrace(2) has no Linux equivalent'),
  profil: none('profil(2) has no Linux system call'),
  swapctl: none('BSD swapctl(2): Linux has swapon and swapoff'),
  sysarch: none('BSD sysarch(2): Linux has arch_prctl with other arguments'),
  __syscall: none('BSD indirect __syscall(2) has no Linux equivalent'),
  __tfork: none('OpenBSD threads: Linux threads are clone(CLONE_THREAD)'),
  __thrsleep: none('OpenBSD threads: Linux threads wait with futex'),
  __thrwakeup: none('OpenBSD threads: Linux threads wake with futex'),
  __threxit: none('OpenBSD threads: a Linux thread ends with exit'),
  getthrid: none('OpenBSD threads: Linux has gettid'),
  pledge: none('OpenBSD pledge(2) has no Linux equivalent'),
  unveil: none('OpenBSD unveil(2) has no Linux equivalent'),
};

/**
 * Linux i386 names (Systrace's `linux` emulation ran there) that differ on
 * x86_64. Other `*32` calls lose their suffix.
 */
const I386_TO_X86_64: Readonly<Record<string, Mapping>> = {
  stat64: ['stat', 'newfstatat'],
  lstat64: ['lstat', 'newfstatat'],
  fstat64: ['fstat'],
  fstatat64: ['newfstatat'],
  oldstat: ['stat', 'newfstatat'],
  oldlstat: ['lstat', 'newfstatat'],
  oldfstat: ['fstat'],
  mmap2: ['mmap'],
  _llseek: ['lseek'],
  fcntl64: ['fcntl'],
  ugetrlimit: ['getrlimit', 'prlimit64'],
  sigaction: ['rt_sigaction'],
  sigprocmask: ['rt_sigprocmask'],
  sigreturn: ['rt_sigreturn'],
  sigsuspend: ['rt_sigsuspend'],
  sigpending: ['rt_sigpending'],
  waitpid: ['wait4'],
  _newselect: ['select'],
  truncate64: ['truncate'],
  ftruncate64: ['ftruncate'],
  statfs64: ['statfs'],
  fstatfs64: ['fstatfs'],
  sendfile64: ['sendfile'],
  fadvise64_64: ['fadvise64'],
  set_thread_area: ['arch_prctl'],
  socketcall: none('i386 socketcall multiplexes every socket call: write rules for the socket calls by name (connect, bind ...)'),
  ipc: none('i386 ipc multiplexes SysV IPC: write rules for the IPC calls by name (semop, shmat ...)'),
};

/**
 * Calls that modern glibc makes under another name as well: a rule for the
 * first is written under each (the classic policy was written when open(3)
 * was the open system call; glibc 2.26 and later open with openat, and
 * glibc 2.33 and later stat with newfstatat).
 */
const GLIBC_COMPANIONS: Readonly<Record<Emulation, Readonly<Record<string, readonly string[]>>>> = {
  linux: {
    open: ['openat'],
    stat: ['newfstatat'],
    lstat: ['newfstatat'],
    fork: ['clone'],
    exit: ['exit_group'],
    accept: ['accept4'],
    nanosleep: ['clock_nanosleep'],
    getrlimit: ['prlimit64'],
    setrlimit: ['prlimit64'],
  },
  linux32: {
    open: ['openat'],
    fork: ['clone'],
    exit: ['exit_group'],
    nanosleep: ['clock_nanosleep'],
  },
};

/** Names the rules of a classic call are written under here, or why there are none. */
export function mapCallName(classicEmulation: string, call: string, target: Emulation): Mapping {
  if (isAlias(call)) return [call];
  let names: readonly string[];
  if (classicEmulation === 'native' && target === 'linux') {
    const m = BSD_TO_LINUX[call];
    if (m && !Array.isArray(m)) return m;
    names = (m as readonly string[] | undefined) ?? [call];
  } else if (classicEmulation === 'linux' && target === 'linux') {
    const m = I386_TO_X86_64[call];
    if (m && !Array.isArray(m)) return m;
    if (m) names = m as readonly string[];
    else if (!isSyscall('linux', call) && /32$/.test(call) && isSyscall('linux', call.slice(0, -2))) names = [call.slice(0, -2)];
    else names = [call];
  } else {
    names = [call];
  }
  const out: string[] = [];
  for (const n of names) {
    for (const m of [n, ...(GLIBC_COMPANIONS[target][n] ?? [])]) {
      if (isSyscall(target, m) && !out.includes(m)) out.push(m);
    }
  }
  if (out.length === 0) return none(`no system call '${call}' on Linux ${target === 'linux' ? 'x86_64' : 'i386'}`);
  return out;
}

/** What is left of a line once its comment is gone (a '#' inside quotes is text). */
function stripComment(line: string): string {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && quoted) i++;
    else if (c === '"') quoted = !quoted;
    else if (c === '#' && !quoted) return line.slice(0, i);
  }
  return line;
}

const POLICY_HEADER = /^Policy:\s*(.*?)\s*,\s*Emulation:\s*(\S+)\s*$/i;
const TEMPLATE_HEADER = /^Template:\s*(.*?)\s*,\s*Emulation:\s*(\S+?)\s*,\s*Description:\s*(.*)$/i;
const RULE_LINE = /^([A-Za-z0-9_]+)-([A-Za-z0-9_]+)\s*:\s*(.*)$/;

/** Placeholders for validation only: the rules keep `$HOME` etc. as written. */
const CHECK_ENV: PolicyEnv = { HOME: '/home/user', USER: 'user', CWD: '/' };

interface Entry {
  rule: string;
  line: number;
}

/**
 * Convert one classic policy (or template). `file` is used in the YAML's
 * header comment only; problems carry line numbers, the caller adds the file.
 */
export function importClassicPolicy(text: string, file = '<input>'): ImportResult {
  const problems: ImportProblem[] = [];
  const notes: string[] = [];
  const keys = new Map<string, Entry[]>();
  let program: string | undefined;
  let template: { name: string; description: string } | undefined;
  let classicEmu: string | undefined;
  let emulation: Emulation = 'linux';
  let emulationOk = false;
  /** Set once a second policy starts: its lines are left out. */
  let skipping = false;
  let headerSeen = false;

  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const lineNo = i + 1;
    const line = stripComment(raw).trim();
    if (line === '') return;
    if (skipping) {
      problems.push({ line: lineNo, reason: 'belongs to a second policy in the same file: import that policy from a file of its own' });
      return;
    }
    const tm = TEMPLATE_HEADER.exec(line);
    const pm = tm ? undefined : POLICY_HEADER.exec(line);
    if (tm || pm) {
      if (headerSeen) {
        skipping = true;
        problems.push({ line: lineNo, reason: 'a second policy header: only the first policy of a file is imported' });
        return;
      }
      headerSeen = true;
      if (tm) template = { name: tm[1]!, description: tm[3]!.trim() };
      else program = pm![1]!;
      classicEmu = (tm ? tm[2]! : pm![2]!).toLowerCase();
      const mapped = EMULATIONS[classicEmu];
      if (mapped) {
        emulation = mapped;
        emulationOk = true;
        if (classicEmu === 'native') notes.push(`emulation native: BSD system-call names mapped to Linux x86_64 ones`);
        if (classicEmu === 'linux') notes.push(`emulation linux: Systrace's Linux was i386; its call names mapped to x86_64 ones`);
      } else {
        problems.push({ line: lineNo, reason: `emulation '${classicEmu}' has no equivalent here (native and linux map to linux, linux32 to linux32)` });
      }
      return;
    }
    if (/^detached$/i.test(line)) {
      problems.push({ line: lineNo, reason: "'detached' (stop tracing) has no equivalent: a seccomp filter cannot be removed" });
      return;
    }
    const rm = RULE_LINE.exec(line);
    if (!rm) {
      problems.push({ line: lineNo, reason: headerSeen ? 'not a rule line (expected EMULATION-CALL: RULE)' : "expected a 'Policy: NAME, Emulation: EMULATION' header first" });
      return;
    }
    if (!headerSeen) {
      problems.push({ line: lineNo, reason: "a rule before the 'Policy: NAME, Emulation: EMULATION' header" });
      return;
    }
    const [, lineEmu, call, rule] = rm as unknown as [string, string, string, string];
    if (!emulationOk) {
      problems.push({ line: lineNo, reason: `emulation '${classicEmu}' has no equivalent here` });
      return;
    }
    if (lineEmu.toLowerCase() !== classicEmu) {
      problems.push({ line: lineNo, reason: `rule for emulation '${lineEmu}' in a policy for '${classicEmu}'` });
      return;
    }
    if (rule.trim() === '') {
      problems.push({ line: lineNo, reason: `no rule after '${lineEmu}-${call}:'` });
      return;
    }
    const names = mapCallName(classicEmu!, call, emulation);
    if (!Array.isArray(names)) {
      problems.push({ line: lineNo, reason: `${lineEmu}-${call}: ${(names as { none: string }).none}` });
      return;
    }
    const targets = names as readonly string[];
    // The rule must mean the same under every name it is written under.
    for (const key of targets) {
      try {
        parseRuleText(/\bthen\b/.test(rule) ? rule : `true then ${rule}`, { emulation, key, env: CHECK_ENV });
      } catch (e) {
        if (!(e instanceof PolicyError)) throw e;
        const why = e.errors.map(x => x.reason).join('; ');
        problems.push({ line: lineNo, reason: `${lineEmu}-${call} as ${key}: ${why}` });
        return;
      }
    }
    if (targets.length > 1 || targets[0] !== call) {
      const note = `${lineEmu}-${call} -> ${targets.join(', ')}`;
      if (!notes.includes(note)) notes.push(note);
    }
    for (const key of targets) {
      const list = keys.get(key) ?? [];
      if (!list.some(e => e.rule === rule)) list.push({ rule, line: lineNo });
      keys.set(key, list);
    }
  });
  if (!headerSeen && problems.length === 0) {
    problems.push({ line: 1, reason: "no 'Policy: NAME, Emulation: EMULATION' header: not a Systrace policy" });
  }

  const out: string[] = [`# Imported from ${file} (classic Systrace policy) by systrace policy import.`];
  if (template) out.push(`# Template: ${template.name}: ${template.description}`);
  for (const n of notes) out.push(`# ${n}`);
  if (problems.length) out.push(`# ${problems.length} line(s) left out: see the import's report.`);
  if (program !== undefined) out.push(`policy: ${yamlScalar(program)}`);
  out.push(`emulation: ${emulation}`);
  out.push('default: ask');
  if (keys.size === 0) out.push('rules: {}');
  else {
    out.push('rules:');
    for (const [key, entries] of keys) {
      const k = /^[a-z0-9_]+$/.test(key) ? key : JSON.stringify(key);
      const only = entries.length === 1 ? entries[0]! : undefined;
      if (only && !/\bthen\b/.test(only.rule)) {
        out.push(`  ${k}: ${yamlScalar(only.rule)}`);
        continue;
      }
      out.push(`  ${k}:`);
      // In a list every item is a full rule: Systrace's own reading of a
      // bare action is `true then ACTION` (policy.c).
      for (const e of entries) out.push(`    - ${yamlScalar(/\bthen\b/.test(e.rule) ? e.rule : `true then ${e.rule}`)}`);
    }
  }
  const result: ImportResult = { yaml: out.join('\n') + '\n', problems, emulation };
  if (program !== undefined) result.program = program;
  return result;
}

/** A YAML scalar: plain when nothing in it could be read otherwise, else single-quoted. */
function yamlScalar(s: string): string {
  if (/^[A-Za-z_/][A-Za-z0-9_./[\]-]*$/.test(s) && !/^(true|false|null|yes|no|on|off|~)$/i.test(s)) return s;
  return `'${s.replace(/'/g, "''")}'`;
}
