/**
 * Gives a converted test model (e.g. an imported reduced LTX-Video fixture) a latent spatial
 * upsampler with seeded random weights, the way a multi-scale model folder carries one:
 * `latent_upsampler.onnx` (+ .data) listed in model.json's files, and the manifest's `upsampler`.
 * The graph folds in the VAE's latents_mean/std, so those come from the model's VAE weights when
 * given (as a real conversion takes them), else seeded values.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { latentUpsamplerGraph } from '../../companion/models/ltxv/latentUpsampler.ts';
import type { WeightSource } from '../../companion/models/onnx/graph.ts';
import { describeFiles, UPSAMPLER_FILE } from '../../companion/models/tiny.ts';
import type { ModelManifest } from '../../companion/models/types.ts';
import { seededWeights } from '../../companion/models/weights.ts';

export interface UpsamplerFixtureOptions {
  /** The model's VAE weights: latents_mean / latents_std are taken from them. */
  vae?: WeightSource;
  seed?: number;
  /** A multiple of 32 (GroupNorm groups); the real upsamplers have 512. */
  midChannels?: number;
  blocksPerStage?: number;
}

/** Adds the upsampler to the model folder `dir` and rewrites its model.json; returns the new manifest. */
export function addUpsamplerFixture(dir: string, opts: UpsamplerFixtureOptions = {}): ModelManifest {
  const manifestPath = join(dir, 'model.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as ModelManifest;
  const config = { inChannels: manifest.latent.channels, midChannels: opts.midChannels ?? 32, blocksPerStage: opts.blocksPerStage ?? 1 };
  const seeded = seededWeights(opts.seed ?? 77);
  const weights: WeightSource = (name, dims, init) =>
    opts.vae && (name === 'latents_mean' || name === 'latents_std') ? opts.vae(name, dims, init) : seeded(name, dims, init);
  latentUpsamplerGraph(config, weights).save(dir, UPSAMPLER_FILE);
  const files = manifest.files.filter((f) => !f.path.startsWith(UPSAMPLER_FILE));
  const next: ModelManifest = {
    ...manifest,
    files: [...files, ...describeFiles(dir, [UPSAMPLER_FILE, `${UPSAMPLER_FILE}.data`])],
    upsampler: { source: manifest.recipe?.upscaler ?? 'fixture-upsampler', ...config },
  };
  writeFileSync(manifestPath, `${JSON.stringify(next, null, 2)}\n`);
  return next;
}
