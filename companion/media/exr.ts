/**
 * OpenEXR images written in TypeScript: the bundled ffmpeg (4.1) reads EXR but has no encoder.
 * Scanline files, half-float R, G, B (and A) (FLOAT when a FLOAT plate goes back), uncompressed or ZIP (16 lines a block, zlib from
 * node:zlib), laid out as the OpenEXR "file layout" document describes: magic and version,
 * header attributes, the offset table, then the blocks (y, byte count, each channel's row in
 * channel-name order: A, B, G, R). Files are read back by exrRead.ts.
 *
 * Frames reach this writer in one of two meanings (ExrTransfer):
 *  - 'half': 16-bit words that ARE half-float bits of linear light, as an EXR plate travels when
 *    it is written back to EXR (exrPlate.ts). They are written as they are, so every sample the
 *    job did not touch is the plate's own, above 1.0, negative, NaN or Inf alike.
 *  - 'srgb': display-referred 8- or 16-bit samples (any other source, and frames the model
 *    made); they are linearized with the sRGB curve (IEC 61966-2-1), the curve EXR plates are
 *    viewed through for the model, and rounded to the nearest half.
 */
import { deflateSync } from 'node:zlib';
import type { Rational } from '../../protocol/rational.ts';
import type { ExrBox } from './exrRead.ts';
import type { AnyFrame } from './frame.ts';

export type ExrCompression = 'none' | 'zip';
export type ExrTransfer = 'half' | 'srgb';

export interface ExrOptions {
  compression: ExrCompression;
  transfer: ExrTransfer;
  /** Pixel aspect stored in the header (pixelAspectRatio); default square. */
  sar?: Rational;
  /**
   * Where the frame's pixels lie (data) and the picture they belong to (display), e.g. a plate's
   * overscan; the frame must be the data window's size. Default: both are the frame, at 0,0.
   */
  windows?: { data: ExrBox; display: ExrBox };
  /**
   * Write FLOAT channels holding these IEEE single bits (laid out as the frame's samples) instead
   * of HALF ones from the frame: a FLOAT plate written back without rounding (encode.ts).
   */
  floatBits?: Uint32Array;
}

/** Scanlines per block: 1 uncompressed, 16 for ZIP (OpenEXR's ZIP_COMPRESSION). */
const LINES: Record<ExrCompression, number> = { none: 1, zip: 16 };
const COMPRESSION_CODE: Record<ExrCompression, number> = { none: 0, zip: 3 };

/** One EXR file holding `frame` (3 channels: R, G, B; 4: plus A). */
export function encodeExr(frame: AnyFrame, opts: ExrOptions): Buffer {
  const { width, height, channels } = frame;
  const asIs = opts.transfer === 'half';
  if (asIs && frame.depth !== 16) throw new Error('EXR transfer "half" takes 16-bit frames of half bits');
  const toHalf = asIs ? undefined : halfTable('srgb', frame.depth === 16 ? 16 : 8);
  // Channel names sorted, as the format requires; `source` is the sample's offset in a pixel.
  const order = channels === 4 ? [{ name: 'A', source: 3 }, { name: 'B', source: 2 }, { name: 'G', source: 1 }, { name: 'R', source: 0 }] : [{ name: 'B', source: 2 }, { name: 'G', source: 1 }, { name: 'R', source: 0 }];
  // Alpha is coverage, never a colour: no curve.
  const alphaHalf = asIs ? undefined : halfTable('linear-unit', frame.depth === 16 ? 16 : 8);

  const windows = opts.windows ?? { data: { x: 0, y: 0, width, height }, display: { x: 0, y: 0, width, height } };
  if (windows.data.width !== width || windows.data.height !== height) {
    throw new Error(`EXR frame is ${width}x${height} but its data window is ${windows.data.width}x${windows.data.height}`);
  }
  const floatBits = opts.floatBits;
  if (floatBits && floatBits.length !== frame.data.length) throw new Error(`EXR float samples: ${floatBits.length}, frame samples: ${frame.data.length}`);
  const header = exrHeader(windows, order.map((c) => c.name), opts);
  const lines = LINES[opts.compression];
  const blocks = Math.ceil(height / lines);
  const rowBytes = width * (floatBits ? 4 : 2) * channels;
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
        if (floatBits) for (let x = 0, p = row + c.source; x < width; x++, p += channels, o += 4) raw.writeUInt32LE(floatBits[p]!, o);
        else if (table) for (let x = 0, p = row + c.source; x < width; x++, p += channels, o += 2) raw.writeUInt16LE(table[data[p]!]!, o);
        else for (let x = 0, p = row + c.source; x < width; x++, p += channels, o += 2) raw.writeUInt16LE(data[p]!, o);
      }
    }
    const body = opts.compression === 'zip' ? zipBlock(raw.subarray(0, o)) : Buffer.from(raw.subarray(0, o));
    const head = Buffer.alloc(8);
    head.writeInt32LE(windows.data.y + y0, 0); // blocks name their first line in EXR coordinates
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

function exrHeader(windows: { data: ExrBox; display: ExrBox }, names: string[], opts: ExrOptions): Buffer {
  const chlist = Buffer.concat([
    ...names.map((c) => {
      const b = Buffer.alloc(c.length + 1 + 16);
      b.write(`${c}\0`, 0, 'latin1');
      b.writeInt32LE(opts.floatBits ? 2 : 1, c.length + 1); // pixel type FLOAT or HALF; then pLinear and reserved bytes stay 0
      b.writeInt32LE(1, c.length + 9); // xSampling
      b.writeInt32LE(1, c.length + 13); // ySampling
      return b;
    }),
    Buffer.from([0]),
  ]);
  const box2i = (b: ExrBox): Buffer => {
    const out = Buffer.alloc(16);
    out.writeInt32LE(b.x, 0);
    out.writeInt32LE(b.y, 4);
    out.writeInt32LE(b.x + b.width - 1, 8);
    out.writeInt32LE(b.y + b.height - 1, 12);
    return out;
  };
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
    attr('dataWindow', 'box2i', box2i(windows.data)),
    attr('displayWindow', 'box2i', box2i(windows.display)),
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

/**
 * float → IEEE half, round to nearest even, sign kept (negatives stay negative); NaN stays NaN
 * and ±Infinity stays infinite, finite values beyond the half range saturate at ±65504.
 */
export function toHalf(v: number): number {
  f32[0] = v;
  return floatBitsToHalf(u32[0]!);
}

/** The bits of an IEEE float (a FLOAT EXR sample) → the nearest half's bits, as toHalf. */
export function floatBitsToHalf(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const e32 = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (e32 === 0xff) return sign | (mant ? 0x7e00 : 0x7c00);
  const exp = e32 - 127 + 15;
  if (exp >= 31) return sign | 0x7bff;
  if (exp <= 0) {
    // Subnormal half: the value in units of 2^-24, rounded to nearest even.
    if (exp < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - exp;
    const q = m >>> shift;
    const rest = m - (q << shift);
    const halfway = 1 << (shift - 1);
    return sign | (rest > halfway || (rest === halfway && q & 1) ? q + 1 : q);
  }
  let h = (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // carries into the exponent correctly
  return sign | Math.min(h, 0x7bff);
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

let halfValue: Float32Array | undefined;

/** Half bits → their value (every half is exact in float32): a lookup instead of arithmetic per sample (built once, 256 KiB). */
export function halfToFloatTable(): Float32Array {
  if (!halfValue) {
    halfValue = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfValue[h] = fromHalf(h);
  }
  return halfValue;
}

/** Half bits → the IEEE single bits of the same value (a NaN becomes the canonical quiet NaN). */
export function halfToFloatBitsTable(): Uint32Array {
  return new Uint32Array(halfToFloatTable().buffer);
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
function halfTable(transfer: 'srgb' | 'linear-unit', depth: 8 | 16): Uint16Array {
  const key = `${transfer}/${depth}`;
  let t = tables.get(key);
  if (t) return t;
  const max = depth === 16 ? 65535 : 255;
  t = new Uint16Array(max + 1);
  for (let v = 0; v <= max; v++) t[v] = toHalf(transfer === 'srgb' ? srgbToLinear(v / max) : v / max);
  tables.set(key, t);
  return t;
}
