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
 */
import { statSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { sessionOptions, type Provider } from './providers.ts';

export type Stage = 'textEncoder' | 'transformer' | 'vaeEncoder' | 'vaeDecoder' | 'upsampler';

/** A model's graph per stage; the latent upsampler only in multi-scale models. */
export type StageGraphs = Record<Exclude<Stage, 'upsampler'>, string> & { upsampler?: string };

/** Weights resident at once when nothing else is said: fits a 24 GB GPU with room for activations. */
export const DEFAULT_BUDGET_BYTES = 16 * 1024 ** 3;

export function budgetFromEnv(): number {
  const gb = Number(process.env.RESHOOT_MEMORY_BUDGET_GB);
  return Number.isFinite(gb) && gb > 0 ? gb * 1024 ** 3 : DEFAULT_BUDGET_BYTES;
}

interface Open {
  session: ort.InferenceSession;
  provider: Provider;
  bytes: number;
  usedAt: number;
  runs: number;
}

export interface StageOptions {
  providers: Provider[];
  budgetBytes?: number;
  onFallback?: (message: string) => void;
}

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

async function openSession(path: string, provider: Provider): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, sessionOptions(provider));
}

export class StageSessions {
  private readonly open = new Map<Stage, Open>();
  /** Per stage, the index into `providers` it has reached (fallbacks only move forward). */
  private readonly providerIndex = new Map<Stage, number>();
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
    return this.open.get(stage)?.provider ?? this.opts.providers[this.providerIndex.get(stage) ?? 0]!;
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
    const path = this.pathOf(stage);
    const bytes = graphBytes(path);
    await this.evictFor(bytes, stage);
    for (;;) {
      const index = this.providerIndex.get(stage) ?? 0;
      const provider = this.opts.providers[index]!;
      try {
        const session = await openSession(path, provider);
        this.open.set(stage, { session, provider, bytes, usedAt: ++this.clock, runs: 0 });
        return;
      } catch (e) {
        if (!this.fallBack(stage, index, `could not load ${stage}`, e)) throw e;
      }
    }
  }

  async run(stage: Stage, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.ReturnType> {
    for (;;) {
      await this.load(stage);
      const s = this.open.get(stage)!;
      s.usedAt = ++this.clock;
      try {
        const out = await s.session.run(feeds);
        s.runs++;
        return out;
      } catch (e) {
        // Only a first run may hand over: later failures mean something else went wrong.
        const index = this.providerIndex.get(stage) ?? 0;
        if (s.runs > 0 || !this.fallBack(stage, index, `${stage} failed on its first run`, e)) throw e;
        this.open.delete(stage);
        await s.session.release().catch(() => undefined);
      }
    }
  }

  async releaseAll(): Promise<void> {
    const sessions = [...this.open.values()];
    this.open.clear();
    await Promise.all(sessions.map((s) => s.session.release()));
  }

  /** Moves a stage to the next provider; false when there is none left. */
  private fallBack(stage: Stage, index: number, what: string, e: unknown): boolean {
    const from = this.opts.providers[index]!;
    const to = this.opts.providers[index + 1];
    if (!to) return false;
    this.providerIndex.set(stage, index + 1);
    const message = `${what} on ${from} (${(e as Error).message.split('\n')[0]}); using ${to}`;
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
