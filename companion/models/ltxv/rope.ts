/**
 * RoPE tables for the LTX-Video transformer, computed in TypeScript and fed to the graph as
 * `rope_cos` / `rope_sin`. Follows diffusers' LTXVideoRotaryPosEmbed:
 *
 *   grid   = (f, h, w) token index · rope_interpolation_scale · patch / base   (per axis)
 *   freqs  = theta ** linspace(0, 1, D // 6) · π/2                            [D//6]
 *   angles = freqs · (2·grid - 1)                                              [S, 3, D//6]
 *   then transpose(-1, -2).flatten → [S, D//6 · 3] (frequency-major, axis-minor),
 *   cos/sin each repeat_interleave(2) → [S, 2·3·(D//6)], and when D % 6 ≠ 0 the first D % 6
 *   channels are padding with cos = 1, sin = 0 (they pass through unrotated).
 *
 * rope_interpolation_scale is what LTXPipeline passes: (temporal / frame_rate, spatial, spatial)
 * with the VAE's compression ratios. Tokens are in (f, h, w) raster order.
 *
 * `causalFix` selects the coordinates of LTXConditionPipeline (LTX-Video 0.9.5+ and the authors'
 * repository): a latent frame's time is its first pixel frame, max(0, f·temporal + 1 - temporal),
 * divided by the frame rate — so latent frame 0 (a single pixel frame) sits at t = 0.
 */

/**
 * Every step is rounded to float32 as torch computes it: the top frequencies reach π/2·theta, so
 * an angle computed in float64 would differ from the trained model's by up to ~1e-3 rad.
 */
const f32 = Math.fround;

export interface RopeOptions {
  /** Inner dim of the transformer (heads × head dim). */
  dim: number;
  /** Latent grid. */
  frames: number;
  height: number;
  width: number;
  frameRate: number;
  /** VAE compression: pixels per latent cell and pixel frames per latent frame. */
  spatial: number;
  temporal: number;
  baseNumFrames: number;
  baseHeight: number;
  baseWidth: number;
  theta: number;
  patchSize?: number;
  patchSizeT?: number;
  causalFix?: boolean;
  /**
   * Pixel frames added to every token's time coordinate: conditioning frames encoded on their own
   * and appended to the sequence sit where they belong in the window (the authors'
   * `pixel_coords[:, 0] += media_frame_number`). Default 0.
   */
  frameOffset?: number;
}

export interface RopeTables {
  /** [S, dim] row-major; repeat per batch row for [B, S, dim]. */
  cos: Float32Array;
  sin: Float32Array;
  tokens: number;
  dim: number;
}

/** The normalised (f, h, w) coordinate of a latent cell, before the 2·grid - 1 mapping. */
export function ropeGrid(o: RopeOptions, f: number, h: number, w: number): [number, number, number] {
  const pt = o.patchSizeT ?? 1;
  const p = o.patchSize ?? 1;
  // grid[:, 0:1] * scale[0] * patch_size_t / base_num_frames, evaluated left to right in float32
  const axis = (index: number, scale: number, patch: number, base: number): number =>
    f32(f32(f32(index * f32(scale)) * patch) / base);
  // The token's first pixel frame, as the authors compute it from the latent frame: plain f·temporal,
  // or with the causal fix max(0, f·temporal + 1 − temporal) (latent frame 0 is one pixel frame);
  // then the offset of appended conditioning, times 1/frame_rate, over the base.
  const first = o.causalFix ? Math.max(0, f * o.temporal + 1 - o.temporal) : f * o.temporal;
  const time = axis(first + (o.frameOffset ?? 0), 1 / o.frameRate, pt, o.baseNumFrames);
  return [time, axis(h, o.spatial, p, o.baseHeight), axis(w, o.spatial, p, o.baseWidth)];
}

/**
 * Element k of torch.linspace(0, 1, n) in float32, as torch's kernel computes it (CUDA, where the
 * model was trained, and CPU for small n): step = f32(1 / (n − 1)), the lower half k·step, the
 * upper half 1 − (n − 1 − k)·step. Rounding k / (n − 1) directly differs by one float32 step for
 * about a third of the exponents at D = 2048, which moves the top frequencies by up to ~1e-2 rad.
 */
export function linspace01(k: number, n: number): number {
  if (n === 1) return 0;
  const step = f32(1 / (n - 1));
  return k < n >> 1 ? f32(k * step) : f32(1 - f32((n - 1 - k) * step));
}

export function ltxRope(o: RopeOptions): RopeTables {
  const { dim } = o;
  const n = Math.floor(dim / 6);
  const pad = dim % 6;
  // theta ** linspace(log_theta(1), log_theta(theta), n) = theta ** linspace(0, 1, n); then · π / 2
  const freqs = Array.from({ length: n }, (_, k) => {
    const exponent = linspace01(k, n);
    return f32(f32(f32(Math.pow(o.theta, exponent)) * f32(Math.PI)) / 2);
  });
  const tokens = o.frames * o.height * o.width;
  const cos = new Float32Array(tokens * dim);
  const sin = new Float32Array(tokens * dim);
  let s = 0;
  for (let f = 0; f < o.frames; f++) {
    for (let h = 0; h < o.height; h++) {
      for (let w = 0; w < o.width; w++, s++) {
        const grid = ropeGrid(o, f, h, w);
        const row = s * dim;
        for (let c = 0; c < pad; c++) cos[row + c] = 1; // sin stays 0
        for (let k = 0; k < n; k++) {
          for (let axis = 0; axis < 3; axis++) {
            const angle = f32(freqs[k] * f32(f32(2 * grid[axis]) - 1));
            const at = row + pad + 2 * (k * 3 + axis);
            cos[at] = cos[at + 1] = Math.cos(angle);
            sin[at] = sin[at + 1] = Math.sin(angle);
          }
        }
      }
    }
  }
  return { cos, sin, tokens, dim };
}
