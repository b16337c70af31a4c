/**
 * Random weights fast enough for 13 B parameters: one pool of 2^20 seeded normals, each tensor a
 * run of it from an offset given by its name, at the scale `seededWeights` uses. Seeded normals
 * per value (companion/models/weights.ts) cost minutes at 13 B in JavaScript; a GPU step does not
 * care whether its weights repeat every million values.
 */
import type { WeightSource } from '../../companion/models/onnx/graph.ts';
import { initStd, seededNormals } from '../../companion/models/weights.ts';

const POOL = 1 << 20;

export function pooledWeights(seed: number): WeightSource {
  const pool = seededNormals(seed, POOL);
  return (name, dims, init) => {
    const count = dims.reduce((a, b) => a * b, 1);
    let h = 0x811c9dc5;
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
    const { mean, std } = initStd(init);
    const out = new Float32Array(count);
    let at = (h >>> 0) % POOL;
    for (let i = 0; i < count; i++) {
      out[i] = mean + std * pool[at]!;
      if (++at === POOL) at = 0;
    }
    return out;
  };
}
