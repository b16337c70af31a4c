/**
 * What the recipe runner (engine/twoPass.ts sampleWindow) and the sampler's guidance batch add
 * around the one-pass sampler, with the real tiny-model graphs (its patchify "VAE" is exactly
 * invertible, so whatever the encoder is given shows in the output):
 *  - the authors' preparation of conditioning frames: a 3×3 Gaussian blur (engine/image.ts), then
 *    libx264 at the recipe's CRF and back (media/crf.ts): a frame through the codec keeps its size
 *    and is close to, but not, the original; a recipe with both conditions on exactly the
 *    prepared frames, a recipe with neither on the frames as given;
 *  - the batched guidance passes (cond / uncond / perturbed) under a memory budget too small for
 *    the batch run one after the other and give the same latents within float tolerance.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  denoisePass,
  encodeKnown,
  encodePrompts,
  generateWindow,
  samplingPlan,
  windowLayout,
  type WindowRequest,
} from '../../companion/engine/generate.ts';
import { activationBytes, batchFits } from '../../companion/engine/guidanceBatch.ts';
import { gaussianBlur3 } from '../../companion/engine/image.ts';
import { loadRuntime, type ModelRuntime } from '../../companion/engine/runtime.ts';
import { sampleWindow } from '../../companion/engine/twoPass.ts';
import { crfRoundTrip } from '../../companion/media/crf.ts';
import type { Frame } from '../../companion/media/frame.ts';
import { syntheticFrame } from '../../companion/media/synthetic.ts';
import { recipeByName } from '../../companion/models/ltxv/recipes.ts';
import type { Recipe } from '../../companion/models/recipe.ts';
import { loadModel } from '../../companion/models/registry.ts';
import { tinyTransformerConfig } from '../../companion/models/tiny.ts';
import type { ModelHandle } from '../../companion/models/types.ts';
import { tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { tinyStgModel } from '../helpers/tinyStg.ts';

useTestModelCache();

const W = 64;
const H = 48;
const tmp = tempDir();
let stgHandle: ModelHandle;
const runtimes: ModelRuntime[] = [];

/** The 2B 0.9.5 recipe at 2 steps on the tiny model, with the given CRF, blur and guidance. */
function tinyRecipe(p: { crf: number; blur?: number; cfg?: number; stg?: number }): Recipe {
  const { conditioningImageBlur: _, ...base } = recipeByName('ltxv-2b-0.9.5')!;
  return {
    ...base,
    conditioningImageCrf: p.crf,
    ...(p.blur ? { conditioningImageBlur: p.blur } : {}),
    conditioningNoise: 0,
    passes: [{ ...base.passes[0]!, steps: 2, guidance: { cfg: [p.cfg ?? 1], stg: [p.stg ?? 0], rescale: [0.7], skipBlocks: [[1]] } }],
  };
}

async function runtimeWith(recipe: Recipe, budgetBytes?: number): Promise<ModelRuntime> {
  const m = stgHandle.manifest;
  const manifest = { ...m, recipe, scheduler: { ...m.scheduler, steps: 2, guidance: Math.max(...recipe.passes[0]!.guidance.cfg) } };
  const rt = await loadRuntime({ ...stgHandle, manifest }, { providers: ['cpu'], ...(budgetBytes ? { budgetBytes } : {}) });
  runtimes.push(rt);
  return rt;
}

beforeAll(async () => {
  const plain = await loadModel('builtin:tiny');
  stgHandle = tinyStgModel(plain, join(tmp.dir, 'tiny-stg'));
});
afterAll(async () => {
  for (const rt of runtimes) await rt.release();
  tmp.cleanup();
});

/** Extend-like window: the first two frames known (the second one twice: padding repeats), 7 to generate. */
function request(first = syntheticFrame(0, W, H), second = syntheticFrame(1, W, H)): WindowRequest {
  return {
    width: W,
    height: H,
    frames: [first, second, second, ...Array<Frame | null>(6).fill(null)],
    masks: Array(9).fill(null),
    prompt: 'a boat',
    negativePrompt: '',
    seed: 5,
    stream: 0,
    steps: 2,
    guidance: 1,
    strength: 1,
    conditioning: 'per-token',
    fps: 24,
  };
}

const bytes = (frames: Frame[]): Buffer => Buffer.concat(frames.map((f) => Buffer.from(f.data)));
const none = () => {};
const never = () => false;

describe('CRF compression of conditioning frames', () => {
  it('a frame through libx264 and back: same size, near the original but not it, the same every time; CRF 0 leaves it alone', async () => {
    const f = syntheticFrame(3, W, H);
    const [a] = await crfRoundTrip([f], 29);
    const [b] = await crfRoundTrip([f], 29);
    expect([a!.width, a!.height, a!.channels]).toEqual([W, H, 3]);
    expect(Buffer.from(a!.data).equals(Buffer.from(b!.data))).toBe(true);
    let diff = 0;
    for (let i = 0; i < f.data.length; i++) diff += Math.abs(a!.data[i]! - f.data[i]!);
    const mean = diff / f.data.length;
    expect(mean).toBeGreaterThan(0.1);
    expect(mean).toBeLessThan(12);
    // A harder CRF loses more.
    const [c] = await crfRoundTrip([f], 45);
    let diffHard = 0;
    for (let i = 0; i < f.data.length; i++) diffHard += Math.abs(c!.data[i]! - f.data[i]!);
    expect(diffHard).toBeGreaterThan(diff);
    expect((await crfRoundTrip([f], 0))[0]).toBe(f);
    // Odd sizes (yuv420p needs even ones) come back at their own size.
    const [odd] = await crfRoundTrip([syntheticFrame(3, 33, 17)], 29);
    expect([odd!.width, odd!.height]).toEqual([33, 17]);
    await expect(crfRoundTrip([f], 52)).rejects.toThrow(/CRF must be a whole number in \[0, 51\]/);
  });

  it('the authors’ blur before it: 3×3 Gaussian (σ 1), reflect edges, truncated to 8 bits; flat areas keep their level', () => {
    const flat: Frame = { width: 5, height: 4, channels: 3, data: new Uint8Array(60).fill(200) };
    expect(Buffer.from(gaussianBlur3(flat, 1).data).equals(Buffer.from(flat.data))).toBe(true);
    const dot: Frame = { width: 5, height: 5, channels: 3, data: new Uint8Array(75) };
    dot.data.fill(255, (2 * 5 + 2) * 3, (2 * 5 + 2) * 3 + 3);
    const e = Math.exp(-0.5);
    const k = [e / (1 + 2 * e), 1 / (1 + 2 * e)];
    const at = (x: number, y: number) => gaussianBlur3(dot, 1).data[(y * 5 + x) * 3]!;
    expect([at(2, 2), at(1, 2), at(1, 1), at(0, 0)]).toEqual([Math.trunc(255 * k[1]! * k[1]!), Math.trunc(255 * k[0]! * k[1]!), Math.trunc(255 * k[0]! * k[0]!), 0]);
  });

  it('a recipe with a blur and a CRF conditions on exactly the blurred, compressed frames; one without on the frames as given', async () => {
    const req = request();
    const withCrf = await runtimeWith(tinyRecipe({ crf: 29, blur: 1 }));
    const got = await sampleWindow(withCrf, req, none, never);
    const [first, second] = await crfRoundTrip([gaussianBlur3(req.frames[0]!, 1), gaussianBlur3(req.frames[1]!, 1)], 29);
    const compressed = { ...req, frames: [first!, second!, second!, ...req.frames.slice(3)] };
    expect(bytes(got.frames).equals(bytes((await generateWindow(withCrf, compressed, none, never)).frames))).toBe(true);
    expect(bytes(got.frames).equals(bytes((await generateWindow(withCrf, req, none, never)).frames))).toBe(false);

    const withoutCrf = await runtimeWith(tinyRecipe({ crf: 0 }));
    const plain = await sampleWindow(withoutCrf, req, none, never);
    expect(bytes(plain.frames).equals(bytes((await generateWindow(withoutCrf, req, none, never)).frames))).toBe(true);
    expect(got.passes).toEqual([{ width: W, height: H, steps: 2 }]);
  });
});

describe('the guidance batch under the memory budget', () => {
  it('estimates activations growing with the batch, and with S² only when attention is not fused', () => {
    const t = tinyTransformerConfig;
    expect(activationBytes(t, 3, 1000, 32, true)).toBe(3 * activationBytes(t, 1, 1000, 32, true));
    const unfused = activationBytes(t, 1, 1000, 32, false) - activationBytes(t, 1, 1000, 32, true);
    expect(unfused).toBe(4 * 2 * t.numAttentionHeads * 1000 * 1000);
  });

  it('a budget too small for cond + uncond + perturbed in one batch runs them in turn: same latents within float tolerance', async () => {
    const recipe = tinyRecipe({ crf: 0, cfg: 3, stg: 1 });
    const roomy = await runtimeWith(recipe);
    const req = { ...request(), guidance: 3 };
    const layout = windowLayout(roomy.manifest, req.frames, req.masks, W, H);
    const textTokens = roomy.manifest.text.maxTokens;
    // Just enough for one pass at a time, not for three.
    const tight = roomy.transformerBytes + activationBytes(roomy.manifest.transformer, 2, layout.tokens, textTokens, roomy.fusedAttention);
    const cramped = await runtimeWith(recipe, tight);
    expect(batchFits(roomy, 3, layout.tokens, textTokens)).toBe(true);
    expect(batchFits(cramped, 3, layout.tokens, textTokens)).toBe(false);
    expect(batchFits(cramped, 1, layout.tokens, textTokens)).toBe(true);

    const latents = async (rt: ModelRuntime) => {
      const batches: number[] = [];
      // The real runtime, watched: which batch sizes reach the transformer.
      const watched: ModelRuntime = Object.create(rt, {
        velocity: { value: (...a: Parameters<ModelRuntime['velocity']>) => (batches.push(a[1]), rt.velocity(...a)) },
      });
      const plan = samplingPlan(rt.manifest, req, layout.tokens);
      expect(plan.weightsAt(plan.sigmas[0]!)).toMatchObject({ useCfg: true, useStg: true });
      const text = await encodePrompts(rt, req.prompt, plan.negativePrompt, plan.anyCfg);
      const x0 = await encodeKnown(rt, req.frames, layout, W, H);
      const { x } = await denoisePass(watched, { req, layout, x0, plan, text, stream: 0, stepBase: 0, totalSteps: 2 }, none, never);
      return { x, batches };
    };
    const together = await latents(roomy);
    const inTurn = await latents(cramped);
    expect(together.batches).toEqual([3, 3]);
    expect(inTurn.batches).toEqual([1, 1, 1, 1, 1, 1]);
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < together.x.length; i++) {
      worst = Math.max(worst, Math.abs(together.x[i]! - inTurn.x[i]!));
      scale = Math.max(scale, Math.abs(together.x[i]!));
    }
    expect(scale).toBeGreaterThan(0.5);
    expect(worst).toBeLessThan(1e-5 * scale);
  });
});
