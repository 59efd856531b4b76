// Socket addresses printed as Systrace printed them. Pure.

const AF_UNIX = 1;
const AF_INET = 2;
const AF_INET6 = 10;

/** `inet-[1.2.3.4]:80`, `inet6-[::1]:443`, a unix path raw, an abstract name as `@name`. */
export function formatSockaddr(buf: Buffer): string {
  if (buf.length < 2) return '<short sockaddr>';
  const family = buf.readUInt16LE(0);
  if (family === AF_INET && buf.length >= 8) {
    const port = buf.readUInt16BE(2);
    return `inet-[${buf[4]}.${buf[5]}.${buf[6]}.${buf[7]}]:${port}`;
  }
  if (family === AF_INET6 && buf.length >= 24) {
    const port = buf.readUInt16BE(2);
    return `inet6-[${formatIpv6(buf.subarray(8, 24))}]:${port}`;
  }
  if (family === AF_UNIX) {
    const path = buf.subarray(2);
    if (path.length === 0) return '@'; // autobind
    if (path[0] === 0) return '@' + path.subarray(1).toString('latin1');
    const nul = path.indexOf(0);
    return (nul < 0 ? path : path.subarray(0, nul)).toString();
  }
  return `af-${family}`;
}

function formatIpv6(b: Buffer): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(b.readUInt16BE(i));
  // Mapped IPv4 reads better dotted.
  if (words.slice(0, 5).every(w => w === 0) && words[5] === 0xffff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  // Longest run of zero words becomes '::' (RFC 5952).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map(w => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/**
 * The reverse of formatSockaddr, for rewrite targets: `inet-[1.2.3.4]:80`,
 * `inet6-[::1]:443`, an absolute unix path, `@abstract`. undefined when the
 * text is none of these.
 */
export function parseSockaddr(text: string): Buffer | undefined {
  let m = /^inet-\[(\d+)\.(\d+)\.(\d+)\.(\d+)\]:(\d+)$/.exec(text);
  if (m) {
    const octets = m.slice(1, 5).map(Number);
    const port = Number(m[5]);
    if (octets.some(o => o > 255) || port > 65535) return undefined;
    const b = Buffer.alloc(16);
    b.writeUInt16LE(AF_INET, 0);
    b.writeUInt16BE(port, 2);
    Buffer.from(octets).copy(b, 4);
    return b;
  }
  m = /^inet6-\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text);
  if (m) {
    const words = parseIpv6(m[1]!);
    const port = Number(m[2]);
    if (!words || port > 65535) return undefined;
    const b = Buffer.alloc(28);
    b.writeUInt16LE(AF_INET6, 0);
    b.writeUInt16BE(port, 2);
    words.forEach((w, i) => b.writeUInt16BE(w, 8 + 2 * i));
    return b;
  }
  if (text.startsWith('/') || text.startsWith('@')) {
    const name = Buffer.from(text.startsWith('@') ? `\0${text.slice(1)}` : text);
    if (name.length > 107) return undefined;
    const b = Buffer.alloc(2 + name.length + (text.startsWith('@') ? 0 : 1));
    b.writeUInt16LE(AF_UNIX, 0);
    name.copy(b, 2);
    return b;
  }
  return undefined;
}

function parseIpv6(text: string): number[] | undefined {
  let tail: number[] = [];
  let s = text;
  const v4 = /:(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (v4) {
    const o = v4.slice(1, 5).map(Number);
    if (o.some(x => x > 255)) return undefined;
    tail = [(o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!];
    s = s.slice(0, v4.index + 1) + '0';
    s = s.replace(/:0$/, ':');
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parse = (h: string): number[] | undefined => {
    if (h === '') return [];
    const ws = h.split(':').filter(x => x !== '');
    if (ws.some(w => !/^[0-9a-fA-F]{1,4}$/.test(w))) return undefined;
    return ws.map(w => parseInt(w, 16));
  };
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !rest) return undefined;
  const fixed = [...head, ...rest, ...tail];
  if (halves.length === 1) return fixed.length === 8 ? fixed : undefined;
  const zeros = 8 - fixed.length;
  if (zeros < 1) return undefined;
  return [...head, ...Array(zeros).fill(0), ...rest, ...tail];
}
