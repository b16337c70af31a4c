/**
 * The render farm against the local queue, in one run on this machine.
 *
 *   npm run bench:farm
 *
 * A real redis-server of our own (loopback, password, AOF fsync on every write, as the tests run
 * it) and `reshoot worker` processes (builtin:tiny on the CPU). Measured:
 *
 * (1) Throughput: a batch of BENCH_JOBS (8) extends (64x48, 9 new frames, 2 steps) submitted at
 *     once, timed from the first submit to the last `done`: through the local queue (one job at a
 *     time in the companion) and through the farm with 1, 2 and 4 workers. Each worker has
 *     rendered one job first (engine open, model loaded), as the local queue has. Prints jobs/min
 *     and the ratio to the local queue. Workers are processes on the same machine, so they
 *     share its cores: on 2 cores, expect scaling to stop at 2 workers.
 * (2) Added latency per job: BENCH_LATENCY (6) single jobs, one at a time on an idle queue, each
 *     timed from submit to `done` (median), alternating between the local queue and a 1-worker
 *     farm. The difference is what Redis, BullMQ and the extra process add to one job.
 *
 * Environment: BENCH_JOBS (8), BENCH_LATENCY (6), BENCH_WORKERS ("1,2,4"), RESHOOT_MODELS as usual.
 */
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { JobBackend } from '../companion/jobs/backend.ts';
import { loadModel } from '../companion/models/registry.ts';
import { startService, type RunningService } from '../companion/service/service.ts';
import type { FarmQueue } from '../companion/farm/farmQueue.ts';
import { writeSyntheticClip } from '../companion/media/synthetic.ts';
import { parseJobSpec, type JobSpec } from '../protocol/jobspec.ts';
import { parseRational } from '../protocol/rational.ts';
import { TestRedis, startWorker, waitFor, type TestWorker } from '../test/farm/helpers.ts';
import { machine, printMachine, tempDir } from './common.ts';

// Workers and the local queue on the same provider, so the comparison is of the queues alone.
process.env.RESHOOT_PROVIDER ??= 'cpu';
const JOBS = Number(process.env.BENCH_JOBS ?? 8);
const LATENCY = Number(process.env.BENCH_LATENCY ?? 6);
const WORKER_COUNTS = (process.env.BENCH_WORKERS ?? '1,2,4').split(',').map(Number);

function job(source: string, seed: number): JobSpec {
  return parseJobSpec({ kind: 'extend', seed, steps: 2, sequence: { fps: '24000/1001', width: 64, height: 48 }, source: { path: source }, extend: { direction: 'tail', duration: { frames: 9 } }, output: { format: 'ffv1' } });
}

async function runOne(q: JobBackend, spec: JobSpec): Promise<number> {
  const t0 = performance.now();
  const r = await q.submit(spec);
  const done = await q.settled(r.id);
  if (done.state !== 'done') throw new Error(`job ${r.id} ${done.state}: ${done.error?.message}`);
  return performance.now() - t0;
}

async function batch(q: JobBackend, source: string, seedBase: number): Promise<number> {
  const t0 = performance.now();
  const ids = await Promise.all(Array.from({ length: JOBS }, async (_, i) => (await q.submit(job(source, seedBase + i))).id));
  const records = await Promise.all(ids.map((id) => q.settled(id)));
  const bad = records.find((r) => r.state !== 'done');
  if (bad) throw new Error(`job ${bad.id} ${bad.state}: ${bad.error?.message}`);
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  console.log('# bench:farm: a batch of builtin:tiny jobs through the local queue and through a farm of 1, 2, 4 workers');
  printMachine(await machine());
  console.log(`provider: ${process.env.RESHOOT_PROVIDER}`);
  console.log(`load average at start: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const tmp = tempDir('reshoot-bench-farm-');
  const services: RunningService[] = [];
  const workers: TestWorker[] = [];
  let redis: TestRedis | null = null;
  try {
    await loadModel('builtin:tiny');
    const source = path.join(tmp.dir, 'source.mkv');
    await writeSyntheticClip({ path: source, format: 'ffv1', width: 64, height: 48, fps: parseRational('24000/1001'), frames: 12 });

    // Both queues up side by side; the latency rounds alternate between them, so a change in the
    // machine's load (it is shared) falls on both alike.
    const local = await startService({ home: path.join(tmp.dir, 'local'), port: 0 });
    services.push(local);
    const redisDir = path.join(tmp.dir, 'redis');
    mkdirSync(redisDir);
    redis = await TestRedis.start(redisDir);
    const farmService = await startService({ home: path.join(tmp.dir, 'farm'), port: 0, farm: { connection: redis.connection(), results: path.join(tmp.dir, 'results') } });
    services.push(farmService);
    const farm = farmService.queue as FarmQueue;
    workers.push(await startWorker(tmp.dir, redis, { machine: 'bench-1' }));
    await waitFor('the worker in the registry', () => farm.liveWorkers().length === 1);
    await runOne(local.queue, job(source, 1)); // engine open, model loaded
    await runOne(farm, job(source, 1));
    const localLatency: number[] = [];
    const farmLatency: number[] = [];
    for (let i = 0; i < LATENCY; i++) {
      localLatency.push(await runOne(local.queue, job(source, 100 + i)));
      farmLatency.push(await runOne(farm, job(source, 100 + i)));
    }
    const localBatch = await batch(local.queue, source, 1000);
    await local.close();

    const farmBatch = new Map<number, number>();
    let seed = 2000;
    for (const n of WORKER_COUNTS) {
      while (workers.length < n) workers.push(await startWorker(tmp.dir, redis, { machine: `bench-${workers.length + 1}` }));
      await waitFor(`${n} workers in the registry`, () => farm.liveWorkers().length === n);
      // Warm every worker: as many jobs at once as workers (BullMQ gives one to each idle worker).
      await Promise.all(Array.from({ length: n }, () => runOne(farm, job(source, seed++))));
      farmBatch.set(n, await batch(farm, source, (seed += JOBS)));
    }

    const perMin = (ms: number) => (JOBS / ms) * 60_000;
    console.log(`\n## throughput: ${JOBS} jobs submitted at once (64x48, 9 new frames, 2 steps each)`);
    console.log(`  local queue      ${(localBatch / 1000).toFixed(1).padStart(6)} s  ${perMin(localBatch).toFixed(1).padStart(6)} jobs/min  1.00×`);
    for (const [n, ms] of farmBatch) {
      console.log(`  farm, ${n} worker${n > 1 ? 's' : ' '}  ${(ms / 1000).toFixed(1).padStart(6)} s  ${perMin(ms).toFixed(1).padStart(6)} jobs/min  ${(localBatch / ms).toFixed(2)}× local`);
    }
    const one = farmBatch.get(1);
    if (one) for (const [n, ms] of farmBatch) if (n > 1) console.log(`  scaling ${n} workers / 1 worker: ${(one / ms).toFixed(2)}× (ideal ${n}×)`);
    const lm = median(localLatency);
    const fm = median(farmLatency);
    console.log(`\n## latency: one job at a time on an idle queue, submit → done, median of ${LATENCY}`);
    console.log(`  local queue       ${lm.toFixed(0).padStart(6)} ms  (min ${Math.min(...localLatency).toFixed(0)}, max ${Math.max(...localLatency).toFixed(0)})`);
    console.log(`  farm, 1 worker    ${fm.toFixed(0).padStart(6)} ms  (min ${Math.min(...farmLatency).toFixed(0)}, max ${Math.max(...farmLatency).toFixed(0)})`);
    console.log(`  added by the farm ${(fm - lm).toFixed(0).padStart(6)} ms per job (${(fm / lm).toFixed(2)}× local)`);
    console.log(`\nload average at end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    for (const s of services) await s.close().catch(() => undefined);
    await Promise.all(workers.map((w) => w.stop()));
    await redis?.kill();
    tmp.cleanup();
  }
}

await main();
