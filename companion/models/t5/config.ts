/**
 * The T5 encoder configuration, read from a checkpoint's `text_encoder/config.json` (the fields of
 * HF transformers' `T5Config` that the encoder uses), checked with zod so that a config we cannot
 * build is refused up front with the field named, not discovered as a shape error mid-conversion.
 *
 * Supported: T5 v1.1 (`feed_forward_proj: "gated-gelu"`, as `google/t5-v1_1-xxl` used by
 * LTX-Video) and the original T5 (`"relu"`). Defaults where a field is absent are T5Config's own
 * (buckets 32, max distance 128, eps 1e-6, feed_forward_proj "relu"); the size fields have no
 * sensible default and are required.
 */
import { z } from 'zod';
import { ReshootError } from '../../errors.ts';

export interface T5Config {
  /** Width of the residual stream (`d_model`); the encoder's output channels. */
  dModel: number;
  /** Per-head width (`d_kv`); inner attention width is numHeads × dKv (need not equal dModel). */
  dKv: number;
  numHeads: number;
  /** Feed-forward width (`d_ff`). */
  dFf: number;
  /** Encoder blocks (`num_layers`). */
  numLayers: number;
  /** `relative_attention_num_buckets` (the encoder is bidirectional: half per direction). */
  numBuckets: number;
  /** `relative_attention_max_distance`: relative positions at least this far share a bucket. */
  maxDistance: number;
  /** `layer_norm_epsilon` of every T5LayerNorm. */
  eps: number;
  /** Rows of `shared.weight` (`vocab_size`; 32128 for T5, padded past the 32100 used ids). */
  vocabSize: number;
  /**
   * `gated-gelu`: T5DenseGatedActDense, wo(gelu_new(wi_0 x) · wi_1 x), gelu_new = tanh approximation
   * (T5Config maps "gated-gelu" to dense_act_fn "gelu_new"). `relu`: T5DenseActDense, wo(relu(wi x)).
   */
  feedForward: 'gated-gelu' | 'relu';
}

const positiveInt = z.number().int().positive();

const schema = z.object({
  model_type: z.literal('t5').optional(),
  d_model: positiveInt,
  d_kv: positiveInt,
  num_heads: positiveInt,
  d_ff: positiveInt,
  num_layers: positiveInt,
  vocab_size: positiveInt,
  relative_attention_num_buckets: z.number().int().min(4).default(32),
  relative_attention_max_distance: positiveInt.default(128),
  layer_norm_epsilon: z.number().positive().max(0.1).default(1e-6),
  feed_forward_proj: z.string().default('relu'),
  dense_act_fn: z.string().optional(),
  is_gated_act: z.boolean().optional(),
});

/** Parses a T5 `config.json` (object or JSON text). `source` names the file in error messages. */
export function parseT5Config(json: unknown, source = 'config.json'): T5Config {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw new ReshootError('model', `${source}: not valid JSON (${(e as Error).message})`);
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.length ? issue.path.join('.') : '(root)';
    throw new ReshootError('model', `${source}: field ${field}: ${issue.message}`);
  }
  const c = parsed.data;
  const ff = c.feed_forward_proj;
  if (ff !== 'gated-gelu' && ff !== 'relu') {
    throw new ReshootError(
      'model',
      `${source}: field feed_forward_proj is "${ff}"; only "gated-gelu" (T5 v1.1) and "relu" (original T5) can be built`,
    );
  }
  // T5Config derives dense_act_fn ("gated-gelu" → gelu_new, "relu" → relu) and is_gated_act from
  // feed_forward_proj, but PretrainedConfig then sets every other key of config.json as given, so
  // explicit values in the file win: they must agree with what we build.
  const acts = ff === 'gated-gelu' ? ['gelu_new', 'gelu_pytorch_tanh'] : ['relu'];
  if (c.dense_act_fn !== undefined && !acts.includes(c.dense_act_fn)) {
    throw new ReshootError(
      'model',
      `${source}: field dense_act_fn is "${c.dense_act_fn}"; with feed_forward_proj "${ff}" only ${acts.map((a) => `"${a}"`).join(' or ')} can be built`,
    );
  }
  if (c.is_gated_act !== undefined && c.is_gated_act !== (ff === 'gated-gelu')) {
    throw new ReshootError('model', `${source}: field is_gated_act is ${c.is_gated_act} but feed_forward_proj is "${ff}"`);
  }
  const maxExact = Math.floor(Math.floor(c.relative_attention_num_buckets / 2) / 2);
  if (c.relative_attention_max_distance <= maxExact) {
    throw new ReshootError(
      'model',
      `${source}: field relative_attention_max_distance (${c.relative_attention_max_distance}) must exceed the ${maxExact} exact buckets`,
    );
  }
  return {
    dModel: c.d_model,
    dKv: c.d_kv,
    numHeads: c.num_heads,
    dFf: c.d_ff,
    numLayers: c.num_layers,
    numBuckets: c.relative_attention_num_buckets,
    maxDistance: c.relative_attention_max_distance,
    eps: c.layer_norm_epsilon,
    vocabSize: c.vocab_size,
    feedForward: ff,
  };
}
