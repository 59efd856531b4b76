// The policy's data model: what the parser produces and what the compiler,
// the engine and the supervisor consume. Pure types, no behaviour.

/** Systrace's emulation names: `linux` is x86_64, `linux32` the i386 ABI. */
export type Emulation = 'linux' | 'linux32';

/** libseccomp's architecture tokens for the two emulations. */
export type Arch = 'x86_64' | 'x86';

export const ARCH_OF: Record<Emulation, Arch> = { linux: 'x86_64', linux32: 'x86' };

/** Where a piece of the policy came from, for error messages and denial reports. */
export interface SourcePos {
  file: string;
  line: number; // 1-based
  col: number; // 1-based
}

/** Systrace's operators. `eq` is case-sensitive here (Linux names are). */
export type Op = 'eq' | 'neq' | 'match' | 'sub' | 'nsub' | 're' | 'inpath';

export type Expr =
  | { kind: 'true' }
  | { kind: 'and'; left: Expr; right: Expr }
  | { kind: 'or'; left: Expr; right: Expr }
  | { kind: 'not'; expr: Expr }
  | Predicate;

export interface Predicate {
  kind: 'pred';
  /** Translator name as written, without the index: `filename`, `sockaddr`, `oflags`, `uid` ... */
  translator: string;
  /** `filename[1]` gives 1; plain `filename` gives 0. */
  index: number;
  op: Op;
  /**
   * The literal after variable expansion ($HOME, $USER, $CWD) done at load
   * time; a `sockproto eq`/`neq` name is its number (`IPPROTO_TCP` is '6').
   */
  value: string;
  /** For `re`: the compiled expression (compiled once, at load). */
  regex?: RegExp;
  pos: SourcePos;
}

export type Verdict =
  | { kind: 'permit' }
  | { kind: 'deny'; errno: string } // errno name, e.g. 'EPERM', 'ENOENT'
  | { kind: 'ask' }
  | { kind: 'kill' };

export interface Action {
  verdict: Verdict;
  /** `then permit log`: every match is reported. */
  log: boolean;
  /** `as root`, `as user:group`, or `elevate`: performed by the broker. */
  asUser?: { user: string; group?: string };
  /**
   * `then rewrite "TO"`: the call is permitted and carried out on TO
   * instead of its own argument (a file name or socket address).
   * `then rewrite "FROM" to "TO"`: a path under FROM (or an address of
   * the form FROM) is carried out under TO instead.
   */
  rewrite?: { from?: string; to: string };
}

/** `, if user = root` and friends: applies the rule only to that user or group. */
export interface Condition {
  subject: 'user' | 'group';
  op: '=' | '!=' | '<' | '>' | '<=' | '>=';
  value: string;
}

export interface Rule {
  expr: Expr;
  action: Action;
  condition?: Condition;
  pos: SourcePos;
  /** The rule's text as written, for `policy show` and denial reports. */
  text: string;
}

/** The policy's default, as written in the file (`run -a` turns ask into deny). */
export type DefaultAction = 'ask' | 'deny' | 'permit';

export interface Policy {
  /** The file it was read from ('' for policies built in memory). */
  file: string;
  /** `policy:` header: the program it is for. */
  program?: string;
  emulation: Emulation;
  default: DefaultAction;
  defaultPos?: SourcePos;
  /**
   * `fast-fstat: true`: newfstatat and statx with exactly AT_EMPTY_PATH
   * (glibc's fstat) are decided in the kernel as fstat would be. The
   * explicit trade-off: a program that passes a non-empty path with that
   * flag stats it relative to the fd unchecked (metadata only, under a
   * directory it was allowed to open).
   */
  fastFstat?: boolean;
  /**
   * `landlock: true`: read-only opens that the policy's file rules permit
   * or deny by file and tree alone are decided by a Landlock ruleset in the
   * kernel, not notified. The explicit trade-off: such a denial is EACCES
   * (whatever errno the rule names) and is not reported (compile.ts:
   * landlockPlan says when it applies).
   */
  landlock?: boolean;
  /**
   * Rules keyed by what they were written under: a system call name
   * (`openat`), an alias (`fsread`, `fswrite`) or a group (`@basic-io`),
   * in file order. Groups are expanded by `rulesFor` below, not here, so
   * that `policy show` can print the file as written.
   */
  rules: Map<string, Rule[]>;
}
