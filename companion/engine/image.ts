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
      for (let yy = Math.floor(y0); yy < Math.ceil(y1); yy++) {
        const wy = Math.min(y1, yy + 1) - Math.max(y0, yy);
        for (let xx = Math.floor(x0); xx < Math.ceil(x1); xx++) {
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

function bilinear(f: Frame, width: number, height: number): Frame {
  const ch = f.channels;
  const out = new Uint8Array(width * height * 3);
  const sx = f.width / width;
  const sy = f.height / height;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), f.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, f.height - 1);
    const ty = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), f.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, f.width - 1);
      const tx = fx - x0;
      const a = (y0 * f.width + x0) * ch;
      const b = (y0 * f.width + x1) * ch;
      const c = (y1 * f.width + x0) * ch;
      const d = (y1 * f.width + x1) * ch;
      const o = (y * width + x) * 3;
      for (let k = 0; k < 3; k++) {
        const top = f.data[a + k]! + (f.data[b + k]! - f.data[a + k]!) * tx;
        const bottom = f.data[c + k]! + (f.data[d + k]! - f.data[c + k]!) * tx;
        out[o + k] = Math.round(top + (bottom - top) * ty);
      }
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
  const out = new Uint8Array(src.width * src.height * 3);
  const ch = src.channels;
  for (let p = 0, n = src.width * src.height; p < n; p++) {
    out[p * 3] = src.data[p * ch]!;
    out[p * 3 + 1] = src.data[p * ch + 1]!;
    out[p * 3 + 2] = src.data[p * ch + 2]!;
  }
  for (let y = 0; y < at.height; y++) {
    for (let x = 0; x < at.width; x++) {
      const p = (at.y + y) * src.width + at.x + x;
      const a = alpha[p]!;
      if (a === 0) continue;
      const g = (y * gen.width + x) * gen.channels;
      for (let c = 0; c < 3; c++) {
        const s = out[p * 3 + c]!;
        out[p * 3 + c] = a === 1 ? gen.data[g + c]! : Math.round(s + (gen.data[g + c]! - s) * a);
      }
    }
  }
  return { width: src.width, height: src.height, channels: 3, data: out };
}
