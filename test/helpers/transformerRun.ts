/**
 * Seeded inputs for a transformer graph and one run of it on ONNX Runtime's CPU provider: what
 * the variant parity tests (attention, precision, quantization) feed every variant alike.
 */
import * as ort from 'onnxruntime-node';
import { ltxRope } from '../../companion/models/ltxv/rope.ts';
import { seededNormals } from '../../companion/models/weights.ts';
import type { TransformerConfig } from '../../companion/models/types.ts';

export interface TransformerFeeds {
  batch: number;
  tokens: number;
  feeds: Record<string, ort.Tensor>;
}

/** Batch `batch`, a latent grid, `textTokens` text tokens with the last third padded out. */
export function transformerFeeds(c: TransformerConfig, o: { batch: number; grid: { frames: number; height: number; width: number }; textTokens: number; seed?: number }): TransformerFeeds {
  const B = o.batch;
  const S = o.grid.frames * o.grid.height * o.grid.width;
  const L = o.textTokens;
  const D = c.numAttentionHeads * c.attentionHeadDim;
  const seed = o.seed ?? 1;
  const rope = ltxRope({ dim: D, ...o.grid, frameRate: 25, spatial: 32, temporal: 8, ...c.rope });
  const perBatch = (t: Float32Array): Float32Array => {
    const out = new Float32Array(B * t.length);
    for (let b = 0; b < B; b++) out.set(t, b * t.length);
    return out;
  };
  const mask = Float32Array.from({ length: B * L }, (_, i) => (i % L < L - Math.floor(L / 3) ? 1 : 0));
  // Per-token timesteps across the whole range, some tokens known (t = 0).
  const timestep = Float32Array.from(seededNormals(seed + 2, B * S), (v, i) => (i % 7 === 0 ? 0 : Math.min(1000, Math.abs(v) * 400)));
  return {
    batch: B,
    tokens: S,
    feeds: {
      hidden_states: new ort.Tensor('float32', seededNormals(seed, B * S * c.inChannels), [B, S, c.inChannels]),
      encoder_hidden_states: new ort.Tensor('float32', seededNormals(seed + 1, B * L * c.captionChannels), [B, L, c.captionChannels]),
      encoder_attention_mask: new ort.Tensor('float32', mask, [B, L]),
      timestep: new ort.Tensor('float32', timestep, [B, S]),
      rope_cos: new ort.Tensor('float32', perBatch(rope.cos), [B, S, D]),
      rope_sin: new ort.Tensor('float32', perBatch(rope.sin), [B, S, D]),
    },
  };
}

/** One run on the CPU provider with the engine's optimisation level; returns the velocity. */
export async function runTransformer(path: string, feeds: TransformerFeeds): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
  try {
    const out = await session.run(feeds.feeds);
    return out.velocity!.data as Float32Array;
  } finally {
    await session.release();
  }
}
