/**
 * Transformer cases compared with the authors' Transformer3DModel (test/models/upstream-transformer.test.ts),
 * shared with the throwaway script that fed the same weights and inputs to it. Inputs are made by
 * formula or seed, so both sides build them identically.
 */
import { ltxRope } from '../../companion/models/ltxv/rope.ts';
import type { WeightSource } from '../../companion/models/onnx/graph.ts';
import { initStd, seededNormals, seededWeights } from '../../companion/models/weights.ts';
import type { TransformerConfig } from '../../companion/models/types.ts';

export const ROPE_BASE = { baseNumFrames: 20, baseHeight: 2048, baseWidth: 2048, theta: 10000 };

export interface TransformerCase {
  tag: string;
  config: TransformerConfig;
  batch: number;
  grid: { frames: number; height: number; width: number };
  textTokens: number;
  /** 'seeded': seededWeights(7); 'formula': formulaWeights (the real widths: ~10⁸ values, seeded normals would take half a minute). */
  weights: 'seeded' | 'formula';
}

const small = (heads: number): TransformerConfig => ({
  inChannels: 8,
  outChannels: 6,
  numAttentionHeads: heads,
  attentionHeadDim: 8,
  numLayers: 2,
  crossAttentionDim: heads * 8,
  captionChannels: 12,
  normEps: 1e-6,
  rope: ROPE_BASE,
});

export const TRANSFORMER_CASES: TransformerCase[] = [
  // Inner dim 16 (16 % 6 = 4 padding channels) and 24 (no padding), 2 layers.
  { tag: 'tA', config: small(2), batch: 2, grid: { frames: 3, height: 4, width: 5 }, textTokens: 6, weights: 'seeded' },
  { tag: 'tB', config: small(3), batch: 2, grid: { frames: 3, height: 4, width: 5 }, textTokens: 6, weights: 'seeded' },
  // The real 2B width: 32 heads × 64 = 2048 (341 RoPE frequencies, 2 padding channels), 128 latent
  // channels, one layer; the caption width reduced to 16 (it only sizes the caption projection).
  {
    tag: 'w2048',
    config: { inChannels: 128, outChannels: 128, numAttentionHeads: 32, attentionHeadDim: 64, numLayers: 1, crossAttentionDim: 2048, captionChannels: 16, normEps: 1e-6, rope: ROPE_BASE },
    batch: 1,
    grid: { frames: 2, height: 3, width: 4 },
    textTokens: 6,
    weights: 'formula',
  },
];

/** Deterministic weights that are cheap at 10⁸ values: mean + std·√2·sin(0.7548776662·i + phase(name)). */
export function formulaWeights(): WeightSource {
  return (name, dims, init) => {
    const n = dims.reduce((a, b) => a * b, 1);
    let phase = 0;
    for (let i = 0; i < name.length; i++) phase = (phase * 31 + name.charCodeAt(i)) % 6283;
    const { mean, std } = initStd(init);
    const out = new Float32Array(n);
    const k = std * Math.SQRT2;
    for (let i = 0; i < n; i++) out[i] = mean + k * Math.sin(0.7548776662 * i + phase / 1000);
    return out;
  };
}

export const caseWeights = (c: TransformerCase): WeightSource => (c.weights === 'seeded' ? seededWeights(7) : formulaWeights());

export interface CaseInputs {
  hidden: Float32Array;
  text: Float32Array;
  mask: Float32Array;
  /** Per token [B, S], in the graph's units (σ·1000). */
  timestep: Float32Array;
}

/** Inputs of a case: seeded normals for latents and text, the last third of the first row's text masked, per-token timesteps with a 0 and a 1000. */
export function caseInputs(c: TransformerCase): CaseInputs {
  const B = c.batch;
  const S = c.grid.frames * c.grid.height * c.grid.width;
  const L = c.textTokens;
  const timestep = Float32Array.from(seededNormals(3, B * S), (v) => Math.min(1000, Math.abs(v) * 400));
  timestep[0] = 0;
  timestep[1] = 1000;
  return {
    hidden: seededNormals(1, B * S * c.config.inChannels),
    text: seededNormals(2, B * L * c.config.captionChannels),
    mask: Float32Array.from({ length: B * L }, (_, i) => (i < L && i >= L - Math.floor(L / 3) ? 0 : 1)),
    timestep,
  };
}

/** RoPE tables of a case for the plain (0.9.0/0.9.1) or causal (0.9.5+) frame coordinates at 24 fps. */
export function caseRope(c: TransformerCase, causalFix: boolean, dim = c.config.numAttentionHeads * c.config.attentionHeadDim) {
  return ltxRope({ dim, ...c.grid, frameRate: 24, spatial: 32, temporal: 8, ...ROPE_BASE, causalFix });
}
