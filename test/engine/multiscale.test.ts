/**
 * The multi-scale arithmetic against the authors' code.
 *
 * fixtures/ltxv-multiscale-golden.json was made by a throwaway script running
 * `adain_filter_latent` and LTXMultiScalePipeline's size rule copied verbatim from
 * Lightricks/LTX-Video @ 5260738e171955b66c0827f9af7e84d68fd1d919
 * (ltx_video/pipelines/pipeline_ltx_video.py), PyTorch 1.13 CPU float32, on
 * up[i] = 2 sin(0.17 i) + 0.3 of shape [1, 4, 2, 6, 8] and ref[i] = 0.7 cos(0.41 i) − 0.1 of
 * shape [1, 4, 2, 3, 4]; sizes at downscale_factor 0.6666666 and vae_scale_factor 32.
 * Tolerance 2e-6 absolute (values ≤ ~1.5; float32 std/mean over 96 and 24 values upstream,
 * float64 here).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { adainFilter, leastWorkingSide, multiScaleSizes } from '../../companion/engine/multiScale.ts';
import { recipeByName } from '../../companion/models/ltxv/recipes.ts';
import { tinyManifest } from '../../companion/models/tiny.ts';
import type { ModelManifest } from '../../companion/models/types.ts';

const golden = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'ltxv-multiscale-golden.json'), 'utf8')) as {
  adain: number[];
  sizes: Record<string, [number, number, number, number]>;
};

describe('multi-scale arithmetic (golden numbers from the authors’ pipeline)', () => {
  it('pass sizes: ×0.6666666 rounded down to 32, then doubled', () => {
    for (const [key, [w1, h1, w2, h2]] of Object.entries(golden.sizes)) {
      const [w, h] = key.split('x').map(Number) as [number, number];
      expect(multiScaleSizes(w, h, 0.6666666, 32), key).toEqual({ first: { width: w1, height: h1 }, second: { width: w2, height: h2 } });
    }
    expect(() => multiScaleSizes(40, 40, 0.6666666, 32)).toThrow(/too small/);
  });

  it('least working side: 64 px for a multi-scale recipe with its upsampler in 32 px cells (64 → 42 → 32), one multiple otherwise', () => {
    const ltx = { ...tinyManifest, files: [], latent: { channels: 128, spatial: 32, temporal: 8 }, sizeRules: { multiple: 32, maxPixels: 768 * 512, maxFrames: 121 } } as ModelManifest;
    const recipe = recipeByName('ltxv-2b-0.9.8-distilled')!;
    const upsampler = { source: recipe.upscaler!, inChannels: 128, midChannels: 512, blocksPerStage: 4 };
    expect(leastWorkingSide({ ...ltx, recipe, upsampler })).toBe(64);
    expect(multiScaleSizes(64, 64, recipe.downscaleFactor!, 32).first).toEqual({ width: 32, height: 32 });
    expect(() => multiScaleSizes(32, 64, recipe.downscaleFactor!, 32)).toThrow(/too small/);
    expect(leastWorkingSide({ ...ltx, recipe })).toBe(32);
    expect(leastWorkingSide({ ...ltx, recipe: recipeByName('ltxv-2b-0.9.5')!, upsampler })).toBe(32);
  });

  it('AdaIN gives each channel the reference’s mean and std, every element as upstream', () => {
    const up = Float32Array.from({ length: 4 * 96 }, (_, i) => 2 * Math.sin(0.17 * i) + 0.3);
    const ref = Float32Array.from({ length: 4 * 24 }, (_, i) => 0.7 * Math.cos(0.41 * i) - 0.1);
    const got = adainFilter(up, ref, 4);
    let worst = 0;
    for (let i = 0; i < golden.adain.length; i++) worst = Math.max(worst, Math.abs(got[i]! - golden.adain[i]!));
    expect(worst).toBeLessThan(2e-6);
    // factor 0 leaves the latents as they were.
    expect(Array.from(adainFilter(up, ref, 4, 0))).toEqual(Array.from(up));
  });
});
