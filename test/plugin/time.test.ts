import { describe, expect, it } from 'vitest';
import { parseRational, type Rational } from '../../protocol/rational.ts';
import { TICKS_PER_SECOND } from '../../plugin/host/types.ts';
import {
  frameToSeconds,
  frameToTicks,
  secondsToFrame,
  secondsToTicks,
  snapToFrame,
  sourceInOut,
  sourceRange,
  ticksPerFrame,
  ticksToFrame,
} from '../../plugin/time.ts';

const RATES: [string, number][] = [
  ['24000/1001', 10594584000],
  ['24', 10584000000],
  ['25', 10160640000],
  ['30000/1001', 8475667200],
  ['30', 8467200000],
  ['50', 5080320000],
  ['60000/1001', 4237833600],
  ['60', 4233600000],
];

describe('ticksPerFrame', () => {
  it.each(RATES)('%s fps has an exact integer number of ticks per frame', (rate, tpf) => {
    const fps = parseRational(rate);
    expect(ticksPerFrame(fps)).toBe(tpf);
    expect((ticksPerFrame(fps) * fps.num) / fps.den).toBe(TICKS_PER_SECOND);
  });

  it('reads decimal NTSC rates as the 1001 family', () => {
    expect(ticksPerFrame(parseRational('23.976'))).toBe(10594584000);
    expect(ticksPerFrame(parseRational('29.97'))).toBe(8475667200);
    expect(ticksPerFrame(parseRational('59.94'))).toBe(4237833600);
  });

  it('refuses a rate whose frame is not a whole number of ticks, and says why', () => {
    expect(() => ticksPerFrame({ num: 11, den: 1 })).toThrow(/no whole number of Premiere ticks per frame/);
    expect(() => ticksPerFrame({ num: 0, den: 1 })).toThrow(RangeError);
  });
});

describe.each(RATES)('at %s fps', (rate) => {
  const fps: Rational = parseRational(rate);
  const tpf = ticksPerFrame(fps);
  const nineHours = Math.floor((9 * 3600 * fps.num) / fps.den);

  it('round-trips frames ↔ ticks ↔ seconds exactly, up to 9 hours', () => {
    for (const f of [0, 1, 2, 23, 24, 1000, 86_399, nineHours - 1, nineHours]) {
      const t = frameToTicks(f, fps);
      expect(Number.isSafeInteger(t)).toBe(true);
      expect(ticksToFrame(t, fps)).toBe(f);
      expect(ticksToFrame(t + tpf - 1, fps)).toBe(f); // last tick of frame f
      expect(secondsToFrame(frameToSeconds(f, fps), fps)).toBe(f);
      expect(secondsToTicks(frameToSeconds(f, fps))).toBe(t);
      expect(snapToFrame(t + Math.floor(tpf / 2) - 1, fps)).toBe(t);
      expect(snapToFrame(t + Math.ceil(tpf / 2), fps)).toBe(t + tpf);
    }
  });

  it('floors a tick just before a frame boundary even where the float quotient rounds up', () => {
    const t = frameToTicks(nineHours, fps);
    expect(ticksToFrame(t - 1, fps)).toBe(nineHours - 1);
  });

  it('gives the source frame range a clip shows, including an in-point offset', () => {
    // A clip at 1 h on the timeline showing 48 frames of its media from source frame 100.
    const start = frameToTicks(Math.round((3600 * fps.num) / fps.den), fps);
    const item = { startTicks: start, endTicks: start + 48 * tpf, inPointTicks: 100 * tpf };
    expect(sourceRange(item, fps)).toEqual({ in: 100, out: 148 });
    expect(sourceInOut(item, fps)).toEqual({ in: { frames: 100 }, out: { frames: 148 } });
    // Late in a long timeline, and with an in point 8 hours into the media.
    const late = frameToTicks(nineHours - 10, fps);
    const deep = frameToTicks(nineHours - 20, fps);
    expect(sourceRange({ startTicks: late, endTicks: late + 10 * tpf, inPointTicks: deep }, fps)).toEqual({ in: nineHours - 20, out: nineHours - 10 });
  });

  it('takes the source frame containing an in point between sequence frames', () => {
    const item = { startTicks: 0, endTicks: 10 * tpf, inPointTicks: 5 * tpf + 123 };
    expect(sourceRange(item, fps)).toEqual({ in: 5, out: 15 });
  });
});

describe('limits', () => {
  it('refuses ticks past 2^53 and fractional ticks', () => {
    const fps = parseRational('60');
    expect(() => frameToTicks(10 * 3600 * 60, fps)).toThrow(/2\^53/);
    expect(() => ticksToFrame(1.5, fps)).toThrow(/whole number of ticks/);
    expect(() => secondsToTicks(Number.NaN)).toThrow(RangeError);
  });

  it('converts a cross-rate case exactly: 1 s at 23.976 is frame 23 (frame 24 starts at 1.001 s)', () => {
    const fps = parseRational('23.976');
    expect(secondsToFrame(1, fps)).toBe(23);
    expect(secondsToFrame(1.001, fps)).toBe(24);
    expect(frameToTicks(24, fps)).toBe(254270016000);
  });
});
