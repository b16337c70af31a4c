/**
 * Does this WebGPU adapter's fused attention compute attention? A check run before the
 * transformer uses the fused (com.microsoft.MultiHeadAttention) graph there.
 *
 * Why: onnxruntime 1.30's WebGPU MultiHeadAttention takes a flash-attention path for head sizes
 * that are a multiple of 4 (every real LTX head: 64). On Mesa's lavapipe that path is off by up to
 * 0.2 on unit-scale inputs once there are ≥ 26 queries and > 8 keys, and upstream has reports of
 * the same kernels giving wrong results on hardware GPUs (onnxruntime #26064, the comments on PR
 * #26715, the subgroup fix in PR #27791). A wrong attention does not fail: it paints a wrong
 * picture. So before trusting it, the engine runs a small MHA graph at shapes that take that path
 * (1 head × 64 dims; 64 × 64 self-attention and a 64 queries × 16 keys cross-attention-like case;
 * seeded unit-scale inputs) on the adapter and on the CPU provider, and compares. Above
 * PROBE_TOLERANCE the transformer runs its plain-attention variant on that adapter instead
 * (runtime.ts, computeVariant.ts transformerVariant).
 *
 * Cost: two tiny sessions per provider: 0.4–0.6 s on lavapipe, 1.5 s the first time in a process
 * (Dawn's start-up and shader compiles on the CPU); not yet measured on a hardware GPU.
 * The verdict is cached per process, keyed by provider and the Vulkan driver this process was
 * pointed at: onnxruntime-node gives no way to name or choose the adapter, so within one process
 * the provider always gets the same one. Each Engine runs in its own worker thread (own module
 * state), so the Engine hands the verdicts it knows to each new worker and takes back the ones
 * it measured (`knownVerdicts`, `rememberVerdicts`).
 */
import * as ort from 'onnxruntime-node';
import type { AttentionImpl } from '../models/ltxv/transformer.ts';
import { attr, GraphBuilder } from '../models/onnx/graph.ts';
import { DataType } from '../models/onnx/proto.ts';
import { seededNormals } from '../models/weights.ts';
import { sessionOptions, type Provider } from './providers.ts';

/** What RESHOOT_ATTENTION asks for: `auto` checks the adapter (WebGPU) and otherwise keeps the stored graph's attention. */
export type AttentionChoice = 'auto' | AttentionImpl;
export const ATTENTION_CHOICES: readonly AttentionChoice[] = ['auto', 'fused', 'plain'];

/** The choice from RESHOOT_ATTENTION (default auto); a bad value is one clear error. */
export function attentionChoice(value: string | undefined = process.env.RESHOOT_ATTENTION || 'auto'): AttentionChoice {
  if (!(ATTENTION_CHOICES as readonly string[]).includes(value)) {
    throw new Error(`unknown attention "${value}" (RESHOOT_ATTENTION: one of ${ATTENTION_CHOICES.join(', ')})`);
  }
  return value as AttentionChoice;
}

/**
 * Largest |fused − CPU| allowed on the probe's unit-scale inputs. Exact kernels differ by float
 * rounding (measured 1e-7 on lavapipe below the defect); the defect is 1e-2 … 2e-1. 1e-3 sits
 * between them with two orders of magnitude on either side.
 */
export const PROBE_TOLERANCE = 1e-3;

/** One probe shape: queries × keys, at the head size the flash path takes. */
export interface ProbeCase {
  queries: number;
  keys: number;
}

/** Self-attention at 64 tokens and a 64 × 16 cross-attention: both past the sizes the defect starts at. */
export const PROBE_CASES: readonly ProbeCase[] = [
  { queries: 64, keys: 64 },
  { queries: 64, keys: 16 },
];

const HEAD_DIM = 64;

export interface ProbeVerdict {
  /** False when the fused kernel's result is further than PROBE_TOLERANCE from the CPU's. */
  ok: boolean;
  /** Largest absolute difference over every case. */
  maxError: number;
  /** Per case, for logs and tests. */
  cases: (ProbeCase & { maxError: number })[];
  /** Wall time of the whole check (both providers, every case, session creation included). */
  ms: number;
}

/** The one-node MHA graph of a case, fp32, opened from memory. */
function mhaGraph({ queries, keys }: ProbeCase): Uint8Array {
  const g = new GraphBuilder('attention-probe', () => {
    throw new Error('internal: the attention probe has no weights');
  });
  const q = g.input('q', DataType.FLOAT, [1, queries, HEAD_DIM]);
  const k = g.input('k', DataType.FLOAT, [1, keys, HEAD_DIM]);
  const v = g.input('v', DataType.FLOAT, [1, keys, HEAD_DIM]);
  g.output(g.msOp('MultiHeadAttention', [q, k, v], { num_heads: attr.i(1), scale: attr.f(1 / Math.sqrt(HEAD_DIM)) }), 'o', DataType.FLOAT, [1, queries, HEAD_DIM]);
  return g.toBytes();
}

/** Seeded unit-scale q, k, v for a case (the same inputs every time, so a verdict is reproducible). */
function probeFeeds({ queries, keys }: ProbeCase): Record<string, ort.Tensor> {
  return {
    q: new ort.Tensor('float32', seededNormals(11 + queries, queries * HEAD_DIM), [1, queries, HEAD_DIM]),
    k: new ort.Tensor('float32', seededNormals(23 + keys, keys * HEAD_DIM), [1, keys, HEAD_DIM]),
    v: new ort.Tensor('float32', seededNormals(37 + keys, keys * HEAD_DIM), [1, keys, HEAD_DIM]),
  };
}

async function runCase(provider: Provider, c: ProbeCase): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(mhaGraph(c), sessionOptions(provider));
  try {
    return (await session.run(probeFeeds(c))).o!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** Runs the check on `provider` against the CPU provider, uncached. Throws when the provider cannot run the graph at all. */
export async function measureFusedAttention(provider: Provider, cases: readonly ProbeCase[] = PROBE_CASES): Promise<ProbeVerdict> {
  const t0 = performance.now();
  const out: ProbeVerdict['cases'] = [];
  for (const c of cases) {
    const ref = await runCase('cpu', c);
    const got = await runCase(provider, c);
    let max = 0;
    // NaN counts as failing: Math.max would carry it, and NaN > tolerance is false.
    for (let i = 0; i < ref.length; i++) {
      const d = Math.abs(ref[i]! - got[i]!);
      max = Number.isNaN(d) ? Infinity : Math.max(max, d);
    }
    out.push({ ...c, maxError: max });
  }
  const maxError = Math.max(...out.map((c) => c.maxError));
  return { ok: maxError <= PROBE_TOLERANCE, maxError, cases: out, ms: performance.now() - t0 };
}

const verdicts = new Map<string, Promise<ProbeVerdict>>();
/** Settled verdicts, by adapter key (what crosses to and from worker threads). */
const settled = new Map<string, ProbeVerdict>();

/** The verdicts this thread has measured or been given, by adapter key. */
export function knownVerdicts(): Record<string, ProbeVerdict> {
  return Object.fromEntries(settled);
}

/** Takes verdicts measured in another thread of this process (the Engine passes them to its worker). */
export function rememberVerdicts(known: Record<string, ProbeVerdict>): void {
  for (const [key, v] of Object.entries(known)) {
    if (verdicts.has(key)) continue;
    settled.set(key, v);
    verdicts.set(key, Promise.resolve(v));
  }
}

/** The adapter a provider gets in this process, as far as Node can tell (see the header). */
export function adapterKey(provider: Provider): string {
  return `${provider}|${process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES ?? ''}`;
}

/** `measureFusedAttention` once per provider and adapter in this thread; later calls get the same verdict. */
export function probeFusedAttention(provider: Provider): Promise<ProbeVerdict> {
  const key = adapterKey(provider);
  let v = verdicts.get(key);
  if (!v) {
    v = measureFusedAttention(provider);
    v.then((x) => settled.set(key, x), () => undefined);
    // A probe that could not run (no adapter) is not cached: it says nothing about the kernel.
    v.catch(() => verdicts.delete(key));
    verdicts.set(key, v);
  }
  return v;
}

/** The message an editor sees when the fused kernel fails its check. */
export function failedProbeMessage(provider: Provider, v: ProbeVerdict): string {
  const name = provider === 'webgpu' ? 'WebGPU' : provider;
  return `${name}'s fused attention fails its check on this adapter (max error ${v.maxError.toPrecision(2)}, tolerance ${PROBE_TOLERANCE}); using plain attention, which holds the score matrix: more memory`;
}
