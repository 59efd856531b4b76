// BIND: bind(2) of the target's own socket, as root, so that a port below
// ip_unprivileged_port_start can be had.
//
// Why it is safe: the socket is taken from the target's own fd table with
// pidfd_getfd (the session has checked the target is the caller's), the
// address is read once from the target's memory and that copy is both
// checked against the admin policy and used; root's power is used for
// exactly one bind of exactly that address.
import { formatSockaddr } from '../../tracer/supervisor/sockaddr.js';
import type { Operation } from './types.js';

const MAX_SOCKADDR = 128;

export const operation: Operation = {
  nrs: [49],
  name: 'bind',
  calls: ['bind'],
  prepare(ctx) {
    const fd = Number(BigInt.asIntN(32, ctx.args[0]!));
    const len = Number(ctx.args[2]! & 0xffffffffn);
    if (len < 2 || len > MAX_SOCKADDR) return `bad address length ${len}`;
    const addr = ctx.n.procReadMemory(ctx.pid, ctx.args[1]!, len);
    if (typeof addr === 'number') return `cannot read the address (errno ${-addr})`;
    const sockaddr = formatSockaddr(addr);
    return {
      call: { emulation: 'linux', syscall: 'bind', args: ctx.args, sockaddr },
      shown: { fd: String(fd), sockaddr },
      perform() {
        const sock = ctx.n.pidfdGetfd(ctx.pidfd, fd);
        if (sock < 0) return sock;
        try {
          const r = ctx.n.socketBind(sock, addr);
          ctx.n.notifyRespond(ctx.listener, ctx.notifId, 0n, r < 0 ? r : 0, 0);
          return r < 0 ? r : 0;
        } finally {
          ctx.n.closeFd(sock);
        }
      },
    };
  },
};
