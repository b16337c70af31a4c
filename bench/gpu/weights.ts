/**
 * Random weights fast enough for 13 B parameters: one pool of 2^20 seeded normals, each tensor a
 * run of it from an offset given by its name, at the scale `seededWeights` uses. Seeded normals
 * per value (companion/models/weights.ts) cost minutes at 13 B in JavaScript; a GPU step does not
 * care whether its weights repeat every million values.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import type { ExistingInitializer, Init, ParamDecl, WeightSource } from '../../companion/models/onnx/graph.ts';
import { DataType } from '../../companion/models/onnx/proto.ts';
import { floatToHalf } from '../../companion/models/precision.ts';
import { BLOCK_SIZE } from '../../companion/models/quantize.ts';
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

/**
 * Writes a transformer's weights straight into one external data file, already in their stored
 * form (fp16 bits, or int8 MatMulNBits codes and fp32 scales for `quantize` Linear weights), by
 * tiling small pools — no Float32Array per tensor and no fp32 → fp16 conversion of 13 B values,
 * which took minutes in JavaScript. Returns the initializers for `GraphBuilder.saveOver`, which
 * makes any compute variant of the graph over this one file (so fp32 and fp16 compute share it).
 * The values are random at the trained scale, not a model: for timing and memory only.
 */
export function writeSynthWeights(path: string, params: readonly ParamDecl[], quantize: ((p: ParamDecl) => boolean) | null, seed: number): { initializers: ExistingInitializer[]; bytes: number } {
  const normals = seededNormals(seed, POOL);
  const halfPools = new Map<string, Uint16Array>();
  const halfPool = (init: Init): Uint16Array => {
    const { mean, std } = initStd(init);
    const key = `${mean}:${std}`;
    let pool = halfPools.get(key);
    if (!pool) halfPools.set(key, (pool = floatToHalf(normals.map((v) => mean + std * v))));
    return pool;
  };
  // int8 codes around the zero point 128 (symmetric: ±127), one fp32 scale per block of 128.
  const codes = Uint8Array.from(normals.subarray(0, POOL), (v) => Math.max(1, Math.min(255, Math.round(128 + 40 * v))));
  const fd = openSync(path, 'w');
  const location = basename(path);
  const initializers: ExistingInitializer[] = [];
  let offset = 0;
  const put = (name: string, dataType: number, dims: number[], pool: Uint8Array, length: number): void => {
    offset = Math.ceil(offset / 4096) * 4096;
    let h = 0x811c9dc5;
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
    let at = ((h >>> 0) % (pool.length >>> 1)) & ~1; // even: fp16 values stay whole
    for (let done = 0; done < length; ) {
      const n = Math.min(length - done, pool.length - at);
      writeSync(fd, pool, at, n, offset + done);
      done += n;
      at = 0;
    }
    initializers.push({ name, dataType, dims, external: { location, offset, length } });
    offset += length;
  };
  try {
    for (const p of params) {
      const count = p.dims.reduce((a, b) => a * b, 1);
      if (quantize?.(p) && p.init.kind === 'linear') {
        const [n, k] = p.dims as [number, number];
        const blocks = Math.ceil(k / BLOCK_SIZE[8]);
        put(p.name, DataType.UINT8, [n, blocks, BLOCK_SIZE[8]], codes, n * blocks * BLOCK_SIZE[8]);
        const scales = new Float32Array(n * blocks).fill(initStd(p.init).std / 40);
        put(`${p.name}::scales`, DataType.FLOAT, [n * blocks], new Uint8Array(scales.buffer), scales.byteLength);
      } else {
        const pool = halfPool(p.init);
        put(p.name, DataType.FLOAT16, [...p.dims], new Uint8Array(pool.buffer), count * 2);
      }
    }
  } finally {
    closeSync(fd);
  }
  return { initializers, bytes: offset };
}
