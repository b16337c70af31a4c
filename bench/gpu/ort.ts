/**
 * bench/gpu: our graphs on every GPU provider that loads here, beside PyTorch eager on the same
 * GPU with the same shapes, in one run. Start it with `bench/gpu/run.sh` (it brings node, the
 * Vulkan loader and PyTorch's results together); `npm run bench:gpu` runs this file alone.
 *
 * Cases (GPU): the LTX-Video 2B transformer (28 layers, 32×64) and 13B (48 layers, 32×128) at
 * 6,144 tokens (768×512×121 frames), batch 1 and 2 (guidance), 128 text tokens; ours at fp32
 * (2B), fp16 compute and int8 weights (see companion/models/precision.ts), PyTorch at fp32 and
 * bf16 with scaled_dot_product_attention (bench/gpu/torch_ltx.py). Each of our runs is a child
 * process (bench/step-child.ts); peak GPU memory is the device's used memory above the idle
 * baseline, sampled with nvidia-smi every 50 ms (ORT has no allocator statistics in Node).
 *
 * Without a GPU provider (or with BENCH_GPU_SMOKE=1) it runs the same code on the CPU provider at
 * 1 layer and 64 tokens, so it cannot rot, and says that the figures are not GPU figures.
 *
 * Knobs: BENCH_GPU_PROVIDERS (comma list; default every GPU provider that loads), BENCH_GPU_SMOKE,
 * BENCH_GPU_MODELS=2b,13b, BENCH_GPU_BATCHES=1,2, BENCH_REPS (3), BENCH_GPU_TORCH (path of
 * torch_ltx.py's JSON, written by run.sh).
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { bundledProviders, sessionOptions, type Provider } from '../../companion/engine/providers.ts';
import { LTXV_QUANTIZE, ltxvTransformerGraph } from '../../companion/models/ltxv/transformer.ts';
import type { TransformerConfig } from '../../companion/models/types.ts';
import { envInt, fmt, ltx2bConfig, machine, median, printMachine, runStepChild, tempDir } from '../common.ts';
import { pooledWeights } from './weights.ts';

type Precision = 'fp32' | 'fp16' | 'int8';
interface Case {
  model: '2b' | '13b';
  config: TransformerConfig;
  grid: { frames: number; height: number; width: number };
  batch: number;
  precisions: Precision[];
}

const REPS = envInt('BENCH_REPS', 3);
const TEXT = 128;

/** A GPU provider "loads" when it opens and runs a one-node graph. */
async function providerWorks(p: Provider, probe: string): Promise<string | undefined> {
  try {
    const s = await ort.InferenceSession.create(probe, sessionOptions(p));
    await s.run({ x: new ort.Tensor('float32', Float32Array.of(1, 2), [2]) });
    await s.release();
    return undefined;
  } catch (e) {
    return (e as Error).message.split('\n')[0]!.slice(0, 140);
  }
}

function nvidiaUsedMiB(): Promise<number | undefined> {
  return new Promise((resolve) =>
    execFile('nvidia-smi', ['--query-gpu=memory.used', '--format=csv,noheader,nounits', '-i', '0'], { timeout: 3000 }, (err, out) =>
      resolve(err ? undefined : Number(out.trim().split('\n')[0])),
    ),
  );
}

/** Peak of nvidia-smi's used memory while `run` runs, above the baseline before it. */
async function withGpuPeak<T>(run: () => Promise<T>): Promise<{ result: T; peakMiB?: number }> {
  const base = await nvidiaUsedMiB();
  if (base === undefined) return { result: await run() };
  let peak = base;
  let sampling = true;
  const loop = (async () => {
    while (sampling) {
      peak = Math.max(peak, (await nvidiaUsedMiB()) ?? peak);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    return { result: await run(), peakMiB: peak - base };
  } finally {
    sampling = false;
    await loop;
  }
}

const m = await machine();
console.log('# bench:gpu: LTX-Video transformer steps, ours (onnxruntime-node) vs PyTorch eager, same GPU, same run');
printMachine(m);
const tmp = tempDir('gpu');
try {
  // A one-node probe graph for "does this provider load here".
  const { GraphBuilder } = await import('../../companion/models/onnx/graph.ts');
  const { DataType } = await import('../../companion/models/onnx/proto.ts');
  const pg = new GraphBuilder('probe', () => new Float32Array());
  pg.output(pg.add(pg.input('x', DataType.FLOAT, [2]), pg.scalar(1)), 'y', DataType.FLOAT, [2]);
  const probe = pg.save(tmp.dir, 'probe.onnx').onnxPath;

  const wanted = process.env.BENCH_GPU_PROVIDERS?.split(',') as Provider[] | undefined;
  const gpuProviders: Provider[] = [];
  for (const p of wanted ?? bundledProviders().filter((x) => x !== 'cpu')) {
    const why = await providerWorks(p, probe);
    console.log(`provider ${p}: ${why ? `does not load here (${why})` : 'loads'}`);
    if (!why) gpuProviders.push(p);
  }
  const smoke = process.env.BENCH_GPU_SMOKE === '1' || gpuProviders.length === 0;
  const providers: Provider[] = smoke && gpuProviders.length === 0 ? ['cpu'] : gpuProviders;
  if (smoke) console.log('\nSMOKE RUN on the CPU provider at 1 layer and 64 tokens: these figures check the script, they are not GPU figures.');

  const grid = smoke ? { frames: 1, height: 8, width: 8 } : { frames: 16, height: 16, width: 24 };
  const models = (process.env.BENCH_GPU_MODELS ?? '2b,13b').split(',');
  const batches = (process.env.BENCH_GPU_BATCHES ?? '1,2').split(',').map(Number);
  const layers = (full: number) => (smoke ? 1 : full);
  const cases: Case[] = [];
  for (const model of models) {
    const config = model === '13b' ? { ...ltx2bConfig(layers(48)), attentionHeadDim: 128, crossAttentionDim: 4096 } : ltx2bConfig(layers(28));
    // 13B fp32 would be 52 GB of graph files: fp16 and int8 only.
    const precisions: Precision[] = model === '13b' ? ['fp16', 'int8'] : ['fp32', 'fp16', 'int8'];
    for (const batch of batches) cases.push({ model: model as '2b' | '13b', config, grid, batch, precisions });
  }

  // PyTorch's figures, from run.sh (same cases, written before this process started).
  const torchPath = process.env.BENCH_GPU_TORCH;
  const torch = torchPath && existsSync(torchPath) ? (JSON.parse(readFileSync(torchPath, 'utf8')) as { skipped?: string; device?: string; torch?: string; results?: { model: string; batch: number; dtype: string; ms?: number; peak_bytes?: number; error?: string }[] }) : undefined;
  console.log(torch?.skipped ? `PyTorch: skipped (${torch.skipped})` : torch ? `PyTorch ${torch.torch} on ${torch.device}` : 'PyTorch: no results (run bench/gpu/run.sh for the side-by-side)');

  const tokens = grid.frames * grid.height * grid.width;
  for (const provider of providers) {
    console.log(`\n## ${provider}`);
    for (const model of models) {
      const mine = cases.filter((c) => c.model === model);
      if (mine.length === 0) continue;
      const config = mine[0]!.config;
      for (const precision of mine[0]!.precisions) {
        // Build once per model × precision, run every batch, then delete (13B graphs are tens of GB).
        const weights = pooledWeights(7);
        const compute = precision === 'fp32' ? 'fp32' : 'fp16';
        const saved = ltxvTransformerGraph(config, weights, { compute }).save(tmp.dir, `${model}-${precision}.onnx`, {
          storage: (p) => (precision === 'int8' && p.init.kind === 'linear' && LTXV_QUANTIZE.test(p.name) ? 'int8' : compute),
        });
        for (const c of mine) {
          const label = `${model} ${config.numLayers}L ${tokens} tok b${c.batch} ${precision}`.padEnd(32);
          try {
            const { result, peakMiB } = await withGpuPeak(() => runStepChild({ graph: saved.onnxPath, provider, config, grid, batch: c.batch, textTokens: TEXT, reps: REPS }));
            const ms = median(result.runMs);
            const ref = torch?.results?.find((r) => r.model === model && r.batch === c.batch && r.dtype === (precision === 'fp32' ? 'fp32' : 'bf16'));
            const vs = ref?.ms ? `  PyTorch ${ref.dtype} ${fmt(ref.ms, 0)} ms, ${fmt((ref.peak_bytes ?? 0) / 2 ** 30, 2)} GiB → ours/PyTorch time ${fmt(ms / ref.ms, 2)}×` : ref?.error ? `  PyTorch ${ref.dtype}: ${ref.error}` : '';
            console.log(
              `  ${label} ${fmt(ms, 0).padStart(7)} ms/step  weights ${fmt(saved.dataBytes / 2 ** 30, 2)} GiB  peak ${peakMiB === undefined ? `RSS ${fmt(result.peakRssMiB / 1024, 2)} GiB` : `GPU ${fmt(peakMiB / 1024, 2)} GiB`}${vs}`,
            );
          } catch (e) {
            console.log(`  ${label} failed: ${(e as Error).message}`);
          }
        }
        rmSync(saved.onnxPath, { force: true });
        rmSync(saved.dataPath, { force: true });
      }
    }
  }
  if (torch?.results) {
    console.log('\n## PyTorch eager (SDPA), all cases');
    for (const r of torch.results) console.log(`  ${r.model} b${r.batch} ${r.dtype}: ${r.ms ? `${fmt(r.ms, 0)} ms/step, peak ${fmt((r.peak_bytes ?? 0) / 2 ** 30, 2)} GiB` : r.error}`);
  }
  writeFileSync(join(tmp.dir, 'done'), '');
} finally {
  tmp.cleanup();
}
