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

/** Where a resize writes its result, and which part of it is wanted. */
export interface ResizeOptions {
  /**
   * The bytes to write into (width·height·3), e.g. one buffer reused frame after frame; a fresh
   * buffer when absent. Ignored when the frame needs no resizing (the frame itself is returned).
   */
  into?: Uint8Array;
  /**
   * Compute only these output pixels; the rest of the result is left as it was (stale bytes in a
   * reused `into`). For a composite that reads only the mask's box of a scaled-up crop.
   */
  only?: Rect;
}

/**
 * Resample to width × height: area averaging when shrinking (no aliasing of fine detail into
 * the model's input), bilinear when enlarging. Output is RGB. The result is `f` itself when it
 * already has that size and is RGB.
 */
export function resize(f: Frame, width: number, height: number, opts: ResizeOptions = {}): Frame {
  if (f.width === width && f.height === height && f.channels === 3) return f;
  const out = opts.into ?? new Uint8Array(width * height * 3);
  if (out.length !== width * height * 3) throw new Error(`resize: the buffer holds ${out.length} bytes, ${width}x${height} RGB needs ${width * height * 3}`);
  const whole = { x: 0, y: 0, width, height };
  const only = intersectRect(opts.only ?? whole, whole);
  if (only) (width <= f.width && height <= f.height ? areaDown : bilinear)(f, width, height, out, only);
  return { width, height, channels: 3, data: out };
}

/** The pixels both rectangles cover; null when they do not overlap. */
export function intersectRect(a: Rect, b: Rect): Rect | null {
  const x = Math.max(a.x, b.x);
  const y = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  return x1 > x && y1 > y ? { x, y, width: x1 - x, height: y1 - y } : null;
}

/**
 * The source pixels each target pixel t of an n → target area-down covers along one axis:
 * [start, start + count), with the covered fraction of each in `weight` from `offset`. The
 * same for every row (or column), so computed once; the arithmetic is the per-pixel loop's.
 */
interface AreaTaps {
  start: Int32Array;
  count: Int32Array;
  offset: Int32Array;
  weight: Float64Array;
}

function areaTaps(n: number, target: number): AreaTaps {
  const s = n / target;
  const start = new Int32Array(target);
  const count = new Int32Array(target);
  const offset = new Int32Array(target);
  const weights: number[] = [];
  for (let t = 0; t < target; t++) {
    const a0 = t * s;
    const a1 = a0 + s;
    // min(): (n − 1)·s + s can round a hair past the edge (59 → 56 px), which read past the
    // last row and turned it black.
    const from = Math.floor(a0);
    const to = Math.min(n, Math.ceil(a1));
    start[t] = from;
    count[t] = to - from;
    offset[t] = weights.length;
    for (let i = from; i < to; i++) weights.push(Math.min(a1, i + 1) - Math.max(a0, i));
  }
  return { start, count, offset, weight: Float64Array.from(weights) };
}

/**
 * Each target pixel is the weighted mean of the source pixels it covers, w = wy·wx summed row by
 * row in float64 and rounded: the sums are kept in exactly this order (it decides which way a
 * mean of .5 rounds), only the per-pixel bookkeeping is precomputed (and see roundMean).
 */
function areaDown(f: Frame, width: number, height: number, out: Uint8Array, only: Rect): void {
  const ch = f.channels;
  const fw = f.width;
  const d = f.data;
  const tx = areaTaps(fw, width);
  const ty = areaTaps(f.height, height);
  const wX = tx.weight;
  const wY = ty.weight;
  const xEnd = only.x + only.width;
  for (let y = only.y; y < only.y + only.height; y++) {
    const ys = ty.start[y]!;
    const yn = ty.count[y]!;
    const yo = ty.offset[y]!;
    let o = (y * width + only.x) * 3;
    for (let x = only.x; x < xEnd; x++) {
      const xs = tx.start[x]!;
      const xn = tx.count[x]!;
      const xo = tx.offset[x]!;
      if (xn === 2 && yn === 2) {
        // The usual cell when shrinking by less than 2×: the loops below unrolled, same order of sums.
        const wy0 = wY[yo]!;
        const wy1 = wY[yo + 1]!;
        const wx0 = wX[xo]!;
        const wx1 = wX[xo + 1]!;
        const p = (ys * fw + xs) * ch;
        const q = p + fw * ch;
        const w00 = wy0 * wx0;
        const w01 = wy0 * wx1;
        const w10 = wy1 * wx0;
        const w11 = wy1 * wx1;
        const total = w00 + w01 + w10 + w11;
        const inv = 1 / total;
        out[o++] = roundMean(w00 * d[p]! + w01 * d[p + ch]! + w10 * d[q]! + w11 * d[q + ch]!, total, inv);
        out[o++] = roundMean(w00 * d[p + 1]! + w01 * d[p + ch + 1]! + w10 * d[q + 1]! + w11 * d[q + ch + 1]!, total, inv);
        out[o++] = roundMean(w00 * d[p + 2]! + w01 * d[p + ch + 2]! + w10 * d[q + 2]! + w11 * d[q + ch + 2]!, total, inv);
        continue;
      }
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let total = 0;
      for (let j = 0; j < yn; j++) {
        const wy = wY[yo + j]!;
        let p = ((ys + j) * fw + xs) * ch;
        for (let i = 0; i < xn; i++, p += ch) {
          const w = wy * wX[xo + i]!;
          a0 += w * d[p]!;
          a1 += w * d[p + 1]!;
          a2 += w * d[p + 2]!;
          total += w;
        }
      }
      const inv = 1 / total;
      out[o++] = roundMean(a0, total, inv);
      out[o++] = roundMean(a1, total, inv);
      out[o++] = roundMean(a2, total, inv);
    }
  }
}

/**
 * Math.round(sum / total) for sums of 8-bit levels, with a multiply by inv = 1/total where the
 * division was (a division per channel was 40% of the area-down's time). The product differs from
 * the quotient by a few units in the last place (< 1e-12 for values up to 255), so both round the
 * same way unless one is within that of a half; within 1e-7 of a half the division decides.
 */
function roundMean(sum: number, total: number, inv: number): number {
  const h = sum * inv + 0.5;
  const r = h | 0;
  const f = h - r;
  return f > 1e-7 && f < 1 - 1e-7 ? r : Math.round(sum / total);
}

/** Weights in 11-bit fixed point: integer arithmetic, exact rounding, no float per sample. */
const W_BITS = 11;
const W_ONE = 1 << W_BITS;
const SHIFT = 2 * W_BITS;

/**
 * out = ((a·ux + b·tx)·uy + (c·ux + e·tx)·ty + ½) >> 22 for the four neighbours a, b (upper
 * row) and c, e (lower row), all in integers. Computed as ux·(a·uy + c·ty) + tx·(b·uy + e·ty),
 * the same integer: the vertical blends are made once per source column and row, not once per
 * output pixel and tap.
 */
function bilinear(f: Frame, width: number, height: number, out: Uint8Array, only: Rect): void {
  const ch = f.channels;
  const fw = f.width;
  // Column taps and weights are the same for every row: compute them once.
  const x0s = new Int32Array(width);
  const x1s = new Int32Array(width);
  const txs = new Int32Array(width);
  const sx = fw / width;
  for (let x = 0; x < width; x++) {
    const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), fw - 1);
    const x0 = Math.floor(fx);
    x0s[x] = x0;
    x1s[x] = Math.min(x0 + 1, fw - 1);
    txs[x] = Math.round((fx - x0) * W_ONE);
  }
  const xEnd = only.x + only.width;
  // Source columns the wanted output pixels read.
  const cLo = x0s[only.x]!;
  const cHi = x1s[xEnd - 1]!;
  const col = new Int32Array((cHi - cLo + 1) * 3);
  const sy = f.height / height;
  const d = f.data;
  const half = 1 << (2 * W_BITS - 1);
  for (let y = only.y; y < only.y + only.height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), f.height - 1);
    const y0 = Math.floor(fy);
    const ty = Math.round((fy - y0) * W_ONE);
    const uy = W_ONE - ty;
    let p0 = (y0 * fw + cLo) * ch;
    let p1 = (Math.min(y0 + 1, f.height - 1) * fw + cLo) * ch;
    for (let i = 0; i < col.length; i += 3, p0 += ch, p1 += ch) {
      col[i] = d[p0]! * uy + d[p1]! * ty;
      col[i + 1] = d[p0 + 1]! * uy + d[p1 + 1]! * ty;
      col[i + 2] = d[p0 + 2]! * uy + d[p1 + 2]! * ty;
    }
    let o = (y * width + only.x) * 3;
    for (let x = only.x; x < xEnd; x++) {
      const a = (x0s[x]! - cLo) * 3;
      const b = (x1s[x]! - cLo) * 3;
      const tx = txs[x]!;
      const ux = W_ONE - tx;
      out[o++] = (col[a]! * ux + col[b]! * tx + half) >> SHIFT;
      out[o++] = (col[a + 1]! * ux + col[b + 1]! * tx + half) >> SHIFT;
      out[o++] = (col[a + 2]! * ux + col[b + 2]! * tx + half) >> SHIFT;
    }
  }
}

/**
 * Resample a mask (alpha per pixel) by taking the maximum over each target cell: no pixel that
 * must be generated is lost when shrinking. `nonZero` (a MaskAlpha's bounds: alpha is 0 outside
 * it) lets the cells that cannot be above 0 be skipped; `into` is a buffer to reuse (width·height).
 */
export function maskDown(alpha: Float32Array, w: number, h: number, r: Rect, width: number, height: number, nonZero?: Rect | null, into?: Float32Array): Float32Array {
  const out = into ?? new Float32Array(width * height);
  if (out.length !== width * height) throw new Error(`maskDown: the buffer holds ${out.length} values, ${width}x${height} needs ${width * height}`);
  const sx = r.width / width;
  const sy = r.height / height;
  // Cell x covers source columns [xA, xB): the same for every row.
  const xA = new Int32Array(width);
  const xB = new Int32Array(width);
  for (let x = 0; x < width; x++) {
    xA[x] = r.x + Math.floor(x * sx);
    xB[x] = Math.min(r.x + Math.ceil((x + 1) * sx), w);
  }
  const c0 = xA[0]!;
  const c1 = xB[width - 1]!; // xB never decreases
  // Columns and rows outside nonZero hold only zeros.
  const nz = nonZero === undefined ? { x: 0, y: 0, width: w, height: h } : nonZero;
  const z0 = nz ? Math.max(c0, nz.x) : c1;
  const z1 = nz ? Math.min(c1, nz.x + nz.width) : c1;
  // The maximum is exact in any order: first down each column of the cell's rows, then across.
  const colMax = new Float32Array(Math.max(0, c1 - c0));
  for (let y = 0; y < height; y++) {
    const yA = r.y + Math.floor(y * sy);
    const yB = Math.min(r.y + Math.ceil((y + 1) * sy), h);
    const row = y * width;
    if (!nz || z1 <= z0 || yB <= nz.y || yA >= nz.y + nz.height) {
      out.fill(0, row, row + width);
      continue;
    }
    colMax.fill(0);
    for (let yy = Math.max(yA, nz.y); yy < Math.min(yB, nz.y + nz.height); yy++) {
      const src = yy * w;
      for (let xx = z0; xx < z1; xx++) {
        const v = alpha[src + xx]!;
        if (v > colMax[xx - c0]!) colMax[xx - c0] = v;
      }
    }
    for (let x = 0; x < width; x++) {
      let m = 0;
      for (let xx = xA[x]! - c0; xx < xB[x]! - c0; xx++) if (colMax[xx]! > m) m = colMax[xx]!;
      out[row + x] = m;
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
