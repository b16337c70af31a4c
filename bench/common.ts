/**
 * Shared helpers for the benchmarks: the machine description every result is recorded with,
 * medians, temp folders and number formatting. Benchmarks print figures; they never assert.
 */
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { ffmpegInfo } from '../companion/media/ffmpeg.ts';
import type { TransformerConfig } from '../companion/models/types.ts';

export interface Machine {
  date: string;
  nproc: number;
  cpu: string;
  ramGiB: number;
  node: string;
  ort: string;
  ffmpeg: string;
}

/** nproc, CPU model (/proc/cpuinfo), RAM, Node / onnxruntime-node / ffmpeg versions, date. */
export async function machine(): Promise<Machine> {
  let cpu = os.cpus()[0]?.model ?? 'unknown';
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) cpu = line.split(':').slice(1).join(':').trim();
  } catch {
    // not Linux: os.cpus() is the best we have
  }
  let ort = 'unknown';
  try {
    const require = createRequire(import.meta.url);
    ort = (require('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    // leave unknown
  }
  let ffmpeg = 'unknown';
  try {
    ffmpeg = (await ffmpegInfo()).ffmpeg.version;
  } catch (e) {
    ffmpeg = `not found (${(e as Error).message})`;
  }
  return {
    date: new Date().toISOString().slice(0, 10),
    nproc: os.availableParallelism(),
    cpu,
    ramGiB: os.totalmem() / 2 ** 30,
    node: process.version,
    ort,
    ffmpeg,
  };
}

export function printMachine(m: Machine): void {
  console.log(`date: ${m.date}`);
  console.log(`machine: nproc=${m.nproc}, cpu="${m.cpu}", RAM=${m.ramGiB.toFixed(1)} GiB`);
  console.log(`node ${m.node}, onnxruntime-node ${m.ort}`);
  console.log(`ffmpeg: ${m.ffmpeg}`);
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Reads a positive integer from the environment, or the default. */
export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a whole number ≥ 1, got "${raw}"`);
  return v;
}

/**
 * BENCH_SKIP: a comma list of the parts of a benchmark to leave out, each one of `parts`
 * (e.g. `BENCH_SKIP=steps,long`). A name that is not a part is an error rather than a silent no-op.
 */
export function envSkip(parts: readonly string[]): ReadonlySet<string> {
  const raw = process.env.BENCH_SKIP ?? '';
  const names = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const unknown = names.filter((n) => !parts.includes(n));
  if (unknown.length > 0) throw new Error(`BENCH_SKIP: unknown part "${unknown.join('", "')}" (this benchmark's parts: ${parts.join(', ')})`);
  return new Set(names);
}

export interface TempDir {
  dir: string;
  cleanup(): void;
}

/** A temp folder removed on cleanup() and, as a fallback, when the process exits. */
export function tempDir(prefix: string): TempDir {
  const dir = mkdtempSync(path.join(os.tmpdir(), `reshoot-bench-${prefix}-`));
  const cleanup = (): void => rmSync(dir, { recursive: true, force: true });
  process.once('exit', cleanup);
  return { dir, cleanup };
}

export const fmt = (v: number, digits = 1): string => v.toFixed(digits);
export const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/**
 * Multiply-adds of one LTX transformer run for one batch row: S video tokens, L text tokens.
 * Counts the matmuls and attention products (norms, RoPE and softmax are small beside them).
 */
export function transformerMacs(c: TransformerConfig, S: number, L: number): number {
  const D = c.numAttentionHeads * c.attentionHeadDim;
  const once = S * (c.inChannels * D + D * c.outChannels + 256 * D + D * D + 6 * D * D) + L * (c.captionChannels * D + D * D);
  const perLayer =
    S * 4 * D * D + // self-attention q, k, v, out
    2 * S * S * D + // scores and weighted sum
    S * 2 * D * D + L * 2 * D * D + // cross-attention q, out on video; k, v on text
    2 * S * L * D + // cross-attention scores and sum
    S * 8 * D * D; // feed-forward D → 4D → D
  return once + c.numLayers * perLayer;
}

/** Runs bench/step-child.ts for one graph in a fresh process and returns what it measured. */
export async function runStepChild(job: import('./step-child.ts').StepJob): Promise<import('./step-child.ts').StepResult> {
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./step-child.ts', import.meta.url)), JSON.stringify(job)], {
    cwd: path.dirname(path.dirname(fileURLToPath(import.meta.url))),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code: number = await new Promise((resolve) => child.on('exit', (c, sig) => resolve(c ?? (sig ? 128 : 1))));
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (code !== 0 || !line) throw new Error(`step child failed (exit ${code}): ${(err || out).trim().split('\n').slice(-3).join(' | ')}`);
  return JSON.parse(line.slice('RESULT '.length));
}

/** The LTX-Video 2B transformer (transformer/config.json of Lightricks/LTX-Video 0.9.x), `layers` deep. */
export function ltx2bConfig(layers: number): TransformerConfig {
  return {
    inChannels: 128,
    outChannels: 128,
    numAttentionHeads: 32,
    attentionHeadDim: 64,
    numLayers: layers,
    crossAttentionDim: 2048,
    captionChannels: 4096,
    normEps: 1e-6,
    rope: { baseNumFrames: 20, baseHeight: 2048, baseWidth: 2048, theta: 10000 },
  };
}
