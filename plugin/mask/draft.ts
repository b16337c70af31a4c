/**
 * The mask editor's working state and the job spec's `mask` made from it.
 *
 * A draft is what the editor edits; `draftToMaskSpec` is the only way it becomes a job spec
 * field. Shape coordinates are frame (sequence) pixels and keyframe frames count from the
 * job's first frame, exactly as protocol/mask.ts expects, so the conversion only drops the
 * editor's bookkeeping (ids, the unused source's settings) and sorts keyframes.
 * Pure TypeScript: no DOM, no Node.
 */
import type {
  EllipseKeyframe,
  Mask,
  PolygonKeyframe,
  RectangleKeyframe,
  Shape,
} from '../../protocol/mask.ts';
import type { Time } from '../../protocol/fields.ts';

export type ShapeKind = Shape['kind'];
export type ShapeMode = Shape['mode'];

interface DraftShapeCommon {
  /** Editor-only identity (selection, React keys); not sent. */
  id: string;
  mode: ShapeMode;
  /** Feather width in frame pixels (0..1000). */
  feather: number;
}

export type DraftShape =
  | (DraftShapeCommon & { kind: 'rectangle'; keyframes: RectangleKeyframe[] })
  | (DraftShapeCommon & { kind: 'ellipse'; keyframes: EllipseKeyframe[] })
  | (DraftShapeCommon & { kind: 'polygon'; keyframes: PolygonKeyframe[] });

/** A matte clip taken from the track above the source (filled in by the host's pick). */
export interface DraftMatte {
  /** Media path of the matte clip. */
  path: string;
  /** Where in the matte clip the job's first frame is read (absent = its start). */
  in?: Time;
  channel: 'luma' | 'alpha';
  /** What the editor shows for it (clip name); not sent. */
  label?: string;
}

export interface MaskDraft {
  /** Which form `draftToMaskSpec` produces. */
  source: 'shapes' | 'matte';
  /** Combined in order: add = union, subtract = cut out. */
  shapes: DraftShape[];
  /** Invert the whole shapes mask (generate outside the shapes). */
  invert: boolean;
  /** The matte, once picked; kept while the source is switched back to shapes. */
  matte: DraftMatte | null;
}

export function emptyDraft(): MaskDraft {
  return { source: 'shapes', shapes: [], invert: false, matte: null };
}

/**
 * The job spec's `mask`. Always returns a spec-shaped value; a draft that is not ready yet
 * (no shapes, no matte picked) gives one the job spec schema rejects with its own message
 * ("a shapes mask needs at least 1 shape", "must not be empty"); `draftProblem` says the same
 * thing up front for the form.
 */
export function draftToMaskSpec(draft: MaskDraft): Mask {
  if (draft.source === 'matte') {
    const m = draft.matte;
    const spec: Extract<Mask, { type: 'matte' }> = { type: 'matte', path: m?.path ?? '', channel: m?.channel ?? 'luma' };
    if (m?.in) spec.in = { ...m.in } as Time;
    return spec;
  }
  return { type: 'shapes', shapes: draft.shapes.map(shapeToSpec), invert: draft.invert };
}

function shapeToSpec(s: DraftShape): Shape {
  const common = { mode: s.mode, feather: s.feather };
  switch (s.kind) {
    case 'rectangle':
      return { kind: 'rectangle', ...common, keyframes: sortKeys(s.keyframes).map(({ frame, x, y, width, height }) => ({ frame, x, y, width, height })) };
    case 'ellipse':
      return { kind: 'ellipse', ...common, keyframes: sortKeys(s.keyframes).map(({ frame, cx, cy, rx, ry }) => ({ frame, cx, cy, rx, ry })) };
    case 'polygon':
      return {
        kind: 'polygon',
        ...common,
        keyframes: sortKeys(s.keyframes).map(({ frame, points }) => ({ frame, points: points.map(([x, y]) => [x, y] as [number, number]) })),
      };
  }
}

function sortKeys<K extends { frame: number }>(keys: readonly K[]): K[] {
  return [...keys].sort((a, b) => a.frame - b.frame);
}

/**
 * Why the draft cannot be sent yet, in an editor's words, or null when it can. With
 * `durationFrames` (the job's length) it also catches keyframes past the job's last frame,
 * which the companion refuses (e.g. after the range was shortened).
 */
export function draftProblem(draft: MaskDraft, durationFrames?: number): string | null {
  if (draft.source === 'matte') return draft.matte?.path ? null : 'Pick a matte clip on the track above';
  if (draft.shapes.length === 0) return 'Draw at least one shape on the frame';
  if (durationFrames !== undefined) {
    for (const [i, s] of draft.shapes.entries()) {
      const late = s.keyframes.find((k) => k.frame >= durationFrames);
      if (late) return `Shape ${i + 1} has a keyframe at frame ${late.frame}, past the job's last frame (${durationFrames - 1})`;
    }
  }
  return null;
}
