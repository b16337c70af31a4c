/**
 * The LTX-Video 2B transformer's shape with random weights: what one denoiser step costs.
 *
 *   npm run bench:ltx2b
 *
 * The real 2B transformer (transformer/config.json of Lightricks/LTX-Video 0.9.x: 28 layers,
 * 32 heads × 64 = 2048 hidden, cross-attention 2048, caption channels 4096, 128 latent
 * channels) at the size, 768×512×121 frames = latent 16×16×24 = 6,144 tokens, with 128
 * text tokens. A CPU cannot run all 28 layers at 6,144 tokens in reasonable time, so this runs
 * BENCH_LAYERS (1) layers of the exact 2B width at two sizes in the same run — 768 tokens
 * (2 latent frames) and the full 6,144 — and scales to 28 layers by the per-layer cost (the
 * once-per-step parts, proj_in/out, the timestep and caption embeddings, are measured with the
 * layer, so the scaled figure slightly overstates them). Weights are random (seeded): the
 * compute is the same as the real checkpoint's.
 *
 * Same session options as the engine (companion/engine/stages.ts); providers from
 * BENCH_PROVIDERS (comma list, default: RESHOOT_PROVIDER or auto) — on a GPU machine run it with
 * BENCH_PROVIDERS=cuda or webgpu beside cpu. Batch 1 (a distilled model without CFG; CFG doubles
 * the batch). BENCH_REPS (2) timed runs after one warm-up.
 */
import * as ort from 'onnxruntime-node';
import { Rng } from '../companion/engine/noise.ts';
import { providersFor, type Provider } from '../companion/engine/providers.ts';
import { StageSessions } from '../companion/engine/stages.ts';
import { ltxRope } from '../companion/models/ltxv/rope.ts';
import { buildLtxvTransformer } from '../companion/models/registry.ts';
import type { TransformerConfig } from '../companion/models/types.ts';
import { envInt, fmt, machine, median, mib, printMachine, tempDir, transformerMacs } from './common.ts';

const LAYERS = envInt('BENCH_LAYERS', 1);
const REPS = envInt('BENCH_REPS', 2);
const FULL_LAYERS = 28;
const TEXT_TOKENS = 128;

const ltx2b: TransformerConfig = {
  inChannels: 128,
  outChannels: 128,
  numAttentionHeads: 32,
  attentionHeadDim: 64,
  numLayers: FULL_LAYERS,
  crossAttentionDim: 2048,
  captionChannels: 4096,
  normEps: 1e-6,
  rope: { baseNumFrames: 20, baseHeight: 2048, baseWidth: 2048, theta: 10000 },
};

const sizes = [
  { name: '768 tokens (2×16×24)', frames: 2, height: 16, width: 24 },
  { name: '6144 tokens (16×16×24, 768×512×121)', frames: 16, height: 16, width: 24 },
];

const m = await machine();
console.log('# bench:ltx2b: one denoiser step of the LTX-Video 2B transformer shape');
printMachine(m);
const providers: Provider[] = process.env.BENCH_PROVIDERS ? (process.env.BENCH_PROVIDERS.split(',') as Provider[]) : providersFor();

const tmp = tempDir('ltx2b');
try {
  const config = { ...ltx2b, numLayers: LAYERS };
  let t = performance.now();
  const saved = buildLtxvTransformer(config, tmp.dir, { seed: 7 });
  console.log(`built ${LAYERS} layer(s) at the 2B width in ${fmt((performance.now() - t) / 1000)} s: ${mib(saved.dataBytes)} of fp32 weights`);
  const D = config.numAttentionHeads * config.attentionHeadDim;
  const text = new Rng(3, 0).normal(new Float32Array(TEXT_TOKENS * config.captionChannels));
  const textMask = Float32Array.from({ length: TEXT_TOKENS }, (_, i) => (i < 40 ? 1 : 0));

  for (const provider of providers) {
    // One session per provider: only the transformer graph is opened (the other stages are unused).
    const graphs = { textEncoder: saved.onnxPath, transformer: saved.onnxPath, vaeEncoder: saved.onnxPath, vaeDecoder: saved.onnxPath };
    const stages = new StageSessions(graphs, { providers: [provider] });
    try {
      t = performance.now();
      await stages.load('transformer');
    } catch (e) {
      console.log(`\n## ${provider}: does not load here (${(e as Error).message.split('\n')[0]})`);
      continue;
    }
    console.log(`\n## ${provider} (session opened in ${fmt((performance.now() - t) / 1000)} s)`);
    const perLayer: number[] = [];
    for (const size of sizes) {
      const S = size.frames * size.height * size.width;
      const rope = ltxRope({ dim: D, frames: size.frames, height: size.height, width: size.width, frameRate: 24, spatial: 32, temporal: 8, ...config.rope, causalFix: true });
      const feeds = {
        hidden_states: new ort.Tensor('float32', new Rng(1, 0).normal(new Float32Array(S * config.inChannels)), [1, S, config.inChannels]),
        encoder_hidden_states: new ort.Tensor('float32', text, [1, TEXT_TOKENS, config.captionChannels]),
        encoder_attention_mask: new ort.Tensor('float32', textMask, [1, TEXT_TOKENS]),
        timestep: new ort.Tensor('float32', new Float32Array(S).fill(700), [1, S]),
        rope_cos: new ort.Tensor('float32', rope.cos, [1, S, D]),
        rope_sin: new ort.Tensor('float32', rope.sin, [1, S, D]),
      };
      const runs: number[] = [];
      for (let i = 0; i <= REPS; i++) {
        t = performance.now();
        await stages.run('transformer', feeds);
        runs.push(performance.now() - t);
      }
      const ms = median(runs.slice(1));
      const gflop = (2 * transformerMacs(config, S, TEXT_TOKENS)) / 1e9;
      const full = (ms / LAYERS) * FULL_LAYERS;
      perLayer.push(ms / LAYERS);
      console.log(
        `  ${size.name}: ${fmt(ms, 0)} ms for ${LAYERS} layer(s) (warm-up ${fmt(runs[0]!, 0)} ms; runs ${runs.slice(1).map((v) => fmt(v, 0)).join('/')}), ` +
          `~${fmt(gflop, 0)} GFLOP → ${fmt(gflop / (ms / 1000), 0)} GFLOP/s; scaled to ${FULL_LAYERS} layers: ${fmt(full / 1000, 1)} s/step`,
      );
    }
    console.log(`  ratio 6144 / 768 tokens per layer: ${fmt(perLayer[1]! / perLayer[0]!, 2)} (tokens ×8; attention grows ×64)`);
    await stages.releaseAll();
  }
} finally {
  tmp.cleanup();
}
