/**
 * One decoded video frame in memory: 8-bit, interleaved, row-major, no padding.
 * RGB (3 channels) is the working format everywhere; RGBA (4) only where alpha is written
 * (ProRes 4444, PNG with alpha). Pixel (x, y) channel c is at data[(y * width + x) * channels + c].
 */
export interface Frame {
  width: number;
  height: number;
  channels: 3 | 4;
  data: Uint8Array;
}

export function frameBytes(width: number, height: number, channels: 3 | 4): number {
  return width * height * channels;
}

export function makeFrame(width: number, height: number, channels: 3 | 4 = 3): Frame {
  return { width, height, channels, data: new Uint8Array(frameBytes(width, height, channels)) };
}
