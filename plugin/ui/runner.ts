/**
 * What happens between "Submit" and a result on the timeline, for every kind and for batches,
 * without React (tested in Node against a real companion):
 *
 *   build (plugin/batch.ts builders, checked with protocol/jobspec.ts)
 *   → frames by value: export the timeline frames (Host.exportFrame). With the companion on this
 *     machine they are exported into its frames folder and the job names the files (frames by
 *     path: nothing decoded here, nothing streamed); otherwise they are decoded and uploaded
 *     (CompanionClient.upload) and the spec's source points at the upload
 *   → submit → remember where the result goes (persisted, so a panel reload can still place it)
 *   → when the job is done: place it (plugin/placement.ts placeResult — the one way to place),
 *     by itself when auto-place is on (always for batches), or when the editor presses Place.
 *
 * Tasks (exporting/uploading/submitting, before the companion knows the job) are shown in the
 * queue with their own progress.
 */
import {
  FINAL_STATES,
  safeParseJobSpec,
  type JobKind,
  type JobRecord,
  type JobSpecInput,
  type Rational,
} from '../../protocol/index.ts';
import type { Host, SequenceInfo } from '../host/types.ts';
import type { BatchJob } from '../batch.ts';
import { CompanionClient } from '../connection/client.ts';
import { exportRgbFrame, fileReaderFor, type ReadFile } from '../connection/frames.ts';
import { Store } from '../connection/store.ts';
import { placeResult, type PlacementRequest } from '../placement.ts';
import { durationFrames, snapToFrame, ticksPerFrame, ticksToFrame } from '../time.ts';

/** Frames by value for an extension or a bridge: the clip's frames next to the new ones, at most this many. */
export const CONTEXT_FRAMES = 65;

/** What the panel remembers about a submitted job to place its result. */
export interface PlacementContext {
  sequenceId: string;
  fps: Rational;
  request: PlacementRequest;
  /** For the queue: "A001.mov · extend tail 24f". */
  label: string;
  autoPlace: boolean;
}

export type TaskPhase = 'exporting' | 'uploading' | 'submitting' | 'failed';

/** A job on its way to the companion (frames being exported and uploaded, then submitted). */
export interface Task {
  id: string;
  label: string;
  kind: JobKind;
  phase: TaskPhase;
  /** Frames exported / uploaded so far, of `total`. */
  done: number;
  total: number;
  error?: string;
}

export interface RunnerState {
  tasks: Task[];
  contexts: Record<string, PlacementContext>;
  /** Where a job's result was placed ("V2 at frame 24"), by job id. */
  placed: Record<string, string>;
  /** Why placing failed, by job id. */
  placeErrors: Record<string, string>;
}

export interface RunOptions {
  /** Frames by value: upload exported timeline frames instead of naming the source media. */
  byValue?: boolean;
  /** generate: use the timeline frame at the playhead as the first frame (always exported). */
  still?: boolean;
  autoPlace?: boolean;
}

/** The part of localStorage the runner uses (absent in Node). */
export interface KeyValueStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

const STORAGE_KEY = 'reshoot.placement.v2';

/** Which timeline frames a by-value job uploads, and where each upload goes in the spec. */
export interface UploadPlan {
  key: 'source' | 'a' | 'b';
  startTicks: number;
  frames: number;
}

/** The timeline frames a job needs by value (see CONTEXT_FRAMES), from its placement request. */
export function uploadsFor(job: BatchJob, seq: SequenceInfo, opts: RunOptions): UploadPlan[] {
  const req = job.placement;
  const fps = seq.fps;
  const tpf = ticksPerFrame(fps);
  const lengthOf = (i: { startTicks: number; endTicks: number }) => durationFrames(snapToFrame(i.startTicks, fps), snapToFrame(i.endTicks, fps), fps);
  switch (req.kind) {
    case 'extend': {
      if (!opts.byValue) return [];
      const n = Math.min(CONTEXT_FRAMES, lengthOf(req.item));
      const start = req.direction === 'tail' ? snapToFrame(req.item.endTicks, fps) - n * tpf : snapToFrame(req.item.startTicks, fps);
      return [{ key: 'source', startTicks: start, frames: n }];
    }
    case 'fill':
    case 'replace':
      return opts.byValue ? [{ key: 'source', startTicks: snapToFrame(req.item.startTicks, fps), frames: lengthOf(req.item) }] : [];
    case 'bridge': {
      if (!opts.byValue) return [];
      const [a, b] = req.a.startTicks <= req.b.startTicks ? [req.a, req.b] : [req.b, req.a];
      const na = Math.min(CONTEXT_FRAMES, lengthOf(a));
      const nb = Math.min(CONTEXT_FRAMES, lengthOf(b));
      return [
        { key: 'a', startTicks: snapToFrame(a.endTicks, fps) - na * tpf, frames: na },
        { key: 'b', startTicks: snapToFrame(b.startTicks, fps), frames: nb },
      ];
    }
    case 'generate':
      return opts.still ? [{ key: 'source', startTicks: snapToFrame(req.playheadTicks, fps), frames: 1 }] : [];
  }
}

/** Frames a job carries by value: an upload's id, or the files exported into the companion's frames folder. */
export type PreparedFrames = { key: UploadPlan['key']; frames: number } & ({ uploadId: string } | { files: string[] });

/** The spec with its sources pointing at uploads or frame files (in/out over those frames). */
export function withUploads(spec: JobSpecInput, uploaded: PreparedFrames[]): JobSpecInput {
  // A deep copy by JSON (a spec is plain JSON; UXP may lack structuredClone).
  const next = JSON.parse(JSON.stringify(spec)) as JobSpecInput & Record<string, unknown>;
  for (const u of uploaded) {
    const frames = 'files' in u ? { files: u.files } : { upload: u.uploadId };
    const source = next.kind === 'generate' ? { ...frames, in: { frames: 0 } } : { ...frames, in: { frames: 0 }, out: { frames: u.frames } };
    if (u.key === 'source') (next as { source?: unknown }).source = source;
    else (next as { sources: Record<string, unknown> }).sources[u.key] = source;
  }
  return next;
}

function describePlacement(trackIndex: number, startTicks: number, fps: Rational): string {
  return `placed on V${trackIndex + 1} at frame ${ticksToFrame(startTicks, fps)}`;
}

export class JobRunner {
  readonly store: Store<RunnerState>;
  private readonly readFile: ReadFile;
  private readonly storage: KeyValueStorage | null;
  private nextTask = 1;
  /** Jobs being placed now, so auto-place runs once per job. */
  private placing = new Set<string>();
  /** Exports and uploads run one job at a time, in order (a batch of 20 clips does not export 20 at once). */
  private chain: Promise<unknown> = Promise.resolve();
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly host: Host,
    private readonly client: CompanionClient,
    opts: { readFile?: ReadFile; storage?: KeyValueStorage | null } = {},
  ) {
    this.readFile = opts.readFile ?? fileReaderFor(host);
    this.storage = opts.storage === undefined ? ((globalThis as { localStorage?: KeyValueStorage }).localStorage ?? null) : opts.storage;
    this.store = new Store<RunnerState>({ tasks: [], placeErrors: {}, ...this.load() });
  }

  get state(): RunnerState {
    return this.store.get();
  }

  /** Starts auto-placing finished jobs (call once; returns a stop function). */
  start(): () => void {
    this.unsubscribe?.();
    const check = () => this.autoPlace();
    const off = this.client.store.subscribe(check);
    check();
    this.unsubscribe = off;
    return () => {
      off();
      this.unsubscribe = null;
    };
  }

  private load(): Pick<RunnerState, 'contexts' | 'placed'> {
    try {
      const raw = this.storage?.getItem(STORAGE_KEY);
      if (raw) {
        const v = JSON.parse(raw) as Partial<RunnerState>;
        return { contexts: v.contexts ?? {}, placed: v.placed ?? {} };
      }
    } catch {
      /* unreadable storage: start empty */
    }
    return { contexts: {}, placed: {} };
  }

  private save(): void {
    try {
      const { contexts, placed } = this.state;
      this.storage?.setItem(STORAGE_KEY, JSON.stringify({ contexts, placed }));
    } catch {
      /* no storage */
    }
  }

  private patchTask(id: string, p: Partial<Task>): void {
    this.store.set((s) => ({ ...s, tasks: s.tasks.map((t) => (t.id === id ? { ...t, ...p } : t)) }));
  }

  /** Removes a failed task from the queue. */
  dismiss(taskId: string): void {
    this.store.set((s) => ({ ...s, tasks: s.tasks.filter((t) => t.id !== taskId) }));
  }

  /**
   * Runs one built job: uploads what it needs by value, submits it, remembers where its result
   * goes. Resolves with the companion's record; rejects with a message for the editor (the task
   * stays in the queue as failed).
   */
  run(job: BatchJob, seq: SequenceInfo, opts: RunOptions = {}): Promise<JobRecord> {
    const plans = uploadsFor(job, seq, opts);
    const task: Task = {
      id: `t${this.nextTask++}`,
      label: job.label,
      kind: job.placement.kind,
      phase: plans.length ? 'exporting' : 'submitting',
      done: 0,
      total: plans.reduce((n, p) => n + p.frames, 0),
    };
    this.store.set((s) => ({ ...s, tasks: [...s.tasks, task] }));
    const work = async (): Promise<JobRecord> => {
      try {
        let spec = job.spec;
        const exported: string[] = [];
        if (plans.length) {
          const prepared: PreparedFrames[] = [];
          let before = 0;
          const framesDir = this.client.state.framesDir;
          for (const plan of plans) {
            const progress = (n: number, phase: TaskPhase) => this.patchTask(task.id, { done: before + n, phase });
            if (framesDir) {
              const files = await this.exportFrames(plan, seq, framesDir, exported, progress);
              prepared.push({ key: plan.key, files, frames: files.length });
            } else {
              const r = await this.uploadFrames(plan, seq, progress);
              prepared.push({ key: plan.key, uploadId: r.uploadId, frames: r.frames });
            }
            before += plan.frames;
          }
          spec = withUploads(spec, prepared);
        }
        this.patchTask(task.id, { phase: 'submitting' });
        const checked = safeParseJobSpec(spec);
        if (!checked.ok) {
          await this.removeAll(exported);
          throw new Error(checked.error.issues.map((i) => `${i.path || 'spec'}: ${i.message}`).join('; '));
        }
        // From here the companion owns the exported files: it deletes them once read, accepted or not.
        const record = await this.client.submit(spec).catch(async (e: Error) => {
          if ((e as { code?: string }).code === 'not_connected') await this.removeAll(exported);
          throw e;
        });
        const ctx: PlacementContext = { sequenceId: seq.id, fps: seq.fps, request: job.placement, label: job.label, autoPlace: !!opts.autoPlace };
        this.store.set((s) => ({ ...s, tasks: s.tasks.filter((t) => t.id !== task.id), contexts: { ...s.contexts, [record.id]: ctx } }));
        this.save();
        this.autoPlace();
        return record;
      } catch (e) {
        this.patchTask(task.id, { phase: 'failed', error: (e as Error).message });
        throw e;
      }
    };
    const result = this.chain.then(work, work);
    this.chain = result.catch(() => undefined);
    return result;
  }

  /** Runs every job of a batch (each placed by itself when done if `autoPlace`). */
  async runAll(jobs: BatchJob[], seq: SequenceInfo, opts: RunOptions = {}): Promise<{ submitted: JobRecord[]; failed: { label: string; message: string }[] }> {
    const settled = await Promise.allSettled(jobs.map((j) => this.run(j, seq, opts)));
    const submitted: JobRecord[] = [];
    const failed: { label: string; message: string }[] = [];
    settled.forEach((r, i) => (r.status === 'fulfilled' ? submitted.push(r.value) : failed.push({ label: jobs[i]!.label, message: (r.reason as Error).message })));
    return { submitted, failed };
  }

  /**
   * Frames by path: Premiere renders each frame into the companion's frames folder. `exported`
   * collects every file made, so a failure part-way removes them all.
   */
  private async exportFrames(plan: UploadPlan, seq: SequenceInfo, folder: string, exported: string[], progress: (n: number, phase: TaskPhase) => void): Promise<string[]> {
    const tpf = ticksPerFrame(seq.fps);
    const files: string[] = [];
    try {
      for (let i = 0; i < plan.frames; i++) {
        progress(i, 'exporting');
        const file = await this.host.exportFrame(plan.startTicks + i * tpf, folder, seq.width, seq.height);
        exported.push(file);
        files.push(file);
      }
    } catch (e) {
      await this.removeAll(exported);
      throw e;
    }
    progress(plan.frames, 'exporting');
    return files;
  }

  private async removeAll(files: string[]): Promise<void> {
    await Promise.all(files.map((f) => this.host.removeFile(f).catch(() => undefined)));
    files.length = 0;
  }

  private async uploadFrames(plan: UploadPlan, seq: SequenceInfo, progress: (n: number, phase: TaskPhase) => void) {
    const folder = `${(await this.host.tempFolder()).replace(/[\\/]+$/, '')}/reshoot-frames`;
    const tpf = ticksPerFrame(seq.fps);
    return this.client.upload({
      width: seq.width,
      height: seq.height,
      channels: 3,
      fps: seq.fps,
      frames: plan.frames,
      frame: async (i) => {
        progress(i, 'exporting');
        const pixels = await exportRgbFrame(this.host, this.readFile, plan.startTicks + i * tpf, folder, seq.width, seq.height);
        progress(i, 'uploading');
        return pixels;
      },
      onProgress: (p) => progress(p.acknowledged, 'uploading'),
    });
  }

  /** Places a finished job's result (idempotent: placing again finds it where it is). */
  async place(job: JobRecord): Promise<string> {
    const ctx = this.state.contexts[job.id];
    if (!ctx) throw new Error('this job was submitted from another panel: its source clip is unknown here');
    if (job.state !== 'done' || !job.result) throw new Error(`job ${job.id} has no result to place (${job.state})`);
    const seq = await this.host.activeSequence();
    if (!seq || seq.id !== ctx.sequenceId) throw new Error('open the sequence the job was made from to place its result');
    const spec = (job.spec ?? {}) as { prompt?: string; model?: string };
    const req = withResultLength(ctx.request, job.result.frames);
    try {
      const placed = await placeResult(this.host, req, ctx.fps, {
        path: job.result.path,
        jobId: job.id,
        kind: req.kind,
        prompt: spec.prompt ?? '',
        seed: job.result.seed,
        model: spec.model ?? 'builtin:tiny',
        ...(req.kind === 'extend' ? { direction: req.direction } : {}),
      });
      const text = describePlacement(placed.placement.trackIndex, placed.placement.startTicks, ctx.fps);
      this.store.set((s) => {
        const placeErrors = { ...s.placeErrors };
        delete placeErrors[job.id];
        return { ...s, placed: { ...s.placed, [job.id]: text }, placeErrors };
      });
      this.save();
      return text;
    } catch (e) {
      this.store.set((s) => ({ ...s, placeErrors: { ...s.placeErrors, [job.id]: (e as Error).message } }));
      throw e;
    }
  }

  /** Submits a finished, failed or cancelled job again (same spec, same placement). */
  async retry(job: JobRecord): Promise<JobRecord> {
    const again = await this.client.submit(job.spec);
    const ctx = this.state.contexts[job.id];
    if (ctx) {
      this.store.set((s) => ({ ...s, contexts: { ...s.contexts, [again.id]: ctx } }));
      this.save();
    }
    return again;
  }

  private autoPlace(): void {
    const { jobs } = this.client.state;
    for (const [id, ctx] of Object.entries(this.state.contexts)) {
      if (!ctx.autoPlace || this.placing.has(id) || id in this.state.placed || id in this.state.placeErrors) continue;
      const view = jobs[id];
      if (!view || view.record.state !== 'done' || !FINAL_STATES.includes(view.record.state)) continue;
      this.placing.add(id);
      void this.place(view.record)
        .catch(() => undefined)
        .finally(() => this.placing.delete(id));
    }
  }
}

/** The request with the generated length the result really has. */
function withResultLength(req: PlacementRequest, frames: number): PlacementRequest {
  if (!(frames > 0)) return req;
  if (req.kind === 'extend' || req.kind === 'generate') return { ...req, frames };
  if (req.kind === 'fill' || req.kind === 'replace') return { ...req, frames };
  return req;
}

