/**
 * Deterministic seeded weights for test models and benchmarks.
 *
 * Each tensor gets its own stream: mulberry32 seeded with FNV-1a(name) mixed with the model seed,
 * then Box-Muller for normals. So a tensor's values depend only on (seed, name, shape) — not on the
 * order tensors are written or how many layers the model has — and are the same on every machine
 * (only integer math and Math.log/sqrt/cos on doubles, rounded once to float32).
 *
 * Scales: Linear weights are N(0, 1/fan_in) (variance-preserving, so a tiny random model still
 * produces activations of order 1 rather than the near-zero outputs of a 0.02-std init), biases
 * N(0, 0.02²), norm scales 1 + N(0, 0.1²) (so a graph that forgets them is caught), scale-shift
 * tables randn/√dim as diffusers initialises them, embeddings N(0, 0.5²).
 */
import type { Init, WeightSource } from './onnx/graph.ts';

/** FNV-1a 32-bit hash of a string's UTF-16 code units. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a tiny 32-bit PRNG with a full 2^32 period; returns uniforms in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` standard normals from a seeded stream (Box-Muller, both outputs used). */
export function seededNormals(seed: number, count: number): Float32Array {
  const rand = mulberry32(seed);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const u1 = 1 - rand(); // (0, 1]: log stays finite
    const u2 = rand();
    const r = Math.sqrt(-2 * Math.log(u1));
    out[i] = r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < count) out[i + 1] = r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

/** The mean and spread of a seeded random tensor of this kind (also bench/gpu's pooled weights). */
export function initStd(init: Init): { mean: number; std: number } {
  switch (init.kind) {
    case 'linear':
      return { mean: 0, std: 1 / Math.sqrt(init.fanIn) };
    case 'bias':
      return { mean: 0, std: 0.02 };
    case 'norm':
      return { mean: 1, std: 0.1 };
    case 'table':
      return { mean: 0, std: 1 / Math.sqrt(init.dim) };
    case 'embedding':
      return { mean: 0, std: 0.5 };
  }
}

/** A WeightSource of seeded random values; the same (seed, name, dims) always gives the same tensor. */
export function seededWeights(seed: number): WeightSource {
  return (name, dims, init) => {
    const count = dims.reduce((a, b) => a * b, 1);
    const values = seededNormals((fnv1a(name) ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0, count);
    const { mean, std } = initStd(init);
    for (let i = 0; i < count; i++) values[i] = mean + std * values[i];
    return values;
  };
}
