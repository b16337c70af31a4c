/**
 * Linear-light frames: an EXR plate written back to EXR travels as ffmpeg's own 16-bit decode of
 * its halves (no curve; 1.0 = 65535, 0.5 = 32768), so untouched pixels go back exactly. The
 * model sees and makes display-referred 8-bit sRGB; these tables convert between the two.
 */
import { ffmpegHalfToUint16, linearToSrgb, srgbToLinear, toHalf } from './exr.ts';

let toModel: Uint8Array | undefined;
let fromModel: Uint16Array | undefined;

/** Linear 16-bit sample → the model's 8-bit sRGB level. */
export function linearToModelTable(): Uint8Array {
  if (!toModel) {
    toModel = new Uint8Array(65536);
    // ffmpeg's decode scales by 2^16 below 1.0 (a half 0.5 reads 32768).
    for (let v = 0; v < 65536; v++) toModel[v] = Math.round(255 * linearToSrgb(v === 65535 ? 1 : v / 65536));
  }
  return toModel;
}

/**
 * The model's 8-bit sRGB level → the linear 16-bit sample ffmpeg would decode from the half
 * nearest to it: what a generated pixel reads back as once written to EXR.
 */
export function modelToLinearTable(): Uint16Array {
  if (!fromModel) {
    fromModel = new Uint16Array(256);
    for (let k = 0; k < 256; k++) fromModel[k] = ffmpegHalfToUint16(toHalf(srgbToLinear(k / 255)));
  }
  return fromModel;
}
