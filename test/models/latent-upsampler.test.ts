/**
 * The latent spatial upsampler graph against the authors' LatentUpsampler.
 *
 * How fixtures/ltxv-latent-upsampler-golden.json was made (a throwaway script; nothing of upstream
 * is in this repository): Lightricks/LTX-Video at 5260738e171955b66c0827f9af7e84d68fd1d919,
 * ltx_video/models/autoencoders/latent_upsampler.py and pixel_shuffle.py imported unmodified
 * (einops.rearrange shimmed for the three patterns they use; diffusers' ModelMixin as nn.Module),
 * PyTorch 1.13 CPU float32: LatentUpsampler(in_channels 8, mid_channels 32, num_blocks_per_stage 1,
 * dims 3, spatial_upsample), every state-dict tensor filled by the formula in `values` below (the
 * same in both scripts), called as LTXMultiScalePipeline._upsample_latents does:
 * (upsampler(latent·std + mean) − mean) / std, on latent[i] = 1.5·cos(0.29 i), shape [1, 8, 2, 3, 4].
 * `names` are the upstream state dict's names and shapes; `out_float32` is the run in float32 as
 * the pipeline does, `out_float64` the same module in float64 (`.double()`).
 *
 * Tolerance 1e-5 absolute against the float64 output (magnitude ≤ 0.18): the authors' own float32
 * run is 3.2e-6 from it — GroupNorm over groups of 24 values amplifies float32 rounding of the
 * convolutions (216–864 products per output) — and ours is summed in another order.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { latentUpsamplerGraph } from '../../companion/models/ltxv/latentUpsampler.ts';

const golden = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'ltxv-latent-upsampler-golden.json'), 'utf8')) as {
  names: [string, number[]][];
  shape: number[];
  out_float32: number[];
  out_float64: number[];
};
const dir = mkdtempSync(join(tmpdir(), 'reshoot-upsampler-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The weights both scripts use, by name and shape. */
function values(name: string, shape: readonly number[]): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  let s = 0;
  for (const ch of name) s += ch.charCodeAt(0);
  const base = Array.from({ length: n }, (_, i) => Math.sin(0.37 * i + 0.013 * s));
  if (name.endsWith('bias') || name === 'latents_mean') return Float32Array.from(base, (b) => 0.05 * b);
  if (name.includes('norm')) return Float32Array.from(base, (b) => 1 + 0.1 * b);
  if (name === 'latents_std') return Float32Array.from(base, (b) => 1 + 0.5 * Math.abs(b));
  const fanIn = n / shape[0]!;
  return Float32Array.from(base, (b) => b / Math.sqrt(fanIn));
}

describe('latent spatial upsampler graph', () => {
  const config = { inChannels: 8, midChannels: 32, blocksPerStage: 1 };

  it('declares exactly the upstream state dict, plus the VAE statistics it folds in', () => {
    const params = latentUpsamplerGraph(config, values).paramList().map((p): [string, number[]] => [p.name, [...p.dims]]);
    expect(new Map(params)).toEqual(new Map<string, number[]>([...golden.names, ['latents_mean', [8]], ['latents_std', [8]]]));
  });

  it('doubles height and width and matches the authors’ output in every element', async () => {
    const saved = latentUpsamplerGraph(config, values).save(dir, 'upsampler.onnx');
    const session = await ort.InferenceSession.create(saved.onnxPath, { executionProviders: ['cpu'] });
    const shape = [1, 8, 2, 3, 4];
    const latent = Float32Array.from({ length: 192 }, (_, i) => 1.5 * Math.cos(0.29 * i));
    const out = (await session.run({ latent: new ort.Tensor('float32', latent, shape) })).upsampled!;
    await session.release();
    expect(out.dims).toEqual(golden.shape);
    const got = out.data as Float32Array;
    let worst = 0;
    let upstream = 0;
    for (let i = 0; i < golden.out_float64.length; i++) {
      worst = Math.max(worst, Math.abs(got[i]! - golden.out_float64[i]!));
      upstream = Math.max(upstream, Math.abs(golden.out_float32[i]! - golden.out_float64[i]!));
    }
    expect(Math.max(...golden.out_float64.map(Math.abs))).toBeGreaterThan(0.1);
    expect(upstream).toBeGreaterThan(1e-7); // the two upstream runs are different numbers
    expect(worst).toBeLessThan(1e-5);
  });
});
