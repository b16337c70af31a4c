/**
 * Fused attention (com.microsoft.MultiHeadAttention) against the plain MatMul → Softmax → MatMul
 * subgraph: same weights, same inputs, same velocity within float32 rounding, on the CPU provider
 * that every machine has. The plain graph is itself pinned to a TypeScript reference and to
 * diffusers' numbers (transformer.test.ts, upstream-transformer.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ltxvTransformerGraph } from '../../companion/models/ltxv/transformer.ts';
import { inspectModel } from '../../companion/models/onnx/inspect.ts';
import { cosine, relMaxError } from '../../companion/models/parity.ts';
import { seededWeights } from '../../companion/models/weights.ts';
import type { TransformerConfig } from '../../companion/models/types.ts';
import { runTransformer, transformerFeeds } from '../helpers/transformerRun.ts';

const config: TransformerConfig = {
  inChannels: 16,
  outChannels: 16,
  numAttentionHeads: 4,
  attentionHeadDim: 16,
  numLayers: 2,
  crossAttentionDim: 64,
  captionChannels: 24,
  normEps: 1e-6,
  rope: { baseNumFrames: 20, baseHeight: 2048, baseWidth: 2048, theta: 10000 },
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'reshoot-attention-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const build = (attention: 'fused' | 'plain', file: string) => ltxvTransformerGraph(config, seededWeights(5), { attention }).save(dir, file);

describe('attention variants', () => {
  it('fused attention holds no score matrix: MultiHeadAttention instead of MatMul → Softmax → MatMul', () => {
    const fused = inspectModel(build('fused', 'fused.onnx').onnxPath);
    const plain = inspectModel(build('plain', 'plain.onnx').onnxPath);
    const count = (ops: string[], op: string) => ops.filter((o) => o === op).length;
    // Two attentions per layer, self and cross.
    expect(count(fused.opTypes, 'MultiHeadAttention')).toBe(2 * config.numLayers);
    expect(count(fused.opTypes, 'Softmax')).toBe(0);
    expect(fused.opsets).toEqual({ '': 17, 'com.microsoft': 1 });
    expect(count(plain.opTypes, 'MultiHeadAttention')).toBe(0);
    expect(count(plain.opTypes, 'Softmax')).toBe(2 * config.numLayers);
    expect(plain.opsets).toEqual({ '': 17 });
    // The variant is recorded in the file (and from there in a render's provenance).
    expect(fused.metadata).toEqual({ 'reshoot.attention': 'fused', 'reshoot.compute': 'fp32', 'reshoot.weights': 'fp32' });
    expect(plain.metadata['reshoot.attention']).toBe('plain');
    // Same checkpoint names and shapes in both.
    expect(fused.initializers.map((i) => [i.name, i.dims])).toEqual(plain.initializers.map((i) => [i.name, i.dims]));
  });

  it('fused and plain give the same velocity (cosine ≥ 0.999999, max error ≤ 1e-5 of the largest value), padded text masked alike', async () => {
    const fused = build('fused', 'fused.onnx');
    const plain = build('plain', 'plain.onnx');
    const feeds = transformerFeeds(config, { batch: 2, grid: { frames: 3, height: 4, width: 6 }, textTokens: 12 });
    const a = await runTransformer(fused.onnxPath, feeds);
    const b = await runTransformer(plain.onnxPath, feeds);
    expect(a.length).toBe(2 * 72 * config.outChannels);
    expect(cosine(a, b)).toBeGreaterThanOrEqual(0.999999);
    expect(relMaxError(a, b)).toBeLessThanOrEqual(1e-5);

    // The mask is honoured: changing a padded text token's embedding changes nothing, a real one does.
    const text = feeds.feeds.encoder_hidden_states!;
    const changed = (token: number) => {
      const data = Float32Array.from(text.data as Float32Array);
      for (let ch = 0; ch < config.captionChannels; ch++) data[token * config.captionChannels + ch] += 5;
      return { ...feeds, feeds: { ...feeds.feeds, encoder_hidden_states: new ort.Tensor('float32', data, text.dims) } };
    };
    const padded = await runTransformer(fused.onnxPath, changed(11)); // token 11 of 12 is padding
    expect(relMaxError(padded, a)).toBeLessThan(1e-6);
    const real = await runTransformer(fused.onnxPath, changed(0));
    expect(relMaxError(real, a)).toBeGreaterThan(1e-3);
  });
});
