/**
 * Engine cost on this machine, in one run.
 *
 *   npm run bench:engine
 *
 * (a) One denoiser step = one transformer run through ONNX Runtime (CPU provider, the session
 *     options of companion/engine/runtime.ts, through ModelRuntime.velocity), at batch 2 (CFG:
 *     conditional + unconditional in one batch, as the sampler runs it) and batch 1:
 *       tiny  builtin:tiny at its full window: 128x72, 17 frames → latent 9×9×16 = 1296 tokens,
 *             32 text tokens.
 *       mid   the LTX transformer at hidden 512 (8 heads × 64), 8 layers, 128 latent channels,
 *             caption channels 256, cross-attention dim 512, latent 5×15×20 = 1500 tokens
 *             (33 frames of 640x480 under LTX's 32×32×8 VAE), 128 text tokens; random weights
 *             built with buildLtxvTransformer into a temp folder.
 *     Prints ms/step (median), tokens/s, an estimate of matmul GFLOP/step and the mid/tiny ratio.
 * (b) Peak RSS of a 2-second 1080p fill: bench/fill-rss-child.ts in a child process (see there).
 *     The child reports its own peak (getrusage maxRSS: the Node process with its worker thread
 *     and ONNX Runtime); this process also samples /proc every 100 ms for the whole process tree
 *     (Node + its ffmpeg decoder/encoder children). Goal: under 1.5 GB.
 *
 * Environment: BENCH_REPS (5) timed step repeats (after warm-ups); BENCH_SKIP=steps and/or rss (comma list) leaves parts out;
 * BENCH_FILL_FRAMES (48) for the fill; BENCH_PROFILE=1 runs the fill child under --cpu-prof and
 * prints where its threads spend their time (adds some overhead to its wall time);
 * RESHOOT_MODELS as usual (builtin:tiny builds on first use).
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadRuntime, type ModelRuntime } from '../companion/engine/runtime.ts';
import type { TextEmbedding } from '../companion/engine/generate.ts';
import type { LatentGrid } from '../companion/engine/latents.ts';
import { buildLtxvTransformer, loadModel } from '../companion/models/registry.ts';
import { tinyTransformerConfig } from '../companion/models/tiny.ts';
import type { ModelHandle, TransformerConfig } from '../companion/models/types.ts';
import { Rng } from '../companion/engine/noise.ts';
import { envInt, envSkip, fmt, machine, median, mib, printMachine, tempDir, transformerMacs } from './common.ts';

const REPS = envInt('BENCH_REPS', 5);
const PROFILE = process.env.BENCH_PROFILE === '1';
const SKIP = envSkip(['steps', 'rss']);
const FPS = 24000 / 1001;
const RSS_GOAL_BYTES = 1.5e9;

const midConfig: TransformerConfig = {
  inChannels: 128,
  outChannels: 128,
  numAttentionHeads: 8,
  attentionHeadDim: 64,
  numLayers: 8,
  crossAttentionDim: 512,
  captionChannels: 256,
  normEps: 1e-6,
  rope: tinyTransformerConfig.rope,
};

interface Case {
  name: string;
  rt: ModelRuntime;
  config: TransformerConfig;
  grid: LatentGrid;
  textTokens: number;
  ms: Record<1 | 2, number[]>;
}

/**
 * Multiply-accumulates of one transformer run per batch row, counting the matmuls only
 * (proj in/out, per-token adaLN, caption projection, q/k/v/out, attention, feed-forward).
 */
function textEmbedding(c: TransformerConfig, L: number, batch: number, seed: number): TextEmbedding {
  const embeds = new Rng(seed, 0).normal(new Float32Array(batch * L * c.captionChannels));
  const mask = new Float32Array(batch * L);
  // About half the tokens real, as with a short prompt padded to the maximum.
  for (let b = 0; b < batch; b++) for (let i = 0; i < L; i++) mask[b * L + i] = i < L / 2 ? 1 : 0;
  return { embeds, mask, batch };
}

async function step(k: Case, batch: 1 | 2): Promise<number> {
  const S = k.grid.frames * k.grid.height * k.grid.width;
  const C = k.config.inChannels;
  const tokens = new Rng(11, batch).normal(new Float32Array(batch * S * C));
  const timestep = new Float32Array(batch * S).fill(700); // σ = 0.7, as the sampler passes σ·1000
  const text = textEmbedding(k.config, k.textTokens, batch, 5);
  const rope = k.rt.rope(k.grid, FPS);
  const t = performance.now();
  const v = await k.rt.velocity(tokens, batch, timestep, text, rope);
  const ms = performance.now() - t;
  if (v.length !== batch * S * k.config.outChannels) throw new Error(`${k.name}: velocity has ${v.length} values`);
  return ms;
}

async function stepBench(): Promise<void> {
  console.log('\n## (a) one denoiser step (transformer run, ONNX Runtime CPU)');
  const tiny = await loadModel('builtin:tiny');
  const tmp = tempDir('engine');
  let t = performance.now();
  const saved = buildLtxvTransformer(midConfig, tmp.dir, { seed: 1 });
  const buildSeconds = (performance.now() - t) / 1000;
  // The mid transformer borrows the tiny model's other graphs: only velocity() is timed here.
  const mid: ModelHandle = {
    dir: tmp.dir,
    manifest: {
      ...tiny.manifest,
      id: 'bench:mid',
      latent: { channels: midConfig.inChannels, spatial: 32, temporal: 8 },
      transformer: midConfig,
      text: { ...tiny.manifest.text, maxTokens: 128 },
    },
    graphs: { ...tiny.graphs, transformer: saved.onnxPath },
  };
  console.log(`mid transformer built in ${fmt(buildSeconds)} s: ${mib(saved.dataBytes)} of weights (${fmt(saved.dataBytes / 4 / 1e6)} M parameters)`);

  t = performance.now();
  const cases: Case[] = [
    { name: 'tiny', rt: await loadRuntime(tiny, 'cpu'), config: tiny.manifest.transformer, grid: { frames: 9, height: 9, width: 16 }, textTokens: tiny.manifest.text.maxTokens, ms: { 1: [], 2: [] } },
    { name: 'mid', rt: await loadRuntime(mid, 'cpu'), config: midConfig, grid: { frames: 5, height: 15, width: 20 }, textTokens: 128, ms: { 1: [], 2: [] } },
  ];
  console.log(`sessions opened in ${fmt((performance.now() - t) / 1000)} s; provider ${cases[0]!.rt.provider}; ${REPS} timed runs each, interleaved`);
  try {
    // ORT's first two runs of a session are several times slower than the rest (allocation,
    // thread pool start); the sampler pays that once per job. Two warm-ups, reported apart.
    const cold = new Map<string, number[]>();
    for (const k of cases) {
      for (const b of [2, 1] as const) {
        const key = `${k.name} batch ${b}`;
        cold.set(key, []);
        for (let i = 0; i < (b === 2 ? 2 : 1); i++) cold.get(key)!.push(await step(k, b));
      }
    }
    console.log(`  warm-up runs (not counted): ${[...cold].map(([key, ms]) => `${key} ${ms.map((v) => fmt(v, 0)).join('/')} ms`).join(', ')}`);
    for (let rep = 0; rep < REPS; rep++) {
      for (const k of cases) for (const b of [2, 1] as const) k.ms[b].push(await step(k, b));
    }
    const med = new Map<string, number>();
    for (const k of cases) {
      const S = k.grid.frames * k.grid.height * k.grid.width;
      const D = k.config.numAttentionHeads * k.config.attentionHeadDim;
      for (const b of [2, 1] as const) {
        const ms = median(k.ms[b]);
        med.set(`${k.name}/${b}`, ms);
        const gflop = (2 * b * transformerMacs(k.config, S, k.textTokens)) / 1e9;
        console.log(
          `  ${k.name.padEnd(4)} batch ${b}: ${fmt(ms).padStart(7)} ms/step  ${fmt((b * S) / (ms / 1000), 0).padStart(6)} tokens/s  ` +
            `(${S} tokens, D=${D}, ${k.config.numLayers} layers; ~${fmt(gflop, 1)} GFLOP → ${fmt(gflop / (ms / 1000), 0)} GFLOP/s; ` +
            `runs ${k.ms[b].map((v) => fmt(v, 0)).join('/')} ms)`,
        );
      }
    }
    for (const b of [2, 1] as const) {
      console.log(`  ratio mid/tiny, batch ${b}: ${fmt(med.get(`mid/${b}`)! / med.get(`tiny/${b}`)!, 1)}×`);
    }
    for (const k of cases) {
      console.log(`  ${k.name} batch 2 / batch 1: ${fmt(med.get(`${k.name}/2`)! / med.get(`${k.name}/1`)!, 2)}× (2.00 = no gain from batching the CFG pair)`);
    }
  } finally {
    for (const k of cases) await k.rt.release();
    tmp.cleanup();
  }
}

/** Pids of `root` and all its descendants, from /proc. */
function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // exited while we looked
    }
  }
  const out: number[] = [];
  const todo = [root];
  while (todo.length) {
    const pid = todo.pop()!;
    out.push(pid);
    todo.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** Resident bytes of one process (0 if it is gone). */
function rssBytes(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * 4096;
  } catch {
    return 0;
  }
}

async function rssBench(): Promise<void> {
  console.log('\n## (b) peak RSS of a 2-second 1080p fill (runJob, builtin:tiny, ProRes 422 HQ in and out)');
  const tmp = tempDir('fill');
  const profDir = path.join(tmp.dir, 'prof');
  const profArgs = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  const child = spawn(process.execPath, [...profArgs, '--import', 'tsx', fileURLToPath(new URL('./fill-rss-child.ts', import.meta.url)), tmp.dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: path.dirname(path.dirname(fileURLToPath(import.meta.url))),
  });
  let phase: 'source' | 'job' = 'source';
  const peak = { source: { node: 0, tree: 0 }, job: { node: 0, tree: 0 } };
  const canSample = process.platform === 'linux';
  const sample = (): void => {
    if (!canSample || child.pid === undefined) return;
    const node = rssBytes(child.pid);
    const tree = processTree(child.pid).reduce((sum, pid) => sum + rssBytes(pid), 0);
    peak[phase].node = Math.max(peak[phase].node, node);
    peak[phase].tree = Math.max(peak[phase].tree, tree);
  };
  const timer = setInterval(sample, 100);
  let result: Record<string, unknown> | null = null;
  let buffered = '';
  child.stdout!.on('data', (b: Buffer) => {
    buffered += b.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line === 'PHASE job') {
        sample();
        phase = 'job';
      } else if (line.startsWith('RESULT ')) result = JSON.parse(line.slice(7)) as Record<string, unknown>;
      else if (line.trim()) console.log(`  child: ${line}`);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearInterval(timer);
  if (PROFILE) printProfiles(profDir);
  tmp.cleanup();
  if (code !== 0 || !result) throw new Error(`fill child exited with ${code} and ${result ? 'a' : 'no'} result`);
  const r = result as {
    frames: number; size: string; codec: string; sourceSeconds: number; jobSeconds: number; maxRssSourceKB: number; maxRssKB: number;
    model: string; timings: { loadSeconds: number; renderSeconds: number; windows: number; meanStepMs: number; tokensPerWindow: number[] };
    stepMsCount: number;
  };
  const maxRss = r.maxRssKB * 1024;
  const verdict = maxRss < RSS_GOAL_BYTES ? 'goal met' : 'GOAL MISSED';
  console.log(`  output: ${r.frames} frames ${r.size} ${r.codec}; model ${r.model}, ${r.timings.windows} windows of ${r.timings.tokensPerWindow.join('/')} tokens, ${r.stepMsCount} steps in all`);
  console.log(`  peak RSS (child's getrusage maxRSS, Node + worker + ORT): ${mib(maxRss)} = ${fmt(maxRss / 1e9, 2)} GB  (goal < 1.5 GB: ${verdict})`);
  console.log(`    of which before the job (writing the source): ${mib(r.maxRssSourceKB * 1024)}`);
  if (canSample) {
    console.log(
      `  sampled every 100 ms during the job: Node ${mib(peak.job.node)}, whole tree (Node + ffmpeg) ${mib(peak.job.tree)}; ` +
        `while writing the source: tree ${mib(peak.source.tree)}`,
    );
  }
  const stepSeconds = (r.stepMsCount * r.timings.meanStepMs) / 1000;
  console.log(
    `  job wall time ${fmt(r.jobSeconds, 2)} s for ${r.frames} frames = ${fmt(r.frames / r.jobSeconds, 2)} frames/s ` +
      `(load ${fmt(r.timings.loadSeconds, 2)} s, render ${fmt(r.timings.renderSeconds, 2)} s, of which denoising steps ` +
      `${fmt(stepSeconds, 2)} s = ${r.stepMsCount} × ${fmt(r.timings.meanStepMs)} ms; the rest is decode, masks, resize, ` +
      `VAE, composite, encode)`,
  );
  console.log(`  (source written first in ${fmt(r.sourceSeconds, 2)} s, not counted)`);
}

/** Self time by function for each thread's .cpuprofile that did real work (idle excluded). */
function printProfiles(dir: string): void {
  interface ProfNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }
  interface Profile { nodes: ProfNode[]; samples: number[]; timeDeltas: number[] }
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  } catch {
    console.log('  (no CPU profiles were written)');
    return;
  }
  for (const file of files.sort()) {
    const p = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Profile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const self = new Map<string, number>();
    let busy = 0;
    p.samples.forEach((id, i) => {
      const n = byId.get(id)!;
      const name = n.callFrame.functionName || '(anonymous)';
      if (name === '(idle)' || name === '(program)') return;
      const where = n.callFrame.url ? ` ${n.callFrame.url.split('/').slice(-2).join('/')}` : '';
      const key = `${name}${where}`;
      const us = p.timeDeltas[i] ?? 0;
      self.set(key, (self.get(key) ?? 0) + us);
      busy += us;
    });
    if (busy < 1e6) continue; // a loader thread: nothing to see
    const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 8);
    const thread = /\.(\d+)\.\d+\.cpuprofile$/.exec(file)?.[1];
    const label = thread === '0' ? 'main thread (whole child, source writing included)' : `worker thread ${thread ?? '?'}`;
    console.log(`  CPU profile, ${label}: ${fmt(busy / 1e6, 2)} s busy (native ORT time shows under backend.js); top self time:`);
    for (const [key, us] of top) console.log(`    ${fmt(us / 1e6, 2).padStart(6)} s  ${key}`);
  }
}

const m = await machine();
console.log('# bench:engine: denoiser step cost and fill memory');
printMachine(m);
console.log(`load average at start: ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
if (!SKIP.has('steps')) await stepBench();
if (!SKIP.has('rss')) await rssBench();
