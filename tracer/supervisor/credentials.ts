// `-c U:G`: root runs a program as another user and group. The whole tracer
// drops to U:G, not only the program: the supervisor opens, stats and
// connects on the program's behalf, and must do so with the program's
// rights, never root's. What is done before the drop is only reading: the
// policy files and the log file that root named.

export interface Credentials {
  uid: number;
  gid: number;
}

/** Parses "U:G" (names or numbers); throws a message fit for the user. */
export function parseCredentials(spec: string): { user: string | number; group: string | number } {
  const m = /^([^:]+):([^:]+)$/.exec(spec);
  if (!m) throw new Error(`-c takes USER:GROUP (names or numbers), not "${spec}"`);
  const num = (s: string): string | number => (/^\d+$/.test(s) ? Number(s) : s);
  return { user: num(m[1]!), group: num(m[2]!) };
}

/**
 * Becomes U:G for good: supplementary groups cleared to G alone, then gid,
 * then uid (real, effective and saved, as setuid(2) does for root). glibc
 * applies each change to every thread of the process. Checked afterwards,
 * and that root cannot be regained: anything short of that throws, and the
 * caller starts nothing.
 */
export function dropTo(spec: string): Credentials {
  const { user, group } = parseCredentials(spec);
  try {
    process.setgroups!([group]);
    process.setgid!(group);
    process.setuid!(user);
  } catch (e) {
    throw new Error(`-c ${spec}: ${(e as Error).message}`);
  }
  const uid = process.getuid!();
  const gid = process.getgid!();
  if (uid === 0) throw new Error(`-c ${spec}: that is root; -c is for running as someone else`);
  const groups = process.getgroups!();
  if (process.geteuid!() !== uid || process.getegid!() !== gid || groups.some(g => g !== gid)) {
    throw new Error(`-c ${spec}: the switch did not take (uid ${uid}, gid ${gid}, groups ${groups.join(',')})`);
  }
  let regained = false;
  try {
    process.setuid!(0);
    regained = true;
  } catch {
    // expected: root is gone for good
  }
  if (regained) throw new Error(`-c ${spec}: root could be regained after the switch; refusing to run`);
  return { uid, gid };
}
