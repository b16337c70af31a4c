/**
 * The synthetic video family `builtin:shapes` is trained on, with its ground truth. The same
 * definition lives in tools/train-shapes/shapes.py (the training data); test/quality/shapes.test.ts
 * checks that the two render the same pixels.
 *
 * One to three coloured shapes (circle, square, diamond) move at constant velocity and bounce off
 * the walls over a slowly panning background (a two-colour gradient with faint stripes). A clip is
 * a pure function of its seed: parameters come from mulberry32 in a fixed order, geometry is float64
 * arithmetic, and a pixel is rounded as floor(v·255 + 0.5).
 *
 * Ground truth a test can ask for: the clean background of any frame, every shape's centre in any
 * frame, each shape's footprint, and a render with any shapes left out (what a fill should give).
 */
import { mulberry32 } from '../models/weights.ts';
import { makeFrame, type Frame } from './frame.ts';

export type ShapeKind = 'circle' | 'square' | 'diamond';

/** Linear RGB in [0, 1]; distinct, saturated, named in order. */
export const SHAPE_PALETTE: readonly { name: string; rgb: readonly [number, number, number] }[] = [
  { name: 'red', rgb: [0.9, 0.12, 0.12] },
  { name: 'green', rgb: [0.1, 0.75, 0.15] },
  { name: 'blue', rgb: [0.12, 0.25, 0.95] },
  { name: 'yellow', rgb: [0.95, 0.85, 0.1] },
  { name: 'magenta', rgb: [0.85, 0.15, 0.85] },
  { name: 'cyan', rgb: [0.1, 0.85, 0.9] },
];
const KINDS: readonly ShapeKind[] = ['circle', 'square', 'diamond'];

export interface MovingShape {
  kind: ShapeKind;
  /** Index into SHAPE_PALETTE. */
  colour: number;
  radius: number;
  /** Centre and velocity (px, px/frame) at frame 0. */
  x: number;
  y: number;
  vx: number;
  vy: number;
}

export interface ShapesClip {
  seed: number;
  width: number;
  height: number;
  background: {
    a: [number, number, number];
    b: [number, number, number];
    angle: number;
    period: number;
    stripeAngle: number;
    amp: number;
    /** px/frame */
    pan: [number, number];
  };
  shapes: MovingShape[];
}

/** Seeds at or above this are the training set; tests and the demo use seeds below it. */
export const SHAPES_TRAIN_SEED_BASE = 1_000_000;

/** The clip of `seed` (the order of random draws is the definition: keep it in step with shapes.py). */
export function shapesClip(seed: number, width = 64, height = 64): ShapesClip {
  const r = mulberry32(seed);
  const rgb = (): [number, number, number] => [0.15 + 0.7 * r(), 0.15 + 0.7 * r(), 0.15 + 0.7 * r()];
  const a = rgb();
  const b = rgb();
  const angle = 2 * Math.PI * r();
  const period = 16 + 16 * r();
  const stripeAngle = 2 * Math.PI * r();
  const amp = 0.04 + 0.06 * r();
  const panX = (r() * 2 - 1) * 0.6;
  const panY = (r() * 2 - 1) * 0.6;
  const n = 1 + Math.floor(r() * 3);
  const colours = SHAPE_PALETTE.map((_, i) => i);
  const shapes: MovingShape[] = [];
  for (let i = 0; i < n; i++) {
    const kind = KINDS[Math.floor(r() * KINDS.length)]!;
    const colour = colours.splice(Math.floor(r() * colours.length), 1)[0]!;
    const radius = 5 + 4 * r();
    const x = radius + (width - 2 * radius) * r();
    const y = radius + (height - 2 * radius) * r();
    const speed = 0.8 + 1.7 * r();
    const direction = 2 * Math.PI * r();
    shapes.push({ kind, colour, radius, x, y, vx: speed * Math.cos(direction), vy: speed * Math.sin(direction) });
  }
  return { seed, width, height, background: { a, b, angle, period, stripeAngle, amp, pan: [panX, panY] }, shapes };
}

/** A shape's centre in frames 0 … frames−1: constant velocity, reflected at the walls. */
export function shapeTrack(s: MovingShape, frames: number, width: number, height: number): [number, number][] {
  let { x, y, vx, vy } = s;
  const r = s.radius;
  const out: [number, number][] = [];
  for (let i = 0; i < frames; i++) {
    out.push([x, y]);
    x += vx;
    y += vy;
    if (x < r) [x, vx] = [2 * r - x, -vx];
    else if (x > width - r) [x, vx] = [2 * (width - r) - x, -vx];
    if (y < r) [y, vy] = [2 * r - y, -vy];
    else if (y > height - r) [y, vy] = [2 * (height - r) - y, -vy];
  }
  return out;
}

/** Anti-aliased coverage of a shape at a pixel centre, from its signed distance. */
function coverage(kind: ShapeKind, radius: number, dx: number, dy: number): number {
  let d: number;
  if (kind === 'circle') d = Math.sqrt(dx * dx + dy * dy) - radius;
  else if (kind === 'square') d = Math.max(Math.abs(dx), Math.abs(dy)) - 0.85 * radius;
  else d = (Math.abs(dx) + Math.abs(dy) - 1.2 * radius) * Math.sqrt(0.5);
  return Math.min(1, Math.max(0, 0.5 - d));
}

const toByte = (v: number): number => Math.floor(Math.min(1, Math.max(0, v)) * 255 + 0.5);

export interface RenderOptions {
  /** First frame (time origin of the clip is frame 0). */
  start?: number;
  /** Indices of shapes to leave out: the truth a fill over them should produce. */
  without?: readonly number[];
}

/** Frames start … start+count−1 of the clip. */
export function renderShapes(clip: ShapesClip, count: number, opts: RenderOptions = {}): Frame[] {
  const { width: w, height: h, background: bg } = clip;
  const start = opts.start ?? 0;
  const drawn = clip.shapes.map((s, i) => ({ s, i })).filter(({ i }) => !opts.without?.includes(i));
  const tracks = drawn.map(({ s }) => shapeTrack(s, start + count, w, h));
  const [ca, sa] = [Math.cos(bg.angle), Math.sin(bg.angle)];
  const [cs, ss] = [Math.cos(bg.stripeAngle), Math.sin(bg.stripeAngle)];
  const k = (2 * Math.PI) / bg.period;
  const frames: Frame[] = [];
  for (let i = 0; i < count; i++) {
    const t = start + i;
    const f = makeFrame(w, h, 3);
    for (let y = 0; y < h; y++) {
      const py = y + 0.5;
      for (let x = 0; x < w; x++) {
        const px = x + 0.5;
        const u = px - bg.pan[0] * t - w / 2;
        const v = py - bg.pan[1] * t - h / 2;
        const g = Math.min(1, Math.max(0, 0.5 + (u * ca + v * sa) / 64));
        const stripes = bg.amp * Math.sin(k * (u * cs + v * ss));
        let rgb = [0, 1, 2].map((c) => bg.a[c]! + (bg.b[c]! - bg.a[c]!) * g + stripes);
        drawn.forEach(({ s }, j) => {
          const [cx, cy] = tracks[j]![t]!;
          const alpha = coverage(s.kind, s.radius, px - cx, py - cy);
          if (alpha > 0) rgb = rgb.map((c, ch) => c * (1 - alpha) + SHAPE_PALETTE[s.colour]!.rgb[ch]! * alpha);
        });
        const p = (y * w + x) * 3;
        f.data[p] = toByte(rgb[0]!);
        f.data[p + 1] = toByte(rgb[1]!);
        f.data[p + 2] = toByte(rgb[2]!);
      }
    }
    frames.push(f);
  }
  return frames;
}

/** Per frame, 1 where shape `index` covers any part of the pixel, else 0 (row-major, w·h). */
export function shapeFootprints(clip: ShapesClip, index: number, count: number, start = 0): Float32Array[] {
  const { width: w, height: h } = clip;
  const s = clip.shapes[index]!;
  const track = shapeTrack(s, start + count, w, h);
  const out: Float32Array[] = [];
  for (let i = 0; i < count; i++) {
    const [cx, cy] = track[start + i]!;
    const m = new Float32Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (coverage(s.kind, s.radius, x + 0.5 - cx, y + 0.5 - cy) > 0) m[y * w + x] = 1;
    out.push(m);
  }
  return out;
}

/** Words for a clip ("a red circle and a blue square"): for captions and demo output. */
export function describeShapes(clip: ShapesClip): string {
  const names = clip.shapes.map((s) => `a ${SHAPE_PALETTE[s.colour]!.name} ${s.kind}`);
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)}` : names[0]!;
}
