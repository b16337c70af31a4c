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
import { adainFilter, multiScaleSizes } from '../../companion/engine/multiScale.ts';

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
