/**
 * A window as its model's recipe runs it: the known frames blurred and through the recipe's H.264
 * CRF (media/crf.ts) as the authors prepare conditioning media, then the multi-scale pipeline of LTX-Video 0.9.7/0.9.8
 * (Lightricks/LTX-Video ltx_video/pipelines/pipeline_ltx_video.py, LTXMultiScalePipeline) when
 * the recipe asks for it and the model folder carries the latent upsampler, else one pass
 * (generate.ts generateWindow).
 *
 * The two passes, as the authors run them:
 *  1. the window's frames (bilinear, in float, as the authors resize conditioning media) and masks
 *     (by their maximum) resized to the first-pass size (the target × the recipe's downscale
 *     factor, each side truncated, then down to the VAE's multiple), encoded, denoised with the
 *     recipe's first pass;
 *  2. the latents upsampled ×2 by the upsampler graph, then AdaIN-filtered to the first pass's
 *     per-channel mean and std;
 *  3. frames and masks resized to twice the first size and encoded again: known tokens are held
 *     to these; generated tokens start from the upsampled latents noised to the second pass's
 *     first σ; the recipe's second pass (its own schedule and guidance; its noise from streams
 *     offset by SECOND_PASS_STREAM);
 *  4. decoded at the second size, then resized to the target size (bilinear, in float).
 * The caller composites at full resolution as for every window, so known pixels stay the source's.
 */
import { ReshootError } from '../errors.ts';
import { crfRoundTrip } from '../media/crf.ts';
import type { Frame } from '../media/frame.ts';
import type { Recipe } from '../models/recipe.ts';
import type { ModelManifest } from '../models/types.ts';
import type { AppendedConditioning } from './appended.ts';
import {
  decodeTokens,
  denoisePass,
  encodeAppended,
  encodePrompts,
  encodeVideoTokens,
  generateWindow,
  samplingPlan,
  windowLayout,
  windowVideo,
  type PreviewSink,
  type StepInfo,
  type WindowRequest,
  type WindowResult,
} from './generate.ts';
import { gaussianBlur3, maskDown, resize } from './image.ts';
import { latentToTokens, tokensToLatent, videoTensorToFrames } from './latents.ts';
import { adainFilter, leastSide, multiScaleSizes, resizeVideoTensor, type PassSizes } from './multiScale.ts';
import type { ModelRuntime } from './runtime.ts';

/** Offset of the second pass's noise streams from the window's: its initial noise never repeats the first pass's. */
export const SECOND_PASS_STREAM = 4 << 20;

/** Why a multi-scale recipe ran as one pass, or null when it runs as its recipe says. */
export function singlePassReason(m: ModelManifest, hasUpsampler: boolean): string | null {
  const r = m.recipe;
  if (r?.pipeline !== 'multi-scale' || hasUpsampler) return null;
  return `recipe ${r.name} is multi-scale, but model ${m.id} has no latent upsampler (${r.upscaler}): ran its first pass only, at full size`;
}

export async function sampleWindow(
  rt: ModelRuntime,
  req: WindowRequest,
  onStep: (s: StepInfo) => void,
  isCancelled: () => boolean,
  previews?: PreviewSink,
): Promise<WindowResult> {
  const recipe = rt.manifest.recipe;
  const twoPass = recipe?.pipeline === 'multi-scale' && rt.hasUpsampler;
  // A size too small for the passes is refused before any work.
  const sizes = twoPass ? passSizes(rt.manifest, req.width, req.height, recipe.downscaleFactor!) : null;
  if (recipe && (recipe.conditioningImageCrf > 0 || recipe.conditioningImageBlur)) {
    const appended = req.appended ? await Promise.all(req.appended.map(async (a) => ({ ...a, frames: (await prepareConditioning(a.frames, recipe)) as Frame[] }))) : undefined;
    req = { ...req, frames: await prepareConditioning(req.frames, recipe), ...(appended ? { appended } : {}) };
  }
  if (!sizes) {
    const note = singlePassReason(rt.manifest, rt.hasUpsampler);
    const r = await generateWindow(rt, req, onStep, isCancelled, previews);
    return note ? { ...r, note } : r;
  }
  return twoPassWindow(rt, req, sizes, onStep, isCancelled, previews);
}

/**
 * The window's known frames as the authors prepare conditioning media (inference.py): blurred
 * (3×3 Gaussian) and through libx264 at the recipe's CRF and back, at the working size (they do
 * it at the target size, before resizing for a pass). A frame that appears more than once
 * (padding repeats the last) is prepared once.
 */
async function prepareConditioning(frames: readonly (Frame | null)[], recipe: Recipe): Promise<(Frame | null)[]> {
  const distinct = [...new Set(frames.filter((f): f is Frame => f !== null))];
  const sigma = recipe.conditioningImageBlur;
  const blurred = sigma ? distinct.map((f) => gaussianBlur3(f, sigma)) : distinct;
  const done = await crfRoundTrip(blurred, recipe.conditioningImageCrf);
  const byFrame = new Map(distinct.map((f, i) => [f, done[i]!]));
  return frames.map((f) => (f ? byFrame.get(f)! : null));
}

/** The pass sizes for a window's target size, or one clear error naming the size that is too small. */
export function passSizes(m: ModelManifest, width: number, height: number, downscaleFactor: number): PassSizes {
  const multiple = m.latent.spatial;
  try {
    return multiScaleSizes(width, height, downscaleFactor, multiple);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    const least = leastSide(m, downscaleFactor);
    throw new ReshootError(
      'bad_spec',
      `the working size ${width}×${height} is too small for ${m.recipe?.name ?? m.id}'s multi-scale pipeline: its first pass runs at ×${round(downscaleFactor)} in multiples of ${multiple} px, so each side needs at least ${least} px`,
    );
  }
}

async function twoPassWindow(
  rt: ModelRuntime,
  req: WindowRequest,
  { first, second }: PassSizes,
  onStep: (s: StepInfo) => void,
  isCancelled: () => boolean,
  previews?: PreviewSink,
): Promise<WindowResult> {
  const m = rt.manifest;
  const C = m.latent.channels;
  const { width: W, height: H } = req;
  const F = req.frames.length;
  // The window in float, resized per pass as the authors resize conditioning media (bilinear);
  // masks by their maximum, so no pixel to generate is lost.
  const video = windowVideo(req.frames, W, H);
  const at = (size: { width: number; height: number }) => {
    const full = { x: 0, y: 0, width: W, height: H };
    const masks = req.masks.map((a) => (a ? maskDown(a, W, H, full, size.width, size.height) : null));
    return { size, video: resizeVideoTensor(video, F, H, W, size.height, size.width), layout: windowLayout(m, req.frames, masks, size.width, size.height) };
  };
  const one = at(first);
  const two = at(second);
  const plan1 = samplingPlan(m, req, one.layout.tokens, 0);
  const plan2 = samplingPlan(m, req, two.layout.tokens, 1);
  const totalSteps = plan1.sigmas.length - 1 + plan2.sigmas.length - 1;
  // Text first, once for both passes: the text encoder is then done with for the window.
  const text = await encodePrompts(rt, req.prompt, plan1.negativePrompt, plan1.anyCfg || plan2.anyCfg);

  const x0First = await encodeVideoTokens(rt, one.video, F, one.layout, first.width, first.height);
  const appendedFirst = await encodeAppended(rt, req, appendedAt(req.appended, first), one.layout, x0First, first.width, first.height);
  const pass1 = await denoisePass(
    rt,
    { req, layout: one.layout, x0: x0First, appended: appendedFirst, plan: plan1, text, stream: req.stream, stepBase: 0, totalSteps },
    onStep,
    isCancelled,
    previews,
  );

  // Upsample ×2, then give the result the first pass's per-channel statistics (adain_filter_latent).
  const g1 = one.layout.grid;
  const low = tokensToLatent(pass1.x, C, one.layout.tokens);
  const up = await rt.upsample(low, g1.frames, g1.height, g1.width);
  const start = latentToTokens(adainFilter(up, low, C), C, two.layout.tokens);

  const x0Second = await encodeVideoTokens(rt, two.video, F, two.layout, second.width, second.height);
  const appendedSecond = await encodeAppended(rt, req, appendedAt(req.appended, second), two.layout, x0Second, second.width, second.height);
  const pass2 = await denoisePass(
    rt,
    { req, layout: two.layout, x0: x0Second, appended: appendedSecond, plan: plan2, text, start, stream: req.stream + SECOND_PASS_STREAM, stepBase: plan1.sigmas.length - 1, totalSteps },
    onStep,
    isCancelled,
    previews,
  );
  // Decoded at the second pass's size, then resized to the target in float, as the authors do.
  const decoded = await decodeTokens(rt, pass2.x, two.layout.grid, req, plan2.toneMap);
  const frames = videoTensorToFrames(resizeVideoTensor(decoded, F, second.height, second.width, H, W), F, W, H);
  return {
    frames,
    tokens: two.layout.tokens,
    generatedTokens: two.layout.generatedTokens,
    stepMs: [...pass1.stepMs, ...pass2.stepMs],
    passes: [
      { ...first, steps: plan1.sigmas.length - 1 },
      { ...second, steps: plan2.sigmas.length - 1 },
    ],
  };
}

/**
 * A window's appended conditioning (a bridge's end frames) resized to a pass's size. The authors
 * resize conditioning media bilinearly in float; these frames are resized in 8 bits (image.ts),
 * which no golden covers yet.
 */
function appendedAt(items: readonly AppendedConditioning[] | undefined, size: { width: number; height: number }): AppendedConditioning[] {
  return (items ?? []).map((a) => ({ ...a, frames: a.frames.map((f) => resize(f, size.width, size.height)) }));
}

const round = (v: number): number => Math.round(v * 1000) / 1000;
