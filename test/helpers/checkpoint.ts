/**
 * A fixture builder for conversion tests: writes a reduced-size diffusers-format LTX-Video
 * checkpoint folder with the real layout, the real config fields (scaled-down values), the real
 * tensor names and seeded weights:
 *
 *   model_index.json
 *   transformer/config.json + diffusion_pytorch_model.safetensors (or sharded + index.json)
 *   vae/config.json + diffusion_pytorch_model.safetensors
 *   text_encoder/config.json + model.safetensors
 *   tokenizer/spiece.model, tokenizer_config.json, special_tokens_map.json, added_tokens.json
 *   scheduler/scheduler_config.json
 *
 * Each part's tensor list is its graph builder's `paramList()` (so the fixture cannot drift from
 * what the converter asks for), plus the extra tensors the real files carry (the VAE's
 * latents_mean / latents_std buffers). `weights` hands back each part's values exactly as stored
 * (after rounding to the file's dtype), so a test can build the same graph directly and compare.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseLtxvVaeConfig } from '../../companion/models/ltxv/vae-config.ts';
import { ltxvTransformerGraph } from '../../companion/models/ltxv/transformer.ts';
import type { ParamDecl, WeightSource } from '../../companion/models/onnx/graph.ts';
import { bfloat16ToFloat, floatToBfloat16, floatToHalf, halfToFloat } from '../../companion/models/precision.ts';
import { floatToFp8, fp8ToFloat, writeSafetensors, writeShardedSafetensors, type FloatDtype, type TensorToWrite } from '../../companion/models/safetensors.ts';
import { parseT5Config } from '../../companion/models/t5/config.ts';
import { t5EncoderParams } from '../../companion/models/t5/encoder.ts';
import { ltxvVaeBuilders } from '../../companion/models/convert/vae.ts';
import { parseLtxvTransformerConfig } from '../../companion/models/checkpoint.ts';
import { seededWeights } from '../../companion/models/weights.ts';
import type { TransformerConfig } from '../../companion/models/types.ts';
import { tinyT5ConfigJson, writeT5TokenizerFixture } from './t5Fixture.ts';

export type FixtureVersion = '0.9.0' | '0.9.1' | '0.9.5';

export interface LtxvFixtureOptions {
  version?: FixtureVersion;
  /** dtype of the transformer's weights (real checkpoints: BF16). */
  transformerDtype?: FloatDtype;
  /** Split the transformer over this many shards with an index (real 13B checkpoints are sharded). */
  transformerShards?: number;
  /** Name the pipeline "…-distilled" (in model_index _name_or_path; 'Lightricks/LTX-Video-0.9.6-distilled' unless `name` says). */
  distilled?: boolean;
  /** model_index _name_or_path (what names the release, e.g. 'Lightricks/LTX-Video-0.9.8-13B-distilled'). */
  name?: string;
  seed?: number;
  /** Overrides of transformer/config.json fields. */
  transformerConfig?: Record<string, unknown>;
  /** Overrides of text_encoder/config.json fields (the tiny T5's; keep vocab_size for the tokenizer). */
  textEncoderConfig?: Record<string, unknown>;
  /** Overrides of vae/config.json fields (e.g. wider block_out_channels). */
  vaeConfig?: Record<string, unknown>;
}

export interface LtxvFixture {
  folder: string;
  version: FixtureVersion;
  transformer: TransformerConfig;
  /** Each part's weights as stored in its file (rounded to the file's dtype). */
  weights: { transformer: WeightSource; text_encoder: WeightSource; vae: WeightSource };
}

/** Latent channels of the fixture (the real models have 128). */
export const FIXTURE_LATENT_CHANNELS = 16;

/** transformer/config.json as diffusers writes it, at a reduced size. */
export function fixtureTransformerConfigJson(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    _class_name: 'LTXVideoTransformer3DModel',
    _diffusers_version: '0.33.0.dev0',
    activation_fn: 'gelu-approximate',
    attention_bias: true,
    attention_head_dim: 8,
    attention_out_bias: true,
    caption_channels: 16, // = the tiny T5's d_model
    cross_attention_dim: 16,
    in_channels: FIXTURE_LATENT_CHANNELS,
    norm_elementwise_affine: false,
    norm_eps: 1e-6,
    num_attention_heads: 2,
    // The real 2B depth (at a tiny width): recipes perturb block 19 with STG.
    num_layers: 28,
    out_channels: FIXTURE_LATENT_CHANNELS,
    patch_size: 1,
    patch_size_t: 1,
    qk_norm: 'rms_norm_across_heads',
    ...overrides,
  };
}

/** vae/config.json of each version (diffusers' conversion-script values, widths ÷ 16, one layer per block). */
export function fixtureVaeConfigJson(version: FixtureVersion): Record<string, unknown> {
  const common = {
    _class_name: 'AutoencoderKLLTXVideo',
    _diffusers_version: '0.33.0.dev0',
    in_channels: 3,
    out_channels: 3,
    latent_channels: FIXTURE_LATENT_CHANNELS,
    patch_size: 4,
    patch_size_t: 1,
    resnet_norm_eps: 1e-6,
    scaling_factor: 1.0,
    encoder_causal: true,
    decoder_causal: false,
  };
  const legacyEncoder = {
    block_out_channels: [8, 16, 32, 32],
    down_block_types: ['LTXVideoDownBlock3D', 'LTXVideoDownBlock3D', 'LTXVideoDownBlock3D', 'LTXVideoDownBlock3D'],
    layers_per_block: [1, 1, 1, 1, 1],
    spatio_temporal_scaling: [true, true, true, false],
    downsample_type: ['conv', 'conv', 'conv', 'conv'],
  };
  const newDecoder = {
    decoder_block_out_channels: [16, 32, 64],
    decoder_layers_per_block: [1, 1, 1, 1],
    decoder_spatio_temporal_scaling: [true, true, true],
    upsample_residual: [true, true, true],
    upsample_factor: [2, 2, 2],
    timestep_conditioning: true,
  };
  if (version === '0.9.0') {
    return {
      ...common,
      ...legacyEncoder,
      decoder_block_out_channels: [8, 16, 32, 32],
      decoder_layers_per_block: [1, 1, 1, 1, 1],
      decoder_spatio_temporal_scaling: [true, true, true, false],
      decoder_inject_noise: [false, false, false, false, false],
      upsample_residual: [false, false, false, false],
      upsample_factor: [1, 1, 1, 1],
      timestep_conditioning: false,
    };
  }
  if (version === '0.9.1') return { ...common, ...legacyEncoder, ...newDecoder, decoder_inject_noise: [true, true, true, false] };
  return {
    ...common,
    ...newDecoder,
    block_out_channels: [8, 16, 32, 64, 128],
    down_block_types: Array(4).fill('LTXVideo095DownBlock3D'),
    layers_per_block: [1, 1, 1, 1, 1],
    spatio_temporal_scaling: [true, true, true, true],
    downsample_type: ['spatial', 'temporal', 'spatiotemporal', 'spatiotemporal'],
    decoder_inject_noise: [false, false, false, false],
    spatial_compression_ratio: 32,
    temporal_compression_ratio: 8,
  };
}

/** scheduler/scheduler_config.json as the diffusers conversion writes it per version. */
export function fixtureSchedulerConfigJson(version: FixtureVersion): Record<string, unknown> {
  const base = {
    _class_name: 'FlowMatchEulerDiscreteScheduler',
    _diffusers_version: '0.33.0.dev0',
    invert_sigmas: false,
    num_train_timesteps: 1000,
    shift: 1.0,
    use_beta_sigmas: false,
    use_exponential_sigmas: false,
    use_karras_sigmas: false,
    base_image_seq_len: 1024,
    base_shift: 0.95,
    max_image_seq_len: 4096,
    max_shift: 2.05,
  };
  if (version === '0.9.5') return { ...base, use_dynamic_shifting: false, shift_terminal: null };
  return { ...base, use_dynamic_shifting: true, shift_terminal: 0.1 };
}

/** Values as a file of `dtype` stores them. */
function roundTo(dtype: FloatDtype, values: Float32Array): Float32Array {
  if (dtype === 'F32') return values;
  if (dtype === 'F8_E4M3' || dtype === 'F8_E5M2') return fp8ToFloat(floatToFp8(values, dtype), dtype);
  if (dtype === 'F16') return halfToFloat(floatToHalf(values));
  return bfloat16ToFloat(floatToBfloat16(values));
}

type Seeded = { tensors: TensorToWrite[]; source: WeightSource };

/** Generated tensors by (params, seed, dtype): many fixtures per test file share them (they are read-only). */
const seededCache = new Map<string, Seeded>();

/** Seeded tensors for `params`, rounded to `dtype`; returns them and a lookup. */
function seeded(params: readonly ParamDecl[], seed: number, dtype: FloatDtype): Seeded {
  const key = JSON.stringify([params.map((p) => [p.name, p.dims]), seed, dtype]);
  const cached = seededCache.get(key);
  if (cached) return cached;
  const made = generate(params, seed, dtype);
  seededCache.set(key, made);
  return made;
}

function generate(params: readonly ParamDecl[], seed: number, dtype: FloatDtype): Seeded {
  const raw = seededWeights(seed);
  const tensors = params.map((p) => ({ name: p.name, shape: p.dims, dtype, data: roundTo(dtype, raw(p.name, p.dims, p.init)) }));
  const byName = new Map(tensors.map((t) => [t.name, t.data]));
  const source: WeightSource = (name) => {
    const v = byName.get(name);
    if (!v) throw new Error(`fixture has no tensor ${name}`);
    return v;
  };
  return { tensors, source };
}

const writeJson = (path: string, json: unknown): void => writeFileSync(path, `${JSON.stringify(json, null, 2)}\n`);

const noWeights: WeightSource = (name) => {
  throw new Error(`paramList read ${name}`);
};

/** Writes the fixture checkpoint into `folder` (created if needed). */
export function writeLtxvCheckpointFixture(folder: string, opts: LtxvFixtureOptions = {}): LtxvFixture {
  const version = opts.version ?? '0.9.5';
  const seed = opts.seed ?? 42;
  for (const sub of ['transformer', 'vae', 'text_encoder', 'tokenizer', 'scheduler']) mkdirSync(join(folder, sub), { recursive: true });

  const pipeline = version === '0.9.5' ? 'LTXConditionPipeline' : 'LTXPipeline';
  writeJson(join(folder, 'model_index.json'), {
    _class_name: pipeline,
    _diffusers_version: '0.33.0.dev0',
    ...(opts.name || opts.distilled ? { _name_or_path: opts.name ?? 'Lightricks/LTX-Video-0.9.6-distilled' } : {}),
    scheduler: ['diffusers', 'FlowMatchEulerDiscreteScheduler'],
    text_encoder: ['transformers', 'T5EncoderModel'],
    tokenizer: ['transformers', 'T5Tokenizer'],
    transformer: ['diffusers', 'LTXVideoTransformer3DModel'],
    vae: ['diffusers', 'AutoencoderKLLTXVideo'],
  });
  writeJson(join(folder, 'scheduler', 'scheduler_config.json'), fixtureSchedulerConfigJson(version));

  // transformer
  const transformerJson = fixtureTransformerConfigJson(opts.transformerConfig);
  writeJson(join(folder, 'transformer', 'config.json'), transformerJson);
  const transformer = parseLtxvTransformerConfig(transformerJson);
  const tParams = ltxvTransformerGraph(transformer, noWeights).paramList();
  const t = seeded(tParams, seed, opts.transformerDtype ?? 'BF16');
  if ((opts.transformerShards ?? 1) > 1) writeShardedSafetensors(join(folder, 'transformer'), 'diffusion_pytorch_model', t.tensors, opts.transformerShards!);
  else writeSafetensors(join(folder, 'transformer', 'diffusion_pytorch_model.safetensors'), t.tensors, { format: 'pt' });

  // text encoder (+ tokenizer, from the T5 fixture)
  const t5Json = tinyT5ConfigJson(opts.textEncoderConfig);
  writeJson(join(folder, 'text_encoder', 'config.json'), t5Json);
  const te = seeded(t5EncoderParams(parseT5Config(t5Json)), seed + 1, 'F32');
  writeSafetensors(join(folder, 'text_encoder', 'model.safetensors'), te.tensors, { format: 'pt' });
  writeT5TokenizerFixture(join(folder, 'tokenizer'));

  // vae: the two graph builders' params (they include the latents_mean / latents_std buffers and the
  // decoder's timestep_scale_multiplier, which the real files carry), plus those buffers if not.
  const vaeJson = opts.vaeConfig ? { ...fixtureVaeConfigJson(version), ...opts.vaeConfig } : fixtureVaeConfigJson(version);
  writeJson(join(folder, 'vae', 'config.json'), vaeJson);
  const builders = ltxvVaeBuilders();
  const vaeParams = new Map<string, ParamDecl>();
  const vaeCfg = parseLtxvVaeConfig(vaeJson);
  for (const p of [...builders.encoder(vaeCfg, noWeights).paramList(), ...builders.decoder(vaeCfg, noWeights).paramList()]) {
    if (!vaeParams.has(p.name)) vaeParams.set(p.name, p);
  }
  for (const name of ['latents_mean', 'latents_std']) {
    if (!vaeParams.has(name)) vaeParams.set(name, { name, dims: [FIXTURE_LATENT_CHANNELS], init: { kind: 'norm' } });
  }
  const vae = seeded([...vaeParams.values()], seed + 2, 'F32');
  writeSafetensors(join(folder, 'vae', 'diffusion_pytorch_model.safetensors'), vae.tensors, { format: 'pt' });

  return { folder, version, transformer, weights: { transformer: t.source, text_encoder: te.source, vae: vae.source } };
}
