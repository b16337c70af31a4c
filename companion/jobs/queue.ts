/**
 * The companion's job queue: one per device (one per companion process), running one job at a
 * time in submit order on a persisted JobStore, and reporting every change as a JobEvent.
 *
 * - One Engine is kept open per model and reused across jobs; a job for another model closes it
 *   and opens that model (one model in memory at a time). `close()` closes it.
 * - Service jobs write only into their own results folder (`<dataDir>/results/<id>/`), under
 *   `reshoot-<kind>-<id><ext>`; `spec.output.path` is ignored, `spec.output.format` kept.
 * - A result is complete on disk (runJob renames it into place), THEN the record says done and
 *   is written, THEN the `done` event goes out: nothing is announced that a crash could undo.
 * - Every event increments the job's `seq` and stores it on the record. State changes are
 *   written before their event is emitted; progress is written at most every ~500 ms (or every
 *   100 events), so after a crash the stored seq may trail what was sent. A restart therefore
 *   moves the seq of a job that was running forward by SEQ_JUMP_AFTER_RESTART: the next event
 *   is always newer than anything a client saw, and the jump tells it that it missed events.
 * - Catch-up: the last `history` (200) events of each job are kept in memory. `events(id,
 *   since)` returns the kept events with seq > since; it returns [] both when nothing is newer
 *   and when the kept events no longer reach back to `since` (or the companion restarted since).
 *   A caller tells the two apart with `record.seq > since` and then sends the record itself as
 *   a snapshot; `catchUp` does exactly that.
 * - Crash recovery (`start`): an unfinished job (queued or running) is queued again with
 *   `recovered: 'resumed'` and a `resumed` event (then `queued`), in original order, unless it
 *   has been started MAX_ATTEMPTS times, then it fails with `recovered: 'failed'`. A done job
 *   whose result is gone fails with code `result_missing`. Partial outputs left in results
 *   folders are removed.
 * - `close()` stops taking work and interrupts the running job within one step; that job stays
 *   `running` on disk and is resumed by the next `start()` (it counts as an attempt).
 * - Previews (a small PNG of the window being generated, at most one per ~750 ms) are ephemeral:
 *   emitted as `preview` (not `event`), never written to disk, never kept for catch-up, and they
 *   do not advance the seq: a preview carries the seq of the job's latest event emitted before it,
 *   so real events stay contiguous and a client that missed a preview has missed nothing it
 *   needs. A client that reconnects gets the next preview when it comes.
 */
import { EventEmitter } from 'node:events';
import { lstat, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { FINAL_STATES, type JobEvent, type JobRecord } from '../../protocol/jobs.ts';
import { safeParseJobSpec, type JobSpec } from '../../protocol/jobspec.ts';
import { Engine } from '../engine/engine.ts';
import type { Provider } from '../engine/providers.ts';
import { ReshootError } from '../errors.ts';
import { FORMAT_EXTENSION } from '../media/encode.ts';
import { loadModel } from '../models/registry.ts';
import type { Preview, Progress } from './render.ts';
import { JobLedger } from './ledger.ts';
import { prepare } from './resolve.ts';
import { runJob } from './run.ts';
import { JobStore, type JobPatch } from './store.ts';

/** A job started this many times without finishing is not started again after a restart. */
export const MAX_ATTEMPTS = 3;
/** How far a restart moves the seq of a job that was running (see the file comment). */
export const SEQ_JUMP_AFTER_RESTART = 1000;

export interface JobQueueOptions {
  /** The companion's data folder: jobs in `<dataDir>/jobs`, results in `<dataDir>/results`. */
  dataDir: string;
  /** Execution providers to try, in order, when opening an engine (default: Engine.open's). */
  providers?: Provider[];
  /** Opens an engine for a model (default: Engine.open). */
  engineFactory?: (modelId: string, providers?: Provider[]) => Promise<Engine>;
  /** Where problems are reported (default: console.warn). */
  log?: (message: string) => void;
  /** Events kept per job for `events(id, since)` (default 200). */
  history?: number;
  /** Least time between progress writes of one job, in ms (default 500). */
  progressWriteMs?: number;
}

export type PreviewEvent = Extract<JobEvent, { event: 'preview' }>;

/** A job refused because its record could not be saved (see `submit`). */
export class SubmitRefused extends Error {
  constructor(
    readonly code: 'disk_full' | 'write_failed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SubmitRefused';
  }

  static from(e: unknown, dataDir: string): SubmitRefused {
    const errno = (e as NodeJS.ErrnoException)?.code;
    if (errno === 'ENOSPC' || errno === 'EDQUOT') {
      return new SubmitRefused('disk_full', `the job was not accepted: no space left on the disk that holds ${dataDir} (${errno}); free some space and submit it again`, { cause: e });
    }
    return new SubmitRefused('write_failed', `the job was not accepted: its record could not be saved in ${dataDir} (${errno ?? (e as Error)?.message ?? e})`, { cause: e });
  }
}

export interface JobQueueEvents {
  /** Every state change and progress report, in seq order (see the file comment). */
  event: [JobEvent];
  /** Ephemeral previews of running jobs: not persisted, not replayed, seq not advanced. */
  preview: [PreviewEvent];
}

/** What a client that reconnects needs: the events it missed, or the record when those are gone. */
export type CatchUp = { events: JobEvent[] } | { snapshot: JobRecord };

interface Current {
  id: string;
  /** The user asked to cancel: the job ends cancelled. */
  cancel: boolean;
  /** The queue is closing: the job stops and is resumed at the next start. */
  interrupt: boolean;
  engine: Engine | null;
}

const PROGRESS_WRITE_EVERY = 100;
const PARTIAL_ENTRY = /^\..+\.(partial|old)-\d|\.partial-\d+$/;

export class JobQueue extends EventEmitter<JobQueueEvents> {
  private readonly dataDir: string;
  private readonly providers: Provider[] | undefined;
  private readonly engineFactory: (modelId: string, providers?: Provider[]) => Promise<Engine>;
  private readonly log: (message: string) => void;
  private readonly progressWriteMs: number;

  private store: JobStore | null = null;
  private phase: 'new' | 'starting' | 'running' | 'closing' | 'closed' = 'new';
  private pending: string[] = [];
  private current: Current | null = null;
  private engine: { modelId: string; engine: Engine } | null = null;
  private readonly progressWrites = new Map<string, { at: number; unwritten: number }>();
  private readonly ledger: JobLedger;
  private wake: (() => void) | null = null;
  private loopDone: Promise<void> = Promise.resolve();
  private starting: Promise<void> = Promise.resolve();

  constructor(opts: JobQueueOptions) {
    super();
    this.dataDir = opts.dataDir;
    this.providers = opts.providers;
    this.engineFactory = opts.engineFactory ?? ((id, providers) => Engine.open(id, providers));
    this.log = opts.log ?? ((m) => console.warn(m));
    this.ledger = new JobLedger({ store: () => this.store, historySize: opts.history ?? 200, emit: (e) => this.emit('event', e), log: this.log });
    this.progressWriteMs = opts.progressWriteMs ?? 500;
  }

  /**
   * Opens the store, recovers from a crash (see the file comment; the events it emits reach
   * listeners attached before this call) and starts running queued jobs.
   */
  async start(): Promise<void> {
    if (this.phase !== 'new') throw new Error(`the job queue cannot start: it is ${this.phase}`);
    this.phase = 'starting';
    this.starting = (async () => {
      this.store = await JobStore.open(this.dataDir, { log: this.log });
      await this.removePartials();
      await this.recover();
    })();
    await this.starting;
    if (this.phase !== 'starting') return; // closed while recovering
    this.phase = 'running';
    this.loopDone = this.loop();
  }

  /**
   * Queues a validated spec once its record is on disk, and resolves with the record (state
   * queued): a client told "accepted" after this loses nothing to a crash. A record that cannot
   * be written (a full disk) is dropped again and the submit rejects with SubmitRefused: the job
   * was never accepted, so it neither runs nor turns up after a restart.
   */
  async submit(spec: JobSpec): Promise<JobRecord> {
    const store = this.store;
    if (this.phase !== 'running' || !store) throw new Error(`the job queue is not taking jobs: it is ${this.phase}`);
    const created = store.create(spec);
    try {
      await store.flush(created.id);
    } catch (e) {
      await store.forget(created.id);
      throw SubmitRefused.from(e, this.dataDir);
    }
    // Closed while saving: the record is on disk as queued, and the next start resumes it.
    if (this.phase !== 'running') return store.get(created.id)!;
    const position = this.pending.length + (this.current ? 1 : 0);
    this.pending.push(created.id);
    void this.transition(created.id, {}, (seq) => ({ event: 'queued', jobId: created.id, seq, position }));
    this.wake?.();
    return store.get(created.id)!;
  }

  /**
   * Cancels a job. Queued: cancelled at once (the returned record says so). Running: the engine
   * is told to stop, which it does within one step; the returned record is still `running` and
   * the `cancelled` event follows (await `settled(id)` for the final record). Finished: nothing
   * changes. Throws for an unknown id.
   */
  cancel(id: string): JobRecord {
    const store = this.store;
    const record = store?.get(id);
    if (!store || !record) throw new Error(`no job ${id}`);
    if (record.state === 'queued') {
      this.pending = this.pending.filter((p) => p !== id);
      void this.transition(id, { state: 'cancelled', finishedAt: now() }, (seq) => ({ event: 'cancelled', jobId: id, seq }));
      return store.get(id)!;
    }
    if (record.state === 'running' && this.current?.id === id) {
      this.current.cancel = true;
      this.current.engine?.cancel();
    }
    return record;
  }

  /**
   * Resolves with the job's record once it is done, failed or cancelled (at once if it is),
   * or with its record as it stands when the queue closes first. Rejects for an unknown id.
   */
  settled(id: string): Promise<JobRecord> {
    return this.ledger.settled(id, this.phase === 'closed');
  }

  get(id: string): JobRecord | undefined {
    return this.ledger.get(id);
  }

  /** Every job on record, oldest first. */
  list(): JobRecord[] {
    return this.ledger.list();
  }

  /** See JobLedger.events: [] both when nothing is newer and when the kept events fall short. */
  events(id: string, since: number): JobEvent[] {
    return this.ledger.events(id, since);
  }

  /** What a client that last saw `since` needs: the missed events, or a snapshot. */
  catchUp(id: string, since: number): CatchUp | undefined {
    return this.ledger.catchUp(id, since);
  }

  /**
   * Stops taking work, interrupts the running job (it stays `running` on disk and is resumed
   * at the next start), waits for it to stop, writes every record and closes the engine.
   */
  async close(): Promise<void> {
    if (this.phase === 'closed' || this.phase === 'closing') return this.loopDone;
    const loop = this.loopDone;
    this.phase = 'closing';
    const done = (async () => {
      if (this.current) {
        this.current.interrupt = true;
        this.current.engine?.cancel();
      }
      this.wake?.();
      await this.starting.catch(() => undefined);
      await loop;
      await this.store?.flushAll();
      await this.dropEngine();
      this.phase = 'closed';
      this.ledger.releaseWaiters();
    })();
    this.loopDone = done;
    return done;
  }

  // --- the loop --------------------------------------------------------------------------

  private async loop(): Promise<void> {
    while (this.phase === 'running') {
      const id = this.pending.shift();
      if (id === undefined) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = null;
        continue;
      }
      if (this.store!.get(id)?.state !== 'queued') continue; // cancelled while waiting
      try {
        await this.runOne(id);
      } catch (e) {
        this.log(`reshoot: the job queue failed on job ${id}: ${(e as Error).stack ?? e}`);
      }
    }
  }

  private async runOne(id: string): Promise<void> {
    const store = this.store!;
    const record = store.get(id)!;
    const parsed = safeParseJobSpec(record.spec);
    if (!parsed.ok) {
      await this.transition(id, { state: 'failed', finishedAt: now(), error: { code: 'bad_spec', message: parsed.error.message } }, (seq) => ({
        event: 'failed',
        jobId: id,
        seq,
        error: { code: 'bad_spec', message: parsed.error.message },
      }));
      return;
    }
    // The service writes only into the job's results folder; the format is kept.
    const spec: JobSpec = { ...parsed.spec, output: { format: parsed.spec.output.format } };
    const cur: Current = { id, cancel: false, interrupt: false, engine: null };
    this.current = cur;
    try {
      const attempt = record.attempts + 1;
      // Synchronous up to here, so a cancel from now on sees the job running.
      const started = this.transition(
        id,
        { state: 'running', attempts: attempt, startedAt: now(), finishedAt: undefined, progress: undefined, result: undefined, error: undefined },
        (seq) => ({ event: 'started', jobId: id, seq, attempt }),
      );
      await started;
      await this.execute(spec, cur);
    } finally {
      this.current = null;
      this.progressWrites.delete(id);
    }
  }

  private async execute(spec: JobSpec, cur: Current): Promise<void> {
    const store = this.store!;
    const id = cur.id;
    const stopped = () => cur.cancel || cur.interrupt;
    try {
      if (stopped()) throw cancelledError();
      const dir = await store.resultDir(id);
      const file = `reshoot-${spec.kind}-${id}${FORMAT_EXTENSION[spec.output.format]}`;
      const out = path.join(dir, file);
      if (this.engine?.modelId !== spec.model) {
        // Bad input should fail before a model is (re)loaded, which can take a while.
        const model = await loadModel(spec.model);
        await prepare(spec, { out, force: true, defaultDir: dir, maxWindowFrames: model.manifest.sizeRules.maxFrames });
      }
      const engine = await this.engineFor(spec.model);
      cur.engine = engine;
      if (stopped()) throw cancelledError();
      const result = await runJob(spec, {
        engine: guarded(engine, stopped),
        out,
        force: true,
        onProgress: (p) => this.progress(id, p, stopped),
        onPreview: (p) => this.preview(id, p, stopped),
      });
      if (cur.cancel) {
        // Cancelled as it finished: the user asked for no result, so none is left.
        await rm(store.resultPath(id), { recursive: true, force: true });
        await this.transition(id, { state: 'cancelled', finishedAt: now() }, (seq) => ({ event: 'cancelled', jobId: id, seq }));
        return;
      }
      for (const n of result.provenance.sampling.notes) this.log(`reshoot: job ${id}: ${n}`);
      const jobResult = {
        file: path.basename(result.output),
        path: result.output,
        frames: result.provenance.frames,
        bytes: await sizeOf(result.output),
        seed: result.provenance.seed,
        provider: result.provenance.provider,
      };
      await this.transition(id, { state: 'done', finishedAt: now(), result: jobResult }, (seq) => ({ event: 'done', jobId: id, seq, result: jobResult }));
    } catch (e) {
      const code = errorCode(e);
      if (cur.interrupt && !cur.cancel && code === 'cancelled') {
        // The queue is closing: the record stays `running` and the next start resumes it.
        await rm(store.resultPath(id), { recursive: true, force: true });
        await store.flush(id).catch(() => undefined);
        return;
      }
      await rm(store.resultPath(id), { recursive: true, force: true }).catch(() => undefined);
      if (cur.cancel || code === 'cancelled') {
        await this.transition(id, { state: 'cancelled', finishedAt: now() }, (seq) => ({ event: 'cancelled', jobId: id, seq }));
        return;
      }
      const error = { code, message: (e as Error)?.message ?? String(e) };
      if (code === 'internal') {
        this.log(`reshoot: job ${id} failed: ${(e as Error)?.stack ?? e}`);
        // The engine may be what broke (a crashed worker answers nothing): start afresh.
        await this.dropEngine();
      }
      await this.transition(id, { state: 'failed', finishedAt: now(), error }, (seq) => ({ event: 'failed', jobId: id, seq, error }));
    }
  }

  private progress(id: string, p: Progress, stopped: () => boolean): void {
    if (stopped()) return;
    const store = this.store!;
    const seq = store.get(id)!.seq + 1;
    const t = Date.now();
    const w = this.progressWrites.get(id) ?? { at: 0, unwritten: 0 };
    w.unwritten++;
    const write = t - w.at >= this.progressWriteMs || w.unwritten >= PROGRESS_WRITE_EVERY;
    if (write) {
      w.at = t;
      w.unwritten = 0;
    }
    this.progressWrites.set(id, w);
    const progress = { ...p };
    store.update(id, { seq, progress }, { persist: write });
    this.emitEvent({ event: 'progress', jobId: id, seq, progress });
  }

  /** Sends a preview with the seq of the latest event sent (see the file comment); stores nothing. */
  private preview(id: string, p: Preview, stopped: () => boolean): void {
    if (stopped() || this.listenerCount('preview') === 0) return;
    const seq = this.ledger.lastSeq(id)!;
    const e: PreviewEvent = { event: 'preview', jobId: id, seq, width: p.width, height: p.height, png: Buffer.from(p.png.buffer, p.png.byteOffset, p.png.byteLength).toString('base64') };
    try {
      this.emit('preview', e);
    } catch (err) {
      this.log(`reshoot: a job preview listener threw: ${(err as Error)?.stack ?? err}`);
    }
  }

  private async engineFor(modelId: string): Promise<Engine> {
    if (this.engine?.modelId === modelId) return this.engine.engine;
    await this.dropEngine();
    const engine = await this.engineFactory(modelId, this.providers);
    this.engine = { modelId, engine };
    return engine;
  }

  private async dropEngine(): Promise<void> {
    const e = this.engine;
    this.engine = null;
    await e?.engine.close().catch((err: Error) => this.log(`reshoot: closing the engine failed: ${err.message}`));
  }

  // --- recovery --------------------------------------------------------------------------

  private async recover(): Promise<void> {
    const store = this.store!;
    for (const r of store.list()) {
      if (r.state === 'done') {
        await this.checkResult(r);
        continue;
      }
      if (r.state !== 'running' && r.state !== 'queued') continue;
      const when = r.state === 'running' ? 'running' : 'queued';
      if (r.attempts >= MAX_ATTEMPTS) {
        const error = { code: 'interrupted', message: `interrupted ${r.attempts} times; not retrying` };
        if (r.state === 'running') store.update(r.id, { seq: r.seq + SEQ_JUMP_AFTER_RESTART }, { persist: false });
        await this.transition(r.id, { state: 'failed', recovered: 'failed', finishedAt: now(), error }, (seq) => ({
          event: 'failed',
          jobId: r.id,
          seq,
          error,
        }));
        continue;
      }
      if (r.state === 'running') store.update(r.id, { seq: r.seq + SEQ_JUMP_AFTER_RESTART }, { persist: false });
      await this.transition(r.id, { state: 'queued', recovered: 'resumed', progress: undefined }, (seq) => ({
        event: 'resumed',
        jobId: r.id,
        seq,
        reason: `the companion restarted while the job was ${when}`,
      }));
      const position = this.pending.length;
      this.pending.push(r.id);
      await this.transition(r.id, {}, (seq) => ({ event: 'queued', jobId: r.id, seq, position }));
    }
  }

  private async checkResult(r: JobRecord): Promise<void> {
    const store = this.store!;
    const dir = store.resultPath(r.id);
    const expected = r.result ? path.join(dir, r.result.file) : null;
    if (expected && (await exists(expected))) {
      // The data folder may have moved: keep the path the panel imports current.
      if (r.result!.path !== expected) store.update(r.id, { result: { ...r.result!, path: expected } });
      return;
    }
    const message = r.result
      ? `the result ${r.result.file} is no longer in ${dir} (deleted or moved); render the job again`
      : 'the job is marked done but has no result on record; render the job again';
    const error = { code: 'result_missing', message };
    await this.transition(r.id, { state: 'failed', recovered: 'failed', result: undefined, error }, (seq) => ({ event: 'failed', jobId: r.id, seq, error }));
  }

  /**
   * Removes what a crash left of unfinished writes: `.name.partial-*`, `.name.old-*`,
   * `x.json.partial-*`, in each job's results folder and in the results folder itself (where the
   * output check's probe goes while a job's folder does not exist yet; media/writable.ts).
   */
  private async removePartials(): Promise<void> {
    const root = this.store!.resultsDir;
    const dirs = await readdir(root).catch(() => [] as string[]);
    for (const dir of [root, ...dirs.map((d) => path.join(root, d))]) {
      const entries = await readdir(dir).catch(() => [] as string[]);
      for (const name of entries) {
        if (!PARTIAL_ENTRY.test(name)) continue;
        await rm(path.join(dir, name), { recursive: true, force: true }).catch((e: Error) =>
          this.log(`reshoot: could not remove the partial output ${path.join(dir, name)}: ${e.message}`),
        );
      }
    }
  }

  // --- events ----------------------------------------------------------------------------

  private transition(id: string, patch: JobPatch, make: (seq: number) => JobEvent): Promise<JobRecord> {
    return this.ledger.transition(id, patch, make);
  }

  private emitEvent(e: JobEvent): void {
    this.ledger.emitEvent(e);
  }
}

/**
 * The engine as one job sees it: a window is refused once the job is stopped, and every step
 * re-asserts the stop (Engine.generate clears the flag when a window begins, so a cancel that
 * lands between windows would otherwise be lost): the worker stops within one step.
 */
export function guarded(engine: Engine, stopped: () => boolean): Engine {
  const g = Object.create(engine) as Engine;
  g.generate = (request, onStep, onPreview) => {
    if (stopped()) return Promise.reject(cancelledError());
    return engine.generate(
      request,
      (s) => {
        if (stopped()) engine.cancel();
        onStep?.(s);
      },
      onPreview,
    );
  };
  return g;
}

export function cancelledError(): ReshootError {
  return new ReshootError('cancelled', 'the job was cancelled');
}

function errorCode(e: unknown): string {
  if (e instanceof ReshootError) return e.code;
  const code = (e as { code?: unknown })?.code;
  return code === 'bad_spec' ? 'bad_spec' : 'internal';
}

async function sizeOf(p: string): Promise<number> {
  const s = await lstat(p);
  if (!s.isDirectory()) return s.size;
  let total = 0;
  for (const name of await readdir(p)) total += await sizeOf(path.join(p, name));
  return total;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

function now(): string {
  return new Date().toISOString();
}
