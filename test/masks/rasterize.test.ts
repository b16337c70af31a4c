import { describe, expect, it } from 'vitest';
import { coverage, rasterizeShapeMask, rasterizeShapes, shapeAt } from '../../companion/masks/index.ts';
import { EllipseDistances, ellipseDistance } from '../../companion/masks/distance.ts';
import { ellipse, polygon, rect, shapes, sum } from './helpers.ts';

const W = 120;
const H = 90;
const at = (a: Float32Array, x: number, y: number) => a[y * W + x]!;
const isBinary = (a: Float32Array) => a.every((v) => v === 0 || v === 1);

describe('rectangles', () => {
  it('a hard edge covers exactly width×height pixels, at the right place', () => {
    const a = rasterizeShapes(shapes([rect([{ frame: 0, x: 10, y: 20, width: 30, height: 15 }])]), 0, W, H);
    expect(isBinary(a)).toBe(true);
    expect(sum(a)).toBe(450);
    expect(at(a, 10, 20)).toBe(1);
    expect(at(a, 39, 34)).toBe(1);
    expect(at(a, 40, 34)).toBe(0);
    expect(at(a, 9, 20)).toBe(0);
    expect(at(a, 10, 35)).toBe(0);
  });

  it('half-pixel edges still cover width×height pixels (half-open sampling)', () => {
    const a = rasterizeShapes(shapes([rect([{ frame: 0, x: 10.5, y: 0.5, width: 3, height: 2 }])]), 0, W, H);
    expect(sum(a)).toBe(6);
  });

  it('is clipped at the frame edges', () => {
    const a = rasterizeShapes(shapes([rect([{ frame: 0, x: -10, y: -10, width: 20, height: 20 }])]), 0, W, H);
    expect(sum(a)).toBe(100);
    const b = rasterizeShapes(shapes([rect([{ frame: 0, x: W - 5, y: H - 5, width: 50, height: 50 }])]), 0, W, H);
    expect(sum(b)).toBe(25);
  });
});

describe('ellipses', () => {
  it('area ≈ πab', () => {
    const a = rasterizeShapes(shapes([ellipse([{ frame: 0, cx: 60, cy: 45, rx: 40, ry: 25 }])]), 0, W, H);
    expect(isBinary(a)).toBe(true);
    expect(Math.abs(sum(a) - Math.PI * 40 * 25) / (Math.PI * 40 * 25)).toBeLessThan(0.01);
  });

  it('feathered area ≈ πab too (the ramp is centred on the outline)', () => {
    const a = rasterizeShapes(shapes([ellipse([{ frame: 0, cx: 60, cy: 45, rx: 40, ry: 25 }], { feather: 6 })]), 0, W, H);
    expect(Math.abs(sum(a) - Math.PI * 40 * 25) / (Math.PI * 40 * 25)).toBeLessThan(0.01);
  });

  it('feather follows the true distance to the outline, even on a thin ellipse', () => {
    const [cx, cy, rx, ry, f] = [60, 45, 50, 8, 10];
    const a = rasterizeShapes(shapes([ellipse([{ frame: 0, cx, cy, rx, ry }], { feather: f })]), 0, W, H);
    // Reference: distance to a densely sampled outline (spacing < 0.01 px).
    const outline: [number, number][] = [];
    for (let i = 0; i < 40000; i++) {
      const t = (i / 40000) * 2 * Math.PI;
      outline.push([cx + rx * Math.cos(t), cy + ry * Math.sin(t)]);
    }
    for (let y = 25; y < 65; y += 3) {
      for (let x = 0; x < W; x += 3) {
        const px = x + 0.5, py = y + 0.5;
        let d = Infinity;
        for (const [ox, oy] of outline) d = Math.min(d, Math.hypot(px - ox, py - oy));
        const inside = ((px - cx) / rx) ** 2 + ((py - cy) / ry) ** 2 < 1;
        const expected = Math.min(1, Math.max(0, 0.5 - (inside ? -d : d) / f));
        expect(Math.abs(at(a, x, y) - expected), `pixel ${x},${y}`).toBeLessThan(0.002);
      }
    }
  });
});

describe('feather', () => {
  it('is strictly between 0 and 1 only in the band; exact 0 outside and exact 1 deep inside', () => {
    const f = 10;
    const [x0, y0, x1, y1] = [30, 20, 90, 70];
    const a = rasterizeShapes(shapes([rect([{ frame: 0, x: x0, y: y0, width: x1 - x0, height: y1 - y0 }], { feather: f })]), 0, W, H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const px = x + 0.5, py = y + 0.5;
        const dx = Math.max(x0 - px, px - x1), dy = Math.max(y0 - py, py - y1);
        const sd = dx <= 0 && dy <= 0 ? Math.max(dx, dy) : Math.hypot(Math.max(dx, 0), Math.max(dy, 0));
        const v = at(a, x, y);
        if (sd >= f / 2) expect(Object.is(v, 0), `outside ${x},${y} = ${v}`).toBe(true);
        else if (sd <= -f / 2) expect(v).toBe(1);
        else {
          expect(v).toBeGreaterThan(0);
          expect(v).toBeLessThan(1);
          expect(v).toBeCloseTo(0.5 - sd / f, 6);
        }
      }
    }
  });

  it('is exactly +0 wherever the outline is at least f/2 away (ellipse and polygon)', () => {
    const [cx, cy, rx, ry, fe] = [40, 40, 25, 12, 7.3];
    const tri: [number, number][] = [[70, 10], [115, 30], [90, 80]];
    const fp = 5.1;
    const e = rasterizeShapes(shapes([ellipse([{ frame: 0, cx, cy, rx, ry }], { feather: fe })]), 0, W, H);
    const p = rasterizeShapes(shapes([polygon([{ frame: 0, points: tri }], { feather: fp })]), 0, W, H);
    let checked = 0;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const px = x + 0.5, py = y + 0.5;
        // Ellipse: |s - 1|·min(rx, ry) is a lower bound on the distance to the outline.
        const s = Math.hypot((px - cx) / rx, (py - cy) / ry);
        if (s > 1 && (s - 1) * Math.min(rx, ry) >= fe / 2) {
          expect(Object.is(at(e, x, y), 0), `ellipse ${x},${y}`).toBe(true);
          checked++;
        }
        // Polygon: brute-force distance to every edge, outside by even-odd.
        let d = Infinity;
        let inside = false;
        for (let i = 0; i < 3; i++) {
          const [ax, ay] = tri[i]!, [bx, by] = tri[(i + 1) % 3]!;
          const t = Math.max(0, Math.min(1, ((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2)));
          d = Math.min(d, Math.hypot(px - ax - t * (bx - ax), py - ay - t * (by - ay)));
          if (ay > py !== by > py && px < ax + ((py - ay) * (bx - ax)) / (by - ay)) inside = !inside;
        }
        if (!inside && d >= fp / 2) expect(Object.is(at(p, x, y), 0), `polygon ${x},${y}`).toBe(true);
        else if (!inside) expect(at(p, x, y)).toBeCloseTo(0.5 - d / fp, 5);
        else if (d >= fp / 2) expect(at(p, x, y)).toBe(1);
        else expect(at(p, x, y)).toBeCloseTo(0.5 + d / fp, 5);
      }
    }
    expect(checked).toBeGreaterThan(W * H / 2);
    expect([...e, ...p].every((v) => !Object.is(v, -0) && v >= 0 && v <= 1)).toBe(true);
  });
});

describe('polygons', () => {
  it('a square polygon rasterizes like the same rectangle, hard and feathered', () => {
    for (const feather of [0, 4, 9]) {
      const r = rasterizeShapes(shapes([rect([{ frame: 0, x: 20, y: 15, width: 50, height: 40 }], { feather })]), 0, W, H);
      const p = rasterizeShapes(
        shapes([polygon([{ frame: 0, points: [[20, 15], [70, 15], [70, 55], [20, 55]] }], { feather })]),
        0,
        W,
        H,
      );
      for (let i = 0; i < r.length; i++) expect(Math.abs(r[i]! - p[i]!)).toBeLessThan(1e-6);
    }
  });

  it('triangle area matches, and crossing outlines fill even-odd', () => {
    const tri = rasterizeShapes(shapes([polygon([{ frame: 0, points: [[0, 0], [100, 0], [0, 80]] }])]), 0, W, H);
    expect(Math.abs(sum(tri) - 4000)).toBeLessThan(60);
    // A five-pointed star drawn in one stroke: its centre pentagon is outside under even-odd.
    const star: [number, number][] = [];
    for (let i = 0; i < 5; i++) {
      const t = -Math.PI / 2 + (i * 4 * Math.PI) / 5;
      star.push([60 + 40 * Math.cos(t), 45 + 40 * Math.sin(t)]);
    }
    const s = rasterizeShapes(shapes([polygon([{ frame: 0, points: star }])]), 0, W, H);
    expect(at(s, 60, 45)).toBe(0);
    expect(at(s, 60, 10)).toBe(1); // inside the top point
  });
});

describe('keyframes', () => {
  const moving = rect([
    { frame: 0, x: 0, y: 0, width: 10, height: 10 },
    { frame: 10, x: 40, y: 20, width: 30, height: 50 },
  ]);

  it('interpolates linearly between keyframes', () => {
    expect(shapeAt(moving, 5)).toEqual({ kind: 'rectangle', x: 20, y: 10, width: 20, height: 30 });
    const half = rasterizeShapes(shapes([moving]), 5, W, H);
    const still = rasterizeShapes(shapes([rect([{ frame: 0, x: 20, y: 10, width: 20, height: 30 }])]), 0, W, H);
    expect(half).toEqual(still);
  });

  it('holds before the first and after the last keyframe', () => {
    const late = rect([
      { frame: 5, x: 1, y: 2, width: 3, height: 4 },
      { frame: 9, x: 5, y: 6, width: 7, height: 8 },
    ]);
    expect(shapeAt(late, 0)).toEqual({ kind: 'rectangle', x: 1, y: 2, width: 3, height: 4 });
    expect(shapeAt(late, 100)).toEqual({ kind: 'rectangle', x: 5, y: 6, width: 7, height: 8 });
  });

  it('interpolates ellipses and polygon points', () => {
    const e = ellipse([
      { frame: 0, cx: 10, cy: 10, rx: 4, ry: 2 },
      { frame: 4, cx: 30, cy: 10, rx: 8, ry: 6 },
    ]);
    expect(shapeAt(e, 1)).toEqual({ kind: 'ellipse', cx: 15, cy: 10, rx: 5, ry: 3 });
    const p = polygon([
      { frame: 0, points: [[0, 0], [10, 0], [0, 10]] },
      { frame: 2, points: [[10, 10], [30, 10], [10, 50]] },
    ]);
    expect(shapeAt(p, 1)).toEqual({ kind: 'polygon', points: [[5, 5], [20, 5], [5, 30]] });
  });
});

describe('combining shapes', () => {
  const outer = rect([{ frame: 0, x: 10, y: 10, width: 60, height: 60 }]);
  const inner = rect([{ frame: 0, x: 30, y: 30, width: 20, height: 20 }], { mode: 'subtract' });

  it('subtract cuts a hole that is exactly 0', () => {
    const a = rasterizeShapes(shapes([outer, inner]), 0, W, H);
    expect(sum(a)).toBe(3600 - 400);
    expect(at(a, 40, 40)).toBe(0);
    expect(at(a, 15, 15)).toBe(1);
  });

  it('applies in order: a later add fills the hole again', () => {
    const refill = rect([{ frame: 0, x: 35, y: 35, width: 5, height: 5 }]);
    const a = rasterizeShapes(shapes([outer, inner, refill]), 0, W, H);
    expect(sum(a)).toBe(3600 - 400 + 25);
  });

  it('add takes the maximum of overlapping shapes', () => {
    const a = rasterizeShapes(shapes([outer, rect([{ frame: 0, x: 60, y: 10, width: 20, height: 10 }])]), 0, W, H);
    expect(sum(a)).toBe(3600 + 100);
  });

  it('invert swaps inside and outside exactly', () => {
    const a = rasterizeShapes(shapes([outer, inner]), 0, W, H);
    const b = rasterizeShapes(shapes([outer, inner], true), 0, W, H);
    for (let i = 0; i < a.length; i++) expect(b[i]).toBe(1 - a[i]!);
    expect(sum(b)).toBe(W * H - 3200);
    expect(isBinary(b)).toBe(true);
  });
});

describe('full HD', () => {
  it('rasterizes feathered shapes on a 1920×1080 frame', () => {
    const m = shapes([
      ellipse([{ frame: 0, cx: 960, cy: 540, rx: 700, ry: 400 }], { feather: 40 }),
      polygon([{ frame: 0, points: [[100, 100], [1800, 200], [1500, 1000], [300, 900]] }], { feather: 25, mode: 'subtract' }),
      rect([{ frame: 0, x: 800, y: 400, width: 300, height: 200 }], { feather: 12 }),
    ]);
    const a = rasterizeShapes(m, 0, 1920, 1080);
    expect(a.length).toBe(1920 * 1080);
    expect(a[0]).toBe(0);
    expect(a[540 * 1920 + 960]).toBe(1);
  });
});

describe('the fast paths draw the same bits', () => {
  // The first added shape is drawn straight into the frame's alpha (no coverage buffer to merge):
  // the result must be exactly the documented rule applied to each shape's own coverage.
  const reference = (m: ReturnType<typeof shapes>, frame: number, w: number, h: number): Float32Array => {
    const alpha = new Float32Array(w * h);
    for (const s of m.shapes) {
      const cov = coverage(shapeAt(s, frame), s.feather, w, h);
      if (!cov) continue;
      for (let y = cov.y0; y < cov.y1; y++) {
        for (let x = cov.x0; x < cov.x1; x++) {
          const c = cov.data[cov.base + y * cov.stride + x]!;
          const o = y * w + x;
          alpha[o] = s.mode === 'add' ? Math.max(alpha[o]!, c) : alpha[o]! * (1 - c);
        }
      }
    }
    if (m.invert) for (let i = 0; i < alpha.length; i++) alpha[i] = 1 - alpha[i]!;
    return alpha;
  };

  it.each([
    ['one feathered ellipse', shapes([ellipse([{ frame: 0, cx: 61.3, cy: 40.2, rx: 37.5, ry: 22.1 }], { feather: 9 })])],
    ['a subtract first, then adds over each other', shapes([
      rect([{ frame: 0, x: 20, y: 20, width: 30, height: 30 }], { mode: 'subtract', feather: 4 }),
      polygon([{ frame: 0, points: [[5, 5], [100, 12], [70, 80]] }], { feather: 6 }),
      ellipse([{ frame: 0, cx: 60, cy: 45, rx: 50, ry: 8 }], { feather: 10 }),
      rect([{ frame: 0, x: 40, y: 30, width: 20, height: 20 }], { mode: 'subtract' }),
    ])],
    ['inverted, partly outside the frame', shapes([ellipse([{ frame: 0, cx: 110, cy: 5, rx: 30, ry: 20 }], { feather: 12 })], true)],
  ])('%s', (_name, m) => {
    const expected = reference(m, 0, W, H);
    // Twice through one recycled buffer, as the render loop uses it.
    let reuse = rasterizeShapeMask(m, 0, W, H);
    reuse = rasterizeShapeMask(m, 0, W, H, reuse);
    const got = reuse.alpha;
    let diff = 0;
    for (let i = 0; i < got.length; i++) if (!Object.is(got[i], expected[i])) diff++;
    expect(diff).toBe(0);
  });

  it('distances walked pixel by pixel (each solve starting from the last) match cold solves', () => {
    for (const [e0, e1] of [[307, 205], [50, 8], [400, 399.5]] as const) {
      const walk = new EllipseDistances(e0, e1);
      let worst = 0;
      for (let v = 0; v <= e1 + 30; v += 0.75) {
        for (let u = 0; u <= e0 + 30; u += 0.5) {
          worst = Math.max(worst, Math.abs(walk.at(u, v) - ellipseDistance(e0, e1, u, v)));
        }
      }
      expect(worst, `${e0}×${e1}`).toBeLessThan(1e-7);
    }
  });
});
