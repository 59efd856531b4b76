// Writing to our stderr without Node's process.stderr.
//
// process.stderr (and stdout), once touched, puts a pipe or socket into
// O_NONBLOCK mode: a flag of the open file description, which the confined
// program shares. Its own writes to a full pipe would then fail with
// EAGAIN and its output be lost. `systrace run` therefore writes with
// plain blocking write(2) and never touches process.stdout or stderr.
import fs from 'node:fs';

export function writeStderr(text: string): void {
  const buf = Buffer.from(text);
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(2, buf, off, buf.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') continue; // someone else made it non-blocking: keep going
      return; // EPIPE, EBADF: nobody is listening
    }
  }
}
