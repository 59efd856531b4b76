// The tracer's side of elevation: a connection to the root broker (its
// daemon's socket, or a per-session broker through the setuid launcher),
// the session's listener handed over once, then one request per elevated
// call. The broker checks everything itself; this side only asks.
import fs from 'node:fs';
import { spawn } from 'node:child_process';
import { native } from '../native.js';
import { decodeResponse, encodeHello, encodeRequest, MAX_MESSAGE, type Response } from '../../broker/protocol.js';
import { loadOperations, operationFor } from '../../broker/ops/index.js';
import type { Operation } from '../../broker/ops/types.js';

export const DEFAULT_BROKER_SOCKET = '/run/systrace/broker.sock';
export const DEFAULT_LAUNCHER = '/usr/local/lib/systrace/broker-launch';

export class BrokerClient {
  private readonly n = native();
  private nextId = 1n;
  private readonly pending = new Map<bigint, (r: Response) => void>();
  private poller: { stop(): void } | undefined;

  /** The operations this installation knows, to name the one a call needs. */
  operations = new Map<string, Operation>();

  private constructor(private readonly sock: number, readonly how: string) {
    this.poller = new this.n.Poller(sock, () => this.readable());
  }

  /**
   * Connects (a socket path wins; else the setuid launcher) and hands over
   * the listener. Throws with the reason when neither is there.
   */
  static connect(listenerFd: number, where?: string): BrokerClient {
    const n = native();
    // `where`: a daemon's socket, or a setuid launcher to start.
    let path: string | undefined;
    let launcher = DEFAULT_LAUNCHER;
    if (where !== undefined) {
      let st: fs.Stats;
      try {
        st = fs.statSync(where);
      } catch {
        throw new Error(`no broker at ${where}`);
      }
      if (st.isSocket()) path = where;
      else if (st.isFile()) launcher = where;
      else throw new Error(`${where} is neither a broker socket nor a launcher`);
    } else if (fs.existsSync(DEFAULT_BROKER_SOCKET)) {
      path = DEFAULT_BROKER_SOCKET;
    }
    let client: BrokerClient;
    if (path) {
      const fd = n.unixConnect(path);
      if (fd < 0) throw new Error(`cannot connect to the broker at ${path} (errno ${-fd})`);
      client = new BrokerClient(fd, `daemon at ${path}`);
    } else if (fs.existsSync(launcher)) {
      const [ours, theirs] = n.socketPair();
      try {
        // Its stderr is a file of its own, never ours: a broker that says
        // why it refuses to start must not share the program's output.
        const child = spawn(launcher, [], { stdio: ['ignore', 'ignore', 'ignore', theirs], detached: false });
        child.on('error', () => undefined);
        child.unref();
      } finally {
        n.closeFd(theirs);
      }
      client = new BrokerClient(ours, `setuid launcher ${launcher}`);
    } else {
      throw new Error(`no broker: no socket at ${DEFAULT_BROKER_SOCKET} and no launcher at ${DEFAULT_LAUNCHER} (systrace broker install)`);
    }
    n.sendMessage(client.sock, encodeHello(), [listenerFd]);
    return client;
  }

  /** Connects, and learns the operations (from broker/ops/, as installed with systrace). */
  static async open(listenerFd: number, where?: string): Promise<BrokerClient> {
    const client = BrokerClient.connect(listenerFd, where);
    client.operations = await loadOperations();
    return client;
  }

  /** The operation's name for an x86_64 call, or undefined when none carries it out. */
  operationFor(syscall: string): string | undefined {
    return operationFor(this.operations, syscall)?.name;
  }

  request(pid: number, notifId: bigint, op: string, nr: number, args: bigint[]): Promise<Response> {
    const id = this.nextId++;
    return new Promise(resolve => {
      this.pending.set(id, resolve);
      try {
        this.n.sendMessage(this.sock, encodeRequest({ id, pid, notifId, op, nr, args }), []);
      } catch (e) {
        this.pending.delete(id);
        resolve({ id, granted: false, errno: '', reason: `the broker is gone (${(e as Error).message})` });
      }
    });
  }

  private readable(): void {
    for (;;) {
      let msg: { data: Buffer; fds: number[] } | null;
      try {
        msg = this.n.recvMessage(this.sock, MAX_MESSAGE, true);
      } catch {
        this.fail('unreadable reply');
        return;
      }
      if (msg === null) return;
      for (const fd of msg.fds) this.n.closeFd(fd);
      if (msg.data.length === 0) {
        this.fail('the broker closed the connection');
        return;
      }
      let r: Response;
      try {
        r = decodeResponse(msg.data);
      } catch {
        continue;
      }
      const resolve = this.pending.get(r.id);
      this.pending.delete(r.id);
      resolve?.(r);
    }
  }

  /** Every waiting request is refused: the calls go on with the program's own rights. */
  private fail(reason: string): void {
    for (const [id, resolve] of this.pending) resolve({ id, granted: false, errno: '', reason });
    this.pending.clear();
    this.close();
  }

  close(): void {
    this.poller?.stop();
    this.poller = undefined;
    this.n.closeFd(this.sock);
  }
}
