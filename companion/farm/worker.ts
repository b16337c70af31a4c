/**
 * `reshoot worker`: one GPU machine of the farm. It listens to the queue of every model it has,
 * renders one job at a time with the same runJob the local queue uses, reports progress through
 * the job (BullMQ relays it to the serving companion), and writes the result once, atomically, into
 * the shared results folder (results.ts).
 *
 * - Paths in the job are as the submitting machine names them; they pass through this machine's
 *   path mapping first. A path that is still not there fails the job, naming the path and this
 *   machine: another worker with the same rules would not do better, so it is not retried.
 * - Cancel: the serving companion publishes the job id; the worker running it stops within one
 *   engine step. A cancel that lands before a worker takes the job is kept in a key it checks.
 * - BullMQ holds a lock on the running job and renews it; if this process dies, the lock runs out
 *   and another worker takes the job (config lockMs / stalledIntervalMs). What this one left in
 *   the results folder is a hidden partial folder, which the serving companion removes when the
 *   job ends. A worker cut off from Redis for longer than lockMs may find its job given to
 *   another meanwhile; both render, the first to finish publishes, the other's copy is dropped.
 */
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { parseJobSpec, type JobSpec } from '../../protocol/jobspec.ts';
import { Engine } from '../engine/engine.ts';
import { providersFor, type Provider } from '../engine/providers.ts';
import { isReshootError, ReshootError } from '../errors.ts';
import { FORMAT_EXTENSION } from '../media/encode.ts';
import { listModels, loadModel } from '../models/registry.ts';
import type { Preview, Progress } from '../jobs/render.ts';
import { cancelledError, guarded } from '../jobs/queue.ts';
import { runJob } from '../jobs/run.ts';
import type { FarmConfig } from './config.ts';
import { FarmError } from './errors.ts';
import { failureMessage, farmJobDataSchema, farmResultSchema, type FarmProgress, type FarmResult } from './messages.ts';
import { CANCEL_CHANNEL, PREFIX, cancelKey, modelQueueName } from './names.ts';
import { mapPath } from './paths.ts';
import { announce, withdraw, type WorkerInfo } from './registry.ts';
import { bullConnection, checkRedis, openRedis, type FarmConnection } from './redis.ts';
import { exists, finalFolder, partialFolder, publish, sizeOf } from './results.ts';

/** Least time between two progress reports sent through Redis (the last of a window always goes). */
const PROGRESS_EVERY_MS = 200;

export interface FarmWorkerOptions {
  connection: FarmConnection;
  config: FarmConfig;
  providers?: Provider[];
  log?: (message: string) => void;
}

interface Running {
  jobId: string;
  cancel: boolean;
  /** Another worker published this job's result meanwhile: stop, and report that result. */
  superseded: boolean;
  engine: Engine | null;
}

/** How often a running job looks whether another worker has published its result. */
const SUPERSEDED_CHECK_MS = 1000;

export class FarmWorker {
  readonly id: string;
  private readonly config: FarmConfig;
  private readonly log: (message: string) => void;
  private readonly providers: Provider[];
  private workers: Worker[] = [];
  private redis: Redis | null = null;
  private subscriber: Redis | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private info: WorkerInfo | null = null;
  private engine: { modelId: string; engine: Engine } | null = null;
  private running: Running | null = null;
  private beating = false;
  /** One job at a time on this machine's device, whichever model queue it came from. */
  private turn: Promise<void> = Promise.resolve();

  constructor(private readonly opts: FarmWorkerOptions) {
    this.config = opts.config;
    this.id = `${opts.config.machine}-${process.pid}`;
    this.log = opts.log ?? ((m) => console.log(m));
    this.providers = opts.providers ?? providersFor();
  }

  /** Checks Redis, announces this worker and starts taking jobs; returns what it offers. */
  async start(): Promise<WorkerInfo> {
    const conn = this.opts.connection;
    await checkRedis(conn);
    const gpuMemoryGB = this.config.gpuMemoryGB ?? (await nvidiaMemoryGB());
    const models = await this.offeredModels(gpuMemoryGB);
    this.redis = openRedis(conn);
    const now = new Date().toISOString();
    this.info = {
      id: this.id,
      machine: this.config.machine,
      pid: process.pid,
      models,
      providers: this.providers,
      gpuMemoryGB,
      startedAt: now,
      seenAt: now,
      job: null,
      done: 0,
      failed: 0,
    };
    await this.beat();
    this.heartbeat = setInterval(() => void this.beat(), this.config.heartbeatMs);

    this.subscriber = openRedis(conn);
    this.subscriber.on('message', (_channel: string, jobId: string) => this.onCancel(jobId));
    await this.subscriber.subscribe(CANCEL_CHANNEL);

    for (const model of models) {
      const worker = new Worker(modelQueueName(model), (job, token, signal) => this.take(job, signal), {
        connection: bullConnection(conn),
        prefix: PREFIX,
        name: this.id,
        concurrency: 1,
        lockDuration: this.config.lockMs,
        stalledInterval: this.config.stalledIntervalMs,
        // A job whose worker died is given to another one; twice more at most (3 starts in all,
        // as the local queue allows after crashes), then it fails rather than kill every worker.
        maxStalledCount: 2,
      });
      worker.on('error', (e) => this.log(`reshoot worker: queue ${model}: ${e.message}`));
      this.workers.push(worker);
    }
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
    return this.info;
  }

  /** Stops taking jobs, lets the running one finish, withdraws from the registry. */
  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    await Promise.all(this.workers.map((w) => w.close()));
    this.workers = [];
    if (this.redis) await withdraw(this.redis, this.id).catch(() => undefined);
    await this.engine?.engine.close().catch(() => undefined);
    this.engine = null;
    this.subscriber?.disconnect();
    this.redis?.disconnect();
  }

  /**
   * The models this worker takes jobs for: present (or built in), allowed by the config, and
   * fitting its GPU: the engine loads a model part by part, so the largest part must fit.
   */
  private async offeredModels(gpuMemoryGB: number | null): Promise<string[]> {
    const present = (await listModels()).filter((m) => m.status !== 'damaged').map((m) => m.id);
    const wanted = this.config.models ? this.config.models.filter((m) => present.includes(m)) : present;
    const offered: string[] = [];
    const refused: string[] = [];
    for (const id of wanted) {
      if (gpuMemoryGB !== null) {
        const largest = Math.max(0, ...(await loadModel(id)).manifest.files.map((f) => f.bytes));
        if (largest > gpuMemoryGB * 2 ** 30) {
          refused.push(`${id} (largest part ${(largest / 2 ** 30).toFixed(2)} GB)`);
          continue;
        }
      }
      offered.push(id);
    }
    for (const r of refused) this.log(`reshoot worker: not offering ${r}: more than this GPU's ${gpuMemoryGB} GB`);
    if (offered.length === 0) {
      const why = refused.length > 0 ? `none fits its ${gpuMemoryGB} GB of GPU memory: ${refused.join(', ')}` : `it has none of the models its farm config offers (${this.config.models?.join(', ')}); see reshoot models list`;
      throw new FarmError('no_worker', `this machine cannot take any job: ${why}`);
    }
    return offered;
  }

  private async beat(): Promise<void> {
    // While Redis is away a write waits for it: do not pile up one per beat.
    if (!this.redis || !this.info || this.beating) return;
    this.beating = true;
    this.info.seenAt = new Date().toISOString();
    this.info.job = this.running?.jobId ?? null;
    await announce(this.redis, this.info, this.config.heartbeatMs).catch(() => undefined);
    this.beating = false;
  }

  private onCancel(jobId: string): void {
    const r = this.running;
    if (r?.jobId !== jobId) return;
    r.cancel = true;
    r.engine?.cancel();
    this.log(`reshoot worker: cancelling ${jobId}`);
  }

  /** Waits for this machine's device, then renders; other model queues pause meanwhile. */
  private async take(job: Job, signal?: AbortSignal): Promise<FarmResult> {
    const previous = this.turn;
    let release!: () => void;
    this.turn = new Promise((resolve) => (release = resolve));
    await previous;
    try {
      return await this.render(job, signal);
    } finally {
      release();
    }
  }

  private async render(job: Job, signal?: AbortSignal): Promise<FarmResult> {
    const jobId = job.id!;
    const run: Running = { jobId, cancel: false, superseded: false, engine: null };
    this.running = run;
    signal?.addEventListener('abort', () => this.onCancel(jobId));
    void this.beat();
    const report = (p: FarmProgress) => job.updateProgress(p).catch(() => undefined);
    try {
      if (await this.redis!.exists(cancelKey(jobId))) throw cancelledError();
      const data = farmJobDataSchema.safeParse(job.data);
      if (!data.success) throw new ReshootError('bad_spec', `the job in the farm queue is not one this worker reads: ${data.error.message}`);
      await report({ type: 'started', worker: this.id, machine: this.config.machine });
      const asSubmitted = parseJobSpec(data.data.spec);
      const spec = this.mapSpec(asSubmitted);
      const results = mapPath(data.data.results, this.config.pathMap);
      await this.mustReach(results, data.data.results, 'the shared results folder');
      for (const original of mediaPaths(asSubmitted)) await this.mustReach(mapPath(original, this.config.pathMap), original, 'media');

      const file = `reshoot-${spec.kind}-${jobId}${FORMAT_EXTENSION[spec.output.format]}`;
      const final = finalFolder(results, jobId);
      // Idempotent by job id: a job taken again after its first worker finished (and Redis did
      // not hear of it) gets the result that is there, not a second render.
      if (await exists(path.join(final, file))) return await this.existing(final, file, true);

      const partial = partialFolder(results, jobId, this.id);
      await mkdir(partial, { recursive: true });
      const engine = await this.engineFor(spec.model);
      run.engine = engine;
      if (run.cancel) throw cancelledError();
      let lastSent = 0;
      let lastLook = Date.now();
      const lookForOtherCopy = () => {
        // A second copy runs only when the job was given to another worker while this one could
        // not reach Redis (lock ran out); whichever publishes first wins, the other stops.
        void exists(path.join(final, file)).then((published) => {
          if (!published || run.cancel) return;
          run.superseded = true;
          run.cancel = true;
          run.engine?.cancel();
        });
      };
      const result = await runJob(spec, {
        engine: guarded(engine, () => run.cancel),
        out: path.join(partial, file),
        force: true,
        onProgress: (p: Progress) => {
          const t = Date.now();
          if (t - lastLook >= SUPERSEDED_CHECK_MS) {
            lastLook = t;
            lookForOtherCopy();
          }
          if (run.cancel || (t - lastSent < PROGRESS_EVERY_MS && p.step !== p.steps && p.phase === 'generating')) return;
          lastSent = t;
          void report({ type: 'progress', progress: { ...p } });
        },
        onPreview: (p: Preview) => {
          if (run.cancel) return;
          void report({ type: 'preview', width: p.width, height: p.height, png: Buffer.from(p.png.buffer, p.png.byteOffset, p.png.byteLength).toString('base64') });
        },
      }).catch(async (e: unknown) => {
        // Stopped because another copy won, or broken by the companion clearing this copy away
        // once that copy was announced: either way the job has its result.
        if (run.superseded || (await exists(path.join(final, file)))) return null;
        throw e;
      });
      if (run.superseded || !result) {
        await rm(partial, { recursive: true, force: true });
        this.log(`reshoot worker: ${jobId} was finished by another worker meanwhile; dropped this copy`);
        return await this.existing(final, file, true);
      }
      if (run.cancel) throw cancelledError();
      const published = await publish(partial, final);
      this.info!.done++;
      if (!published) return await this.existing(final, file, true);
      return farmResultSchema.parse({
        file,
        frames: result.provenance.frames,
        bytes: await sizeOf(path.join(final, file)),
        seed: result.provenance.seed,
        provider: result.provenance.provider,
        worker: this.id,
        machine: this.config.machine,
        reused: false,
      });
    } catch (e) {
      this.info!.failed++;
      // Only our own copy: another worker may be rendering this job too (it was given to it
      // while we could not reach Redis). The serving companion removes what dead workers left.
      const data = farmJobDataSchema.safeParse(job.data);
      if (data.success) await rm(partialFolder(mapPath(data.data.results, this.config.pathMap), jobId, this.id), { recursive: true, force: true }).catch(() => undefined);
      throw this.asFailure(e, run);
    } finally {
      this.running = null;
      void this.beat();
    }
  }

  /** The result already in place (rendered by an earlier attempt or another worker). */
  private async existing(final: string, file: string, reused: boolean): Promise<FarmResult> {
    const provenance = JSON.parse(await readFile(path.join(final, `${file}.json`), 'utf8')) as { frames: number; seed: number; provider: string };
    return { file, frames: provenance.frames, bytes: await sizeOf(path.join(final, file)), seed: provenance.seed, provider: provenance.provider, worker: this.id, machine: this.config.machine, reused };
  }

  private mapSpec(spec: JobSpec): JobSpec {
    const rules = this.config.pathMap;
    const mapSource = <S extends { path?: string }>(s: S): S => (s.path ? { ...s, path: mapPath(s.path, rules) } : s);
    const out = { ...spec } as JobSpec & { source?: { path?: string }; sources?: { a: { path?: string }; b: { path?: string } }; mask?: { type: string; path?: string } };
    if (out.source) out.source = mapSource(out.source);
    if (out.sources) out.sources = { a: mapSource(out.sources.a), b: mapSource(out.sources.b) };
    if (out.mask && out.mask.path) out.mask = { ...out.mask, path: mapPath(out.mask.path, rules) };
    // The worker writes only into the shared results folder; the format is kept.
    return { ...out, output: { format: spec.output.format } } as JobSpec;
  }

  private async mustReach(p: string, original: string, what: string): Promise<void> {
    const ok = await stat(p).then(
      () => true,
      () => false,
    );
    if (ok) return;
    const mapped = p === original ? `${p} (no path mapping rule matched it)` : `${p} (mapped from ${original})`;
    const where = this.config.file ? ` in ${this.config.file}` : ` in a farm config (${path.join('<RESHOOT_HOME>', 'farm.json')})`;
    throw new FarmError('media_unreachable', `worker ${this.config.machine} cannot reach the ${what} ${mapped}; mount the share there or add a pathMap rule${where}`);
  }

  private async engineFor(modelId: string): Promise<Engine> {
    if (this.engine?.modelId === modelId) return this.engine.engine;
    await this.engine?.engine.close().catch(() => undefined);
    this.engine = null;
    const engine = await Engine.open(modelId, this.providers);
    this.engine = { modelId, engine };
    return engine;
  }

  /** The error BullMQ records: `[code] message`; only internal errors may be retried. */
  private asFailure(e: unknown, run: Running): Error {
    if (run.cancel || (isReshootError(e) && e.code === 'cancelled')) return new UnrecoverableError(failureMessage('cancelled', 'the job was cancelled'));
    if (e instanceof FarmError || isReshootError(e)) return new UnrecoverableError(failureMessage(e.code, e.message));
    this.log(`reshoot worker: job ${run.jobId} failed: ${(e as Error)?.stack ?? e}`);
    // The engine may be what broke: start afresh on the next job.
    const engine = this.engine;
    this.engine = null;
    void engine?.engine.close().catch(() => undefined);
    return new UnrecoverableError(failureMessage('internal', `worker ${this.config.machine}: ${(e as Error)?.message ?? String(e)}`));
  }
}

/** Every media path a spec names. */
function mediaPaths(spec: JobSpec): string[] {
  const s = spec as { source?: { path?: string }; sources?: { a: { path?: string }; b: { path?: string } }; mask?: { path?: string } };
  return [s.source?.path, s.sources?.a.path, s.sources?.b.path, s.mask?.path].filter((p): p is string => typeof p === 'string');
}

/** Total memory of the first NVIDIA GPU in GB, or null where nvidia-smi is absent. */
function nvidiaMemoryGB(): Promise<number | null> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', ['--query-gpu=memory.total', '--format=csv,noheader,nounits'], { timeout: 5000 }, (err, stdout) => {
      const mb = err ? NaN : Number(stdout.split('\n')[0]);
      resolve(Number.isFinite(mb) ? Math.round((mb / 1024) * 10) / 10 : null);
    });
  });
}
