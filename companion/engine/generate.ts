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
import { concatTokens, framesToVideoTensor, latentFrames, latentToTokens, latentTokenMask, tokensToLatent, videoTensorToFrames, type LatentGrid } from './latents.ts';
import { Rng } from './noise.ts';
import { previewPicture, type PreviewMap, type PreviewPicture } from './previewMap.ts';
import type { ModelRuntime } from './runtime.ts';
import { firstPass, guidanceAt } from '../models/recipe.ts';
import { appendConditioning, type AppendedConditioning, type AppendedTokens } from './appended.ts';
import type { ModelManifest } from '../models/types.ts';
import { addContextGuidance, combineGuidance } from './guidance.ts';
import { batchedVelocity } from './guidanceBatch.ts';
import { denoiseOnDevice, devicePassPlan } from './devicePass.ts';
import {
  addNoise,
  applyGuidance,
  blendKnown,
  eulerStep,
  noiseKnown,
  passSchedule,
  scheduleFor,
  sigmaSchedule,
  stochasticStep,
  timestepFor,
  truncateForStrength,
} from './scheduler.ts';

export type Conditioning = 'per-token' | 'blend';

/** Offsets of the decoder-noise, stochastic-step and conditioning-noise streams from a window's sampler stream. */
const DECODE_NOISE_STREAM = 1 << 20;
const STOCHASTIC_NOISE_STREAM = 2 << 20;
const CONDITIONING_NOISE_STREAM = 3 << 20;

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
  /**
   * Known frames given to the model as extra tokens where they sit in the window, not in the grid
   * (a bridge's end frames, as the authors condition them: appended.ts). Per-token conditioning only.
   */
  appended?: AppendedConditioning[];
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
  /** Tokens of the (last) pass, and how many of them were generated. */
  tokens: number;
  generatedTokens: number;
  stepMs: number[];
  /** The denoising passes that ran, in order (two for a multi-scale recipe with its upsampler). */
  passes: PassRecord[];
  /** Why the window ran otherwise than its recipe says (a multi-scale recipe without the upsampler). */
  note?: string;
}

/** One denoising pass as the provenance records it. */
export interface PassRecord {
  width: number;
  height: number;
  steps: number;
}

export async function generateWindow(
  rt: ModelRuntime,
  req: WindowRequest,
  onStep: (s: StepInfo) => void,
  isCancelled: () => boolean,
  previews?: PreviewSink,
): Promise<WindowResult> {
  const { width, height } = req;
  const layout = windowLayout(rt.manifest, req.frames, req.masks, width, height);
  const plan = samplingPlan(rt.manifest, req, layout.tokens);
  // Text first: with stage-by-stage loading the text encoder is then done with for the window.
  const text = await encodePrompts(rt, req.prompt, plan.negativePrompt, plan.anyCfg);
  const x0 = await encodeKnown(rt, req.frames, layout, width, height);
  const appended = await encodeAppended(rt, req, req.appended ?? [], layout, x0, width, height);
  const steps = plan.sigmas.length - 1;
  const { x, stepMs } = await denoisePass(rt, { req, layout, x0, appended, plan, text, stream: req.stream, stepBase: 0, totalSteps: steps }, onStep, isCancelled, previews);
  const frames = await decodeWindow(rt, x, layout.grid, req, plan.toneMap, width, height);
  return { frames, tokens: layout.tokens, generatedTokens: layout.generatedTokens, stepMs, passes: [{ width, height, steps }] };
}

/**
 * A window's appended conditioning (appended.ts) at this layout's size: its extra tokens; latent
 * frames of long items that belong in the grid are written into `x0` and marked known in the
 * layout (whose generated-token count is updated). Per-token conditioning only.
 */
export async function encodeAppended(
  rt: ModelRuntime,
  req: Pick<WindowRequest, 'conditioning' | 'fps' | 'frames'>,
  items: readonly AppendedConditioning[],
  layout: WindowLayout,
  x0: Float32Array,
  width: number,
  height: number,
): Promise<AppendedTokens> {
  if (items.length && req.conditioning !== 'per-token') throw new RangeError('appended conditioning needs per-token conditioning');
  const appended = await appendConditioning(rt, items, { frames: req.frames.length, width, height, fps: req.fps }, layout.grid, x0, layout.tokenMask);
  let generated = 0;
  for (const v of layout.tokenMask) generated += v;
  layout.generatedTokens = generated;
  return appended;
}

/** A window's latent layout at one size: the token grid and which tokens are generated (1) or known (0). */
export interface WindowLayout {
  grid: LatentGrid;
  tokenMask: Float32Array;
  tokens: number;
  generatedTokens: number;
}

/** The latent grid and token mask of frames/masks at width × height (masks null: known frame, or generated whole when the frame is null). */
export function windowLayout(m: ModelManifest, frames: readonly (Frame | null)[], masks: readonly (Float32Array | null)[], width: number, height: number): WindowLayout {
  const spec = m.latent;
  const fullMask = new Float32Array(width * height).fill(1);
  const pixelMasks = frames.map((f, i) => masks[i] ?? (f ? new Float32Array(width * height) : fullMask));
  const { mask: tokenMask, grid } = latentTokenMask(pixelMasks, width, height, spec);
  if (latentFrames(frames.length, spec.temporal) !== grid.frames) throw new Error('window frame count does not match the latent grid');
  let generatedTokens = 0;
  for (const v of tokenMask) generatedTokens += v;
  return { grid, tokenMask, tokens: grid.frames * grid.height * grid.width, generatedTokens };
}

export interface PromptEmbeddings {
  cond: TextEmbedding;
  /** The negative prompt's; only when some step runs CFG. */
  uncond: TextEmbedding | null;
}

export async function encodePrompts(rt: ModelRuntime, prompt: string, negativePrompt: string, needUncond: boolean): Promise<PromptEmbeddings> {
  const cond = await rt.encodeText(prompt);
  return { cond, uncond: needUncond ? await rt.encodeText(negativePrompt) : null };
}

/** The window's frames through the VAE encoder, as tokens [S, C]. */
export async function encodeKnown(rt: ModelRuntime, frames: readonly (Frame | null)[], layout: WindowLayout, width: number, height: number): Promise<Float32Array> {
  return encodeVideoTokens(rt, windowVideo(frames, width, height), frames.length, layout, width, height);
}

/** The window as the VAE's video tensor [1, 3, F, H, W]. Unknown frames go in as mid-grey: their tokens are pure noise anyway. */
export function windowVideo(frames: readonly (Frame | null)[], width: number, height: number): Float32Array {
  const grey: Frame = { width, height, channels: 3, data: new Uint8Array(width * height * 3).fill(128) };
  return framesToVideoTensor(frames.map((f) => f ?? grey));
}

/** A video tensor [1, 3, F, H, W] through the VAE encoder, as tokens [S, C]. */
export async function encodeVideoTokens(rt: ModelRuntime, video: Float32Array, frames: number, layout: WindowLayout, width: number, height: number): Promise<Float32Array> {
  return latentToTokens(await rt.encodeVideo(video, frames, height, width), rt.manifest.latent.channels, layout.tokens);
}

/** One denoising pass over a window's tokens. */
export interface PassRun {
  req: WindowRequest;
  layout: WindowLayout;
  /** The encoded window [S, C]: known tokens are held to it. */
  x0: Float32Array;
  /** Extra known tokens placed before the grid's ([appended | grid], as the authors order them; encodeAppended); dropped from the result. */
  appended?: AppendedTokens;
  plan: SamplingPlan;
  text: PromptEmbeddings;
  /** Where generated tokens start, noised to the first σ: these latents [S, C] (a multi-scale second pass: the upsampled first pass), else x0. */
  start?: Float32Array;
  /** Noise stream of the pass (its further streams are offsets from it). */
  stream: number;
  /** Steps of earlier passes, and of all passes, for progress. */
  stepBase: number;
  totalSteps: number;
}

/**
 * Denoises one pass: generated tokens start at the first σ (from `start` or the source), known
 * tokens at the source; then the recipe's steps with per-token timesteps or latent blending.
 * Returns the final grid tokens [S, C] (appended tokens dropped).
 */
export async function denoisePass(
  rt: ModelRuntime,
  p: PassRun,
  onStep: (s: StepInfo) => void,
  isCancelled: () => boolean,
  previews?: PreviewSink,
): Promise<{ x: Float32Array; stepMs: number[] }> {
  const { req, plan } = p;
  const { tokenMask, grid, tokens: S } = p.layout;
  const { cond, uncond } = p.text;
  const C = rt.manifest.latent.channels;
  // Appended conditioning goes first in the sequence and is known throughout; without any, A = 0
  // and the arrays below are the grid's own.
  const A = p.appended?.count ?? 0;
  const N = A + S;
  const x0 = A ? concatTokens(p.appended!.tokens, p.x0) : p.x0;
  const mask = A ? concatTokens(new Float32Array(A), tokenMask) : tokenMask;
  // Right after the encode: a model whose preview map must be fitted uses its encoder, resident now.
  const preview = req.preview && previews ? await startPreviews(req.preview, previews, tokenMask, grid, rt.manifest.latent.temporal) : null;

  const sigmas = plan.sigmas;
  const noise = new Rng(req.seed, p.stream).normal(new Float32Array(S * C));
  // Further noise streams of the recipe (stochastic steps, conditioning noise), each its own so
  // none shifts the sampler's initial noise.
  const stepRng = new Rng(req.seed, p.stream + STOCHASTIC_NOISE_STREAM);
  const condRng = new Rng(req.seed, p.stream + CONDITIONING_NOISE_STREAM);

  // Start: generated tokens at the first σ, known tokens at the source.
  const gridStart = addNoise(p.start ?? p.x0, noise, sigmas[0]!);
  const x = A ? concatTokens(p.appended!.tokens, gridStart) : gridStart;
  for (let t = 0; t < N; t++) if (mask[t] === 0) x.set(x0.subarray(t * C, (t + 1) * C), t * C);

  const gridRope = rt.rope(grid, req.fps);
  const rope: Rope = A ? { cos: concatTokens(p.appended!.rope.cos, gridRope.cos), sin: concatTokens(p.appended!.rope.sin, gridRope.sin) } : gridRope;
  const perToken = req.conditioning === 'per-token';
  const alone = perToken && plan.anyContext ? generatedAlone(mask, rope) : null;
  const timestep = new Float32Array(N);
  const stepMs: number[] = [];
  const steps = sigmas.length - 1;
  // Where the provider can keep the pass on the device (WebGPU), the steps run there; the loop
  // below takes what they leave (none, or the rest after an fp16 overflow; devicePass.ts).
  let first = 0;
  const onDevice = alone ? null : devicePassPlan(rt, plan, { perToken, previews: preview !== null, tokens: N, textTokens: cond.mask.length / cond.batch });
  if (onDevice) {
    first = await denoiseOnDevice(onDevice, {
      x, mask, channels: C, sigmas, plan, texts: { cond, uncond }, rope, isCancelled,
      onStep: (i, ms) => {
        stepMs.push(ms);
        onStep({ step: p.stepBase + i + 1, steps: p.totalSteps });
      },
    });
  }
  for (let i = first; i < steps; i++) {
    if (isCancelled()) throw new CancelledError();
    const started = performance.now();
    const sigma = sigmas[i]!;
    const sigmaNext = sigmas[i + 1]!;
    if (perToken && plan.conditioningNoise > 0) noiseKnown(x, x0, condRng.normal(new Float32Array(N * C)), plan.conditioningNoise, sigma, C, mask);
    // Per-token timesteps: known tokens are told they are clean (t = 0). Blending: one t for all.
    for (let t = 0; t < N; t++) timestep[t] = timestepFor(perToken ? sigma * mask[t]! : sigma);
    const v = await stepVelocity(rt, x, timestep, cond, uncond, rope, plan.weightsAt(sigma), N, C, alone);
    if (plan.stochastic) {
      stochasticStep(x, v, sigma, sigmaNext, C, stepRng.normal(new Float32Array(N * C)), perToken ? mask : undefined);
      if (!perToken) blendKnown(x, x0, noise, sigmaNext, C, tokenMask);
    } else if (perToken) {
      eulerStep(x, v, sigma, sigmaNext, C, mask);
    } else {
      eulerStep(x, v, sigma, sigmaNext, C);
      blendKnown(x, x0, noise, sigmaNext, C, tokenMask);
    }
    stepMs.push(performance.now() - started);
    onStep({ step: p.stepBase + i + 1, steps: p.totalSteps });
    preview?.after(p.stepBase + i + 1, p.totalSteps, x.subarray(A * C), v.subarray(A * C), p.x0, tokenMask, sigmaNext, C);
  }
  if (isCancelled()) throw new CancelledError();
  return { x: A ? x.slice(A * C) : x, stepMs };
}

/** Final tokens → frames at width × height. */
export async function decodeWindow(rt: ModelRuntime, x: Float32Array, grid: LatentGrid, req: Pick<WindowRequest, 'seed' | 'stream' | 'frames'>, toneMap: number, width: number, height: number): Promise<Frame[]> {
  return videoTensorToFrames(await decodeTokens(rt, x, grid, req, toneMap), req.frames.length, width, height);
}

/** Final tokens → the decoded video tensor [1, 3, F, H, W], with the decoder's own noise stream (it never shifts the sampler's). */
export async function decodeTokens(rt: ModelRuntime, x: Float32Array, grid: LatentGrid, req: Pick<WindowRequest, 'seed' | 'stream'>, toneMap: number): Promise<Float32Array> {
  const C = rt.manifest.latent.channels;
  const S = grid.frames * grid.height * grid.width;
  const decodeRng = new Rng(req.seed, req.stream + DECODE_NOISE_STREAM);
  const decodeNoise = (count: number) => decodeRng.normal(new Float32Array(count));
  return rt.decodeVideo(tokensToLatent(x, C, S), grid.frames, grid.height, grid.width, decodeNoise, toneMap);
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

/**
 * The generated tokens of a pass on their own, for context guidance's pass: their indices in the
 * sequence and their rows of the RoPE tables (each token keeps its place in space and time). Null
 * when every token is generated (nothing to guide by) or none is.
 */
export function generatedAlone(mask: Float32Array, rope: Rope): ContextFree | null {
  const index = Int32Array.from(Array.from(mask.keys()).filter((t) => mask[t] !== 0));
  if (index.length === 0 || index.length === mask.length) return null;
  const dim = rope.cos.length / mask.length;
  return { index, rope: { cos: gatherTokens(rope.cos, index, dim), sin: gatherTokens(rope.sin, index, dim) } };
}

/** The pass of context guidance: which tokens run in it and their RoPE rows. */
export interface ContextFree {
  index: Int32Array;
  rope: Rope;
}

/** Rows `index` of a [S, width] array. */
function gatherTokens(a: Float32Array, index: Int32Array, width: number): Float32Array {
  const out = new Float32Array(index.length * width);
  for (let k = 0; k < index.length; k++) out.set(a.subarray(index[k]! * width, (index[k]! + 1) * width), k * width);
  return out;
}

/**
 * One step's velocity: the conditional pass, plus the unconditional (CFG) and perturbed (STG)
 * passes the step's weights ask for, as a batch [cond, uncond?, perturbed?], combined as the
 * authors do (guidance.ts). CFG alone keeps the plain v_u + g·(v_c − v_u) of applyGuidance.
 * Then, where the step runs context guidance and the window has known tokens, the generated
 * tokens once more on their own (`alone`), and the velocity moved away from that pass.
 */
async function stepVelocity(
  rt: ModelRuntime,
  x: Float32Array,
  timestep: Float32Array,
  cond: TextEmbedding,
  uncond: TextEmbedding | null,
  rope: Rope,
  w: StepPlan,
  S: number,
  C: number,
  alone: ContextFree | null,
): Promise<Float32Array> {
  const texts = [cond, ...(w.useCfg ? [uncond!] : []), ...(w.useStg ? [cond] : [])];
  const batch = texts.length;
  let perturb: Float32Array | undefined;
  if (w.useStg) {
    const layers = rt.manifest.transformer.numLayers;
    perturb = new Float32Array(layers * batch);
    for (const block of w.skipBlocks) perturb[block * batch + (batch - 1)] = 1;
  }
  // One batch where the memory budget allows, else the passes in turn (guidanceBatch.ts).
  const v = batch === 1 ? await rt.velocity(x, 1, timestep, cond, rope) : await batchedVelocity(rt, x, timestep, texts, rope, perturb);
  const part = (b: number) => v.subarray(b * S * C, (b + 1) * S * C);
  let out: Float32Array;
  if (batch === 1) out = w.context > 1 && alone ? v.slice(0, S * C) : v;
  else if (w.useCfg && !w.useStg && !w.cfgStar) out = applyGuidance(v.slice(0, S * C), part(1), w.cfg);
  else {
    out = combineGuidance(
      { cond: part(0), ...(w.useCfg ? { uncond: part(1) } : {}), ...(w.useStg ? { perturbed: part(batch - 1) } : {}) },
      { cfg: w.cfg, stg: w.stg, rescale: w.rescale, cfgStar: w.cfgStar },
    );
  }
  if (w.context > 1 && alone) {
    const noContext = await rt.velocity(gatherTokens(x, alone.index, C), 1, gatherTokens(timestep, alone.index, 1), cond, alone.rope);
    addContextGuidance(out, part(0), noContext, alone.index, C, w.context);
  }
  return out;
}

/** What one step runs. */
export interface StepPlan {
  useCfg: boolean;
  cfg: number;
  cfgStar: boolean;
  useStg: boolean;
  stg: number;
  rescale: number;
  skipBlocks: number[];
  /** Context guidance's scale this step (1 = off; manifest.scheduler.contextGuidance). */
  context: number;
}

/** How a window is sampled: the model's recipe (models/recipe.ts) with the job's overrides. */
export interface SamplingPlan {
  sigmas: Float64Array;
  weightsAt(sigma: number): StepPlan;
  /** Whether any step runs CFG (the negative prompt is encoded only then). */
  anyCfg: boolean;
  /** Whether any step runs context guidance. */
  anyContext: boolean;
  negativePrompt: string;
  stochastic: boolean;
  conditioningNoise: number;
  toneMap: number;
}

/**
 * The sampling plan of a window. Without a recipe (test models): the shifted schedule at
 * `steps`, constant CFG wherever guidance ≠ 1, Euler steps. With one, the recipe's pass `pass`
 * (0: the first pass, which is all a single-pass render runs; 1: a multi-scale recipe's second
 * pass, after the latent upsampler):
 *  - steps: at the recipe's own count, its fixed σ list or its shifted schedule with skipped
 *    steps; another count asked for by the job gets the plain shifted schedule in the first pass
 *    (the second pass always runs its own short schedule);
 *  - guidance: at the model's default (`manifest.scheduler.guidance`, the schedule's peak) the
 *    recipe's CFG / STG / rescale schedules over σ; another value replaces the CFG scale at every
 *    step (STG and rescale keep their schedules); CFG runs where the scale is > 1, STG where > 0;
 *  - the recipe's CFG-star, stochastic sampling, conditioning noise, default negative prompt
 *    (when the job gives none) and tone mapping of the final latents.
 * `strength` < 1 then keeps the last steps of each pass, as before.
 */
export function samplingPlan(
  m: ModelManifest,
  req: Pick<WindowRequest, 'steps' | 'guidance' | 'strength' | 'negativePrompt'>,
  tokens: number,
  passIndex = 0,
): SamplingPlan {
  const recipe = m.recipe;
  const cg = m.scheduler.contextGuidance;
  const contextAt = (sigma: number): number => (cg && sigma >= cg.minSigma ? cg.scale : 1);
  const anyContext = (sigmas: Float64Array): boolean => Array.from(sigmas.subarray(0, -1)).some((s) => contextAt(s) > 1);
  if (!recipe) {
    const useCfg = req.guidance !== 1;
    const w: StepPlan = { useCfg, cfg: req.guidance, cfgStar: false, useStg: false, stg: 0, rescale: 1, skipBlocks: [], context: 1 };
    const sigmas = truncateForStrength(scheduleFor(m.scheduler, req.steps, tokens), req.strength);
    return {
      sigmas,
      weightsAt: (sigma) => ({ ...w, context: contextAt(sigma) }),
      anyCfg: useCfg,
      anyContext: anyContext(sigmas),
      negativePrompt: req.negativePrompt,
      stochastic: false,
      conditioningNoise: 0,
      toneMap: 0,
    };
  }
  const pass = passIndex === 0 ? firstPass(recipe) : recipe.passes[passIndex];
  if (!pass) throw new Error(`internal: recipe ${recipe.name} has no pass ${passIndex + 1}`);
  const full =
    passIndex > 0 || req.steps === pass.steps
      ? passSchedule(pass, m.scheduler.shift, tokens, m.scheduler.shiftTerminal)
      : sigmaSchedule(req.steps, m.scheduler.shift, tokens, m.scheduler.shiftTerminal);
  const sigmas = truncateForStrength(full, req.strength);
  const ownGuidance = req.guidance === m.scheduler.guidance;
  const weightsAt = (sigma: number): StepPlan => {
    const g = guidanceAt(pass.guidance, sigma);
    const cfg = ownGuidance ? g.cfg : req.guidance;
    const useStg = g.stg > 0 && g.skipBlocks.length > 0;
    return { useCfg: cfg > 1, cfg, cfgStar: pass.cfgStar, useStg, stg: g.stg, rescale: g.rescale, skipBlocks: g.skipBlocks, context: contextAt(sigma) };
  };
  const anyCfg = Array.from(sigmas.subarray(0, -1)).some((s) => weightsAt(s).useCfg);
  return {
    sigmas,
    weightsAt,
    anyCfg,
    anyContext: anyContext(sigmas),
    negativePrompt: req.negativePrompt || recipe.negativePrompt,
    stochastic: recipe.stochastic,
    conditioningNoise: recipe.conditioningNoise,
    toneMap: recipe.passes[recipe.passes.length - 1]!.toneMapCompression,
  };
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

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}
