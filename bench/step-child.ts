/**
 * Child process of the transformer benches (bench/attention.ts, bench/precision.ts): opens one
 * transformer graph on one provider with the engine's session options, runs it `reps` times after
 * one warm-up, and reports its own peak RSS, alone in its process so the peak is this graph's.
 * Not meant to be run by hand, but it works:
 *
 *   node --import tsx bench/step-child.ts '<json StepJob>'
 *
 * Prints one "RESULT {json}" line (StepResult).
 */
import * as ort from 'onnxruntime-node';
import { sessionOptions, type Provider } from '../companion/engine/providers.ts';
import type { TransformerConfig } from '../companion/models/types.ts';
import { transformerFeeds } from '../test/helpers/transformerRun.ts';

export interface StepJob {
  graph: string;
  provider: Provider;
  config: TransformerConfig;
  grid: { frames: number; height: number; width: number };
  batch: number;
  textTokens: number;
  reps: number;
  /** Session options over the engine's (to compare one setting in the same run). */
  sessionOverrides?: Record<string, unknown>;
  /** Write the first run's velocity here (raw float32), for parity against another variant. */
  velocityOut?: string;
}

export interface StepResult {
  /** Resident set after the session is open, before any run (weights and graph). */
  rssOpenMiB: number;
  /** Peak resident set of the whole process (getrusage maxRSS). */
  peakRssMiB: number;
  openMs: number;
  warmupMs: number;
  runMs: number[];
}

const job = JSON.parse(process.argv[2] ?? '') as StepJob;
const feeds = transformerFeeds(job.config, { batch: job.batch, grid: job.grid, textTokens: job.textTokens });
let t = performance.now();
const session = await ort.InferenceSession.create(job.graph, { ...sessionOptions(job.provider), ...job.sessionOverrides } as ort.InferenceSession.SessionOptions);
const openMs = performance.now() - t;
const rssOpenMiB = process.memoryUsage().rss / 2 ** 20;
t = performance.now();
const first = await session.run(feeds.feeds);
const warmupMs = performance.now() - t;
if (job.velocityOut) {
  const { writeFileSync } = await import('node:fs');
  const v = first.velocity!.data as Float32Array;
  writeFileSync(job.velocityOut, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
}
const runMs: number[] = [];
for (let i = 0; i < job.reps; i++) {
  t = performance.now();
  await session.run(feeds.feeds);
  runMs.push(performance.now() - t);
}
await session.release();
const result: StepResult = { rssOpenMiB, peakRssMiB: process.resourceUsage().maxRSS / 1024, openMs, warmupMs, runMs };
console.log(`RESULT ${JSON.stringify(result)}`);
