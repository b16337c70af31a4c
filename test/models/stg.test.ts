/**
 * Spatio-temporal guidance in the transformer graph: the STG selector is an input, the weights
 * are the plain graph's (no second copy), an all-zero selector gives the plain output bit for bit,
 * and a perturbed block does what the authors' attention processor does (checked against the
 * independent reference forward), for the perturbed batch element only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ltxvTransformerGraph } from '../../companion/models/ltxv/transformer.ts';
import { ltxRope } from '../../companion/models/ltxv/rope.ts';
import type { StgMode } from '../../companion/models/recipe.ts';
import { seededNormals, seededWeights } from '../../companion/models/weights.ts';
import type { TransformerConfig } from '../../companion/models/types.ts';
import { referenceForward, type ReferenceInputs } from './ltxvReference.ts';

const twoLayers: TransformerConfig = {
  inChannels: 8,
  outChannels: 6,
  numAttentionHeads: 2,
  attentionHeadDim: 8,
  numLayers: 2,
  crossAttentionDim: 16,
  captionChannels: 12,
  normEps: 1e-6,
  rope: { baseNumFrames: 20, baseHeight: 2048, baseWidth: 2048, theta: 10000, causalFix: true },
};
const B = 2;
const S = 12;
const L = 5;
const D = 16;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'reshoot-stg-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const weights = new Map<string, Float32Array>();
function build(stg: StgMode | undefined, file: string): string {
  const source = seededWeights(11);
  const c: TransformerConfig = stg ? { ...twoLayers, stg } : twoLayers;
  return ltxvTransformerGraph(c, (name, dims, init) => {
    const w = source(name, dims, init);
    weights.set(name, w);
    return w;
  }).save(dir, file).onnxPath;
}

function inputs(): ReferenceInputs {
  const tables = ltxRope({ dim: D, frames: 2, height: 2, width: 3, frameRate: 24, spatial: 32, temporal: 8, ...twoLayers.rope });
  return {
    batch: B,
    tokens: S,
    textTokens: L,
    hidden: seededNormals(1, B * S * twoLayers.inChannels),
    text: seededNormals(2, B * L * twoLayers.captionChannels),
    mask: Float32Array.from([1, 1, 1, 0, 0, 1, 1, 1, 1, 1]),
    timestep: Float32Array.from(seededNormals(3, B * S), (v) => Math.min(1000, Math.abs(v) * 400)),
    cos: tables.cos,
    sin: tables.sin,
  };
}

async function run(path: string, inp: ReferenceInputs, perturb?: Float32Array): Promise<Float32Array> {
  const perBatch = (t: Float32Array): Float32Array => {
    const out = new Float32Array(B * t.length);
    for (let b = 0; b < B; b++) out.set(t, b * t.length);
    return out;
  };
  const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'] });
  try {
    const feeds: Record<string, ort.Tensor> = {
      hidden_states: new ort.Tensor('float32', inp.hidden, [B, S, twoLayers.inChannels]),
      encoder_hidden_states: new ort.Tensor('float32', inp.text, [B, L, twoLayers.captionChannels]),
      encoder_attention_mask: new ort.Tensor('float32', inp.mask, [B, L]),
      timestep: new ort.Tensor('float32', inp.timestep, [B, S]),
      rope_cos: new ort.Tensor('float32', perBatch(inp.cos), [B, S, D]),
      rope_sin: new ort.Tensor('float32', perBatch(inp.sin), [B, S, D]),
    };
    if (perturb) feeds.stg_perturb = new ort.Tensor('float32', perturb, [twoLayers.numLayers, B]);
    return (await session.run(feeds)).velocity!.data as Float32Array;
  } finally {
    await session.release();
  }
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>, from = 0, to = a.length): number => {
  let m = 0;
  for (let i = from; i < to; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

describe('STG in the transformer graph', () => {
  const half = S * twoLayers.outChannels; // one batch element's outputs

  it('takes the selector as an input over the same weights, and all zeros gives the plain output bit for bit', async () => {
    const plain = build(undefined, 'plain.onnx');
    const plainParams = ltxvTransformerGraph(twoLayers, () => new Float32Array(0)).paramList().map((p) => [p.name, p.dims.join()]);
    const withStg = build('attention_values', 'stg.onnx');
    const stgParams = ltxvTransformerGraph({ ...twoLayers, stg: 'attention_values' }, () => new Float32Array(0)).paramList().map((p) => [p.name, p.dims.join()]);
    expect(stgParams).toEqual(plainParams);
    const inp = inputs();
    const a = await run(plain, inp);
    const b = await run(withStg, inp, new Float32Array(twoLayers.numLayers * B));
    expect(Math.max(...Array.from(a, Math.abs))).toBeGreaterThan(0.1);
    expect(Buffer.from(b.buffer).equals(Buffer.from(a.buffer))).toBe(true);
  });

  it.each(['attention_values', 'attention_skip'] as const)('%s: a perturbed block matches the reference and touches only its batch element', async (mode) => {
    const path = build(mode, `stg-${mode}.onnx`);
    const inp = inputs();
    const off = await run(path, inp, new Float32Array(twoLayers.numLayers * B));
    // Block 1 perturbed for batch element 1 (the authors' perturbed pass is the last of the batch).
    const perturb = Float32Array.from([0, 0, 0, 1]);
    const on = await run(path, inp, perturb);
    expect(maxDiff(on, off, 0, half)).toBe(0);
    expect(maxDiff(on, off, half, 2 * half)).toBeGreaterThan(1e-3);
    const want = referenceForward({ ...twoLayers, stg: mode }, (n) => weights.get(n)!, { ...inp, stg: { mode, perturb } });
    expect(maxDiff(on, want)).toBeLessThan(1e-4);
    // And the reference without STG is the plain output: the perturbation is what moved batch 1.
    const plainWant = referenceForward(twoLayers, (n) => weights.get(n)!, inp);
    expect(maxDiff(off, plainWant)).toBeLessThan(1e-4);
  });

  it('the two modes perturb differently', async () => {
    const inp = inputs();
    const perturb = Float32Array.from([1, 1, 1, 1]);
    const values = await run(build('attention_values', 'v.onnx'), inp, perturb);
    const skip = await run(build('attention_skip', 's.onnx'), inp, perturb);
    expect(maxDiff(values, skip)).toBeGreaterThan(1e-3);
  });
});
