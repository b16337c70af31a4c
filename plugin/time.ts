/**
 * Exact time math between Premiere ticks, frames and seconds.
 *
 * Premiere counts time in ticks, 254016000000 per second = 2^12·3^4·5^6·7^2. That number is
 * chosen so that every common video rate has a whole number of ticks per frame:
 *   24 → 10584000000, 25 → 10160640000, 30 → 8467200000, 50 → 5080320000, 60 → 4233600000,
 *   24000/1001 → 10594584000, 30000/1001 → 8475667200, 60000/1001 → 4237833600.
 * So a frame boundary is an integer tick, and frame ↔ tick conversion is integer division and
 * multiplication, never a float that drifts. A rate whose frame is not a whole number of ticks
 * (e.g. 11 fps: 11 is no factor of it) has no exact frame boundaries at all: ticksPerFrame refuses it rather than
 * silently rounding, because every later frame would land a fraction of a tick off.
 *
 * Tick counts are plain numbers (see host/types.ts): exact up to 2^53 ticks ≈ 9.85 hours. The
 * intermediates that could pass 2^53 (ticks · fps numerator) are avoided: frames are computed
 * by dividing by the integer ticks-per-frame, and ticks-per-frame itself with BigInt.
 */
import { TICKS_PER_SECOND, type TrackItemInfo } from './host/types.ts';
import { formatRational, type Rational } from '../protocol/rational.ts';

const TPS = BigInt(TICKS_PER_SECOND);

/** Ticks in one frame at `fps`; throws when a frame is not a whole number of ticks. */
export function ticksPerFrame(fps: Rational): number {
  if (!Number.isSafeInteger(fps.num) || !Number.isSafeInteger(fps.den) || fps.num <= 0 || fps.den <= 0) {
    throw new RangeError(`not a frame rate: ${fps.num}/${fps.den}`);
  }
  const n = TPS * BigInt(fps.den);
  const d = BigInt(fps.num);
  if (n % d !== 0n) {
    throw new RangeError(
      `${formatRational(fps)} fps has no whole number of Premiere ticks per frame ` +
        `(${TICKS_PER_SECOND}·${fps.den}/${fps.num} is not an integer), so its frame boundaries cannot be ` +
        `placed exactly on a Premiere timeline`,
    );
  }
  return Number(n / d);
}

function assertTicks(ticks: number, what = 'ticks'): void {
  if (!Number.isSafeInteger(ticks)) {
    throw new RangeError(`${what} must be a whole number of ticks below 2^53 (about 9.8 hours), got ${ticks}`);
  }
}

/** Floor division of safe integers, exact even where the float quotient rounds up to the next integer. */
function floorDiv(a: number, b: number): number {
  let q = Math.floor(a / b);
  // a/b is correctly rounded but may land on q+1 when a is just below a multiple of b; both
  // products below are near `a`, so they are exact integers.
  if (q * b > a) q -= 1;
  else if ((q + 1) * b <= a) q += 1;
  return q;
}

/** The frame that contains tick `ticks` (floor): frame n covers [n·tpf, (n+1)·tpf). */
export function ticksToFrame(ticks: number, fps: Rational): number {
  assertTicks(ticks);
  return floorDiv(ticks, ticksPerFrame(fps));
}

/** Where frame `frame` starts, in ticks. */
export function frameToTicks(frame: number, fps: Rational): number {
  if (!Number.isSafeInteger(frame)) throw new RangeError(`expected a whole frame number, got ${frame}`);
  const ticks = frame * ticksPerFrame(fps);
  if (!Number.isSafeInteger(ticks)) {
    throw new RangeError(`frame ${frame} at ${formatRational(fps)} fps is past 2^53 ticks (about 9.8 hours)`);
  }
  return ticks;
}

/** Seconds to ticks, rounded to the nearest tick (a float second is never exact anyway). */
export function secondsToTicks(seconds: number): number {
  if (!Number.isFinite(seconds)) throw new RangeError(`expected a number of seconds, got ${seconds}`);
  const ticks = Math.round(seconds * TICKS_PER_SECOND);
  assertTicks(ticks, `${seconds} seconds`);
  return ticks;
}

export function ticksToSeconds(ticks: number): number {
  return ticks / TICKS_PER_SECOND;
}

/**
 * The frame containing the instant `seconds`. Seconds are first rounded to the nearest tick, so a
 * frame boundary written in seconds (n·1001/24000, float noise and all) maps back to exactly n.
 */
export function secondsToFrame(seconds: number, fps: Rational): number {
  return ticksToFrame(secondsToTicks(seconds), fps);
}

export function frameToSeconds(frame: number, fps: Rational): number {
  return ticksToSeconds(frameToTicks(frame, fps));
}

/** The frame boundary nearest to `ticks` (a tick exactly half way goes to the later frame). */
export function snapToFrame(ticks: number, fps: Rational): number {
  const tpf = ticksPerFrame(fps);
  assertTicks(ticks);
  const q = floorDiv(ticks, tpf);
  const rest = ticks - q * tpf;
  return (2 * rest >= tpf ? q + 1 : q) * tpf;
}

/** The frame boundary at or before `ticks`. */
export function floorToFrame(ticks: number, fps: Rational): number {
  return ticksToFrame(ticks, fps) * ticksPerFrame(fps);
}

export function isFrameBoundary(ticks: number, fps: Rational): boolean {
  return Number.isSafeInteger(ticks) && ticks % ticksPerFrame(fps) === 0;
}

/** Length of [startTicks, endTicks) in whole frames (the partial frame at the end, if any, dropped). */
export function durationFrames(startTicks: number, endTicks: number, fps: Rational): number {
  assertTicks(startTicks);
  assertTicks(endTicks);
  return floorDiv(endTicks - startTicks, ticksPerFrame(fps));
}

/** A frame range [in, out): `out` is the first frame not included. */
export interface FrameRange {
  in: number;
  out: number;
}

/**
 * The source frames a track item shows, at the sequence rate: what the job spec's
 * `source.in` / `source.out` receive. `in` is the source frame containing the item's in point
 * (source media at another rate may start between sequence frames); the range is as long as the
 * item is on the timeline. Speed changes are not modelled (the Host does not report them):
 * at 100 % speed, timeline frames and source frames are one to one.
 */
export function sourceRange(item: Pick<TrackItemInfo, 'startTicks' | 'endTicks' | 'inPointTicks'>, fps: Rational): FrameRange {
  const first = ticksToFrame(item.inPointTicks, fps);
  return { in: first, out: first + durationFrames(item.startTicks, item.endTicks, fps) };
}

/** The timeline frames an item covers, [first frame, first frame after it). */
export function timelineRange(item: Pick<TrackItemInfo, 'startTicks' | 'endTicks'>, fps: Rational): FrameRange {
  return { in: ticksToFrame(item.startTicks, fps), out: ticksToFrame(item.startTicks, fps) + durationFrames(item.startTicks, item.endTicks, fps) };
}

/** `source.in` / `source.out` as job spec time values. */
export function sourceInOut(item: Pick<TrackItemInfo, 'startTicks' | 'endTicks' | 'inPointTicks'>, fps: Rational): { in: { frames: number }; out: { frames: number } } {
  const r = sourceRange(item, fps);
  return { in: { frames: r.in }, out: { frames: r.out } };
}
