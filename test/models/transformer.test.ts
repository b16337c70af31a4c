import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as ort from 'onnxruntime-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ltxvTransformerGraph } from '../../companion/models/ltxv/transformer.ts';
import { ltxRope } from '../../companion/models/ltxv/rope.ts';
import { inspectModel } from '../../companion/models/onnx/inspect.ts';
import { buildLtxvTransformer } from '../../companion/models/registry.ts';
import { seededNormals, seededWeights } from '../../companion/models/weights.ts';
import type { TransformerConfig } from '../../companion/models/types.ts';
import { referenceForward, type ReferenceInputs } from './ltxvReference.ts';

const rope = { baseNumFrames: 20, baseHeight: 2048, baseWidth: 2048, theta: 10000 };

// inner dim 14: 14 % 6 = 2 padding channels, 14 // 6 = 2 frequencies per axis.
const oneLayer: TransformerConfig = {
  inChannels: 8,
  outChannels: 6,
  numAttentionHeads: 2,
  attentionHeadDim: 7,
  numLayers: 1,
  crossAttentionDim: 14,
  captionChannels: 12,
  normEps: 1e-6,
  rope,
};

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'reshoot-transformer-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Saves the graph and remembers every weight handed to it, for the reference forward. */
function buildWithRecordedWeights(c: TransformerConfig, file: string): { path: string; weights: Map<string, Float32Array> } {
  const weights = new Map<string, Float32Array>();
  const source = seededWeights(7);
  const saved = ltxvTransformerGraph(c, (name, dims, init) => {
    const w = source(name, dims, init);
    weights.set(name, w);
    return w;
  }).save(dir, file);
  return { path: saved.onnxPath, weights };
}

function inputs(c: TransformerConfig): ReferenceInputs {
  const B = 2;
  const grid = { frames: 2, height: 2, width: 3 };
  const S = grid.frames * grid.height * grid.width;
  const L = 5;
  const D = c.numAttentionHeads * c.attentionHeadDim;
  const tables = ltxRope({ dim: D, ...grid, frameRate: 25, spatial: 32, temporal: 8, ...c.rope });
  const timestep = Float32Array.from(seededNormals(3, B * S), (v) => Math.min(1000, Math.abs(v) * 400));
  timestep[0] = 0; // a known token
  timestep[1] = 1000;
  return {
    batch: B,
    tokens: S,
    textTokens: L,
    hidden: seededNormals(1, B * S * c.inChannels),
    text: seededNormals(2, B * L * c.captionChannels),
    mask: Float32Array.from([1, 1, 1, 0, 0, 1, 1, 1, 1, 1]),
    timestep,
    cos: tables.cos,
    sin: tables.sin,
  };
}

async function runGraph(path: string, c: TransformerConfig, inp: ReferenceInputs): Promise<Float32Array> {
  const D = c.numAttentionHeads * c.attentionHeadDim;
  const { batch: B, tokens: S, textTokens: L } = inp;
  const perBatch = (t: Float32Array): Float32Array => {
    const out = new Float32Array(B * t.length);
    for (let b = 0; b < B; b++) out.set(t, b * t.length);
    return out;
  };
  const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'] });
  try {
    const result = await session.run({
      hidden_states: new ort.Tensor('float32', inp.hidden, [B, S, c.inChannels]),
      encoder_hidden_states: new ort.Tensor('float32', inp.text, [B, L, c.captionChannels]),
      encoder_attention_mask: new ort.Tensor('float32', inp.mask, [B, L]),
      timestep: new ort.Tensor('float32', inp.timestep, [B, S]),
      rope_cos: new ort.Tensor('float32', perBatch(inp.cos), [B, S, D]),
      rope_sin: new ort.Tensor('float32', perBatch(inp.sin), [B, S, D]),
    });
    const velocity = result.velocity;
    expect(velocity.dims).toEqual([B, S, c.outChannels]);
    return velocity.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('LTX-Video transformer graph', () => {
  it('matches a plain TypeScript reference forward of the same weights', async () => {
    const { path, weights } = buildWithRecordedWeights(oneLayer, 'one_layer.onnx');
    const inp = inputs(oneLayer);
    const got = await runGraph(path, oneLayer, inp);
    const want = referenceForward(oneLayer, (name) => {
      const w = weights.get(name);
      if (!w) throw new Error(`reference asked for ${name}, which the graph does not have`);
      return w;
    }, inp);
    let maxErr = 0;
    let maxAbs = 0;
    for (let i = 0; i < want.length; i++) {
      maxErr = Math.max(maxErr, Math.abs(got[i] - want[i]));
      maxAbs = Math.max(maxAbs, Math.abs(want[i]));
    }
    expect(maxAbs).toBeGreaterThan(0.1); // outputs are not trivially small
    expect(maxErr).toBeLessThan(1e-4);
  });

  it('uses per-token timesteps: changing one token’s timestep changes that token’s output', async () => {
    const { path } = buildWithRecordedWeights(oneLayer, 'per_token.onnx');
    const inp = inputs(oneLayer);
    const before = await runGraph(path, oneLayer, inp);
    const token = 4;
    const changed = { ...inp, timestep: Float32Array.from(inp.timestep) };
    changed.timestep[token] = inp.timestep[token] + 300;
    const after = await runGraph(path, oneLayer, changed);
    const C = oneLayer.outChannels;
    const diff = (s: number): number => Math.max(...Array.from({ length: C }, (_, ch) => Math.abs(after[s * C + ch] - before[s * C + ch])));
    expect(diff(token)).toBeGreaterThan(1e-3);
    // The second batch row shares no tokens with the first: it must not move at all.
    const S = inp.tokens;
    for (let s = S; s < 2 * S; s++) expect(diff(s)).toBe(0);
  });

  it('the padding text tokens are masked out', async () => {
    const { path } = buildWithRecordedWeights(oneLayer, 'masked.onnx');
    const inp = inputs(oneLayer);
    const before = await runGraph(path, oneLayer, inp);
    const text = Float32Array.from(inp.text);
    for (let ch = 0; ch < oneLayer.captionChannels; ch++) text[4 * oneLayer.captionChannels + ch] += 5; // batch 0, token 4 (mask 0)
    const after = await runGraph(path, oneLayer, { ...inp, text });
    // Exp(-10000) underflows to 0 in float32: the padded token has no influence.
    for (let i = 0; i < inp.tokens * oneLayer.outChannels; i++) expect(after[i]).toBe(before[i]);
  });

  it('names and shapes its weights exactly like the diffusers state dict', () => {
    const c: TransformerConfig = { ...oneLayer, numLayers: 2, numAttentionHeads: 2, attentionHeadDim: 8, crossAttentionDim: 16, inChannels: 8, outChannels: 8 };
    const D = 16;
    const saved = buildLtxvTransformer(c, dir, { seed: 1, fileName: 'two_layers.onnx' });
    const expected: [string, number[]][] = [
      ['proj_in.weight', [D, 8]],
      ['proj_in.bias', [D]],
      ['scale_shift_table', [2, D]],
      ['time_embed.emb.timestep_embedder.linear_1.weight', [D, 256]],
      ['time_embed.emb.timestep_embedder.linear_1.bias', [D]],
      ['time_embed.emb.timestep_embedder.linear_2.weight', [D, D]],
      ['time_embed.emb.timestep_embedder.linear_2.bias', [D]],
      ['time_embed.linear.weight', [6 * D, D]],
      ['time_embed.linear.bias', [6 * D]],
      ['caption_projection.linear_1.weight', [D, 12]],
      ['caption_projection.linear_1.bias', [D]],
      ['caption_projection.linear_2.weight', [D, D]],
      ['caption_projection.linear_2.bias', [D]],
      ['proj_out.weight', [8, D]],
      ['proj_out.bias', [8]],
    ];
    for (const i of [0, 1]) {
      expected.push(
        [`transformer_blocks.${i}.scale_shift_table`, [6, D]],
        [`transformer_blocks.${i}.attn1.norm_q.weight`, [D]],
        [`transformer_blocks.${i}.attn1.norm_k.weight`, [D]],
        [`transformer_blocks.${i}.attn1.to_q.weight`, [D, D]],
        [`transformer_blocks.${i}.attn1.to_q.bias`, [D]],
        [`transformer_blocks.${i}.attn1.to_k.weight`, [D, D]],
        [`transformer_blocks.${i}.attn1.to_k.bias`, [D]],
        [`transformer_blocks.${i}.attn1.to_v.weight`, [D, D]],
        [`transformer_blocks.${i}.attn1.to_v.bias`, [D]],
        [`transformer_blocks.${i}.attn1.to_out.0.weight`, [D, D]],
        [`transformer_blocks.${i}.attn1.to_out.0.bias`, [D]],
        [`transformer_blocks.${i}.attn2.norm_q.weight`, [D]],
        [`transformer_blocks.${i}.attn2.norm_k.weight`, [D]],
        [`transformer_blocks.${i}.attn2.to_q.weight`, [D, D]],
        [`transformer_blocks.${i}.attn2.to_q.bias`, [D]],
        [`transformer_blocks.${i}.attn2.to_k.weight`, [D, D]],
        [`transformer_blocks.${i}.attn2.to_k.bias`, [D]],
        [`transformer_blocks.${i}.attn2.to_v.weight`, [D, D]],
        [`transformer_blocks.${i}.attn2.to_v.bias`, [D]],
        [`transformer_blocks.${i}.attn2.to_out.0.weight`, [D, D]],
        [`transformer_blocks.${i}.attn2.to_out.0.bias`, [D]],
        [`transformer_blocks.${i}.ff.net.0.proj.weight`, [4 * D, D]],
        [`transformer_blocks.${i}.ff.net.0.proj.bias`, [4 * D]],
        [`transformer_blocks.${i}.ff.net.2.weight`, [D, 4 * D]],
        [`transformer_blocks.${i}.ff.net.2.bias`, [D]],
      );
    }
    const summary = inspectModel(saved.onnxPath);
    const actual = summary.initializers.map((t) => [t.name, t.dims] as [string, number[]]);
    const byName = (a: [string, number[]], b: [string, number[]]): number => a[0].localeCompare(b[0]);
    expect(actual.sort(byName)).toEqual(expected.sort(byName));
    // All weights are float32 external data in two_layers.onnx.data at aligned offsets.
    for (const t of summary.initializers) {
      expect(t.dataType).toBe(1);
      expect(t.external?.location).toBe('two_layers.onnx.data');
      expect(t.external!.offset % 64).toBe(0);
      expect(t.external!.length).toBe(4 * t.dims.reduce((a, b) => a * b, 1));
    }
    expect(summary.inputs.map((i) => [i.name, i.shape])).toEqual([
      ['hidden_states', ['batch', 'tokens', 8]],
      ['encoder_hidden_states', ['batch', 'text_tokens', 12]],
      ['encoder_attention_mask', ['batch', 'text_tokens']],
      ['timestep', ['batch', 'tokens']],
      ['rope_cos', ['batch', 'tokens', D]],
      ['rope_sin', ['batch', 'tokens', D]],
    ]);
    expect(summary.outputs.map((o) => [o.name, o.shape])).toEqual([['velocity', ['batch', 'tokens', 8]]]);
    expect([summary.irVersion, summary.opset, summary.producerName]).toEqual([8, 17, 'reshoot']);
  });

  it('refuses a cross-attention width that the caption projection cannot feed', () => {
    expect(() => ltxvTransformerGraph({ ...oneLayer, crossAttentionDim: 32 }, seededWeights(1))).toThrow(/crossAttentionDim/);
  });
});
