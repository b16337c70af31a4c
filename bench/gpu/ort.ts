/**
 * bench/gpu: our graphs on every GPU provider that loads here, beside PyTorch eager on the same
 * GPU with the same shapes, in one run. Start it with `bench/gpu/run.sh` (it brings node, the
 * Vulkan loader and PyTorch's results together); `npm run bench:gpu` runs this file alone.
 *
 * Cases (GPU): the LTX-Video 2B transformer (28 layers, 32×64) and 13B (48 layers, 32×128) at
 * 6,144 tokens (768×512×121 frames), batch 1 and 2 (guidance), 128 text tokens; ours at fp32
 * and fp16 compute (2B) and int8 weights (see companion/models/precision.ts), PyTorch at fp32 and
 * bf16 with scaled_dot_product_attention (bench/gpu/torch_ltx.py); then the whole 5-second
 * 768×512 extension end to end through the engine (./extension.ts). Each of our runs is a child
 * process (bench/step-child.ts, ./extension.ts); peak GPU memory is the device's used memory above
 * the idle baseline, sampled with nvidia-smi every 50 ms (ORT has no allocator statistics in Node).
 *
 * Disk and time (a device session is 8 minutes and 64 GiB): weights are written straight into
 * their stored form, fp16 or int8 (./weights.ts writeSynthWeights: at disk speed, no JavaScript
 * conversion), once per model × storage; fp32 and fp16 compute are two small graphs over the same
 * fp16 file (GraphBuilder.saveOver), and each file is deleted before the next is written. The
 * disk the largest phase needs is printed first, and the run refuses if the temp folder has less
 * free. Phases run in the order of what matters most (2B fp16 and fp32, 13B int8, the extension,
 * 2B int8, 13B fp16); one that would start after BENCH_GPU_BUDGET_S (450 s from run.sh's start,
 * BENCH_GPU_T0) is skipped with a message, so the call ends inside the session.
 *
 * Without a GPU provider (or with BENCH_GPU_SMOKE=1) it runs the same code on the CPU provider at
 * 1 layer and 64 tokens (the extension at 256×160×17, 2 steps), so it cannot rot, and says that
 * the figures are not GPU figures.
 *
 * Knobs: BENCH_GPU_PROVIDERS (comma list; default every GPU provider that loads), BENCH_GPU_SMOKE,
 * BENCH_GPU_MODELS=2b,13b, BENCH_GPU_BATCHES=1,2, BENCH_GPU_STEPS (extension steps, 8),
 * BENCH_GPU_SKIP=extension, BENCH_GPU_BUDGET_S (450), BENCH_REPS (3), BENCH_GPU_TORCH (path of
 * torch_ltx.py's JSON, written by run.sh).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { bundledProviders, providerErrorReason, sessionOptions, type Provider } from '../../companion/engine/providers.ts';
import { paramCounts, weightBytes } from '../../companion/models/fit.ts';
import { ltxvVaeParams } from '../../companion/models/ltxv/vae.ts';
import { LTXV_QUANTIZE, ltxvTransformerGraph } from '../../companion/models/ltxv/transformer.ts';
import type { WeightSource } from '../../companion/models/onnx/graph.ts';
import type { TransformerConfig } from '../../companion/models/types.ts';
import { envInt, fmt, ltx2bConfig, machine, median, printMachine, runStepChild, tempDir } from '../common.ts';
import { extensionVaeConfig, type ExtensionResult } from './extension.ts';
import { writeSynthWeights } from './weights.ts';

type Model = '2b' | '13b';
/** One weight file and the compute variants run over it, every batch each. */
interface Phase {
  model: Model;
  storage: 'fp16' | 'int8';
  computes: ('fp32' | 'fp16')[];
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
    return providerErrorReason(p, e).slice(0, 200);
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

const t0 = Number(process.env.BENCH_GPU_T0 ?? Date.now() / 1000) * 1000;
const budgetMs = envInt('BENCH_GPU_BUDGET_S', 450) * 1000;
const elapsedS = (): string => `${fmt((Date.now() - t0) / 1000, 0)} s`;
/** False (with a message) when a phase should not start any more: the session's time is nearly spent. */
const timeFor = (what: string): boolean => {
  if (Date.now() - t0 < budgetMs) return true;
  console.log(`  ${what}: skipped, ${elapsedS()} of the ${budgetMs / 1000} s budget spent (BENCH_GPU_BUDGET_S)`);
  return false;
};
const GiB = 2 ** 30;
const noWeights: WeightSource = () => {
  throw new Error('internal: synthesized weights only');
};

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
  const models = (process.env.BENCH_GPU_MODELS ?? '2b,13b').split(',') as Model[];
  const batches = (process.env.BENCH_GPU_BATCHES ?? '1,2').split(',').map(Number);
  const extension = !(process.env.BENCH_GPU_SKIP ?? '').split(',').includes('extension');
  const steps = envInt('BENCH_GPU_STEPS', smoke ? 2 : 8);
  const layers = (full: number) => (smoke ? 1 : full);
  const configs: Record<Model, TransformerConfig> = {
    '2b': ltx2bConfig(layers(28)),
    '13b': { ...ltx2bConfig(layers(48)), attentionHeadDim: 128, crossAttentionDim: 4096 },
  };
  // What matters most first: 2B against PyTorch, 13B int8 against 24 GB, then the rest.
  const phases: Phase[] = [
    { model: '2b' as const, storage: 'fp16' as const, computes: ['fp16', 'fp32'] as ('fp32' | 'fp16')[] },
    { model: '13b' as const, storage: 'int8' as const, computes: ['fp16'] as ('fp32' | 'fp16')[] },
    { model: '2b' as const, storage: 'int8' as const, computes: ['fp16'] as ('fp32' | 'fp16')[] },
    { model: '13b' as const, storage: 'fp16' as const, computes: ['fp16'] as ('fp32' | 'fp16')[] },
  ].filter((p) => models.includes(p.model));
  const extensionAfter = phases.findIndex((p) => p.model === '13b' && p.storage === 'int8') + 1;

  // Disk: every phase deletes its files before the next, so the largest phase is what must fit.
  const phaseBytes = (p: Phase) => weightBytes(paramCounts(configs[p.model]), p.storage);
  const vae = extensionVaeConfig(smoke);
  const extensionBytes = weightBytes(paramCounts(configs['2b']), 'fp16') + 4 * ltxvVaeParams(vae).reduce((a, p) => a + p.dims.reduce((x, y) => x * y, 1), 0);
  const needs = Math.max(...phases.map(phaseBytes), extension ? extensionBytes : 0) + 1 * GiB;
  const fs = statfsSync(tmp.dir);
  const free = fs.bavail * fs.bsize;
  console.log(
    `disk: the largest phase needs ${fmt(needs / GiB, 1)} GiB at once (` +
      [...phases.map((p) => `${p.model} ${p.storage} ${fmt(phaseBytes(p) / GiB, 1)}`), ...(extension ? [`extension ${fmt(extensionBytes / GiB, 1)}`] : [])].join(', ') +
      ` GiB, +1 GiB slack); ${fmt(free / GiB, 1)} GiB free in ${tmp.dir}`,
  );
  if (free < needs) {
    console.error(`bench/gpu: not enough disk: ${fmt(needs / GiB, 1)} GiB needed, ${fmt(free / GiB, 1)} GiB free in ${tmp.dir} (TMPDIR picks another folder; BENCH_GPU_MODELS=2b leaves 13B out)`);
    process.exitCode = 1;
  } else {
    // PyTorch's figures, from run.sh (same cases, written before this process started).
    const torchPath = process.env.BENCH_GPU_TORCH;
    const torch = torchPath && existsSync(torchPath) ? (JSON.parse(readFileSync(torchPath, 'utf8')) as { skipped?: string; device?: string; torch?: string; results?: { model: string; batch: number; dtype: string; ms?: number; peak_bytes?: number; error?: string }[] }) : undefined;
    console.log(torch?.skipped ? `PyTorch: skipped (${torch.skipped})` : torch ? `PyTorch ${torch.torch} on ${torch.device}` : 'PyTorch: no results (run bench/gpu/run.sh for the side-by-side)');

    const tokens = grid.frames * grid.height * grid.width;
    for (const provider of providers) {
      console.log(`\n## ${provider} (${elapsedS()} into the run)`);
      for (const [index, phase] of phases.entries()) {
        if (extension && index === extensionAfter) await runExtension(provider);
        const config = configs[phase.model];
        if (!timeFor(`${phase.model} ${phase.storage} weights`)) continue;
        // One weight file in its stored form; each compute type is a small graph over it.
        const graph = ltxvTransformerGraph(config, noWeights);
        const quantize = phase.storage === 'int8' ? (p: { name: string }) => LTXV_QUANTIZE.test(p.name) : null;
        const dataFile = join(tmp.dir, `${phase.model}-${phase.storage}.data`);
        const written = performance.now();
        const { initializers, bytes } = writeSynthWeights(dataFile, graph.paramList(), quantize, 7);
        console.log(`  ${phase.model} ${phase.storage} weights: ${fmt(bytes / GiB, 2)} GiB written in ${fmt((performance.now() - written) / 1000, 1)} s`);
        for (const compute of phase.computes) {
          const name = `${phase.model}-${phase.storage}-${compute}.onnx`;
          const saved = ltxvTransformerGraph(config, noWeights, { compute }).saveOver(tmp.dir, name, initializers);
          const precision = phase.storage === 'int8' ? 'int8' : compute;
          for (const batch of batches) {
            const label = `${phase.model} ${config.numLayers}L ${tokens} tok b${batch} ${precision}`.padEnd(32);
            if (!timeFor(label.trim())) continue;
            try {
              const { result, peakMiB } = await withGpuPeak(() => runStepChild({ graph: saved.onnxPath, provider, config, grid, batch, textTokens: TEXT, reps: REPS }));
              const ms = median(result.runMs);
              const ref = torch?.results?.find((r) => r.model === phase.model && r.batch === batch && r.dtype === (precision === 'fp32' ? 'fp32' : 'bf16'));
              const vs = ref?.ms ? `  PyTorch ${ref.dtype} ${fmt(ref.ms, 0)} ms, ${fmt((ref.peak_bytes ?? 0) / GiB, 2)} GiB → ours/PyTorch time ${fmt(ms / ref.ms, 2)}×` : ref?.error ? `  PyTorch ${ref.dtype}: ${ref.error}` : '';
              console.log(
                `  ${label} ${fmt(ms, 0).padStart(7)} ms/step  open ${fmt(result.openMs / 1000, 1)} s  peak ${peakMiB === undefined ? `RSS ${fmt(result.peakRssMiB / 1024, 2)} GiB` : `GPU ${fmt(peakMiB / 1024, 2)} GiB`}${vs}`,
              );
            } catch (e) {
              console.log(`  ${label} failed: ${(e as Error).message}`);
            }
          }
          rmSync(saved.onnxPath, { force: true });
        }
        rmSync(dataFile, { force: true });
      }
      if (extension && extensionAfter >= phases.length) await runExtension(provider);
    }
    if (torch?.results) {
      console.log('\n## PyTorch eager (SDPA), all cases');
      for (const r of torch.results) console.log(`  ${r.model} b${r.batch} ${r.dtype}: ${r.ms ? `${fmt(r.ms, 0)} ms/step, peak ${fmt((r.peak_bytes ?? 0) / GiB, 2)} GiB` : r.error}`);
    }
  }
  writeFileSync(join(tmp.dir, 'done'), '');

  /** The whole 5-second extension through the engine, in a child process (./extension.ts). */
  async function runExtension(provider: Provider): Promise<void> {
    if (!timeFor('5-second extension')) return;
    const dir = join(tmp.dir, 'extension-model');
    mkdirSync(dir, { recursive: true });
    try {
      const { result, peakMiB } = await withGpuPeak(() => extensionChild({ dir, provider, smoke, steps }));
      const r = result;
      const steady = r.stepMs.length > 1 ? median(r.stepMs.slice(1)) : r.stepMs[0]!;
      console.log(
        `  5-second extension: ${r.frames} frames ${r.width}×${r.height} (${r.tokens} tokens), ${r.stepMs.length} steps with guidance, ${r.compute} compute on ${r.provider}` +
          `${r.fallbacks.length ? ` after fallbacks (${r.fallbacks.join('; ')})` : ''}:\n` +
          `    window ${fmt(r.windowMs / 1000, 1)} s (steps ${fmt(r.stepMs.reduce((a, b) => a + b, 0) / 1000, 1)} s, first ${fmt(r.stepMs[0]! / 1000, 2)} s, then ${fmt(steady / 1000, 2)} s/step; text + VAE encode/decode ${fmt((r.windowMs - r.stepMs.reduce((a, b) => a + b, 0)) / 1000, 1)} s)` +
          `, load ${fmt(r.loadMs / 1000, 1)} s, model ${fmt(r.modelBytes / GiB, 2)} GiB written in ${fmt(r.buildMs / 1000, 1)} s, peak ${peakMiB === undefined ? `RSS ${fmt(r.peakRssMiB / 1024, 2)} GiB` : `GPU ${fmt(peakMiB / 1024, 2)} GiB`}`,
      );
    } catch (e) {
      console.log(`  5-second extension failed: ${(e as Error).message}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
} finally {
  tmp.cleanup();
}

function extensionChild(job: import('./extension.ts').ExtensionJob): Promise<ExtensionResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./extension.ts', import.meta.url)), JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) resolve(JSON.parse(line.slice(7)) as ExtensionResult);
      else reject(new Error(`exit ${code}: ${(err || out).trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}
