/**
 * Per-kind coverage fills, row by row. Each row is split into spans that are certainly 0,
 * certainly 1, or in the feather band; only band pixels pay for an exact distance. That keeps
 * a feathered full-HD mask in milliseconds rather than a per-pixel distance to every edge.
 */
import type { Coverage } from './rasterize.ts';
import type { ShapeGeometry } from './shapes.ts';
import { boxSignedDistance, EllipseDistances, segmentDistance } from './distance.ts';

type Rect = Extract<ShapeGeometry, { kind: 'rectangle' }>;
type Ellipse = Extract<ShapeGeometry, { kind: 'ellipse' }>;

/** Ramp from signed distance (negative inside); exactly 0 and 1 outside the band. */
export function ramp(sd: number, feather: number): number {
  const a = 0.5 - sd / feather;
  return a <= 0 ? 0 : a >= 1 ? 1 : a;
}

/**
 * Columns i (clipped to the coverage) whose centres i + 0.5 lie in the open interval (lo, hi):
 * spanFrom(lo) ≤ i < spanTo(hi). Two scalar functions rather than a [from, to] pair: the
 * per-row callers stay free of small arrays, whose element kinds (small integer or double)
 * made V8 deoptimize the ellipse fill.
 */
function spanFrom(lo: number, cov: Coverage): number {
  return Math.max(cov.x0, Math.floor(lo - 0.5) + 1);
}

function spanTo(hi: number, cov: Coverage): number {
  return Math.min(cov.x1, Math.ceil(hi - 0.5));
}

/** Index of pixel (0, y) in cov.data: pixel (x, y) is at rowStart(cov, y) + x. */
function rowStart(cov: Coverage, y: number): number {
  return cov.base + y * cov.stride;
}

function fillSpan(cov: Coverage, y: number, i0: number, i1: number, value: number): void {
  if (i1 <= i0) return;
  const row = rowStart(cov, y);
  cov.data.fill(value, row + i0, row + i1);
}

export function fillRectangle(r: Rect, feather: number, cov: Coverage): void {
  const x0 = r.x, y0 = r.y, x1 = r.x + r.width, y1 = r.y + r.height;
  if (feather === 0) {
    // Half-open [x0, x1) so that abutting rectangles tile with no overlap and no gap.
    const i0 = Math.max(cov.x0, Math.ceil(x0 - 0.5));
    const i1 = Math.min(cov.x1, Math.ceil(x1 - 0.5));
    const j0 = Math.max(cov.y0, Math.ceil(y0 - 0.5));
    const j1 = Math.min(cov.y1, Math.ceil(y1 - 0.5));
    for (let y = j0; y < j1; y++) fillSpan(cov, y, i0, i1, 1);
    return;
  }
  for (let y = cov.y0; y < cov.y1; y++) {
    const py = y + 0.5;
    const row = rowStart(cov, y);
    for (let x = cov.x0; x < cov.x1; x++) {
      cov.data[row + x] = ramp(boxSignedDistance(x + 0.5, py, x0, y0, x1, y1), feather);
    }
  }
}

export function fillEllipse(e: Ellipse, feather: number, cov: Coverage): void {
  const { cx, cy, rx, ry } = e;
  if (rx <= 0 || ry <= 0) {
    // Collapsed to a line or a point: no area, but a feather still shows the outline.
    if (feather === 0) return;
    for (let y = cov.y0; y < cov.y1; y++) {
      const row = rowStart(cov, y);
      for (let x = cov.x0; x < cov.x1; x++) {
        cov.data[row + x] = ramp(segmentDistance(x + 0.5, y + 0.5, cx - rx, cy - ry, cx + rx, cy + ry), feather);
      }
    }
    return;
  }
  const h = feather / 2;
  const rmin = Math.min(rx, ry);
  // s(p) = sqrt(((x-cx)/rx)² + ((y-cy)/ry)²) is (1/rmin)-Lipschitz, so |s - 1|·rmin bounds the
  // distance to the outline from below: s ≤ sIn is certainly ≥ h inside, s ≥ sOut ≥ h outside.
  const sIn = 1 - h / rmin;
  const sOut = 1 + h / rmin;
  // One solver per outline, walked pixel by pixel: each solve starts from its neighbour's root.
  const dist = rx >= ry ? new EllipseDistances(rx, ry) : new EllipseDistances(ry, rx);
  const major = rx >= ry;
  for (let y = cov.y0; y < cov.y1; y++) {
    const py = y + 0.5;
    const v = (py - cy) / ry;
    const v2 = v * v;
    if (feather === 0) {
      if (v2 >= 1) continue;
      const hw = rx * Math.sqrt(1 - v2);
      fillSpan(cov, y, spanFrom(cx - hw, cov), spanTo(cx + hw, cov), 1);
      continue;
    }
    if (v2 >= sOut * sOut) continue;
    const hwOut = rx * Math.sqrt(sOut * sOut - v2);
    const hwIn = sIn > 0 && v2 < sIn * sIn ? rx * Math.sqrt(sIn * sIn - v2) : 0;
    // Certainly-1 core, shrunk a hair so rounding can only send pixels to the exact path.
    const c0 = hwIn > 0 ? spanFrom(cx - hwIn + 1e-7, cov) : 0;
    const c1 = hwIn > 0 ? spanTo(cx + hwIn - 1e-7, cov) : 0;
    fillSpan(cov, y, c0, c1, 1);
    const o0 = spanFrom(cx - hwOut - 1e-7, cov);
    const o1 = spanTo(cx + hwOut + 1e-7, cov);
    const row = rowStart(cov, y);
    const dv = Math.abs(py - cy);
    for (let x = o0; x < o1; x++) {
      if (x >= c0 && x < c1) {
        x = c1 - 1;
        continue;
      }
      const px = x + 0.5;
      const u = (px - cx) / rx;
      const s = Math.sqrt(u * u + v2);
      let a: number;
      if ((s - 1) * rmin >= h) a = 0;
      else if ((1 - s) * rmin >= h) a = 1;
      else {
        const du = Math.abs(px - cx);
        const d = major ? dist.at(du, dv) : dist.at(dv, du);
        a = ramp(s < 1 ? -d : d, feather);
      }
      cov.data[row + x] = a;
    }
  }
}

/**
 * Even-odd polygon. Crossings of each row of pixel centres give inside/outside spans; with a
 * feather, each edge contributes the exact x-interval of the row within f/2 of it (a row cut
 * through the edge's capsule), and only those pixels measure distances.
 */
export function fillPolygon(points: readonly (readonly [number, number])[], feather: number, cov: Coverage): void {
  const n = points.length;
  const ax = new Float64Array(n), ay = new Float64Array(n), bx = new Float64Array(n), by = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const p = points[i]!, q = points[(i + 1) % n]!;
    ax[i] = p[0]; ay[i] = p[1]; bx[i] = q[0]; by[i] = q[1];
  }
  const h = feather / 2;
  const w = cov.x1 - cov.x0;
  const dmin = new Float64Array(w).fill(Infinity);
  const xs: number[] = [];
  for (let y = cov.y0; y < cov.y1; y++) {
    const py = y + 0.5;
    const row = rowStart(cov, y);
    xs.length = 0;
    for (let i = 0; i < n; i++) {
      if (ay[i]! > py !== by[i]! > py) xs.push(ax[i]! + ((py - ay[i]!) * (bx[i]! - ax[i]!)) / (by[i]! - ay[i]!));
    }
    xs.sort((a, b) => a - b);
    // Span [xs[2k], xs[2k+1]) is inside: centre px with xs[2k] <= px < xs[2k+1].
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const i0 = Math.max(cov.x0, Math.ceil(xs[k]! - 0.5));
      const i1 = Math.min(cov.x1, Math.ceil(xs[k + 1]! - 0.5));
      fillSpan(cov, y, i0, i1, 1);
    }
    if (feather === 0) continue;

    let lo = cov.x1, hi = cov.x0; // touched columns, to reset dmin after
    for (let i = 0; i < n; i++) {
      const span = capsuleRow(ax[i]!, ay[i]!, bx[i]!, by[i]!, h, py);
      if (!span) continue;
      const i0 = spanFrom(span[0] - 1e-7, cov);
      const i1 = spanTo(span[1] + 1e-7, cov);
      for (let x = i0; x < i1; x++) {
        const d = segmentDistance(x + 0.5, py, ax[i]!, ay[i]!, bx[i]!, by[i]!);
        if (d < dmin[x - cov.x0]!) dmin[x - cov.x0] = d;
      }
      if (i0 < lo) lo = i0;
      if (i1 > hi) hi = i1;
    }
    for (let x = lo; x < hi; x++) {
      const d = dmin[x - cov.x0]!;
      if (d < h) {
        const inside = cov.data[row + x] === 1;
        cov.data[row + x] = ramp(inside ? -d : d, feather);
      }
      dmin[x - cov.x0] = Infinity;
    }
  }
}

/**
 * The x-interval where the horizontal line y = py meets the capsule of radius h around segment
 * A–B (all points within h of it), or null. The capsule is convex, so the union of its three
 * parts' intervals (disk at A, disk at B, the band beside the segment) is one interval.
 */
export function capsuleRow(ax: number, ay: number, bx: number, by: number, h: number, py: number): [number, number] | null {
  let lo = Infinity, hi = -Infinity;
  const disk = (cx: number, cy: number) => {
    const dy = py - cy;
    if (Math.abs(dy) > h) return;
    const hw = Math.sqrt(h * h - dy * dy);
    if (cx - hw < lo) lo = cx - hw;
    if (cx + hw > hi) hi = cx + hw;
  };
  disk(ax, ay);
  disk(bx, by);
  const dx = bx - ax, dy = by - ay;
  const L = Math.hypot(dx, dy);
  if (L > 0) {
    // Band: |(px-ax)·dy - (py-ay)·dx| ≤ h·L  and  0 ≤ (px-ax)·dx + (py-ay)·dy ≤ L².
    let b0 = -Infinity, b1 = Infinity;
    const t = py - ay;
    if (dy !== 0) {
      const e0 = ax + (t * dx - h * L) / dy, e1 = ax + (t * dx + h * L) / dy;
      b0 = Math.min(e0, e1);
      b1 = Math.max(e0, e1);
    } else if (Math.abs(t) > h) {
      b0 = Infinity;
    }
    if (dx !== 0) {
      const p0 = ax + (0 - t * dy) / dx, p1 = ax + (L * L - t * dy) / dx;
      b0 = Math.max(b0, Math.min(p0, p1));
      b1 = Math.min(b1, Math.max(p0, p1));
    } else if (t * dy < 0 || t * dy > L * L) {
      b0 = Infinity;
    }
    if (b0 <= b1) {
      if (b0 < lo) lo = b0;
      if (b1 > hi) hi = b1;
    }
  }
  return lo <= hi ? [lo, hi] : null;
}
