/**
 * The mask editor's model: the job spec's `mask` made from a draft, keyframe editing, and the
 * interpolation the editor previews — checked against the companion's rasteriser.
 */
import { describe, expect, it } from 'vitest';
import { safeParseJobSpec } from '../../protocol/jobspec.ts';
import { maskSchema, type ShapesMask } from '../../protocol/mask.ts';
import { shapeAt as protocolShapeAt } from '../../protocol/maskInterpolate.ts';
import { rasterizeShapes, shapeAt as companionShapeAt, checkMaskInFrame } from '../../companion/masks/index.ts';
import { draftProblem, draftToMaskSpec, emptyDraft, type DraftShape, type MaskDraft } from '../../plugin/mask/draft.ts';
import {
  addKeyframe,
  contains,
  fromDrag,
  keyframeFrames,
  movePoint,
  newShape,
  nextShapeId,
  removeKeyframe,
  removeShape,
  resize,
  setShapeAt,
  shapeAt,
  shapeUnder,
  timecode,
  translate,
  translateAll,
  updateShape,
} from '../../plugin/mask/edit.ts';

const W = 160;
const H = 90;

/** Rectangle drawn at frame 0, moved at frame 20 (auto-key), polygon and a subtracting ellipse. */
function sampleDraft(): MaskDraft {
  let rect = newShape('shape-1', fromDrag('rectangle', [10, 10], [50, 40]), 0, { feather: 4 });
  rect = setShapeAt(rect, 20, translate(shapeAt(rect, 20), 80, 40));
  const poly = newShape('shape-2', { kind: 'polygon', points: [[100, 10], [140, 10], [120, 40]] }, 5);
  const hole = newShape('shape-3', fromDrag('ellipse', [20, 15], [30, 25]), 0, { mode: 'subtract' });
  return { ...emptyDraft(), shapes: [rect, poly, hole], invert: true };
}

const fillSpec = (mask: unknown) => ({
  kind: 'fill',
  source: { path: '/media/a.mov', in: { frames: 0 }, out: { frames: 24 } },
  sequence: { fps: '24000/1001', width: W, height: H },
  mask,
});

describe('draft → job spec mask', () => {
  it('an empty draft is a shapes mask with no shapes, which the schema refuses in its own words', () => {
    expect(draftToMaskSpec(emptyDraft())).toEqual({ type: 'shapes', shapes: [], invert: false });
    expect(draftProblem(emptyDraft())).toMatch(/at least one shape/);
    const r = maskSchema.safeParse(draftToMaskSpec(emptyDraft()));
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain('a shapes mask needs at least 1 shape');
  });

  it('gives exactly the shapes, keyframe frames, feather, modes and invert the job spec receives', () => {
    const spec = draftToMaskSpec(sampleDraft());
    expect(spec).toEqual({
      type: 'shapes',
      invert: true,
      shapes: [
        {
          kind: 'rectangle',
          mode: 'add',
          feather: 4,
          keyframes: [
            { frame: 0, x: 10, y: 10, width: 40, height: 30 },
            { frame: 20, x: 90, y: 50, width: 40, height: 30 },
          ],
        },
        { kind: 'polygon', mode: 'add', feather: 0, keyframes: [{ frame: 5, points: [[100, 10], [140, 10], [120, 40]] }] },
        { kind: 'ellipse', mode: 'subtract', feather: 0, keyframes: [{ frame: 0, cx: 25, cy: 20, rx: 5, ry: 5 }] },
      ],
    });
    // No editor bookkeeping leaks (ids), and the whole fill job validates unchanged.
    expect(JSON.stringify(spec)).not.toContain('shape-1');
    const parsed = safeParseJobSpec(fillSpec(spec));
    expect(parsed.ok).toBe(true);
    if (parsed.ok && parsed.spec.kind === 'fill') expect(parsed.spec.mask).toEqual(spec);
    expect(draftProblem(sampleDraft())).toBeNull();
    expect(() => checkMaskInFrame(spec, W, H, 24)).not.toThrow();
  });

  it('sorts keyframes by frame even if a draft holds them out of order', () => {
    const d = sampleDraft();
    const rect = d.shapes[0] as Extract<DraftShape, { kind: 'rectangle' }>;
    const shuffled: MaskDraft = { ...d, shapes: [{ ...rect, keyframes: [...rect.keyframes].reverse() }] };
    const s = draftToMaskSpec(shuffled) as ShapesMask;
    expect(s.shapes[0]!.keyframes.map((k) => k.frame)).toEqual([0, 20]);
  });

  it('matte from the track above: the spec\'s matte form, with in point and channel; ids and labels stay behind', () => {
    const d: MaskDraft = { ...sampleDraft(), source: 'matte', matte: { path: '/media/matte.mov', in: { frames: 12 }, channel: 'alpha', label: 'matte (V2)' } };
    const spec = draftToMaskSpec(d);
    expect(spec).toEqual({ type: 'matte', path: '/media/matte.mov', in: { frames: 12 }, channel: 'alpha' });
    expect(safeParseJobSpec(fillSpec(spec)).ok).toBe(true);
    expect(draftProblem(d)).toBeNull();
    // Not picked yet: refused by the schema, and the editor says why.
    const none: MaskDraft = { ...emptyDraft(), source: 'matte' };
    expect(draftToMaskSpec(none)).toEqual({ type: 'matte', path: '', channel: 'luma' });
    expect(maskSchema.safeParse(draftToMaskSpec(none)).success).toBe(false);
    expect(draftProblem(none)).toMatch(/matte/);
    // Switching back to shapes keeps the shapes.
    expect(draftToMaskSpec({ ...d, source: 'shapes' })).toEqual(draftToMaskSpec(sampleDraft()));
  });
});

describe('keyframes', () => {
  const rect = sampleDraft().shapes[0]!;

  it('interpolates linearly between keyframes and holds before the first and after the last', () => {
    expect(shapeAt(rect, 10)).toEqual({ kind: 'rectangle', x: 50, y: 30, width: 40, height: 30 });
    expect(shapeAt(rect, 5)).toEqual({ kind: 'rectangle', x: 30, y: 20, width: 40, height: 30 });
    expect(shapeAt(rect, 20)).toEqual({ kind: 'rectangle', x: 90, y: 50, width: 40, height: 30 });
    expect(shapeAt(rect, 23)).toEqual(shapeAt(rect, 20));
    const late = setShapeAt(rect, 0, shapeAt(rect, 0)); // same shape
    const moved = { ...late, keyframes: late.keyframes.map((k) => ({ ...k, frame: k.frame + 6 })) } as DraftShape;
    expect(shapeAt(moved, 0)).toEqual(shapeAt(moved, 6));
    expect(shapeAt(moved, 3)).toEqual({ kind: 'rectangle', x: 10, y: 10, width: 40, height: 30 });
  });

  it('polygons move point for point; ellipses too', () => {
    let p = newShape('p', { kind: 'polygon', points: [[0, 0], [10, 0], [0, 10]] }, 0);
    p = setShapeAt(p, 4, { kind: 'polygon', points: [[4, 8], [14, 0], [0, 30]] });
    expect(shapeAt(p, 1)).toEqual({ kind: 'polygon', points: [[1, 2], [11, 0], [0, 15]] });
    let e = newShape('e', { kind: 'ellipse', cx: 10, cy: 10, rx: 2, ry: 4 }, 10);
    e = setShapeAt(e, 30, { kind: 'ellipse', cx: 30, cy: 10, rx: 6, ry: 4 });
    expect(shapeAt(e, 15)).toEqual({ kind: 'ellipse', cx: 15, cy: 10, rx: 3, ry: 4 });
  });

  it('the editor, protocol and companion interpolate with one function', () => {
    expect(shapeAt).toBe(protocolShapeAt);
    expect(companionShapeAt).toBe(protocolShapeAt);
  });

  it('editing at a keyframe replaces it; elsewhere adds one (auto-key); set keyframe pins the interpolated shape', () => {
    const edited = setShapeAt(rect, 20, { kind: 'rectangle', x: 0, y: 0, width: 1, height: 1 });
    expect(edited.keyframes.map((k) => k.frame)).toEqual([0, 20]);
    const pinned = addKeyframe(rect, 10);
    expect(pinned.keyframes).toEqual([
      { frame: 0, x: 10, y: 10, width: 40, height: 30 },
      { frame: 10, x: 50, y: 30, width: 40, height: 30 },
      { frame: 20, x: 90, y: 50, width: 40, height: 30 },
    ]);
    for (let f = 0; f <= 23; f++) expect(shapeAt(pinned, f)).toEqual(shapeAt(rect, f)); // pinning changes nothing
    expect(addKeyframe(pinned, 10)).toBe(pinned);
    expect(removeKeyframe(pinned, 10)).toEqual(rect);
    const single = newShape('s', fromDrag('rectangle', [0, 0], [5, 5]), 3);
    expect(removeKeyframe(single, 3)).toBe(single); // a shape keeps one keyframe
    expect(keyframeFrames(sampleDraft().shapes)).toEqual([0, 5, 20]);
  });

  it('moving at every keyframe shifts the whole animation and adds no keyframe', () => {
    const moved = translateAll(rect, 5, -3);
    expect(moved.keyframes).toEqual([
      { frame: 0, x: 15, y: 7, width: 40, height: 30 },
      { frame: 20, x: 95, y: 47, width: 40, height: 30 },
    ]);
    const p = setShapeAt(newShape('p', { kind: 'polygon', points: [[0, 0], [10, 0], [0, 10]] }, 0), 8, { kind: 'polygon', points: [[2, 2], [12, 2], [2, 12]] });
    expect(translateAll(p, 1, 1).keyframes).toEqual([
      { frame: 0, points: [[1, 1], [11, 1], [1, 11]] },
      { frame: 8, points: [[3, 3], [13, 3], [3, 13]] },
    ]);
  });

  it('draftProblem catches keyframes past the job\'s last frame', () => {
    expect(draftProblem(sampleDraft(), 21)).toBeNull();
    expect(draftProblem(sampleDraft(), 20)).toMatch(/Shape 1 has a keyframe at frame 20, past the job's last frame \(19\)/);
  });

  it('shape list operations', () => {
    const d = sampleDraft();
    expect(nextShapeId(d)).toBe('shape-4');
    expect(removeShape(d, 'shape-2').shapes.map((s) => s.id)).toEqual(['shape-1', 'shape-3']);
    expect(updateShape(d, 'shape-3', (s) => ({ ...s, feather: 9 })).shapes[2]!.feather).toBe(9);
    expect(d.shapes[2]!.feather).toBe(0); // not mutated
  });
});

describe('geometry edits', () => {
  it('drags make boxes in any direction; Shift makes them square', () => {
    expect(fromDrag('rectangle', [50, 40], [10, 10])).toEqual({ kind: 'rectangle', x: 10, y: 10, width: 40, height: 30 });
    expect(fromDrag('ellipse', [0, 0], [20, 10])).toEqual({ kind: 'ellipse', cx: 10, cy: 5, rx: 10, ry: 5 });
    expect(fromDrag('rectangle', [0, 0], [20, -10], true)).toEqual({ kind: 'rectangle', x: 0, y: -20, width: 20, height: 20 });
  });

  it('resize handles keep the opposite side and flip when dragged across', () => {
    const r = { kind: 'rectangle' as const, x: 10, y: 10, width: 40, height: 30 };
    expect(resize(r, 'se', [60, 60])).toEqual({ kind: 'rectangle', x: 10, y: 10, width: 50, height: 50 });
    expect(resize(r, 'w', [0, 999])).toEqual({ kind: 'rectangle', x: 0, y: 10, width: 50, height: 30 });
    expect(resize(r, 'n', [999, 50])).toEqual({ kind: 'rectangle', x: 10, y: 40, width: 40, height: 10 });
    const poly = { kind: 'polygon' as const, points: [[0, 0], [10, 0], [0, 10]] as [number, number][] };
    expect(resize(poly, 'se', [20, 40])).toEqual({ kind: 'polygon', points: [[0, 0], [20, 0], [0, 40]] });
    expect(movePoint(poly, 1, [5, 5])).toEqual({ kind: 'polygon', points: [[0, 0], [5, 5], [0, 10]] });
  });

  it('hit tests the topmost shape at the current frame', () => {
    const d = sampleDraft();
    expect(shapeUnder(d.shapes, 0, [25, 20])?.id).toBe('shape-3');
    expect(shapeUnder(d.shapes, 0, [45, 35])?.id).toBe('shape-1');
    expect(shapeUnder(d.shapes, 20, [45, 35])).toBeNull(); // the rectangle has moved away by then
    expect(shapeUnder(d.shapes, 0, [120, 20])?.id).toBe('shape-2');
    expect(contains({ kind: 'polygon', points: [[0, 0], [10, 0], [0, 10]] }, [9, 9])).toBe(false);
    expect(contains({ kind: 'polygon', points: [[0, 0], [10, 0], [0, 10]] }, [6, 6], 1.5)).toBe(true);
  });

  it('timecode', () => {
    expect(timecode(0, { num: 24000, den: 1001 })).toBe('00:00:00:00');
    expect(timecode(47, { num: 24, den: 1 })).toBe('00:00:01:23');
    expect(timecode(25 * 61 + 3, { num: 25, den: 1 })).toBe('00:01:01:03');
  });
});

describe('agreement with the companion rasteriser', () => {
  const sum = (a: Float32Array) => a.reduce((s, v) => s + v, 0);

  it('at a middle frame the rasterised pixels are exactly the interpolated rectangle', () => {
    // Drawn at frame 0, moved at frame 20: at frame 10 the editor shows x 50..90, y 30..60.
    const d = sampleDraft();
    const rectOnly = draftToMaskSpec({ ...d, invert: false, shapes: [{ ...d.shapes[0]!, feather: 0 }] }) as ShapesMask;
    const alpha = rasterizeShapes(rectOnly, 10, W, H);
    const g = shapeAt(d.shapes[0]!, 10);
    expect(g).toEqual({ kind: 'rectangle', x: 50, y: 30, width: 40, height: 30 });
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const inside = contains(g, [x + 0.5, y + 0.5]) ? 1 : 0;
        expect(alpha[y * W + x], `pixel ${x},${y}`).toBe(inside);
      }
    }
    expect(sum(alpha)).toBe(40 * 30);
  });

  it('between keyframes at every frame, the coverage of an ellipse and a polygon matches the editor\'s shape', () => {
    let e = newShape('e', { kind: 'ellipse', cx: 30, cy: 30, rx: 10, ry: 8 }, 0);
    e = setShapeAt(e, 12, { kind: 'ellipse', cx: 120, cy: 50, rx: 20, ry: 16 });
    let p = newShape('p', { kind: 'polygon', points: [[10, 80], [40, 60], [60, 85]] }, 3);
    p = setShapeAt(p, 9, { kind: 'polygon', points: [[100, 80], [150, 60], [140, 88]] });
    for (const shape of [e, p]) {
      for (const f of [0, 2, 5, 6, 7, 11, 15]) {
        const spec = draftToMaskSpec({ ...emptyDraft(), shapes: [shape] }) as ShapesMask;
        const alpha = rasterizeShapes(spec, f, W, H);
        const g = shapeAt(shape, f);
        let mismatched = 0;
        for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if ((contains(g, [x + 0.5, y + 0.5]) ? 1 : 0) !== alpha[y * W + x]) mismatched++;
        // Hard edges: the only disagreements allowed are pixel centres within rounding of the outline.
        expect(mismatched, `${shape.kind} at frame ${f}`).toBeLessThanOrEqual(2);
      }
    }
  });

  it('feather, subtract and invert rasterise as the editor composes them', () => {
    const d = sampleDraft();
    const spec = draftToMaskSpec(d) as ShapesMask;
    const a = rasterizeShapes(spec, 0, W, H);
    // Inverted: outside every shape is generated, inside the rectangle kept, inside the hole (subtracted) generated again.
    expect(a[0]).toBe(1);
    expect(a[35 * W + 40]).toBe(0); // in the rectangle
    expect(a[20 * W + 25]).toBe(1); // in the subtracted ellipse
    // Feather 4: a ramp across ±2 px of the rectangle's left edge (x = 10) at frame 0.
    const row = 30 * W;
    expect(a[row + 7]).toBe(1); // centre 7.5: 2.5 px outside
    expect(a[row + 12]).toBe(0); // centre 12.5: 2.5 px inside
    expect(a[row + 9]).toBeCloseTo(1 - (0.5 - 0.5 / 4), 5); // centre 9.5: 0.5 px outside, inverted
  });
});
