// Systrace's `match` operator: fnmatch(3) WITHOUT FNM_PATHNAME, as Systrace
// called it. So `*` and `?` also match '/': "/usr/lib/*" matches everything
// below /usr/lib, at any depth, and "inet-*:80" any address on port 80.
// `[...]` is a character class (`[!...]` or `[^...]` negated, ranges a-z),
// a backslash makes the next character literal, and an unclosed `[` is a
// literal `[` (as fnmatch treats it). No FNM_PERIOD: `*` matches a leading dot.

const REGEX_SPECIAL = /[\\^$.*+?()[\]{}|/-]/;

function escapeChar(c: string): string {
  return REGEX_SPECIAL.test(c) ? `\\${c}` : c;
}

/** The pattern as an anchored RegExp source. */
export function globToRegExpSource(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      out += '[\\s\\S]*';
    } else if (c === '?') {
      out += '[\\s\\S]';
    } else if (c === '\\' && i + 1 < glob.length) {
      out += escapeChar(glob[++i]!);
    } else if (c === '[') {
      const cls = bracket(glob, i);
      if (cls) {
        out += cls.source;
        i = cls.end;
      } else {
        out += '\\[';
      }
    } else {
      out += escapeChar(c);
    }
  }
  return `^${out}$`;
}

/** Parses `[...]` starting at `start`; undefined when it is not closed. */
function bracket(glob: string, start: number): { source: string; end: number } | undefined {
  let i = start + 1;
  let negate = false;
  if (glob[i] === '!' || glob[i] === '^') {
    negate = true;
    i++;
  }
  let body = '';
  let first = true;
  for (; i < glob.length; i++) {
    let c = glob[i]!;
    if (c === ']' && !first) return { source: `[${negate ? '^' : ''}${body}]`, end: i };
    first = false;
    if (c === '\\' && i + 1 < glob.length) c = glob[++i]!;
    if (glob[i + 1] === '-' && i + 2 < glob.length && glob[i + 2] !== ']') {
      let hi = glob[i + 2]!;
      let skip = 2;
      if (hi === '\\' && i + 3 < glob.length) {
        hi = glob[i + 3]!;
        skip = 3;
      }
      body += `${escapeChar(c)}-${escapeChar(hi)}`;
      i += skip;
    } else {
      body += escapeChar(c);
    }
  }
  return undefined;
}

export function globToRegExp(glob: string): RegExp {
  return new RegExp(globToRegExpSource(glob));
}

/** Escapes a literal so that it matches only itself as a glob. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\\]/g, c => `\\${c}`);
}
