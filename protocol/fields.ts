/**
 * Field schemas that recur across the job spec: frame rates and time values.
 * Pure zod + rational.ts, so the panel can validate exactly what the companion will.
 */
import { z } from 'zod';
import { type Rational, parseRational, rational, toNumber } from './rational.ts';

/** Sanity limits. The companion checks real memory later; these only refuse the absurd. */
export const LIMITS = {
  minSize: 16,
  maxSize: 8192,
  minFps: 1,
  maxFps: 240,
  /** Longest position (in/out points) accepted: a day of media. */
  maxPositionSeconds: 24 * 60 * 60,
  /** Longest span to generate (extend/generate/bridge gap): ten minutes. */
  maxGenerateSeconds: 10 * 60,
  maxSeed: 2 ** 32 - 1,
  maxSteps: 200,
  maxGuidance: 30,
} as const;

const RATIONAL_HINT = 'expected a frame rate like "24000/1001", "25", 29.97 or {num, den}';

/**
 * A rate written any way an editor or a script would write it: "24000/1001", "25", 29.97, 25
 * or {num, den}. Always parsed to a reduced {num, den}, so a parsed spec re-parses to itself.
 */
export function rationalSchema(what: string, min: number, max: number) {
  return z
    .union(
      [
        z.string(),
        z.number(),
        z.strictObject({ num: z.number().int(), den: z.number().int() }),
      ],
      { error: RATIONAL_HINT },
    )
    .transform((value, ctx): Rational => {
      let r: Rational;
      try {
        r = typeof value === 'object' ? rational(value.num, value.den) : parseRational(value);
      } catch {
        ctx.addIssue({ code: 'custom', message: `${RATIONAL_HINT}, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      const v = toNumber(r);
      if (!(v >= min && v <= max)) {
        ctx.addIssue({ code: 'custom', message: `${what} must be between ${min} and ${max}, got ${+v.toFixed(6)}` });
        return z.NEVER;
      }
      return r;
    });
}

export const fpsSchema = rationalSchema('frame rate', LIMITS.minFps, LIMITS.maxFps);
export const pixelAspectSchema = rationalSchema('pixel aspect', 0.1, 10);

/**
 * A time value: `{ "seconds": 1.5 }` or `{ "frames": 36 }`. A bare number is refused because it
 * is ambiguous (an editor's "2" could be two seconds or two frames).
 * Written as one object with an exactly-one check rather than a zod union, so that a bad value
 * gets a precise message (`frames: expected a non-negative integer`) instead of "invalid union".
 */
export type Time = { seconds: number } | { frames: number };

const TIME_HINT = 'expected {seconds} or {frames}';

export function timeSchema(maxSeconds: number, opts: { positive?: boolean } = {}) {
  const maxFrames = Math.ceil(maxSeconds * LIMITS.maxFps);
  return z
    .strictObject(
      {
        seconds: z
          .number({ error: 'expected a number of seconds' })
          .min(0, 'must be at least 0')
          .max(maxSeconds, `must be at most ${maxSeconds} seconds`)
          .optional(),
        frames: z
          .number({ error: 'expected a non-negative integer' })
          .int('expected a non-negative integer')
          .min(0, 'expected a non-negative integer')
          .max(maxFrames, `must be at most ${maxFrames} frames`)
          .optional(),
      },
      { error: (iss) => (iss.code === 'invalid_type' ? `${TIME_HINT}, got ${describe(iss.input)}` : undefined) },
    )
    .check((ctx) => {
      const t = ctx.value;
      const has = (t.seconds !== undefined ? 1 : 0) + (t.frames !== undefined ? 1 : 0);
      if (has !== 1) {
        const message = has === 0 ? TIME_HINT : `${TIME_HINT}, not both`;
        ctx.issues.push({ code: 'custom', message, input: t });
      } else if (opts.positive && (t.seconds ?? t.frames) === 0) {
        ctx.issues.push({ code: 'custom', message: 'must be longer than zero', input: t });
      }
    })
    .transform((t): Time => (t.frames !== undefined ? { frames: t.frames } : { seconds: t.seconds! }));
}

/** A point in media (in/out). */
export const positionSchema = timeSchema(LIMITS.maxPositionSeconds);
/** A span to generate: must be more than zero, and not absurdly long. */
export const spanSchema = timeSchema(LIMITS.maxGenerateSeconds, { positive: true });

/**
 * Frames for a time value at `fps`. Seconds are rounded to the nearest frame boundary, so
 * `{seconds: 2}` at 23.976 is 48 frames (what timecode 00:00:02:00 means to an editor) and any
 * boundary written as seconds (n·1001/24000) maps back to exactly n.
 */
export function timeToFrames(t: Time, fps: Rational): number {
  if ('frames' in t) return t.frames;
  return Math.round((t.seconds * fps.num) / fps.den);
}

export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  return String(value);
}
