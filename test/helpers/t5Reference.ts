/**
 * A plain, slow TypeScript forward of HF transformers' T5EncoderModel (eval mode), written from the
 * formulas with loops over Float64Arrays, to check the ONNX graph against on tiny configs. Shares
 * nothing with the graph builder except the weights, looked up by state-dict name.
 *
 * Masked keys are left out of the softmax altogether (what adding finfo.min amounts to whenever a
 * row has at least one real key), rather than reproducing the additive bias.
 */
import type { T5Config } from '../../companion/models/t5/config.ts';

export type T5Weights = (name: string) => Float32Array;

export interface T5ReferenceInputs {
  batch: number;
  length: number;
  /** [B, L] token ids. */
  ids: readonly number[];
  /** [B, L] 1 = real, 0 = padding. */
  mask: readonly number[];
}

/** The encoder's relative-position bucket for key j seen from query i, written out step by step. */
export function referenceBucket(i: number, j: number, numBuckets: number, maxDistance: number): number {
  const f = Math.fround;
  const n = j - i;
  const half = Math.floor(numBuckets / 2);
  const offset = n > 0 ? half : 0; // keys after the query use the upper half
  const dist = n < 0 ? -n : n;
  const exact = Math.floor(half / 2);
  if (dist < exact) return offset + dist;
  // float32 like torch: log(d/exact) / log(maxDistance/exact) * (half - exact), truncated
  const num = f(Math.log(f(dist / exact)));
  const den = f(Math.log(maxDistance / exact));
  const large = exact + Math.trunc(f(f(num / den) * (half - exact)));
  return offset + Math.min(large, half - 1);
}

function rmsNorm(x: Float64Array, rows: number, dim: number, w: Float32Array, eps: number): Float64Array {
  const y = new Float64Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let d = 0; d < dim; d++) ss += x[r * dim + d] ** 2;
    const inv = 1 / Math.sqrt(ss / dim + eps);
    for (let d = 0; d < dim; d++) y[r * dim + d] = x[r * dim + d] * inv * w[d];
  }
  return y;
}

/** y[r, o] = Σ_i x[r, i] · W[o, i] (no bias: T5 has none). */
function matVec(x: Float64Array, rows: number, inF: number, w: Float32Array, outF: number): Float64Array {
  if (w.length !== inF * outF) throw new Error(`weight of ${w.length} values is not [${outF}, ${inF}]`);
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let acc = 0;
      for (let i = 0; i < inF; i++) acc += x[r * inF + i] * w[o * inF + i];
      y[r * outF + o] = acc;
    }
  }
  return y;
}

function geluNew(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

/** last_hidden_state [B, L, d_model] as Float64Array. */
export function t5ReferenceForward(c: T5Config, W: T5Weights, inp: T5ReferenceInputs): Float64Array {
  const { batch: B, length: L } = inp;
  const D = c.dModel;
  const H = c.numHeads;
  const Dk = c.dKv;
  const inner = H * Dk;
  const out = new Float64Array(B * L * D);
  const emb = W('shared.weight');
  const relTable = W('encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight'); // [buckets, H]

  for (let b = 0; b < B; b++) {
    let h = new Float64Array(L * D);
    for (let t = 0; t < L; t++) {
      const id = inp.ids[b * L + t];
      for (let d = 0; d < D; d++) h[t * D + d] = emb[id * D + d];
    }
    for (let layer = 0; layer < c.numLayers; layer++) {
      const p = `encoder.block.${layer}.layer`;
      // Self-attention.
      const n1 = rmsNorm(h, L, D, W(`${p}.0.layer_norm.weight`), c.eps);
      const q = matVec(n1, L, D, W(`${p}.0.SelfAttention.q.weight`), inner);
      const k = matVec(n1, L, D, W(`${p}.0.SelfAttention.k.weight`), inner);
      const v = matVec(n1, L, D, W(`${p}.0.SelfAttention.v.weight`), inner);
      const att = new Float64Array(L * inner);
      for (let head = 0; head < H; head++) {
        for (let i = 0; i < L; i++) {
          const s = new Float64Array(L).fill(-Infinity);
          let max = -Infinity;
          for (let j = 0; j < L; j++) {
            if (inp.mask[b * L + j] === 0) continue;
            let dot = 0;
            for (let e = 0; e < Dk; e++) dot += q[i * inner + head * Dk + e] * k[j * inner + head * Dk + e];
            s[j] = dot + relTable[referenceBucket(i, j, c.numBuckets, c.maxDistance) * H + head];
            max = Math.max(max, s[j]);
          }
          let sum = 0;
          for (let j = 0; j < L; j++) {
            s[j] = s[j] === -Infinity ? 0 : Math.exp(s[j] - max);
            sum += s[j];
          }
          for (let e = 0; e < Dk; e++) {
            let acc = 0;
            for (let j = 0; j < L; j++) acc += (s[j] / sum) * v[j * inner + head * Dk + e];
            att[i * inner + head * Dk + e] = acc;
          }
        }
      }
      const o = matVec(att, L, inner, W(`${p}.0.SelfAttention.o.weight`), D);
      for (let x = 0; x < h.length; x++) h[x] += o[x];
      // Feed-forward.
      const n2 = rmsNorm(h, L, D, W(`${p}.1.layer_norm.weight`), c.eps);
      let act: Float64Array;
      if (c.feedForward === 'gated-gelu') {
        const a = matVec(n2, L, D, W(`${p}.1.DenseReluDense.wi_0.weight`), c.dFf);
        const g = matVec(n2, L, D, W(`${p}.1.DenseReluDense.wi_1.weight`), c.dFf);
        act = a.map((value, x) => geluNew(value) * g[x]);
      } else {
        act = matVec(n2, L, D, W(`${p}.1.DenseReluDense.wi.weight`), c.dFf).map((value) => Math.max(0, value));
      }
      const ff = matVec(act, L, c.dFf, W(`${p}.1.DenseReluDense.wo.weight`), D);
      h = h.map((value, x) => value + ff[x]);
    }
    out.set(rmsNorm(h, L, D, W('encoder.final_layer_norm.weight'), c.eps), b * L * D);
  }
  return out;
}
