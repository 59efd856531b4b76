// The administrator's elevation policy (/etc/systrace/elevate.yaml): which
// users and programs may have which calls performed by the root broker.
//
//   audit: /var/log/systrace/elevate.log
//   grants:
//     - users: [www-data]            # and/or groups: [...]
//       program: /usr/sbin/nginx     # as /proc/PID/exe shows it; optional: any program
//       allow:                       # the user policies' own rules, keys and grammar
//         bind:
//           - sockaddr match "inet-*:80" then permit
//         fsread:
//           - filename inpath "/etc/ssl/private" then permit
//
// The broker trusts nothing but the kernel and root-owned files (DESIGN.md,
// decision 5), so the file is refused unless it and every directory above it
// are root's and writable by root alone, and it is refused whole, never
// half-used, if anything in it is wrong: an unknown key is a typo that would
// otherwise grant or refuse something the administrator did not mean.
//
// The rules are parsed by the user policies' parser and decided by their
// engine (one grammar, one set of semantics); each grant is a policy whose
// default is deny and whose rules are its `allow` mapping. Only x86_64
// (`linux`) calls are granted: the admin policy has no emulation key.
import fs from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { Node as YamlNode, Pair } from 'yaml';
import { parsePolicy, PolicyError, type PolicyEnv } from '../tracer/policy/parse.js';
import { decide, prepare, type CallView, type PreparedPolicy } from '../tracer/engine/decide.js';

export const DEFAULT_ADMIN_POLICY = '/etc/systrace/elevate.yaml';
export const DEFAULT_AUDIT_LOG = '/var/log/systrace/elevate.log';

export interface AdminPolicyErrorItem {
  file: string;
  line?: number;
  col?: number;
  reason: string;
}

/** An admin policy that must not be used. The message is `file: reason` or `file:line:col: reason`, one line per problem. */
export class AdminPolicyError extends Error {
  readonly code = 'EADMINPOLICY' as const;
  readonly file: string;
  readonly reason: string;
  readonly errors: AdminPolicyErrorItem[];

  constructor(errors: AdminPolicyErrorItem | AdminPolicyErrorItem[]) {
    const list = Array.isArray(errors) ? errors : [errors];
    if (list.length === 0) throw new TypeError('AdminPolicyError needs at least one error');
    super(list.map(formatItem).join('\n'));
    this.name = 'AdminPolicyError';
    this.file = list[0]!.file;
    this.reason = list[0]!.reason;
    this.errors = list;
  }
}

function formatItem(e: AdminPolicyErrorItem): string {
  return e.line === undefined ? `${e.file}: ${e.reason}` : `${e.file}:${e.line}:${e.col ?? 1}: ${e.reason}`;
}

export interface Grant {
  users: string[];
  groups: string[];
  program?: string;
  /** Line of the grant (its `-` item) in the file. */
  line: number;
  /** Default deny; the rules are the grant's `allow`. */
  policy: PreparedPolicy;
}

export interface AdminPolicy {
  file: string;
  audit: string;
  grants: Grant[];
}

// ---------------------------------------------------------------- ownership

/**
 * Throws unless `p` and every directory above it up to / are owned by root
 * and not writable by group or others. lstat throughout: a symbolic link
 * anywhere in the chain is refused (its target could be elsewhere, and
 * whoever owns the directory it sits in could repoint it). A sticky
 * world-writable directory such as /tmp is refused too: the sticky bit stops
 * others from replacing root's file, but not from creating the name first.
 */
export function checkRootOwned(p: string): void {
  const abs = path.resolve(p);
  const chain: string[] = [];
  for (let cur = abs; ; cur = path.dirname(cur)) {
    chain.push(cur);
    if (cur === path.dirname(cur)) break;
  }
  // From / down, so that the first complaint is the one nearest the root.
  for (const part of chain.reverse()) {
    const why = unsafeReason(part);
    if (why) throw new AdminPolicyError({ file: p, reason: part === abs ? why : `${part} (above it): ${why}` });
  }
}

function unsafeReason(part: string): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(part);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return err.code === 'ENOENT' ? 'does not exist' : `cannot be checked: ${err.message}`;
  }
  if (st.isSymbolicLink()) return `is a symbolic link (to ${safeReadlink(part)}); refer to the real path`;
  if (st.uid !== 0) return `is owned by uid ${st.uid}, not root`;
  const mode = st.mode & 0o7777;
  if (mode & 0o002) return `is writable by others (mode ${octal(mode)})${mode & 0o1000 ? ', sticky or not' : ''}`;
  if (mode & 0o020) return `is writable by its group, gid ${st.gid} (mode ${octal(mode)})`;
  return undefined;
}

function safeReadlink(p: string): string {
  try {
    return fs.readlinkSync(p);
  } catch {
    return '?';
  }
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

// ---------------------------------------------------------------- loading

const TOP_KEYS = ['audit', 'grants'];
const GRANT_KEYS = ['users', 'groups', 'program', 'allow'];

// $HOME, $USER and $CWD are the user's in a user policy; the admin policy
// belongs to no user, so they would mean whatever the parser was handed.
const VARIABLE = /\$(?:\{(?:HOME|USER|CWD)\}|(?:HOME|USER|CWD)(?![A-Za-z0-9_]))/;
const NO_ENV: PolicyEnv = { HOME: '/nonexistent', USER: '', CWD: '/' };

export function loadAdminPolicy(file: string, opts: { checkOwnership?: boolean } = {}): AdminPolicy {
  if (opts.checkOwnership ?? true) checkRootOwned(file);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new AdminPolicyError({ file, reason: err.code === 'ENOENT' ? 'no such file' : `cannot be read: ${err.message}` });
  }
  return parseAdminPolicy(text, file);
}

/** The file's text to an AdminPolicy (no file system access). */
export function parseAdminPolicy(text: string, file: string): AdminPolicy {
  const errors: AdminPolicyErrorItem[] = [];
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true });
  const at = (offset: number) => lc.linePos(offset);
  const fail = (n: YamlNode | null | undefined, reason: string, fallback = 0): void => {
    const { line, col } = at(n?.range?.[0] ?? fallback);
    errors.push({ file, line, col, reason });
  };
  for (const e of doc.errors) {
    const { line, col } = at(e.pos[0]);
    errors.push({ file, line, col, reason: `YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}` });
  }
  if (errors.length) throw new AdminPolicyError(errors);

  const root = doc.contents;
  if (root === null || (isScalar(root) && (root.value === null || root.value === ''))) {
    throw new AdminPolicyError({ file, reason: 'empty admin policy: expected a mapping with keys audit, grants' });
  }
  if (!isMap(root)) throw new AdminPolicyError({ file, ...at(root.range?.[0] ?? 0), reason: 'the admin policy must be a YAML mapping (audit, grants)' });

  let audit = DEFAULT_AUDIT_LOG;
  const grants: Grant[] = [];
  for (const pair of root.items) {
    const key = keyName(pair);
    const k = pair.key as YamlNode | null;
    if (key === undefined || !TOP_KEYS.includes(key)) {
      fail(k, `unknown key ${key === undefined ? '' : `'${key}' `}(expected ${TOP_KEYS.join(', ')})`);
      continue;
    }
    const v = pair.value as YamlNode | null;
    if (key === 'audit') {
      if (!isScalar(v) || typeof v.value !== 'string' || v.value === '') fail(v ?? k, "'audit' must be the audit log's path");
      else if (!path.isAbsolute(v.value) || path.normalize(v.value) !== v.value || v.value.endsWith('/')) {
        fail(v, `'audit' must be an absolute, normalised file path (got '${v.value}')`);
      } else audit = v.value;
    } else if (key === 'grants') {
      if (v === null || (isScalar(v) && v.value === null)) continue; // `grants:` with none: nothing is granted
      if (!isSeq(v)) {
        fail(v, "'grants' must be a list of grants (users/groups, program, allow)");
        continue;
      }
      for (const item of v.items as (YamlNode | null)[]) {
        const g = grantOf(item);
        if (g) grants.push(g);
      }
    }
  }
  if (errors.length) {
    errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
    throw new AdminPolicyError(errors);
  }
  return { file, audit, grants };

  function grantOf(item: YamlNode | null): Grant | undefined {
    if (!isMap(item)) {
      fail(item, 'a grant must be a mapping (users and/or groups, program, allow)');
      return undefined;
    }
    const line = at(item.range?.[0] ?? 0).line;
    const before = errors.length;
    let users: string[] = [];
    let groups: string[] = [];
    let program: string | undefined;
    let allow: Pair | undefined;
    for (const pair of item.items) {
      const key = keyName(pair);
      const k = pair.key as YamlNode | null;
      const v = pair.value as YamlNode | null;
      if (key === undefined || !GRANT_KEYS.includes(key)) {
        fail(k, `unknown grant key ${key === undefined ? '' : `'${key}' `}(expected ${GRANT_KEYS.join(', ')})`);
      } else if (key === 'users' || key === 'groups') {
        const names = nameList(v, k, key);
        if (key === 'users') users = names;
        else groups = names;
      } else if (key === 'program') {
        if (!isScalar(v) || typeof v.value !== 'string' || !path.isAbsolute(v.value)) {
          fail(v ?? k, "'program' must be the absolute path of the executable, as /proc/PID/exe shows it");
        } else program = v.value;
      } else allow = pair;
    }
    if (users.length === 0 && groups.length === 0 && errors.length === before) {
      fail(item, 'a grant must name users or groups (or both): a grant for no one is a mistake');
    }
    if (!allow) {
      if (errors.length === before) fail(item, "a grant needs 'allow': the calls it grants");
      return undefined;
    }
    const policy = allowPolicy(allow);
    if (!policy || errors.length !== before) return undefined;
    const g: Grant = { users, groups, line, policy };
    if (program !== undefined) g.program = program;
    return g;
  }

  function nameList(v: YamlNode | null, k: YamlNode | null, key: string): string[] {
    const items = isSeq(v) ? (v.items as (YamlNode | null)[]) : isScalar(v) && v.value !== null ? [v] : undefined;
    if (!items) {
      fail(v ?? k, `'${key}' must be a list of ${key === 'users' ? 'user' : 'group'} names (or numeric ids)`);
      return [];
    }
    const out: string[] = [];
    for (const n of items) {
      const ok = isScalar(n) && ((typeof n.value === 'string' && n.value !== '') || (typeof n.value === 'number' && Number.isInteger(n.value) && n.value >= 0));
      if (!ok) fail(n ?? v, `each of '${key}' must be a name or a numeric id`);
      else out.push(String(n.value));
    }
    return out;
  }

  /**
   * The grant's `allow` mapping through the user policies' parser. The
   * parser reads a whole policy document, so it is handed this file's text
   * with everything outside the mapping blanked (newlines kept) and `rules:`
   * written at the start of the `allow:` line: every offset, and so every
   * file:line:col in its errors and in the rules' positions, is this file's.
   */
  function allowPolicy(pair: Pair): PreparedPolicy | undefined {
    const k = pair.key as YamlNode;
    const v = pair.value as YamlNode | null;
    if (!isMap(v) || !v.range) {
      fail(v ?? k, "'allow' must be a mapping from system call, alias (fsread, fswrite) or @group to rules");
      return undefined;
    }
    const [start, , end] = v.range;
    const keyStart = k.range?.[0] ?? start;
    const lineStart = text.lastIndexOf('\n', keyStart - 1) + 1;
    const keyLine = at(keyStart).line;
    const sameLine = at(start).line === keyLine;
    if (sameLine && start - lineStart < 'rules: '.length) {
      fail(k, "write 'allow' as a block mapping on its own lines");
      return undefined;
    }
    let blank = '';
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      blank += c === '\n' || c === '\r' || (i >= start && i < end) ? c : ' ';
    }
    const synthetic = `${blank.slice(0, lineStart)}rules:${blank.slice(lineStart + 'rules:'.length)}`;
    const source = text.slice(start, end);
    if (VARIABLE.test(source)) {
      const i = start + source.search(VARIABLE);
      fail(null, '$HOME, $USER and $CWD have no meaning in the admin policy: write the path', i);
      return undefined;
    }
    try {
      const parsed = parsePolicy(synthetic, file, NO_ENV);
      for (const rules of parsed.rules.values()) {
        for (const r of rules) {
          const as = r.action.asUser;
          if (as && (as.user !== 'root' || (as.group !== undefined && as.group !== 'root'))) {
            errors.push({ file, line: r.pos.line, col: r.pos.col, reason: `the broker performs calls as root only ('as ${as.user}${as.group ? `:${as.group}` : ''}')` });
          }
        }
      }
      // Deny unless a rule permits; `ask` has no one to ask here (enforce).
      return prepare({ ...parsed, default: 'deny' }, { aliases: true, enforce: true });
    } catch (e) {
      if (!(e instanceof PolicyError)) throw e;
      for (const x of e.errors) errors.push({ file, line: x.line, col: x.col, reason: x.reason });
      return undefined;
    }
  }
}

function keyName(pair: Pair): string | undefined {
  const k = pair.key as YamlNode | null;
  return isScalar(k) && typeof k.value === 'string' ? k.value : undefined;
}

// ---------------------------------------------------------------- deciding

export interface ElevationRequest {
  uid: number;
  /** The user's name (from the uid, looked up by the broker). */
  user: string;
  /** The user's primary gid, for `, if group = ...` conditions; optional. */
  gid?: number;
  /** Group names the user is in (primary and supplementary). */
  groups: string[];
  /** The target's executable as /proc/PID/exe shows it. */
  program: string;
  call: CallView;
}

export interface ElevationDecision {
  granted: boolean;
  /** 'FILE:LINE' of the rule that decided: the permit, or for a refusal the first rule that matched and did not permit. */
  grant: string | null;
  reason: string;
}

/**
 * Grants are tried in order. A grant applies when the user is listed (by
 * name or uid) or is in a listed group, and its program, if any, is exactly
 * the target's. Within it the call's own rules then its alias's decide,
 * first match wins; only `permit` grants. Anything else, or no match, leaves
 * the call to the next grant; when none grants, it is refused.
 */
export function decideElevation(p: AdminPolicy, r: ElevationRequest): ElevationDecision {
  const call: CallView = { ...r.call, user: { uid: r.uid, gid: r.gid ?? -1, name: r.user, groups: r.groups } };
  const what = describeCall(r.call);
  let applied = 0;
  let refusedBy: string | null = null;
  for (const g of p.grants) {
    if (!grantApplies(g, r)) continue;
    applied++;
    if (call.emulation !== g.policy.emulation) continue;
    const d = decide(g.policy, call);
    if (!d.rule) continue;
    const where = `${d.rule.pos.file}:${d.rule.pos.line}`;
    if (d.action.verdict.kind === 'permit') {
      return { granted: true, grant: where, reason: `granted by ${where} (${d.rule.text})` };
    }
    refusedBy ??= where;
  }
  const who = `user ${r.user} (uid ${r.uid}), program ${r.program}`;
  if (applied === 0) return { granted: false, grant: null, reason: `no grant in ${p.file} for ${who}` };
  if (call.emulation !== 'linux') return { granted: false, grant: null, reason: `the admin policy grants x86_64 (linux) calls only, not ${call.emulation} ${what}` };
  const tail = refusedBy ? `; ${refusedBy} refuses it` : '';
  return { granted: false, grant: refusedBy, reason: `${applied} grant(s) in ${p.file} apply to ${who}, but none permits ${what}${tail}` };
}

function grantApplies(g: Grant, r: ElevationRequest): boolean {
  if (g.program !== undefined && g.program !== r.program) return false;
  if (g.users.includes(r.user) || g.users.includes(String(r.uid))) return true;
  return g.groups.some(x => r.groups.includes(x));
}

function describeCall(c: CallView): string {
  const arg = c.sockaddr ?? c.filenames?.filter(f => f !== undefined).join(' ') ?? '';
  return arg ? `${c.syscall} ${arg}` : c.syscall;
}
