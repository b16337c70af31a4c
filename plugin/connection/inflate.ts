/**
 * zlib inflate (RFC 1950/1951) in plain TypeScript: the panel decodes the PNG files Premiere's
 * Exporter writes, and UXP guarantees neither DecompressionStream nor a canvas that can read
 * pixels back (DESIGN.md §6). Stored, fixed-Huffman and dynamic-Huffman blocks; the Adler-32
 * checksum is verified so a truncated or half-written file is an error, never wrong pixels.
 */

const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CL_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/** A canonical Huffman code: counts per length and symbols in code order (zlib's "puff" layout). */
interface Huffman {
  counts: Uint16Array;
  symbols: Uint16Array;
}

function huffman(lengths: ArrayLike<number>, n: number): Huffman {
  const counts = new Uint16Array(16);
  for (let i = 0; i < n; i++) counts[lengths[i]!]!++;
  const offs = new Uint16Array(16);
  for (let len = 1; len < 15; len++) offs[len + 1] = offs[len]! + counts[len]!;
  const symbols = new Uint16Array(n);
  for (let i = 0; i < n; i++) if (lengths[i]) symbols[offs[lengths[i]!]!++] = i;
  counts[0] = 0;
  return { counts, symbols };
}

export class InflateError extends Error {
  constructor(message: string) {
    super(`inflate: ${message}`);
    this.name = 'InflateError';
  }
}

class BitReader {
  pos = 0;
  private bitBuf = 0;
  private bitCnt = 0;
  constructor(private readonly data: Uint8Array) {}

  bits(n: number): number {
    let v = this.bitBuf;
    while (this.bitCnt < n) {
      if (this.pos >= this.data.length) throw new InflateError('unexpected end of data');
      v |= this.data[this.pos++]! << this.bitCnt;
      this.bitCnt += 8;
    }
    this.bitBuf = v >>> n;
    this.bitCnt -= n;
    return v & ((1 << n) - 1);
  }

  alignToByte(): void {
    this.bitBuf = 0;
    this.bitCnt = 0;
  }

  decode(h: Huffman): number {
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len <= 15; len++) {
      code |= this.bits(1);
      const count = h.counts[len]!;
      if (code - count < first) return h.symbols[index + (code - first)]!;
      index += count;
      first += count;
      first <<= 1;
      code <<= 1;
    }
    throw new InflateError('bad Huffman code');
  }
}

let FIXED: { lit: Huffman; dist: Huffman } | null = null;
function fixedTables() {
  if (!FIXED) {
    const l = new Uint8Array(288);
    l.fill(8, 0, 144);
    l.fill(9, 144, 256);
    l.fill(7, 256, 280);
    l.fill(8, 280, 288);
    FIXED = { lit: huffman(l, 288), dist: huffman(new Uint8Array(30).fill(5), 30) };
  }
  return FIXED;
}

/** A growable output buffer. */
class Output {
  buf: Uint8Array;
  len = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(Math.max(1024, size));
  }
  ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let n = this.buf.length * 2;
    while (n < this.len + extra) n *= 2;
    const b = new Uint8Array(n);
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
}

/** Raw DEFLATE data (no zlib header). `sizeHint`: the expected output size, if known. */
export function inflateRaw(data: Uint8Array, sizeHint = data.length * 4): { bytes: Uint8Array; consumed: number } {
  const r = new BitReader(data);
  const out = new Output(sizeHint);
  let last = 0;
  while (!last) {
    last = r.bits(1);
    const type = r.bits(2);
    if (type === 0) {
      r.alignToByte();
      if (r.pos + 4 > data.length) throw new InflateError('unexpected end of data');
      const len = data[r.pos]! | (data[r.pos + 1]! << 8);
      const nlen = data[r.pos + 2]! | (data[r.pos + 3]! << 8);
      if ((len ^ 0xffff) !== nlen) throw new InflateError('stored block length check failed');
      r.pos += 4;
      if (r.pos + len > data.length) throw new InflateError('unexpected end of data');
      out.ensure(len);
      out.buf.set(data.subarray(r.pos, r.pos + len), out.len);
      out.len += len;
      r.pos += len;
    } else if (type === 1 || type === 2) {
      let lit: Huffman;
      let dist: Huffman;
      if (type === 1) ({ lit, dist } = fixedTables());
      else ({ lit, dist } = dynamicTables(r));
      for (;;) {
        const sym = r.decode(lit);
        if (sym < 256) {
          out.ensure(1);
          out.buf[out.len++] = sym;
        } else if (sym === 256) {
          break;
        } else {
          const li = sym - 257;
          if (li >= 29) throw new InflateError('bad length symbol');
          const length = LENGTH_BASE[li]! + r.bits(LENGTH_EXTRA[li]!);
          const di = r.decode(dist);
          if (di >= 30) throw new InflateError('bad distance symbol');
          const distance = DIST_BASE[di]! + r.bits(DIST_EXTRA[di]!);
          if (distance > out.len) throw new InflateError('distance too far back');
          out.ensure(length);
          const b = out.buf;
          let from = out.len - distance;
          for (let k = 0; k < length; k++) b[out.len++] = b[from++]!;
        }
      }
    } else {
      throw new InflateError('invalid block type 3');
    }
  }
  return { bytes: out.buf.subarray(0, out.len), consumed: r.pos };
}

function dynamicTables(r: BitReader): { lit: Huffman; dist: Huffman } {
  const nlen = r.bits(5) + 257;
  const ndist = r.bits(5) + 1;
  const ncode = r.bits(4) + 4;
  if (nlen > 286 || ndist > 30) throw new InflateError('bad counts in a dynamic block');
  const lengths = new Uint8Array(320);
  for (let i = 0; i < ncode; i++) lengths[CL_ORDER[i]!] = r.bits(3);
  const lencode = huffman(lengths, 19);
  lengths.fill(0);
  let i = 0;
  while (i < nlen + ndist) {
    const sym = r.decode(lencode);
    if (sym < 16) {
      lengths[i++] = sym;
    } else {
      let len = 0;
      let rep: number;
      if (sym === 16) {
        if (i === 0) throw new InflateError('repeat with no first length');
        len = lengths[i - 1]!;
        rep = 3 + r.bits(2);
      } else if (sym === 17) rep = 3 + r.bits(3);
      else rep = 11 + r.bits(7);
      if (i + rep > nlen + ndist) throw new InflateError('too many lengths');
      while (rep--) lengths[i++] = len;
    }
  }
  if (lengths[256] === 0) throw new InflateError('no end-of-block code');
  return { lit: huffman(lengths.subarray(0, nlen), nlen), dist: huffman(lengths.subarray(nlen, nlen + ndist), ndist) };
}

export function adler32(data: Uint8Array): number {
  let a = 1;
  let b = 0;
  const n = data.length;
  for (let i = 0; i < n; ) {
    const end = Math.min(n, i + 5552);
    for (; i < end; i++) {
      a += data[i]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** zlib-wrapped data (what a PNG's IDAT chunks hold together). Checks header and Adler-32. */
export function inflate(data: Uint8Array, sizeHint?: number): Uint8Array {
  if (data.length < 6) throw new InflateError('zlib data too short');
  const cmf = data[0]!;
  const flg = data[1]!;
  if ((cmf & 0x0f) !== 8 || ((cmf << 8) | flg) % 31 !== 0) throw new InflateError('not zlib data (bad header)');
  if (flg & 0x20) throw new InflateError('a preset dictionary is not supported');
  const { bytes, consumed } = inflateRaw(data.subarray(2), sizeHint);
  const at = 2 + consumed;
  if (at + 4 > data.length) throw new InflateError('the Adler-32 checksum is missing (truncated data)');
  const want = ((data[at]! << 24) | (data[at + 1]! << 16) | (data[at + 2]! << 8) | data[at + 3]!) >>> 0;
  if (adler32(bytes) !== want) throw new InflateError('Adler-32 checksum mismatch');
  return bytes;
}

/** zlib data with stored (uncompressed) blocks: valid for any inflater, for test images. */
export function deflateStored(data: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(data.length / 65535));
  const out = new Uint8Array(2 + data.length + blocks * 5 + 4);
  out[0] = 0x78;
  out[1] = 0x01;
  let o = 2;
  for (let b = 0; b < blocks; b++) {
    const start = b * 65535;
    const len = Math.min(65535, data.length - start);
    out[o++] = b === blocks - 1 ? 1 : 0;
    out[o++] = len & 0xff;
    out[o++] = len >>> 8;
    out[o++] = ~len & 0xff;
    out[o++] = (~len >>> 8) & 0xff;
    out.set(data.subarray(start, start + len), o);
    o += len;
  }
  const a = adler32(data);
  out[o++] = a >>> 24;
  out[o++] = (a >>> 16) & 0xff;
  out[o++] = (a >>> 8) & 0xff;
  out[o++] = a & 0xff;
  return out;
}
