/**
 * The LTX-Video transformer as an ONNX graph, read top to bottom like diffusers'
 * `LTXVideoTransformer3DModel` (src/diffusers/models/transformers/transformer_ltx.py), whose
 * state-dict names and shapes it keeps so a diffusers checkpoint maps onto it one to one.
 *
 * Fixed by the LTX config and so not parameters here: patch_size = patch_size_t = 1,
 * activation_fn "gelu-approximate", qk_norm "rms_norm_across_heads", norm_elementwise_affine
 * false, attention_bias / attention_out_bias true.
 *
 * Differences from the diffusers forward, both at the graph boundary only:
 *   - RoPE cos/sin are graph inputs (computed by `ltxRope` in TypeScript), so the graph does not
 *     depend on the video's frame count, size or frame rate;
 *   - `encoder_attention_mask` arrives as 0/1 and is turned into the additive bias inside.
 *
 * Spatio-temporal guidance (STG) when `config.stg` is set: an extra input `stg_perturb`
 * [numLayers, B] picks, per block and batch element, a perturbed self-attention — the block
 * passes on its values V ('attention_values') or its input ('attention_skip') instead of the
 * attention output, before to_out, as the authors' attention processor does. The same weights
 * serve the plain and the perturbed batch elements; 0 everywhere gives the plain output exactly.
 *
 * Graph I/O: see ../types.ts.
 */
import type { StgMode } from '../recipe.ts';
import type { TransformerConfig } from '../types.ts';
import { DataType } from '../onnx/proto.ts';
import { attr, GraphBuilder, type ComputeType, type SavedGraph, type WeightSource } from '../onnx/graph.ts';
import { seededWeights } from '../weights.ts';

/** Channels of the sinusoidal timestep projection (diffusers: Timesteps(num_channels=256)). */
export const TIMESTEP_CHANNELS = 256;

/** Additive bias for padded text tokens: diffusers uses (1 - mask) * -10000.0. */
export const MASK_BIAS = -10000;

/** RMSNorm eps inside LTXAttention (norm_q / norm_k): hard-coded 1e-5 in diffusers. */
export const QK_NORM_EPS = 1e-5;

/** norm_out eps: nn.LayerNorm(inner_dim, eps=1e-6, elementwise_affine=False). */
export const NORM_OUT_EPS = 1e-6;

/**
 * Weights that `--precision int8|int4` quantizes: every Linear inside the transformer blocks
 * (≈ 98% of the 2B and 13B weights). proj_in/out, the timestep and caption embeddings stay fp16:
 * small, and the first and last layers are the most sensitive to quantization.
 */
export const LTXV_QUANTIZE = /^transformer_blocks\.\d+\./;

export const innerDim = (c: TransformerConfig): number => c.numAttentionHeads * c.attentionHeadDim;

/**
 * Frequencies of the timestep projection, computed in float32 steps as get_timestep_embedding
 * does: exp(-ln(max_period) · i / (half - downscale_freq_shift)), downscale_freq_shift = 0.
 */
export function timestepFrequencies(channels = TIMESTEP_CHANNELS, maxPeriod = 10000): Float32Array {
  const half = channels / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const exponent = Math.fround(Math.fround(-Math.log(maxPeriod) * i) / half);
    out[i] = Math.exp(exponent);
  }
  return out;
}

/**
 * How attention is computed; both give the same numbers (see test/models/attention.test.ts).
 *   - `fused`: ONNX Runtime's `com.microsoft.MultiHeadAttention`, which CUDA, WebGPU, DirectML and
 *     the CPU provider run with flash / memory-efficient kernels: the [B, H, S, L] score matrix is
 *     never held (4.8 GB per layer at the 2B shape and 6,144 tokens in the plain graph).
 *   - `plain`: MatMul → Softmax → MatMul in standard ONNX, for a runtime without contrib ops.
 */
export type AttentionImpl = 'fused' | 'plain';

export interface TransformerGraphOptions {
  /** Default `fused`: every provider in companion/engine/providers.ts runs it (measured in bench/attention.ts). */
  attention?: AttentionImpl;
  /**
   * Default `fp32`. `fp16`: matmuls, attention and activations in half precision (for GPU
   * providers), norm statistics, softmax and the timestep embedding in fp32; inputs and the
   * velocity stay float32 at the graph boundary.
   */
  compute?: ComputeType;
}

/**
 * The text-token mask in the form each attention implementation takes, built once per graph:
 * `plain` adds (1 - mask) · -10000 to the scores ([B, 1, 1, L], broadcast over heads and tokens);
 * `fused` passes the same additive bias as MultiHeadAttention's attention_bias, expanded to
 * [B, 1, S, L] because the op checks its third dimension against the query length.
 * Why not the op's key_padding_mask [B, L]: the WebGPU provider has no kernel for it ("input
 * `key_padding_mask` not implemented for webgpu", onnxruntime 1.30), while every provider takes
 * attention_bias. [B, 1, S, L] is small next to the activations (6 MB at 6,144 tokens, 128 text
 * tokens, batch 2) and only cross-attention has it: self-attention stays unmasked and fused.
 * `hidden` is any [B, S, …] tensor that gives S.
 */
export function textMaskFor(g: GraphBuilder, impl: AttentionImpl, mask: string, hidden: string): string {
  const bias = g.reshape(g.mul(g.sub(g.scalar(1), g.toCompute(mask)), g.scalar(MASK_BIAS)), [0, 1, 1, -1]);
  if (impl === 'plain') return bias;
  const tokens = g.op('Slice', [g.op('Shape', [hidden]), g.ints([1]), g.ints([2])]);
  return g.op('Expand', [bias, g.op('Concat', [g.ints([1, 1]), tokens, g.ints([1])], { axis: attr.i(0) })]);
}

/**
 * The attention core, softmax(q·kᵀ/√Dh + mask)·v over `heads` heads: q [B, S, D], k and v
 * [B, L, D] → [B, S, D]. Everything that changes how attention is computed lives behind this one
 * function (callers wrap it, e.g. spatio-temporal guidance swaps its output for v).
 * `mask` comes from `textMaskFor` with the same `impl`.
 */
export function attentionCore(
  g: GraphBuilder,
  q: string,
  k: string,
  v: string,
  o: { heads: number; headDim: number; impl: AttentionImpl; mask?: string },
): string {
  const { heads: H, headDim: Dh } = o;
  if (o.impl === 'fused') {
    // Inputs: query, key, value, bias, key_padding_mask, attention_bias. Scale defaults to 1/√Dh; set it anyway.
    const inputs = o.mask ? [q, k, v, '', '', o.mask] : [q, k, v];
    return g.msOp('MultiHeadAttention', inputs, { num_heads: attr.i(H), scale: attr.f(1 / Math.sqrt(Dh)) });
  }
  // [B, S, D] → [B, H, S, Dh] (k: [B, H, Dh, L] so one MatMul gives the scores).
  const qh = g.transpose(g.reshape(q, [0, 0, H, Dh]), [0, 2, 1, 3]);
  const kh = g.transpose(g.reshape(k, [0, 0, H, Dh]), [0, 2, 3, 1]);
  const vh = g.transpose(g.reshape(v, [0, 0, H, Dh]), [0, 2, 1, 3]);
  let scores = g.mul(g.matmul(qh, kh), g.scalar(1 / Math.sqrt(Dh)));
  if (o.mask) scores = g.add(scores, o.mask);
  const out = g.matmul(g.softmax(scores, -1), vh);
  return g.reshape(g.transpose(out, [0, 2, 1, 3]), [0, 0, H * Dh]);
}

interface Ctx {
  g: GraphBuilder;
  c: TransformerConfig;
  D: number;
  impl: AttentionImpl;
}

/**
 * LTXAttention with LTXVideoAttnProcessor: q/k/v projections, RMSNorm across all heads on q and
 * k, RoPE (self-attention only) after the norm, scaled dot-product attention, to_out.0.
 */
function attention(
  { g, c, D, impl }: Ctx,
  prefix: string,
  x: string,
  context: string,
  contextDim: number,
  opts: { rope?: { cos: string; sin: string }; mask?: string; stg?: StgSwitch },
): string {
  return g.scope(prefix, () => {
    let q = g.linear(x, `${prefix}.to_q`, D, D);
    let k = g.linear(context, `${prefix}.to_k`, contextDim, D);
    const v = g.linear(context, `${prefix}.to_v`, contextDim, D);
    q = g.rmsNorm(q, QK_NORM_EPS, { name: `${prefix}.norm_q.weight`, dim: D });
    k = g.rmsNorm(k, QK_NORM_EPS, { name: `${prefix}.norm_k.weight`, dim: D });
    if (opts.rope) {
      q = applyRotaryEmb(g, q, opts.rope.cos, opts.rope.sin);
      k = applyRotaryEmb(g, k, opts.rope.cos, opts.rope.sin);
    }
    let merged = attentionCore(g, q, k, v, { heads: c.numAttentionHeads, headDim: c.attentionHeadDim, impl, mask: opts.mask });
    // STG: what goes into to_out for the perturbed batch elements (the authors' processor).
    if (opts.stg) merged = g.op('Where', [opts.stg.perturbed, opts.stg.mode === 'attention_values' ? v : x, merged]);
    return g.linear(merged, `${prefix}.to_out.0`, D, D);
  });
}

/** STG for one block: `perturbed` is bool [B, 1, 1] (this block, each batch element). */
interface StgSwitch {
  mode: StgMode;
  perturbed: string;
}

/**
 * diffusers apply_rotary_emb: pairs (x[2i], x[2i+1]) over the full inner dim;
 * x_rot = stack(-x_odd, x_even) interleaved; out = x·cos + x_rot·sin.
 */
function applyRotaryEmb(g: GraphBuilder, x: string, cos: string, sin: string): string {
  const pairs = g.reshape(x, [0, 0, -1, 2]); // [B, S, D/2, 2]
  const even = g.gather(pairs, [0], 3); // [B, S, D/2, 1]
  const odd = g.gather(pairs, [1], 3);
  const rotated = g.reshape(g.concat([g.neg(odd), even], 3), [0, 0, -1]);
  return g.add(g.mul(x, cos), g.mul(rotated, sin));
}

/** LTXVideoTransformerBlock.forward. `ada` are the six per-token modulation tensors [B, S, D]. */
function block(
  ctx: Ctx,
  i: number,
  x: string,
  text: string,
  temb: string,
  rope: { cos: string; sin: string },
  textMask: string,
  stg?: StgSwitch,
): string {
  const { g, c, D } = ctx;
  const p = `transformer_blocks.${i}`;
  return g.scope(p, () => {
    // ada_values = scale_shift_table[None, None] + temb.reshape(B, S, 6, D); unbind(dim=2)
    const table = g.param(`${p}.scale_shift_table`, [6, D], { kind: 'table', dim: D });
    const ada = g.add(g.reshape(temb, [0, 0, 6, D]), table);
    const [shiftMsa, scaleMsa, gateMsa, shiftMlp, scaleMlp, gateMlp] = [0, 1, 2, 3, 4, 5].map((k) => g.gather(ada, k, 2));
    const one = g.scalar(1);

    // norm1 is RMSNorm(dim, eps=norm_eps, elementwise_affine=False): no parameters.
    const n1 = g.add(g.mul(g.rmsNorm(x, c.normEps), g.add(one, scaleMsa)), shiftMsa);
    const a1 = attention(ctx, `${p}.attn1`, n1, n1, D, { rope, ...(stg ? { stg } : {}) });
    x = g.add(x, g.mul(a1, gateMsa));

    // Cross-attention reads the un-normalised stream, no RoPE, no gate (as in diffusers).
    const a2 = attention(ctx, `${p}.attn2`, x, text, c.crossAttentionDim, { mask: textMask });
    x = g.add(x, a2);

    const n2 = g.add(g.mul(g.rmsNorm(x, c.normEps), g.add(one, scaleMlp)), shiftMlp);
    // FeedForward(dim, activation_fn="gelu-approximate"): net.0 = GELU(proj D→4D, tanh), net.2 = Linear 4D→D
    const ff = g.scope(`${p}.ff`, () => g.linear(g.geluTanh(g.linear(n2, `${p}.ff.net.0.proj`, D, 4 * D)), `${p}.ff.net.2`, 4 * D, D));
    return g.add(x, g.mul(ff, gateMlp));
  });
}

/** Builds the transformer graph in memory (parameters are fetched from `weights` on save). */
export function ltxvTransformerGraph(c: TransformerConfig, weights: WeightSource, opts: TransformerGraphOptions = {}): GraphBuilder {
  const g = new GraphBuilder('ltxv_transformer', weights, opts.compute);
  const D = innerDim(c);
  if (D % 2 !== 0) throw new Error(`inner dim ${D} must be even for RoPE pairs`);
  if (c.crossAttentionDim !== D) {
    // caption_projection maps captions to inner_dim, which attn2's to_k/to_v then read.
    throw new Error(`crossAttentionDim (${c.crossAttentionDim}) must equal heads × head dim (${D})`);
  }
  const impl = opts.attention ?? 'fused';
  g.meta('reshoot.attention', impl);
  const ctx: Ctx = { g, c, D, impl };
  const F32 = DataType.FLOAT;

  const hidden = g.input('hidden_states', F32, ['batch', 'tokens', c.inChannels]);
  const captions = g.input('encoder_hidden_states', F32, ['batch', 'text_tokens', c.captionChannels]);
  const mask = g.input('encoder_attention_mask', F32, ['batch', 'text_tokens']);
  const timestep = g.input('timestep', F32, ['batch', 'tokens']);
  const cos = g.input('rope_cos', F32, ['batch', 'tokens', D]);
  const sin = g.input('rope_sin', F32, ['batch', 'tokens', D]);

  // diffusers: encoder_attention_mask = (1 - mask) * -10000.0, added to the cross-attention scores.
  const textMask = textMaskFor(g, impl, mask, hidden);

  let x = g.linear(g.toCompute(hidden), 'proj_in', c.inChannels, D);

  // AdaLayerNormSingle: Timesteps(256, flip_sin_to_cos=True, shift 0) → TimestepEmbedding → [B, S, D];
  // temb = linear(SiLU(embedded_timestep)) → [B, S, 6D]. Per token, since timestep is [B, S].
  const embeddedTimestep = g.scope('time_embed', () => {
    // In fp32 whatever the compute type: timestep × frequency reaches 1000 rad, beyond fp16's precision.
    const args = g.mul(g.reshape(timestep, [0, 0, 1]), g.floats(timestepFrequencies(), [TIMESTEP_CHANNELS / 2], DataType.FLOAT));
    const proj = g.toCompute(g.concat([g.cos(args), g.sin(args)], -1)); // flip_sin_to_cos: [cos, sin]
    const e = 'time_embed.emb.timestep_embedder';
    return g.linear(g.silu(g.linear(proj, `${e}.linear_1`, TIMESTEP_CHANNELS, D)), `${e}.linear_2`, D, D);
  });
  const temb = g.linear(g.silu(embeddedTimestep), 'time_embed.linear', D, 6 * D);

  // PixArtAlphaTextProjection: linear_1 → GELU(tanh) → linear_2
  const text = g.scope('caption_projection', () =>
    g.linear(g.geluTanh(g.linear(g.toCompute(captions), 'caption_projection.linear_1', c.captionChannels, D)), 'caption_projection.linear_2', D, D),
  );

  // STG selector [numLayers, B] → per block a bool [B, 1, 1]. Unsqueeze, not Reshape(-1, 1, 1):
  // shape inference keeps B symbolic, so ORT still fuses the ops after (SkipLayerNormalization)
  // and the graph with all-zero STG gives exactly the plain graph's output.
  const perturb = c.stg ? g.input('stg_perturb', F32, [c.numLayers, 'batch']) : undefined;
  const stgFor = (i: number): StgSwitch | undefined =>
    perturb && c.stg ? { mode: c.stg, perturbed: g.op('Greater', [g.unsqueeze(g.gather(perturb, i, 0), [1, 2]), g.scalar(0.5)]) } : undefined;

  const rope = { cos: g.toCompute(cos), sin: g.toCompute(sin) };
  for (let i = 0; i < c.numLayers; i++) x = block(ctx, i, x, text, temb, rope, textMask, stgFor(i));

  // shift, scale = scale_shift_table[None, None] + embedded_timestep[:, :, None]
  const table = g.param('scale_shift_table', [2, D], { kind: 'table', dim: D });
  const final = g.add(g.reshape(embeddedTimestep, [0, 0, 1, D]), table);
  const shift = g.gather(final, 0, 2);
  const scale = g.gather(final, 1, 2);
  x = g.add(g.mul(g.layerNorm(x, D, NORM_OUT_EPS), g.add(g.scalar(1), scale)), shift);
  const velocity = g.linear(x, 'proj_out', D, c.outChannels);
  g.output(g.toFloat(velocity), 'velocity', F32, ['batch', 'tokens', c.outChannels]);
  return g;
}

/**
 * Writes `transformer.onnx` (+ `.data`) into `outDir` with seeded random weights, for any config:
 * what tests and benchmarks use when they need the real architecture at a chosen size.
 */
export function buildLtxvTransformer(
  config: TransformerConfig,
  outDir: string,
  opts: { seed: number; fileName?: string } & TransformerGraphOptions,
): SavedGraph {
  return ltxvTransformerGraph(config, seededWeights(opts.seed), opts).save(outDir, opts.fileName ?? 'transformer.onnx');
}
