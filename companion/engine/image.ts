/**
 * Pixel operations the pipeline needs between media and model: crop, resample to the working
 * size and back, and the final composite. Deterministic integer-exact code paths: the same
 * inputs give the same bytes on every machine.
 */
import type { Frame } from '../media/frame.ts';

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function crop(f: Frame, r: Rect): Frame {
  if (r.x === 0 && r.y === 0 && r.width === f.width && r.height === f.height) return f;
  const ch = f.channels;
  const data = new Uint8Array(r.width * r.height * ch);
  for (let y = 0; y < r.height; y++) {
    const src = ((r.y + y) * f.width + r.x) * ch;
    data.set(f.data.subarray(src, src + r.width * ch), y * r.width * ch);
  }
  return { width: r.width, height: r.height, channels: ch, data };
}

/**
 * Resample to width × height: area averaging when shrinking (no aliasing of fine detail into
 * the model's input), bilinear when enlarging. Output is RGB.
 */
export function resize(f: Frame, width: number, height: number): Frame {
  if (f.width === width && f.height === height && f.channels === 3) return f;
  return width <= f.width && height <= f.height ? areaDown(f, width, height) : bilinear(f, width, height);
}

function areaDown(f: Frame, width: number, height: number): Frame {
  const ch = f.channels;
  const out = new Uint8Array(width * height * 3);
  const sx = f.width / width;
  const sy = f.height / height;
  const acc = new Float64Array(3);
  for (let y = 0; y < height; y++) {
    const y0 = y * sy;
    const y1 = y0 + sy;
    for (let x = 0; x < width; x++) {
      const x0 = x * sx;
      const x1 = x0 + sx;
      acc.fill(0);
      let total = 0;
      // min(): (n − 1)·s + s can round a hair past the edge (59 → 56 px), which read past the
      // last row and turned it black.
      for (let yy = Math.floor(y0); yy < Math.min(f.height, Math.ceil(y1)); yy++) {
        const wy = Math.min(y1, yy + 1) - Math.max(y0, yy);
        for (let xx = Math.floor(x0); xx < Math.min(f.width, Math.ceil(x1)); xx++) {
          const w = wy * (Math.min(x1, xx + 1) - Math.max(x0, xx));
          const p = (yy * f.width + xx) * ch;
          acc[0]! += w * f.data[p]!;
          acc[1]! += w * f.data[p + 1]!;
          acc[2]! += w * f.data[p + 2]!;
          total += w;
        }
      }
      const o = (y * width + x) * 3;
      for (let c = 0; c < 3; c++) out[o + c] = Math.round(acc[c]! / total);
    }
  }
  return { width, height, channels: 3, data: out };
}

/** Weights in 11-bit fixed point: integer arithmetic, exact rounding, no float per sample. */
const W_BITS = 11;
const W_ONE = 1 << W_BITS;
const SHIFT = 2 * W_BITS;

function bilinear(f: Frame, width: number, height: number): Frame {
  const ch = f.channels;
  const out = new Uint8Array(width * height * 3);
  // Column taps and weights are the same for every row: compute them once.
  const x0s = new Int32Array(width);
  const x1s = new Int32Array(width);
  const txs = new Int32Array(width);
  const sx = f.width / width;
  for (let x = 0; x < width; x++) {
    const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), f.width - 1);
    const x0 = Math.floor(fx);
    x0s[x] = x0 * ch;
    x1s[x] = Math.min(x0 + 1, f.width - 1) * ch;
    txs[x] = Math.round((fx - x0) * W_ONE);
  }
  const sy = f.height / height;
  const d = f.data;
  const half = 1 << (2 * W_BITS - 1);
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), f.height - 1);
    const y0 = Math.floor(fy);
    const ty = Math.round((fy - y0) * W_ONE);
    const r0 = y0 * f.width * ch;
    const r1 = Math.min(y0 + 1, f.height - 1) * f.width * ch;
    let o = y * width * 3;
    for (let x = 0; x < width; x++) {
      const a = r0 + x0s[x]!;
      const b = r0 + x1s[x]!;
      const c = r1 + x0s[x]!;
      const e = r1 + x1s[x]!;
      const tx = txs[x]!;
      const ux = W_ONE - tx;
      const uy = W_ONE - ty;
      // Unrolled over R, G, B: this loop runs for every output pixel.
      out[o++] = ((d[a]! * ux + d[b]! * tx) * uy + (d[c]! * ux + d[e]! * tx) * ty + half) >> SHIFT;
      out[o++] = ((d[a + 1]! * ux + d[b + 1]! * tx) * uy + (d[c + 1]! * ux + d[e + 1]! * tx) * ty + half) >> SHIFT;
      out[o++] = ((d[a + 2]! * ux + d[b + 2]! * tx) * uy + (d[c + 2]! * ux + d[e + 2]! * tx) * ty + half) >> SHIFT;
    }
  }
  return { width, height, channels: 3, data: out };
}

/** Resample a mask (alpha per pixel) by taking the maximum over each target cell: no pixel that
 * must be generated is lost when shrinking. */
export function maskDown(alpha: Float32Array, w: number, h: number, r: Rect, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  const sx = r.width / width;
  const sy = r.height / height;
  for (let y = 0; y < height; y++) {
    const yA = r.y + Math.floor(y * sy);
    const yB = Math.min(r.y + Math.ceil((y + 1) * sy), h);
    for (let x = 0; x < width; x++) {
      const xA = r.x + Math.floor(x * sx);
      const xB = Math.min(r.x + Math.ceil((x + 1) * sx), w);
      let m = 0;
      for (let yy = yA; yy < yB; yy++) for (let xx = xA; xx < xB; xx++) m = Math.max(m, alpha[yy * w + xx]!);
      out[y * width + x] = m;
    }
  }
  return out;
}

/**
 * The composite editors check: out = src·(1 − a) + gen·a per pixel, with `gen` covering the
 * rectangle `at` of the source. Where a = 0 the output IS the source byte (copied, never
 * recomputed), so untouched pixels are bit-exact whatever the model did.
 */
export function composite(src: Frame, gen: Frame, at: Rect, alpha: Float32Array): Frame {
  const out = src.channels === 3 ? src.data.slice() : toRgb(src.data);
  const gch = gen.channels;
  for (let y = 0; y < at.height; y++) {
    const row = (at.y + y) * src.width + at.x;
    for (let x = 0; x < at.width; x++) {
      const a = alpha[row + x]!;
      if (a === 0) continue;
      const o = (row + x) * 3;
      const g = (y * gen.width + x) * gch;
      if (a === 1) {
        out[o] = gen.data[g]!;
        out[o + 1] = gen.data[g + 1]!;
        out[o + 2] = gen.data[g + 2]!;
      } else {
        for (let c = 0; c < 3; c++) out[o + c] = Math.round(out[o + c]! + (gen.data[g + c]! - out[o + c]!) * a);
      }
    }
  }
  return { width: src.width, height: src.height, channels: 3, data: out };
}

function toRgb(rgba: Uint8Array): Uint8Array {
  const n = rgba.length / 4;
  const out = new Uint8Array(n * 3);
  for (let p = 0; p < n; p++) {
    out[p * 3] = rgba[p * 4]!;
    out[p * 3 + 1] = rgba[p * 4 + 1]!;
    out[p * 3 + 2] = rgba[p * 4 + 2]!;
  }
  return out;
}

/**
 * The authors' blur of a conditioning frame (torchvision gaussian_blur, kernel 3, `sigma`, reflect
 * padding, in float), then ×255 truncated to 8 bits as their `.byte()` does before the codec.
 * A hair (1e-6) is added before truncating so that flat areas keep their level whatever the last
 * bit of the weights' sum; where a value is within float32 rounding of an integer the authors' sums
 * may land a level lower. The H.264 compression that follows is far coarser.
 */
export function gaussianBlur3(f: Frame, sigma: number): Frame {
  const e = Math.exp(-0.5 / (sigma * sigma));
  const k = [e / (1 + 2 * e), 1 / (1 + 2 * e), e / (1 + 2 * e)] as const;
  const { width: w, height: h, channels: ch } = f;
  const reflect = (i: number, n: number) => (n === 1 ? 0 : i < 0 ? -i : i >= n ? 2 * n - 2 - i : i);
  const rows = new Float64Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (let d = -1; d <= 1; d++) v += k[d + 1]! * f.data[(y * w + reflect(x + d, w)) * ch + c]!;
        rows[(y * w + x) * 3 + c] = v;
      }
    }
  }
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (let d = -1; d <= 1; d++) v += k[d + 1]! * rows[(reflect(y + d, h) * w + x) * 3 + c]!;
        data[(y * w + x) * 3 + c] = Math.min(255, Math.max(0, Math.trunc(v + 1e-6)));
      }
    }
  }
  return { width: w, height: h, channels: 3, data };
}
