/**
 * The arithmetic of the authors' multi-scale pipeline (Lightricks/LTX-Video
 * ltx_video/pipelines/pipeline_ltx_video.py, LTXMultiScalePipeline), pure functions: the sizes of
 * the two passes, and the AdaIN filter that gives the upsampled latents the first pass's
 * per-channel statistics before the second pass. The passes themselves run in twoPass.ts.
 */
import type { ModelManifest } from '../models/types.ts';

export interface PassSizes {
  /** First pass: the size × downscale factor, each side rounded down to a multiple of `multiple`. */
  first: { width: number; height: number };
  /** Second pass: twice the first (the upsampler's ×2); the result is then resized to the target. */
  second: { width: number; height: number };
}

/** Pass sizes for a target size, as LTXMultiScalePipeline computes them (int() then floor to the multiple). */
export function multiScaleSizes(width: number, height: number, downscaleFactor: number, multiple: number): PassSizes {
  const down = (v: number): number => {
    const x = Math.trunc(v * downscaleFactor);
    return x - (x % multiple);
  };
  const first = { width: down(width), height: down(height) };
  if (first.width < multiple || first.height < multiple) {
    throw new RangeError(`${width}×${height} is too small for a multi-scale pass at ×${downscaleFactor} (multiples of ${multiple})`);
  }
  return { first, second: { width: 2 * first.width, height: 2 * first.height } };
}

/** Mean and sample standard deviation (n − 1, as torch.std_mean) of `n` values from `at(i)`. */
function stdMean(n: number, at: (i: number) => number): { mean: number; std: number } {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += at(i);
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (at(i) - mean) ** 2;
  return { mean, std: Math.sqrt(ss / Math.max(n - 1, 1)) };
}

/**
 * adain_filter_latent: each channel of `latents` [C, ...] (channel-major, `cells` values each)
 * normalised to its own mean/std and given the reference's ([C, refCells]), then mixed back with
 * the input by `factor` (1 = fully filtered). Returns a new array.
 */
export function adainFilter(latents: Float32Array, reference: Float32Array, channels: number, factor = 1): Float32Array {
  const cells = latents.length / channels;
  const refCells = reference.length / channels;
  const out = new Float32Array(latents.length);
  for (let c = 0; c < channels; c++) {
    const src = stdMean(cells, (i) => latents[c * cells + i]!);
    const ref = stdMean(refCells, (i) => reference[c * refCells + i]!);
    for (let i = 0; i < cells; i++) {
      const v = latents[c * cells + i]!;
      const filtered = ((v - src.mean) / src.std) * ref.std + ref.mean;
      out[c * cells + i] = v + factor * (filtered - v);
    }
  }
  return out;
}

/**
 * The least side of a working size the model's recipe can run: for a multi-scale recipe with its
 * upsampler, the least multiple of the model's size rule whose first pass (× the downscale factor,
 * truncated) still holds one latent cell (64 px for LTX-Video's ×0.6666666 and 32 px cells);
 * otherwise one multiple.
 */
export function leastWorkingSide(m: ModelManifest): number {
  const r = m.recipe;
  return r?.pipeline === 'multi-scale' && m.upsampler ? leastSide(m, r.downscaleFactor!) : m.sizeRules.multiple;
}

/** The least multiple of the model's size rule that keeps one latent cell at × `downscaleFactor` (truncated, as multiScaleSizes). */
export function leastSide(m: ModelManifest, downscaleFactor: number): number {
  const step = m.sizeRules.multiple;
  let least = step;
  while (Math.trunc(least * downscaleFactor) < m.latent.spatial) least += step;
  return least;
}

/**
 * Bilinear resize of a video tensor [1, 3, F, H, W] to [1, 3, F, height, width], as the authors'
 * pipeline resizes conditioning media to each pass's size and the second pass's output to the
 * target (F.interpolate, mode "bilinear", align_corners False, no antialiasing): source
 * coordinate (i + 0.5)·in/out − 0.5, clamped at 0, between two neighbours.
 */
export function resizeVideoTensor(video: Float32Array, frames: number, h: number, w: number, height: number, width: number): Float32Array {
  if (h === height && w === width) return video;
  const taps = (inSize: number, outSize: number) => {
    const lo = new Int32Array(outSize);
    const hi = new Int32Array(outSize);
    const t = new Float32Array(outSize);
    const scale = inSize / outSize;
    for (let i = 0; i < outSize; i++) {
      const src = Math.max((i + 0.5) * scale - 0.5, 0);
      const i0 = Math.floor(src);
      lo[i] = i0;
      hi[i] = i0 < inSize - 1 ? i0 + 1 : i0;
      t[i] = src - i0;
    }
    return { lo, hi, t };
  };
  const ys = taps(h, height);
  const xs = taps(w, width);
  const planes = 3 * frames;
  const out = new Float32Array(planes * height * width);
  for (let p = 0; p < planes; p++) {
    const src = p * h * w;
    const dst = p * height * width;
    for (let y = 0; y < height; y++) {
      const r0 = src + ys.lo[y]! * w;
      const r1 = src + ys.hi[y]! * w;
      const ty = ys.t[y]!;
      for (let x = 0; x < width; x++) {
        const tx = xs.t[x]!;
        const top = (1 - tx) * video[r0 + xs.lo[x]!]! + tx * video[r0 + xs.hi[x]!]!;
        const bottom = (1 - tx) * video[r1 + xs.lo[x]!]! + tx * video[r1 + xs.hi[x]!]!;
        out[dst + y * width + x] = (1 - ty) * top + ty * bottom;
      }
    }
  }
  return out;
}
