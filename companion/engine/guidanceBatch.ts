/**
 * One step's transformer passes (conditional, unconditional, perturbed) in one batch when the
 * memory budget allows, else one after the other. The authors always batch them; on a GPU that
 * holds the transformer with little room to spare, three times the activations may not fit, and
 * running the passes in turn gives the same velocities (each batch element is computed on its
 * own: only float summation order can differ) at up to three times the step time.
 *
 * The check is an estimate made before the step, against RESHOOT_MEMORY_BUDGET_GB (the budget the
 * stages are held within, stages.ts): transformer weights + the batch's peak activations.
 */
import type { TransformerConfig } from '../models/types.ts';
import type { Rope, TextEmbedding } from './generate.ts';
import type { ModelRuntime } from './runtime.ts';

/**
 * Peak activation bytes of one transformer call (float32), estimated per batch element as the
 * tensors one block holds at once: ~24 values per token and model dim (hidden state, norms, Q/K/V,
 * attention output, the 4×-wide MLP before and after its activation, the per-token adaLN
 * modulation (6×), RoPE cos/sin), the text's keys/values and cross-attention scores, and — when
 * attention is not fused — the self-attention score matrix with its softmax (2 × heads × S²).
 */
export function activationBytes(t: TransformerConfig, batch: number, tokens: number, textTokens: number, fusedAttention: boolean): number {
  const D = t.numAttentionHeads * t.attentionHeadDim;
  const H = t.numAttentionHeads;
  const perElement = 24 * tokens * D + 2 * textTokens * D + H * tokens * textTokens + (fusedAttention ? 0 : 2 * H * tokens * tokens);
  return 4 * batch * perElement;
}

/** Whether a batch of `batch` passes fits the budget next to the transformer's weights. */
export function batchFits(rt: Pick<ModelRuntime, 'manifest' | 'budgetBytes' | 'transformerBytes' | 'fusedAttention'>, batch: number, tokens: number, textTokens: number): boolean {
  return rt.transformerBytes + activationBytes(rt.manifest.transformer, batch, tokens, textTokens, rt.fusedAttention) <= rt.budgetBytes;
}

/**
 * Velocities [batch, S, C] for `texts.length` passes over the same tokens x [S, C] and timesteps
 * [S]: one call with the batch stacked when it fits the budget, else one call per pass.
 * `perturb` [numLayers, batch] marks the perturbed blocks of each pass (STG).
 */
export async function batchedVelocity(
  rt: ModelRuntime,
  x: Float32Array,
  timestep: Float32Array,
  texts: readonly TextEmbedding[],
  rope: Rope,
  perturb?: Float32Array,
): Promise<Float32Array> {
  const batch = texts.length;
  const S = timestep.length;
  const textTokens = texts[0]!.mask.length / texts[0]!.batch;
  if (batch === 1 || batchFits(rt, batch, S, textTokens)) {
    return rt.velocity(repeatBatch(x, batch), batch, repeatBatch(timestep, batch), stackText(texts), rope, perturb);
  }
  const layers = rt.manifest.transformer.numLayers;
  const out = new Float32Array(batch * x.length);
  for (let b = 0; b < batch; b++) {
    let one: Float32Array | undefined;
    if (perturb) {
      one = new Float32Array(layers);
      for (let l = 0; l < layers; l++) one[l] = perturb[l * batch + b]!;
    }
    out.set(await rt.velocity(x, 1, timestep, texts[b]!, rope, one), b * x.length);
  }
  return out;
}

/** `a` repeated `times` times back to back: one tensor per batch element, the same for each. */
export function repeatBatch(a: Float32Array, times: number): Float32Array {
  const out = new Float32Array(a.length * times);
  for (let i = 0; i < times; i++) out.set(a, i * a.length);
  return out;
}

export function stackText(texts: readonly TextEmbedding[]): TextEmbedding {
  const embeds = new Float32Array(texts.reduce((n, t) => n + t.embeds.length, 0));
  const mask = new Float32Array(texts.reduce((n, t) => n + t.mask.length, 0));
  let e = 0;
  let k = 0;
  for (const t of texts) {
    embeds.set(t.embeds, e);
    mask.set(t.mask, k);
    e += t.embeds.length;
    k += t.mask.length;
  }
  return { embeds, mask, batch: texts.reduce((n, t) => n + t.batch, 0) };
}
