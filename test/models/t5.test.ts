import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as ort from 'onnxruntime-node';
import { join } from 'node:path';
import { parseT5Config, type T5Config } from '../../companion/models/t5/config.ts';
import {
  t5EncoderGraph,
  t5EncoderParams,
  t5BucketTable,
  t5CheckpointWeights,
  t5RelativePositionBucket,
} from '../../companion/models/t5/encoder.ts';
import { inspectModel } from '../../companion/models/onnx/inspect.ts';
import { seededWeights, mulberry32 } from '../../companion/models/weights.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { tinyT5ConfigJson, T5_V1_1_XXL_CONFIG_JSON, writeT5ConfigFixture } from '../helpers/t5Fixture.ts';
import { referenceBucket, t5ReferenceForward, type T5ReferenceInputs } from '../helpers/t5Reference.ts';

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('reshoot-t5-');
});
afterAll(() => tmp.cleanup());

const tiny: T5Config = parseT5Config(tinyT5ConfigJson());

/** Saves the graph and keeps every weight handed to it, for the reference forward. */
function build(c: T5Config, file: string, seed = 11): { path: string; weights: Map<string, Float32Array> } {
  const weights = new Map<string, Float32Array>();
  const source = seededWeights(seed);
  const saved = t5EncoderGraph(c, (name, dims, init) => {
    const w = source(name, dims, init);
    weights.set(name, w);
    return w;
  }).save(tmp.dir, file);
  return { path: saved.onnxPath, weights };
}

async function run(path: string, c: T5Config, inp: T5ReferenceInputs): Promise<Float32Array> {
  const { batch: B, length: L } = inp;
  const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'] });
  try {
    const result = await session.run({
      input_ids: new ort.Tensor('int64', BigInt64Array.from(inp.ids, (v) => BigInt(v)), [B, L]),
      attention_mask: new ort.Tensor('int64', BigInt64Array.from(inp.mask, (v) => BigInt(v)), [B, L]),
    });
    const out = result.last_hidden_state;
    expect(out.dims).toEqual([B, L, c.dModel]);
    return out.data as Float32Array;
  } finally {
    await session.release();
  }
}

function randomIds(seed: number, count: number, vocab: number): number[] {
  const rand = mulberry32(seed);
  return Array.from({ length: count }, () => Math.floor(rand() * vocab));
}

/** B = 2, L = 10 (> max distance 6, so relative positions are clipped); row 0 has 3 padding tokens. */
function inputs(c: T5Config): T5ReferenceInputs {
  const L = 10;
  const ids = randomIds(5, 2 * L, c.vocabSize);
  const mask = [...Array(7).fill(1), 0, 0, 0, ...Array(L).fill(1)];
  for (let t = 7; t < L; t++) ids[t] = 0; // <pad>
  return { batch: 2, length: L, ids, mask };
}

function compare(got: Float32Array, want: Float64Array, rows?: (i: number) => boolean): { maxErr: number; maxAbs: number } {
  let maxErr = 0;
  let maxAbs = 0;
  for (let i = 0; i < want.length; i++) {
    if (rows && !rows(i)) continue;
    maxErr = Math.max(maxErr, Math.abs(got[i] - want[i]));
    maxAbs = Math.max(maxAbs, Math.abs(want[i]));
  }
  return { maxErr, maxAbs };
}

describe('T5 encoder graph', () => {
  it('matches a plain TypeScript reference forward (gated-gelu, 2 layers)', async () => {
    const { path, weights } = build(tiny, 'gated.onnx');
    const inp = inputs(tiny);
    const got = await run(path, tiny, inp);
    const want = t5ReferenceForward(tiny, (n) => weights.get(n) ?? (() => { throw new Error(`graph lacks ${n}`); })(), inp);
    // Padded query rows are not compared: the reference leaves masked keys out, HF gives them garbage too.
    const D = tiny.dModel;
    const real = (i: number): boolean => inp.mask[Math.floor(i / D)] === 1;
    const { maxErr, maxAbs } = compare(got, want, real);
    console.log(`t5 gated-gelu parity: max abs error ${maxErr.toExponential(2)} (outputs up to ${maxAbs.toFixed(2)})`);
    expect(maxAbs).toBeGreaterThan(0.5);
    expect(maxErr).toBeLessThan(1e-4);
  });

  it('matches the reference for original T5 (relu feed-forward)', async () => {
    const c = parseT5Config(tinyT5ConfigJson({ feed_forward_proj: 'relu', dense_act_fn: 'relu', is_gated_act: false, num_layers: 1 }));
    const { path, weights } = build(c, 'relu.onnx');
    const inp = inputs(c);
    const got = await run(path, c, inp);
    const want = t5ReferenceForward(c, (n) => weights.get(n)!, inp);
    const { maxErr } = compare(got, want, (i) => inp.mask[Math.floor(i / c.dModel)] === 1);
    console.log(`t5 relu parity: max abs error ${maxErr.toExponential(2)}`);
    expect(maxErr).toBeLessThan(1e-4);
    expect(weights.has('encoder.block.0.layer.1.DenseReluDense.wi.weight')).toBe(true);
  });

  it('matches the reference at T5-XXL\'s bucket settings over 300 tokens (past ±128 on both sides)', async () => {
    const c = parseT5Config(
      tinyT5ConfigJson({ d_model: 8, d_kv: 4, num_heads: 2, d_ff: 8, num_layers: 1, relative_attention_num_buckets: 32, relative_attention_max_distance: 128 }),
    );
    const { path, weights } = build(c, 'long.onnx');
    const L = 300;
    const inp = { batch: 1, length: L, ids: randomIds(9, L, c.vocabSize), mask: Array(L).fill(1) };
    const got = await run(path, c, inp);
    const { maxErr } = compare(got, t5ReferenceForward(c, (n) => weights.get(n)!, inp));
    console.log(`t5 300-token parity (32 buckets, max distance 128): max abs error ${maxErr.toExponential(2)}`);
    expect(maxErr).toBeLessThan(1e-4);
  });

  it('padding does not change the outputs of real tokens', async () => {
    const { path } = build(tiny, 'padding.onnx');
    const inp = inputs(tiny);
    const D = tiny.dModel;
    const base = await run(path, tiny, inp);
    // Other ids under the mask: real rows bit for bit the same (exp(finfo.min) is exactly 0).
    const ids = [...inp.ids];
    ids[7] = 5;
    ids[8] = 17;
    ids[9] = 40;
    const other = await run(path, tiny, { ...inp, ids });
    for (let i = 0; i < 7 * D; i++) expect(other[i]).toBe(base[i]);
    expect(Math.max(...Array.from({ length: 3 * D }, (_, k) => Math.abs(other[7 * D + k] - base[7 * D + k])))).toBeGreaterThan(0);
    // No padding at all (L = 7): the same real outputs up to float rounding.
    const short = await run(path, tiny, { batch: 1, length: 7, ids: inp.ids.slice(0, 7), mask: Array(7).fill(1) });
    let err = 0;
    for (let i = 0; i < 7 * D; i++) err = Math.max(err, Math.abs(short[i] - base[i]));
    console.log(`t5 padded vs unpadded: max abs difference ${err.toExponential(2)}`);
    expect(err).toBeLessThan(1e-5);
  });

  it('pins the original-vs-diffusers difference: padding is masked (original) or attended (diffusers)', async () => {
    // Lightricks' LTX-Video pipeline calls text_encoder(ids, attention_mask=mask); diffusers'
    // LTXPipeline calls text_encoder(ids) with no mask, so real tokens also attend to <pad>. The
    // original wins: the engine passes the tokenizer's mask. An all-ones mask reproduces diffusers.
    const { path, weights } = build(tiny, 'diffusers.onnx');
    const inp = inputs(tiny);
    const D = tiny.dModel;
    const masked = await run(path, tiny, inp);
    const ones = { ...inp, mask: inp.mask.map(() => 1) };
    const unmasked = await run(path, tiny, ones);
    let diff = 0;
    for (let i = 0; i < 7 * D; i++) diff = Math.max(diff, Math.abs(masked[i] - unmasked[i]));
    expect(diff).toBeGreaterThan(1e-3);
    const want = t5ReferenceForward(tiny, (n) => weights.get(n)!, ones);
    expect(compare(unmasked, want).maxErr).toBeLessThan(1e-4);
  });

  it('relative-position buckets match hand-derived values (32 buckets, max distance 128)', () => {
    // bucket(j - i): j > i uses the upper 16; |n| < 8 exact; else 8 + trunc(log(|n|/8)/log(16)·8), capped at 15.
    const cases: [number, number, number][] = [
      [0, 0, 0],
      [0, 1, 17], // +1 → 16 + 1
      [1, 0, 1], // -1
      [0, 7, 23], // +7 → 16 + 7
      [10, 2, 8], // -8 → 8 + trunc(log 1) = 8
      [0, 12, 25], // +12 → 8 + trunc(8·log 1.5/log 16 = 1.17) = 9, + 16
      [30, 10, 10], // -20 → 8 + trunc(8·log 2.5/log 16 = 2.64) = 10
      [64, 0, 14], // -64 → 8 + 8·log 8/log 16 = 8 + 6 exactly
      [0, 100, 31], // +100 → 8 + trunc(7.29) = 15, + 16
      [127, 0, 15], // -127 → 8 + trunc(7.98) = 15
      [600, 0, 15], // far left: capped
      [0, 128, 31], // +128: capped
    ];
    for (const [i, j, want] of cases) {
      expect(t5RelativePositionBucket(j - i, 32, 128)).toBe(want);
      expect(referenceBucket(i, j, 32, 128)).toBe(want);
    }
    // The table the graph looks buckets up in, and its saturation beyond ±maxDistance.
    const table = t5BucketTable({ numBuckets: 32, maxDistance: 128 });
    expect(table.length).toBe(257);
    expect(table[128]).toBe(0);
    expect(table[0]).toBe(15);
    expect(table[256]).toBe(31);
    for (const n of [129, 200, 5000]) {
      expect(t5RelativePositionBucket(n, 32, 128)).toBe(31);
      expect(t5RelativePositionBucket(-n, 32, 128)).toBe(15);
    }
    // The tiny config: 8 buckets, max distance 6.
    expect(t5BucketTable(tiny)).toEqual([3, 3, 3, 2, 2, 1, 0, 5, 6, 6, 7, 7, 7]);
  });

  it('names and shapes its weights exactly like the HF state dict', () => {
    const names = t5EncoderParams(tiny).map((p) => [p.name, [...p.dims]] as [string, number[]]);
    const expected: [string, number[]][] = [
      ['shared.weight', [48, 16]],
      ['encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight', [8, 3]],
      ['encoder.final_layer_norm.weight', [16]],
    ];
    for (const i of [0, 1]) {
      const p = `encoder.block.${i}.layer`;
      expected.push(
        [`${p}.0.layer_norm.weight`, [16]],
        [`${p}.0.SelfAttention.q.weight`, [12, 16]],
        [`${p}.0.SelfAttention.k.weight`, [12, 16]],
        [`${p}.0.SelfAttention.v.weight`, [12, 16]],
        [`${p}.0.SelfAttention.o.weight`, [16, 12]],
        [`${p}.1.layer_norm.weight`, [16]],
        [`${p}.1.DenseReluDense.wi_0.weight`, [24, 16]],
        [`${p}.1.DenseReluDense.wi_1.weight`, [24, 16]],
        [`${p}.1.DenseReluDense.wo.weight`, [16, 24]],
      );
    }
    const byName = (a: [string, number[]], b: [string, number[]]): number => a[0].localeCompare(b[0]);
    expect(names.sort(byName)).toEqual(expected.sort(byName));

    const saved = t5EncoderGraph(tiny, seededWeights(1)).save(tmp.dir, 'named.onnx');
    const summary = inspectModel(saved.onnxPath);
    expect(summary.initializers.map((t) => t.name).sort()).toEqual(expected.map((e) => e[0]).sort());
    for (const t of summary.initializers) expect(t.dataType).toBe(1); // float32
    expect(summary.inputs.map((i) => [i.name, i.shape])).toEqual([
      ['input_ids', ['batch', 'text_tokens']],
      ['attention_mask', ['batch', 'text_tokens']],
    ]);
    expect(summary.outputs.map((o) => [o.name, o.shape])).toEqual([['last_hidden_state', ['batch', 'text_tokens', 16]]]);
  });

  it('loads a checkpoint that stores the tied embedding as encoder.embed_tokens.weight', () => {
    const w = new Float32Array(48 * 16).fill(0.5);
    const source = t5CheckpointWeights((n) => (n === 'encoder.embed_tokens.weight' ? w : undefined), 'text_encoder/model.safetensors');
    expect(source('shared.weight', [48, 16], { kind: 'embedding' })).toBe(w);
    expect(() => source('encoder.final_layer_norm.weight', [16], { kind: 'norm' })).toThrow(
      /text_encoder\/model\.safetensors: missing weight encoder\.final_layer_norm\.weight/,
    );
    expect(() => source('shared.weight', [40, 16], { kind: 'embedding' })).toThrow(/encoder\.embed_tokens\.weight has 768 values, expected \[40, 16\]/);
    const none = t5CheckpointWeights(() => undefined);
    expect(() => none('shared.weight', [48, 16], { kind: 'embedding' })).toThrow(/missing weight shared\.weight \(or encoder\.embed_tokens\.weight\)/);
  });
});

describe('T5 config', () => {
  it('reads google/t5-v1_1-xxl', () => {
    expect(parseT5Config(T5_V1_1_XXL_CONFIG_JSON)).toEqual({
      dModel: 4096,
      dKv: 64,
      numHeads: 64,
      dFf: 10240,
      numLayers: 24,
      numBuckets: 32,
      maxDistance: 128,
      eps: 1e-6,
      vocabSize: 32128,
      feedForward: 'gated-gelu',
    });
    const xxl = parseT5Config(T5_V1_1_XXL_CONFIG_JSON);
    const params = t5EncoderParams(xxl);
    const count = params.reduce((a, p) => a + p.dims.reduce((x, y) => x * y, 1), 0);
    expect(params.length).toBe(3 + 24 * 9);
    expect(count).toBe(4_762_310_656); // T5-XXL encoder: ~4.76 B parameters
  });

  it('reads config.json text from a file and defaults what T5Config defaults', async () => {
    const { readFileSync } = await import('node:fs');
    const path = writeT5ConfigFixture(join(tmp.dir, 'text_encoder'));
    expect(parseT5Config(readFileSync(path, 'utf8'), path)).toEqual(tiny);
    const {
      relative_attention_num_buckets: _a,
      relative_attention_max_distance: _b,
      layer_norm_epsilon: _c,
      feed_forward_proj: _d,
      dense_act_fn: _e,
      is_gated_act: _f,
      ...rest
    } = tinyT5ConfigJson();
    expect(parseT5Config(rest)).toMatchObject({ numBuckets: 32, maxDistance: 128, eps: 1e-6, feedForward: 'relu' });
  });

  it('refuses what it cannot build, naming the field', () => {
    const bad = (o: Record<string, unknown>): (() => T5Config) => () => parseT5Config(tinyT5ConfigJson(o), 'text_encoder/config.json');
    expect(bad({ feed_forward_proj: 'gated-silu' })).toThrow(
      /text_encoder\/config\.json: field feed_forward_proj is "gated-silu"; only "gated-gelu" \(T5 v1\.1\) and "relu"/,
    );
    expect(bad({ d_model: undefined })).toThrow(/field d_model/);
    expect(bad({ num_heads: -2 })).toThrow(/field num_heads/);
    expect(bad({ d_kv: 6.5 })).toThrow(/field d_kv/);
    expect(bad({ model_type: 'umt5' })).toThrow(/field model_type/);
    expect(bad({ layer_norm_epsilon: 0 })).toThrow(/field layer_norm_epsilon/);
    expect(bad({ feed_forward_proj: 'relu', dense_act_fn: 'gelu' })).toThrow(/field dense_act_fn/);
    expect(bad({ dense_act_fn: 'gelu' })).toThrow(/field dense_act_fn is "gelu"; with feed_forward_proj "gated-gelu" only "gelu_new" or "gelu_pytorch_tanh"/);
    expect(bad({ is_gated_act: false })).toThrow(/field is_gated_act/);
    expect(bad({ relative_attention_max_distance: 2 })).toThrow(/field relative_attention_max_distance/);
    expect(() => parseT5Config('{ not json', 'x/config.json')).toThrow(/x\/config\.json: not valid JSON/);
  });
});
