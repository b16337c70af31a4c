/**
 * A mask shape's geometry at a given frame: keyframes are linearly interpolated, and held
 * before the first and after the last (an editor's keyframes mean "stay here until told
 * otherwise"). Pure TypeScript, no Node, no DOM: the companion rasterises with it and the
 * panel's mask editor previews with it, so both see the same shape at every frame.
 */
import type { Shape } from './mask.ts';

export type Point = [number, number];

export type ShapeGeometry =
  | { kind: 'rectangle'; x: number; y: number; width: number; height: number }
  | { kind: 'ellipse'; cx: number; cy: number; rx: number; ry: number }
  | { kind: 'polygon'; points: Point[] };

const lerp = (a: number, b: number, t: number) => a + (b - a) * t;

export function shapeAt(shape: Pick<Shape, 'kind' | 'keyframes'>, frame: number): ShapeGeometry {
  const s = shape as Shape;
  switch (s.kind) {
    case 'rectangle': {
      const [a, b, t] = bracket(s.keyframes, frame);
      return {
        kind: 'rectangle',
        x: lerp(a.x, b.x, t),
        y: lerp(a.y, b.y, t),
        width: lerp(a.width, b.width, t),
        height: lerp(a.height, b.height, t),
      };
    }
    case 'ellipse': {
      const [a, b, t] = bracket(s.keyframes, frame);
      return { kind: 'ellipse', cx: lerp(a.cx, b.cx, t), cy: lerp(a.cy, b.cy, t), rx: lerp(a.rx, b.rx, t), ry: lerp(a.ry, b.ry, t) };
    }
    case 'polygon': {
      const [a, b, t] = bracket(s.keyframes, frame);
      if (a.points.length !== b.points.length) {
        throw new RangeError(`polygon keyframes at ${a.frame} and ${b.frame} have different point counts`);
      }
      return {
        kind: 'polygon',
        points: a.points.map((p, i) => [lerp(p[0], b.points[i]![0], t), lerp(p[1], b.points[i]![1], t)] as Point),
      };
    }
  }
}

/** The keyframes either side of `frame` and how far between them it is (t = 0 holds `a`). */
export function bracket<K extends { frame: number }>(keys: readonly K[], frame: number): [K, K, number] {
  const first = keys[0]!;
  const last = keys[keys.length - 1]!;
  if (frame <= first.frame) return [first, first, 0];
  if (frame >= last.frame) return [last, last, 0];
  let i = 1;
  while (keys[i]!.frame < frame) i++;
  const a = keys[i - 1]!;
  const b = keys[i]!;
  return [a, b, (frame - a.frame) / (b.frame - a.frame)];
}

/** Axis-aligned bounds [x0, y0, x1, y1] of the geometry, in sequence pixels. */
export function boundsOf(g: ShapeGeometry): [number, number, number, number] {
  switch (g.kind) {
    case 'rectangle':
      return [g.x, g.y, g.x + g.width, g.y + g.height];
    case 'ellipse':
      return [g.cx - g.rx, g.cy - g.ry, g.cx + g.rx, g.cy + g.ry];
    case 'polygon': {
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (const [x, y] of g.points) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
      return [x0, y0, x1, y1];
    }
  }
}
