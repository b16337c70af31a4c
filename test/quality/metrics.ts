/**
 * What the quality tests measure, and the simple baselines they measure it against. Everything
 * here compares frames with the family's ground truth (companion/media/shapes.ts).
 */
import type { Frame } from '../../companion/media/frame.ts';
import { SHAPE_PALETTE, type ShapesClip } from '../../companion/media/shapes.ts';

/**
 * Centre of a shape in a frame: the mean position of pixels close to the shape's colour and far
 * from the clean background there (the background is known, so a gradient that happens to pass
 * near the colour is not taken for the shape). Null when no pixel qualifies.
 */
export function findShape(frame: Frame, clean: Frame, colour: number): [number, number] | null {
  const rgb = SHAPE_PALETTE[colour]!.rgb.map((v) => v * 255);
  const { width: w, height: h, data } = frame;
  let sx = 0;
  let sy = 0;
  let n = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = (y * w + x) * 3;
      const toShape = Math.hypot(data[p]! - rgb[0]!, data[p + 1]! - rgb[1]!, data[p + 2]! - rgb[2]!);
      const toBackground = Math.hypot(data[p]! - clean.data[p]!, data[p + 1]! - clean.data[p + 1]!, data[p + 2]! - clean.data[p + 2]!);
      if (toShape < 70 && toBackground > 50) {
        sx += x + 0.5;
        sy += y + 0.5;
        n++;
      }
    }
  }
  return n >= 4 ? [sx / n, sy / n] : null;
}

/** Error charged for a shape that is not found at all: half the frame's diagonal. */
export const MISSING_PENALTY = Math.hypot(64, 64) / 2;

/**
 * Mean centroid error (px) over every shape of the clip and every frame: `frames[i]` is compared
 * with the truth at clip frame `start + i`. A shape that cannot be found costs MISSING_PENALTY.
 */
export function centroidError(frames: Frame[], clip: ShapesClip, truth: { centres: [number, number][][]; clean: Frame[] }): number {
  let sum = 0;
  let n = 0;
  frames.forEach((f, i) => {
    clip.shapes.forEach((s, j) => {
      const found = findShape(f, truth.clean[i]!, s.colour);
      const [tx, ty] = truth.centres[j]![i]!;
      sum += found ? Math.hypot(found[0] - tx, found[1] - ty) : MISSING_PENALTY;
      n++;
    });
  });
  return sum / n;
}

/** PSNR (dB) of `a` against `b` over the pixels where `where` (per frame) is > 0, or all pixels. */
export function psnr(a: Frame[], b: Frame[], where?: Float32Array[]): number {
  let se = 0;
  let n = 0;
  a.forEach((fa, i) => {
    const fb = b[i]!;
    const m = where?.[i];
    for (let p = 0; p < fa.width * fa.height; p++) {
      if (m && !(m[p]! > 0)) continue;
      for (let c = 0; c < 3; c++) {
        const d = fa.data[p * 3 + c]! - fb.data[p * 3 + c]!;
        se += d * d;
        n++;
      }
    }
  });
  return 10 * Math.log10((255 * 255) / Math.max(se / n, 1e-10));
}

/** Mask grown by `r` px (square neighbourhood). */
export function dilate(m: Float32Array, w: number, h: number, r: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let on = 0;
      for (let dy = -r; dy <= r && !on; dy++) {
        for (let dx = -r; dx <= r && !on; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (yy >= 0 && yy < h && xx >= 0 && xx < w && m[yy * w + xx]! > 0) on = 1;
        }
      }
      out[y * w + x] = on;
    }
  }
  return out;
}

/** Baseline fill: the mean colour of a 2-px ring around the mask, painted into the mask. */
export function ringMeanFill(frame: Frame, mask: Float32Array): Frame {
  const { width: w, height: h } = frame;
  const ring = dilate(mask, w, h, 2);
  const sum = [0, 0, 0];
  let n = 0;
  for (let p = 0; p < w * h; p++) {
    if (ring[p]! > 0 && !(mask[p]! > 0)) {
      for (let c = 0; c < 3; c++) sum[c]! += frame.data[p * 3 + c]!;
      n++;
    }
  }
  const out = { ...frame, data: Uint8Array.from(frame.data) };
  for (let p = 0; p < w * h; p++) if (mask[p]! > 0) for (let c = 0; c < 3; c++) out.data[p * 3 + c] = Math.round(sum[c]! / Math.max(n, 1));
  return out;
}

/** Baseline bridge: a linear cross-fade from `a` to `b` over `count` frames (exclusive of both). */
export function crossFade(a: Frame, b: Frame, count: number): Frame[] {
  return Array.from({ length: count }, (_, i) => {
    const t = (i + 1) / (count + 1);
    const data = new Uint8Array(a.data.length);
    for (let k = 0; k < data.length; k++) data[k] = Math.round((1 - t) * a.data[k]! + t * b.data[k]!);
    return { ...a, data };
  });
}
