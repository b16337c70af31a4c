/**
 * Window planning (DESIGN.md §3 step 1): the model's working size, the crop around a mask, and
 * how a long job is split into windows the model can take in one go. Pure arithmetic.
 */
import type { LatentSpec, SizeRules } from '../models/types.ts';
import type { Rect } from './image.ts';

/**
 * The largest size with the frame's aspect that fits the model's pixel budget, snapped to the
 * model's multiple. Never larger than the frame itself (no invented detail), but at least one
 * multiple in each direction.
 */
export function workingSize(width: number, height: number, rules: SizeRules): { width: number; height: number } {
  const m = rules.multiple;
  let scale = Math.min(1, Math.sqrt(rules.maxPixels / (width * height)));
  for (;;) {
    const w = Math.max(m, Math.round((width * scale) / m) * m);
    const h = Math.max(m, Math.round((height * scale) / m) * m);
    if (w * h <= rules.maxPixels || (w === m && h === m)) return { width: w, height: h };
    scale *= 0.98;
  }
}

/**
 * The region of the frame a fill works on: the mask's bounding box grown by a context margin
 * (a quarter of its larger side, at least 16 px), so the model sees what surrounds the hole.
 * Working on the crop instead of the whole frame keeps small masks at full detail.
 */
export function cropAround(bbox: Rect, frameWidth: number, frameHeight: number): Rect {
  const margin = Math.max(16, Math.round(0.25 * Math.max(bbox.width, bbox.height)));
  const x0 = Math.max(0, bbox.x - margin);
  const y0 = Math.max(0, bbox.y - margin);
  const x1 = Math.min(frameWidth, bbox.x + bbox.width + margin);
  const y1 = Math.min(frameHeight, bbox.y + bbox.height + margin);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/**
 * `r` grown about its centre to at least `minSide` px each way, within the frame (a frame side
 * shorter than that is taken whole): a multi-scale model's first pass needs room for one latent
 * cell at a fraction of the working size.
 */
export function growTo(r: Rect, minSide: number, frameWidth: number, frameHeight: number): Rect {
  const grow = (start: number, length: number, limit: number): [number, number] => {
    if (length >= minSide || length >= limit) return [start, length];
    const want = Math.min(minSide, limit);
    const at = Math.min(Math.max(0, start - Math.floor((want - length) / 2)), limit - want);
    return [at, want];
  };
  const [x, width] = grow(r.x, r.width, frameWidth);
  const [y, height] = grow(r.y, r.height, frameHeight);
  return { x, y, width, height };
}

/**
 * `r` grown to the model's multiple each way (about its centre, within the frame) when that still
 * fits the pixel budget: the crop then goes to the model at its own pixels, with no area-down on
 * the way in and no bilinear on the way back, so the model sees the source's own detail and the
 * fill comes back as sharp as it was made. A crop that cannot grow so (over budget, or a frame
 * side shorter than the next multiple) is left as it is, and workingSize scales it.
 */
export function snapToGrid(r: Rect, rules: SizeRules, frameWidth: number, frameHeight: number): Rect {
  const up = (n: number) => Math.ceil(n / rules.multiple) * rules.multiple;
  const width = up(r.width);
  const height = up(r.height);
  if (width > frameWidth || height > frameHeight || width * height > rules.maxPixels) return r;
  const at = (start: number, length: number, want: number, limit: number) => Math.min(Math.max(0, start - Math.floor((want - length) / 2)), limit - want);
  return { x: at(r.x, r.width, width, frameWidth), y: at(r.y, r.height, height, frameHeight), width, height };
}

/** Bounding box of alpha > 0, or null when the mask is empty. */
export function maskBounds(alpha: Float32Array, width: number, height: number): Rect | null {
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (alpha[row + x]! > 0) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}

export function unionRect(a: Rect | null, b: Rect | null): Rect | null {
  if (!a) return b;
  if (!b) return a;
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return { x, y, width: Math.max(a.x + a.width, b.x + b.width) - x, height: Math.max(a.y + a.height, b.y + b.height) - y };
}

/** Latent groups a window can hold: maxFrames = 1 + temporal · groups. */
function maxGroups(rules: SizeRules, latent: LatentSpec): number {
  return Math.floor((rules.maxFrames - 1) / latent.temporal);
}

/** The smallest window length of the form 1 + temporal·k that holds `frames` frames. */
export function padToWindow(frames: number, latent: LatentSpec): number {
  return 1 + latent.temporal * Math.ceil(Math.max(frames - 1, 0) / latent.temporal);
}

/**
 * Splits `frames` frames (a fill range) into consecutive windows of at most maxFrames, each
 * holding its real frames; the engine pads each to 1 + temporal·k.
 */
export function splitRange(frames: number, rules: SizeRules, latent: LatentSpec): number[] {
  const max = 1 + latent.temporal * maxGroups(rules, latent);
  const out: number[] = [];
  for (let left = frames; left > 0; left -= max) out.push(Math.min(max, left));
  return out;
}

export interface Chain {
  /** Known frames each window starts from (1 + temporal·k). */
  context: number;
  /** New frames each window keeps, in order; each window generates a multiple of temporal. */
  windows: number[];
}

/**
 * Plans a chain of windows that grows a clip by `newFrames` frames: each window starts from
 * the last `context` known frames (source, then what earlier windows made) and adds up to
 * temporal·(groups − k) frames. About a third of each window is context: enough motion to
 * continue, most of the compute spent on new frames.
 */
export function planChain(newFrames: number, available: number, rules: SizeRules, latent: LatentSpec, contextWanted?: number): Chain {
  const groups = maxGroups(rules, latent);
  if (groups < 2) throw new RangeError('the model window is too short to extend a clip');
  const T = latent.temporal;
  const wanted = contextWanted ?? 1 + T * Math.max(1, Math.floor(groups / 3));
  const k = Math.max(0, Math.min(Math.floor((Math.min(wanted, available) - 1) / T), groups - 1));
  const context = 1 + T * k;
  const perWindow = T * (groups - k);
  const windows: number[] = [];
  for (let left = newFrames; left > 0; left -= perWindow) windows.push(Math.min(perWindow, left));
  return { context, windows };
}
