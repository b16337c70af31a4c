/**
 * The composite for a linear EXR plate written back to EXR, whose samples are half-float bits
 * (media/linear.ts): out = src·(1 − a) + gen·a in float, in linear light, the model's sRGB levels
 * linearized first. Where a = 0 nothing is visited, so those samples stay the plate's own bits
 * (values above 1.0, negatives, NaN and Inf as they were); where a = 1 the generated value
 * replaces the plate's.
 */
import type { Rect } from '../engine/image.ts';
import { halfToFloatTable, toHalf } from '../media/exr.ts';
import type { DeepFrame, Frame } from '../media/frame.ts';
import { modelToHalfTable, modelToLinearTable } from '../media/linear.ts';
import type { AlphaInside } from './composite.ts';

const ONE = 0x3c00; // half 1.0: an opaque alpha

/**
 * Blends `gen` (covering `at`) into the half-bit frame `dst` over `box`. A plate sample that is
 * NaN or infinite has no meaningful blend with a generated one: wherever the mask touches it
 * (a > 0), the generated value is taken, so what the model painted is always finite.
 */
export function blendHalf(dst: DeepFrame, gen: Frame, at: Rect, alpha: Float32Array, box: Rect, alphaInside: AlphaInside): void {
  const out = dst.data;
  const ch = dst.channels;
  const gch = gen.channels;
  const lin = modelToLinearTable();
  const exact = modelToHalfTable();
  const value = halfToFloatTable();
  const setAlpha = ch === 4 && alphaInside === 'opaque';
  for (let y = box.y; y < box.y + box.height; y++) {
    const row = y * dst.width;
    const grow = (y - at.y) * gen.width - at.x;
    for (let x = box.x; x < box.x + box.width; x++) {
      const a = alpha[row + x]!;
      if (a === 0) continue;
      const o = (row + x) * ch;
      const g = (grow + x) * gch;
      if (a === 1) {
        for (let c = 0; c < 3; c++) out[o + c] = exact[gen.data[g + c]!]!;
        if (setAlpha) out[o + 3] = ONE;
        continue;
      }
      for (let c = 0; c < 3; c++) out[o + c] = mix(value[out[o + c]!]!, lin[gen.data[g + c]!]!, exact[gen.data[g + c]!]!, a);
      if (setAlpha) out[o + 3] = mix(value[out[o + 3]!]!, 1, ONE, a);
    }
  }
}

/** One sample: the plate's value `s` towards the generated `gen` by `a`, as half bits. */
function mix(s: number, gen: number, genHalf: number, a: number): number {
  if (!Number.isFinite(s)) return genHalf;
  return toHalf(s + (gen - s) * a);
}
