/**
 * Linear-light frames: an EXR plate written back to EXR travels as the half-float bits of its
 * samples (a DeepFrame whose words are halves; exrPlate.ts), so untouched pixels go back exactly,
 * highlights above 1.0 and negatives included. The model sees and makes display-referred 8-bit
 * sRGB; these tables convert between the two.
 *
 * Tone choice for the model: a plate's linear value is clipped to [0, 1] and put through the
 * sRGB curve (IEC 61966-2-1), as a comp viewer with no view transform shows it. Highlights above
 * 1.0 read as white, negatives and NaN as black: the model only sees an 8-bit picture, and inside
 * the mask its pixels replace the plate's anyway. Outside the mask nothing passes through here.
 */
import { fromHalf, linearToSrgb, srgbToLinear, toHalf } from './exr.ts';
import type { DeepFrame, Depth, Frame } from './frame.ts';

let fromModel: Float32Array | undefined;
let fromModelHalf: Uint16Array | undefined;

const displayTables = new Map<string, Uint16Array>();

/**
 * Half bits (linear light) → a display level at `depth` bits: through the sRGB curve ('srgb') or
 * not ('unit', for alpha), clipped to 0..1 (NaN: 0). Built once per kind.
 */
export function halfToDisplayTable(curve: 'srgb' | 'unit', depth: Depth): Uint16Array {
  const key = `${curve}/${depth}`;
  let t = displayTables.get(key);
  if (!t) {
    const max = depth === 16 ? 65535 : 255;
    t = new Uint16Array(65536);
    for (let h = 0; h < 65536; h++) {
      const v = fromHalf(h);
      t[h] = Math.round(max * (curve === 'srgb' ? linearToSrgb(v) : v > 0 ? Math.min(v, 1) : 0));
    }
    displayTables.set(key, t);
  }
  return t;
}

/** Half bits (linear light) → the model's 8-bit sRGB level, clipped as described above. */
export function halfToModelTable(): Uint16Array {
  return halfToDisplayTable('srgb', 8);
}

/** The model's 8-bit sRGB level → linear light, as a float (the composite blends in float). */
export function modelToLinearTable(): Float32Array {
  if (!fromModel) {
    fromModel = new Float32Array(256);
    for (let k = 0; k < 256; k++) fromModel[k] = srgbToLinear(k / 255);
  }
  return fromModel;
}

/** The model's 8-bit sRGB level → the half nearest its linear value: a generated pixel as written to EXR. */
export function modelToHalfTable(): Uint16Array {
  if (!fromModelHalf) {
    fromModelHalf = new Uint16Array(256);
    for (let k = 0; k < 256; k++) fromModelHalf[k] = toHalf(srgbToLinear(k / 255));
  }
  return fromModelHalf;
}

/** A frame the model made, as an EXR plate's half bits (its levels linearized). */
export function toHalfFrame(f: Frame): DeepFrame {
  const table = modelToHalfTable();
  const data = new Uint16Array(f.data.length);
  for (let i = 0; i < data.length; i++) data[i] = table[f.data[i]!]!;
  return { width: f.width, height: f.height, channels: f.channels, depth: 16, data };
}
