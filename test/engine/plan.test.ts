import { describe, expect, it } from 'vitest';
import { cropAround, growTo, maskBounds, padToWindow, planChain, snapToGrid, splitRange, workingSize } from '../../companion/engine/plan.ts';

const tinyRules = { multiple: 8, maxPixels: 128 * 72, maxFrames: 17 };
const tinyLatent = { channels: 384, spatial: 8, temporal: 2 };

describe('working size', () => {
  it('fits the pixel budget with the frame aspect, snapped to the multiple', () => {
    expect(workingSize(1920, 1080, tinyRules)).toEqual({ width: 128, height: 72 });
    const ltx = workingSize(1920, 1080, { multiple: 32, maxPixels: 768 * 512, maxFrames: 121 });
    expect(ltx.width % 32).toBe(0);
    expect(ltx.height % 32).toBe(0);
    expect(ltx.width * ltx.height).toBeLessThanOrEqual(768 * 512);
    expect(Math.abs(ltx.width / ltx.height - 16 / 9)).toBeLessThan(0.1);
  });
  it('never enlarges a small frame', () => {
    expect(workingSize(64, 48, tinyRules)).toEqual({ width: 64, height: 48 });
  });
});

describe('a fill crop snapped to the working grid', () => {
  const shapesRules = { multiple: 8, maxPixels: 64 * 64, maxFrames: 17 };
  it('grows to the next multiple about its centre, so the model takes it at its own pixels', () => {
    const r = snapToGrid({ x: 10, y: 5, width: 43, height: 51 }, shapesRules, 64, 64);
    expect(r).toEqual({ x: 8, y: 3, width: 48, height: 56 });
    expect(workingSize(r.width, r.height, shapesRules)).toEqual({ width: 48, height: 56 });
  });
  it('stays inside the frame, shifting at an edge; a crop already on the grid is kept', () => {
    expect(snapToGrid({ x: 50, y: 0, width: 14, height: 9 }, shapesRules, 64, 64)).toEqual({ x: 48, y: 0, width: 16, height: 16 });
    expect(snapToGrid({ x: 3, y: 4, width: 16, height: 24 }, shapesRules, 64, 64)).toEqual({ x: 3, y: 4, width: 16, height: 24 });
  });
  it('is left to workingSize when the grown crop is over budget or wider than the frame', () => {
    const over = { x: 0, y: 0, width: 130, height: 70 }; // 136 × 72 > 128 × 72
    expect(snapToGrid(over, tinyRules, 1920, 1080)).toEqual(over);
    const wide = { x: 0, y: 0, width: 57, height: 20 }; // 64 px does not fit a 60 px frame
    expect(snapToGrid(wide, shapesRules, 60, 64)).toEqual(wide);
  });
});

describe('windows', () => {
  it('pads to 1 + T·k', () => {
    expect(padToWindow(1, tinyLatent)).toBe(1);
    expect(padToWindow(2, tinyLatent)).toBe(3);
    expect(padToWindow(17, tinyLatent)).toBe(17);
    expect(padToWindow(12, { ...tinyLatent, temporal: 8 })).toBe(17);
  });
  it('splits a range into windows of at most maxFrames', () => {
    expect(splitRange(48, tinyRules, tinyLatent)).toEqual([17, 17, 14]);
    expect(splitRange(5, tinyRules, tinyLatent)).toEqual([5]);
  });
  it('chains an extension: context 1 + T·k, new frames a multiple of T per window', () => {
    // 8 groups; a third is context: k = 2 → 5 frames; 12 new frames per window.
    expect(planChain(24, 100, tinyRules, tinyLatent)).toEqual({ context: 5, windows: [12, 12] });
    expect(planChain(25, 100, tinyRules, tinyLatent)).toEqual({ context: 5, windows: [12, 12, 1] });
    // A 2-frame source can only give 1 frame of context.
    expect(planChain(10, 2, tinyRules, tinyLatent)).toEqual({ context: 1, windows: [10] });
    expect(planChain(10, 100, tinyRules, tinyLatent, 9).context).toBe(9);
  });
});

describe('crop', () => {
  it('grows the mask box by a margin, clamped to the frame', () => {
    const a = new Float32Array(100 * 50);
    a[20 * 100 + 30] = 0.5;
    a[25 * 100 + 40] = 1;
    const b = maskBounds(a, 100, 50)!;
    expect(b).toEqual({ x: 30, y: 20, width: 11, height: 6 });
    expect(cropAround(b, 100, 50)).toEqual({ x: 14, y: 4, width: 43, height: 38 });
    expect(maskBounds(new Float32Array(10), 5, 2)).toBeNull();
  });

  it('grows a crop about its centre to a least side, inside the frame; a frame side shorter than that is taken whole', () => {
    expect(growTo({ x: 80, y: 50, width: 42, height: 42 }, 64, 192, 128)).toEqual({ x: 69, y: 39, width: 64, height: 64 });
    // Near an edge: shifted inwards, never past the frame.
    expect(growTo({ x: 0, y: 100, width: 20, height: 28 }, 64, 192, 128)).toEqual({ x: 0, y: 64, width: 64, height: 64 });
    // Already large enough: unchanged. Frame narrower than the least side: the whole side.
    expect(growTo({ x: 5, y: 5, width: 70, height: 40 }, 64, 192, 48)).toEqual({ x: 5, y: 0, width: 70, height: 48 });
  });
});
