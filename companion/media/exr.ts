/**
 * OpenEXR images written in TypeScript: the bundled ffmpeg (4.1) reads EXR but has no encoder.
 * Scanline files, half-float R, G, B (and A), uncompressed or ZIP (16 lines a block, zlib from
 * node:zlib), laid out as the OpenEXR "file layout" document describes: magic and version,
 * header attributes, the offset table, then the blocks (y, byte count, each channel's row in
 * channel-name order: A, B, G, R).
 *
 * Frames reach this writer as 8- or 16-bit integers in one of two meanings (ExrTransfer):
 *  - 'linear': 16-bit samples of ffmpeg's own EXR decode (linear light, no curve applied), as
 *    the pipeline carries an EXR plate it writes back to EXR. Each sample is written as the half
 *    that ffmpeg decodes to that very sample, so a plate read back through ffmpeg is bit-exact
 *    wherever the job did not touch it.
 *  - 'srgb': display-referred samples (any other source, or an EXR shown through the sRGB curve);
 *    they are linearized with the sRGB curve (IEC 61966-2-1), the curve EXR plates are viewed
 *    through for the model, and rounded to the nearest half.
 */
import { deflateSync } from 'node:zlib';
import type { Rational } from '../../protocol/rational.ts';
import type { AnyFrame } from './frame.ts';

export type ExrCompression = 'none' | 'zip';
export type ExrTransfer = 'linear' | 'srgb';

export interface ExrOptions {
  compression: ExrCompression;
  transfer: ExrTransfer;
  /** Pixel aspect stored in the header (pixelAspectRatio); default square. */
  sar?: Rational;
}

/** Scanlines per block: 1 uncompressed, 16 for ZIP (OpenEXR's ZIP_COMPRESSION). */
const LINES: Record<ExrCompression, number> = { none: 1, zip: 16 };
const COMPRESSION_CODE: Record<ExrCompression, number> = { none: 0, zip: 3 };

/** One EXR file holding `frame` (3 channels: R, G, B; 4: plus A). */
export function encodeExr(frame: AnyFrame, opts: ExrOptions): Buffer {
  const { width, height, channels } = frame;
  const toHalf = halfTable(opts.transfer, frame.depth === 16 ? 16 : 8);
  // Channel names sorted, as the format requires; `source` is the sample's offset in a pixel.
  const order = channels === 4 ? [{ name: 'A', source: 3 }, { name: 'B', source: 2 }, { name: 'G', source: 1 }, { name: 'R', source: 0 }] : [{ name: 'B', source: 2 }, { name: 'G', source: 1 }, { name: 'R', source: 0 }];
  // Alpha is coverage, never a colour: no curve. A linear plate's alpha goes back as it came.
  const alphaHalf = channels === 4 && opts.transfer !== 'linear' ? halfTable('linear-unit', frame.depth === 16 ? 16 : 8) : toHalf;

  const header = exrHeader(width, height, order.map((c) => c.name), opts);
  const lines = LINES[opts.compression];
  const blocks = Math.ceil(height / lines);
  const rowBytes = width * 2 * channels;
  const data = frame.data;
  const parts: Buffer[] = [];
  const raw = Buffer.alloc(rowBytes * lines);
  for (let b = 0; b < blocks; b++) {
    const y0 = b * lines;
    const n = Math.min(lines, height - y0);
    let o = 0;
    for (let y = y0; y < y0 + n; y++) {
      const row = y * width * channels;
      for (const c of order) {
        const table = c.name === 'A' ? alphaHalf : toHalf;
        for (let x = 0, p = row + c.source; x < width; x++, p += channels, o += 2) raw.writeUInt16LE(table[data[p]!]!, o);
      }
    }
    const body = opts.compression === 'zip' ? zipBlock(raw.subarray(0, o)) : Buffer.from(raw.subarray(0, o));
    const head = Buffer.alloc(8);
    head.writeInt32LE(y0, 0);
    head.writeInt32LE(body.length, 4);
    parts.push(head, body);
  }
  // The offset table: where each block starts, from the start of the file.
  const table = Buffer.alloc(8 * blocks);
  let at = header.length + table.length;
  for (let b = 0; b < blocks; b++) {
    table.writeBigUInt64LE(BigInt(at), b * 8);
    at += parts[2 * b]!.length + parts[2 * b + 1]!.length;
  }
  return Buffer.concat([header, table, ...parts]);
}

/**
 * ZIP_COMPRESSION's block transform: bytes split into even and odd halves, then a delta
 * predictor, then zlib. A block that would not shrink is stored as it is (readers tell by size).
 */
function zipBlock(raw: Buffer): Buffer {
  const n = raw.length;
  const t = Buffer.alloc(n);
  const half = (n + 1) >> 1;
  for (let i = 0, a = 0, b = half; i < n; i += 2) {
    t[a++] = raw[i]!;
    if (i + 1 < n) t[b++] = raw[i + 1]!;
  }
  let prev = t[0]!;
  for (let i = 1; i < n; i++) {
    const v = t[i]!;
    t[i] = (v - prev + 384) & 0xff;
    prev = v;
  }
  const z = deflateSync(t);
  return z.length < n ? z : Buffer.from(raw);
}

function exrHeader(width: number, height: number, names: string[], opts: ExrOptions): Buffer {
  const chlist = Buffer.concat([
    ...names.map((c) => {
      const b = Buffer.alloc(c.length + 1 + 16);
      b.write(`${c}\0`, 0, 'latin1');
      b.writeInt32LE(1, c.length + 1); // pixel type HALF; then pLinear and reserved bytes stay 0
      b.writeInt32LE(1, c.length + 9); // xSampling
      b.writeInt32LE(1, c.length + 13); // ySampling
      return b;
    }),
    Buffer.from([0]),
  ]);
  const box = Buffer.alloc(16);
  box.writeInt32LE(width - 1, 8);
  box.writeInt32LE(height - 1, 12);
  const f32 = (v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    return b;
  };
  const sar = opts.sar ? opts.sar.num / opts.sar.den : 1;
  return Buffer.concat([
    Buffer.from([0x76, 0x2f, 0x31, 0x01, 2, 0, 0, 0]), // magic, version 2, single-part scanline
    attr('channels', 'chlist', chlist),
    attr('compression', 'compression', Buffer.from([COMPRESSION_CODE[opts.compression]])),
    attr('dataWindow', 'box2i', box),
    attr('displayWindow', 'box2i', box),
    attr('lineOrder', 'lineOrder', Buffer.from([0])), // increasing y
    attr('pixelAspectRatio', 'float', f32(sar)),
    attr('screenWindowCenter', 'v2f', Buffer.alloc(8)),
    attr('screenWindowWidth', 'float', f32(1)),
    Buffer.from([0]),
  ]);
}

function attr(name: string, type: string, data: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32LE(data.length);
  return Buffer.concat([Buffer.from(`${name}\0${type}\0`, 'latin1'), size, data]);
}

// ---------------------------------------------------------------------------------------------
// Half floats

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float → IEEE half, round to nearest even; negatives and NaN clamp to 0, overflow to the largest finite half. */
export function toHalf(v: number): number {
  if (!(v > 0)) return 0;
  f32[0] = v;
  const bits = u32[0]!;
  const exp = ((bits >>> 23) & 0xff) - 127 + 15;
  const mant = bits & 0x7fffff;
  if (exp >= 31) return 0x7bff;
  if (exp <= 0) {
    // Subnormal half: the value in units of 2^-24, rounded to nearest even.
    if (exp < -10) return 0;
    const m = mant | 0x800000;
    const shift = 14 - exp;
    const q = m >>> shift;
    const rest = m - (q << shift);
    const halfway = 1 << (shift - 1);
    return rest > halfway || (rest === halfway && q & 1) ? q + 1 : q;
  }
  let h = (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // carries into the exponent correctly
  return Math.min(h, 0x7bff);
}

/** IEEE half → number. */
export function fromHalf(h: number): number {
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  const s = h & 0x8000 ? -1 : 1;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** ffmpeg 4.1's EXR decoder, half → 16-bit integer when no transfer curve is applied (exr_halflt2uint). */
export function ffmpegHalfToUint16(h: number): number {
  const exp = (14 - (h >>> 10)) >>> 0;
  if (exp >= 14) {
    if (exp === 14) return (h >>> 9) & 1;
    return h & 0x8000 ? 0 : 0xffff;
  }
  const v = (h << 6) & 0xffff;
  return (v + 0x10000) >>> (exp + 1);
}

/** sRGB (IEC 61966-2-1) encoded value in 0..1 → linear light. */
export function srgbToLinear(v: number): number {
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
}

/** Linear light → sRGB encoded value in 0..1 (clamped). */
export function linearToSrgb(l: number): number {
  if (!(l > 0)) return 0;
  if (l >= 1) return 1;
  return l <= 0.0031308 ? l * 12.92 : 1.055 * l ** (1 / 2.4) - 0.055;
}

const tables = new Map<string, Uint16Array>();

/** sample value → half bits, per transfer and depth (built once; 65,536 entries at most). */
function halfTable(transfer: ExrTransfer | 'linear-unit', depth: 8 | 16): Uint16Array {
  const key = `${transfer}/${depth}`;
  let t = tables.get(key);
  if (t) return t;
  const max = depth === 16 ? 65535 : 255;
  t = new Uint16Array(max + 1);
  if (transfer === 'linear' && depth === 16) {
    t.set(linearDecodeInverse());
  } else {
    for (let v = 0; v <= max; v++) t[v] = toHalf(transfer === 'srgb' ? srgbToLinear(v / max) : v / max);
  }
  tables.set(key, t);
  return t;
}

/**
 * For every 16-bit sample ffmpeg's EXR decode can give, the half it comes from (the smallest
 * half that decodes to it: several tiny halves share one sample). A sample no half decodes to
 * (only made by compositing) gets the half whose decode is nearest.
 */
export function linearDecodeInverse(): Uint16Array {
  const inv = new Uint16Array(65536);
  const has = new Uint8Array(65536);
  for (let h = 0x3c00; h >= 0; h--) {
    const u = ffmpegHalfToUint16(h);
    inv[u] = h;
    has[u] = 1;
  }
  // Fill gaps from the nearest decoded sample (below, then above when nearer).
  let below = -1;
  const next = new Int32Array(65536).fill(-1);
  for (let u = 65535, n = -1; u >= 0; u--) {
    if (has[u]) n = u;
    next[u] = n;
  }
  for (let u = 0; u < 65536; u++) {
    if (has[u]) {
      below = u;
      continue;
    }
    const above = next[u]!;
    const pick = above < 0 || (below >= 0 && u - below <= above - u) ? below : above;
    inv[u] = inv[pick]!;
  }
  return inv;
}
