/** Reading golden numbers recorded from upstream code (base64 float32 in JSON fixtures) and comparing with them. */
import { expect } from 'vitest';

/** A base64 string of little-endian float32 values, as the fixtures store whole outputs. */
export function base64Floats(b64: string): Float32Array {
  const buf = Buffer.from(b64, 'base64');
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** Every element against the golden: the largest difference and the golden's scale (max |value|), for tolerances relative to it. */
export function compareToGolden(got: Float32Array, want: Float32Array): { maxDiff: number; scale: number } {
  expect(got.length).toBe(want.length);
  let maxDiff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return { maxDiff, scale };
}
