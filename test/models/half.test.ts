/**
 * Half-precision compute (`compute: 'fp16'`, for GPU providers) against the fp32 graph of the same
 * weights, at the LTX-Video 2B width (32 heads × 64, caption 4096) with 2 layers and seeded
 * weights of the trained model's scale (N(0, 1/fan_in) Linear weights, randn/√D tables). Runs on
 * the CPU provider, which has fp16 kernels for every op the graph uses.
 *
 * Tolerances from the issue: velocity cosine ≥ 0.9999; a whole 8-step window's latents (Euler
 * steps on the same noise) cosine ≥ 0.999.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ltxvTransformerGraph } from '../../companion/models/ltxv/transformer.ts';
import type { WeightSource } from '../../companion/models/onnx/graph.ts';
import { DataType } from '../../companion/models/onnx/proto.ts';
import { inspectModel } from '../../companion/models/onnx/inspect.ts';
import { cosine } from '../../companion/models/parity.ts';
import { seededNormals, seededWeights } from '../../companion/models/weights.ts';
import type { TransformerConfig } from '../../companion/models/types.ts';
import { transformerFeeds } from '../helpers/transformerRun.ts';

const width2b: TransformerConfig = {
  inChannels: 128,
  outChannels: 128,
  numAttentionHeads: 32,
  attentionHeadDim: 64,
  numLayers: 2,
  crossAttentionDim: 2048,
  captionChannels: 4096,
  normEps: 1e-6,
  rope: { baseNumFrames: 20, baseHeight: 2048, baseWidth: 2048, theta: 10000 },
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'reshoot-half-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('half-precision compute', () => {
  it('an fp16 graph of the 2B width matches fp32: velocity cosine ≥ 0.9999, 8-step window cosine ≥ 0.999, fp32 I/O, half the weight bytes', { timeout: 900_000 }, async () => {
    // Both graphs from one set of values (generating 170 M seeded normals twice is the slow part).
    const seeded = seededWeights(11);
    const cache = new Map<string, Float32Array>();
    const weights: WeightSource = (name, dims, init) => cache.get(name) ?? cache.set(name, seeded(name, dims, init)).get(name)!;
    const full = ltxvTransformerGraph(width2b, weights).save(dir, 'fp32.onnx');
    const half = ltxvTransformerGraph(width2b, weights, { compute: 'fp16' }).save(dir, 'fp16.onnx');
    cache.clear();
    expect(half.dataBytes).toBeLessThan(0.51 * full.dataBytes);
    const summary = inspectModel(half.onnxPath);
    // The boundary stays float32: the engine feeds both graphs alike.
    expect(summary.inputs.every((i) => i.elemType === DataType.FLOAT)).toBe(true);
    expect(summary.outputs.map((o) => o.elemType)).toEqual([DataType.FLOAT]);
    expect(summary.initializers.filter((i) => i.dataType === DataType.FLOAT16).length).toBe(summary.initializers.length);

    const grid = { frames: 2, height: 4, width: 4 };
    const base = transformerFeeds(width2b, { batch: 1, grid, textTokens: 16 });
    const S = base.tokens;
    const C = width2b.inChannels;
    const sessions = await Promise.all([full, half].map((g) => ort.InferenceSession.create(g.onnxPath, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' })));
    try {
      const velocity = async (s: ort.InferenceSession, x: Float32Array, sigma: number) => {
        const feeds = { ...base.feeds, hidden_states: new ort.Tensor('float32', x, [1, S, C]), timestep: new ort.Tensor('float32', new Float32Array(S).fill(sigma * 1000), [1, S]) };
        return (await s.run(feeds)).velocity!.data as Float32Array;
      };
      const one = await Promise.all(sessions.map((s) => s.run(base.feeds)));
      expect(cosine(one[1]!.velocity!.data as Float32Array, one[0]!.velocity!.data as Float32Array)).toBeGreaterThanOrEqual(0.9999);

      // Rectified flow, 8 Euler steps from the same noise: x += (σ_next − σ)·v.
      const sigmas = Array.from({ length: 9 }, (_, i) => 1 - i / 8);
      const latents = sessions.map(() => seededNormals(21, S * C));
      for (let i = 0; i < 8; i++) {
        for (let k = 0; k < sessions.length; k++) {
          const v = await velocity(sessions[k]!, latents[k]!, sigmas[i]!);
          const dt = sigmas[i + 1]! - sigmas[i]!;
          for (let j = 0; j < v.length; j++) latents[k]![j]! += dt * v[j]!;
        }
      }
      expect(cosine(latents[1]!, latents[0]!)).toBeGreaterThanOrEqual(0.999);
    } finally {
      await Promise.all(sessions.map((s) => s.release()));
    }
  });

  it('refuses a weight beyond the fp16 range with a message naming it', () => {
    const config = { ...width2b, numAttentionHeads: 2, attentionHeadDim: 8, crossAttentionDim: 16, captionChannels: 8, inChannels: 4, outChannels: 4, numLayers: 1 };
    const weights = seededWeights(1);
    const big = (name: string, dims: readonly number[], init: Parameters<typeof weights>[2]) => {
      const w = weights(name, dims, init);
      if (name === 'proj_out.weight') w[0] = 1e5;
      return w;
    };
    expect(() => ltxvTransformerGraph(config, big, { compute: 'fp16' }).save(dir, 'big.onnx')).toThrow(/proj_out\.weight holds values beyond fp16/);
  });
});
