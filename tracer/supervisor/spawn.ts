// Starts the program under the filter through the exec helper, and takes
// its listener.
import { spawn, type ChildProcess } from 'node:child_process';
import { launcherPath, native } from '../native.js';

export interface Confined {
  child: ChildProcess;
  /** The seccomp listener: ours alone, the program never holds it. */
  listenerFd: number;
  /** Lets the program exec: call once the listener is being polled. */
  release(): void;
}

/**
 * Spawns `systrace-launch FILE ARGV...` with fd 3 connected to us, sends
 * the BPF program (and the Landlock ruleset, if any), and receives the
 * listener. child_process (not a fork inside the addon) so that the helper
 * gets clean stdio and default signal dispositions: Node marks its own
 * fds 0-2 close-on-exec and ignores SIGPIPE, and a child forked from
 * inside Node would inherit both.
 */
export function startConfined(file: string, argv: string[], bpf: Buffer, env: NodeJS.ProcessEnv, rulesetFd?: number): Confined {
  const n = native();
  const [ours, theirs] = n.socketPair();
  let child: ChildProcess;
  try {
    child = spawn(launcherPath(), [file, ...argv], {
      stdio: ['inherit', 'inherit', 'inherit', theirs],
      env,
      argv0: argv[0],
    });
  } finally {
    n.closeFd(theirs);
  }
  try {
    // Whether a Landlock ruleset comes, and the ruleset itself, before
    // the filter: the helper restricts itself with it before the filter is
    // in place, and refuses to go on if the two do not agree.
    n.sendMessage(ours, Buffer.from(rulesetFd === undefined ? 'F' : 'R'), rulesetFd === undefined ? [] : [rulesetFd]);
    n.sendMessage(ours, bpf, []);
    // Blocks until the helper answers or dies (then: EOF, no fd).
    const reply = n.recvMessage(ours, 16)!;
    const listenerFd = reply.fds[0];
    if (reply.data.toString() !== 'L' || listenerFd === undefined) {
      for (const fd of reply.fds) n.closeFd(fd);
      throw new Error('the exec helper did not hand over the seccomp listener (see its message above)');
    }
    let released = false;
    return {
      child,
      listenerFd,
      release() {
        if (released) return;
        released = true;
        try {
          n.sendMessage(ours, Buffer.from('G'), []);
        } finally {
          n.closeFd(ours);
        }
      },
    };
  } catch (e) {
    n.closeFd(ours);
    child.kill('SIGKILL');
    throw e;
  }
}
