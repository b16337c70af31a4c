import { describe, expect, it } from 'vitest';
import { fpsSchema, timeToFrames } from '../../protocol/fields.ts';
import { formatRational, framesToSeconds, parseRational, rational } from '../../protocol/rational.ts';

describe('frame rates', () => {
  it('24000/1001 round-trips exactly', () => {
    const r = fpsSchema.parse('24000/1001');
    expect(r).toEqual({ num: 24000, den: 1001 });
    expect(fpsSchema.parse(formatRational(r))).toEqual(r);
    expect(fpsSchema.parse(r)).toEqual(r);
  });

  it.each([
    [29.97, 30000, 1001],
    ['29.97', 30000, 1001],
    [23.976, 24000, 1001],
    [59.94, 60000, 1001],
    ['25', 25, 1],
    [25, 25, 1],
    [12.5, 25, 2],
    [{ num: 30, den: 1 }, 30, 1],
  ])('%s → %i/%i', (input, num, den) => {
    expect(fpsSchema.parse(input)).toEqual({ num, den });
  });
});

describe('timeToFrames', () => {
  const rates = ['24000/1001', '24', '25', '30000/1001', '30', '50', '60000/1001', '60'];

  it.each(rates)('frames ↔ seconds are exact at %s fps', (text) => {
    const fps = parseRational(text);
    for (let n = 0; n < 200_000; n += n < 1000 ? 1 : 997) {
      expect(timeToFrames({ frames: n }, fps)).toBe(n);
      expect(timeToFrames({ seconds: framesToSeconds(n, fps) }, fps)).toBe(n);
    }
  });

  it('rounds seconds to the nearest frame boundary', () => {
    expect(timeToFrames({ seconds: 2 }, rational(24000, 1001))).toBe(48);
    expect(timeToFrames({ seconds: 1 }, rational(30000, 1001))).toBe(30);
    expect(timeToFrames({ seconds: 1.5 }, rational(24))).toBe(36);
    expect(timeToFrames({ seconds: 0.01 }, rational(25))).toBe(0);
    expect(timeToFrames({ seconds: 3600 }, rational(30000, 1001))).toBe(107892);
  });
});
