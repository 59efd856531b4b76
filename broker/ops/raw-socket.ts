// RAW_SOCKET: socket(2) of a type that needs CAP_NET_RAW (ping-like tools).
//
// Why it is safe: the arguments are registers (read from /proc/PID/syscall
// by the session, not from memory a thread could change); the broker makes
// one socket of exactly the checked domain, type and protocol and hands it
// over with ADDFD. The socket carries root's credentials for its creation
// only; what the program does with it afterwards is its policy's business.
import { answerWithFd, type Operation } from './types.js';

const SOCK_CLOEXEC = 0o2000000;

export const operation: Operation = {
  nrs: [41],
  name: 'raw-socket',
  calls: ['socket'],
  prepare(ctx) {
    const domain = Number(ctx.args[0]! & 0xffffffffn);
    const type = Number(ctx.args[1]! & 0xffffffffn);
    const protocol = Number(ctx.args[2]! & 0xffffffffn);
    return {
      call: { emulation: 'linux', syscall: 'socket', args: ctx.args },
      shown: { domain: String(domain), type: String(type & 0xf), protocol: String(protocol) },
      perform() {
        return answerWithFd(ctx, ctx.n.socketCreate(domain, type, protocol), (type & SOCK_CLOEXEC) !== 0);
      },
    };
  },
};
