import { describe, expect, it } from 'vitest';
import { checkMaskInFrame } from '../../companion/masks/index.ts';
import { ReshootError } from '../../companion/errors.ts';
import { ellipse, polygon, rect, shapes } from './helpers.ts';

function badMask(fn: () => void): ReshootError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ReshootError);
    expect((e as ReshootError).code).toBe('bad_mask');
    return e as ReshootError;
  }
  throw new Error('expected a bad_mask error');
}

describe('checkMaskInFrame', () => {
  it('accepts shapes inside or partly inside the frame', () => {
    const m = shapes([
      rect([{ frame: 0, x: 10, y: 10, width: 50, height: 50 }]),
      ellipse([{ frame: 0, cx: -10, cy: 50, rx: 20, ry: 20 }]),
    ]);
    expect(() => checkMaskInFrame(m, 1920, 1080, 24)).not.toThrow();
  });

  it('refuses a shape entirely outside the frame, naming it', () => {
    const m = shapes([
      rect([{ frame: 0, x: 10, y: 10, width: 50, height: 50 }]),
      ellipse([{ frame: 0, cx: 3000, cy: 500, rx: 100, ry: 100 }]),
    ]);
    const e = badMask(() => checkMaskInFrame(m, 1920, 1080, 24));
    expect(e.message).toContain('mask.shapes[1]');
    expect(e.message).toContain('1920x1080');
  });

  it('a shape touching only the frame edge line is outside; its feather can bring it in', () => {
    const edge = (feather: number) => shapes([rect([{ frame: 0, x: 1920, y: 0, width: 100, height: 100 }], { feather })]);
    badMask(() => checkMaskInFrame(edge(0), 1920, 1080, 1));
    expect(() => checkMaskInFrame(edge(10), 1920, 1080, 1)).not.toThrow();
  });

  it('accepts a shape that starts off-screen and moves across the frame', () => {
    const m = shapes([
      rect([
        { frame: 0, x: -500, y: 100, width: 100, height: 100 },
        { frame: 23, x: 2500, y: 100, width: 100, height: 100 },
      ]),
    ]);
    expect(() => checkMaskInFrame(m, 1920, 1080, 24)).not.toThrow();
  });

  it('refuses keyframes past the end of the job', () => {
    const m = shapes([rect([{ frame: 0, x: 0, y: 0, width: 10, height: 10 }, { frame: 48, x: 0, y: 0, width: 20, height: 20 }])]);
    const e = badMask(() => checkMaskInFrame(m, 1920, 1080, 48));
    expect(e.message).toContain('mask.shapes[0].keyframes[1]');
    expect(e.message).toContain('frame 48');
  });

  it('refuses polygons whose keyframes have different point counts', () => {
    const m = shapes([
      polygon([
        { frame: 0, points: [[0, 0], [10, 0], [0, 10]] },
        { frame: 5, points: [[0, 0], [10, 0], [10, 10], [0, 10]] },
      ]),
    ]);
    const e = badMask(() => checkMaskInFrame(m, 1920, 1080, 24));
    expect(e.message).toContain('mask.shapes[0].keyframes[1]');
    expect(e.message).toContain('same number');
  });

  it('has nothing to check for raster mattes', () => {
    expect(() => checkMaskInFrame({ type: 'matte', path: 'm.mov', channel: 'luma' }, 1920, 1080, 24)).not.toThrow();
  });
});
