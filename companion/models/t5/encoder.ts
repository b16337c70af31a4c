/**
 * The T5 encoder (HF transformers `T5EncoderModel`, modeling_t5.py) as an ONNX graph, under the
 * checkpoint's own state-dict names so a `text_encoder/` safetensors file maps onto it one to one:
 *
 *   shared.weight                                              [vocab, d_model]
 *   encoder.block.{i}.layer.0.layer_norm.weight                [d_model]
 *   encoder.block.{i}.layer.0.SelfAttention.{q,k,v}.weight     [heads·d_kv, d_model]
 *   encoder.block.{i}.layer.0.SelfAttention.o.weight           [d_model, heads·d_kv]
 *   encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight   [buckets, heads]  (block 0 only)
 *   encoder.block.{i}.layer.1.layer_norm.weight                [d_model]
 *   encoder.block.{i}.layer.1.DenseReluDense.wi_0.weight       [d_ff, d_model]   (gated-gelu)
 *   encoder.block.{i}.layer.1.DenseReluDense.wi_1.weight       [d_ff, d_model]   (gated-gelu)
 *   encoder.block.{i}.layer.1.DenseReluDense.wi.weight         [d_ff, d_model]   (relu)
 *   encoder.block.{i}.layer.1.DenseReluDense.wo.weight         [d_model, d_ff]
 *   encoder.final_layer_norm.weight                            [d_model]
 *
 * No biases anywhere. `encoder.embed_tokens.weight` is the same tensor as `shared.weight` (tied;
 * save_pretrained usually stores only `shared.weight`): the graph declares `shared.weight` and
 * `t5CheckpointWeights` falls back to the other name when a file stores only that one.
 *
 * The forward, as modeling_t5.py computes it in eval mode (dropout off):
 *   h = shared[input_ids]                        (no scaling of the embedding)
 *   bias = relative_attention_bias[bucket(j - i)] (block 0's table, shared by every block)
 *        + (attention_mask == 0 ? finfo(float32).min : 0)   over keys j
 *   per block: h += o(softmax(q kᵀ + bias) v)  with q, k, v from T5LayerNorm(h); NO 1/√d_kv scale
 *              h += wo(gelu_tanh(wi_0 n) · wi_1 n)  with n = T5LayerNorm(h)    (relu: wo(relu(wi n)))
 *   last_hidden_state = T5LayerNorm(h) with encoder.final_layer_norm.weight
 * T5LayerNorm is RMS-only: h · rsqrt(mean(h²) + eps) · weight, no mean subtraction, no bias.
 *
 * Precision: everything here is float32, deliberately. T5 v1.1's feed-forward output and residual
 * stream exceed float16's range (HF keeps `wo` in fp32: `_keep_in_fp32_modules = ["wo"]`, issue #20287),
 * and the mask bias finfo(float32).min is not representable in fp16. Whoever stores weights in fp16
 * must Cast them back to fp32 before use and keep the activations fp32.
 *
 * Graph I/O (../types.ts): in input_ids int64 [B, L], attention_mask int64 [B, L];
 * out last_hidden_state float32 [B, L, d_model]. L is dynamic.
 */
import { ReshootError } from '../../errors.ts';
import { DataType } from '../onnx/proto.ts';
import { GraphBuilder, type ParamDecl, type SavedGraph, type WeightSource } from '../onnx/graph.ts';
import { seededWeights } from '../weights.ts';
import type { T5Config } from './config.ts';

/** torch.finfo(torch.float32).min: what HF adds for masked keys (extended attention mask). */
export const T5_MASK_BIAS = -3.4028234663852886e38;

/**
 * HF `T5Attention._relative_position_bucket` for the encoder (bidirectional = true), for one
 * relative position `relative = j - i` (key position minus query position).
 *
 * Half the buckets are for j > i (offset numBuckets/2), half for j ≤ i. Within a half, distances
 * below maxExact = half/2 get their own bucket; larger ones get
 *   maxExact + trunc(log(d / maxExact) / log(maxDistance / maxExact) · (half - maxExact)),
 * capped at half - 1. The log term is computed in float32 as torch does (relative_position.float()),
 * rounding after each operation, so buckets at boundaries match PyTorch's.
 */
export function t5RelativePositionBucket(relative: number, numBuckets: number, maxDistance: number): number {
  const f = Math.fround;
  const half = Math.floor(numBuckets / 2);
  let bucket = relative > 0 ? half : 0;
  const d = Math.abs(relative);
  const maxExact = Math.floor(half / 2);
  if (d < maxExact) return bucket + d;
  const logRatio = f(Math.log(f(d / maxExact)));
  const scaled = f(f(logRatio / f(Math.log(maxDistance / maxExact))) * (half - maxExact));
  bucket += Math.min(maxExact + Math.trunc(scaled), half - 1);
  return bucket;
}

/**
 * Buckets for relative positions -maxDistance … +maxDistance (index = relative + maxDistance).
 * Beyond ±maxDistance the bucket no longer changes (it is capped), so the graph clips j - i to
 * that range and looks the bucket up here; any sequence length works.
 */
export function t5BucketTable(c: Pick<T5Config, 'numBuckets' | 'maxDistance'>): number[] {
  const out: number[] = [];
  for (let r = -c.maxDistance; r <= c.maxDistance; r++) out.push(t5RelativePositionBucket(r, c.numBuckets, c.maxDistance));
  return out;
}

const innerDim = (c: T5Config): number => c.numHeads * c.dKv;

/** T5LayerNorm: h · rsqrt(mean(h²) + eps) · weight (fp32; no mean subtraction, no bias). */
function t5LayerNorm(g: GraphBuilder, x: string, weight: string, c: T5Config): string {
  return g.rmsNorm(x, c.eps, { name: weight, dim: c.dModel });
}

/** Relative-position bias [1, H, L, L] from block 0's table, for the L of `ids`. */
function positionBias(g: GraphBuilder, c: T5Config, ids: string): string {
  return g.scope('encoder.block.0.layer.0.SelfAttention.relative_attention_bias', () => {
    const L = g.gather(g.shape(ids), 1, 0); // int64 scalar
    const pos = g.op('Range', [g.ints([0], []), L, g.ints([1], [])]); // [L]
    const rel = g.sub(g.unsqueeze(pos, [0]), g.unsqueeze(pos, [1])); // [L, L]: rel[i, j] = j - i
    const clipped = g.op('Clip', [rel, g.ints([-c.maxDistance], []), g.ints([c.maxDistance], [])]);
    const index = g.add(clipped, g.ints([c.maxDistance], []));
    const buckets = g.op('Gather', [g.ints(t5BucketTable(c)), index], {}); // [L, L] int64
    const table = g.param('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight', [c.numBuckets, c.numHeads], {
      kind: 'embedding',
    });
    const values = g.op('Gather', [table, buckets], {}); // [L, L, H]
    return g.unsqueeze(g.transpose(values, [2, 0, 1]), [0]); // [1, H, L, L]
  });
}

/** T5Attention (encoder self-attention): no biases, no 1/√d_kv scaling, additive `bias`. */
function selfAttention(g: GraphBuilder, c: T5Config, prefix: string, x: string, bias: string): string {
  return g.scope(prefix, () => {
    const D = c.dModel;
    const inner = innerDim(c);
    const heads = (t: string, perm: number[]): string => g.transpose(g.reshape(t, [0, 0, c.numHeads, c.dKv]), perm);
    const q = heads(g.linear(x, `${prefix}.q`, D, inner, false), [0, 2, 1, 3]); // [B, H, L, Dk]
    const k = heads(g.linear(x, `${prefix}.k`, D, inner, false), [0, 2, 3, 1]); // [B, H, Dk, L]
    const v = heads(g.linear(x, `${prefix}.v`, D, inner, false), [0, 2, 1, 3]);
    const scores = g.add(g.matmul(q, k), bias); // [B, H, L, L]
    const out = g.matmul(g.softmax(scores, -1), v); // [B, H, L, Dk]
    const merged = g.reshape(g.transpose(out, [0, 2, 1, 3]), [0, 0, inner]);
    return g.linear(merged, `${prefix}.o`, inner, D, false);
  });
}

/** T5DenseGatedActDense (gated-gelu, gelu_new) or T5DenseActDense (relu). */
function feedForward(g: GraphBuilder, c: T5Config, prefix: string, x: string): string {
  return g.scope(prefix, () => {
    const D = c.dModel;
    let hidden: string;
    if (c.feedForward === 'gated-gelu') {
      const gate = g.geluTanh(g.linear(x, `${prefix}.wi_0`, D, c.dFf, false));
      hidden = g.mul(gate, g.linear(x, `${prefix}.wi_1`, D, c.dFf, false));
    } else {
      hidden = g.op('Relu', [g.linear(x, `${prefix}.wi`, D, c.dFf, false)]);
    }
    return g.linear(hidden, `${prefix}.wo`, c.dFf, D, false);
  });
}

/** Builds the encoder graph in memory; parameters are fetched from `weights` on save. */
export function t5EncoderGraph(c: T5Config, weights: WeightSource): GraphBuilder {
  const g = new GraphBuilder('t5_encoder', weights);
  const ids = g.input('input_ids', DataType.INT64, ['batch', 'text_tokens']);
  const mask = g.input('attention_mask', DataType.INT64, ['batch', 'text_tokens']);

  const shared = g.param('shared.weight', [c.vocabSize, c.dModel], { kind: 'embedding' });
  let h = g.op('Gather', [shared, ids], {}); // [B, L, D]

  // The additive bias every block uses: position bias (block 0's table) + key mask, [B, H, L, L].
  // Where, not (1 - mask) · min: no 0 · huge products, so the mask cannot turn into NaN.
  const isPad = g.op('Equal', [mask, g.ints([0], [])]);
  const maskBias = g.reshape(g.op('Where', [isPad, g.scalar(T5_MASK_BIAS), g.scalar(0)]), [0, 1, 1, -1]); // [B, 1, 1, L]
  const bias = g.add(positionBias(g, c, ids), maskBias);

  for (let i = 0; i < c.numLayers; i++) {
    const p = `encoder.block.${i}`;
    g.scope(p, () => {
      const n1 = t5LayerNorm(g, h, `${p}.layer.0.layer_norm.weight`, c);
      h = g.add(h, selfAttention(g, c, `${p}.layer.0.SelfAttention`, n1, bias));
      const n2 = t5LayerNorm(g, h, `${p}.layer.1.layer_norm.weight`, c);
      h = g.add(h, feedForward(g, c, `${p}.layer.1.DenseReluDense`, n2));
    });
  }
  const out = t5LayerNorm(g, h, 'encoder.final_layer_norm.weight', c);
  g.output(out, 'last_hidden_state', DataType.FLOAT, ['batch', 'text_tokens', c.dModel]);
  return g;
}

/** The parameters the encoder graph declares (state-dict name, shape, init), in save order. */
export function t5EncoderParams(c: T5Config): ParamDecl[] {
  return t5EncoderGraph(c, (name) => {
    throw new Error(`t5EncoderParams does not read weights (asked for ${name})`);
  }).paramList();
}

/** Other names a checkpoint may store a graph parameter under (tied weights). */
export const T5_WEIGHT_ALIASES: Readonly<Record<string, readonly string[]>> = {
  'shared.weight': ['encoder.embed_tokens.weight'],
};

/**
 * A WeightSource over a checkpoint lookup (`get` returns undefined for absent names): tries the
 * graph's name, then its aliases (so a file storing only `encoder.embed_tokens.weight` works), and
 * checks the element count. `source` names the checkpoint in errors.
 */
export function t5CheckpointWeights(get: (name: string) => Float32Array | undefined, source = 'text_encoder'): WeightSource {
  return (name, dims) => {
    const names = [name, ...(T5_WEIGHT_ALIASES[name] ?? [])];
    for (const n of names) {
      const values = get(n);
      if (!values) continue;
      const want = dims.reduce((a, b) => a * b, 1);
      if (values.length !== want) {
        throw new ReshootError('model', `${source}: ${n} has ${values.length} values, expected [${dims.join(', ')}] = ${want}`);
      }
      return values;
    }
    throw new ReshootError('model', `${source}: missing weight ${names.join(' (or ')}${names.length > 1 ? ')' : ''}`);
  };
}

/** Writes `text_encoder.onnx` (+ `.data`) with seeded random weights, for tests and the tiny model. */
export function buildT5Encoder(c: T5Config, outDir: string, opts: { seed: number; fileName?: string }): SavedGraph {
  return t5EncoderGraph(c, seededWeights(opts.seed)).save(outDir, opts.fileName ?? 'text_encoder.onnx');
}
