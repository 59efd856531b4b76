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
