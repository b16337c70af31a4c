/**
 * The engine as the rest of the companion sees it: load a model once, then generate windows.
 * Inference runs in a worker thread (see worker.ts); this class only passes messages, so the
 * caller's event loop keeps running while the GPU (or CPU) works.
 */
import { Worker } from 'node:worker_threads';
import { ReshootError, type ErrorCode } from '../errors.ts';
import type { Frame } from '../media/frame.ts';
import { computeChoice, type ComputeChoice } from '../models/computeVariant.ts';
import type { ModelManifest } from '../models/types.ts';
import type { PassRecord, PreviewImage, StepInfo, WindowRequest } from './generate.ts';
import type { FromWorker, ToWorker } from './messages.ts';
import { providersFor, type Provider } from './providers.ts';
import type { Compute } from './stages.ts';
import type { IoCount } from './deviceSteps.ts';
import type { AttentionUse } from './runtime.ts';
import type { ProbeVerdict } from './attentionProbe.ts';

/**
 * Fused-attention checks measured by any Engine's worker in this process (attentionProbe.ts), by
 * adapter: each new worker gets them, so an adapter is checked once per process, not per Engine.
 */
const attentionChecks: Record<string, ProbeVerdict> = {};

export interface WindowOutput {
  frames: Frame[];
  tokens: number;
  generatedTokens: number;
  stepMs: number[];
  /** The denoising passes that ran (sizes, steps), and why they differ from the recipe when they do. */
  passes: PassRecord[];
  note?: string;
}

export class Engine {
  private readonly worker: Worker;
  private readonly cancelFlag = new Int32Array(new SharedArrayBuffer(4));
  private nextId = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly pending = new Map<
    number,
    { resolve: (o: WindowOutput) => void; reject: (e: Error) => void; onStep: (s: StepInfo) => void; onPreview?: (p: PreviewImage) => void }
  >();
  private loaded: { resolve: (v: { provider: Provider; compute: Compute; attention: AttentionUse; manifest: ModelManifest; fallbacks: string[] }) => void; reject: (e: Error) => void } | null = null;
  manifest: ModelManifest | null = null;
  provider: Provider | null = null;
  /** The float type the transformer computes in on `provider` (goes into provenance). */
  compute: Compute | null = null;
  /** The transformer's attention (fused or plain) and why; goes into provenance. */
  attention: AttentionUse | null = null;
  /** Provider fallbacks so far (load and first runs), one message each; goes into provenance. */
  fallbacks: string[] = [];
  /** Host ↔ device bytes and device-resident steps since the model loaded, as of the last window. */
  io: IoCount = { toDevice: 0, toHost: 0, deviceSteps: 0 };

  private constructor() {
    this.worker = new Worker(new URL('./worker-entry.mjs', import.meta.url), { workerData: { cancel: this.cancelFlag.buffer } });
    this.worker.on('message', (m: FromWorker) => this.onMessage(m));
    this.worker.on('error', (e) => this.failAll(new ReshootError('internal', `engine worker crashed: ${e.message}`)));
    this.worker.on('exit', (code) => {
      if (code !== 0) this.failAll(new ReshootError('internal', `engine worker exited with code ${code}`));
    });
  }

  /**
   * Starts a worker and loads `modelId` on the first provider that works (default: providersFor()),
   * computing the transformer in `compute` (default: RESHOOT_COMPUTE, else auto).
   */
  static async open(modelId: string, providers: Provider[] = providersFor(), compute: ComputeChoice = computeChoice()): Promise<Engine> {
    const engine = new Engine();
    try {
      const info = await new Promise<{ provider: Provider; compute: Compute; attention: AttentionUse; manifest: ModelManifest; fallbacks: string[] }>((resolve, reject) => {
        engine.loaded = { resolve, reject };
        engine.post({ type: 'load', modelId, providers, compute, attentionChecks });
      });
      engine.manifest = info.manifest;
      engine.provider = info.provider;
      engine.compute = info.compute;
      engine.attention = info.attention;
      engine.fallbacks = info.fallbacks;
      return engine;
    } catch (e) {
      await engine.close();
      throw e;
    }
  }

  /**
   * Generates one window. Calls are served one at a time, in order: one model, one device.
   * `onPreview` receives the live previews that `request.preview` asks for (none without it).
   */
  generate(request: WindowRequest, onStep: (s: StepInfo) => void = () => {}, onPreview?: (p: PreviewImage) => void): Promise<WindowOutput> {
    const run = () => {
      const id = this.nextId++;
      Atomics.store(this.cancelFlag, 0, 0);
      return new Promise<WindowOutput>((resolve, reject) => {
        this.pending.set(id, { resolve, reject, onStep, onPreview });
        this.post({ type: 'window', id, request });
      });
    };
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Asks the running window to stop; the sampler sees it before its next step. */
  cancel(): void {
    Atomics.store(this.cancelFlag, 0, 1);
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'loaded') {
      Object.assign(attentionChecks, m.attentionChecks);
      this.loaded?.resolve(m);
      this.loaded = null;
      return;
    }
    if (m.type === 'error' && m.id === -1) {
      this.loaded?.reject(new ReshootError(m.code as ErrorCode, m.message));
      this.loaded = null;
      return;
    }
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'step') p.onStep({ step: m.step, steps: m.steps });
    else if (m.type === 'preview') {
      const { type: _, id: __, ...preview } = m;
      p.onPreview?.(preview);
    }
    else if (m.type === 'done') {
      this.pending.delete(m.id);
      this.provider = m.provider;
      this.compute = m.compute;
      this.attention = m.attention;
      this.fallbacks = m.fallbacks;
      this.io = m.io;
      p.resolve({
        frames: m.frames.map((f) => ({ ...f, channels: 3 as const })),
        tokens: m.tokens,
        generatedTokens: m.generatedTokens,
        stepMs: m.stepMs,
        passes: m.passes,
        ...(m.note ? { note: m.note } : {}),
      });
    } else if (m.type === 'error') {
      this.pending.delete(m.id);
      p.reject(new ReshootError(m.code as ErrorCode, m.code === 'cancelled' ? 'the job was cancelled' : m.message));
    }
  }

  private failAll(e: Error): void {
    this.loaded?.reject(e);
    this.loaded = null;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
