/**
 * The whole sampling pipeline against the authors' own: the engine's generateWindow, run with a
 * recipe, must land on the latents Lightricks/LTX-Video's LTXVideoPipeline.__call__ produces from
 * the same weights, prompt embeddings, conditioning frames and noise — every element of x after
 * step 1 and of the final latents.
 *
 * How fixtures/ltxv-pipeline/<scenario>.json were made (throwaway scripts; nothing of upstream is in
 * this repository):
 *  - Lightricks/LTX-Video at 5260738e171955b66c0827f9af7e84d68fd1d919: `ltx_video/` imported
 *    unmodified (pipeline_ltx_video.py, transformer3d.py, attention.py, symmetric_patchifier.py,
 *    rf.py, vae_encode.py, causal_video_autoencoder.py for its class). The diffusers helpers they
 *    import (GELU, RMSNorm, AdaLayerNormSingle, PixArtAlpha{TextProjection,
 *    CombinedTimestepSizeEmbeddings}, Timesteps, TimestepEmbedding, get_timestep_embedding,
 *    _chunked_feed_forward) copied verbatim from huggingface/diffusers 58eb52c0; ConfigMixin /
 *    register_to_config / ModelMixin / DiffusionPipeline reduced to storing config and modules;
 *    einops.rearrange reimplemented; F.scaled_dot_product_attention polyfilled with the reference
 *    formula in PyTorch's docs (PyTorch 1.13.1 CPU, float32 — the pipeline's own dtype on CPU).
 *  - Model (test/helpers/pipelineGolden.ts, both sides): Transformer3DModel built from the authors'
 *    OURS_TRANSFORMER_CONFIG with the sizes reduced (4 heads × 8, in/out 96, caption 16, the
 *    recipe's depth, causal_temporal_positioning from the recipe) and loaded strict with
 *    seededWeights renamed by their TRANSFORMER_KEYS_RENAME_DICT; the VAE is the patch "VAE"
 *    (a CausalVideoAutoencoder subclass doing companion/models/patchVae.ts's exact rearrangement,
 *    temporal factor 8, spatial 2, per-channel statistics 0 / 1). The VAE's own parity is tested
 *    elsewhere (test/models/vae.test.ts); here it must be exact so that only the loop is compared.
 *  - Scheduler: RectifiedFlowScheduler(shifting="SD3", target_shift_terminal=0.1), the config
 *    their mapping gives LTX checkpoints. Call: the config YAML of the recipe (configs/<name>.yaml,
 *    first_pass merged in for multi-scale ones) as inference.py passes it, with
 *    skip_layer_strategy from stg_mode, image_cond_noise_scale 0.15, is_video,
 *    vae_per_channel_normalize, output_type "latent", the prompt embeddings and masks of
 *    pipelineGolden.ts, and ConditioningItem(frames, start, 1.0) per scenario item.
 *  - Noise: `randn_tensor` (initial noise, conditioning noise) and `torch.randn_like` (stochastic
 *    steps) replaced by the engine's own Rng streams (noise.ts), in the order the engine draws them.
 *  - Recorded: x = the transformer's input at its second call (after step 1 and step 2's
 *    conditioning noise; the first row of the batch, all rows are the same x), and the latents after
 *    the last denoising step without appended conditioning tokens; float32, little-endian, base64.
 *    Multi-scale scenarios (ms098d) also hold the latents the second pass starts from (upsampled,
 *    AdaIN-filtered, as tokens [S, C]) and the second pass's final latents; their noise streams are
 *    described at SECOND_PASS_STREAM in pipelineGolden.ts, the upsampler's weights are seededWeights
 *    (its latents_mean / latents_std are 0 / 1, the patch VAE's statistics).
 *
 * Tolerance: the engine runs the same float32 math in ONNX Runtime with its own op order (fused
 * attention, matmul blocking, float64 guidance sums): one transformer call agrees to ~1e-6
 * relative. Guidance amplifies that (v_c − v_u is a small difference of two model outputs, scaled
 * by up to 8 here) and 27–40 steps accumulate it, so x after one step must agree within 3e-6 and
 * the final latents within 2e-5 of the values' scale (max |x|). Measured (max |Δ| / scale):
 *   i2v091 1.8e-7 / 1.0e-6, extend095 1.2e-7 / 1.1e-6, distilled096 7.3e-7 / 4.1e-6,
 *   bridge095 2.0e-7 / 2.2e-6, dev098 4.3e-7 / 4.0e-6 (x after step 1 / final).
 * A real divergence (a wrong frame coordinate, timestep, noise or guidance term) moves them by
 * more than 1e-2: the last two tests show it for frame positioning and for a bridge conditioned
 * the old way (end frames in the grid).
 */
import { base64Floats as floats, compareToGolden as compare } from '../helpers/golden.ts';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateWindow, type WindowRequest } from '../../companion/engine/generate.ts';
import { loadRuntime, type ModelRuntime } from '../../companion/engine/runtime.ts';
import type { Recipe } from '../../companion/models/recipe.ts';
import { buildScenarioModel, recordingRuntime, scenarioFrame, scenarioRecipe, scenarioRequest, SCENARIOS } from '../helpers/pipelineGolden.ts';
import { tempDir } from '../helpers/fixtures.ts';

interface Golden {
  steps: number;
  appended: number;
  x1: string;
  final: string;
}
const golden = (name: string): Golden => JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'ltxv-pipeline', `${name}.json`), 'utf8')) as Golden;
/** Relative to the values' scale (max |x|); see the header for why. */
const X1_TOLERANCE = 3e-6;
const FINAL_TOLERANCE = 2e-5;

const tmp = tempDir('reshoot-upstream-pipeline-');
const runtimes: ModelRuntime[] = [];
afterAll(async () => {
  for (const rt of runtimes) await rt.release();
  tmp.cleanup();
});

async function run(name: string, recipe?: Recipe, edit: (r: WindowRequest) => WindowRequest = (r) => r) {
  const s = SCENARIOS[name]!;
  const dir = join(tmp.dir, `${name}-${runtimes.length}`);
  mkdirSync(dir);
  const rt = await loadRuntime(buildScenarioModel(dir, s, recipe), 'cpu');
  runtimes.push(rt);
  const { rt: recording, rec } = recordingRuntime(rt);
  let steps = 0;
  await generateWindow(recording, edit(scenarioRequest(s, recipe)), () => steps++, () => false);
  return { rec, steps };
}

describe('whole sampling pipeline vs the authors’ LTXVideoPipeline (golden latents)', () => {
  it.each([
    ['i2v091', '0.9.1 image-to-video: plain frame coordinates, CFG 3 + STG 1 (block 19) + rescale 0.7, conditioning noise, 40 steps'],
    ['extend095', '0.9.5 extend from a 9-frame prefix (two latent frames held), causal coordinates, 30 fps'],
    ['bridge095', '0.9.5 bridge: 9 frames of clip A in the grid, 17 of clip B appended as the authors do (2 latent frames as extra tokens, 1 in the grid)'],
    ['distilled096', '0.9.6 distilled: stochastic sampling, 8 steps, no guidance'],
    ['dev098', '13B 0.9.8 dev first pass: guidance / STG / rescale / blocks scheduled over σ, CFG-star, 27 of 30 steps, 48 blocks'],
  ])(
    '%s: %s',
    async (name) => {
      const g = golden(name);
      const { rec, steps } = await run(name);
      expect(steps).toBe(g.steps);
      const x1 = compare(rec.inputs.length > 1 ? rec.inputs[1]! : new Float32Array(), floats(g.x1));
      const fin = compare(rec.final!, floats(g.final));
      console.log(`${name}: x after step 1 max |Δ| ${x1.maxDiff.toExponential(2)} (scale ${x1.scale.toFixed(2)}), final ${fin.maxDiff.toExponential(2)} (scale ${fin.scale.toFixed(2)})`);
      expect(x1.maxDiff).toBeLessThan(X1_TOLERANCE * x1.scale);
      expect(fin.maxDiff).toBeLessThan(FINAL_TOLERANCE * fin.scale);
    },
    120_000,
  );

  it('the comparison sees a wrong frame coordinate: 0.9.1 run with causal positioning misses the golden by far', async () => {
    const g = golden('i2v091');
    const { rec } = await run('i2v091', { ...scenarioRecipe(SCENARIOS.i2v091!), framePositioning: 'causal' });
    const fin = compare(rec.final!, floats(g.final));
    expect(fin.maxDiff).toBeGreaterThan(1e-2 * fin.scale);
  }, 120_000);

  it('the bridge the old way (clip B’s head held in the grid, nothing appended) misses the golden by far', async () => {
    const s = SCENARIOS.bridge095!;
    const inGrid = (r: WindowRequest): WindowRequest => {
      const { appended: _, ...rest } = r;
      return { ...rest, frames: r.frames.map((f, i) => f ?? (i >= 16 ? scenarioFrame(s, i) : null)) };
    };
    const { rec } = await run('bridge095', undefined, inGrid);
    const fin = compare(rec.final!, floats(golden('bridge095').final));
    expect(fin.maxDiff).toBeGreaterThan(1e-2 * fin.scale);
  }, 120_000);
});
