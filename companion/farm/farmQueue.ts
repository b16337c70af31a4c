/**
 * The serving companion's side of the farm (`reshoot serve --queue redis://…`): in place of the
 * local JobQueue, jobs go into BullMQ queues on Redis (one per model, names.ts) and `reshoot
 * worker`s render them. To the panel nothing changes: the same records, the same JobEvents with
 * the same per-job seq, the same catch-up (JobBackend).
 *
 * - Records live on this machine, in the same JobStore as the local queue's: a job is accepted
 *   once its record is on disk (`saved`), whether or not Redis is up at that moment. The add to
 *   Redis is idempotent by job id and is made again whenever Redis comes back (reconcile), so a
 *   Redis restart loses no accepted job even without AOF (with AOF, nothing runs twice).
 * - Events: BullMQ's queue events (a Redis stream, read from where this companion started) carry
 *   the worker's `started` / `progress` / `preview` reports, `stalled` (the worker died: the job
 *   goes back to the queue, reported as `resumed`), `completed` and `failed`. Each becomes one
 *   JobEvent with the next seq; state changes are on disk before their event goes out.
 * - Results are in the shared results folder the companion names (`--results`, default
 *   `<home>/results`), `<results>/<jobId>/`, announced only once this machine can see the file.
 * - A job for a model no live worker offers fails at once with `no_worker`, naming the model and
 *   what the workers offer.
 * - On start, unfinished records are matched with what Redis knows: finished there → finished
 *   here; still queued or running → reported as resumed; unknown to Redis → added again.
 */
import { EventEmitter } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { FINAL_STATES, type JobEvent, type JobRecord } from '../../protocol/jobs.ts';
import type { JobSpec } from '../../protocol/jobspec.ts';
import type { JobBackend } from '../jobs/backend.ts';
import { JobLedger } from '../jobs/ledger.ts';
import { SEQ_JUMP_AFTER_RESTART, SubmitRefused, type CatchUp, type JobQueueEvents, type PreviewEvent } from '../jobs/queue.ts';
import { JobStore, type JobPatch } from '../jobs/store.ts';
import { farmJobDataSchema, farmProgressSchema, farmResultSchema, parseFailure, type FarmJobData } from './messages.ts';
import { CANCEL_CHANNEL, PREFIX, cancelKey, modelQueueName } from './names.ts';
import { listWorkers, type WorkerInfo } from './registry.ts';
import { bullConnection, checkRedis, openRedis, type FarmConnection } from './redis.ts';
import { exists, finalFolder, removePartials } from './results.ts';

export interface FarmQueueOptions {
  /** The companion's data folder: job records in `<dataDir>/jobs`. */
  dataDir: string;
  /** The shared results folder, as this machine names it (workers map it). */
  results: string;
  connection: FarmConnection;
  log?: (message: string) => void;
  /** Events kept per job for catch-up (default 200). */
  history?: number;
  /** Least time between progress writes of one job, in ms (default 500). */
  progressWriteMs?: number;
  /** How often the worker list is read (default 1000 ms). */
  registryMs?: number;
}

interface ModelQueue {
  queue: Queue;
  events: QueueEvents;
}

const CANCEL_KEY_TTL_S = 7 * 24 * 3600;
const KEEP_FINISHED = { age: 7 * 24 * 3600, count: 10_000 };

export class FarmQueue extends EventEmitter<JobQueueEvents> implements JobBackend {
  private readonly opts: FarmQueueOptions;
  private readonly log: (message: string) => void;
  private readonly progressWriteMs: number;
  private store: JobStore | null = null;
  private redis: Redis | null = null;
  private phase: 'new' | 'starting' | 'running' | 'closed' = 'new';
  private readonly models = new Map<string, Promise<ModelQueue>>();
  private readonly lastProgressWrite = new Map<string, number>();
  private readonly ledger: JobLedger;
  /** Per job, the handling of its events in arrival order (see `serial`). */
  private readonly chains = new Map<string, Promise<void>>();
  /** Which worker runs (or last ran) each job: for logs, `reshoot workers` and tests. */
  readonly workerOf = new Map<string, string>();
  private workers: WorkerInfo[] = [];
  private registryTimer: NodeJS.Timeout | null = null;
  private redisWasDown = false;
  private refreshing = false;

  constructor(opts: FarmQueueOptions) {
    super();
    this.opts = opts;
    this.log = opts.log ?? ((m) => console.warn(m));
    this.ledger = new JobLedger({ store: () => this.store, historySize: opts.history ?? 200, emit: (e) => this.emit('event', e), log: this.log });
    this.progressWriteMs = opts.progressWriteMs ?? 500;
  }

  async start(): Promise<void> {
    if (this.phase !== 'new') throw new Error(`the farm queue cannot start: it is ${this.phase}`);
    this.phase = 'starting';
    await checkRedis(this.opts.connection);
    await mkdir(this.opts.results, { recursive: true });
    this.store = await JobStore.open(this.opts.dataDir, { log: this.log });
    this.redis = openRedis(this.opts.connection);
    // After Redis comes back (a restart, a network cut), anything it lost is added again.
    this.redis.on('close', () => (this.redisWasDown = true));
    this.redis.on('ready', () => {
      if (!this.redisWasDown || this.phase !== 'running') return;
      this.redisWasDown = false;
      void this.reconcile(false).catch((e: Error) => this.log(`reshoot farm: reconciling after Redis came back failed: ${e.message}`));
    });
    await this.refreshWorkers();
    this.registryTimer = setInterval(() => void this.refreshWorkers(), this.opts.registryMs ?? 1000);
    await this.reconcile(true);
    this.phase = 'running';
  }

  /** The live workers as last read (every registryMs). */
  liveWorkers(): WorkerInfo[] {
    return this.workers.map((w) => ({ ...w }));
  }

  /**
   * As JobQueue.submit: resolves once the record is on disk (the serving machine's), whether or not
   * Redis is up at that moment; a record that cannot be saved is dropped and the submit rejects
   * with SubmitRefused, so the job never reaches the farm.
   */
  async submit(spec: JobSpec): Promise<JobRecord> {
    const store = this.store;
    if (this.phase !== 'running' || !store) throw new Error(`the farm queue is not taking jobs: it is ${this.phase}`);
    const created = store.create(spec);
    const id = created.id;
    try {
      await store.flush(id);
    } catch (e) {
      await store.forget(id);
      throw SubmitRefused.from(e, this.opts.dataDir);
    }
    const position = this.list().filter((r) => r.state === 'queued' && r.id !== id).length;
    this.serial(id, () => this.transition(id, {}, (seq) => ({ event: 'queued', jobId: id, seq, position })));
    const able = this.workers.filter((w) => w.models.includes(spec.model));
    if (able.length === 0) {
      const offered = this.workers.length === 0 ? 'no worker is online' : `workers online offer ${[...new Set(this.workers.flatMap((w) => w.models))].join(', ')}`;
      const error = { message: `no worker on the farm can run model ${spec.model}: ${offered} (reshoot workers lists them)` };
      this.serial(id, () => this.fail(id, 'no_worker', error.message));
    } else {
      void this.enqueue(id);
    }
    return store.get(id)!;
  }

  /**
   * Queued: taken out of the farm queue, cancelled. Running: the worker that runs it is told and
   * stops within one step; the `cancelled` event follows. Finished: nothing changes.
   */
  cancel(id: string): JobRecord {
    const record = this.store?.get(id);
    if (!record) throw new Error(`no job ${id}`);
    if (FINAL_STATES.includes(record.state)) return record;
    this.serial(id, () => this.requestCancel(record).catch((e: Error) => this.log(`reshoot farm: cancelling ${id} failed: ${e.message}`)));
    return record;
  }

  settled(id: string): Promise<JobRecord> {
    return this.ledger.settled(id, this.phase === 'closed');
  }

  get(id: string): JobRecord | undefined {
    return this.ledger.get(id);
  }

  list(): JobRecord[] {
    return this.ledger.list();
  }

  events(id: string, since: number): JobEvent[] {
    return this.ledger.events(id, since);
  }

  catchUp(id: string, since: number): CatchUp | undefined {
    return this.ledger.catchUp(id, since);
  }

  /** Stops listening; jobs on the farm go on, and the next start picks up their outcome. */
  async close(): Promise<void> {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    if (this.registryTimer) clearInterval(this.registryTimer);
    const models = await Promise.all([...this.models.values()].map((m) => m.catch(() => null)));
    await Promise.all(models.map(async (m) => m && (await Promise.all([m.events.close(), m.queue.close()]))));
    this.models.clear();
    this.redis?.disconnect();
    await this.store?.flushAll();
    this.ledger.releaseWaiters();
  }

  // --- Redis -----------------------------------------------------------------------------

  private async refreshWorkers(): Promise<void> {
    // While Redis is away a read waits for it: do not pile up one per tick.
    if (!this.redis || this.refreshing) return;
    this.refreshing = true;
    try {
      this.workers = await listWorkers(this.redis);
    } catch {
      /* keep the last list */
    } finally {
      this.refreshing = false;
    }
  }

  /** The queue and event reader of one model, opened once. */
  private modelQueue(modelId: string): Promise<ModelQueue> {
    let m = this.models.get(modelId);
    if (!m) {
      m = this.openModelQueue(modelId);
      this.models.set(modelId, m);
      m.catch(() => this.models.delete(modelId));
    }
    return m;
  }

  private async openModelQueue(modelId: string): Promise<ModelQueue> {
    const name = modelQueueName(modelId);
    const connection = bullConnection(this.opts.connection);
    const queue = new Queue(name, { connection, prefix: PREFIX });
    queue.on('error', () => {}); // Redis restarts are expected; commands wait for it
    // Read events from the stream's current end, so none between now and the first read is lost.
    const last = (await this.redis!.xrevrange(queue.keys.events!, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
    const events = new QueueEvents(name, { connection, prefix: PREFIX, lastEventId: last });
    events.on('error', () => {});
    events.on('progress', ({ jobId, data }) => this.serial(jobId, () => this.onProgress(jobId, data)));
    events.on('completed', ({ jobId, returnvalue }) => this.serial(jobId, () => this.onCompleted(jobId, returnvalue)));
    events.on('failed', ({ jobId, failedReason }) => this.serial(jobId, () => this.onFailed(jobId, failedReason)));
    events.on('stalled', ({ jobId }) => this.serial(jobId, () => this.onStalled(jobId)));
    await events.waitUntilReady();
    return { queue, events };
  }

  private async enqueue(id: string): Promise<void> {
    const record = this.store!.get(id)!;
    const spec = record.spec as { model: string };
    const data: FarmJobData = farmJobDataSchema.parse({ spec: record.spec, results: this.opts.results, from: hostname() });
    try {
      const { queue } = await this.modelQueue(spec.model);
      // jobId makes this idempotent: adding a job Redis already has changes nothing.
      await queue.add('render', data, { jobId: id, attempts: 1, removeOnComplete: KEEP_FINISHED, removeOnFail: KEEP_FINISHED });
    } catch (e) {
      // Redis is away: the record is on disk and reconcile adds it when Redis is back.
      this.log(`reshoot farm: could not queue ${id} yet (${(e as Error).message}); it is queued when Redis answers`);
    }
  }

  private async requestCancel(record: JobRecord): Promise<void> {
    const id = record.id;
    const redis = this.redis!;
    // Kept for a worker that takes the job from now on; published for the one running it.
    await redis.set(cancelKey(id), '1', 'EX', CANCEL_KEY_TTL_S);
    await redis.publish(CANCEL_CHANNEL, id);
    const { queue } = await this.modelQueue((record.spec as { model: string }).model);
    const job = await queue.getJob(id);
    const state = job ? await job.getState() : 'unknown';
    if (job && (state === 'waiting' || state === 'delayed' || state === 'prioritized' || state === 'unknown')) {
      // A job no worker holds yet is removed; one a worker holds answers through its failure.
      const removed = await job.remove().then(
        () => true,
        () => false,
      );
      if (!removed) return;
    } else if (job) return;
    if (FINAL_STATES.includes(this.store!.get(id)!.state)) return;
    await removePartials(this.opts.results, id);
    await this.transition(id, { state: 'cancelled', finishedAt: now() }, (seq) => ({ event: 'cancelled', jobId: id, seq }));
  }

  // --- events from the farm ----------------------------------------------------------------

  private mine(jobId: string): JobRecord | null {
    const r = this.store?.get(jobId);
    // Other companions may share this Redis; and a finished job stays finished.
    return r && !FINAL_STATES.includes(r.state) ? r : null;
  }

  /**
   * Runs `f` after everything queued before it for the same job: a state change waits for its
   * record to be on disk before its event goes out, and what arrives meanwhile (progress right
   * after `started`) must not overtake it, or seqs would reach clients out of order.
   */
  private serial(jobId: string, f: () => unknown): void {
    const next = (this.chains.get(jobId) ?? Promise.resolve())
      .then(f)
      .then(
        () => undefined,
        (e: Error) => this.log(`reshoot farm: handling an event of ${jobId} failed: ${e?.stack ?? e}`),
      );
    this.chains.set(jobId, next);
    void next.then(() => {
      if (this.chains.get(jobId) === next) this.chains.delete(jobId);
    });
  }

  /** `serial`, awaited. */
  private inOrder(jobId: string, f: () => unknown): Promise<void> {
    this.serial(jobId, f);
    return this.chains.get(jobId) ?? Promise.resolve();
  }

  private async onProgress(jobId: string, raw: unknown): Promise<void> {
    const record = this.mine(jobId);
    if (!record) return;
    const parsed = farmProgressSchema.safeParse(raw);
    if (!parsed.success) return this.log(`reshoot farm: ignored a progress report of ${jobId} this companion does not read`);
    const p = parsed.data;
    if (p.type === 'started') {
      this.workerOf.set(jobId, p.worker);
      const attempt = record.attempts + 1;
      await this.transition(
        jobId,
        { state: 'running', attempts: attempt, startedAt: now(), finishedAt: undefined, progress: undefined, result: undefined, error: undefined },
        (seq) => ({ event: 'started', jobId, seq, attempt }),
      );
    } else if (p.type === 'progress') {
      if (record.state !== 'running') return;
      const seq = record.seq + 1;
      const t = Date.now();
      const write = t - (this.lastProgressWrite.get(jobId) ?? 0) >= this.progressWriteMs;
      if (write) this.lastProgressWrite.set(jobId, t);
      this.store!.update(jobId, { seq, progress: p.progress }, { persist: write });
      this.emitEvent({ event: 'progress', jobId, seq, progress: p.progress });
    } else {
      if (this.listenerCount('preview') === 0) return;
      const seq = this.ledger.lastSeq(jobId) ?? record.seq;
      const e: PreviewEvent = { event: 'preview', jobId, seq, width: p.width, height: p.height, png: p.png };
      try {
        this.emit('preview', e);
      } catch (err) {
        this.log(`reshoot farm: a preview listener threw: ${(err as Error)?.stack ?? err}`);
      }
    }
  }

  private async onCompleted(jobId: string, raw: unknown): Promise<void> {
    if (!this.mine(jobId)) return;
    const value = typeof raw === 'string' ? safeJson(raw) : raw;
    const parsed = farmResultSchema.safeParse(value);
    if (!parsed.success) return this.fail(jobId, 'internal', `the worker reported a result this companion does not read: ${parsed.error.message}`);
    const r = parsed.data;
    this.workerOf.set(jobId, r.worker);
    const file = path.join(finalFolder(this.opts.results, jobId), r.file);
    // Announce only what this machine can open: the panel imports this path.
    if (!(await exists(file))) {
      return this.fail(jobId, 'result_missing', `worker ${r.machine} wrote ${r.file}, but this machine cannot see it at ${file}; check that the results folder is the same share on every machine`);
    }
    if (!this.mine(jobId)) return;
    // What killed workers left; and a second copy still rendering (its worker lost Redis for a
    // while) is stopped short: the job has its one result.
    await removePartials(this.opts.results, jobId);
    const result = { file: r.file, path: file, frames: r.frames, bytes: r.bytes, seed: r.seed, provider: r.provider };
    await this.transition(jobId, { state: 'done', finishedAt: now(), result }, (seq) => ({ event: 'done', jobId, seq, result }));
  }

  private async onFailed(jobId: string, reason: string): Promise<void> {
    if (!this.mine(jobId)) return;
    const { code, message } = parseFailure(reason ?? '');
    await removePartials(this.opts.results, jobId);
    if (code === 'cancelled') {
      await this.transition(jobId, { state: 'cancelled', finishedAt: now() }, (seq) => ({ event: 'cancelled', jobId, seq }));
      return;
    }
    // BullMQ's own reasons (e.g. "job stalled more than allowable limit") arrive without a code.
    await this.fail(jobId, code === 'internal' && !reason.startsWith('[') ? 'interrupted' : code, message);
  }

  private async onStalled(jobId: string): Promise<void> {
    const record = this.mine(jobId);
    if (!record) return;
    const who = this.workerOf.get(jobId);
    const reason = `worker ${who ?? '(unknown)'} stopped answering (killed, powered off or cut off); the job goes back to the farm queue`;
    await this.transition(jobId, { state: 'queued', progress: undefined }, (seq) => ({ event: 'resumed', jobId, seq, reason }));
  }

  private async fail(jobId: string, code: string, message: string): Promise<void> {
    const error = { code, message };
    await this.transition(jobId, { state: 'failed', finishedAt: now(), error }, (seq) => ({ event: 'failed', jobId, seq, error }));
  }

  /**
   * Matches unfinished records with Redis. At start (`restarted`), running jobs' seqs jump as the
   * local queue's do after a restart, and each unfinished job is reported as resumed.
   */
  private async reconcile(restarted: boolean): Promise<void> {
    const store = this.store!;
    for (const r of store.list()) {
      if (FINAL_STATES.includes(r.state)) continue;
      const modelId = (r.spec as { model: string }).model;
      let state = 'unknown';
      let job = null;
      try {
        const { queue } = await this.modelQueue(modelId);
        job = await queue.getJob(r.id);
        state = job ? await job.getState() : 'unknown';
      } catch (e) {
        this.log(`reshoot farm: cannot ask Redis about ${r.id}: ${(e as Error).message}`);
        continue;
      }
      if (state === 'completed') {
        await this.inOrder(r.id, () => this.onCompleted(r.id, job!.returnvalue));
        continue;
      }
      if (state === 'failed') {
        await this.inOrder(r.id, () => this.onFailed(r.id, job!.failedReason));
        continue;
      }
      if (restarted) {
        if (r.state === 'running') store.update(r.id, { seq: r.seq + SEQ_JUMP_AFTER_RESTART }, { persist: false });
        const where = state === 'active' ? 'it is still rendering on the farm' : state === 'unknown' ? 'Redis did not have it; it is queued again' : 'it is still in the farm queue';
        const patch: JobPatch = state === 'active' ? { recovered: 'resumed' } : { state: 'queued', recovered: 'resumed', progress: undefined };
        await this.inOrder(r.id, () => this.transition(r.id, patch, (seq) => ({ event: 'resumed', jobId: r.id, seq, reason: `the companion restarted; ${where}` })));
      }
      if (state === 'unknown') await this.enqueue(r.id);
    }
  }

  // --- records and events ------------------------------------------------------------------

  /** JobLedger.transition; a finished job's progress-write clock is dropped. */
  private async transition(id: string, patch: JobPatch, make: (seq: number) => JobEvent): Promise<JobRecord> {
    const record = await this.ledger.transition(id, patch, make);
    if (FINAL_STATES.includes(record.state)) this.lastProgressWrite.delete(id);
    return record;
  }

  private emitEvent(e: JobEvent): void {
    this.ledger.emitEvent(e);
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

function now(): string {
  return new Date().toISOString();
}
