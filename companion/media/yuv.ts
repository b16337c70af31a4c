/**
 * Frames in Y'CbCr: planar, at a chroma subsampling and bit depth, limited ("tv") range. A fill or
 * replace of a Y'CbCr source into a Y'CbCr output (10-bit 4:2:2 ProRes to ProRes 422 HQ, 8-bit
 * 4:2:0 H.264 to H.264 or ProRes, any of them to FFV1) travels in the format the output stores,
 * from decoder to encoder (jobs/resolve.ts pickYuv): no conversion to RGB and back, so every
 * sample outside the mask is the source's own code (or, when the formats differ, ffmpeg's plain
 * conversion of it), and neither ffmpeg converts a whole frame to RGB.
 *
 * Only the mask's box is converted: to 8-bit RGB for the model (yuvToModelRgb), and the model's
 * picture back to codes where the mask is (compositeYuv).
 *
 * Why not RGB, even at 16 bits: 10-bit 4:2:2 → 16-bit RGB → 10-bit 4:2:2 is not the identity.
 * At colour edges 4:2:2 chroma is interpolated to full RGB and decimated again (on a BT.709 test
 * clip made from RGB, 2.7 % of luma and 6.8 % of chroma codes move, by up to 56 and 111), and a
 * colour outside RGB's gamut, legal in Y'CbCr (super-white, very saturated), is clipped for good
 * (bench/RESULTS.md, 2026-11-30 session 7).
 */
import { intersectRect, type Rect } from '../engine/image.ts';
import type { MaskAlpha } from '../masks/alpha.ts';
import type { AlphaInside } from '../masks/composite.ts';
import type { Colour } from './colour.ts';
import type { Frame } from './frame.ts';
import { BufferPool, uninitializedSamples } from './frame-pool.ts';

/** A planar limited-range Y'CbCr layout ffmpeg reads and writes as raw video. */
export interface YuvFormat {
  /** ffmpeg's name: yuv420p, yuv422p10le, ... */
  pixFmt: string;
  bits: 8 | 10 | 12;
  /** Chroma subsampling as shifts: 4:2:0 is (1, 1), 4:2:2 (1, 0), 4:4:4 (0, 0). */
  sx: 0 | 1;
  sy: 0 | 1;
  /** A fourth, full-size plane of alpha codes (yuva formats: ProRes 4444 with alpha). */
  alpha: boolean;
}

/** One frame: the Y plane, then Cb, then Cr (then A), each row-major without padding (ffmpeg's rawvideo layout). */
export interface YuvFrame {
  width: number;
  height: number;
  format: YuvFormat;
  /** 8-bit formats: bytes; deeper: 16-bit words holding the codes (little-endian, as ffmpeg's "le" formats). */
  data: Uint8Array | Uint16Array;
}

const FORMATS: Record<string, YuvFormat> = Object.fromEntries(
  (
    [
      ['yuv420p', 8, 1, 1, false],
      ['yuv422p', 8, 1, 0, false],
      ['yuv444p', 8, 0, 0, false],
      ['yuv420p10le', 10, 1, 1, false],
      ['yuv422p10le', 10, 1, 0, false],
      ['yuv444p10le', 10, 0, 0, false],
      ['yuv420p12le', 12, 1, 1, false],
      ['yuv422p12le', 12, 1, 0, false],
      ['yuv444p12le', 12, 0, 0, false],
      ['yuva444p10le', 10, 0, 0, true],
      ['yuva444p12le', 12, 0, 0, true],
    ] as const
  ).map(([pixFmt, bits, sx, sy, alpha]) => [pixFmt, { pixFmt, bits, sx, sy, alpha }]),
);

/** The layout of a planar Y'CbCr pixel format (with or without alpha), or undefined for any other (RGB, packed, full-range yuvj). */
export function yuvFormat(pixFmt: string): YuvFormat | undefined {
  return FORMATS[pixFmt];
}

export function isYuvFrame(f: object): f is YuvFrame {
  return 'format' in f;
}

/** Samples per chroma plane row and rows per chroma plane (odd sizes round up, as ffmpeg's). */
export function chromaSize(width: number, height: number, f: YuvFormat): { width: number; height: number } {
  return { width: (width + f.sx) >> f.sx, height: (height + f.sy) >> f.sy };
}

/** Where each plane starts, in samples: Y at 0, then Cb, Cr and (yuva) A; `end` is the frame's length. */
export function planeOffsets(width: number, height: number, f: YuvFormat): { cb: number; cr: number; alpha: number; end: number } {
  const c = chromaSize(width, height, f);
  const cb = width * height;
  const cr = cb + c.width * c.height;
  const alpha = cr + c.width * c.height;
  return { cb, cr, alpha, end: f.alpha ? alpha + width * height : alpha };
}

export function yuvSamples(width: number, height: number, f: YuvFormat): number {
  return planeOffsets(width, height, f).end;
}

export function yuvFrameBytes(width: number, height: number, f: YuvFormat): number {
  return yuvSamples(width, height, f) * (f.bits > 8 ? 2 : 1);
}

/** A frame whose memory is not zeroed (its own ArrayBuffer at offset 0), for a caller that fills every byte. */
export function uninitializedYuvFrame(width: number, height: number, format: YuvFormat): YuvFrame {
  return { width, height, format, data: uninitializedSamples(yuvSamples(width, height, format), format.bits > 8 ? 16 : 8) };
}

/** Reused frames of one size and format (frame-pool.ts), for the decoder to fill and the render loop to release. */
export function yuvFramePool(width: number, height: number, format: YuvFormat, keep?: number): BufferPool<YuvFrame> {
  return new BufferPool(
    () => uninitializedYuvFrame(width, height, format),
    (f) => f.width === width && f.height === height && f.format.pixFmt === format.pixFmt,
    keep,
  );
}

/** Luma weights of each matrix (Kr, Kb; Kg = 1 − Kr − Kb), as swscale's tables. */
const WEIGHTS: Record<Colour['matrix'], [number, number]> = {
  bt709: [0.2126, 0.0722],
  bt601: [0.299, 0.114],
  bt2020: [0.2627, 0.0593],
  smpte240m: [0.212, 0.087],
  fcc: [0.3, 0.11],
};

/** Code → 8-bit RGB contributions, per matrix and depth (2^bits entries each). */
interface ToRgbTables {
  y: Float32Array;
  crR: Float32Array;
  cbB: Float32Array;
  crG: Float32Array;
  cbG: Float32Array;
}

/** Tables made once per matrix and depth. */
const tables = new Map<string, unknown>();
function memo<T>(kind: string, matrix: Colour['matrix'], bits: number, make: () => T): T {
  const key = `${kind}/${matrix}/${bits}`;
  if (!tables.has(key)) tables.set(key, make());
  return tables.get(key) as T;
}

function toRgbTables(matrix: Colour['matrix'], bits: number): ToRgbTables {
  return memo('rgb', matrix, bits, () => {
    const [kr, kb] = WEIGHTS[matrix];
    const kg = 1 - kr - kb;
    const n = 1 << bits;
    const s = 1 << (bits - 8);
    const t = { y: new Float32Array(n), crR: new Float32Array(n), cbB: new Float32Array(n), crG: new Float32Array(n), cbG: new Float32Array(n) };
    for (let c = 0; c < n; c++) {
      t.y[c] = (255 * (c / s - 16)) / 219;
      const ch = (255 * (c / s - 128)) / 224;
      t.crR[c] = 2 * (1 - kr) * ch;
      t.cbB[c] = 2 * (1 - kb) * ch;
      t.crG[c] = (-2 * (1 - kr) * kr * ch) / kg;
      t.cbG[c] = (-2 * (1 - kb) * kb * ch) / kg;
    }
    return t;
  });
}

/**
 * `region` of `f` as the model sees it: 8-bit RGB through `matrix`, each pixel taking the chroma
 * sample it sits on. `into`: region.width·region.height·3 bytes to write into (reused across frames).
 */
export function yuvToModelRgb(f: YuvFrame, region: Rect, matrix: Colour['matrix'], into?: Uint8Array): Frame {
  const { sx, sy, bits } = f.format;
  const t = toRgbTables(matrix, bits);
  const cw = chromaSize(f.width, f.height, f.format).width;
  const { cb: cbAt, cr: crAt } = planeOffsets(f.width, f.height, f.format);
  const d = f.data;
  const out = into ?? new Uint8Array(region.width * region.height * 3);
  // A clamped view rounds and clips each float as it is stored.
  const o8 = new Uint8ClampedArray(out.buffer, out.byteOffset, out.length);
  const { y: ty, crR, crG, cbG, cbB } = t;
  let o = 0;
  for (let y = region.y; y < region.y + region.height; y++) {
    const row = y * f.width;
    const crow = (y >> sy) * cw;
    for (let x = region.x, xEnd = region.x + region.width; x < xEnd; x++) {
      const c = crow + (x >> sx);
      const cb = d[cbAt + c]!;
      const cr = d[crAt + c]!;
      const Y = ty[d[row + x]!]!;
      o8[o] = Y + crR[cr]!;
      o8[o + 1] = Y + crG[cr]! + cbG[cb]!;
      o8[o + 2] = Y + cbB[cb]!;
      o += 3;
    }
  }
  return { width: region.width, height: region.height, channels: 3, data: out };
}

/** 8-bit level → code contributions (Y, Cb, Cr from R, G, B), per matrix and depth. */
interface ToCodeTables {
  yr: Float32Array;
  yg: Float32Array;
  yb: Float32Array;
  cbr: Float32Array;
  cbg: Float32Array;
  /** Cb's blue term and Cr's red term are the same: 112·s·v/255. */
  half: Float32Array;
  crg: Float32Array;
  crb: Float32Array;
}

function toCodeTables(matrix: Colour['matrix'], bits: number): ToCodeTables {
  return memo('code', matrix, bits, () => {
    const [kr, kb] = WEIGHTS[matrix];
    const kg = 1 - kr - kb;
    const s = 1 << (bits - 8);
    const table = (k: number, offset = 0) => Float32Array.from({ length: 256 }, (_, v) => offset + (k * s * v) / 255);
    // The constant offsets (16 and 128, scaled) ride on one table of each sum (Cr's on crg: half is shared).
    return {
      yr: table(219 * kr, 16 * s),
      yg: table(219 * kg),
      yb: table(219 * kb),
      cbr: table((-112 * kr) / (1 - kb), 128 * s),
      cbg: table((-112 * kg) / (1 - kb)),
      half: table(112),
      crg: table((-112 * kg) / (1 - kr), 128 * s),
      crb: table((-112 * kb) / (1 - kr)),
    };
  });
}

/** Per chroma sample of the box: the mask's sum and the alpha-weighted sums of the model's Cb and Cr (reused between calls). */
let sums = new Float64Array(0);

/**
 * The composite in the source's Y'CbCr, written into `dst`: the model's 8-bit RGB picture `gen`
 * (covering `at`) is converted to codes and blended by the mask, out = src·(1 − a) + gen·a, over
 * the mask's box only. Luma per pixel; each chroma sample by the mean over the pixels it covers
 * (so a sample half under a hard mask edge moves halfway). A frame with alpha takes the
 * generated pixels opaque (blended by the mask), or keeps its own alpha there with `alphaInside`
 * 'source', as the RGB composite does. Every luma and alpha code whose pixel has a = 0, and every
 * chroma code none of whose pixels is masked, is the source's, untouched.
 */
export function compositeYuv(dst: YuvFrame, gen: Frame, at: Rect, mask: MaskAlpha, matrix: Colour['matrix'], alphaInside: AlphaInside = 'opaque'): YuvFrame {
  const box = mask.bounds && intersectRect(mask.bounds, at);
  if (!box) return dst;
  const { x: x0, y: y0 } = box;
  const x1 = x0 + box.width;
  const y1 = y0 + box.height;
  const { sx, sy, bits } = dst.format;
  const { yr, yg, yb, cbr, cbg, half, crg, crb } = toCodeTables(matrix, bits);
  const max = (1 << bits) - 1;
  const alpha = mask.alpha;
  const W = dst.width;
  const d = dst.data;
  const gd = gen.data;
  const gch = gen.channels;
  // The chroma samples the box touches, and their sums.
  const cx0 = x0 >> sx;
  const cy0 = y0 >> sy;
  const cbw = ((x1 - 1) >> sx) - cx0 + 1;
  const cbh = ((y1 - 1) >> sy) - cy0 + 1;
  if (sums.length < cbw * cbh * 3) sums = new Float64Array(Math.ceil(cbw * cbh * 3 * 1.25));
  sums.fill(0, 0, cbw * cbh * 3);

  const cs = chromaSize(W, dst.height, dst.format);
  const { cb: cbAt, cr: crAt, alpha: alphaAt } = planeOffsets(W, dst.height, dst.format);
  const opaque = dst.format.alpha && alphaInside === 'opaque';

  // One pass over the box: luma (and alpha) blended pixel by pixel, chroma summed per sample.
  for (let y = y0; y < y1; y++) {
    const row = y * W;
    let g = ((y - at.y) * gen.width + (x0 - at.x)) * gch;
    const srow = ((y >> sy) - cy0) * cbw;
    for (let x = x0; x < x1; x++, g += gch) {
      const a = alpha[row + x]!;
      if (a === 0) continue;
      const r = gd[g]!;
      const gg = gd[g + 1]!;
      const bb = gd[g + 2]!;
      const code = yr[r]! + yg[gg]! + yb[bb]!;
      const i = row + x;
      const v = a === 1 ? code : d[i]! + (code - d[i]!) * a;
      d[i] = v <= 0 ? 0 : v >= max ? max : Math.round(v);
      if (opaque) d[alphaAt + i] = a === 1 ? max : Math.round(d[alphaAt + i]! + (max - d[alphaAt + i]!) * a);
      const k = (srow + (x >> sx) - cx0) * 3;
      sums[k] += a;
      sums[k + 1] += a * (cbr[r]! + cbg[gg]! + half[bb]!);
      sums[k + 2] += a * (half[r]! + crg[gg]! + crb[bb]!);
    }
  }

  // Then each chroma sample with any mask: out = src·(1 − Σa/n) + Σ(a·gen)/n over its n pixels
  // (pixels past an odd edge count as unmasked).
  const n = (1 << sx) * (1 << sy);
  for (let cy = 0; cy < cbh; cy++) {
    for (let cx = 0; cx < cbw; cx++) {
      const k = (cy * cbw + cx) * 3;
      const sumA = sums[k]!;
      if (sumA === 0) continue;
      const c = (cy + cy0) * cs.width + cx + cx0;
      const keep = 1 - sumA / n;
      const cb = d[cbAt + c]! * keep + sums[k + 1]! / n;
      const cr = d[crAt + c]! * keep + sums[k + 2]! / n;
      d[cbAt + c] = cb <= 0 ? 0 : cb >= max ? max : Math.round(cb);
      d[crAt + c] = cr <= 0 ? 0 : cr >= max ? max : Math.round(cr);
    }
  }
  return dst;
}
