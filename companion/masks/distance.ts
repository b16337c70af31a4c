/**
 * Exact unsigned distances from a point to shape outlines, used for feathering. Feathers are
 * what editors judge by eye, so approximations that bulge on thin ellipses are not good enough.
 */

// Math.hypot is avoided in these per-pixel paths: it is several times slower than sqrt in V8,
// and pixel distances are far from overflow.

/** Distance from (px, py) to the segment (ax, ay)-(bx, by). */
export function segmentDistance(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  let t = len2 > 0 ? ((px - ax) * dx + (py - ay) * dy) / len2 : 0;
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  const ex = px - (ax + t * dx);
  const ey = py - (ay + t * dy);
  return Math.sqrt(ex * ex + ey * ey);
}

/** Signed distance to an axis-aligned box (negative inside). */
export function boxSignedDistance(px: number, py: number, x0: number, y0: number, x1: number, y1: number): number {
  const dx = Math.max(x0 - px, px - x1);
  const dy = Math.max(y0 - py, py - y1);
  if (dx <= 0 && dy <= 0) return Math.max(dx, dy);
  // Outside: only the positive components count (a corner region gives the Euclidean term).
  const ox = dx > 0 ? dx : 0;
  const oy = dy > 0 ? dy : 0;
  return Math.sqrt(ox * ox + oy * oy);
}

/**
 * Distance from a point (u, v), u, v >= 0 (the first quadrant: an ellipse is symmetric), to the
 * ellipse with semi-axes e0 >= e1 > 0. D. Eberly, "Distance from a Point to an Ellipse": the
 * closest point's parameter is the root of a monotone convex function (see ellipseRoot).
 */
export function ellipseDistance(e0: number, e1: number, u: number, v: number): number {
  return new EllipseDistances(e0, e1).at(u, v);
}

/**
 * Distances from many points to one ellipse (semi-axes e0 >= e1 > 0), for a feather band walked
 * pixel by pixel: neighbouring pixels have nearly the same closest point, so each solve starts
 * from the previous one's root and needs about half the Newton steps of a cold start.
 */
export class EllipseDistances {
  private readonly r0: number;
  /**
   * [0]: the last root found (NaN: none yet), the next solve's first guess. Passed in a typed
   * array, not returned, so the per-pixel call allocates no boxed number (V8 boxes doubles
   * returned from calls it does not inline, and the garbage adds up over a band of 10⁵ pixels).
   */
  private readonly root = new Float64Array([NaN]);

  constructor(
    private readonly e0: number,
    private readonly e1: number,
  ) {
    this.r0 = (e0 / e1) ** 2;
  }

  /** Distance from (u, v), u, v >= 0, to the ellipse. */
  at(u: number, v: number): number {
    const { e0, e1 } = this;
    if (v > 0) {
      if (u > 0) {
        const z0 = u / e0;
        const z1 = v / e1;
        const g = z0 * z0 + z1 * z1 - 1;
        if (g === 0) return 0;
        const r0 = this.r0;
        ellipseRoot(r0, z0, z1, g, this.root);
        const s = this.root[0]!;
        const x0 = (r0 * u) / (s + r0);
        const x1 = v / (s + 1);
        return Math.sqrt((x0 - u) ** 2 + (x1 - v) ** 2);
      }
      return Math.abs(v - e1);
    }
    // On the major axis: the nearest point is off-axis only for points near the centre.
    const numer = e0 * u;
    const denom = e0 * e0 - e1 * e1;
    if (numer < denom) {
      const xde0 = numer / denom;
      const x0 = e0 * xde0;
      const x1 = e1 * Math.sqrt(1 - xde0 * xde0);
      return Math.sqrt((x0 - u) ** 2 + x1 * x1);
    }
    return Math.abs(u - e0);
  }
}

/**
 * Root of F(s) = (n0/(s+r0))² + (z1/(s+1))² - 1 for s > -1, written to root[0]. F is convex and
 * decreasing there and F(z1 - 1) ≥ 0, so Newton's method started at z1 - 1 climbs monotonically
 * to the root without overshooting; it replaces Eberly's bisection, which costs ~10x more per
 * pixel. A guess inside the bracket (root[0] on entry: a neighbouring point's root) starts it
 * closer: left of the root it climbs from there; right of it, one tangent step lands left of the
 * root (F lies above its tangents) and the climb goes on from there.
 * Bisection on the bracket remains as the fallback if float noise ever stalls Newton.
 */
function ellipseRoot(r0: number, z0: number, z1: number, g: number, root: Float64Array): void {
  const guess = root[0]!;
  const n0 = r0 * z0;
  let s0 = z1 - 1;
  const s1 = g < 0 ? 0 : Math.sqrt(n0 * n0 + z1 * z1) - 1;
  const warm = guess > s0 && guess < s1;
  let s = warm ? guess : s0;
  for (let i = 0; i < 40; i++) {
    const ia = 1 / (s + r0);
    const ib = 1 / (s + 1);
    const a = n0 * ia;
    const b = z1 * ib;
    const f = a * a + b * b - 1;
    // Newton step: F'(s) = -2(a²/(s+r0) + b²/(s+1)).
    const next = s + f / (2 * (a * a * ia + b * b * ib));
    if (f < 0 && warm && i === 0) {
      s = next > s0 ? next : s0; // the guess was right of the root: the tangent lands left of it
      continue;
    }
    if (f <= 0 || next === s) {
      // Reached from the left: s is the root to rounding.
      root[0] = s;
      return;
    }
    if (!(next > s) || next > s1) break; // float noise stalled Newton, or it left the bracket: bisect
    if (next - s <= 1e-12 * (1 + Math.abs(next))) {
      root[0] = next;
      return;
    }
    s0 = s = next;
  }
  // Bisection: a change ds in s moves the closest point by at most |(u, v)|·ds, so stopping at
  // ds ≤ 1e-10·(1 + s) keeps the distance within ~1e-6 px for any frame up to 8K.
  let hi = s1;
  for (let i = 0; i < 200; i++) {
    s = (s0 + hi) / 2;
    if (hi - s0 <= 1e-10 * (1 + Math.abs(s))) break;
    const a = n0 / (s + r0);
    const b = z1 / (s + 1);
    const gs = a * a + b * b - 1;
    if (gs > 0) s0 = s;
    else if (gs < 0) hi = s;
    else break;
  }
  root[0] = s;
}
