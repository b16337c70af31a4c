/**
 * OpenEXR images read in TypeScript, so a plate's values come through as they are stored: the
 * bundled ffmpeg (4.1) clips every sample to [0, 1], which would lose the highlights above 1.0
 * (speculars, sky) and the negatives a compositor expects back untouched.
 *
 * Read: single-part scanline files, HALF and FLOAT channels, compression NONE, RLE, ZIPS, ZIP and
 * PIZ (OpenEXR's wavelet + Huffman coder), in the layout of the OpenEXR "file layout" and
 * "technical introduction" documents. The picture is R, G, B (and A when present), carried as
 * half-float bits; FLOAT channels are rounded to the nearest half (the pipeline writes half).
 * Other channels (Z, masks, AOVs) are skipped and named in `ignored`.
 *
 * Refused, with one message naming the file and what it holds: tiled, multi-part and deep files,
 * UINT or subsampled channels, pictures without R, G and B, and the compressions not read here
 * (PXR24, B44, B44A, DWAA, DWAB).
 */
import { readFile } from 'node:fs/promises';
import { inflateSync } from 'node:zlib';
import { ReshootError } from '../errors.ts';
import { floatBitsToHalf, halfToFloatBitsTable } from './exr.ts';

/** OpenEXR's compression codes (the header's `compression` attribute), by name. */
const COMPRESSION_NAMES = ['none', 'rle', 'zips', 'zip', 'piz', 'pxr24', 'b44', 'b44a', 'dwaa', 'dwab'] as const;
export type ExrStoredCompression = (typeof COMPRESSION_NAMES)[number];
const READABLE: ReadonlySet<ExrStoredCompression> = new Set(['none', 'rle', 'zips', 'zip', 'piz']);
/** Scanlines in one block, per compression. */
const BLOCK_LINES: Partial<Record<ExrStoredCompression, number>> = { none: 1, rle: 1, zips: 1, zip: 16, piz: 32 };

const PIXEL_TYPES = ['uint', 'half', 'float'] as const;
type PixelType = (typeof PIXEL_TYPES)[number];

export interface ExrChannel {
  name: string;
  type: PixelType;
  xSampling: number;
  ySampling: number;
}

/** A box of pixels in EXR coordinates (a header's dataWindow or displayWindow). */
export interface ExrBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ExrHeader {
  width: number;
  height: number;
  /** Channels as stored (the format keeps them sorted by name). */
  channels: ExrChannel[];
  compression: ExrStoredCompression;
  /** Where the data window sits: its pixels are the picture read here. */
  dataWindow: ExrBox;
  displayWindow: ExrBox;
  pixelAspect: number;
  /** Byte offset of the line-offset table (just after the header). */
  tableAt: number;
}

export interface ExrImage {
  width: number;
  height: number;
  channels: 3 | 4;
  /** Half-float bits, interleaved R, G, B (, A), row-major: values as stored, >1, negative, NaN and Inf included. */
  data: Uint16Array;
  /** Channels present but not part of the picture (e.g. Z), skipped. */
  ignored: string[];
  /**
   * Present when a picture channel (R, G, B, A) is stored as FLOAT: every sample's exact value as
   * IEEE single bits, laid out as `data` (FLOAT samples as stored, NaN payloads included; HALF
   * ones widened), so a FLOAT plate can be written back without rounding (media/encode.ts).
   */
  floatBits?: Uint32Array;
  /** Where `data` lies (width × height are its size) and the picture it belongs to. */
  dataWindow: ExrBox;
  displayWindow: ExrBox;
}

function refuse(file: string, why: string): ReshootError {
  return new ReshootError('source_unreadable', `"${file}": ${why}`);
}

/** The header of an EXR file, checked to be something `decodeExr` reads. */
export function readExrHeader(buf: Buffer, file: string): ExrHeader {
  if (buf.length < 8 || buf.readUInt32LE(0) !== 20000630) throw refuse(file, 'not an OpenEXR file (no EXR magic number).');
  const flags = buf.readUInt32LE(4);
  if ((flags & 0xff) !== 2) throw refuse(file, `OpenEXR version ${flags & 0xff} is not read (only version 2).`);
  if (flags & 0x1000) throw refuse(file, 'a multi-part EXR is not read; export the plate as a single-part scanline EXR.');
  if (flags & 0x800) throw refuse(file, 'a deep EXR is not read; export the plate as a flat scanline EXR.');
  if (flags & 0x200) throw refuse(file, 'a tiled EXR is not read; export the plate as a scanline EXR.');
  let at = 8;
  const cstr = (): string => {
    const end = buf.indexOf(0, at);
    if (end < 0) throw refuse(file, 'the header is cut short.');
    const s = buf.toString('latin1', at, end);
    at = end + 1;
    return s;
  };
  let channels: ExrChannel[] | undefined;
  let compression: ExrStoredCompression | undefined;
  let dataWindow: ExrBox | undefined;
  let displayWindow: ExrBox | undefined;
  let pixelAspect = 1;
  for (;;) {
    const name = cstr();
    if (name === '') break;
    const type = cstr();
    const size = buf.readInt32LE(at);
    at += 4;
    const body = buf.subarray(at, at + size);
    if (body.length !== size) throw refuse(file, 'the header is cut short.');
    at += size;
    if (name === 'channels' && type === 'chlist') channels = parseChannels(body, file);
    else if (name === 'compression') {
      const c = COMPRESSION_NAMES[body[0]!];
      if (!c) throw refuse(file, `unknown EXR compression code ${body[0]}.`);
      compression = c;
    } else if (name === 'dataWindow') dataWindow = box(body);
    else if (name === 'displayWindow') displayWindow = box(body);
    else if (name === 'pixelAspectRatio') pixelAspect = body.readFloatLE(0);
    else if (name === 'tiles') throw refuse(file, 'a tiled EXR is not read; export the plate as a scanline EXR.');
  }
  if (!channels || compression === undefined || !dataWindow || !displayWindow) throw refuse(file, 'the EXR header lacks channels, compression or dataWindow.');
  if (!READABLE.has(compression)) {
    throw refuse(file, `EXR compression ${compression.toUpperCase()} is not read (NONE, RLE, ZIPS, ZIP and PIZ are); re-export the plate with one of those.`);
  }
  const odd = channels.find((c) => c.type === 'uint' || c.xSampling !== 1 || c.ySampling !== 1);
  if (odd) throw refuse(file, `channel "${odd.name}" is ${odd.type === 'uint' ? 'UINT' : 'subsampled'}; only full-resolution HALF and FLOAT channels are read.`);
  for (const c of ['R', 'G', 'B']) if (!channels.some((ch) => ch.name === c)) throw refuse(file, `no "${c}" channel (channels: ${channels.map((ch) => ch.name).join(', ')}); an RGB plate is needed.`);
  return { width: dataWindow.width, height: dataWindow.height, channels, compression, dataWindow, displayWindow, pixelAspect, tableAt: at };
}

function parseChannels(b: Buffer, file: string): ExrChannel[] {
  const out: ExrChannel[] = [];
  let at = 0;
  while (at < b.length && b[at] !== 0) {
    const end = b.indexOf(0, at);
    const name = b.toString('latin1', at, end);
    at = end + 1;
    const code = b.readInt32LE(at);
    const type = PIXEL_TYPES[code];
    if (!type) throw refuse(file, `channel "${name}" has unknown pixel type ${code}.`);
    out.push({ name, type, xSampling: b.readInt32LE(at + 8), ySampling: b.readInt32LE(at + 12) });
    at += 16;
  }
  return out;
}

function box(b: Buffer): ExrBox {
  const [x0, y0, x1, y1] = [b.readInt32LE(0), b.readInt32LE(4), b.readInt32LE(8), b.readInt32LE(12)];
  return { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/** An EXR file's picture (see ExrImage). */
export async function readExr(file: string): Promise<ExrImage> {
  let buf: Buffer;
  try {
    buf = await readFile(file);
  } catch (e) {
    throw new ReshootError('source_missing', `Cannot read the EXR "${file}" (${(e as NodeJS.ErrnoException).code ?? String(e)}).`, { cause: e });
  }
  return decodeExr(buf, file);
}

/** Decodes a whole EXR file held in memory; `file` names it in errors. */
export function decodeExr(buf: Buffer, file: string): ExrImage {
  const h = readExrHeader(buf, file);
  const { width, height } = h;
  const hasAlpha = h.channels.some((c) => c.name === 'A');
  const channels: 3 | 4 = hasAlpha ? 4 : 3;
  const slot: Record<string, number> = { R: 0, G: 1, B: 2, A: 3 };
  const ignored = h.channels.filter((c) => !(c.name in slot)).map((c) => c.name);
  const data = new Uint16Array(width * height * channels);
  const floatBits = h.channels.some((c) => c.name in slot && c.type === 'float') ? new Uint32Array(data.length) : undefined;
  const lines = BLOCK_LINES[h.compression]!;
  const blocks = Math.ceil(height / lines);
  const bytesPerPixel = h.channels.reduce((s, c) => s + (c.type === 'half' ? 2 : 4), 0);
  for (let b = 0; b < blocks; b++) {
    const offset = Number(buf.readBigUInt64LE(h.tableAt + 8 * b));
    if (offset + 8 > buf.length) throw refuse(file, `block ${b} lies past the end of the file (cut short?).`);
    const y = buf.readInt32LE(offset) - h.dataWindow.y;
    const size = buf.readInt32LE(offset + 4);
    if (y < 0 || y >= height || y % lines !== 0) throw refuse(file, `block ${b} names line ${y + h.dataWindow.y}, outside the data window.`);
    const n = Math.min(lines, height - y);
    const packed = buf.subarray(offset + 8, offset + 8 + size);
    if (packed.length !== size) throw refuse(file, `block ${b} is cut short.`);
    const rawSize = n * width * bytesPerPixel;
    let raw: Uint8Array;
    try {
      raw = size >= rawSize ? packed : uncompress(h, packed, rawSize, n);
    } catch (e) {
      if (e instanceof ReshootError) throw e;
      throw refuse(file, `block ${b} (${h.compression.toUpperCase()}) does not decompress: ${(e as Error).message}`);
    }
    if (raw.length !== rawSize) throw refuse(file, `block ${b} holds ${raw.length} bytes where ${rawSize} were expected.`);
    scatter(raw, h.channels, slot, width, y, n, channels, data, floatBits);
  }
  return { width, height, channels, data, ...(floatBits ? { floatBits } : {}), ignored, dataWindow: h.dataWindow, displayWindow: h.displayWindow };
}

/** One block's rows (for each line, each channel's samples in stored order) into the picture (and its exact single bits, `fl`). */
function scatter(raw: Uint8Array, list: ExrChannel[], slot: Record<string, number>, width: number, y0: number, n: number, ch: number, out: Uint16Array, fl?: Uint32Array): void {
  const widen = fl ? halfToFloatBitsTable() : undefined;
  // 16-bit words of the block (little-endian, as typed arrays are on every supported CPU).
  const words = raw.byteOffset & 1 ? new Uint16Array(new Uint8Array(raw).buffer) : new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength >> 1);
  let at = 0; // in words
  for (let line = 0; line < n; line++) {
    const row = (y0 + line) * width * ch;
    for (const c of list) {
      const s = slot[c.name];
      const step = c.type === 'half' ? 1 : 2;
      if (s === undefined) {
        at += width * step;
        continue;
      }
      let o = row + s;
      if (c.type === 'half') {
        for (let x = 0; x < width; x++, at++, o += ch) out[o] = words[at]!;
        if (widen) for (let x = 0, q = row + s, a = at - width; x < width; x++, a++, q += ch) fl![q] = widen[words[a]!]!;
      } else {
        for (let x = 0; x < width; x++, at += 2, o += ch) {
          const bits = (words[at]! | (words[at + 1]! << 16)) >>> 0;
          out[o] = floatBitsToHalf(bits);
          if (fl) fl[o] = bits;
        }
      }
    }
  }
}

function uncompress(h: ExrHeader, packed: Uint8Array, rawSize: number, lines: number): Uint8Array {
  switch (h.compression) {
    case 'zip':
    case 'zips':
      return unpredict(inflateSync(packed));
    case 'rle':
      return unpredict(unRle(packed, rawSize));
    case 'piz':
      return unPiz(packed, h.channels, h.width, lines, rawSize);
    default:
      throw new Error(`compression ${h.compression} has no decoder`);
  }
}

/**
 * Undoes ZIP's and RLE's byte transform: each byte was stored as the difference from the one
 * before (+128), after the bytes were split into even and odd halves.
 */
function unpredict(t: Uint8Array): Uint8Array {
  const n = t.length;
  // The delta predictor, undone in place (the input is ours: inflated or RLE-decoded just now).
  for (let i = 1; i < n; i++) t[i] = (t[i - 1]! + t[i]! - 128) & 0xff;
  const out = new Uint8Array(n);
  const half = (n + 1) >> 1;
  for (let i = 0, a = 0, b = half; i < n; i += 2) {
    out[i] = t[a++]!;
    if (i + 1 < n) out[i + 1] = t[b++]!;
  }
  return out;
}

/** RLE: a signed count byte; negative = that many literal bytes follow, else the next byte repeats count + 1 times. */
function unRle(p: Uint8Array, rawSize: number): Uint8Array {
  const out = new Uint8Array(rawSize);
  let i = 0;
  let o = 0;
  while (i < p.length) {
    const c = (p[i++]! << 24) >> 24;
    if (c < 0) {
      if (o - c > rawSize || i - c > p.length) throw new Error('RLE run overflows the block');
      out.set(p.subarray(i, i - c), o);
      i -= c;
      o -= c;
    } else {
      if (o + c + 1 > rawSize || i >= p.length) throw new Error('RLE run overflows the block');
      out.fill(p[i++]!, o, o + c + 1);
      o += c + 1;
    }
  }
  if (o !== rawSize) throw new Error(`RLE gives ${o} bytes, not ${rawSize}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// PIZ: 16-bit words remapped through a bitmap of the values used, a 2D Haar-like wavelet per
// channel, then Huffman-coded (OpenEXR's ImfPizCompressor / ImfHuf / ImfWav, from the spec).

function unPiz(p: Uint8Array, list: ExrChannel[], width: number, lines: number, rawSize: number): Uint8Array {
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  let at = 0;
  const minNonZero = v.getUint16(0, true);
  const maxNonZero = v.getUint16(2, true);
  at = 4;
  if (maxNonZero >= 8192) throw new Error('bitmap out of range');
  const bitmap = new Uint8Array(8192);
  if (minNonZero <= maxNonZero) {
    bitmap.set(p.subarray(at, at + maxNonZero - minNonZero + 1), minNonZero);
    at += maxNonZero - minNonZero + 1;
  }
  // The values the words took, in order: word k of the coded data stands for lut[k].
  const lut = new Uint16Array(65536);
  let k = 0;
  for (let i = 0; i < 65536; i++) if (i === 0 || bitmap[i >> 3]! & (1 << (i & 7))) lut[k++] = i;
  const maxValue = k - 1;
  const length = v.getInt32(at, true);
  at += 4;
  const words = new Uint16Array(rawSize / 2);
  hufUncompress(p.subarray(at, at + length), words);
  // Each channel's words lie together (all its lines); a FLOAT sample is two words, each its own wavelet plane.
  let start = 0;
  const starts: number[] = [];
  for (const c of list) {
    const size = c.type === 'half' ? 1 : 2;
    starts.push(start);
    for (let j = 0; j < size; j++) wav2Decode(words, start + j, width, size, lines, width * size, maxValue);
    start += width * lines * size;
  }
  for (let i = 0; i < words.length; i++) words[i] = lut[words[i]!]!;
  // Back to the scanline layout: for each line, each channel's row of words.
  const out = new Uint16Array(rawSize / 2);
  let o = 0;
  for (let y = 0; y < lines; y++) {
    list.forEach((c, ci) => {
      const n = width * (c.type === 'half' ? 1 : 2);
      const from = starts[ci]! + y * n;
      out.set(words.subarray(from, from + n), o);
      o += n;
    });
  }
  return new Uint8Array(out.buffer);
}

/** Inverse of the 2D wavelet over an nx × ny plane of `w` starting at `base`, samples `ox` apart in x and `oy` in y. */
function wav2Decode(w: Uint16Array, base: number, nx: number, ox: number, ny: number, oy: number, mx: number): void {
  const dec = mx < 1 << 14 ? wdec14 : wdec16;
  const n = Math.min(nx, ny);
  let p = 1;
  while (p <= n) p <<= 1;
  p >>= 1;
  let p2 = p;
  p >>= 1;
  const pair = [0, 0];
  while (p >= 1) {
    const ey = base + oy * (ny - p2);
    const oy1 = oy * p;
    const oy2 = oy * p2;
    const ox1 = ox * p;
    const ox2 = ox * p2;
    let py = base;
    for (; py <= ey; py += oy2) {
      let px = py;
      const ex = py + ox * (nx - p2);
      for (; px <= ex; px += ox2) {
        const p01 = px + ox1;
        const p10 = px + oy1;
        const p11 = p10 + ox1;
        dec(w[px]!, w[p10]!, pair);
        const [i00, i10] = pair as [number, number];
        dec(w[p01]!, w[p11]!, pair);
        const [i01, i11] = pair as [number, number];
        dec(i00, i01, pair);
        w[px] = pair[0]!;
        w[p01] = pair[1]!;
        dec(i10, i11, pair);
        w[p10] = pair[0]!;
        w[p11] = pair[1]!;
      }
      // An odd column left over at this level.
      if (nx & p) {
        const p10 = px + oy1;
        dec(w[px]!, w[p10]!, pair);
        w[px] = pair[0]!;
        w[p10] = pair[1]!;
      }
    }
    // An odd line left over at this level.
    if (ny & p) {
      let px = py;
      const ex = py + ox * (nx - p2);
      for (; px <= ex; px += ox2) {
        const p01 = px + ox1;
        dec(w[px]!, w[p01]!, pair);
        w[px] = pair[0]!;
        w[p01] = pair[1]!;
      }
    }
    p2 = p;
    p >>= 1;
  }
}

const s16 = (v: number): number => (v << 16) >> 16;

/** 14-bit wavelet step (values fit in 14 bits): signed arithmetic. */
function wdec14(l: number, h: number, out: number[]): void {
  const hi = s16(h);
  const ai = s16(l) + (hi & 1) + (hi >> 1);
  out[0] = ai & 0xffff;
  out[1] = (ai - hi) & 0xffff;
}

/** 16-bit wavelet step: modulo 2^16 arithmetic. */
function wdec16(l: number, h: number, out: number[]): void {
  const bb = (l - (h >> 1)) & 0xffff;
  out[0] = (h + bb - 0x8000) & 0xffff;
  out[1] = bb;
}

/**
 * OpenEXR's Huffman stream: header (im, iM, table length, bit count, reserved), the code lengths
 * of symbols im..iM packed in 6 bits with zero runs, then the codes, most significant bit first.
 * Symbol iM means "repeat the previous word (next 8 bits) times".
 */
function hufUncompress(p: Uint8Array, out: Uint16Array): void {
  if (out.length === 0) return;
  if (p.length < 20) throw new Error('Huffman header cut short');
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const im = v.getUint32(0, true);
  const iM = v.getUint32(4, true);
  const nBits = v.getUint32(12, true);
  if (im > iM || iM > 65536) throw new Error('Huffman symbol range out of bounds');
  const bits = new BitReader(p, 20);
  // Code lengths.
  const lengths = new Uint8Array(iM + 1);
  for (let i = im; i <= iM; i++) {
    const l = bits.read(6);
    if (l === 63) {
      const run = bits.read(8) + 6;
      if (i + run > iM + 1) throw new Error('Huffman table zero run too long');
      i += run - 1; // zeros already
    } else if (l >= 59) {
      const run = l - 59 + 2;
      if (i + run > iM + 1) throw new Error('Huffman table zero run too long');
      i += run - 1;
    } else lengths[i] = l;
  }
  // Canonical codes: the longest codes take the smallest values; within a length, symbols in order.
  const count = new Uint32Array(59);
  for (let i = im; i <= iM; i++) count[lengths[i]!]!++;
  const first = new Float64Array(59);
  let c = 0;
  for (let l = 58; l > 0; l--) {
    const next = (c + count[l]!) / 2;
    first[l] = c;
    c = Math.floor(next);
  }
  // Symbols of each length in increasing order, so symbol = byLength[len][code - first[len]].
  const byLength: number[][] = Array.from({ length: 59 }, () => []);
  for (let i = im; i <= iM; i++) if (lengths[i]) byLength[lengths[i]!]!.push(i);
  // Codes of up to FAST bits are looked up from the next FAST bits at once ((symbol << 6) | length);
  // longer ones, rare, are found bit by bit.
  const fast = new Int32Array(1 << FAST).fill(-1);
  for (let len = 1; len <= FAST; len++) {
    byLength[len]!.forEach((sym, k) => {
      const code = first[len]! + k;
      if (code >= 2 ** len) throw new Error('bad Huffman table');
      const from = code << (FAST - len);
      fast.fill((sym << 6) | len, from, from + (1 << (FAST - len)));
    });
  }
  const start = bits.byteEnd();
  // Zero bytes after the end, so the 3-byte peek never reads past the array.
  const data = new Uint8Array(p.length - start + 4);
  data.set(p.subarray(start));
  const peek = (pos: number): number => {
    const i = pos >> 3;
    return (((data[i]! << 16) | (data[i + 1]! << 8) | data[i + 2]!) >>> (10 - (pos & 7))) & FAST_MASK;
  };
  const bit = (pos: number): number => (data[pos >> 3]! >> (7 - (pos & 7))) & 1;
  let pos = 0;
  let o = 0;
  const rlc = iM;
  while (o < out.length && pos < nBits) {
    let sym: number;
    let len: number;
    const e = fast[peek(pos)]!;
    if (e >= 0) {
      sym = e >> 6;
      len = e & 63;
    } else {
      let code = peek(pos);
      len = FAST;
      sym = -1;
      while (len < 58) {
        code = code * 2 + bit(pos + len);
        len++;
        const k = code - first[len]!;
        if (count[len]! && k >= 0 && k < count[len]!) {
          sym = byLength[len]![k]!;
          break;
        }
      }
      if (sym < 0) throw new Error('bad Huffman code');
    }
    pos += len;
    if (pos > nBits) throw new Error('Huffman data cut short');
    if (sym === rlc) {
      const run = (peek(pos) >> (FAST - 8)) & 0xff;
      pos += 8;
      if (o === 0 || o + run > out.length) throw new Error('Huffman run out of range');
      out.fill(out[o - 1]!, o, o + run);
      o += run;
    } else out[o++] = sym;
  }
  if (o !== out.length) throw new Error(`Huffman data gives ${o} words, not ${out.length}`);
}

const FAST = 14;
const FAST_MASK = (1 << FAST) - 1;

/** Bits of a byte array, most significant first. */
class BitReader {
  private bit: number;
  constructor(
    private readonly bytes: Uint8Array,
    byteStart: number,
  ) {
    this.bit = byteStart * 8;
  }
  read(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++, this.bit++) {
      const byte = this.bytes[this.bit >> 3];
      if (byte === undefined) throw new Error('data cut short');
      v = v * 2 + ((byte >> (7 - (this.bit & 7))) & 1);
    }
    return v;
  }
  /** The first whole byte after what was read. */
  byteEnd(): number {
    return (this.bit + 7) >> 3;
  }
}
