/**
 * Weight-only int8 / int4 quantization: the block codes themselves (packing, error bounds), and
 * whole transformer graphs with the blocks' Linear weights run through MatMulNBits on the CPU
 * provider against the fp32 graph of the same weights.
 *
 * Tolerances (velocity of a 2-layer graph, seeded N(0, 1/fan_in) weights, per-token timesteps,
 * padded text): int8 cosine ≥ 0.9999, int4 cosine ≥ 0.99 (symmetric blocks of 32: each weight
 * off by at most half a step of max|block|/7; bench/precision.ts reports the 2B-width figures).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LTXV_QUANTIZE, ltxvTransformerGraph } from '../../companion/models/ltxv/transformer.ts';
import { inspectModel } from '../../companion/models/onnx/inspect.ts';
import { cosine } from '../../companion/models/parity.ts';
import { precisionPolicy } from '../../companion/models/precision.ts';
import { dequantizeBlocks, quantizeBlocks } from '../../companion/models/quantize.ts';
import { seededNormals, seededWeights } from '../../companion/models/weights.ts';
import type { TransformerConfig } from '../../companion/models/types.ts';
import { runTransformer, transformerFeeds } from '../helpers/transformerRun.ts';

const config: TransformerConfig = {
  inChannels: 32,
  outChannels: 32,
  numAttentionHeads: 4,
  attentionHeadDim: 64,
  numLayers: 2,
  crossAttentionDim: 256,
  captionChannels: 96, // not a multiple of the int8 block (128): the caption projection is not quantized anyway
  normEps: 1e-6,
  rope: { baseNumFrames: 20, baseHeight: 2048, baseWidth: 2048, theta: 10000 },
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'reshoot-quantize-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('block quantization codes', () => {
  it('packs 4-bit codes two per byte, lower index in the low nibble, around the zero point 8', () => {
    // One row, one block of 16 (the smallest): w = -7 … 8, so max |w| = 8 and scale = 8/7.
    const w = Float32Array.from({ length: 16 }, (_, i) => i - 7);
    const q = quantizeBlocks(w, 1, 16, 4, 16);
    expect(q.scales[0]).toBeCloseTo(8 / 7, 6);
    // Integers -7 … 7 (then -7 again): scale 1, codes = w + 8, dequantized exactly.
    const int = Float32Array.from({ length: 16 }, (_, i) => (i % 15) - 7);
    const exact = quantizeBlocks(int, 1, 16, 4, 16);
    expect(exact.scales[0]).toBe(1);
    expect(exact.packed.length).toBe(8);
    expect(exact.packed[0]).toBe((2 << 4) | 1); // w[0] = -7 → 1 (low), w[1] = -6 → 2 (high)
    expect(Array.from(dequantizeBlocks(exact))).toEqual(Array.from(int));
  });

  it('keeps each weight within half a step of its block, the block maximum exact, zeros zero, for a partial last block', () => {
    const n = 3;
    const k = 200; // 2 blocks of 128 for int8 (the second partial), 7 of 32 for int4
    const w = seededNormals(9, n * k);
    w[5] = 0;
    for (const bits of [8, 4] as const) {
      const q = quantizeBlocks(w, n, k, bits);
      const back = dequantizeBlocks(q);
      const block = bits === 8 ? 128 : 32;
      const blocks = Math.ceil(k / block);
      expect(q.scales.length).toBe(n * blocks);
      for (let i = 0; i < w.length; i++) {
        const scale = q.scales[Math.floor(i / k) * blocks + Math.floor((i % k) / block)]!;
        expect(Math.abs(back[i]! - w[i]!)).toBeLessThanOrEqual(scale / 2 + 1e-7);
      }
      expect(back[5]).toBe(0);
      const absMax = Math.max(...Array.from(w.subarray(0, block), Math.abs));
      const at = Array.from(w.subarray(0, block), Math.abs).indexOf(absMax);
      expect(Math.abs(back[at]!)).toBeCloseTo(absMax, 5);
    }
  });

  it('refuses a non-finite weight and a block size MatMulNBits does not take', () => {
    expect(() => quantizeBlocks(Float32Array.of(1, NaN, ...new Array(30).fill(0)), 1, 32, 4)).toThrow(/non-finite/);
    expect(() => quantizeBlocks(new Float32Array(48), 1, 48, 4, 24)).toThrow(/power of two/);
    expect(() => quantizeBlocks(new Float32Array(10), 2, 4, 8)).toThrow(/\[2, 4\]/);
  });
});

describe('quantized transformer graphs', () => {
  const build = (choice: 'fp32' | 'int8' | 'int4') => {
    const policy = precisionPolicy({ choice, quantize: LTXV_QUANTIZE });
    const saved = ltxvTransformerGraph(config, seededWeights(5)).save(dir, `${choice}.onnx`, { storage: (p, v) => policy.decide(p, v) });
    return { saved, report: policy.report() };
  };

  it('int8 and int4 keep the checkpoint names, quantize every block Linear, shrink the weights, and match fp32 (cosine ≥ 0.9999 / ≥ 0.99)', async () => {
    const ref = build('fp32');
    const feeds = transformerFeeds(config, { batch: 2, grid: { frames: 2, height: 4, width: 6 }, textTokens: 12 });
    const want = await runTransformer(ref.saved.onnxPath, feeds);
    const refNames = inspectModel(ref.saved.onnxPath).initializers.map((i) => i.name);
    // 10 Linear weights per block: attn1/attn2 q, k, v, out and the two feed-forward ones.
    const blockLinears = 10 * config.numLayers;
    const figures: Record<string, { bytes: number; cos: number }> = {};
    for (const choice of ['int8', 'int4'] as const) {
      const { saved, report } = build(choice);
      expect(saved.quantized.length).toBe(blockLinears);
      expect(saved.quantized.every((n) => LTXV_QUANTIZE.test(n))).toBe(true);
      expect(report.stored).toBe(choice);
      const summary = inspectModel(saved.onnxPath);
      expect(summary.opTypes.filter((o) => o === 'MatMulNBits').length).toBe(blockLinears);
      const names = summary.initializers.map((i) => i.name);
      expect(names.filter((n) => !n.endsWith('::scales'))).toEqual(refNames);
      const got = await runTransformer(saved.onnxPath, feeds);
      figures[choice] = { bytes: saved.dataBytes, cos: cosine(got, want) };
    }
    expect(figures.int8!.cos).toBeGreaterThanOrEqual(0.9999);
    expect(figures.int4!.cos).toBeGreaterThanOrEqual(0.99);
    // Weight bytes: the fp32 ones at this small width include 1-D and fp16-stored non-block weights.
    expect(figures.int8!.bytes).toBeLessThan(0.5 * ref.saved.dataBytes);
    expect(figures.int4!.bytes).toBeLessThan(figures.int8!.bytes);
  });

  it('refuses to quantize a weight that is not a Linear weight', () => {
    expect(() => ltxvTransformerGraph(config, seededWeights(5)).save(dir, 'bad.onnx', { storage: (p) => (p.name === 'scale_shift_table' ? 'int8' : 'fp32') })).toThrow(
      /scale_shift_table is not a Linear weight/,
    );
  });
});
