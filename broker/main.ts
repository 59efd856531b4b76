// The broker's entry: `node dist/broker/main.js --session --caller-uid=N
// --caller-gid=N` (started by the setuid launcher, fd 3 connected to one
// tracer), or `--daemon [--socket PATH] [--policy FILE]` (fd 3 a listening
// socket from systemd, or a socket it makes), which is also what
// `systrace broker serve` runs.
import fs from 'node:fs';
import { loadAdminPolicy, type AdminPolicy } from './admin-policy.js';
import { AuditLog } from './audit.js';
import { Session, type Caller } from './session.js';
import { native } from '../tracer/native.js';
import { loadOperations } from './ops/index.js';

export const DEFAULT_POLICY = '/etc/systrace/elevate.yaml';
export const DEFAULT_SOCKET = '/run/systrace/broker.sock';

export interface ServeOptions {
  policyFile: string;
  /** Listen on this path; without it fd 3 is the listening socket (systemd). */
  socket?: string;
  /** Refuse a policy file an unprivileged user could have written (default true). */
  checkOwnership?: boolean;
}

function log(line: string): void {
  process.stderr.write(line + '\n');
}

/** Loads what the broker needs, or says why it will not start. */
function startup(policyFile: string, checkOwnership: boolean): { policy: AdminPolicy; audit: AuditLog } {
  if (process.geteuid?.() !== 0) throw new Error('the broker runs as root');
  const policy = loadAdminPolicy(policyFile, { checkOwnership });
  const audit = AuditLog.open(policy.audit);
  return { policy, audit };
}

export async function serve(opts: ServeOptions): Promise<void> {
  const n = native();
  const { policy, audit } = startup(opts.policyFile, opts.checkOwnership ?? true);
  const operations = await loadOperations();
  let listenFd: number;
  if (opts.socket) {
    fs.mkdirSync(opts.socket.slice(0, opts.socket.lastIndexOf('/')) || '/', { recursive: true, mode: 0o755 });
    // Anyone may connect: who they are comes from SO_PEERCRED.
    listenFd = n.unixListen(opts.socket, 0o666);
  } else {
    listenFd = 3;
  }
  const sessions = new Set<Session>();
  new n.Poller(listenFd, () => {
    for (;;) {
      const fd = n.unixAccept(listenFd);
      if (fd < 0) return;
      const cred = n.peerCred(fd);
      const caller: Caller = { uid: cred.uid, gid: cred.gid, how: 'SO_PEERCRED' };
      const s: Session = new Session(fd, caller, { policy: () => policy, operations, audit, log }, () => sessions.delete(s));
      sessions.add(s);
    }
  });
  log(`systrace-broker: serving ${opts.socket ?? 'fd 3'} under ${opts.policyFile}, audit ${policy.audit}`);
}

/** One tracer's session, through the setuid launcher. */
async function session(callerUid: number, callerGid: number): Promise<void> {
  const { policy, audit } = startup(DEFAULT_POLICY, true);
  const operations = await loadOperations();
  new Session(3, { uid: callerUid, gid: callerGid, how: 'setuid launcher' }, { policy: () => policy, operations, audit, log }, () => {
    audit.close();
    process.exit(0);
  });
}

async function main(argv: string[]): Promise<void> {
  const opt = (name: string): string | undefined => argv.find(a => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  try {
    if (argv.includes('--session')) {
      const uid = Number(opt('caller-uid'));
      const gid = Number(opt('caller-gid'));
      if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new Error('--session needs --caller-uid and --caller-gid');
      await session(uid, gid);
    } else if (argv.includes('--daemon')) {
      await serve({ policyFile: opt('policy') ?? DEFAULT_POLICY, socket: opt('socket') });
    } else {
      throw new Error('usage: main.js --session --caller-uid=N --caller-gid=N | --daemon [--socket=PATH] [--policy=FILE]');
    }
  } catch (e) {
    log(`systrace-broker: ${(e as Error).message}`);
    process.exit(125);
  }
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fs.realpathSync(new URL(import.meta.url).pathname)) {
  void main(process.argv.slice(2));
}
