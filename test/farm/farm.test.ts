/**
 * The render farm end to end: a real redis-server (password, AOF), a serving companion with
 * `--queue`, and `reshoot worker` processes rendering builtin:tiny jobs. What a pipeline TD
 * checks: jobs spread over the workers; the panel's WebSocket sees the same events with
 * contiguous seqs; cancel stops the worker that runs the job; a worker killed with -9 mid-job
 * loses nothing (another takes it, one complete result, no partial files); a Redis crash loses
 * no accepted job; paths are mapped per machine; a job no worker can run fails saying why.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FarmQueue } from '../../companion/farm/farmQueue.ts';
import type { WorkerInfo } from '../../companion/farm/registry.ts';
import { loadModel } from '../../companion/models/registry.ts';
import { probe } from '../../companion/media/probe.ts';
import { startService, type RunningService } from '../../companion/service/service.ts';
import type { JobEvent, JobRecord } from '../../protocol/jobs.ts';
import type { ServerMessage } from '../../protocol/index.ts';
import { encodeFrameMessage } from '../../protocol/index.ts';
import { syntheticFrame } from '../../companion/media/synthetic.ts';
import { FPS, losslessClip, readAll, tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { TestClient } from '../helpers/service.ts';
import { H, SRC_FRAMES, W, assertSeqs, longExtend, quickExtend } from '../queue/helpers.ts';
import { TestRedis, sleep, startWorker, waitFor, type TestWorker } from './helpers.ts';

useTestModelCache();

const tmp = tempDir('reshoot-farm-');
const results = path.join(tmp.dir, 'shared', 'results');
const showOnThisMachine = path.join(tmp.dir, 'mnt', 'show');
let source = '';
let redis: TestRedis;
let service: RunningService;
let farm: FarmQueue;
let client: TestClient;
const workers: TestWorker[] = [];
const events: JobEvent[] = [];

/** Stall recovery in about 2 s instead of 30 (the default), so the kill test stays short. */
const quickStalls = { lockMs: 1500, stalledIntervalMs: 1000, heartbeatMs: 500 };
/** How the Windows editor's share is mounted on these (Linux) workers. */
const pathMap = [{ from: '\\\\nas\\show', to: showOnThisMachine }];

async function addWorker(machine: string): Promise<TestWorker> {
  const w = await startWorker(tmp.dir, redis, { machine, pathMap, ...quickStalls });
  workers.push(w);
  return w;
}

beforeAll(async () => {
  await loadModel('builtin:tiny');
  mkdirSync(showOnThisMachine, { recursive: true });
  source = await losslessClip(tmp.dir, 'source.mkv', W, H, SRC_FRAMES);
  await losslessClip(showOnThisMachine, 'plate.mkv', W, H, SRC_FRAMES);
  redis = await TestRedis.start(tmp.dir);
  await Promise.all([addWorker('gpu-a'), addWorker('gpu-b')]);
  service = await startService({ home: path.join(tmp.dir, 'home'), port: 0, farm: { connection: redis.connection(), results } });
  farm = service.queue as FarmQueue;
  farm.on('event', (e) => events.push(e));
  await waitFor('both workers in the registry', () => farm.liveWorkers().length === 2);
  client = await TestClient.connect(service);
});

afterAll(async () => {
  client?.close();
  await service?.close();
  await Promise.all(workers.map((w) => w.stop()));
  await redis?.kill();
  tmp.cleanup();
});

async function submit(spec: unknown): Promise<JobRecord> {
  const requestId = `r${Math.random()}`;
  client.send({ type: 'submit', requestId, spec });
  const m = (await client.next((x) => 'requestId' in x && x.requestId === requestId)) as ServerMessage & { job?: JobRecord };
  if (m.type !== 'accepted') throw new Error(`not accepted: ${JSON.stringify(m)}`);
  return m.job!;
}

/** The job's final event as the WebSocket client received it. */
async function final(id: string, timeoutMs = 90_000): Promise<JobEvent> {
  const m = await client.next((x) => x.type === 'event' && x.event.jobId === id && ['done', 'failed', 'cancelled'].includes(x.event.event), timeoutMs);
  return (m as Extract<ServerMessage, { type: 'event' }>).event;
}

/** The job's events as the WebSocket client received them, previews left out (they do not advance the seq). */
function wsEvents(id: string): JobEvent[] {
  return client.received
    .filter((m): m is Extract<ServerMessage, { type: 'event' }> => m.type === 'event' && m.event.jobId === id && m.event.event !== 'preview')
    .map((m) => m.event);
}

async function redisHas(jobId: string): Promise<boolean> {
  const r = redis.client();
  try {
    return (await r.keys(`reshoot:*:${jobId}`)).length > 0;
  } finally {
    r.disconnect();
  }
}

/** Everything in the shared results folder except the uploads folder. */
function resultEntries(): string[] {
  return readdirSync(results).filter((n) => n !== 'uploads');
}

describe('a farm of two workers', () => {
  it('spreads a batch over both workers; the WebSocket client sees every event with contiguous seqs', async () => {
    const jobs = await Promise.all([1, 2, 3, 4].map((seed) => submit(quickExtend(source, { seed }))));
    const ends = await Promise.all(jobs.map((j) => final(j.id)));
    expect(ends.map((e) => e.event)).toEqual(['done', 'done', 'done', 'done']);
    expect(new Set(jobs.map((j) => farm.workerOf.get(j.id)?.replace(/-\d+$/, '')))).toEqual(new Set(['gpu-a', 'gpu-b']));
    for (const j of jobs) {
      const seen = wsEvents(j.id);
      assertSeqs(seen);
      expect(seen[0]!.event).toBe('queued');
      expect(seen.map((e) => e.event)).toContain('started');
      expect(seen.some((e) => e.event === 'progress' && e.progress.phase === 'generating')).toBe(true);
      const done = seen.at(-1) as Extract<JobEvent, { event: 'done' }>;
      expect(done.result.path).toBe(path.join(results, j.id, done.result.file));
      expect((await probe(done.result.path)).frameCount).toBe(9) // an extend writes the new frames;
      expect(readdirSync(path.join(results, j.id)).sort()).toEqual([done.result.file, `${done.result.file}.json`].sort());
    }
    // A client that reconnects catches up from the seq it last saw, as with the local queue.
    const j = jobs[0]!;
    const late = await TestClient.connect(service);
    late.send({ type: 'subscribe', requestId: 'c', jobId: j.id, since: 1 });
    const replay = await late.next((m) => m.type === 'event' && m.event.jobId === j.id);
    expect((replay as Extract<ServerMessage, { type: 'event' }>).event.seq).toBe(2);
    late.close();
  });

  it('reshoot workers lists each live worker with its models, provider and job counts', async () => {
    const r = spawnSync(process.execPath, ['bin/reshoot.mjs', 'workers', '--queue', redis.url, '--json'], {
      cwd: path.resolve(import.meta.dirname, '../..'),
      env: { ...process.env, RESHOOT_HOME: tmp.dir, RESHOOT_REDIS_PASSWORD: redis.password! },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const listed = JSON.parse(r.stdout).workers as WorkerInfo[];
    expect(listed.map((w) => w.machine)).toEqual(['gpu-a', 'gpu-b']);
    for (const w of listed) {
      expect(w.models).toContain('builtin:tiny');
      expect(w.providers).toEqual(['cpu']);
      expect(w.job).toBeNull();
      expect(w.pid).toBe(workers.find((x) => x.machine === w.machine)!.proc.pid);
    }
    // Four jobs were done between them in the test before.
    expect(listed.reduce((n, w) => n + w.done, 0)).toBe(4);
    // The table a TD reads: a header, one line per worker.
    const table = spawnSync(process.execPath, ['bin/reshoot.mjs', 'workers', '--queue', redis.url], {
      cwd: path.resolve(import.meta.dirname, '../..'),
      env: { ...process.env, RESHOOT_HOME: tmp.dir, RESHOOT_REDIS_PASSWORD: redis.password! },
      encoding: 'utf8',
      timeout: 60_000,
    });
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^WORKER\s+MODELS\s+PROVIDERS\s+GPU\s+JOB\s+DONE\/FAILED\s+SEEN$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0]!.replace(/-\d+$/, ''))).toEqual(['gpu-a', 'gpu-b']);
    expect(lines[1]).toContain('idle');
  });

  it('maps a Windows share path to this machine\'s mount and renders from it', async () => {
    const job = await submit(quickExtend('\\\\nas\\show\\plate.mkv', { seed: 7 }));
    const end = await final(job.id);
    expect(end.event).toBe('done');
  });

  it('frames uploaded by value go to the shared folder; a worker renders from them, bit-exact outside the mask', async () => {
    const frames = Array.from({ length: 9 }, (_, i) => syntheticFrame(i, W, H, { seed: 5 }));
    client.send({ type: 'upload.begin', requestId: 'u', width: W, height: H, channels: 3, frames: frames.length, fps: '24000/1001' });
    const ready = await client.next((m) => m.type === 'upload.ready');
    if (ready.type !== 'upload.ready') throw new Error('unreachable');
    let acked = 0;
    for (let i = 0; i < frames.length; i++) {
      while (i - acked >= ready.window) {
        const ack = await client.next((m) => m.type === 'upload.ack');
        if (ack.type === 'upload.ack') acked = ack.received;
      }
      client.ws.send(encodeFrameMessage({ handle: ready.handle, frameIndex: i, width: W, height: H, channels: 3 }, frames[i]!.data));
    }
    client.send({ type: 'upload.end', requestId: 'e', uploadId: ready.uploadId });
    await client.next((m) => m.type === 'upload.done');
    expect(readdirSync(path.join(results, 'uploads')).some((n) => n.includes(ready.uploadId))).toBe(true);
    const job = await submit({
      kind: 'fill', seed: 1, steps: 2, sequence: { fps: '24000/1001', width: W, height: H }, source: { upload: ready.uploadId },
      mask: { type: 'shapes', shapes: [{ kind: 'rectangle', keyframes: [{ frame: 0, x: 16, y: 16, width: 24, height: 16 }] }] }, output: { format: 'ffv1' },
    });
    const end = (await final(job.id)) as Extract<JobEvent, { event: 'done' }>;
    expect(end.event).toBe('done');
    const out = await readAll(end.result.path, FPS, 9);
    let checked = 0;
    for (let f = 0; f < 9; f++) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          if (x >= 16 && x < 40 && y >= 16 && y < 32) continue;
          const p = (y * W + x) * 3;
          expect(out[f]!.data.subarray(p, p + 3)).toEqual(frames[f]!.data.subarray(p, p + 3));
          checked++;
        }
      }
    }
    expect(checked).toBe(9 * (W * H - 24 * 16));
  });

  it('fails a job whose media no worker can reach, naming the path and the machine', async () => {
    const job = await submit(quickExtend('\\\\nas\\other\\plate.mkv', { seed: 8 }));
    const end = (await final(job.id)) as Extract<JobEvent, { event: 'failed' }>;
    expect(end.event).toBe('failed');
    expect(end.error.code).toBe('media_unreachable');
    expect(end.error.message).toContain('\\\\nas\\other\\plate.mkv');
    expect(end.error.message).toMatch(/worker gpu-[ab] /);
    expect(resultEntries().filter((n) => n.includes(job.id))).toEqual([]);
  });

  it('fails at once a job for a model no worker offers, saying what the workers offer', async () => {
    const job = await submit(quickExtend(source, { model: 'ltx-video-13b' }));
    const record = await farm.settled(job.id);
    expect(record.state).toBe('failed');
    expect(record.error!.code).toBe('no_worker');
    expect(record.error!.message).toContain('ltx-video-13b');
    expect(record.error!.message).toContain('builtin:tiny');
    expect(await redisHas(job.id)).toBe(false);
  });

  it('cancel reaches the worker running the job: it stops, and no result or partial file is left', async () => {
    const job = await submit(longExtend(source));
    await client.next((m) => m.type === 'event' && m.event.jobId === job.id && m.event.event === 'progress' && m.event.progress.phase === 'generating');
    const runner = farm.workerOf.get(job.id)!;
    client.send({ type: 'cancel', requestId: 'x', jobId: job.id });
    const end = await final(job.id, 30_000);
    expect(end.event).toBe('cancelled');
    expect(workers.find((w) => runner.startsWith(w.machine))!.output()).toContain(`cancelling ${job.id}`);
    expect(resultEntries().filter((n) => n.includes(job.id))).toEqual([]);
  });

  it('a worker killed with -9 mid-job: another takes the job after the stall interval and renders it once', async () => {
    const job = await submit(longExtend(source));
    await client.next((m) => m.type === 'event' && m.event.jobId === job.id && m.event.event === 'progress' && m.event.progress.phase === 'generating');
    const runner = farm.workerOf.get(job.id)!;
    const victim = workers.find((w) => runner.startsWith(w.machine) && w.proc.signalCode === null)!;
    // The partial folder of the running attempt is there, as a crash would leave it.
    expect(resultEntries().some((n) => n.startsWith(`.${job.id}.partial-`))).toBe(true);
    victim.proc.kill('SIGKILL');
    await victim.exited;
    const end = (await final(job.id, 110_000)) as Extract<JobEvent, { event: 'done' }>;
    expect(end.event).toBe('done');
    const seen = wsEvents(job.id);
    assertSeqs(seen);
    expect(seen.filter((e) => e.event === 'resumed')).toHaveLength(1);
    expect(seen.filter((e) => e.event === 'started').map((e) => (e as { attempt: number }).attempt)).toEqual([1, 2]);
    expect(seen.filter((e) => e.event === 'done')).toHaveLength(1);
    expect(farm.workerOf.get(job.id)).not.toBe(runner);
    // One result folder, complete; nothing of the killed attempt.
    expect(resultEntries().filter((n) => n.includes(job.id))).toEqual([job.id]);
    expect(readdirSync(path.join(results, job.id)).sort()).toEqual([end.result.file, `${end.result.file}.json`].sort());
    expect((await probe(end.result.path)).frameCount).toBe(120);
  });

  it('Redis killed and restarted: no accepted job is lost (AOF), each ends done once with one result folder', async () => {
    if (workers.filter((w) => w.proc.exitCode === null && w.proc.signalCode === null).length < 2) await addWorker('gpu-c');
    await waitFor('two live workers in the registry', () => farm.liveWorkers().length === 2);
    const jobs = await Promise.all([11, 12, 13].map((seed) => submit(quickExtend(source, { seed }))));
    // With these tests' 1.5 s locks, a restart on a loaded machine can outlast a lock, and a job
    // then starts on a second worker too: still one `done`, one result folder, no partial left.
    await redis.crashAndRestart();
    const ends = await Promise.all(jobs.map((j) => final(j.id, 110_000)));
    expect(ends.map((e) => e.event)).toEqual(['done', 'done', 'done']);
    for (const j of jobs) {
      expect(wsEvents(j.id).filter((e) => e.event === 'done')).toHaveLength(1);
      // A second copy notices the published result within a second or so and removes itself.
      await expect.poll(() => resultEntries().filter((n) => n.includes(j.id)), { timeout: 30_000 }).toEqual([j.id]);
    }
    // Everything the farm kept is still there after the restart.
    const r = redis.client();
    expect(await r.smembers('reshoot:farm:workers')).not.toHaveLength(0);
    r.disconnect();
    expect(existsSync(path.join(redis.dir, 'appendonlydir'))).toBe(true);
    await sleep(0);
  });

  it('the serving companion restarted mid-job: the job goes on rendering on the farm and its result arrives', async () => {
    const job = await submit(longExtend(source));
    await client.next((m) => m.type === 'event' && m.event.jobId === job.id && m.event.event === 'progress' && m.event.progress.phase === 'generating');
    const seqBefore = farm.get(job.id)!.seq;
    client.close();
    await service.close();
    service = await startService({ home: path.join(tmp.dir, 'home'), port: 0, farm: { connection: redis.connection(), results } });
    farm = service.queue as FarmQueue;
    const after: JobEvent[] = [];
    farm.on('event', (e) => after.push(e));
    client = await TestClient.connect(service);
    const record = await farm.settled(job.id);
    expect(record.state).toBe('done');
    expect(existsSync(record.result!.path)).toBe(true);
    // Whatever arrived after the restart is newer than anything a client saw before it.
    expect(record.seq).toBeGreaterThan(seqBefore);
    expect(resultEntries().filter((n) => n.includes(job.id))).toEqual([job.id]);
  });
});
