/**
 * A plain-TypeScript forward of diffusers' LTXVideoTransformer3DModel, written straight from the
 * formulas with loops over Float64Arrays, to check the ONNX graph against. Deliberately shares
 * nothing with the graph builder except the weights (looked up by state-dict name).
 */
import type { TransformerConfig } from '../../companion/models/types.ts';

export type Weights = (name: string) => Float32Array;

export interface ReferenceInputs {
  batch: number;
  tokens: number;
  textTokens: number;
  hidden: Float32Array; // [B, S, Cin]
  text: Float32Array; // [B, L, Ccap]
  mask: Float32Array; // [B, L]
  timestep: Float32Array; // [B, S]
  cos: Float32Array; // [S, D]
  sin: Float32Array; // [S, D]
  /**
   * Spatio-temporal guidance as the authors' attention processor does it: for batch elements with
   * perturb[layer·B + b] = 1, that block's self-attention hands to_out its values V
   * ('attention_values') or its own input ('attention_skip') instead of the attention output.
   */
  stg?: { mode: 'attention_values' | 'attention_skip'; perturb: Float32Array };
}

const f32 = Math.fround;

/** y[r, o] = Σ_i x[r, i] · W[o, i] + b[o] */
function linear(x: Float64Array, rows: number, inF: number, w: Float32Array, b: Float32Array, outF: number): Float64Array {
  if (w.length !== inF * outF || b.length !== outF) throw new Error('linear: weight shape mismatch');
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let acc = b[o];
      for (let i = 0; i < inF; i++) acc += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = acc;
    }
  }
  return y;
}

function lin(W: Weights, x: Float64Array, rows: number, inF: number, prefix: string, outF: number): Float64Array {
  return linear(x, rows, inF, W(`${prefix}.weight`), W(`${prefix}.bias`), outF);
}

function rmsNorm(x: Float64Array, rows: number, dim: number, eps: number, weight?: Float32Array): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let d = 0; d < dim; d++) ss += x[r * dim + d] ** 2;
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let d = 0; d < dim; d++) y[r * dim + d] = x[r * dim + d] * inv * (weight ? weight[d] : 1);
  }
  return y;
}

function layerNorm(x: Float64Array, rows: number, dim: number, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let d = 0; d < dim; d++) mean += x[r * dim + d];
    mean /= dim;
    let v = 0;
    for (let d = 0; d < dim; d++) v += (x[r * dim + d] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / dim + eps);
    for (let d = 0; d < dim; d++) y[r * dim + d] = (x[r * dim + d] - mean) * inv;
  }
  return y;
}

const map = (x: Float64Array, fn: (v: number) => number): Float64Array => x.map(fn);
const silu = (v: number): number => v / (1 + Math.exp(-v));
const geluTanh = (v: number): number => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

/** out = x·cos + rotate(x)·sin with rotate((a, b)) = (-b, a) on consecutive pairs. */
function rope(x: Float64Array, B: number, S: number, D: number, cos: Float32Array, sin: Float32Array): Float64Array {
  const y = new Float64Array(x.length);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < S; s++) {
      const row = (b * S + s) * D;
      for (let d = 0; d < D; d += 2) {
        const a = x[row + d];
        const c = x[row + d + 1];
        y[row + d] = a * cos[s * D + d] - c * sin[s * D + d];
        y[row + d + 1] = c * cos[s * D + d + 1] + a * sin[s * D + d + 1];
      }
    }
  }
  return y;
}

/** softmax(q kᵀ / √dh + bias) v per head; bias [B, Sk] or none. */
function attention(q: Float64Array, k: Float64Array, v: Float64Array, B: number, Sq: number, Sk: number, H: number, dh: number, bias?: Float64Array): Float64Array {
  const D = H * dh;
  const out = new Float64Array(B * Sq * D);
  const scores = new Float64Array(Sk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < Sq; i++) {
        let max = -Infinity;
        for (let j = 0; j < Sk; j++) {
          let dot = 0;
          for (let d = 0; d < dh; d++) dot += q[(b * Sq + i) * D + h * dh + d] * k[(b * Sk + j) * D + h * dh + d];
          scores[j] = dot / Math.sqrt(dh) + (bias ? bias[b * Sk + j] : 0);
          max = Math.max(max, scores[j]);
        }
        let sum = 0;
        for (let j = 0; j < Sk; j++) sum += scores[j] = Math.exp(scores[j] - max);
        for (let d = 0; d < dh; d++) {
          let acc = 0;
          for (let j = 0; j < Sk; j++) acc += scores[j] * v[(b * Sk + j) * D + h * dh + d];
          out[(b * Sq + i) * D + h * dh + d] = acc / sum;
        }
      }
    }
  }
  return out;
}

function attn(
  W: Weights, c: TransformerConfig, p: string, x: Float64Array, ctx: Float64Array, B: number, Sq: number, Sk: number, ctxDim: number,
  opt: { cos?: Float32Array; sin?: Float32Array; bias?: Float64Array; perturbed?: (b: number) => boolean; mode?: 'attention_values' | 'attention_skip' },
): Float64Array {
  const D = c.numAttentionHeads * c.attentionHeadDim;
  let q = lin(W, x, B * Sq, D, `${p}.to_q`, D);
  let k = lin(W, ctx, B * Sk, ctxDim, `${p}.to_k`, D);
  const v = lin(W, ctx, B * Sk, ctxDim, `${p}.to_v`, D);
  q = rmsNorm(q, B * Sq, D, 1e-5, W(`${p}.norm_q.weight`));
  k = rmsNorm(k, B * Sk, D, 1e-5, W(`${p}.norm_k.weight`));
  if (opt.cos && opt.sin) {
    q = rope(q, B, Sq, D, opt.cos, opt.sin);
    k = rope(k, B, Sk, D, opt.cos, opt.sin);
  }
  const o = attention(q, k, v, B, Sq, Sk, c.numAttentionHeads, c.attentionHeadDim, opt.bias);
  for (let b = 0; b < B; b++) {
    if (!opt.perturbed?.(b)) continue;
    const alt = opt.mode === 'attention_values' ? v : x;
    o.set(alt.subarray(b * Sq * D, (b + 1) * Sq * D), b * Sq * D);
  }
  return lin(W, o, B * Sq, D, `${p}.to_out.0`, D);
}

/** get_timestep_embedding(t, 256, flip_sin_to_cos=True, downscale_freq_shift=0): [cos, sin]. */
function timestepProjection(t: Float32Array): Float64Array {
  const half = 128;
  const out = new Float64Array(t.length * 256);
  for (let n = 0; n < t.length; n++) {
    for (let i = 0; i < half; i++) {
      // torch computes the exponent and the product in float32; the angle's rounding matters at t ≈ 1000
      const freq = f32(Math.exp(f32(f32(-Math.log(10000) * i) / half)));
      const arg = f32(t[n] * freq);
      out[n * 256 + i] = Math.cos(arg);
      out[n * 256 + half + i] = Math.sin(arg);
    }
  }
  return out;
}

export function referenceForward(c: TransformerConfig, W: Weights, inp: ReferenceInputs): Float64Array {
  const { batch: B, tokens: S, textTokens: L } = inp;
  const D = c.numAttentionHeads * c.attentionHeadDim;
  const N = B * S;

  const maskBias = Float64Array.from(inp.mask, (m) => (1 - m) * -10000);
  let x = lin(W, Float64Array.from(inp.hidden), N, c.inChannels, 'proj_in', D);

  const e = 'time_embed.emb.timestep_embedder';
  const embedded = lin(W, map(lin(W, timestepProjection(inp.timestep), N, 256, `${e}.linear_1`, D), silu), N, D, `${e}.linear_2`, D);
  const temb = lin(W, map(embedded, silu), N, D, 'time_embed.linear', 6 * D); // [N, 6D]

  const text = lin(W, map(lin(W, Float64Array.from(inp.text), B * L, c.captionChannels, 'caption_projection.linear_1', D), geluTanh), B * L, D, 'caption_projection.linear_2', D);

  for (let i = 0; i < c.numLayers; i++) {
    const p = `transformer_blocks.${i}`;
    const table = W(`${p}.scale_shift_table`);
    const ada = (n: number, k: number, d: number): number => table[k * D + d] + temb[n * 6 * D + k * D + d];
    const modulate = (h: Float64Array, shiftK: number, scaleK: number): Float64Array =>
      h.map((v, idx) => {
        const n = Math.floor(idx / D);
        const d = idx % D;
        return v * (1 + ada(n, scaleK, d)) + ada(n, shiftK, d);
      });

    const n1 = modulate(rmsNorm(x, N, D, c.normEps), 0, 1);
    const stg = inp.stg;
    const a1 = attn(W, c, `${p}.attn1`, n1, n1, B, S, S, D, {
      cos: inp.cos,
      sin: inp.sin,
      ...(stg ? { mode: stg.mode, perturbed: (b: number) => stg.perturb[i * B + b]! >= 0.5 } : {}),
    });
    x = x.map((v, idx) => v + a1[idx] * ada(Math.floor(idx / D), 2, idx % D));
    const a2 = attn(W, c, `${p}.attn2`, x, text, B, S, L, c.crossAttentionDim, { bias: maskBias });
    x = x.map((v, idx) => v + a2[idx]);
    const n2 = modulate(rmsNorm(x, N, D, c.normEps), 3, 4);
    const ff = lin(W, map(lin(W, n2, N, D, `${p}.ff.net.0.proj`, 4 * D), geluTanh), N, 4 * D, `${p}.ff.net.2`, D);
    x = x.map((v, idx) => v + ff[idx] * ada(Math.floor(idx / D), 5, idx % D));
  }

  const table = W('scale_shift_table');
  const normed = layerNorm(x, N, D, 1e-6);
  const final = normed.map((v, idx) => {
    const n = Math.floor(idx / D);
    const d = idx % D;
    const shift = table[d] + embedded[n * D + d];
    const scale = table[D + d] + embedded[n * D + d];
    return v * (1 + scale) + shift;
  });
  return lin(W, final, N, D, 'proj_out', c.outChannels);
}
