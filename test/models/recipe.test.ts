/**
 * Recipes: every checkpoint the authors publish resolves to its own recipe, from what the
 * checkpoint says about itself, with the values of the authors' config files; releases and
 * depths without a recipe are refused by name; the schedule lookup follows the authors' pipeline.
 */
import { describe, expect, it } from 'vitest';
import { isReshootError } from '../../companion/errors.ts';
import { LTXV_RECIPES, resolveLtxvRecipe, type RecipeFacts } from '../../companion/models/ltxv/recipes.ts';
import { describeRecipe, guidanceAt, recipeSchema } from '../../companion/models/recipe.ts';

/** Facts of a single-file checkpoint by its published file name (version from its VAE, depth from its size). */
function factsOf(file: string): RecipeFacts {
  const release = /0\.9(?:\.(\d))?/.exec(file)!;
  const minor = release[1] ? Number(release[1]) : 0;
  return {
    version: minor === 0 ? '0.9.0' : minor === 1 ? '0.9.1' : '0.9.5+',
    numLayers: file.includes('13b') ? 48 : 28,
    distilled: file.includes('distilled'),
    names: [file],
  };
}

describe('recipe resolution', () => {
  it.each([
    ['ltx-video-2b-v0.9.safetensors', 'ltxv-2b-0.9'],
    ['ltx-video-2b-v0.9.1.safetensors', 'ltxv-2b-0.9.1'],
    ['ltx-video-2b-v0.9.5.safetensors', 'ltxv-2b-0.9.5'],
    ['ltxv-2b-0.9.6-dev-04-25.safetensors', 'ltxv-2b-0.9.6-dev'],
    ['ltxv-2b-0.9.6-distilled-04-25.safetensors', 'ltxv-2b-0.9.6-distilled'],
    ['ltxv-13b-0.9.7-dev.safetensors', 'ltxv-13b-0.9.7-dev'],
    ['ltxv-13b-0.9.7-dev-fp8.safetensors', 'ltxv-13b-0.9.7-dev'],
    ['ltxv-13b-0.9.7-distilled.safetensors', 'ltxv-13b-0.9.7-distilled'],
    ['ltxv-13b-0.9.7-distilled-fp8.safetensors', 'ltxv-13b-0.9.7-distilled'],
    ['ltxv-13b-0.9.8-dev.safetensors', 'ltxv-13b-0.9.8-dev'],
    ['ltxv-13b-0.9.8-dev-fp8.safetensors', 'ltxv-13b-0.9.8-dev'],
    ['ltxv-13b-0.9.8-distilled.safetensors', 'ltxv-13b-0.9.8-distilled'],
    ['ltxv-13b-0.9.8-distilled-fp8.safetensors', 'ltxv-13b-0.9.8-distilled'],
    ['ltxv-2b-0.9.8-distilled.safetensors', 'ltxv-2b-0.9.8-distilled'],
    ['ltxv-2b-0.9.8-distilled-fp8.safetensors', 'ltxv-2b-0.9.8-distilled'],
  ])('%s → %s', (file, name) => {
    const r = resolveLtxvRecipe(factsOf(file));
    expect(r.name).toBe(name);
    expect(r.files).toContain(file.replace('ltx-video-2b-v0.9.5', 'ltx-video-2b-v0.9.5'));
    expect(recipeSchema.safeParse(r).success).toBe(true);
  });

  it('finds diffusers folders by repo name, and 13B ones by depth when the name has no size', () => {
    expect(resolveLtxvRecipe({ version: '0.9.5+', numLayers: 28, distilled: false, names: ['LTX-Video-0.9.5'] }).name).toBe('ltxv-2b-0.9.5');
    expect(resolveLtxvRecipe({ version: '0.9.5+', numLayers: 48, distilled: true, names: ['LTX-Video-0.9.7-distilled'] }).name).toBe('ltxv-13b-0.9.7-distilled');
    expect(resolveLtxvRecipe({ version: '0.9.5+', numLayers: 48, distilled: false, names: ['Lightricks/LTX-Video-0.9.8-13B-dev'] }).name).toBe('ltxv-13b-0.9.8-dev');
    // No release number: the first 0.9.5+ recipe. The VAE decides 0.9.0/0.9.1 whatever the name says.
    expect(resolveLtxvRecipe({ version: '0.9.5+', numLayers: 28, distilled: false, names: ['my-ltx'] }).name).toBe('ltxv-2b-0.9.5');
    expect(resolveLtxvRecipe({ version: '0.9.1', numLayers: 28, distilled: false, names: ['LTX-Video-0.9.8'] }).name).toBe('ltxv-2b-0.9.1');
  });

  it('refuses a release with no published recipe, and a transformer too shallow for its STG blocks, by name', () => {
    const err = (f: RecipeFacts): string => {
      try {
        resolveLtxvRecipe(f);
      } catch (e) {
        expect(isReshootError(e)).toBe(true);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(err({ version: '0.9.5+', numLayers: 28, distilled: false, names: ['ltxv-2b-0.9.9-dev.safetensors'] })).toMatch(/no published recipe for ltxv-2b-0.9.9-dev/);
    expect(err({ version: '0.9.5+', numLayers: 28, distilled: false, names: ['ltxv-2b-0.9.7-dev.safetensors'] })).toMatch(/no published recipe for ltxv-2b-0.9.7-dev .*known: ltxv-2b-0.9,/);
    expect(err({ version: '0.9.1', numLayers: 2, distilled: false, names: ['x'] })).toBe('recipe ltxv-2b-0.9.1 perturbs transformer block 19, but this transformer has 2 blocks');
  });
});

describe('recipe values (Lightricks/LTX-Video configs/*.yaml)', () => {
  const byName = (n: string) => LTXV_RECIPES.find((r) => r.name === n)!;

  it('0.9.0/0.9.1 position frames plainly; 0.9.5+ causally; all hold conditioning per token with the authors’ noise and negative prompt', () => {
    for (const r of LTXV_RECIPES) {
      expect(r.framePositioning).toBe(r.name === 'ltxv-2b-0.9' || r.name === 'ltxv-2b-0.9.1' ? 'plain' : 'causal');
      expect([r.conditioning, r.conditioningNoise, r.conditioningImageCrf]).toEqual(['per-token', 0.15, 29]);
      expect(r.negativePrompt).toBe('worst quality, inconsistent motion, blurry, jittery, distorted');
      expect(r.decode).toEqual({ timestep: 0.05, noiseScale: 0.025 });
      expect(r.textEncoder).toBe('PixArt-alpha/PixArt-XL-2-1024-MS');
      expect(r.source.file).toBe(`configs/${r.name}.yaml`);
    }
  });

  it('2B dev: 40 steps, CFG 3, STG 1 on block 19, rescale 0.7', () => {
    for (const n of ['ltxv-2b-0.9', 'ltxv-2b-0.9.1', 'ltxv-2b-0.9.5', 'ltxv-2b-0.9.6-dev']) {
      expect(byName(n)).toMatchObject({ pipeline: 'base', stochastic: false, passes: [{ steps: 40, guidance: { cfg: [3], stg: [1], rescale: [0.7], skipBlocks: [[19]] } }] });
    }
  });

  it('0.9.6 distilled: 8 stochastic steps without guidance', () => {
    expect(byName('ltxv-2b-0.9.6-distilled')).toMatchObject({ stochastic: true, passes: [{ steps: 8, guidance: { cfg: [1], stg: [0] } }] });
  });

  it('0.9.8 distilled: the published σ lists of both passes, tone map 0.6 on the 13B second pass', () => {
    const r = byName('ltxv-13b-0.9.8-distilled');
    expect(r).toMatchObject({ pipeline: 'multi-scale', downscaleFactor: 0.6666666, upscaler: 'ltxv-spatial-upscaler-0.9.8.safetensors' });
    expect(r.passes.map((p) => p.sigmas)).toEqual([
      [1.0, 0.9937, 0.9875, 0.9812, 0.975, 0.9094, 0.725],
      [0.9094, 0.725, 0.4219],
    ]);
    expect(r.passes.map((p) => p.toneMapCompression)).toEqual([0, 0.6]);
    expect(byName('ltxv-2b-0.9.8-distilled').passes.map((p) => p.toneMapCompression)).toEqual([0, 0]);
  });

  it('13B dev: guidance and STG schedules over σ, CFG-star, skipped steps in both passes', () => {
    const [first, second] = byName('ltxv-13b-0.9.8-dev').passes;
    expect(first).toMatchObject({ steps: 30, skipFinalSteps: 3, skipInitialSteps: 0, cfgStar: true });
    expect(second).toMatchObject({ steps: 30, skipInitialSteps: 17, cfgStar: true, guidance: { cfg: [1], stg: [1], skipBlocks: [[27]] } });
    // The authors map a step at σ to the first guidance timestep ≤ σ, else the last.
    const g = first!.guidance;
    expect(guidanceAt(g, 1.0)).toEqual({ cfg: 1, stg: 0, rescale: 1, skipBlocks: [] });
    expect(guidanceAt(g, 0.995)).toEqual({ cfg: 6, stg: 4, rescale: 0.5, skipBlocks: [22, 35, 39] });
    expect(guidanceAt(g, 0.98)).toEqual({ cfg: 6, stg: 4, rescale: 1, skipBlocks: [28] });
    expect(guidanceAt(g, 0.95)).toEqual({ cfg: 1, stg: 2, rescale: 1, skipBlocks: [28] });
    expect(guidanceAt(g, 0.3)).toEqual({ cfg: 1, stg: 1, rescale: 1, skipBlocks: [28] });
  });

  it('the schema refuses a schedule whose lists disagree in length, and describeRecipe names the source', () => {
    const r = byName('ltxv-13b-0.9.8-dev');
    const broken = { ...r, passes: [{ ...r.passes[0]!, guidance: { ...r.passes[0]!.guidance, cfg: [1, 2] } }, r.passes[1]!] };
    expect(recipeSchema.safeParse(broken).success).toBe(false);
    const lines = describeRecipe(r);
    expect(lines[0]).toBe('recipe ltxv-13b-0.9.8-dev (Lightricks/LTX-Video configs/ltxv-13b-0.9.8-dev.yaml @ 5260738e1719)');
    expect(lines.join('\n')).toMatch(/CFG-star/);
  });
});
