/**
 * The ONNX sessions of one model, opened stage by stage.
 *
 * A real LTX-Video model is three large parts (T5-XXL text encoder ~9.5 GB in fp16, the
 * transformer 4–26 GB, the VAE ~1 GB; multi-scale models add a ~0.5 GB latent upsampler). Holding them all at once does not fit a 24 GB GPU, so a
 * session is opened when its stage first runs and the least recently used ones are released
 * while the weights resident would exceed the memory budget. The test model is a few MB and
 * simply stays resident.
 *
 * Provider fallback: each stage starts on the first provider in the list. If opening the graph
 * fails, or its first run fails (a provider can load a graph and then lack a kernel for one of
 * its shapes), the stage moves to the next provider, says so through `onFallback`, and runs
 * again. Later failures are real errors and are thrown.
 *
 * Compute precision (options.half): on providers where the transformer computes in fp16 it opens
 * the fp16 graph first (companion/models/computeVariant.ts), and the fp32 graph on the same
 * provider is the next thing tried before the next provider. The fp16 graph may also hand over
 * later than its first run: when a result check says its output is not usable (a velocity that
 * overflowed fp16), the stage moves to fp32 and that run is repeated.
 */
import { statSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { providerErrorReason, providerUnavailable, sessionOptions, type Provider } from './providers.ts';

export type Stage = 'textEncoder' | 'transformer' | 'vaeEncoder' | 'vaeDecoder' | 'upsampler';

/** A model's graph per stage; the latent upsampler only in multi-scale models. */
export type StageGraphs = Record<Exclude<Stage, 'upsampler'>, string> & { upsampler?: string };

/** Weights resident at once when nothing else is said: fits a 24 GB GPU with room for activations. */
export const DEFAULT_BUDGET_BYTES = 16 * 1024 ** 3;

export function budgetFromEnv(): number {
  const gb = Number(process.env.RESHOOT_MEMORY_BUDGET_GB);
  return Number.isFinite(gb) && gb > 0 ? gb * 1024 ** 3 : DEFAULT_BUDGET_BYTES;
}

/** The float type a graph computes in (its inputs and outputs are float32 either way). */
export type Compute = 'fp32' | 'fp16';

/** One way to run a stage: a provider and a compute type (the graph follows from the compute type). */
export interface Attempt {
  provider: Provider;
  compute: Compute;
}

interface Open extends Attempt {
  session: ort.InferenceSession;
  graph: string;
  bytes: number;
  usedAt: number;
  runs: number;
}

export interface StageOptions {
  providers: Provider[];
  budgetBytes?: number;
  onFallback?: (message: string) => void;
  /**
   * Half-precision compute for the transformer: the compute type on each provider, and the fp16
   * graph's path (made on first use; may throw, which counts as that attempt failing). Without
   * it every stage runs the graph it was given.
   */
  half?: { compute: (provider: Provider) => Compute; graph: () => string };
  /**
   * The transformer's graph for an attempt, when more than the compute type decides it (the
   * attention variant a provider runs: runtime.ts, attentionProbe.ts). Replaces `half.graph` and
   * the stored path for the transformer; may throw, which counts as that attempt failing.
   */
  transformerGraph?: (attempt: Attempt) => string | Promise<string>;
  /** Outputs a stage's session keeps on the device on a provider (deviceSteps.ts), if any. */
  outputLocations?: (stage: Stage, provider: Provider) => OutputLocations | undefined;
}

/** Says why a run's outputs cannot be used (e.g. non-finite values), or null when they can. */
export type ResultCheck = (out: ort.InferenceSession.ReturnType) => string | null | Promise<string | null>;

/** Graph bytes on disk: the .onnx plus its external data, a fair proxy for what a session holds. */
function graphBytes(path: string): number {
  let bytes = statSync(path).size;
  try {
    bytes += statSync(`${path}.data`).size;
  } catch {
    // no external data
  }
  return bytes;
}

async function openSession(path: string, provider: Provider, outputs?: OutputLocations): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, { ...sessionOptions(provider), ...(outputs ? { preferredOutputLocation: outputs } : {}) });
}

/** Where a session leaves its outputs, by name (WebGPU only: 'gpu-buffer' keeps one on the device). */
export type OutputLocations = Record<string, 'cpu' | 'gpu-buffer'>;

export class StageSessions {
  private readonly open = new Map<Stage, Open>();
  /** Per stage, the index into its attempts it has reached (fallbacks only move forward). */
  private readonly attemptIndex = new Map<Stage, number>();
  /** Providers that cannot run anything here (no WebGPU adapter): every stage skips them. */
  private readonly unusable = new Set<Provider>();
  readonly budget: number;
  private clock = 0;
  readonly fallbacks: string[] = [];

  constructor(
    private readonly graphs: StageGraphs,
    private readonly opts: StageOptions,
  ) {
    if (opts.providers.length === 0) throw new Error('no execution providers to try');
    this.budget = opts.budgetBytes ?? budgetFromEnv();
  }

  /** Sum of all graphs: when it fits the budget every stage can stay resident. */
  totalBytes(): number {
    return this.stages().reduce((sum, s) => sum + this.bytesOf(s), 0);
  }

  /** The stages this model has (the upsampler only when it carries one). */
  stages(): Stage[] {
    return (Object.keys(this.graphs) as Stage[]).filter((s) => this.graphs[s] !== undefined);
  }

  /** A stage's graph bytes on disk (what its session is taken to hold). */
  bytesOf(stage: Stage): number {
    return graphBytes(this.pathOf(stage));
  }

  private pathOf(stage: Stage): string {
    const path = this.graphs[stage];
    if (!path) throw new Error(`internal: this model has no ${stage} graph`);
    return path;
  }

  /** The provider a stage runs on now (after any fallback), or the first it will try. */
  providerOf(stage: Stage): Provider {
    return this.current(stage).provider;
  }

  /** The compute type a stage runs in now (after any fallback), or the first it will try. */
  computeOf(stage: Stage): Compute {
    return this.current(stage).compute;
  }

  private current(stage: Stage): Attempt {
    return this.open.get(stage) ?? this.attempts(stage)[this.attemptIndex.get(stage) ?? 0]!;
  }

  /** Provider by provider; on a provider where the transformer computes fp16, fp16 first, then fp32. */
  private attempts(stage: Stage): Attempt[] {
    const half = stage === 'transformer' ? this.opts.half : undefined;
    return this.opts.providers.flatMap((provider): Attempt[] =>
      half?.compute(provider) === 'fp16' ? [{ provider, compute: 'fp16' }, { provider, compute: 'fp32' }] : [{ provider, compute: 'fp32' }],
    );
  }

  /** The graph file a stage's open session was made from (null when it holds none). */
  graphOf(stage: Stage): string | null {
    return this.open.get(stage)?.graph ?? null;
  }

  /** Which stages hold a session right now (for tests and the memory benchmark). */
  resident(): Stage[] {
    return [...this.open.keys()];
  }

  /** Opens a stage's session (evicting others if the budget needs it), falling back on failure. */
  async load(stage: Stage): Promise<void> {
    const hit = this.open.get(stage);
    if (hit) {
      hit.usedAt = ++this.clock;
      return;
    }
    // The fp16 variant shares the stored graph's weights: the stored graph's bytes count for both.
    const path = this.pathOf(stage);
    const bytes = graphBytes(path);
    await this.evictFor(bytes, stage);
    for (;;) {
      const index = this.skipUnusable(stage);
      const attempt = this.attempts(stage)[index]!;
      try {
        const graph =
          stage === 'transformer' && this.opts.transformerGraph ? await this.opts.transformerGraph(attempt) : attempt.compute === 'fp16' ? this.opts.half!.graph() : path;
        const session = await openSession(graph, attempt.provider, this.opts.outputLocations?.(stage, attempt.provider));
        this.open.set(stage, { ...attempt, session, graph, bytes, usedAt: ++this.clock, runs: 0 });
        return;
      } catch (e) {
        if (!this.fallBack(stage, index, `could not load ${stage}`, e)) throw e;
      }
    }
  }

  /**
   * Runs a stage. `check` looks at the outputs: when it objects to an fp16 graph's result, the
   * stage moves to fp32 on the same provider and the run is repeated (at any run, not only the
   * first: an overflow depends on the inputs); for an fp32 graph its objection is an error.
   */
  async run(stage: Stage, feeds: Record<string, ort.Tensor>, check?: ResultCheck): Promise<ort.InferenceSession.ReturnType> {
    for (;;) {
      await this.load(stage);
      const s = this.open.get(stage)!;
      s.usedAt = ++this.clock;
      const index = this.attemptIndex.get(stage) ?? 0;
      let out: ort.InferenceSession.ReturnType;
      try {
        out = await s.session.run(feeds);
      } catch (e) {
        // Only a first run may hand over: later failures mean something else went wrong.
        if (s.runs > 0 || !this.fallBack(stage, index, `${stage} failed on its first run`, e)) throw e;
        await this.close(stage, s);
        continue;
      }
      const objection = (await check?.(out)) ?? null;
      if (objection === null) {
        s.runs++;
        return out;
      }
      const what = `${stage} (${s.compute} compute) gave unusable output`;
      if (s.compute !== 'fp16' || !this.fallBack(stage, index, what, new Error(objection))) throw new Error(`${what}: ${objection}`);
      await this.close(stage, s);
    }
  }

  private async close(stage: Stage, s: Open): Promise<void> {
    this.open.delete(stage);
    await s.session.release().catch(() => undefined);
  }

  async releaseAll(): Promise<void> {
    const sessions = [...this.open.values()];
    this.open.clear();
    await Promise.all(sessions.map((s) => s.session.release()));
  }

  /** The stage's attempt index past providers found unusable by another stage (the last attempt is always kept). */
  private skipUnusable(stage: Stage): number {
    const attempts = this.attempts(stage);
    let index = this.attemptIndex.get(stage) ?? 0;
    while (index < attempts.length - 1 && this.unusable.has(attempts[index]!.provider)) index++;
    this.attemptIndex.set(stage, index);
    return index;
  }

  /**
   * Moves a stage to its next attempt (fp32 on the same provider, or the next provider; past the
   * whole provider when it is unusable here); false when there is none left.
   */
  private fallBack(stage: Stage, index: number, what: string, e: unknown): boolean {
    const attempts = this.attempts(stage);
    const from = attempts[index]!;
    if (providerUnavailable(from.provider, e)) this.unusable.add(from.provider);
    let next = index + 1;
    while (next < attempts.length && this.unusable.has(attempts[next]!.provider)) next++;
    const to = attempts[next];
    if (!to) return false;
    this.attemptIndex.set(stage, next);
    // Compute types are named only where a stage has a choice of them (the transformer with `half`).
    const label = (a: Attempt): string => (attempts.some((x) => x.compute === 'fp16') ? `${a.provider} (${a.compute} compute)` : a.provider);
    const message = `${what} on ${label(from)} (${providerErrorReason(from.provider, e)}); using ${label(to)}`;
    this.fallbacks.push(message);
    this.opts.onFallback?.(message);
    return true;
  }

  /** Releases least recently used sessions until `bytes` more fit (never the stage itself). */
  private async evictFor(bytes: number, stage: Stage): Promise<void> {
    let resident = [...this.open.values()].reduce((sum, s) => sum + s.bytes, 0);
    const byAge = [...this.open.entries()].filter(([s]) => s !== stage).sort((a, b) => a[1].usedAt - b[1].usedAt);
    for (const [name, s] of byAge) {
      if (resident + bytes <= this.budget) break;
      this.open.delete(name);
      resident -= s.bytes;
      await s.session.release();
    }
  }
}
