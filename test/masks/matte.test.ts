import { describe, expect, it } from 'vitest';
import { matteToAlpha } from '../../companion/masks/index.ts';
import { ReshootError } from '../../companion/errors.ts';

const px = (channels: number, ...values: number[]) => ({ width: values.length / channels, height: 1, channels, data: Uint8Array.from(values) });

describe('matteToAlpha', () => {
  it('luma of RGB: black is exactly 0, white exactly 1, Rec.709 weights between', () => {
    const a = matteToAlpha(px(3, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 255, 0, 128, 128, 128), 'luma');
    expect(Object.is(a[0], 0)).toBe(true);
    expect(a[1]).toBe(1);
    expect(a[2]).toBeCloseTo(0.2126, 6);
    expect(a[3]).toBeCloseTo(0.7152, 6);
    expect(a[4]).toBeCloseTo(128 / 255, 6);
  });

  it('luma of RGBA ignores alpha; gray mattes read directly', () => {
    expect(Array.from(matteToAlpha(px(4, 255, 255, 255, 0, 0, 0, 0, 255), 'luma'))).toEqual([1, 0]);
    expect(Array.from(matteToAlpha(px(1, 0, 255), 'luma'))).toEqual([0, 1]);
  });

  it('reads the alpha channel when asked', () => {
    expect(Array.from(matteToAlpha(px(4, 255, 255, 255, 0, 0, 0, 0, 255), 'alpha'))).toEqual([0, 1]);
    expect(Array.from(matteToAlpha(px(2, 255, 0, 0, 255), 'alpha'))).toEqual([0, 1]);
  });

  it('refuses alpha from a matte without one, and malformed frames', () => {
    expect(() => matteToAlpha(px(3, 1, 2, 3), 'alpha')).toThrow(ReshootError);
    expect(() => matteToAlpha({ width: 2, height: 2, channels: 3, data: new Uint8Array(5) }, 'luma')).toThrow(/malformed/);
  });
});
