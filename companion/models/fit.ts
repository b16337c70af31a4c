/**
 * Will a transformer fit a GPU, and at which precision? An estimate an editor can act on before
 * downloading or converting anything: the weights exactly (parameter counts from the graph
 * builder, bytes per precision as `save` writes them) plus one denoiser step's activations at a
 * window size, with fused attention (no score matrix; see ltxv/transformer.ts).
 *
 * Activations: the largest tensors alive at once in a block are the six per-token modulation
 * tensors [B, S, 6D], the feed-forward's hidden [B, S, 4D] and about six [B, S, D] (stream, norm,
 * q, k, v, attention out): 16·B·S·D values in the compute type. Plus a fixed runtime allowance
 * (provider context, kernels' workspaces). Checked against bench/precision.ts on CPU.
 */
import { LTXV_QUANTIZE, ltxvTransformerGraph } from './ltxv/transformer.ts';
import type { WeightSource } from './onnx/graph.ts';
import { BLOCK_SIZE } from './quantize.ts';
import type { TransformerConfig } from './types.ts';

export type FitPrecision = 'fp32' | 'fp16' | 'int8' | 'int4';
export const FIT_PRECISIONS: readonly FitPrecision[] = ['fp32', 'fp16', 'int8', 'int4'];

/** Provider context, cuDNN/cuBLAS workspaces and allocator slack (an allowance, not measured per GPU). */
export const RUNTIME_ALLOWANCE_BYTES = 1.0 * 2 ** 30;

export interface TransformerMemory {
  precision: FitPrecision;
  weightBytes: number;
  activationBytes: number;
  totalBytes: number;
}

export interface ParamCounts {
  /** Weights `int8` / `int4` quantize (Linear weights in the blocks). */
  quantizable: number;
  /** Other weight matrices (stored fp16 in the quantized modes). */
  otherMatrices: number;
  /** 1-D weights (biases, norm scales): fp32 in the fp32-compute graph. */
  vectors: number;
}

const noWeights: WeightSource = () => {
  throw new Error('internal: parameter counting asked for weights');
};

export function paramCounts(c: TransformerConfig): ParamCounts {
  const counts: ParamCounts = { quantizable: 0, otherMatrices: 0, vectors: 0 };
  for (const p of ltxvTransformerGraph(c, noWeights).paramList()) {
    const n = p.dims.reduce((a, b) => a * b, 1);
    if (p.dims.length < 2) counts.vectors += n;
    else if (p.init.kind === 'linear' && LTXV_QUANTIZE.test(p.name)) counts.quantizable += n;
    else counts.otherMatrices += n;
  }
  return counts;
}

/**
 * Bytes of the weights as a GPU holds them at `precision`: int modes are codes plus one fp16 scale
 * per block and fp16 for everything else (the half-compute graph's layout).
 */
export function weightBytes(counts: ParamCounts, precision: FitPrecision): number {
  const { quantizable: q, otherMatrices: m, vectors: v } = counts;
  switch (precision) {
    case 'fp32':
      return 4 * (q + m + v);
    case 'fp16':
      return 2 * (q + m + v);
    case 'int8':
      return q * (1 + 2 / BLOCK_SIZE[8]) + 2 * (m + v);
    case 'int4':
      return q * (0.5 + 2 / BLOCK_SIZE[4]) + 2 * (m + v);
  }
}

/** Weights plus one step's activations at `tokens` video tokens and `batch` (2 with guidance). */
export function transformerMemory(c: TransformerConfig, precision: FitPrecision, o: { tokens: number; batch: number }): TransformerMemory {
  const D = c.numAttentionHeads * c.attentionHeadDim;
  const computeBytes = precision === 'fp32' ? 4 : 2;
  const w = weightBytes(paramCounts(c), precision);
  const activationBytes = 16 * o.batch * o.tokens * D * computeBytes;
  return { precision, weightBytes: w, activationBytes, totalBytes: w + activationBytes + RUNTIME_ALLOWANCE_BYTES };
}

/** Every precision with its estimate and whether it fits `gpuBytes` (undefined: memory unknown). */
export function fitReport(c: TransformerConfig, o: { tokens: number; batch: number; gpuBytes?: number }): (TransformerMemory & { fits?: boolean })[] {
  return FIT_PRECISIONS.map((p) => {
    const m = transformerMemory(c, p, o);
    return { ...m, ...(o.gpuBytes === undefined ? {} : { fits: m.totalBytes <= o.gpuBytes }) };
  });
}
