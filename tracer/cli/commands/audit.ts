// `systrace audit show|verify`: the broker's log of elevated calls, read
// back readably and checked for edited, deleted or reordered records.
import type { Command } from 'commander';
import fs from 'node:fs';
import { formatAuditEntry, readAudit, verifyAudit, type AuditFilter } from '../../../broker/audit.js';
import { DEFAULT_ADMIN_POLICY, DEFAULT_AUDIT_LOG, loadAdminPolicy } from '../../../broker/admin-policy.js';

function parseTime(flag: string, value: string): Date {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new Error(`${flag} ${value}: not a date (ISO 8601, e.g. 2025-01-31T12:00:00Z)`);
  return d;
}

/** A file we cannot read is systrace's own failure: 125, with the reason in words. */
function cannotRead(file: string, e: unknown): never {
  const code = (e as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT' ? 'no such audit log (is the broker installed? see `systrace broker status`)'
    : code === 'EACCES' ? 'permission denied (the audit log is root-only: run as root)'
    : (e as Error).message;
  process.stderr.write(`systrace: ${file}: ${why}\n`);
  process.exit(125);
}

/**
 * The log to read: --file, else the one the admin policy names (where the
 * broker writes), else the broker's default when there is no policy. A
 * policy that does not load is an error: guessing could show another file.
 */
function auditFile(o: { file?: string; policy: string }): string {
  if (o.file !== undefined) return o.file;
  if (!fs.existsSync(o.policy)) return DEFAULT_AUDIT_LOG;
  try {
    return loadAdminPolicy(o.policy, { checkOwnership: false }).audit;
  } catch (e) {
    process.stderr.write(`systrace: cannot tell which audit log to read: ${(e as Error).message} (give --file)\n`);
    process.exit(125);
  }
}

const FILE_HELP = `the audit log (default: the one the admin policy names, else ${DEFAULT_AUDIT_LOG})`;
const POLICY_HELP = 'the admin policy whose audit log to read';

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the audit log of elevated calls (written by the broker)');
  audit
    .command('show')
    .description('print the records, oldest first: TIME  user(uid)  pid  program  call  args  granted|refused  grant  [errno: reason]')
    .option('--file <file>', FILE_HELP)
    .option('--policy <file>', POLICY_HELP, DEFAULT_ADMIN_POLICY)
    .option('--user <user>', 'only this user (name or uid)')
    .option('--program <program>', 'only this program (full path, or its base name)')
    .option('--since <time>', 'only records at or after this time (ISO 8601)')
    .option('--until <time>', 'only records at or before this time (ISO 8601)')
    .option('--json', 'print the records as JSON lines', false)
    .action((o: { file?: string; policy: string; user?: string; program?: string; since?: string; until?: string; json: boolean }) => {
      const filter: AuditFilter = {};
      try {
        if (o.user !== undefined) filter.user = o.user;
        if (o.program !== undefined) filter.program = o.program;
        if (o.since !== undefined) filter.since = parseTime('--since', o.since);
        if (o.until !== undefined) filter.until = parseTime('--until', o.until);
      } catch (e) {
        process.stderr.write(`systrace: ${(e as Error).message}\n`);
        process.exit(125);
      }
      const file = auditFile(o);
      let records;
      try {
        records = readAudit(file, filter);
      } catch (e) {
        cannotRead(file, e);
      }
      for (const r of records) process.stdout.write(`${o.json ? JSON.stringify(r) : formatAuditEntry(r)}\n`);
    });
  audit
    .command('verify')
    .description('check the hash chain: exit 0 and "ok: N records", or one "FILE:LINE: reason" per problem and exit 1. ' +
      'Deleting the last records cannot be seen from the file alone; compare with the syslog copy (authpriv, tag systrace-broker).')
    .option('--file <file>', FILE_HELP)
    .option('--policy <file>', POLICY_HELP, DEFAULT_ADMIN_POLICY)
    .action((o: { file?: string; policy: string }) => {
      const file = auditFile(o);
      let result;
      try {
        result = verifyAudit(file);
      } catch (e) {
        cannotRead(file, e);
      }
      if (result.ok) {
        process.stdout.write(`ok: ${result.records} records\n`);
        process.exitCode = 0;
        return;
      }
      for (const p of result.problems) process.stdout.write(`${file}:${p.line}: ${p.reason}\n`);
      process.exitCode = 1;
    });
}
