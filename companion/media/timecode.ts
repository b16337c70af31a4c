/**
 * SMPTE timecode as editors read it: "HH:MM:SS:FF", or "HH:MM:SS;FF" for drop-frame (29.97 and
 * 59.94 skip frame numbers 0–1 / 0–3 at each minute except every tenth, so the timecode keeps
 * to the wall clock). A timecode is a frame count at its nominal rate (24 for 23.976, 30 for
 * 29.97); outputs carry the timecode of their first frame so they land where they belong.
 */
import { toNumber, type Rational } from '../../protocol/rational.ts';

export interface Timecode {
  /** Frames since 00:00:00:00, counted at the nominal rate (drop-frame numbers excluded). */
  frames: number;
  /** Whole frames per timecode second: 24, 25, 30, 60, … */
  rate: number;
  dropFrame: boolean;
}

const DAY_SECONDS = 24 * 3600;

/** The nominal timecode rate of a frame rate (24000/1001 → 24). */
export function nominalRate(fps: Rational): number {
  return Math.max(1, Math.round(toNumber(fps)));
}

/** Frames dropped at each minute boundary (0 for non-drop rates). */
function dropPerMinute(tc: Pick<Timecode, 'rate' | 'dropFrame'>): number {
  return tc.dropFrame ? Math.round(tc.rate / 15) : 0; // 2 at 30, 4 at 60
}

function framesPerDay(tc: Pick<Timecode, 'rate' | 'dropFrame'>): number {
  return DAY_SECONDS * tc.rate - dropPerMinute(tc) * (24 * 60 - 24 * 6);
}

/** Reads "HH:MM:SS:FF" / "HH:MM:SS;FF" at the clip's rate; undefined when it is not a timecode. */
export function parseTimecode(text: string | undefined, fps: Rational): Timecode | undefined {
  const m = /^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2,3})$/.exec(text?.trim() ?? '');
  if (!m) return undefined;
  const rate = nominalRate(fps);
  const [hh, mm, ss, ff] = [m[1], m[2], m[3], m[5]].map(Number) as [number, number, number, number];
  const dropFrame = m[4] !== ':' && (rate === 30 || rate === 60);
  if (mm > 59 || ss > 59 || ff >= rate) return undefined;
  const drop = dropPerMinute({ rate, dropFrame });
  const minutes = hh * 60 + mm;
  const frames = (hh * 3600 + mm * 60 + ss) * rate + ff - drop * (minutes - Math.floor(minutes / 10));
  return { frames, rate, dropFrame };
}

export function formatTimecode(tc: Timecode): string {
  const drop = dropPerMinute(tc);
  let f = tc.frames;
  if (drop) {
    // Put the skipped numbers back, then count plainly.
    const per10 = tc.rate * 600 - drop * 9;
    const perMin = tc.rate * 60 - drop;
    const tens = Math.floor(f / per10);
    const rest = f % per10;
    f += drop * 9 * tens + (rest > drop ? drop * Math.floor((rest - drop) / perMin) : 0);
  }
  const ff = f % tc.rate;
  const s = Math.floor(f / tc.rate);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(Math.floor(s / 3600) % 24)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}${tc.dropFrame ? ';' : ':'}${two(ff)}`;
}

/**
 * The timecode `offset` frames (at `seqFps`) after `tc` (at `srcFps`), wrapping at 24 hours as
 * decks and NLEs do. At equal rates this is exact integer arithmetic; otherwise the instant is
 * carried over and counted at the sequence's own timecode rate.
 */
export function offsetTimecode(tc: Timecode, srcFps: Rational, offset: number, seqFps: Rational): Timecode {
  const same = srcFps.num * seqFps.den === seqFps.num * srcFps.den;
  const rate = same ? tc.rate : nominalRate(seqFps);
  const dropFrame = same ? tc.dropFrame : tc.dropFrame && (rate === 30 || rate === 60);
  const start = same ? tc.frames : Math.round((tc.frames * toNumber(seqFps)) / toNumber(srcFps));
  const day = framesPerDay({ rate, dropFrame });
  return { frames: (((start + offset) % day) + day) % day, rate, dropFrame };
}
