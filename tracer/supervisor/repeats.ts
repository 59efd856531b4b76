// syslog's "last message repeated N times": a program that retries a
// denied call in a loop must not fill the disk with the same line.

/** Lines repeated more than this many times in a row are counted, not written. */
const SHOWN_REPEATS = 3;
/** A count is still written every this many suppressed repeats. */
const SUMMARY_EVERY = 10000;

export class RepeatFilter {
  private last = '';
  private repeats = 0;

  constructor(private readonly write: (line: string) => void) {}

  line(text: string): void {
    if (text === this.last) {
      this.repeats++;
      if (this.repeats <= SHOWN_REPEATS) this.write(text);
      else if ((this.repeats - SHOWN_REPEATS) % SUMMARY_EVERY === 0) this.write(`systrace: last message repeated ${SUMMARY_EVERY} more times`);
      return;
    }
    this.flush();
    this.last = text;
    this.repeats = 0;
    this.write(text);
  }

  /** Says how many repeats went unwritten since the last summary. */
  flush(): void {
    const hidden = this.repeats - SHOWN_REPEATS;
    if (hidden > 0 && hidden % SUMMARY_EVERY !== 0) this.write(`systrace: last message repeated ${hidden % SUMMARY_EVERY} more times`);
    this.repeats = 0;
    this.last = '';
  }
}
