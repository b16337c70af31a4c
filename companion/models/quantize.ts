/**
 * Weight-only block quantization in the layout of ONNX Runtime's `com.microsoft.MatMulNBits`,
 * which the CPU, CUDA, WebGPU and DirectML providers run without expanding the weights back to
 * float: a Linear weight W [N, K] (PyTorch layout: out × in) is split along K into blocks of
 * `blockSize`; each block keeps one float scale and `bits`-bit codes q with W ≈ (q − 2^(bits−1))·scale.
 *
 * Symmetric (no zero points: MatMulNBits then uses 2^(bits−1)), scale = max|w| / (2^(bits−1) − 1),
 * so a block's largest weight is exact in magnitude and zero stays exactly zero. Codes of 4 bits
 * are packed two per byte, the lower-index one in the low nibble (MatMulNBits' order).
 */

export type QuantBits = 4 | 8;

export interface BlockQuantized {
  bits: QuantBits;
  blockSize: number;
  /** Output features (rows of W). */
  n: number;
  /** Input features (columns of W). */
  k: number;
  /** Codes [n, blocksPerRow, blockSize·bits/8]; a last partial block is padded with zero weights. */
  packed: Uint8Array;
  /** One scale per block, [n · blocksPerRow]. */
  scales: Float32Array;
}

/** Block sizes used at import: 32 for int4 (accuracy), 128 for int8 (scale overhead 0.25 bit/weight). */
export const BLOCK_SIZE: Record<QuantBits, number> = { 4: 32, 8: 128 };

export const blocksPerRow = (k: number, blockSize: number): number => Math.ceil(k / blockSize);

/** Quantizes W [n, k] (row-major). */
export function quantizeBlocks(w: Float32Array, n: number, k: number, bits: QuantBits, blockSize = BLOCK_SIZE[bits]): BlockQuantized {
  if (w.length !== n * k) throw new Error(`quantize: ${w.length} values do not make a [${n}, ${k}] matrix`);
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) throw new Error(`quantize: block size ${blockSize} must be a power of two ≥ 16`);
  const blocks = blocksPerRow(k, blockSize);
  const blob = (blockSize * bits) / 8;
  const packed = new Uint8Array(n * blocks * blob);
  const scales = new Float32Array(n * blocks);
  const zero = 1 << (bits - 1);
  const qmax = zero - 1;
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < blocks; b++) {
      const start = row * k + b * blockSize;
      const end = row * k + Math.min(k, (b + 1) * blockSize);
      let absMax = 0;
      for (let i = start; i < end; i++) absMax = Math.max(absMax, Math.abs(w[i]!));
      if (!Number.isFinite(absMax)) throw new Error(`quantize: weight row ${row} holds a non-finite value`);
      const scale = absMax / qmax;
      scales[row * blocks + b] = scale;
      const inv = scale === 0 ? 0 : 1 / scale;
      const out = (row * blocks + b) * blob;
      for (let j = 0; j < blockSize; j++) {
        const i = start + j;
        const q = i < end ? Math.max(-qmax, Math.min(qmax, Math.round(w[i]! * inv))) + zero : zero;
        if (bits === 8) packed[out + j] = q;
        else packed[out + (j >> 1)] |= j & 1 ? q << 4 : q;
      }
    }
  }
  return { bits, blockSize, n, k, packed, scales };
}

/** The float weights the codes stand for, [n, k]: what MatMulNBits multiplies by. */
export function dequantizeBlocks(q: BlockQuantized): Float32Array {
  const { bits, blockSize, n, k } = q;
  const blocks = blocksPerRow(k, blockSize);
  const blob = (blockSize * bits) / 8;
  const zero = 1 << (bits - 1);
  const w = new Float32Array(n * k);
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < k; col++) {
      const b = Math.floor(col / blockSize);
      const j = col % blockSize;
      const at = (row * blocks + b) * blob;
      const code = bits === 8 ? q.packed[at + j]! : (q.packed[at + (j >> 1)]! >> (j & 1 ? 4 : 0)) & 0xf;
      w[row * k + col] = (code - zero) * q.scales[row * blocks + b]!;
    }
  }
  return w;
}
