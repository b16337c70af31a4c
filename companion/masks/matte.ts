/**
 * Decoded matte pixels → alpha. Exact at the ends (0 → 0.0, 255 → 1.0) so that black in a
 * matte keeps the source bit for bit and white is fully generated.
 */
import { ReshootError } from '../errors.ts';

export interface MattePixels {
  width: number;
  height: number;
  /** 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA; interleaved 8-bit. */
  channels: number;
  data: Uint8Array;
}

export function matteToAlpha(frame: MattePixels, channel: 'luma' | 'alpha'): Float32Array {
  const { width, height, channels, data } = frame;
  const n = width * height;
  if (![1, 2, 3, 4].includes(channels) || data.length !== n * channels) {
    throw new ReshootError('bad_mask', `matte frame is malformed: ${width}x${height}, ${channels} channels, ${data.length} bytes`);
  }
  const out = new Float32Array(n);
  if (channel === 'alpha') {
    if (channels !== 2 && channels !== 4) {
      throw new ReshootError('bad_mask', 'the matte has no alpha channel; use channel "luma" or export the matte with alpha');
    }
    for (let i = 0, o = channels - 1; i < n; i++, o += channels) out[i] = data[o]! / 255;
    return out;
  }
  if (channels <= 2) {
    for (let i = 0, o = 0; i < n; i++, o += channels) out[i] = data[o]! / 255;
    return out;
  }
  // Rec. 709 luma in integer weights (sum 10000), so white is exactly 1 with no float residue.
  for (let i = 0, o = 0; i < n; i++, o += channels) {
    out[i] = (2126 * data[o]! + 7152 * data[o + 1]! + 722 * data[o + 2]!) / 2_550_000;
  }
  return out;
}
