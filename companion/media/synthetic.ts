/**
 * Synthetic test footage whose every pixel is known: a gradient background, a bright disc
 * moving right on a sine path, a green square moving diagonally, and the frame's own index
 * written as 12 black/white blocks along the top edge. Tests compare decoded frames with
 * syntheticFrame(i) byte for byte (lossless formats) or read the index back with
 * syntheticFrameIndex (lossy formats, to check that seeking landed on the right frame).
 */
import type { Rational } from '../../protocol/rational.ts';
import { makeFrame, type Frame } from './frame.ts';
import { openEncoder, type EncodeFormat } from './encode.ts';

const INDEX_BITS = 12;

export interface SyntheticOptions {
  channels?: 3 | 4;
  /** Shifts colours and motion so two clips with different seeds differ everywhere. */
  seed?: number;
}

/** Frame `i` of the synthetic clip at `width`x`height` (width ≥ 24, height ≥ 8). */
export function syntheticFrame(i: number, width: number, height: number, opts: SyntheticOptions = {}): Frame {
  const channels = opts.channels ?? 3;
  const seed = opts.seed ?? 0;
  const f = makeFrame(width, height, channels);
  const d = f.data;

  const radius = Math.max(2, Math.min(width, height) / 8);
  const discX = (width * 0.2 + i * Math.max(1, width / 40) + seed * 7) % width;
  const discY = height / 2 + Math.sin((i + seed) / 6) * (height / 4);
  const side = Math.max(2, Math.round(Math.min(width, height) / 6));
  const sqX = (Math.round(width * 0.7) - i * 2 + seed * 3) % width;
  const sqY = (Math.round(height * 0.1) + i + seed) % height;
  const tint = (seed * 53) % 64;

  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * channels;
      let r = 30 + Math.floor((x * 160) / width);
      let g = 30 + Math.floor((y * 160) / height);
      let b = 80 + tint;
      const dx = x - discX;
      const dy = y - discY;
      if (dx * dx + dy * dy <= radius * radius) [r, g, b] = [250, 235, 190];
      const inSquare = ((x - sqX + width) % width) < side && ((y - sqY + height) % height) < side;
      if (inSquare) [r, g, b] = [40, 200, 90];
      d[p] = r;
      d[p + 1] = g;
      d[p + 2] = b;
      // Alpha, when asked for: opaque on the left three quarters, partly transparent after.
      if (channels === 4) d[p + 3] = x < (width * 3) / 4 ? 255 : 96;
    }
  }

  // The index, most significant bit first, as white (1) / black (0) blocks, opaque.
  const { bw, bh } = indexBlocks(width, height);
  for (let bit = 0; bit < INDEX_BITS; bit++) {
    const v = (i >> (INDEX_BITS - 1 - bit)) & 1 ? 255 : 0;
    for (let y = 0; y < bh; y++) {
      for (let x = bit * bw; x < (bit + 1) * bw; x++) {
        const p = (y * width + x) * channels;
        d.fill(v, p, p + 3);
        if (channels === 4) d[p + 3] = 255;
      }
    }
  }
  return f;
}

/** Reads back the index syntheticFrame wrote (survives lossy compression and mild scaling). */
export function syntheticFrameIndex(frame: Frame): number {
  const { bw, bh } = indexBlocks(frame.width, frame.height);
  let index = 0;
  for (let bit = 0; bit < INDEX_BITS; bit++) {
    const x = Math.floor(bit * bw + bw / 2);
    const y = Math.floor(bh / 2);
    const p = (y * frame.width + x) * frame.channels;
    const luma = (frame.data[p]! + frame.data[p + 1]! + frame.data[p + 2]!) / 3;
    index = (index << 1) | (luma > 127 ? 1 : 0);
  }
  return index;
}

function indexBlocks(width: number, height: number): { bw: number; bh: number } {
  if (width < 2 * INDEX_BITS || height < 8) throw new RangeError(`synthetic frames need at least 24x8 pixels, got ${width}x${height}`);
  return { bw: Math.floor(width / INDEX_BITS), bh: Math.max(4, Math.floor(height / 12)) };
}

export interface SyntheticClipOptions {
  path: string;
  format: EncodeFormat;
  width: number;
  height: number;
  fps: Rational;
  frames: number;
  seed?: number;
  /** Defaults to 4 for prores4444, else 3. */
  channels?: 3 | 4;
  overwrite?: boolean;
}

/** Writes `frames` synthetic frames through openEncoder (so it exercises the real writer). */
export async function writeSyntheticClip(opts: SyntheticClipOptions): Promise<void> {
  const channels = opts.channels ?? (opts.format === 'prores4444' ? 4 : 3);
  const encoder = await openEncoder({
    path: opts.path,
    format: opts.format,
    width: opts.width,
    height: opts.height,
    fps: opts.fps,
    channels,
    overwrite: opts.overwrite ?? false,
  });
  try {
    for (let i = 0; i < opts.frames; i++) {
      await encoder.write(syntheticFrame(i, opts.width, opts.height, { channels, seed: opts.seed }));
    }
    await encoder.finish();
  } catch (e) {
    await encoder.abort();
    throw e;
  }
}
