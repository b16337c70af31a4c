/**
 * One frame's mask as the pipeline carries it: alpha over the whole frame plus the exact box
 * where it is above 0. Everything after the mask (the model's crop, the composite) only needs
 * that box, so a small mask on a 1080p or 4K frame costs the box, not the frame.
 */
import type { Rect } from '../engine/image.ts';

export interface MaskAlpha {
  /** Row-major, frame-sized; 0 = keep the source pixel, > 0 = generate (1 = fully). */
  alpha: Float32Array;
  /** Smallest rectangle holding every alpha > 0; null when nothing is masked. */
  bounds: Rect | null;
  /** Where alpha may be non-zero (a superset of bounds): what must be cleared to reuse the buffer. */
  written?: Rect | null;
}

/**
 * Bounding box of alpha > 0, looking only inside `within` (default: the whole frame). Callers
 * that know where a mask can be (a shape's coverage) pass that, and the scan costs only it.
 */
export function alphaBounds(alpha: Float32Array, width: number, height: number, within?: Rect): Rect | null {
  const r = within ?? { x: 0, y: 0, width, height };
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -1;
  let y1 = -1;
  for (let y = r.y; y < r.y + r.height; y++) {
    const row = y * width;
    // First and last non-zero of the row: the middle need not be looked at.
    let first = -1;
    for (let x = r.x; x < r.x + r.width; x++) {
      if (alpha[row + x]! > 0) {
        first = x;
        break;
      }
    }
    if (first < 0) continue;
    let last = first;
    for (let x = r.x + r.width - 1; x > first; x--) {
      if (alpha[row + x]! > 0) {
        last = x;
        break;
      }
    }
    if (first < x0) x0 = first;
    if (last > x1) x1 = last;
    if (y < y0) y0 = y;
    y1 = y;
  }
  return x1 < 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

/** A whole-frame alpha (a matte, an image) with its bounds found by scanning it. */
export function maskAlpha(alpha: Float32Array, width: number, height: number): MaskAlpha {
  return { alpha, bounds: alphaBounds(alpha, width, height) };
}
