/**
 * The sampler under a recipe, with the real test-model graphs (the tiny transformer rebuilt with
 * the STG input over the same seeded weights): a recipe whose extras are all off samples exactly
 * the plain loop; STG, stochastic sampling and conditioning noise each change the picture and stay
 * deterministic by seed; the plan follows the recipe and the job's overrides.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWindow, samplingPlan, type WindowRequest } from '../../companion/engine/generate.ts';
import { loadRuntime, type ModelRuntime } from '../../companion/engine/runtime.ts';
import type { Frame } from '../../companion/media/frame.ts';
import { syntheticFrame } from '../../companion/media/synthetic.ts';
import { recipeByName } from '../../companion/models/ltxv/recipes.ts';
import { modelManifestSchema } from '../../companion/models/manifest.ts';
import type { Recipe } from '../../companion/models/recipe.ts';
import { loadModel } from '../../companion/models/registry.ts';
import type { ModelHandle, ModelManifest } from '../../companion/models/types.ts';
import { tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { tinyStgModel } from '../helpers/tinyStg.ts';

useTestModelCache();

const W = 64;
const H = 48;
const tmp = tempDir();
let plain: ModelHandle;
let stgHandle: ModelHandle;
const runtimes: ModelRuntime[] = [];

/** A recipe for the tiny model: the 2B 0.9.5 one with its knobs set per test. */
function tinyRecipe(p: { stg?: number; stochastic?: boolean; noise?: number; cfg?: number }): Recipe {
  const base = recipeByName('ltxv-2b-0.9.5')!;
  return {
    ...base,
    stochastic: p.stochastic ?? false,
    conditioningNoise: p.noise ?? 0,
    passes: [{ ...base.passes[0]!, steps: 3, guidance: { cfg: [p.cfg ?? 3], stg: [p.stg ?? 0], rescale: [0.7], skipBlocks: [[1]] } }],
  };
}

async function runtimeWith(recipe: Recipe | undefined): Promise<ModelRuntime> {
  const manifest: ModelManifest = {
    ...stgHandle.manifest,
    ...(recipe ? { recipe, scheduler: { ...stgHandle.manifest.scheduler, steps: 3, guidance: Math.max(...recipe.passes[0]!.guidance.cfg) } } : {}),
  };
  expect(modelManifestSchema.safeParse(manifest).success).toBe(true);
  const rt = await loadRuntime({ ...stgHandle, manifest }, 'cpu');
  runtimes.push(rt);
  return rt;
}

beforeAll(async () => {
  plain = await loadModel('builtin:tiny');
  stgHandle = tinyStgModel(plain, join(tmp.dir, 'tiny-stg'));
});
afterAll(async () => {
  for (const rt of runtimes) await rt.release();
  tmp.cleanup();
});

/** Extend-like window: the first frame known, 8 to generate. */
function request(seed = 5): WindowRequest {
  const first: Frame = syntheticFrame(0, W, H);
  return {
    width: W,
    height: H,
    frames: [first, ...Array<Frame | null>(8).fill(null)],
    masks: Array(9).fill(null),
    prompt: 'a boat',
    negativePrompt: '',
    seed,
    stream: 0,
    steps: 3,
    guidance: 3,
    strength: 1,
    conditioning: 'per-token',
    fps: 24,
  };
}

const bytes = async (rt: ModelRuntime, req: WindowRequest): Promise<Buffer> => {
  const out = await generateWindow(rt, req, () => {}, () => false);
  return Buffer.concat(out.frames.map((f) => Buffer.from(f.data)));
};

describe('sampling under a recipe', () => {
  it('a recipe with STG, stochastic sampling and conditioning noise off samples exactly the plain loop (and the STG graph with STG off is the plain graph)', async () => {
    const reference = await bytes(await loadRuntime(plain, 'cpu').then((rt) => (runtimes.push(rt), rt)), request());
    const noStg = await bytes(await runtimeWith(undefined), request());
    expect(noStg.equals(reference)).toBe(true);
    // The recipe's default negative prompt differs from the job's empty one: give it explicitly.
    const off = await bytes(await runtimeWith(tinyRecipe({})), { ...request(), negativePrompt: ' ' });
    const plainSpace = await bytes(runtimes[0]!, { ...request(), negativePrompt: ' ' });
    expect(off.equals(plainSpace)).toBe(true);
  });

  it('STG changes the picture, deterministically', async () => {
    const rt = await runtimeWith(tinyRecipe({ stg: 1 }));
    const a = await bytes(rt, request());
    const b = await bytes(rt, request());
    expect(a.equals(b)).toBe(true);
    const off = await bytes(await runtimeWith(tinyRecipe({ stg: 0 })), request());
    expect(a.equals(off)).toBe(false);
  });

  it('stochastic sampling and conditioning noise change the picture and are deterministic by seed', async () => {
    const base = await bytes(await runtimeWith(tinyRecipe({})), request());
    for (const r of [tinyRecipe({ stochastic: true }), tinyRecipe({ noise: 0.15 })]) {
      const rt = await runtimeWith(r);
      const a = await bytes(rt, request(5));
      expect(a.equals(base)).toBe(false);
      expect(a.equals(await bytes(rt, request(5)))).toBe(true);
      expect(a.equals(await bytes(rt, request(6)))).toBe(false);
    }
  });
});

describe('the sampling plan', () => {
  const manifestWith = (name: string, numLayers: number): ModelManifest => {
    const recipe = recipeByName(name)!;
    const p = recipe.passes[0]!;
    return {
      ...plain.manifest,
      transformer: { ...plain.manifest.transformer, numLayers, stg: 'attention_values' },
      scheduler: { steps: p.steps, guidance: Math.max(...p.guidance.cfg), shift: { kind: 'dynamic', baseShift: 0.95, maxShift: 2.05, baseTokens: 1024, maxTokens: 4096 }, shiftTerminal: 0.1, ...(p.sigmas ? { sigmas: p.sigmas } : {}) },
      recipe,
    };
  };
  const job = { steps: 30, guidance: 8, strength: 1, negativePrompt: '' };

  it('13B dev: 27 of 30 steps, the schedules over σ, CFG-star, the authors’ negative prompt', () => {
    const plan = samplingPlan(manifestWith('ltxv-13b-0.9.8-dev', 48), job, 4000);
    expect(plan.sigmas.length).toBe(28);
    expect(plan.sigmas[27]).toBe(0);
    expect(plan.weightsAt(1)).toMatchObject({ useCfg: false, useStg: false });
    expect(plan.weightsAt(0.995)).toMatchObject({ useCfg: true, cfg: 6, cfgStar: true, useStg: true, stg: 4, rescale: 0.5, skipBlocks: [22, 35, 39] });
    expect(plan.anyCfg).toBe(true);
    expect(plan.negativePrompt).toBe('worst quality, inconsistent motion, blurry, jittery, distorted');
    expect(samplingPlan(manifestWith('ltxv-13b-0.9.8-dev', 48), { ...job, negativePrompt: 'cats' }, 4000).negativePrompt).toBe('cats');
  });

  it('a job guidance other than the default replaces CFG at every step; other step counts get the plain schedule', () => {
    const plan = samplingPlan(manifestWith('ltxv-13b-0.9.8-dev', 48), { ...job, guidance: 2, steps: 10 }, 4000);
    expect(plan.sigmas.length).toBe(11);
    expect(plan.weightsAt(1)).toMatchObject({ useCfg: true, cfg: 2, useStg: false });
    expect(plan.weightsAt(0.99)).toMatchObject({ cfg: 2, stg: 4 });
  });

  it('distilled: the published σ list, no CFG, no negative prompt encoded, the last pass’s tone map', () => {
    const plan = samplingPlan(manifestWith('ltxv-13b-0.9.8-distilled', 48), { ...job, steps: 7, guidance: 1 }, 4000);
    expect(Array.from(plan.sigmas)).toEqual([1.0, 0.9937, 0.9875, 0.9812, 0.975, 0.9094, 0.725, 0]);
    expect(plan.anyCfg).toBe(false);
    expect(plan.toneMap).toBe(0.6);
    const stochastic = samplingPlan(manifestWith('ltxv-2b-0.9.6-distilled', 28), { ...job, steps: 8, guidance: 1 }, 4000);
    expect([stochastic.stochastic, stochastic.sigmas.length]).toEqual([true, 9]);
  });
});
