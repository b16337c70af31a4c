/**
 * Exact frame rates. Video rates like 23.976 are really 24000/1001; storing them as floats
 * drifts by a frame every few minutes, so every rate in Reshoot is a reduced fraction of
 * integers. Pure TypeScript: shared by the panel and the companion.
 */
export interface Rational {
  num: number;
  den: number;
}

function gcd(a: number, b: number): number {
  a = Math.abs(a);
  b = Math.abs(b);
  while (b) [a, b] = [b, a % b];
  return a;
}

export function rational(num: number, den = 1): Rational {
  if (!Number.isSafeInteger(num) || !Number.isSafeInteger(den) || den === 0) {
    throw new RangeError(`not a rational: ${num}/${den}`);
  }
  const g = gcd(num, den) || 1;
  const sign = den < 0 ? -1 : 1;
  return { num: (sign * num) / g, den: (sign * den) / g };
}

/** Parses "24000/1001", "25", "29.97" (read as 30000/1001, the broadcast meaning) or a number. */
export function parseRational(text: string | number): Rational {
  const s = String(text).trim();
  const frac = /^(-?\d+)\s*\/\s*(\d+)$/.exec(s);
  if (frac) return rational(Number(frac[1]), Number(frac[2]));
  if (!/^-?\d+(\.\d+)?$/.test(s)) throw new RangeError(`not a frame rate: "${s}"`);
  const v = Number(s);
  // Decimal NTSC rates are written rounded; editors mean the 1001 family.
  for (const base of [24, 30, 48, 60, 120]) {
    const ntsc = (base * 1000) / 1001;
    if (Math.abs(v - ntsc) < 0.006) return rational(base * 1000, 1001);
  }
  const decimals = s.includes('.') ? s.split('.')[1]!.length : 0;
  const den = 10 ** decimals;
  return rational(Math.round(v * den), den);
}

export function formatRational(r: Rational): string {
  return r.den === 1 ? String(r.num) : `${r.num}/${r.den}`;
}

export function toNumber(r: Rational): number {
  return r.num / r.den;
}

export function equalRational(a: Rational, b: Rational): boolean {
  return a.num * b.den === b.num * a.den;
}

/** Seconds at which frame `n` starts, at `fps`. */
export function framesToSeconds(frames: number, fps: Rational): number {
  return (frames * fps.den) / fps.num;
}

/**
 * The frame that contains the instant `seconds` (floor), tolerant of float noise from
 * round-tripping a frame boundary through seconds (1001/24000 * 24000/1001 may not be exactly 1).
 */
export function secondsToFrames(seconds: number, fps: Rational): number {
  const exact = (seconds * fps.num) / fps.den;
  const nearest = Math.round(exact);
  return Math.abs(exact - nearest) < 1e-6 ? nearest : Math.floor(exact);
}
