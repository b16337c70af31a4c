/**
 * The one operation (DESIGN.md §3): given a window of frames at the model's working size, some
 * of them unknown, a pixel mask per frame (> 0 = generate) and a prompt, produce the window with
 * the masked pixels generated. Encode → reduce the mask to latent tokens → denoise with the
 * rectified-flow Euler sampler → decode. Pixel compositing happens later, at full resolution.
 *
 * Runs wherever the ModelRuntime lives (the engine's worker thread); it only does arithmetic and
 * calls the runtime. When asked, it also sends cheap live previews of the current x0 estimate
 * (DESIGN.md §3; see startPreviews and previewMap.ts).
 */
import type { Frame } from '../media/frame.ts';
import { framesToVideoTensor, latentFrames, latentToTokens, latentTokenMask, tokensToLatent, videoTensorToFrames, type LatentGrid } from './latents.ts';
import { Rng } from './noise.ts';
import { previewPicture, type PreviewMap, type PreviewPicture } from './previewMap.ts';
import type { ModelRuntime } from './runtime.ts';
import { addNoise, applyGuidance, blendKnown, eulerStep, scheduleFor, timestepFor, truncateForStrength } from './scheduler.ts';

export type Conditioning = 'per-token' | 'blend';

/** Offset of the decoder-noise stream from a window's sampler stream. */
const DECODE_NOISE_STREAM = 1 << 20;

export interface WindowRequest {
  width: number;
  height: number;
  /** Frames at working size in time order; null = unknown (to be generated whole). */
  frames: (Frame | null)[];
  /** Per frame: null = take the frame as known (or generate it whole when the frame is null);
   *  otherwise alpha at working size, > 0 = generate that pixel. */
  masks: (Float32Array | null)[];
  prompt: string;
  negativePrompt: string;
  seed: number;
  /** Noise stream: one per window of a job, so windows draw independent noise. */
  stream: number;
  steps: number;
  guidance: number;
  strength: number;
  conditioning: Conditioning;
  /** Sequence frame rate: the LTX RoPE scales the time axis by it. */
  fps: number;
  /** Live previews of the x0 estimate while the window denoises; absent = none (and no cost). */
  preview?: PreviewRequest;
}

/**
 * What the caller wants previewed, and how often: the caller owns the throttle (`everyMs`); the
 * sampler also keeps previews to at most 1/PREVIEW_COST_SHARE of the wall time, whatever
 * `everyMs` says.
 */
export interface PreviewRequest {
  /** Least wall time from the window's start to its first preview, and between two previews. */
  everyMs: number;
  /** Longest side of the preview image, px. */
  maxSize: number;
  /** Pixel frame of the window (time order) to show; default: the middle generated latent frame. */
  frame?: number;
}

export interface PreviewImage extends PreviewPicture {
  /** The step after which it was taken. */
  step: number;
  steps: number;
  /** Its latent frame in the window. */
  latentFrame: number;
  /** What it cost the sampler, ms (x0 estimate, colour map, PNG). */
  ms: number;
}

/** Where previews go, and the model's latent → RGB map (previewMap.ts), asked for once per window. */
export interface PreviewSink {
  map: () => Promise<PreviewMap>;
  emit: (p: PreviewImage) => void;
}

/** Previews take at most 1/this of the sampler's wall time. */
export const PREVIEW_COST_SHARE = 20;

export interface StepInfo {
  step: number;
  steps: number;
}

export interface WindowResult {
  frames: Frame[];
  tokens: number;
  generatedTokens: number;
  stepMs: number[];
}

export async function generateWindow(
  rt: ModelRuntime,
  req: WindowRequest,
  onStep: (s: StepInfo) => void,
  isCancelled: () => boolean,
  previews?: PreviewSink,
): Promise<WindowResult> {
  const { latent: spec } = rt.manifest;
  const F = req.frames.length;
  const { width, height } = req;
  const fullMask = new Float32Array(width * height).fill(1);
  const pixelMasks = req.frames.map((f, i) => req.masks[i] ?? (f ? new Float32Array(width * height) : fullMask));
  const { mask: tokenMask, grid } = latentTokenMask(pixelMasks, width, height, spec);
  const S = grid.frames * grid.height * grid.width;
  const C = spec.channels;
  if (latentFrames(F, spec.temporal) !== grid.frames) throw new Error('window frame count does not match the latent grid');

  // Text first: with stage-by-stage loading the text encoder is then done with for the window.
  const cond = await rt.encodeText(req.prompt);
  const useCfg = req.guidance !== 1;
  const uncond = useCfg ? await rt.encodeText(req.negativePrompt) : null;

  // Encode what is known; unknown frames go in as mid-grey: their tokens are pure noise anyway.
  const grey: Frame = { width, height, channels: 3, data: new Uint8Array(width * height * 3).fill(128) };
  const video = framesToVideoTensor(req.frames.map((f) => f ?? grey));
  const x0 = latentToTokens(await rt.encodeVideo(video, F, height, width), C, S);
  // Right after the encode: a model whose preview map must be fitted uses its encoder, resident now.
  const preview = req.preview && previews ? await startPreviews(req.preview, previews, tokenMask, grid, spec.temporal) : null;

  const sigmas = truncateForStrength(scheduleFor(rt.manifest.scheduler, req.steps, S), req.strength);
  const noise = new Rng(req.seed, req.stream).normal(new Float32Array(S * C));

  // Start: generated tokens at the first σ, known tokens at the source.
  const x = addNoise(x0, noise, sigmas[0]!);
  for (let t = 0; t < S; t++) if (tokenMask[t] === 0) x.set(x0.subarray(t * C, (t + 1) * C), t * C);

  const rope = rt.rope(grid, req.fps);
  const perToken = req.conditioning === 'per-token';
  const timestep = new Float32Array(S);
  const stepMs: number[] = [];
  const steps = sigmas.length - 1;
  for (let i = 0; i < steps; i++) {
    if (isCancelled()) throw new CancelledError();
    const started = performance.now();
    const sigma = sigmas[i]!;
    const sigmaNext = sigmas[i + 1]!;
    // Per-token timesteps: known tokens are told they are clean (t = 0). Blending: one t for all.
    for (let t = 0; t < S; t++) timestep[t] = timestepFor(perToken ? sigma * tokenMask[t]! : sigma);
    const v = useCfg
      ? await guided(rt, x, timestep, cond, uncond!, rope, req.guidance, S, C)
      : await rt.velocity(x, 1, timestep, cond, rope);
    if (perToken) {
      eulerStep(x, v, sigma, sigmaNext, C, tokenMask);
    } else {
      eulerStep(x, v, sigma, sigmaNext, C);
      blendKnown(x, x0, noise, sigmaNext, C, tokenMask);
    }
    stepMs.push(performance.now() - started);
    onStep({ step: i + 1, steps });
    preview?.after(i + 1, steps, x, v, x0, tokenMask, sigmaNext, C);
  }
  if (isCancelled()) throw new CancelledError();

  // Decoder noise (timestep-conditioned VAEs) has its own stream: it never shifts the sampler's.
  const decodeRng = new Rng(req.seed, req.stream + DECODE_NOISE_STREAM);
  const decodeNoise = (count: number) => decodeRng.normal(new Float32Array(count));
  const decoded = await rt.decodeVideo(tokensToLatent(x, C, S), grid.frames, grid.height, grid.width, decodeNoise);
  let generatedTokens = 0;
  for (const m of tokenMask) generatedTokens += m;
  return { frames: videoTensorToFrames(decoded, F, width, height), tokens: S, generatedTokens, stepMs };
}

/**
 * A window's previews: after a step, when due, the x0 estimate of ONE latent frame through the
 * model's linear colour map (previewMap.ts) as a small PNG. Due = `everyMs` since the window
 * started or since the last preview, and at least PREVIEW_COST_SHARE times the last preview's own
 * cost: with steps faster than that (small or distilled models) previews skip steps, never
 * slowing the window by more than 1/PREVIEW_COST_SHARE. A preview never changes the sampler's
 * state, so outputs are the same with or without them.
 */
async function startPreviews(opts: PreviewRequest, sink: PreviewSink, tokenMask: Float32Array, grid: LatentGrid, temporal: number) {
  // Previews are optional: a map that cannot be had means no previews, never a failed window.
  const map = await sink.map().catch(() => null);
  if (!map) return null;
  const j = previewLatentFrame(opts.frame, tokenMask, grid, temporal);
  const cells = grid.height * grid.width;
  let last = performance.now();
  let costMs = 0;
  return {
    after(step: number, steps: number, x: Float32Array, v: Float32Array, x0: Float32Array, mask: Float32Array, sigmaNext: number, C: number): void {
      const t = performance.now();
      if (t - last < Math.max(opts.everyMs, PREVIEW_COST_SHARE * costMs)) return;
      // After the Euler step x' = x + (σ' − σ)·v, so x̂0 = x − σ·v = x' − σ'·v. Known tokens: the source.
      const est = new Float32Array(cells * C);
      for (let cell = 0; cell < cells; cell++) {
        const o = (j * cells + cell) * C;
        if (mask[j * cells + cell] === 0) est.set(x0.subarray(o, o + C), cell * C);
        else for (let c = 0; c < C; c++) est[cell * C + c] = x[o + c]! - sigmaNext * v[o + c]!;
      }
      let picture: PreviewPicture;
      try {
        picture = previewPicture(map, est, C, grid.height, grid.width, opts.maxSize);
      } catch {
        return;
      }
      last = performance.now();
      costMs = last - t;
      sink.emit({ ...picture, step, steps, latentFrame: j, ms: costMs });
    },
  };
}

/**
 * The latent frame a preview shows: the caller's pixel frame when given (render.ts names the
 * middle of the new frames), else the middle of the latent frames that have generated tokens
 * (the middle of the window when nothing is generated).
 */
export function previewLatentFrame(frame: number | undefined, tokenMask: Float32Array, grid: LatentGrid, temporal: number): number {
  if (frame !== undefined) {
    const j = frame <= 0 ? 0 : Math.floor((frame - 1) / temporal) + 1;
    return Math.min(grid.frames - 1, j);
  }
  const cells = grid.height * grid.width;
  const generated: number[] = [];
  for (let j = 0; j < grid.frames; j++) {
    if (tokenMask.subarray(j * cells, (j + 1) * cells).some((m) => m !== 0)) generated.push(j);
  }
  return generated.length ? generated[(generated.length - 1) >> 1]! : (grid.frames - 1) >> 1;
}

/** Conditional and unconditional velocities in one batch of two, combined by CFG. */
async function guided(
  rt: ModelRuntime,
  x: Float32Array,
  timestep: Float32Array,
  cond: TextEmbedding,
  uncond: TextEmbedding,
  rope: Rope,
  guidance: number,
  S: number,
  C: number,
): Promise<Float32Array> {
  const xx = new Float32Array(2 * S * C);
  xx.set(x, 0);
  xx.set(x, S * C);
  const tt = new Float32Array(2 * S);
  tt.set(timestep, 0);
  tt.set(timestep, S);
  const v = await rt.velocity(xx, 2, tt, stackText(cond, uncond), rope);
  return applyGuidance(v.slice(0, S * C), v.subarray(S * C), guidance);
}

export interface TextEmbedding {
  /** [B, L, D] */
  embeds: Float32Array;
  /** [B, L], 1 = real token */
  mask: Float32Array;
  batch: number;
}

export interface Rope {
  cos: Float32Array;
  sin: Float32Array;
}

function stackText(a: TextEmbedding, b: TextEmbedding): TextEmbedding {
  const embeds = new Float32Array(a.embeds.length + b.embeds.length);
  embeds.set(a.embeds, 0);
  embeds.set(b.embeds, a.embeds.length);
  const mask = new Float32Array(a.mask.length + b.mask.length);
  mask.set(a.mask, 0);
  mask.set(b.mask, a.mask.length);
  return { embeds, mask, batch: a.batch + b.batch };
}

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}
