/**
 * Peak memory of a full render, stage by stage, with everything resident vs one session at a time.
 *
 *   npm run bench:memory
 *
 * Why: a real LTX-Video 2B model is T5-XXL (~9.5 GB fp16) + transformer (~4 GB) + VAE (~0.8 GB).
 * All resident does not fit a 24 GB GPU with room for activations, so the engine opens sessions
 * stage by stage within a memory budget (companion/engine/stages.ts: RESHOOT_MEMORY_BUDGET_GB /
 * `budgetBytes`, least recently used released). This measures, on the CPU provider, what that
 * buys in peak process memory and what the reloading costs in time.
 *
 * 1. A child process writes a reduced-size diffusers LTX-Video 0.9.5 checkpoint with the real
 *    layout (test/helpers/checkpoint.ts), made larger so memory is visible: transformer hidden
 *    BENCH_HIDDEN (1024) × BENCH_LAYERS (8) layers, T5 d_model BENCH_T5_DMODEL (1024) ×
 *    BENCH_T5_LAYERS (12) layers, VAE widths × BENCH_VAE_WIDTH (4); and imports it
 *    (`importCheckpoint`, fp32) into a temp RESHOOT_MODELS.
 * 2. Two more child processes, one per budget, each render one window in-process through
 *    `loadRuntime` + `generateWindow`: a fill of 17 frames at 256×160 (latent 3×5×8 = 120 tokens),
 *    BENCH_STEPS (4) steps, guidance 3 (so the text encoder runs twice: prompt and negative
 *    prompt; the prompt cache beside the model is emptied first). The runtime's encodeText,
 *    encodeVideo, velocity and decodeVideo are wrapped: before each call the process's peak RSS is
 *    reset (`/proc/self/clear_refs` ← 5) and after it `VmHWM` is read from /proc/self/status
 *    (ORT's run() blocks the thread, so a timer could not sample during it). Loading is measured
 *    the same way.
 *      (a) budget 64 GiB: everything resident (loadRuntime opens all four sessions);
 *      (b) budget = the smallest graph's bytes: every stage evicts the others before it opens, so
 *          one session is open at a time (the transformer is reopened for the first step).
 *    Fresh processes so neither run inherits the other's heap; same model files, page cache warm.
 *    BENCH_REPS (2) repeats, (a) and (b) alternating; tables for the first, totals for all.
 * 3. Prints per stage: peak RSS during it, RSS after, RssAnon/RssFile after, sessions resident
 *    after, time; then overall peak b/a and wall time b/a.
 *
 * Linux only (/proc). Weights are seeded random: the pictures are noise, the memory and compute
 * are the real graphs'. CPU provider only; a GPU's memory is not measured here.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateWindow } from '../companion/engine/generate.ts';
import { loadRuntime, type ModelRuntime } from '../companion/engine/runtime.ts';
import type { Frame } from '../companion/media/frame.ts';
import { importCheckpoint } from '../companion/models/convert/index.ts';
import { loadModel, modelDir } from '../companion/models/registry.ts';
import { writeLtxvCheckpointFixture } from '../test/helpers/checkpoint.ts';
import { envInt, fmt, machine, median, printMachine, tempDir } from './common.ts';

const HIDDEN = envInt('BENCH_HIDDEN', 1024);
const LAYERS = envInt('BENCH_LAYERS', 8);
const T5_DMODEL = envInt('BENCH_T5_DMODEL', 1024);
const T5_LAYERS = envInt('BENCH_T5_LAYERS', 12);
const VAE_WIDTH = envInt('BENCH_VAE_WIDTH', 4);
const STEPS = envInt('BENCH_STEPS', 4);
const REPS = envInt('BENCH_REPS', 2);
const MODEL_ID = 'bench-memory';
const W = 256;
const H = 160;
const FRAMES = 17;
const GUIDANCE = 3;
const LARGE_BUDGET = 64 * 1024 ** 3;

const MiB = 2 ** 20;
const mb = (bytes: number): string => `${(bytes / MiB).toFixed(0)}`;

// ---- /proc -----------------------------------------------------------------------------------

interface Mem {
  hwm: number;
  rss: number;
  anon: number;
  file: number;
}

function readMem(): Mem {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status);
    return m ? Number(m[1]) * 1024 : NaN;
  };
  return { hwm: kb('VmHWM'), rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}

function resetPeak(): void {
  writeFileSync('/proc/self/clear_refs', '5');
}

// ---- child: prepare ---------------------------------------------------------------------------

async function prepare(work: string): Promise<void> {
  process.env.RESHOOT_MODELS = path.join(work, 'models');
  const heads = HIDDEN / 64;
  if (!Number.isInteger(heads)) throw new Error('BENCH_HIDDEN must be a multiple of 64');
  const t5Heads = T5_DMODEL / 64;
  if (!Number.isInteger(t5Heads)) throw new Error('BENCH_T5_DMODEL must be a multiple of 64');
  let t = performance.now();
  const folder = path.join(work, 'checkpoint');
  writeLtxvCheckpointFixture(folder, {
    version: '0.9.5',
    transformerConfig: { num_attention_heads: heads, attention_head_dim: 64, num_layers: LAYERS, cross_attention_dim: HIDDEN, caption_channels: T5_DMODEL },
    textEncoderConfig: { d_model: T5_DMODEL, d_kv: 64, num_heads: t5Heads, d_ff: Math.round((T5_DMODEL * 2.75) / 64) * 64, num_layers: T5_LAYERS },
    vaeConfig: { block_out_channels: [8, 16, 32, 64, 128].map((c) => c * VAE_WIDTH), decoder_block_out_channels: [16, 32, 64].map((c) => c * VAE_WIDTH) },
  });
  const wrote = (performance.now() - t) / 1000;
  t = performance.now();
  await importCheckpoint(folder, { id: MODEL_ID, precision: 'fp32' });
  const imported = (performance.now() - t) / 1000;
  rmSync(folder, { recursive: true, force: true });
  console.log(`fixture checkpoint written in ${fmt(wrote)} s, imported (fp32) in ${fmt(imported)} s`);
}

// ---- child: render ----------------------------------------------------------------------------

interface Row {
  stage: string;
  calls: number;
  ms: number;
  /** Highest VmHWM over the calls. */
  peak: number;
  /** After the last call. */
  after: Mem;
  resident: string[];
}

interface RenderResult {
  budget: number;
  baseline: Mem;
  rows: Row[];
  loadMs: number;
  renderMs: number;
  stepMs: number[];
}

function syntheticFrames(): Frame[] {
  const frames: Frame[] = [];
  for (let f = 0; f < FRAMES; f++) {
    const data = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const o = (y * W + x) * 3;
        data[o] = (x + 4 * f) & 255;
        data[o + 1] = (y * 2) & 255;
        data[o + 2] = ((x ^ y) + f * 8) & 255;
      }
    }
    frames.push({ width: W, height: H, channels: 3, data });
  }
  return frames;
}

function rectMask(): Float32Array {
  const m = new Float32Array(W * H);
  for (let y = 40; y < 120; y++) for (let x = 64; x < 192; x++) m[y * W + x] = 1;
  return m;
}

async function render(work: string, budget: number, out: string): Promise<void> {
  process.env.RESHOOT_MODELS = path.join(work, 'models');
  // The prompt cache beside the model would let the text encoder be skipped: empty it.
  rmSync(path.join(modelDir(MODEL_ID), '.prompt-cache'), { recursive: true, force: true });
  const model = await loadModel(MODEL_ID);
  const frames = syntheticFrames();
  const mask = rectMask();
  const baseline = readMem();

  const rows = new Map<string, Row>();
  let rt: ModelRuntime | null = null;
  async function measure<T>(stage: string, fn: () => Promise<T>): Promise<T> {
    resetPeak();
    const t = performance.now();
    const v = await fn();
    const ms = performance.now() - t;
    const mem = readMem();
    const row = rows.get(stage) ?? { stage, calls: 0, ms: 0, peak: 0, after: mem, resident: [] };
    row.calls++;
    row.ms += ms;
    row.peak = Math.max(row.peak, mem.hwm);
    row.after = mem;
    row.resident = rt ? rt.resident() : [];
    rows.set(stage, row);
    return v;
  }

  const tLoad = performance.now();
  rt = await measure('load', () => loadRuntime(model, { providers: ['cpu'], budgetBytes: budget }));
  rows.get('load')!.resident = rt.resident();
  const loadMs = performance.now() - tLoad;

  const base = rt;
  let texts = 0;
  let steps = 0;
  const wrapped: ModelRuntime = {
    ...base,
    encodeText: (p) => measure(`text encoder #${++texts}`, () => base.encodeText(p)),
    encodeVideo: (...a) => measure('VAE encode', () => base.encodeVideo(...a)),
    velocity: (...a) => measure(`transformer step ${++steps}`, () => base.velocity(...a)),
    decodeVideo: (...a) => measure('VAE decode', () => base.decodeVideo(...a)),
  };

  const t = performance.now();
  const result = await generateWindow(
    wrapped,
    {
      width: W,
      height: H,
      frames,
      masks: frames.map(() => mask),
      prompt: 'a red door in a white wall, slow push in',
      negativePrompt: '',
      seed: 7,
      stream: 0,
      steps: STEPS,
      guidance: GUIDANCE,
      strength: 1,
      conditioning: 'per-token',
      fps: 24000 / 1001,
    },
    () => undefined,
    () => false,
  );
  const renderMs = performance.now() - t;
  if (result.frames.length !== FRAMES) throw new Error(`rendered ${result.frames.length} frames`);
  await base.release();
  const res: RenderResult = { budget, baseline, rows: [...rows.values()], loadMs, renderMs, stepMs: result.stepMs };
  writeFileSync(out, JSON.stringify(res));
}

// ---- parent -----------------------------------------------------------------------------------

function child(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args], { stdio: 'inherit' });
    p.on('error', reject);
    p.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`child ${args[0]} exited with ${code ?? signal}`))));
  });
}

function graphMiB(p: string): number {
  let bytes = statSync(p).size;
  if (existsSync(`${p}.data`)) bytes += statSync(`${p}.data`).size;
  return bytes;
}

function printRun(name: string, r: RenderResult): void {
  console.log(`\n## ${name}`);
  console.log(`budget ${r.budget >= LARGE_BUDGET ? `${r.budget / 1024 ** 3} GiB` : `${mb(r.budget)} MiB`}; RSS before loading ${mb(r.baseline.rss)} MiB`);
  console.log('  stage                    calls   time s   peak RSS MiB   RSS after MiB (anon/file)   resident after');
  let peak = 0;
  for (const row of r.rows) {
    peak = Math.max(peak, row.peak);
    const short = row.resident.map((s) => ({ textEncoder: 'T5', transformer: 'DiT', vaeEncoder: 'VAE-enc', vaeDecoder: 'VAE-dec' })[s] ?? s).join(' ');
    console.log(
      `  ${row.stage.padEnd(24)} ${String(row.calls).padStart(5)} ${fmt(row.ms / 1000, 2).padStart(8)} ${mb(row.peak).padStart(14)} ` +
        `${`${mb(row.after.rss)} (${mb(row.after.anon)}/${mb(row.after.file)})`.padStart(27)}   ${short || '—'}`,
    );
  }
  console.log(`  overall peak ${mb(peak)} MiB; load ${fmt(r.loadMs / 1000, 2)} s + render ${fmt(r.renderMs / 1000, 2)} s = ${fmt((r.loadMs + r.renderMs) / 1000, 2)} s`);
}

async function main(): Promise<void> {
  const [mode, work, budget, out] = process.argv.slice(2);
  if (mode === 'prepare') return prepare(work!);
  if (mode === 'render') return render(work!, Number(budget), out!);

  console.log('# bench:memory: peak RSS of one full render by stage, all resident vs one session at a time');
  printMachine(await machine());
  console.log(`load average at start: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  if (!existsSync('/proc/self/clear_refs')) throw new Error('needs Linux /proc (clear_refs, VmHWM)');
  const tmp = tempDir('memory');
  try {
    let t = performance.now();
    await child(['prepare', tmp.dir]);
    process.env.RESHOOT_MODELS = path.join(tmp.dir, 'models');
    const model = await loadModel(MODEL_ID);
    const sizes = Object.entries(model.graphs).map(([k, p]) => [k, graphMiB(p)] as const);
    const total = sizes.reduce((s, [, b]) => s + b, 0);
    console.log(`model (fp32 weights, .onnx + .onnx.data): ${sizes.map(([k, b]) => `${k} ${mb(b)} MiB`).join(', ')}; total ${mb(total)} MiB (prepared in ${fmt((performance.now() - t) / 1000)} s)`);
    const mc = model.manifest;
    console.log(
      `  transformer hidden ${mc.transformer.numAttentionHeads * mc.transformer.attentionHeadDim} × ${mc.transformer.numLayers} layers, caption ${mc.transformer.captionChannels}; ` +
        `T5 d_model ${T5_DMODEL} × ${T5_LAYERS} layers, ${mc.text.maxTokens} tokens; VAE widths × ${VAE_WIDTH} (0.9.5 layout); latent ${mc.latent.channels} channels`,
    );
    console.log(`window: fill, ${FRAMES} frames at ${W}×${H}, ${STEPS} steps, guidance ${GUIDANCE} (batch 2), per-token conditioning, CPU provider`);
    const smallest = Math.min(...sizes.map(([, b]) => b));

    // (a) and (b) alternate, each in a fresh process; tables for the first repeat, totals for all.
    const runs: { a: RenderResult[]; b: RenderResult[] } = { a: [], b: [] };
    for (let rep = 0; rep < REPS; rep++) {
      for (const [key, b] of [['a', LARGE_BUDGET], ['b', smallest]] as const) {
        const out = path.join(tmp.dir, `run-${key}-${rep}.json`);
        await child(['render', tmp.dir, String(b), out]);
        runs[key].push(JSON.parse(readFileSync(out, 'utf8')) as RenderResult);
      }
    }
    printRun('(a) budget large: everything resident (repeat 1)', runs.a[0]!);
    printRun('(b) budget = smallest graph: one session at a time (repeat 1)', runs.b[0]!);
    const peakOf = (r: RenderResult): number => Math.max(...r.rows.map((row) => row.peak));
    const wall = (r: RenderResult): number => r.loadMs + r.renderMs;
    console.log(`\n## side by side (${REPS} repeats, a/b alternating, each a fresh process)`);
    for (const key of ['a', 'b'] as const) {
      console.log(
        `  (${key}) peak RSS ${runs[key].map((r) => mb(peakOf(r))).join(' / ')} MiB; ` +
          `load ${runs[key].map((r) => fmt(r.loadMs / 1000, 2)).join(' / ')} s; render ${runs[key].map((r) => fmt(r.renderMs / 1000, 2)).join(' / ')} s; ` +
          `load + render ${runs[key].map((r) => fmt(wall(r) / 1000, 2)).join(' / ')} s`,
      );
    }
    const med = (key: 'a' | 'b', f: (r: RenderResult) => number): number => median(runs[key].map(f));
    console.log(`  overall peak RSS ratio b/a = ${fmt(med('b', peakOf) / med('a', peakOf), 2)} (medians: ${mb(med('b', peakOf))} / ${mb(med('a', peakOf))} MiB)`);
    console.log(`  wall time ratio b/a, load + render = ${fmt(med('b', wall) / med('a', wall), 2)}; render only (sessions reopened inside it in b) = ${fmt(med('b', (r) => r.renderMs) / med('a', (r) => r.renderMs), 2)}`);
  } finally {
    tmp.cleanup();
  }
}

await main();
