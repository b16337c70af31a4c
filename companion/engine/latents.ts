/**
 * Layout conversions between frames, the VAE's video tensor and the transformer's tokens, and
 * the reduction of a pixel mask to the latent grid. No model calls here: only index math.
 */
import type { Frame } from '../media/frame.ts';
import type { LatentSpec } from '../models/types.ts';

/** Latent frames for F pixel frames with a causal VAE (first frame alone, then groups). */
export function latentFrames(pixelFrames: number, temporal: number): number {
  if ((pixelFrames - 1) % temporal !== 0) {
    throw new RangeError(`${pixelFrames} frames is not 1 + ${temporal}·k`);
  }
  return 1 + (pixelFrames - 1) / temporal;
}

/** The pixel frames [first, last] that latent frame j covers. */
export function pixelFramesOf(j: number, temporal: number): [number, number] {
  return j === 0 ? [0, 0] : [1 + temporal * (j - 1), temporal * j];
}

/** RGB frames (same size) → video tensor [1, 3, F, H, W] in [−1, 1]. */
export function framesToVideoTensor(frames: Frame[]): Float32Array {
  const { width, height } = frames[0]!;
  const plane = width * height;
  const out = new Float32Array(3 * frames.length * plane);
  frames.forEach((f, t) => {
    const ch = f.channels;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) out[(c * frames.length + t) * plane + p] = f.data[p * ch + c]! / 127.5 - 1;
    }
  });
  return out;
}

/** Video tensor [1, 3, F, H, W] in [−1, 1] → RGB frames, rounded and clamped to 8 bits. */
export function videoTensorToFrames(t: Float32Array, frameCount: number, width: number, height: number): Frame[] {
  const plane = width * height;
  const frames: Frame[] = [];
  for (let f = 0; f < frameCount; f++) {
    const data = new Uint8Array(plane * 3);
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        const v = Math.round((t[(c * frameCount + f) * plane + p]! + 1) * 127.5);
        data[p * 3 + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
    frames.push({ width, height, channels: 3, data });
  }
  return frames;
}

/** Latent [1, C, f, h, w] → tokens [1, S, C] with S in (f, h, w) raster order (patch size 1). */
export function latentToTokens(latent: Float32Array, channels: number, cells: number): Float32Array {
  const out = new Float32Array(latent.length);
  for (let c = 0; c < channels; c++) {
    const src = c * cells;
    for (let s = 0; s < cells; s++) out[s * channels + c] = latent[src + s]!;
  }
  return out;
}

/** Token sequences (or their RoPE tables) one after another: [A | B | …] along the sequence. */
export function concatTokens(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Tokens [1, S, C] → latent [1, C, f, h, w]. */
export function tokensToLatent(tokens: Float32Array, channels: number, cells: number): Float32Array {
  const out = new Float32Array(tokens.length);
  for (let s = 0; s < cells; s++) {
    const base = s * channels;
    for (let c = 0; c < channels; c++) out[c * cells + s] = tokens[base + c]!;
  }
  return out;
}

export interface LatentGrid {
  frames: number;
  height: number;
  width: number;
}

/**
 * Pixel masks (one per frame, working size, > 0 = generate) → one value per latent token,
 * 1 = generate, 0 = known. A cell is generated if any of its pixels in any of its frames is;
 * then the generated region is dilated in h and w by the decoder's reach (spec.decoderReach,
 * 1 cell unless the VAE says otherwise), so that every masked pixel decodes from generated
 * latents only; the pixel composite does the exact edge. A patch VAE reaches no further than
 * its own cell, and growing its masks would only take context away from the model.
 */
export function latentTokenMask(masks: Float32Array[], width: number, height: number, spec: LatentSpec): { mask: Float32Array; grid: LatentGrid } {
  const grid: LatentGrid = { frames: latentFrames(masks.length, spec.temporal), height: height / spec.spatial, width: width / spec.spatial };
  const { frames: lf, height: lh, width: lw } = grid;
  const hit = new Uint8Array(lf * lh * lw);
  for (let j = 0; j < lf; j++) {
    const [first, last] = pixelFramesOf(j, spec.temporal);
    for (let t = first; t <= last; t++) {
      const m = masks[t]!;
      for (let y = 0; y < height; y++) {
        const row = y * width;
        const cellRow = (j * lh + Math.floor(y / spec.spatial)) * lw;
        for (let x = 0; x < width; x++) if (m[row + x]! > 0) hit[cellRow + Math.floor(x / spec.spatial)] = 1;
      }
    }
  }
  const reach = spec.decoderReach ?? 1;
  const mask = new Float32Array(hit.length);
  for (let j = 0; j < lf; j++) {
    for (let y = 0; y < lh; y++) {
      for (let x = 0; x < lw; x++) {
        let on = 0;
        for (let dy = -reach; dy <= reach && !on; dy++) {
          for (let dx = -reach; dx <= reach && !on; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (yy >= 0 && yy < lh && xx >= 0 && xx < lw && hit[(j * lh + yy) * lw + xx]) on = 1;
          }
        }
        mask[(j * lh + y) * lw + x] = on;
      }
    }
  }
  return { mask, grid };
}
