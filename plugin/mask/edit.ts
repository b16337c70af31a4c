/**
 * Pure editing operations behind the mask editor: geometry at a frame (the same interpolation
 * the companion rasterises with), keyframe add/remove, moving and resizing, hit testing.
 * Every function returns new objects; the draft is never mutated.
 */
import { shapeAt, boundsOf, type Point, type ShapeGeometry } from '../../protocol/maskInterpolate.ts';
import type { Rational } from '../../protocol/rational.ts';
import type { DraftShape, MaskDraft, ShapeKind } from './draft.ts';

export { shapeAt, boundsOf, type Point, type ShapeGeometry };

/** A shape's keyframe holding `g` at `frame` (g must be of the shape's kind). */
function keyOf(g: ShapeGeometry, frame: number) {
  switch (g.kind) {
    case 'rectangle':
      return { frame, x: g.x, y: g.y, width: g.width, height: g.height };
    case 'ellipse':
      return { frame, cx: g.cx, cy: g.cy, rx: g.rx, ry: g.ry };
    case 'polygon':
      return { frame, points: g.points.map(([x, y]) => [x, y] as Point) };
  }
}

/** A new shape with one keyframe at `frame`. */
export function newShape(id: string, g: ShapeGeometry, frame: number, opts: Partial<Pick<DraftShape, 'mode' | 'feather'>> = {}): DraftShape {
  return { id, kind: g.kind, mode: opts.mode ?? 'add', feather: opts.feather ?? 0, keyframes: [keyOf(g, frame)] } as DraftShape;
}

/**
 * The shape holding `g` at `frame`: the keyframe there is replaced, or one is added there
 * (auto-key: an edit between keyframes or outside them adds a keyframe at that frame, so the
 * other keyframes keep what they had).
 */
export function setShapeAt(shape: DraftShape, frame: number, g: ShapeGeometry): DraftShape {
  if (g.kind !== shape.kind) throw new TypeError(`a ${shape.kind} cannot take ${g.kind} geometry`);
  const key = keyOf(g, frame);
  const keys = (shape.keyframes as { frame: number }[]).filter((k) => k.frame !== frame);
  keys.push(key);
  keys.sort((a, b) => a.frame - b.frame);
  return { ...shape, keyframes: keys } as DraftShape;
}

/** Pins the shape's current (interpolated or held) geometry as a keyframe at `frame`. */
export function addKeyframe(shape: DraftShape, frame: number): DraftShape {
  if (hasKeyframe(shape, frame)) return shape;
  return setShapeAt(shape, frame, shapeAt(shape, frame));
}

/** Removes the keyframe at `frame`; a shape keeps at least one (delete the shape instead). */
export function removeKeyframe(shape: DraftShape, frame: number): DraftShape {
  if (shape.keyframes.length <= 1 || !hasKeyframe(shape, frame)) return shape;
  return { ...shape, keyframes: (shape.keyframes as { frame: number }[]).filter((k) => k.frame !== frame) } as DraftShape;
}

export function hasKeyframe(shape: DraftShape, frame: number): boolean {
  return shape.keyframes.some((k) => k.frame === frame);
}

/** Every keyframe frame of the given shapes, ascending, without repeats. */
export function keyframeFrames(shapes: readonly DraftShape[]): number[] {
  return [...new Set(shapes.flatMap((s) => s.keyframes.map((k) => k.frame)))].sort((a, b) => a - b);
}

export function updateShape(draft: MaskDraft, id: string, f: (s: DraftShape) => DraftShape): MaskDraft {
  return { ...draft, shapes: draft.shapes.map((s) => (s.id === id ? f(s) : s)) };
}

export function removeShape(draft: MaskDraft, id: string): MaskDraft {
  return { ...draft, shapes: draft.shapes.filter((s) => s.id !== id) };
}

/** An id not used by any shape of the draft. */
export function nextShapeId(draft: MaskDraft): string {
  let n = draft.shapes.length + 1;
  const used = new Set(draft.shapes.map((s) => s.id));
  while (used.has(`shape-${n}`)) n++;
  return `shape-${n}`;
}

export function translate(g: ShapeGeometry, dx: number, dy: number): ShapeGeometry {
  switch (g.kind) {
    case 'rectangle':
      return { ...g, x: g.x + dx, y: g.y + dy };
    case 'ellipse':
      return { ...g, cx: g.cx + dx, cy: g.cy + dy };
    case 'polygon':
      return { kind: 'polygon', points: g.points.map(([x, y]) => [x + dx, y + dy] as Point) };
  }
}

/** The shape moved by (dx, dy) at every keyframe: the whole animation shifts, its timing unchanged. */
export function translateAll(shape: DraftShape, dx: number, dy: number): DraftShape {
  const keys = (shape.keyframes as { frame: number }[]).map((k) => keyOf(translate(shapeAt(shape, k.frame), dx, dy), k.frame));
  return { ...shape, keyframes: keys } as DraftShape;
}

/** Bounding-box handles: corners and edge midpoints (n, ne, e, se, s, sw, w, nw). */
export type Handle = 'n' | 'ne' | 'e' | 'se' | 's' | 'sw' | 'w' | 'nw';
export const HANDLES: Handle[] = ['nw', 'n', 'ne', 'e', 'se', 's', 'sw', 'w'];

export function handlePoint(g: ShapeGeometry, h: Handle): Point {
  const [x0, y0, x1, y1] = boundsOf(g);
  const x = h.includes('w') ? x0 : h.includes('e') ? x1 : (x0 + x1) / 2;
  const y = h.includes('n') ? y0 : h.includes('s') ? y1 : (y0 + y1) / 2;
  return [x, y];
}

/** A box [x0, y0, x1, y1] (any corner order) as geometry of `kind` (polygons: the original scaled into it). */
function fromBox(kind: ShapeKind, box: [number, number, number, number], original: ShapeGeometry): ShapeGeometry {
  const x0 = Math.min(box[0], box[2]);
  const x1 = Math.max(box[0], box[2]);
  const y0 = Math.min(box[1], box[3]);
  const y1 = Math.max(box[1], box[3]);
  if (kind === 'rectangle') return { kind, x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
  if (kind === 'ellipse') return { kind, cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, rx: (x1 - x0) / 2, ry: (y1 - y0) / 2 };
  // Polygon: map each point from its old box into the new one (mirrored if dragged across).
  const [ox0, oy0, ox1, oy1] = boundsOf(original);
  const sx = (box[2] - box[0]) / (ox1 - ox0 || 1);
  const sy = (box[3] - box[1]) / (oy1 - oy0 || 1);
  const pts = (original as Extract<ShapeGeometry, { kind: 'polygon' }>).points;
  return { kind: 'polygon', points: pts.map(([x, y]) => [box[0] + (x - ox0) * sx, box[1] + (y - oy0) * sy] as Point) };
}

/** `g` with handle `h` dragged to `p` (the opposite side stays put; dragging across flips). */
export function resize(g: ShapeGeometry, h: Handle, p: Point): ShapeGeometry {
  const [x0, y0, x1, y1] = boundsOf(g);
  const box: [number, number, number, number] = [x0, y0, x1, y1];
  if (h.includes('w')) box[0] = p[0];
  if (h.includes('e')) box[2] = p[0];
  if (h.includes('n')) box[1] = p[1];
  if (h.includes('s')) box[3] = p[1];
  return fromBox(g.kind, box, g);
}

/** A rectangle or ellipse spanning the drag from `a` to `b` (`square`: equal sides, as with Shift). */
export function fromDrag(kind: 'rectangle' | 'ellipse', a: Point, b: Point, square = false): ShapeGeometry {
  let [bx, by] = b;
  if (square) {
    const s = Math.max(Math.abs(bx - a[0]), Math.abs(by - a[1]));
    bx = a[0] + Math.sign(bx - a[0] || 1) * s;
    by = a[1] + Math.sign(by - a[1] || 1) * s;
  }
  const placeholder: ShapeGeometry = { kind: 'rectangle', x: 0, y: 0, width: 0, height: 0 };
  return fromBox(kind, [a[0], a[1], bx, by], placeholder);
}

export function movePoint(g: Extract<ShapeGeometry, { kind: 'polygon' }>, i: number, p: Point): ShapeGeometry {
  return { kind: 'polygon', points: g.points.map((q, j) => (j === i ? ([p[0], p[1]] as Point) : q)) };
}

/** Whether `p` lies inside the geometry (outline included; `slop` grows it, in pixels). */
export function contains(g: ShapeGeometry, p: Point, slop = 0): boolean {
  const [x, y] = p;
  switch (g.kind) {
    case 'rectangle':
      return x >= g.x - slop && x <= g.x + g.width + slop && y >= g.y - slop && y <= g.y + g.height + slop;
    case 'ellipse': {
      const rx = g.rx + slop;
      const ry = g.ry + slop;
      if (rx <= 0 || ry <= 0) return false;
      const u = (x - g.cx) / rx;
      const v = (y - g.cy) / ry;
      return u * u + v * v <= 1;
    }
    case 'polygon': {
      let inside = false;
      const pts = g.points;
      for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
        const [xi, yi] = pts[i]!;
        const [xj, yj] = pts[j]!;
        if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
      }
      if (inside || slop <= 0) return inside;
      for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) if (segmentDistance(p, pts[j]!, pts[i]!) <= slop) return true;
      return false;
    }
  }
}

function segmentDistance(p: Point, a: Point, b: Point): number {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  const t = len2 ? Math.max(0, Math.min(1, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2)) : 0;
  return Math.hypot(p[0] - a[0] - t * dx, p[1] - a[1] - t * dy);
}

/** The topmost shape (last drawn) under `p` at `frame`, or null. */
export function shapeUnder(shapes: readonly DraftShape[], frame: number, p: Point, slop = 0): DraftShape | null {
  for (let i = shapes.length - 1; i >= 0; i--) if (contains(shapeAt(shapes[i]!, frame), p, slop)) return shapes[i]!;
  return null;
}

/** Rounds pointer-made coordinates to `step` pixels (keeps specs readable; interpolated pins stay exact). */
export function roundPoint(p: Point, step = 1): Point {
  return [Math.round(p[0] / step) * step, Math.round(p[1] / step) * step];
}

/** Non-drop-frame timecode HH:MM:SS:FF for `frame` at the nominal rate of `fps`. */
export function timecode(frame: number, fps: Rational): string {
  const nominal = Math.max(1, Math.round(fps.num / fps.den));
  const ff = frame % nominal;
  const total = Math.floor(frame / nominal);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(Math.floor(total / 3600))}:${pad(Math.floor(total / 60) % 60)}:${pad(total % 60)}:${pad(ff)}`;
}
