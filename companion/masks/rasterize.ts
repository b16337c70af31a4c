/**
 * Vector mask shapes → per-pixel alpha (1 = generate, 0 = keep the source).
 *
 * Pixels are sampled at their centres (x + 0.5, y + 0.5). A feather of f px is a linear ramp
 * across a band of width f centred on the outline: alpha = clamp(0.5 - signedDistance / f).
 * Anything at least f/2 outside is exactly 0.0, which matters: the engine copies the source
 * bit for bit wherever alpha is 0, so a stray 1e-9 would be a visible change an editor finds.
 * Each shape only touches its bounding box grown by f/2, so small masks on 4K frames are cheap.
 */
import type { ShapesMask } from '../../protocol/mask.ts';
import type { Rect } from '../engine/image.ts';
import { alphaBounds, type MaskAlpha } from './alpha.ts';
import { fillEllipse, fillPolygon, fillRectangle } from './fill.ts';
import { type ShapeGeometry, boundsOf, shapeAt } from './shapes.ts';

export { shapeAt, boundsOf, type ShapeGeometry } from './shapes.ts';

/** Alpha for a row-major width×height frame, combining shapes in order, then inverting. */
export function rasterizeShapes(mask: ShapesMask, frame: number, width: number, height: number): Float32Array {
  return rasterize(mask, frame, width, height).alpha;
}

/**
 * The same alpha with the exact box where it is above 0 (MaskAlpha). Only the shapes' own
 * coverage is scanned for it (the whole frame when the mask is inverted).
 */
export function rasterizeShapeMask(mask: ShapesMask, frame: number, width: number, height: number, reuse?: MaskAlpha): MaskAlpha {
  const { alpha, touched } = rasterize(mask, frame, width, height, reuse && recycled(reuse, width, height));
  return { alpha, bounds: touched ? alphaBounds(alpha, width, height, touched) : null, written: touched };
}

/**
 * A finished mask's buffer made all-zero again for the next frame: only where it was written
 * (a shape's box, not the 8 MB of a 1080p frame). Undefined when it does not fit.
 */
function recycled(m: MaskAlpha, width: number, height: number): Float32Array | undefined {
  if (m.alpha.length !== width * height || m.written === undefined) return undefined;
  const w = m.written;
  if (w) for (let y = w.y; y < w.y + w.height; y++) m.alpha.fill(0, y * width + w.x, y * width + w.x + w.width);
  return m.alpha;
}

function rasterize(mask: ShapesMask, frame: number, width: number, height: number, zeroed?: Float32Array): { alpha: Float32Array; touched: Rect | null } {
  const alpha = zeroed ?? new Float32Array(width * height);
  // Union of the coverages written: alpha is 0 everywhere else (before inverting).
  let tx0 = width, ty0 = height, tx1 = 0, ty1 = 0;
  for (const shape of mask.shapes) {
    const g = shapeAt(shape, frame);
    const box = coverageBox(g, shape.feather, width, height);
    if (!box) continue;
    const { x0, y0, x1, y1 } = box;
    if (shape.mode === 'add' && tx1 <= tx0) {
      // The first shape that adds, onto an all-zero alpha: max(0, c) = c, so it is drawn straight
      // into the frame's alpha (no coverage buffer to allocate and merge).
      fill(g, shape.feather, coverageOver(box, alpha, width, 0));
      tx0 = x0, ty0 = y0, tx1 = x1, ty1 = y1;
      continue;
    }
    const { data } = fillCoverage(g, shape.feather, box);
    if (shape.mode === 'add') {
      tx0 = Math.min(tx0, x0), ty0 = Math.min(ty0, y0), tx1 = Math.max(tx1, x1), ty1 = Math.max(ty1, y1);
    }
    const w = x1 - x0;
    for (let y = y0; y < y1; y++) {
      let o = y * width + x0;
      let c = (y - y0) * w;
      if (shape.mode === 'add') {
        for (let x = x0; x < x1; x++, o++, c++) if (data[c]! > alpha[o]!) alpha[o] = data[c]!;
      } else {
        for (let x = x0; x < x1; x++, o++, c++) alpha[o] = alpha[o]! * (1 - data[c]!);
      }
    }
  }
  if (mask.invert) {
    for (let i = 0; i < alpha.length; i++) alpha[i] = 1 - alpha[i]!;
    return { alpha, touched: { x: 0, y: 0, width, height } };
  }
  return { alpha, touched: tx1 > tx0 && ty1 > ty0 ? { x: tx0, y: ty0, width: tx1 - tx0, height: ty1 - ty0 } : null };
}

/** Pixel index bounds, half-open: columns x0..x1-1, rows y0..y1-1. */
export interface CoverageBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * One shape's alpha over the pixels it can affect (clipped to the frame): pixel (x, y) is
 * data[base + y·stride + x]. Either its own (x1-x0)×(y1-y0) buffer or the frame's alpha itself.
 * Fills write only inside the box and expect it all-zero to start with.
 */
export interface Coverage extends CoverageBox {
  data: Float32Array;
  stride: number;
  base: number;
}

/** The pixels a shape can affect, or null if none are in the frame. */
export function coverageBox(g: ShapeGeometry, feather: number, width: number, height: number): CoverageBox | null {
  const h = feather / 2;
  const [bx0, by0, bx1, by1] = boundsOf(g);
  // Pixel centres c = i + 0.5 within [b0 - h, b1 + h]; one extra pixel each side absorbs rounding.
  const x0 = Math.max(0, Math.floor(bx0 - h - 0.5));
  const y0 = Math.max(0, Math.floor(by0 - h - 0.5));
  const x1 = Math.min(width, Math.ceil(bx1 + h + 0.5) + 1);
  const y1 = Math.min(height, Math.ceil(by1 + h + 0.5) + 1);
  return x1 <= x0 || y1 <= y0 ? null : { x0: x0 | 0, y0: y0 | 0, x1: x1 | 0, y1: y1 | 0 };
}

/** One shape's alpha in its own buffer, row-major over its box; null if it misses the frame. */
export function coverage(g: ShapeGeometry, feather: number, width: number, height: number): Coverage | null {
  const box = coverageBox(g, feather, width, height);
  return box && fillCoverage(g, feather, box);
}

function fillCoverage(g: ShapeGeometry, feather: number, box: CoverageBox): Coverage {
  const w = box.x1 - box.x0;
  const cov = coverageOver(box, new Float32Array(w * (box.y1 - box.y0)), w, -box.y0 * w - box.x0);
  fill(g, feather, cov);
  return cov;
}

/**
 * Every Coverage is made here, fields in one order and all small integers (`| 0`; -0 and
 * integer-valued doubles would not be): the fills are hot loops, and V8 deoptimizes them each
 * time it meets a Coverage of another hidden class.
 */
function coverageOver(box: CoverageBox, data: Float32Array, stride: number, base: number): Coverage {
  return { x0: box.x0 | 0, y0: box.y0 | 0, x1: box.x1 | 0, y1: box.y1 | 0, data, stride: stride | 0, base: base | 0 };
}

function fill(g: ShapeGeometry, feather: number, cov: Coverage): void {
  if (g.kind === 'rectangle') fillRectangle(g, feather, cov);
  else if (g.kind === 'ellipse') fillEllipse(g, feather, cov);
  else fillPolygon(g.points, feather, cov);
}
