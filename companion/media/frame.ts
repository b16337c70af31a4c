/**
 * One decoded video frame in memory: interleaved, row-major, no padding.
 * RGB (3 channels) is the working format everywhere; RGBA (4) only where alpha is written
 * (ProRes 4444, PNG, FFV1 with alpha). Pixel (x, y) channel c is at data[(y * width + x) * channels + c].
 *
 * `Frame` is 8 bits per channel: what the model sees and makes. `DeepFrame` is 16 bits per
 * channel: how a source with more than 8 bits (10-bit ProRes, 16-bit PNG, DPX, EXR) travels
 * from decoder to encoder, so every pixel outside the mask keeps the source's own value.
 */
import { halfToModelTable } from './linear.ts';

export interface Frame {
  width: number;
  height: number;
  channels: 3 | 4;
  data: Uint8Array;
  depth?: 8;
}

export interface DeepFrame {
  width: number;
  height: number;
  channels: 3 | 4;
  /** Full 16-bit range: 0 = black, 65535 = white (a 10-bit code v is v·65535/1023 rounded). */
  data: Uint16Array;
  depth: 16;
}

export type AnyFrame = Frame | DeepFrame;
export type Depth = 8 | 16;

export function isDeep(f: AnyFrame): f is DeepFrame {
  return f.depth === 16;
}

export function frameBytes(width: number, height: number, channels: 3 | 4, depth: Depth = 8): number {
  return width * height * channels * (depth / 8);
}

export function makeFrame(width: number, height: number, channels: 3 | 4 = 3): Frame {
  return { width, height, channels, data: new Uint8Array(frameBytes(width, height, channels)) };
}

/** Anything that holds a frame's samples: an RGB frame, a Y'CbCr one (yuv.ts). */
export interface Samples {
  data: Uint8Array | Uint16Array;
}

/** The frame's bytes as they go down a pipe (16-bit samples in this machine's order: little-endian on every supported CPU). */
export function frameBuffer(f: Samples): Uint8Array {
  return new Uint8Array(f.data.buffer, f.data.byteOffset, f.data.byteLength);
}

/**
 * An 8-bit RGB view of any frame, for the model: 16-bit samples rounded to the nearest 8-bit
 * level (v·255/65535), or, when `linear` (an EXR plate kept linear: half bits), clipped to [0, 1] and through the sRGB curve, alpha
 * dropped. An 8-bit RGB frame is returned as is. `into`: the bytes to write into
 * (r.width·r.height·3, e.g. a buffer reused frame after frame) instead of a fresh buffer.
 */
export function toModelRgb(
  f: AnyFrame,
  r: { x: number; y: number; width: number; height: number } = { x: 0, y: 0, width: f.width, height: f.height },
  linear = false,
  into?: Uint8Array,
): Frame {
  const whole = r.x === 0 && r.y === 0 && r.width === f.width && r.height === f.height;
  if (!isDeep(f) && f.channels === 3 && whole) return f;
  const out = into ?? new Uint8Array(r.width * r.height * 3);
  if (out.length !== r.width * r.height * 3) throw new Error(`toModelRgb: the buffer holds ${out.length} bytes, ${r.width}x${r.height} RGB needs ${r.width * r.height * 3}`);
  const ch = f.channels;
  // Only the rectangle the model sees is converted: a fill's crop is often a fraction of the frame.
  if (!isDeep(f) && ch === 3) {
    // 8-bit RGB: the crop is row copies.
    for (let y = 0; y < r.height; y++) {
      const p = ((r.y + y) * f.width + r.x) * 3;
      out.set(f.data.subarray(p, p + r.width * 3), y * r.width * 3);
    }
    return { width: r.width, height: r.height, channels: 3, data: out };
  }
  // 16-bit samples through a table: half bits through the sRGB curve for a linear EXR plate (linear.ts), else
  // (v·255 + 32767) / 65535 (exact rounding; 257·k maps back to k). 8-bit RGBA drops alpha.
  const lut = isDeep(f) ? (linear ? halfToModelTable() : deepToModelTable()) : undefined;
  const d = f.data;
  let o = 0;
  for (let y = r.y; y < r.y + r.height; y++) {
    let p = (y * f.width + r.x) * ch;
    for (let x = 0; x < r.width; x++, p += ch) {
      if (lut) {
        out[o++] = lut[d[p]!]!;
        out[o++] = lut[d[p + 1]!]!;
        out[o++] = lut[d[p + 2]!]!;
      } else {
        out[o++] = d[p]!;
        out[o++] = d[p + 1]!;
        out[o++] = d[p + 2]!;
      }
    }
  }
  return { width: r.width, height: r.height, channels: 3, data: out };
}

let deepTable: Uint8Array | undefined;
/** 16-bit sample → nearest 8-bit level, (v·255 + 32767) / 65535 in integers. */
function deepToModelTable(): Uint8Array {
  if (!deepTable) {
    deepTable = new Uint8Array(65536);
    for (let v = 0; v < 65536; v++) deepTable[v] = Math.floor((v * 255 + 32767) / 65535);
  }
  return deepTable;
}

/** An 8-bit frame at 16 bits: k → 257·k, which maps 0..255 exactly onto 0..65535 (and back by toModelRgb). */
export function widen(f: Frame): DeepFrame {
  const data = new Uint16Array(f.data.length);
  for (let i = 0; i < data.length; i++) data[i] = f.data[i]! * 257;
  return { width: f.width, height: f.height, channels: f.channels, depth: 16, data };
}
