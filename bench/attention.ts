/**
 * Fused vs plain attention at the LTX-Video 2B width, same run, side by side:
 *
 *   npm run bench:attention
 *
 * One 2B-width layer (32 heads × 64, caption 4096, 128 text tokens, seeded random weights) built
 * twice — `attention: 'fused'` (com.microsoft.MultiHeadAttention) and `'plain'` (MatMul → Softmax
 * → MatMul) — and each run in its own child process (bench/step-child.ts) at 768 tokens and at
 * 6,144 tokens (768×512×121 frames → latent 16×16×24), batch 1: before = plain with the session
 * options the engine used before (CPU memory arena on), after = fused with the engine's options
 * now (companion/engine/providers.ts sessionOptions). Prints peak RSS, RSS with the session open
 * (weights), the difference (activations), ms per run and the before/after ratios, plus the
 * cosine between the two velocities.
 *
 * Knobs: BENCH_PROVIDER (cpu), BENCH_REPS (2), BENCH_TOKENS=768|6144 (both), BENCH_LAYERS (1).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildLtxvTransformer, type AttentionImpl } from '../companion/models/ltxv/transformer.ts';
import { cosine } from '../companion/models/parity.ts';
import type { Provider } from '../companion/engine/providers.ts';
import { envInt, fmt, ltx2bConfig, machine, median, printMachine, runStepChild, tempDir } from './common.ts';

const REPS = envInt('BENCH_REPS', 2);
const LAYERS = envInt('BENCH_LAYERS', 1);
const provider = (process.env.BENCH_PROVIDER ?? 'cpu') as Provider;
const sizes = [
  { tokens: 768, grid: { frames: 2, height: 16, width: 24 } },
  { tokens: 6144, grid: { frames: 16, height: 16, width: 24 } },
].filter((s) => !process.env.BENCH_TOKENS || process.env.BENCH_TOKENS === String(s.tokens));

console.log('# bench:attention: fused vs plain attention, one 2B-width layer');
printMachine(await machine());
console.log(`provider ${provider}, ${LAYERS} layer(s), batch 1, 128 text tokens, ${REPS} timed runs after 1 warm-up, each variant in its own process`);

const tmp = tempDir('attention');
try {
  const config = ltx2bConfig(LAYERS);
  const graphs: Record<AttentionImpl, string> = { fused: '', plain: '' };
  for (const impl of ['fused', 'plain'] as const) {
    graphs[impl] = buildLtxvTransformer(config, tmp.dir, { seed: 7, fileName: `${impl}.onnx`, attention: impl }).onnxPath;
  }
  for (const size of sizes) {
    console.log(`\n## ${size.tokens} tokens (${size.grid.frames}×${size.grid.height}×${size.grid.width})`);
    const rows: Record<string, { peak: number; open: number; ms: number }> = {};
    const velocities: Record<string, Float32Array> = {};
    // before: the plain graph with the session options the engine had before fused attention
    // (CPU arena on); after: the fused graph with the engine's options now.
    for (const [impl, sessionOverrides] of [['fused', {}], ['plain', { enableCpuMemArena: true }]] as const) {
      const velocityOut = join(tmp.dir, `${impl}-${size.tokens}.f32`);
      const r = await runStepChild({ graph: graphs[impl], provider, config, grid: size.grid, batch: 1, textTokens: 128, reps: REPS, velocityOut, sessionOverrides });
      velocities[impl] = new Float32Array(readFileSync(velocityOut).buffer.slice(0));
      const ms = median(r.runMs);
      rows[impl] = { peak: r.peakRssMiB, open: r.rssOpenMiB, ms };
      const label = impl === 'fused' ? 'after  (fused, engine options)' : 'before (plain, CPU arena on)';
      console.log(
        `  ${label}  peak RSS ${fmt(r.peakRssMiB, 0).padStart(6)} MiB  (session open ${fmt(r.rssOpenMiB, 0)} MiB, activations ${fmt(r.peakRssMiB - r.rssOpenMiB, 0)} MiB)` +
          `  ${fmt(ms, 0)} ms/run (runs ${r.runMs.map((x) => fmt(x, 0)).join(', ')}; warm-up ${fmt(r.warmupMs, 0)})`,
      );
    }
    const f = rows.fused!;
    const p = rows.plain!;
    console.log(`  ratio before/after: peak RSS ${fmt(p.peak / f.peak, 2)}×, activations ${fmt((p.peak - p.open) / Math.max(1, f.peak - f.open), 2)}×, time ${fmt(p.ms / f.ms, 2)}× (> 1: fused is faster)`);
    console.log(`  cosine(fused, plain velocity) = ${cosine(velocities.fused!, velocities.plain!).toFixed(8)}`);
  }
} finally {
  tmp.cleanup();
}
