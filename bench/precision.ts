/**
 * Weight precisions side by side on one provider, same run:
 *
 *   npm run bench:precision
 *
 * BENCH_LAYERS (2) layers of the LTX-Video 2B width (seeded weights of the trained scale), built as
 * fp32, fp16 compute, int8 and int4 weights (fp32 compute, as the CPU runs them; int in fp16
 * compute with BENCH_INT_COMPUTE=fp16), each run in its own process (bench/step-child.ts) at
 * BENCH_TOKENS (768) tokens, batch 1. Prints per variant the weight bytes, peak RSS, ms per run
 * and the velocity's cosine against fp32. Knobs: BENCH_PROVIDER (cpu), BENCH_REPS (2).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Provider } from '../companion/engine/providers.ts';
import { LTXV_QUANTIZE, ltxvTransformerGraph } from '../companion/models/ltxv/transformer.ts';
import type { StorageDecision, WeightSource } from '../companion/models/onnx/graph.ts';
import { cosine } from '../companion/models/parity.ts';
import { seededWeights } from '../companion/models/weights.ts';
import { envInt, fmt, ltx2bConfig, machine, median, printMachine, runStepChild, tempDir } from './common.ts';

const REPS = envInt('BENCH_REPS', 2);
const LAYERS = envInt('BENCH_LAYERS', 2);
const TOKENS = envInt('BENCH_TOKENS', 768);
const provider = (process.env.BENCH_PROVIDER ?? 'cpu') as Provider;
const intCompute = process.env.BENCH_INT_COMPUTE === 'fp16' ? 'fp16' : 'fp32';
const grid = { frames: TOKENS / 384, height: 16, width: 24 };
if (!Number.isInteger(grid.frames)) throw new Error(`BENCH_TOKENS must be a multiple of 384 (16×24 latent frames), not ${TOKENS}`);

console.log('# bench:precision: fp32 / fp16 / int8 / int4 at the 2B width');
printMachine(await machine());
console.log(`provider ${provider}, ${LAYERS} layer(s), ${TOKENS} tokens, batch 1, 128 text tokens, ${REPS} timed runs after 1 warm-up, each variant in its own process`);

const tmp = tempDir('precision');
try {
  const config = ltx2bConfig(LAYERS);
  const seeded = seededWeights(7);
  const cache = new Map<string, Float32Array>();
  const weights: WeightSource = (name, dims, init) => cache.get(name) ?? cache.set(name, seeded(name, dims, init)).get(name)!;
  const variants: { name: string; compute: 'fp32' | 'fp16'; storage: (name: string, linear: boolean) => StorageDecision }[] = [
    { name: 'fp32', compute: 'fp32', storage: () => 'fp32' },
    { name: 'fp16', compute: 'fp16', storage: () => 'fp16' },
    { name: 'int8', compute: intCompute, storage: (n, linear) => (linear && LTXV_QUANTIZE.test(n) ? 'int8' : 'fp16') },
    { name: 'int4', compute: intCompute, storage: (n, linear) => (linear && LTXV_QUANTIZE.test(n) ? 'int4' : 'fp16') },
  ];
  let reference: Float32Array | undefined;
  let refMs = 0;
  for (const v of variants) {
    const saved = ltxvTransformerGraph(config, weights, { compute: v.compute }).save(tmp.dir, `${v.name}.onnx`, { storage: (p) => v.storage(p.name, p.init.kind === 'linear') });
    const velocityOut = join(tmp.dir, `${v.name}.f32`);
    const r = await runStepChild({ graph: saved.onnxPath, provider, config, grid, batch: 1, textTokens: 128, reps: REPS, velocityOut });
    const velocity = new Float32Array(readFileSync(velocityOut).buffer.slice(0));
    reference ??= velocity;
    const ms = median(r.runMs);
    if (v.name === 'fp32') refMs = ms;
    console.log(
      `  ${v.name.padEnd(5)} (compute ${v.compute})  weights ${fmt(saved.dataBytes / 2 ** 20, 0).padStart(5)} MiB  peak RSS ${fmt(r.peakRssMiB, 0).padStart(5)} MiB (session open ${fmt(r.rssOpenMiB, 0)})` +
        `  ${fmt(ms, 0).padStart(6)} ms/run (${fmt(ms / refMs, 2)}× fp32)  cosine vs fp32 ${cosine(velocity, reference).toFixed(6)}`,
    );
  }
} finally {
  tmp.cleanup();
}
