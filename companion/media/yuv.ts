/**
 * Frames in a source's own Y'CbCr: planar, at its own chroma subsampling and bit depth, limited
 * ("tv") range. A fill or replace whose output stores the same Y'CbCr as its source (10-bit 4:2:2
 * ProRes to ProRes 422 HQ, 8-bit 4:2:0 H.264 to H.264, any of them to FFV1) travels in it from
 * decoder to encoder (jobs/resolve.ts pickYuv): no conversion to RGB and back, so every sample
 * outside the mask is the source's own code, and neither ffmpeg converts a whole frame.
 *
 * Only the mask's box is converted: to 8-bit RGB for the model (yuvToModelRgb), and the model's
 * picture back to codes where the mask is (compositeYuv).
 *
 * Why not RGB, even at 16 bits: through the 2018 ffmpeg, 10-bit 4:2:2 → 16-bit RGB → 10-bit 4:2:2
 * changes 82 % of the luma codes of a BT.709 test clip (65 % by more than 2; flat areas by 14–16
 * codes), where re-encoding the same codes to ProRes changes 3 % (bench/RESULTS.md).
 */
import type { Rect } from '../engine/image.ts';
import type { MaskAlpha } from '../masks/alpha.ts';
import type { Colour } from './colour.ts';
import type { Frame } from './frame.ts';
import { BufferPool } from './frame-pool.ts';

/** A planar limited-range Y'CbCr layout ffmpeg reads and writes as raw video. */
export interface YuvFormat {
  /** ffmpeg's name: yuv420p, yuv422p10le, ... */
  pixFmt: string;
  bits: 8 | 10 | 12;
  /** Chroma subsampling as shifts: 4:2:0 is (1, 1), 4:2:2 (1, 0), 4:4:4 (0, 0). */
  sx: 0 | 1;
  sy: 0 | 1;
}

/** One frame: the Y plane, then Cb, then Cr, each row-major without padding (ffmpeg's rawvideo layout). */
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
      ['yuv420p', 8, 1, 1],
      ['yuv422p', 8, 1, 0],
      ['yuv444p', 8, 0, 0],
      ['yuv420p10le', 10, 1, 1],
      ['yuv422p10le', 10, 1, 0],
      ['yuv444p10le', 10, 0, 0],
      ['yuv420p12le', 12, 1, 1],
      ['yuv422p12le', 12, 1, 0],
      ['yuv444p12le', 12, 0, 0],
    ] as const
  ).map(([pixFmt, bits, sx, sy]) => [pixFmt, { pixFmt, bits, sx, sy }]),
);

/** The layout of a planar Y'CbCr pixel format, or undefined for any other (RGB, alpha, packed, full-range yuvj). */
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

export function yuvSamples(width: number, height: number, f: YuvFormat): number {
  const c = chromaSize(width, height, f);
  return width * height + 2 * c.width * c.height;
}

export function yuvFrameBytes(width: number, height: number, f: YuvFormat): number {
  return yuvSamples(width, height, f) * (f.bits > 8 ? 2 : 1);
}

/** A frame whose memory is not zeroed (its own ArrayBuffer at offset 0), for a caller that fills every byte. */
export function uninitializedYuvFrame(width: number, height: number, format: YuvFormat): YuvFrame {
  const n = yuvSamples(width, height, format);
  const bytes = Buffer.allocUnsafeSlow(n * (format.bits > 8 ? 2 : 1)).buffer;
  return { width, height, format, data: format.bits > 8 ? new Uint16Array(bytes, 0, n) : new Uint8Array(bytes, 0, n) };
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
const toRgbCache = new Map<string, ToRgbTables>();

function toRgbTables(matrix: Colour['matrix'], bits: number): ToRgbTables {
  const key = `${matrix}/${bits}`;
  let t = toRgbCache.get(key);
  if (!t) {
    const [kr, kb] = WEIGHTS[matrix];
    const kg = 1 - kr - kb;
    const n = 1 << bits;
    const s = 1 << (bits - 8);
    t = { y: new Float32Array(n), crR: new Float32Array(n), cbB: new Float32Array(n), crG: new Float32Array(n), cbG: new Float32Array(n) };
    for (let c = 0; c < n; c++) {
      // +0.5: the values are floored later, so this rounds to nearest.
      t.y[c] = (255 * (c / s - 16)) / 219 + 0.5;
      const ch = (255 * (c / s - 128)) / 224;
      t.crR[c] = 2 * (1 - kr) * ch;
      t.cbB[c] = 2 * (1 - kb) * ch;
      t.crG[c] = (-2 * (1 - kr) * kr * ch) / kg;
      t.cbG[c] = (-2 * (1 - kb) * kb * ch) / kg;
    }
    toRgbCache.set(key, t);
  }
  return t;
}

const clamp8 = (v: number): number => (v <= 0 ? 0 : v >= 255 ? 255 : v | 0);

/**
 * `region` of `f` as the model sees it: 8-bit RGB through `matrix`, each pixel taking the chroma
 * sample it sits on. `into`: region.width·region.height·3 bytes to write into (reused across frames).
 */
export function yuvToModelRgb(f: YuvFrame, region: Rect, matrix: Colour['matrix'], into?: Uint8Array): Frame {
  const { sx, sy, bits } = f.format;
  const t = toRgbTables(matrix, bits);
  const cw = chromaSize(f.width, f.height, f.format).width;
  const cbAt = f.width * f.height;
  const crAt = cbAt + cw * ((f.height + sy) >> sy);
  const d = f.data;
  const out = into ?? new Uint8Array(region.width * region.height * 3);
  let o = 0;
  for (let y = region.y; y < region.y + region.height; y++) {
    const row = y * f.width;
    const crow = (y >> sy) * cw;
    for (let x = region.x; x < region.x + region.width; x++) {
      const Y = t.y[d[row + x]!]!;
      const c = crow + (x >> sx);
      const cb = d[cbAt + c]!;
      const cr = d[crAt + c]!;
      out[o++] = clamp8(Y + t.crR[cr]!);
      out[o++] = clamp8(Y + t.crG[cr]! + t.cbG[cb]!);
      out[o++] = clamp8(Y + t.cbB[cb]!);
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
const toCodeCache = new Map<string, ToCodeTables>();

function toCodeTables(matrix: Colour['matrix'], bits: number): ToCodeTables {
  const key = `${matrix}/${bits}`;
  let t = toCodeCache.get(key);
  if (!t) {
    const [kr, kb] = WEIGHTS[matrix];
    const kg = 1 - kr - kb;
    const s = 1 << (bits - 8);
    const table = (k: number) => Float32Array.from({ length: 256 }, (_, v) => (k * s * v) / 255);
    t = {
      yr: table(219 * kr),
      yg: table(219 * kg),
      yb: table(219 * kb),
      cbr: table((-112 * kr) / (1 - kb)),
      cbg: table((-112 * kg) / (1 - kb)),
      half: table(112),
      crg: table((-112 * kg) / (1 - kr)),
      crb: table((-112 * kb) / (1 - kr)),
    };
    toCodeCache.set(key, t);
  }
  return t;
}

/**
 * The composite in the source's Y'CbCr, written into `dst`: the model's 8-bit RGB picture `gen`
 * (covering `at`) is converted to codes and blended by the mask, out = src·(1 − a) + gen·a, over
 * the mask's box only. Luma per pixel; each chroma sample by the mean over the pixels it covers
 * (so a sample half under a hard mask edge moves halfway). Every luma code whose pixel has a = 0,
 * and every chroma code none of whose pixels is masked, is the source's, untouched.
 */
export function compositeYuv(dst: YuvFrame, gen: Frame, at: Rect, mask: MaskAlpha, matrix: Colour['matrix']): YuvFrame {
  const b = mask.bounds;
  if (!b) return dst;
  const x0 = Math.max(b.x, at.x);
  const y0 = Math.max(b.y, at.y);
  const x1 = Math.min(b.x + b.width, at.x + at.width);
  const y1 = Math.min(b.y + b.height, at.y + at.height);
  if (x1 <= x0 || y1 <= y0) return dst;
  const { sx, sy, bits } = dst.format;
  const t = toCodeTables(matrix, bits);
  const s = 1 << (bits - 8);
  const max = (1 << bits) - 1;
  const round = (v: number) => (v <= 0 ? 0 : v >= max ? max : Math.round(v));
  const alpha = mask.alpha;
  const W = dst.width;
  const d = dst.data;
  const gd = gen.data;
  const gch = gen.channels;
  const g = (x: number, y: number) => ((y - at.y) * gen.width + (x - at.x)) * gch;

  // Luma, pixel by pixel.
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const a = alpha[y * W + x]!;
      if (a === 0) continue;
      const p = g(x, y);
      const code = 16 * s + t.yr[gd[p]!]! + t.yg[gd[p + 1]!]! + t.yb[gd[p + 2]!]!;
      const i = y * W + x;
      d[i] = a === 1 ? round(code) : round(d[i]! + (code - d[i]!) * a);
    }
  }

  // Chroma, sample by sample over the samples the box touches.
  const cs = chromaSize(W, dst.height, dst.format);
  const cbAt = W * dst.height;
  const crAt = cbAt + cs.width * cs.height;
  const n = (1 << sx) * (1 << sy); // pixels a sample covers (fewer at an odd edge: those count as unmasked)
  for (let cy = y0 >> sy; cy <= (y1 - 1) >> sy; cy++) {
    for (let cx = x0 >> sx; cx <= (x1 - 1) >> sx; cx++) {
      let sumA = 0;
      let sumCb = 0;
      let sumCr = 0;
      for (let y = Math.max(cy << sy, y0); y < Math.min((cy + 1) << sy, y1); y++) {
        for (let x = Math.max(cx << sx, x0); x < Math.min((cx + 1) << sx, x1); x++) {
          const a = alpha[y * W + x]!;
          if (a === 0) continue;
          const p = g(x, y);
          const r = gd[p]!;
          const gg = gd[p + 1]!;
          const bb = gd[p + 2]!;
          sumA += a;
          sumCb += a * (128 * s + t.cbr[r]! + t.cbg[gg]! + t.half[bb]!);
          sumCr += a * (128 * s + t.half[r]! + t.crg[gg]! + t.crb[bb]!);
        }
      }
      if (sumA === 0) continue;
      const c = cy * cs.width + cx;
      const keep = 1 - sumA / n;
      d[cbAt + c] = round(d[cbAt + c]! * keep + sumCb / n);
      d[crAt + c] = round(d[crAt + c]! * keep + sumCr / n);
    }
  }
  return dst;
}
