// OPEN: open/openat of a file only root may open, the fd injected into the
// target.
//
// Why it is safe: the path is read once, normalised by the broker itself
// against the target's cwd or dirfd (never the tracer's word for it), and
// that normalised copy is both checked and opened, with RESOLVE_NO_SYMLINKS
// so that a component swapped for a symlink after the check fails. The fd
// reaches the target only through ADDFD on the checked notification.
import { answerWithFd, type Operation } from './types.js';

const AT_FDCWD = -100;
const O_CLOEXEC = 0o2000000;
const O_NOFOLLOW = 0o400000;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_ACCMODE = 3;
const O_TRUNC = 0o1000;

export const operation: Operation = {
  nrs: [2, 257],
  name: 'open',
  calls: ['open', 'openat'],
  prepare(ctx) {
    const at = ctx.nr === 257;
    const dirfd = at ? Number(BigInt.asIntN(32, ctx.args[0]!)) : AT_FDCWD;
    const pathAddr = ctx.args[at ? 1 : 0]!;
    const flags = Number(ctx.args[at ? 2 : 1]! & 0xffffffffn);
    // Never setuid, setgid or sticky bits on a file root creates for someone
    // (and the broker's own umask, 022, applies on top).
    const mode = Number(ctx.args[at ? 3 : 2]! & 0o777n);
    const raw = ctx.n.procReadString(ctx.pid, pathAddr, 4096);
    if (typeof raw === 'number') return `cannot read the path (errno ${-raw})`;
    const follow = !(flags & O_NOFOLLOW) && (flags & (O_CREAT | O_EXCL)) !== (O_CREAT | O_EXCL);
    const r = ctx.n.resolvePath(0, ctx.pid, dirfd, raw, follow);
    if (typeof r === 'number' || !('path' in r)) return `cannot normalise ${raw}`;
    const writes = (flags & O_ACCMODE) !== 0 || (flags & (O_CREAT | O_TRUNC)) !== 0;
    const oflags = `${['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'][flags & O_ACCMODE]}${flags & O_CREAT ? '|O_CREAT' : ''}${flags & O_TRUNC ? '|O_TRUNC' : ''}`;
    return {
      call: { emulation: 'linux', syscall: at ? 'openat' : 'open', args: ctx.args, filenames: [r.path] },
      shown: { filename: r.path, oflags, ...(writes ? { access: 'write' } : {}) },
      perform() {
        return answerWithFd(ctx, ctx.n.openResolved(r.path, flags & ~O_CLOEXEC, mode), (flags & O_CLOEXEC) !== 0);
      },
    };
  },
};
