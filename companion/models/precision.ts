/**
 * Weight precision for converted models: half-precision conversions (fp16, bf16 ↔ fp32) and the
 * policy deciding which weights may be stored as fp16.
 *
 * Why a policy and not "everything fp16": graphs compute in fp32 (storage-only fp16: each fp16
 * weight is Cast to fp32 inside the graph, which every execution provider runs, the CPU one
 * included, and ORT folds at load), so the only risks are values that do not fit fp16 (|x| >
 * 65504, e.g. from a bf16 checkpoint: bf16 has fp32's range) and layers known to be sensitive (T5's
 * feed-forward, whose activations overflow fp16 in the reference code, is kept fp32 whole).
 * 1-D parameters (biases, norm scales) are a negligible share of the bytes and stay fp32.
 * The decisions are recorded per graph in model.json `precision`.
 */
import { halfToFloatTable } from '../media/exr.ts';
import type { ParamDecl, StorageDecision } from './onnx/graph.ts';
import { BLOCK_SIZE } from './quantize.ts';
import type { GraphPrecision } from './types.ts';

/**
 * Weight storage chosen at import. `int8` / `int4`: the transformer blocks' Linear weights are
 * block-quantized for MatMulNBits (../quantize.ts), the other weight matrices stored fp16 — what
 * lets LTX 13B fit a 24 GB GPU (int8) and 2B an 8 GB one; graphs without quantizable weights (text
 * encoder, VAE) store fp16 as in `fp16`.
 */
export type PrecisionChoice = 'auto' | 'fp32' | 'fp16' | 'int8' | 'int4';

export const PRECISION_CHOICES: readonly PrecisionChoice[] = ['auto', 'fp32', 'fp16', 'int8', 'int4'];

/** Largest finite fp16 value. */
export const FP16_MAX = 65504;

// ---- conversions ------------------------------------------------------------------------------

/** fp16 bits → fp32 values. */
export function halfToFloat(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  const t = halfToFloatTable();
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]];
  return out;
}

/** bf16 bits → fp32 values (bf16 is the top half of an fp32). */
export function bfloat16ToFloat(bits: Uint16Array, out = new Float32Array(bits.length)): Float32Array {
  const u32 = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bits.length; i++) u32[i] = bits[i] << 16;
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** One fp32 value → fp16 bits, round to nearest even; beyond ±65504 gives ±Inf. */
export function floatToHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // subnormal (or zero) in fp16
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let h = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // may carry into the exponent: still correct
  return sign | h;
}

/** fp32 values → fp16 bits. */
export function floatToHalf(values: Float32Array, out = new Uint16Array(values.length)): Uint16Array {
  for (let i = 0; i < values.length; i++) out[i] = floatToHalfBits(values[i]);
  return out;
}

/** fp32 values → bf16 bits, round to nearest even (NaN stays NaN). */
export function floatToBfloat16(values: Float32Array, out = new Uint16Array(values.length)): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) {
    const x = bits[i];
    if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) out[i] = (x >>> 16) | 0x40;
    else out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** Smallest normal fp16 value; below it fp16 keeps fewer significant bits (down to 2^-24). */
export const FP16_MIN_NORMAL = 2 ** -14;

/** Largest |x| (NaN counts as infinite: it cannot be stored faithfully in less either). */
export function maxAbs(values: Float32Array): number {
  return rangeOf(values).max;
}

/** Largest |x| and how many non-zero values lie below fp16's normal range. */
function rangeOf(values: Float32Array): { max: number; subnormal: number } {
  let m = 0;
  let subnormal = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (!(a <= m)) m = Number.isNaN(a) ? Infinity : a;
    if (a < FP16_MIN_NORMAL && a > 0) subnormal++;
  }
  return { max: m, subnormal };
}

// ---- policy -----------------------------------------------------------------------------------

export interface PrecisionPolicy {
  /** Decides one weight's storage, seeing its values (called as the graph is saved). */
  decide(p: ParamDecl, values: Float32Array): StorageDecision;
  /** What was decided, for model.json. */
  report(): GraphPrecision;
}

export interface PolicyOptions {
  choice: PrecisionChoice;
  /** Weights matching any of these stay fp32 even in fp16 mode, with the reason to record. */
  keep?: { pattern: RegExp; reason: string }[];
  /** Linear weights that `int8` / `int4` quantize (the graph's bulk; first and last layers stay fp16). */
  quantize?: RegExp;
}

/** Weights of T5 that stay fp32: the feed-forward (wi_0, wi_1, wo), whose outputs overflow fp16. */
export const T5_KEEP_FP32 = [{ pattern: /\.DenseReluDense\./, reason: "T5's feed-forward (DenseReluDense wi/wo) overflows fp16; kept fp32" }];

/**
 * The storage policy for one graph. 'fp32' and 'auto' store everything fp32 ('auto' is fp32 for
 * now: it is what every provider, CPU included, runs at full accuracy); 'fp16' stores each
 * weight matrix fp16 unless it is listed in `keep` or holds values beyond fp16's range.
 */
export function precisionPolicy(opts: PolicyOptions): PrecisionPolicy {
  const keptFp32: string[] = [];
  const notes = new Set<string>();
  let fp16Count = 0;
  let quantCount = 0;
  let tiny = 0;
  let total = 0;
  const bits = opts.choice === 'int8' || opts.choice === 'int4' ? opts.choice : undefined;
  const fp16 = opts.choice === 'fp16' || bits !== undefined;
  if (opts.choice === 'auto') notes.add("auto: all weights stored fp32 (fp16 storage is opt-in: precision 'fp16')");
  if (opts.choice === 'fp32') notes.add('all weights stored fp32');
  return {
    decide(p, values) {
      if (!fp16) return 'fp32';
      if (p.dims.length < 2) return 'fp32';
      if (bits && p.init.kind === 'linear' && opts.quantize?.test(p.name)) {
        quantCount++;
        return bits;
      }
      const rule = opts.keep?.find((k) => k.pattern.test(p.name));
      if (rule) {
        keptFp32.push(p.name);
        notes.add(rule.reason);
        return 'fp32';
      }
      const { max: m, subnormal } = rangeOf(values);
      if (m > FP16_MAX) {
        keptFp32.push(p.name);
        notes.add(`weights with values beyond fp16's ±${FP16_MAX} are kept fp32 (largest |x| seen: ${m})`);
        return 'fp32';
      }
      fp16Count++;
      tiny += subnormal;
      total += values.length;
      return 'fp16';
    },
    report() {
      const out = [...notes];
      if (fp16) {
        out.unshift(
          `fp16 storage for ${fp16Count} weight matrices, cast to fp32 inside the graph (compute, inputs and outputs stay fp32)`,
          '1-D weights (biases, norm scales) are stored fp32',
        );
        if (tiny > 0) out.push(`${tiny} of ${total} fp16-stored values are below fp16's normal range (|x| < 2^-14) and keep fewer significant bits`);
      }
      if (bits) {
        out.unshift(
          quantCount > 0
            ? `${bits} weight-only quantization of ${quantCount} Linear weights (blocks of ${BLOCK_SIZE[bits === 'int8' ? 8 : 4]} along the input, one fp32 scale each, symmetric), multiplied by com.microsoft.MatMulNBits`
            : `${bits} requested: this graph has no quantizable Linear weights, stored fp16 instead`,
        );
      }
      const stored = bits && quantCount > 0 ? bits : fp16 && fp16Count > 0 ? 'fp16' : 'fp32';
      return { stored, keptFp32: [...keptFp32], notes: out };
    },
  };
}

// ---- compute type per provider -----------------------------------------------------------------

/** Providers whose kernels run fp16 at full speed (the GPU ones); the CPU provider computes fp32. */
const HALF_PROVIDERS: readonly string[] = ['cuda', 'dml', 'coreml', 'webgpu'];

/**
 * The float type a transformer computes in on `provider`: `auto` is half on GPU providers (what
 * PyTorch users get with bf16: about twice the speed, half the memory) and fp32 on the CPU, whose
 * fp16 kernels are slower than its fp32 ones. An explicit fp32 / fp16 choice wins.
 */
export function computeFor(provider: string, choice: 'auto' | 'fp32' | 'fp16' = 'auto'): 'fp32' | 'fp16' {
  if (choice !== 'auto') return choice;
  return HALF_PROVIDERS.includes(provider) ? 'fp16' : 'fp32';
}
