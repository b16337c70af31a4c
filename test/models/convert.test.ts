import { describe, it, expect, beforeAll, afterAll, beforeEach, afterEach } from 'vitest';
import * as ort from 'onnxruntime-node';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importCheckpoint, convertGraph, defaultModelId } from '../../companion/models/convert/index.ts';
import { openLtxvCheckpoint, type LtxvCheckpoint } from '../../companion/models/checkpoint.ts';
import { ltxvTransformerGraph } from '../../companion/models/ltxv/transformer.ts';
import { ltxRope } from '../../companion/models/ltxv/rope.ts';
import { t5EncoderGraph } from '../../companion/models/t5/encoder.ts';
import { inspectModel } from '../../companion/models/onnx/inspect.ts';
import { precisionPolicy, T5_KEEP_FP32 } from '../../companion/models/precision.ts';
import { loadModel, modelDir, modelManifestSchema } from '../../companion/models/registry.ts';
import { sha256File } from '../../companion/models/tiny.ts';
import { openSafetensors, writeSafetensors } from '../../companion/models/safetensors.ts';
import { seededNormals } from '../../companion/models/weights.ts';
import { isReshootError } from '../../companion/errors.ts';
import type { TransformerConfig } from '../../companion/models/types.ts';
import { fixtureVaeConfigJson, writeLtxvCheckpointFixture, type LtxvFixtureOptions, type LtxvFixture } from '../helpers/checkpoint.ts';

let root: string;
let cache: string;
const previousCache = process.env.RESHOOT_MODELS;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'reshoot-convert-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeEach(() => {
  cache = mkdtempSync(join(root, 'cache-'));
  process.env.RESHOOT_MODELS = join(cache, 'models'); // not created until something is written
});
afterEach(() => {
  if (previousCache === undefined) delete process.env.RESHOOT_MODELS;
  else process.env.RESHOOT_MODELS = previousCache;
});

let counter = 0;
function fixture(opts: LtxvFixtureOptions = {}): LtxvFixture {
  return writeLtxvCheckpointFixture(join(root, `ckpt-${counter++}`), opts);
}

function withCheckpoint<T>(folder: string, body: (c: LtxvCheckpoint) => T): T {
  const c = openLtxvCheckpoint(folder);
  try {
    return body(c);
  } finally {
    c.close();
  }
}

/** Runs a transformer graph on fixed seeded inputs (B = 1, a 2×2×2 latent grid, 5 text tokens). */
async function runTransformer(path: string, c: TransformerConfig): Promise<Float32Array> {
  const grid = { frames: 2, height: 2, width: 2 };
  const S = 8;
  const L = 5;
  const D = c.numAttentionHeads * c.attentionHeadDim;
  const rope = ltxRope({ dim: D, ...grid, frameRate: 25, spatial: 32, temporal: 8, ...c.rope });
  const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'] });
  try {
    const out = await session.run({
      hidden_states: new ort.Tensor('float32', seededNormals(1, S * c.inChannels), [1, S, c.inChannels]),
      encoder_hidden_states: new ort.Tensor('float32', seededNormals(2, L * c.captionChannels), [1, L, c.captionChannels]),
      encoder_attention_mask: new ort.Tensor('float32', Float32Array.of(1, 1, 1, 1, 0), [1, L]),
      timestep: new ort.Tensor('float32', Float32Array.from({ length: S }, (_, i) => (i < 4 ? 0 : 700 + i)), [1, S]),
      rope_cos: new ort.Tensor('float32', rope.cos, [1, S, D]),
      rope_sin: new ort.Tensor('float32', rope.sin, [1, S, D]),
      // Converted graphs take the STG selector; all zeros = the plain forward.
      ...(session.inputNames.includes('stg_perturb') ? { stg_perturb: new ort.Tensor('float32', new Float32Array(c.numLayers), [c.numLayers, 1]) } : {}),
    });
    return out.velocity.data as Float32Array;
  } finally {
    await session.release();
  }
}

async function runT5(path: string): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'] });
  try {
    const ids = BigInt64Array.from([4n, 6n, 8n, 14n, 1n, 0n, 0n]);
    const mask = BigInt64Array.from([1n, 1n, 1n, 1n, 1n, 0n, 0n]);
    const out = await session.run({ input_ids: new ort.Tensor('int64', ids, [1, 7]), attention_mask: new ort.Tensor('int64', mask, [1, 7]) });
    return out.last_hidden_state.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** The input names of each graph, as onnxruntime (CPU) loads it. */
async function graphInputs(graphs: Record<string, string>): Promise<Record<string, string[]>> {
  const inputs: Record<string, string[]> = {};
  for (const [key, path] of Object.entries(graphs)) {
    const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'] });
    inputs[key] = [...session.inputNames];
    await session.release();
  }
  return inputs;
}

const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/** The error an import throws, checked to be a user-facing ReshootError; and that nothing reached the cache. */
async function importError(folder: string): Promise<string> {
  const err = await importCheckpoint(folder, { id: 'broken' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isReshootError(err), String(err)).toBe(true);
  const cacheDir = process.env.RESHOOT_MODELS!;
  expect(existsSync(cacheDir) ? readdirSync(cacheDir) : []).toEqual([]);
  return (err as Error).message;
}

describe('opening a diffusers LTX-Video checkpoint', () => {
  it.each([
    ['0.9.0', 'blend', false, 'dynamic'],
    ['0.9.1', 'blend', true, 'dynamic'],
    ['0.9.5', 'per-token', true, 'static'],
  ] as const)('detects %s and reads its configs', (version, _conditioning, timestepConditioned, shiftKind) => {
    const f = fixture({ version });
    withCheckpoint(f.folder, (c) => {
      expect(c.version).toBe(version === '0.9.5' ? '0.9.5+' : version);
      expect(c.vae).toMatchObject({ latentChannels: 16, spatial: 32, temporal: 8, timestepConditioned });
      expect(c.transformer).toEqual({
        inChannels: 16,
        outChannels: 16,
        numAttentionHeads: 2,
        attentionHeadDim: 8,
        numLayers: 28,
        crossAttentionDim: 16,
        captionChannels: 16,
        normEps: 1e-6,
        // 0.9.0/0.9.1 place frames at plain f·8/fps; causal positioning came with 0.9.5.
        rope: { baseNumFrames: 20, baseHeight: 2048, baseWidth: 2048, theta: 10000, causalFix: version === '0.9.5' },
        stg: 'attention_values',
      });
      expect(c.recipe.name).toBe({ '0.9.0': 'ltxv-2b-0.9', '0.9.1': 'ltxv-2b-0.9.1', '0.9.5': 'ltxv-2b-0.9.5' }[version]);
      expect(c.scheduler.shift.kind).toBe(shiftKind);
      if (version !== '0.9.5') {
        expect(c.scheduler).toEqual({
          steps: 40,
          guidance: 3,
          shift: { kind: 'dynamic', baseShift: 0.95, maxShift: 2.05, baseTokens: 1024, maxTokens: 4096 },
          shiftTerminal: 0.1,
        });
      }
      expect(c.tokenizerFiles).toEqual(['tokenizer/spiece.model', 'tokenizer/tokenizer_config.json', 'tokenizer/special_tokens_map.json', 'tokenizer/added_tokens.json']);
      expect(c.distilled).toBe(false);
      expect(c.parts.transformer.where).toBe('transformer/diffusion_pytorch_model.safetensors');
    });
  });

  it('accepts the published 2B and 13B transformer configs', async () => {
    const { parseLtxvTransformerConfig } = await import('../../companion/models/checkpoint.ts');
    const base = { _class_name: 'LTXVideoTransformer3DModel', activation_fn: 'gelu-approximate', attention_bias: true, attention_out_bias: true, caption_channels: 4096, in_channels: 128, out_channels: 128, norm_elementwise_affine: false, norm_eps: 1e-6, patch_size: 1, patch_size_t: 1, qk_norm: 'rms_norm_across_heads', num_attention_heads: 32 };
    expect(parseLtxvTransformerConfig({ ...base, attention_head_dim: 64, cross_attention_dim: 2048, num_layers: 28 })).toMatchObject({ numLayers: 28, attentionHeadDim: 64, crossAttentionDim: 2048 });
    expect(parseLtxvTransformerConfig({ ...base, attention_head_dim: 128, cross_attention_dim: 4096, num_layers: 48 })).toMatchObject({ numLayers: 48, attentionHeadDim: 128, crossAttentionDim: 4096 });
    // The 13B graph declares the state dict of the published checkpoint: 15 top-level tensors + 25 per block.
    const big = parseLtxvTransformerConfig({ ...base, attention_head_dim: 128, cross_attention_dim: 4096, num_layers: 48 });
    const params = ltxvTransformerGraph(big, () => {
      throw new Error('no weights needed');
    }).paramList();
    expect(params.length).toBe(15 + 25 * 48);
    expect(params.find((p) => p.name === 'transformer_blocks.47.ff.net.0.proj.weight')?.dims).toEqual([16384, 4096]);
    expect(params.find((p) => p.name === 'caption_projection.linear_1.weight')?.dims).toEqual([4096, 4096]);
    // The 0.9.0 file on the hub leaves fields at diffusers' defaults.
    expect(parseLtxvTransformerConfig({ _class_name: 'LTXVideoTransformer3DModel' })).toMatchObject({ numLayers: 28, inChannels: 128, captionChannels: 4096 });
    expect(() => parseLtxvTransformerConfig({ ...base, patch_size: 2 })).toThrow(/patch_size = 2 is not supported/);
    expect(() => parseLtxvTransformerConfig({ ...base, qk_norm: 'rms_norm' })).toThrow(/qk_norm = "rms_norm" is not supported/);
    expect(() => parseLtxvTransformerConfig({ ...base, num_layers: 'many' })).toThrow(/field num_layers is invalid/);
  });

  it('reads distilled checkpoints as few-step, guidance-free, with their recipe', () => {
    const f = fixture({ distilled: true });
    withCheckpoint(f.folder, (c) => {
      expect(c.distilled).toBe(true);
      expect(c.recipe).toMatchObject({ name: 'ltxv-2b-0.9.6-distilled', stochastic: true });
      expect([c.scheduler.steps, c.scheduler.guidance]).toEqual([8, 1]);
    });
  });

  it('names models after the repo in a hub cache, with its revision', () => {
    const folder = join(root, 'hub', 'models--Lightricks--LTX-Video-0.9.5', 'snapshots', 'abc123');
    mkdirSync(folder, { recursive: true });
    writeLtxvCheckpointFixture(folder);
    writeFileSync(join(folder, 'README.md'), '---\nlicense: other\nlicense_name: ltxv-open-weights\npipeline_tag: text-to-video\n---\n# LTX-Video\n');
    withCheckpoint(folder, (c) => {
      expect([c.repo, c.revision, c.name, c.license]).toEqual(['Lightricks/LTX-Video-0.9.5', 'abc123', 'LTX-Video-0.9.5', 'ltxv-open-weights']);
      expect(defaultModelId(c)).toBe('ltx-video-0.9.5');
    });
  });
});

describe('converting the transformer', () => {
  it('gives the same output as the transformer built directly from the same weights (bf16 file, exact)', async () => {
    const f = fixture({ transformerDtype: 'BF16' });
    const out = mkdtempSync(join(root, 'out-'));
    const { saved, precision } = withCheckpoint(f.folder, (c) => convertGraph(c, 'transformer', out));
    expect(precision).toEqual({ stored: 'fp32', keptFp32: [], notes: [expect.stringMatching(/^auto: all weights stored fp32/)] });
    const direct = ltxvTransformerGraph(f.transformer, f.weights.transformer).save(out, 'direct.onnx');
    // Same graph, same fp32 values: the two files' weights are byte-identical and so is the output.
    expect(readFileSync(saved.dataPath).equals(readFileSync(direct.dataPath))).toBe(true);
    // The hashes recorded while writing are the files' hashes.
    expect([saved.onnxSha256, saved.dataSha256]).toEqual([sha256File(saved.onnxPath), sha256File(saved.dataPath)]);
    expect(saved.dataBytes).toBe(statSync(saved.dataPath).size);
    const got = await runTransformer(saved.onnxPath, f.transformer);
    const want = await runTransformer(direct.onnxPath, f.transformer);
    expect(maxAbs(want)).toBeGreaterThan(0.1);
    expect(maxDiff(got, want)).toBe(0);
  });

  it('reads sharded F16 checkpoints the same way', async () => {
    const f = fixture({ transformerDtype: 'F16', transformerShards: 3 });
    expect(readdirSync(join(f.folder, 'transformer')).sort()).toEqual([
      'config.json',
      'diffusion_pytorch_model-00001-of-00003.safetensors',
      'diffusion_pytorch_model-00002-of-00003.safetensors',
      'diffusion_pytorch_model-00003-of-00003.safetensors',
      'diffusion_pytorch_model.safetensors.index.json',
    ]);
    const out = mkdtempSync(join(root, 'out-'));
    const { saved } = withCheckpoint(f.folder, (c) => convertGraph(c, 'transformer', out, { precision: 'fp32' }));
    const direct = ltxvTransformerGraph(f.transformer, f.weights.transformer).save(out, 'direct.onnx');
    expect(maxDiff(await runTransformer(saved.onnxPath, f.transformer), await runTransformer(direct.onnxPath, f.transformer))).toBe(0);
  });

  it('stores fp16 on request, runs on the CPU provider, and stays within fp16 rounding of fp32', async () => {
    const f = fixture({ transformerDtype: 'F32' });
    const out = mkdtempSync(join(root, 'out-'));
    const progress: string[] = [];
    const { saved, precision } = withCheckpoint(f.folder, (c) =>
      convertGraph(c, 'transformer', out, { precision: 'fp16', onProgress: (p) => progress.push(`${p.stage} ${p.done}/${p.total}`) }),
    );
    expect(progress.at(-1)).toMatch(/^transformer (\d+)\/\1$/);
    expect(precision.stored).toBe('fp16');
    expect(precision.keptFp32).toEqual([]);
    const summary = inspectModel(saved.onnxPath);
    for (const t of summary.initializers) expect([t.name, t.dataType]).toEqual([t.name, t.dims.length >= 2 ? 10 : 1]);
    // Graph inputs and outputs stay float32.
    for (const v of [...summary.inputs, ...summary.outputs]) expect(v.elemType).toBe(1);
    const direct = ltxvTransformerGraph(f.transformer, f.weights.transformer).save(out, 'direct.onnx');
    const got = await runTransformer(saved.onnxPath, f.transformer);
    const want = await runTransformer(direct.onnxPath, f.transformer);
    expect(maxDiff(got, want)).toBeGreaterThan(0); // the weights really were rounded
    expect(maxDiff(got, want)).toBeLessThan(2e-2 * maxAbs(want));
    expect(statSync(saved.dataPath).size).toBeLessThan(0.6 * statSync(direct.dataPath).size);
  });

  it('quantizes the blocks to int8 on request (MatMulNBits, recorded in the precision), runs on the CPU provider near fp32', async () => {
    const f = fixture({ transformerDtype: 'F32' });
    const out = mkdtempSync(join(root, 'out-'));
    const { saved, precision } = withCheckpoint(f.folder, (c) => convertGraph(c, 'transformer', out, { precision: 'int8' }));
    expect(precision.stored).toBe('int8');
    expect(precision.notes[0]).toMatch(/^int8 weight-only quantization of \d+ Linear weights/);
    expect(saved.quantized.length).toBeGreaterThan(0);
    expect(saved.quantized.every((n) => n.startsWith('transformer_blocks.'))).toBe(true);
    expect(inspectModel(saved.onnxPath).opTypes).toContain('MatMulNBits');
    const direct = ltxvTransformerGraph(f.transformer, f.weights.transformer).save(out, 'direct.onnx');
    const got = await runTransformer(saved.onnxPath, f.transformer);
    const want = await runTransformer(direct.onnxPath, f.transformer);
    expect(maxDiff(got, want)).toBeGreaterThan(0);
    expect(maxDiff(got, want)).toBeLessThan(5e-2 * maxAbs(want));
  });
});

describe('converting the text encoder', () => {
  it('gives the same output as the T5 graph built from the same weights; fp16 keeps the feed-forward fp32', async () => {
    const f = fixture();
    const out = mkdtempSync(join(root, 'out-'));
    const { saved } = withCheckpoint(f.folder, (c) => convertGraph(c, 'text_encoder', out));
    const direct = withCheckpoint(f.folder, (c) => t5EncoderGraph(c.t5, f.weights.text_encoder).save(out, 'direct.onnx'));
    expect(maxDiff(await runT5(saved.onnxPath), await runT5(direct.onnxPath))).toBe(0);

    const half = mkdtempSync(join(root, 'out-'));
    const { saved: saved16, precision } = withCheckpoint(f.folder, (c) => convertGraph(c, 'text_encoder', half, { precision: 'fp16' }));
    expect(precision.stored).toBe('fp16');
    expect(precision.keptFp32.length).toBeGreaterThan(0);
    expect(precision.keptFp32.every((n) => n.includes('.DenseReluDense.'))).toBe(true);
    expect(precision.notes.join('\n')).toMatch(/feed-forward/);
    const types = new Map(inspectModel(saved16.onnxPath).initializers.map((t) => [t.name, t.dataType]));
    expect(types.get('encoder.block.0.layer.1.DenseReluDense.wo.weight')).toBe(1);
    expect(types.get('encoder.block.0.layer.0.SelfAttention.q.weight')).toBe(10);
    const want = await runT5(direct.onnxPath);
    expect(maxDiff(await runT5(saved16.onnxPath), want)).toBeLessThan(1e-2 * maxAbs(want));
  });
});

describe('precision policy', () => {
  it('keeps weights beyond fp16 range fp32 and says so', () => {
    const policy = precisionPolicy({ choice: 'fp16', keep: T5_KEEP_FP32 });
    const decl = (name: string, dims: number[]) => ({ name, dims, init: { kind: 'linear' as const, fanIn: 1 } });
    expect(policy.decide(decl('a.weight', [2, 2]), Float32Array.of(1, -2, 3, 65504))).toBe('fp16');
    expect(policy.decide(decl('big.weight', [2, 2]), Float32Array.of(1, -2, 3, -70000))).toBe('fp32');
    expect(policy.decide(decl('nan.weight', [1, 1]), Float32Array.of(NaN))).toBe('fp32');
    expect(policy.decide(decl('x.DenseReluDense.wo.weight', [2, 2]), Float32Array.of(0, 0, 0, 0))).toBe('fp32');
    expect(policy.decide(decl('bias', [4]), Float32Array.of(0, 0, 0, 0))).toBe('fp32');
    const r = policy.report();
    expect(r.stored).toBe('fp16');
    expect(r.keptFp32).toEqual(['big.weight', 'nan.weight', 'x.DenseReluDense.wo.weight']);
    expect(r.notes.join('\n')).toMatch(/beyond fp16's ±65504 are kept fp32 \(largest \|x\| seen: 70000\)/);
    expect(precisionPolicy({ choice: 'fp32' }).decide(decl('a', [2, 2]), Float32Array.of(0, 0, 0, 0))).toBe('fp32');
  });
});

describe('refusing broken checkpoints before writing anything', () => {
  it('a missing config, weight or tokenizer file', async () => {
    const f = fixture();
    rmSync(join(f.folder, 'transformer', 'config.json'));
    expect(await importError(f.folder)).toBe(`checkpoint ${f.folder} is missing transformer/config.json`);
    const g = fixture();
    rmSync(join(g.folder, 'tokenizer', 'spiece.model'));
    expect(await importError(g.folder)).toBe(`checkpoint ${g.folder} is missing tokenizer/spiece.model`);
    const h = fixture();
    rmSync(join(h.folder, 'vae', 'diffusion_pytorch_model.safetensors'));
    expect(await importError(h.folder)).toMatch(/is missing vae\/diffusion_pytorch_model\.safetensors \(or a sharded/);
    const k = fixture();
    rmSync(join(k.folder, 'model_index.json'));
    expect(await importError(k.folder)).toMatch(/is missing model_index\.json/);
    expect(await importError(join(root, 'nowhere'))).toMatch(/checkpoint folder .*nowhere does not exist/);
  });

  it('a missing tensor, naming it and the file', async () => {
    const f = fixture({ transformerDtype: 'F32' });
    const path = join(f.folder, 'transformer', 'diffusion_pytorch_model.safetensors');
    const file = openSafetensors(path);
    const kept = file.names().filter((n) => n !== 'transformer_blocks.1.ff.net.2.weight');
    const tensors = kept.map((name) => ({ name, shape: file.info(name)!.shape, dtype: 'F32' as const, data: file.read(name) }));
    file.close();
    writeSafetensors(path, tensors);
    expect(await importError(f.folder)).toBe(
      `checkpoint ${f.folder}: transformer weights lack tensor "transformer_blocks.1.ff.net.2.weight" (looked in transformer/diffusion_pytorch_model.safetensors)`,
    );
  });

  it('a tensor of the wrong shape, with expected and found', async () => {
    const f = fixture();
    const configPath = join(f.folder, 'transformer', 'config.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8'));
    writeFileSync(configPath, JSON.stringify({ ...config, num_attention_heads: 1, cross_attention_dim: 8 }));
    expect(await importError(f.folder)).toMatch(
      /transformer tensor "proj_in\.weight" has shape \[16, 16\], expected \[8, 16\] from transformer\/config\.json \(and \d+ more problems in transformer\/diffusion_pytorch_model\.safetensors\)/,
    );
  });

  it('a truncated safetensors file, naming it', async () => {
    const f = fixture();
    const path = join(f.folder, 'transformer', 'diffusion_pytorch_model.safetensors');
    truncateSync(path, statSync(path).size - 100);
    expect(await importError(f.folder)).toMatch(new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: is truncated: tensor ".*" ends at byte \\d+ but the file has \\d+ bytes`));
  });

  it('an unknown LTX-Video version or pipeline, or a config we cannot build', async () => {
    const f = fixture();
    const vaePath = join(f.folder, 'vae', 'config.json');
    writeFileSync(vaePath, JSON.stringify({ ...fixtureVaeConfigJson('0.9.5'), down_block_types: Array(4).fill('LTX2VideoDownBlock3D') }));
    expect(await importError(f.folder)).toMatch(/vae\/config\.json: down_block_types\[0\] "LTX2VideoDownBlock3D" is not supported.*Reshoot converts LTX-Video 0\.9\.0, 0\.9\.1 and 0\.9\.5\+/);
    writeFileSync(vaePath, JSON.stringify({ ...fixtureVaeConfigJson('0.9.5'), _class_name: 'AutoencoderKLLTX2Video' }));
    expect(await importError(f.folder)).toMatch(/_class_name "AutoencoderKLLTX2Video" is not supported/);

    const g = fixture();
    const indexPath = join(g.folder, 'model_index.json');
    writeFileSync(indexPath, JSON.stringify({ ...JSON.parse(readFileSync(indexPath, 'utf8')), _class_name: 'LTX2Pipeline' }));
    expect(await importError(g.folder)).toMatch(/model_index\.json names LTX2Pipeline; Reshoot converts LTX-Video 0\.9\.x pipelines/);

    const h = fixture();
    const tPath = join(h.folder, 'transformer', 'config.json');
    writeFileSync(tPath, JSON.stringify({ ...JSON.parse(readFileSync(tPath, 'utf8')), patch_size: 2 }));
    expect(await importError(h.folder)).toMatch(/transformer\/config\.json: patch_size = 2 is not supported \(Reshoot builds patch_size 1\)/);

    const s = fixture();
    const sPath = join(s.folder, 'scheduler', 'scheduler_config.json');
    writeFileSync(sPath, JSON.stringify({ ...JSON.parse(readFileSync(sPath, 'utf8')), use_karras_sigmas: true }));
    expect(await importError(s.folder)).toMatch(/scheduler_config\.json: use_karras_sigmas = true is not supported/);

    const k = fixture();
    writeFileSync(join(k.folder, 'text_encoder', 'config.json'), JSON.stringify({ model_type: 't5', d_model: 24, d_kv: 4, num_heads: 3, d_ff: 24, num_layers: 2, vocab_size: 48, feed_forward_proj: 'gated-gelu' }));
    expect(await importError(k.folder)).toMatch(/text_encoder d_model \(24\) does not match transformer caption_channels \(16\)/);
  });

  it('a PyTorch pickle instead of safetensors', async () => {
    const f = fixture();
    rmSync(join(f.folder, 'vae', 'diffusion_pytorch_model.safetensors'));
    writeFileSync(join(f.folder, 'vae', 'diffusion_pytorch_model.bin'), 'pickle');
    expect(await importError(f.folder)).toMatch(/vae\/diffusion_pytorch_model\.bin is a PyTorch pickle; Reshoot reads only \.safetensors weights/);
  });
});

describe('importing a whole checkpoint', () => {
  it('converts all four graphs, loads with loadModel, and a second import is a no-op', async () => {
    const f = fixture({ version: '0.9.5' });
    const stages = new Set<string>();
    const manifest = await importCheckpoint(f.folder, { id: 'fixture-ltxv', onProgress: (p) => stages.add(p.stage) });
    expect([...stages]).toEqual(['check', 'text_encoder', 'transformer', 'vae_encoder', 'vae_decoder', 'files', 'done']);
    expect(modelManifestSchema.safeParse(manifest).success).toBe(true);
    const handle = await loadModel('fixture-ltxv');
    expect(handle.manifest).toEqual(JSON.parse(JSON.stringify(manifest)));
    expect(handle.manifest).toMatchObject({
      id: 'fixture-ltxv',
      testModel: false,
      text: { tokenizer: 't5', file: 'tokenizer/spiece.model', maxTokens: 256, padId: 0, eosId: 1 },
      vae: { timestepConditioned: true, decodeTimestep: 0.05, decodeNoiseScale: 0.025 },
      source: { checkpoint: f.folder, version: '0.9.5+' },
      conditioning: 'per-token',
      latent: { channels: 16, spatial: 32, temporal: 8 },
      sizeRules: { multiple: 32, maxPixels: 1216 * 704, maxFrames: 257 },
      scheduler: { steps: 40, guidance: 3, shift: { kind: 'static', shift: 1 } },
      transformer: { ...f.transformer, rope: { ...f.transformer.rope, causalFix: true }, stg: 'attention_values' },
      build: { producer: 'reshoot-import', version: 3 },
      recipe: { name: 'ltxv-2b-0.9.5', framePositioning: 'causal', source: { repo: 'Lightricks/LTX-Video', file: 'configs/ltxv-2b-0.9.5.yaml' } },
    });
    expect(Object.keys(handle.manifest.precision ?? {})).toEqual(['text_encoder', 'transformer', 'vae_encoder', 'vae_decoder']);
    expect(handle.manifest.files.map((file) => file.path)).toEqual([
      'text_encoder.onnx',
      'text_encoder.onnx.data',
      'transformer.onnx',
      'transformer.onnx.data',
      'vae_encoder.onnx',
      'vae_encoder.onnx.data',
      'vae_decoder.onnx',
      'vae_decoder.onnx.data',
      'tokenizer/spiece.model',
      'tokenizer/tokenizer_config.json',
      'tokenizer/special_tokens_map.json',
      'tokenizer/added_tokens.json',
    ]);
    for (const file of handle.manifest.files) expect([file.path, sha256File(join(handle.dir, file.path))]).toEqual([file.path, file.sha256]);
    expect(await graphInputs(handle.graphs)).toEqual({
      textEncoder: ['input_ids', 'attention_mask'],
      transformer: ['hidden_states', 'encoder_hidden_states', 'encoder_attention_mask', 'timestep', 'rope_cos', 'rope_sin', 'stg_perturb'],
      vaeEncoder: ['sample'],
      vaeDecoder: ['latent', 'timestep'],
    });
    // The converted transformer is the one built directly from the checkpoint's weights.
    const direct = ltxvTransformerGraph(f.transformer, f.weights.transformer).save(mkdtempSync(join(root, 'out-')), 'direct.onnx');
    expect(maxDiff(await runTransformer(handle.graphs.transformer, handle.manifest.transformer), await runTransformer(direct.onnxPath, handle.manifest.transformer))).toBe(0);

    const before = readFileSync(join(handle.dir, 'model.json'));
    const mtime = statSync(handle.graphs.transformer).mtimeMs;
    const again = await importCheckpoint(f.folder, { id: 'fixture-ltxv' });
    expect(again).toEqual(handle.manifest);
    expect(readFileSync(join(handle.dir, 'model.json')).equals(before)).toBe(true);
    expect(statSync(handle.graphs.transformer).mtimeMs).toBe(mtime);
    expect(readdirSync(process.env.RESHOOT_MODELS!)).toEqual(['fixture-ltxv']);
  });

  it('converts 0.9.0 and 0.9.1 checkpoints (per-token conditioning and plain frame positions as the authors run them; 0.9.1 decoder with timestep and noise inputs), ids from the folder name', async () => {
    const old = fixture({ version: '0.9.0' });
    const m0 = await importCheckpoint(old.folder);
    expect(m0.id).toBe(defaultModelId({ name: old.folder.split('/').pop()! }));
    expect(m0).toMatchObject({ vae: { timestepConditioned: false }, conditioning: 'per-token', source: { version: '0.9.0' }, sizeRules: { maxPixels: 768 * 512 } });
    expect(m0.transformer.rope.causalFix).toBe(false);
    expect(m0.scheduler).toMatchObject({ shift: { kind: 'dynamic' }, shiftTerminal: 0.1 });
    expect((await graphInputs((await loadModel(m0.id)).graphs)).vaeDecoder).toEqual(['latent']);

    const mid = fixture({ version: '0.9.1' });
    const m1 = await importCheckpoint(mid.folder, { id: 'fixture-091', precision: 'fp16' });
    expect(m1).toMatchObject({ vae: { timestepConditioned: true, decodeTimestep: 0.05 }, conditioning: 'per-token', scheduler: { steps: 40, guidance: 3 } });
    expect(m1.recipe).toMatchObject({ name: 'ltxv-2b-0.9.1', framePositioning: 'plain', passes: [{ guidance: { stg: [1], rescale: [0.7], skipBlocks: [[19]] } }] });
    // The fixture's 0.9.1 decoder injects noise in 3 of its blocks (1 layer each, 2 sites per layer).
    expect(m1.vae?.spatialNoise?.sites).toBeGreaterThan(0);
    expect(m0.vae?.spatialNoise).toBeUndefined();
    expect(m1.precision?.transformer.stored).toBe('fp16');
    expect(m1.precision?.text_encoder.keptFp32.every((n) => n.includes('DenseReluDense'))).toBe(true);
    expect((await graphInputs((await loadModel('fixture-091')).graphs)).vaeDecoder).toEqual(['latent', 'timestep', 'spatial_noise']);
  });

  it('imports again when the checkpoint changed, replacing the earlier import; refuses a folder it did not write', async () => {
    const f = fixture({ version: '0.9.5', transformerDtype: 'F32' });
    await importCheckpoint(f.folder, { id: 'changing' });
    const first = readFileSync(join(modelDir('changing'), 'transformer.onnx.data'));
    writeLtxvCheckpointFixture(f.folder, { version: '0.9.5', transformerDtype: 'F32', seed: 7 });
    await importCheckpoint(f.folder, { id: 'changing' });
    expect(readFileSync(join(modelDir('changing'), 'transformer.onnx.data')).equals(first)).toBe(false);
    expect(readdirSync(process.env.RESHOOT_MODELS!)).toEqual(['changing']);
    rmSync(join(modelDir('changing'), 'import.json'));
    const err = await importCheckpoint(f.folder, { id: 'changing' }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/model "changing" already exists in .* and was not imported from a checkpoint; pass another id/);
    await expect(importCheckpoint(f.folder, { id: 'builtin:mine' })).rejects.toThrow(/reserved for built-in models/);
  });
});
