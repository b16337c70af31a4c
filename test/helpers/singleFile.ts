/**
 * Single-file LTX-Video checkpoints for tests, in the authors' layout at a reduced size: the same
 * weights as a diffusers fixture folder (./checkpoint.ts), written into one .safetensors with
 *
 *   model.diffusion_model.<authors' transformer name>   the transformer
 *   vae.<authors' VAE name>                             the VAE, plus per_channel_statistics.*
 *   __metadata__.config = {"transformer", "vae", "scheduler"}  the authors' configs (tiny widths)
 *
 * The authors' names come from tables written from the authors' side, independently of the
 * converter's (diffusers') tables: the 0.9.0 one is the authors' own diffusers → ours table
 * (Lightricks/LTX-Video ltx_video/utils/diffusers_config_mapping.py VAE_KEYS_RENAME_DICT); the
 * 0.9.1 and 0.9.5 ones follow their Encoder/Decoder constructors (one module per block-list
 * entry, the decoder's list walked from the mid block). Each maps a diffusers block prefix to the
 * authors' module index once (no chained replacement), so a wrong converter table shows as a
 * missing tensor or a different graph.
 */
import { join } from 'node:path';
import { latentUpsamplerGraph } from '../../companion/models/ltxv/latentUpsampler.ts';
import { bfloat16ToFloat, floatToBfloat16 } from '../../companion/models/precision.ts';
import { seededWeights } from '../../companion/models/weights.ts';
import { SafetensorsFile, writeSafetensors, type FloatDtype, type TensorToWrite } from '../../companion/models/safetensors.ts';
import { FIXTURE_LATENT_CHANNELS, writeLtxvCheckpointFixture, type FixtureVersion, type LtxvFixture, type LtxvFixtureOptions } from './checkpoint.ts';

/** Block prefixes diffusers → authors (module index in the authors' down_blocks / up_blocks). */
const ENCODER_LEGACY: [string, string][] = [
  ['encoder.down_blocks.0.downsamplers.0', 'encoder.down_blocks.1'],
  ['encoder.down_blocks.0.conv_out', 'encoder.down_blocks.2'],
  ['encoder.down_blocks.0', 'encoder.down_blocks.0'],
  ['encoder.down_blocks.1.downsamplers.0', 'encoder.down_blocks.4'],
  ['encoder.down_blocks.1.conv_out', 'encoder.down_blocks.5'],
  ['encoder.down_blocks.1', 'encoder.down_blocks.3'],
  ['encoder.down_blocks.2.downsamplers.0', 'encoder.down_blocks.7'],
  ['encoder.down_blocks.2', 'encoder.down_blocks.6'],
  ['encoder.down_blocks.3', 'encoder.down_blocks.8'],
  ['encoder.mid_block', 'encoder.down_blocks.9'],
];
const DECODER_090: [string, string][] = [
  ['decoder.mid_block', 'decoder.up_blocks.0'],
  ['decoder.up_blocks.0', 'decoder.up_blocks.1'],
  ['decoder.up_blocks.1.upsamplers.0', 'decoder.up_blocks.2'],
  ['decoder.up_blocks.1', 'decoder.up_blocks.3'],
  ['decoder.up_blocks.2.conv_in', 'decoder.up_blocks.4'],
  ['decoder.up_blocks.2.upsamplers.0', 'decoder.up_blocks.5'],
  ['decoder.up_blocks.2', 'decoder.up_blocks.6'],
  ['decoder.up_blocks.3.conv_in', 'decoder.up_blocks.7'],
  ['decoder.up_blocks.3.upsamplers.0', 'decoder.up_blocks.8'],
  ['decoder.up_blocks.3', 'decoder.up_blocks.9'],
];
const DECODER_091: [string, string][] = [
  ['decoder.mid_block', 'decoder.up_blocks.0'],
  ['decoder.up_blocks.0.upsamplers.0', 'decoder.up_blocks.1'],
  ['decoder.up_blocks.0', 'decoder.up_blocks.2'],
  ['decoder.up_blocks.1.upsamplers.0', 'decoder.up_blocks.3'],
  ['decoder.up_blocks.1', 'decoder.up_blocks.4'],
  ['decoder.up_blocks.2.upsamplers.0', 'decoder.up_blocks.5'],
  ['decoder.up_blocks.2', 'decoder.up_blocks.6'],
  ['decoder.time_embedder', 'decoder.last_time_embedder'],
  ['decoder.scale_shift_table', 'decoder.last_scale_shift_table'],
];
const ENCODER_095: [string, string][] = [
  ['encoder.down_blocks.0.downsamplers.0', 'encoder.down_blocks.1'],
  ['encoder.down_blocks.0', 'encoder.down_blocks.0'],
  ['encoder.down_blocks.1.downsamplers.0', 'encoder.down_blocks.3'],
  ['encoder.down_blocks.1', 'encoder.down_blocks.2'],
  ['encoder.down_blocks.2.downsamplers.0', 'encoder.down_blocks.5'],
  ['encoder.down_blocks.2', 'encoder.down_blocks.4'],
  ['encoder.down_blocks.3.downsamplers.0', 'encoder.down_blocks.7'],
  ['encoder.down_blocks.3', 'encoder.down_blocks.6'],
  ['encoder.mid_block', 'encoder.down_blocks.8'],
];
/** Module names inside the blocks (the authors' own table's common entries). */
const INNER: [RegExp, string][] = [
  [/\.resnets\./g, '.res_blocks.'],
  [/\.conv_shortcut\.conv\./g, '.conv_shortcut.'],
  [/\.norm3\./g, '.norm3.norm.'],
];
const STATISTICS: Record<string, string> = { latents_mean: 'per_channel_statistics.mean-of-means', latents_std: 'per_channel_statistics.std-of-means' };

/** diffusers VAE name → the authors'. */
export function authorsVaeName(name: string, version: FixtureVersion): string {
  if (STATISTICS[name]) return STATISTICS[name];
  const table = [...(version === '0.9.5' ? ENCODER_095 : ENCODER_LEGACY), ...(version === '0.9.0' ? DECODER_090 : DECODER_091)];
  // The longest matching block prefix, once.
  const hit = table.filter(([d]) => name === d || name.startsWith(`${d}.`)).sort((a, b) => b[0].length - a[0].length)[0];
  let out = hit ? hit[1] + name.slice(hit[0].length) : name;
  for (const [re, to] of INNER) out = out.replace(re, to);
  return out;
}

/** diffusers transformer name → the authors' (diffusers_config_mapping.py TRANSFORMER_KEYS_RENAME_DICT). */
export function authorsTransformerName(name: string): string {
  return name
    .replace(/^proj_in\./, 'patchify_proj.')
    .replace(/^time_embed\./, 'adaln_single.')
    .replace(/\.norm_q\./, '.q_norm.')
    .replace(/\.norm_k\./, '.k_norm.');
}

/** The authors' VAE config (CausalVideoAutoencoder) matching the fixture's diffusers one. */
export function authorsVaeConfig(version: FixtureVersion): Record<string, unknown> {
  const common = {
    _class_name: 'CausalVideoAutoencoder',
    dims: 3,
    in_channels: 3,
    out_channels: 3,
    latent_channels: FIXTURE_LATENT_CHANNELS,
    encoder_base_channels: 8,
    decoder_base_channels: 8,
    scaling_factor: 1.0,
    norm_layer: 'pixel_norm',
    patch_size: 4,
    latent_log_var: 'uniform',
    use_quant_conv: false,
    causal_decoder: false,
  };
  const legacyEncoder = [['res_x', 1], ['compress_all', 1], ['res_x_y', 1], ['res_x', 1], ['compress_all', 1], ['res_x_y', 1], ['res_x', 1], ['compress_all', 1], ['res_x', 1], ['res_x', 1]];
  if (version === '0.9.0') return { ...common, blocks: legacyEncoder };
  const decoder = (inject: boolean) => [
    ['res_x', { num_layers: 1, inject_noise: inject }],
    ['compress_all', { residual: true, multiplier: 2 }],
    ['res_x', { num_layers: 1, inject_noise: inject }],
    ['compress_all', { residual: true, multiplier: 2 }],
    ['res_x', { num_layers: 1, inject_noise: inject }],
    ['compress_all', { residual: true, multiplier: 2 }],
    ['res_x', { num_layers: 1, inject_noise: false }],
  ];
  if (version === '0.9.1') return { ...common, encoder_blocks: legacyEncoder, decoder_blocks: decoder(true), timestep_conditioning: true };
  return {
    ...common,
    encoder_blocks: [
      ['res_x', { num_layers: 1 }],
      ['compress_space_res', { multiplier: 2 }],
      ['res_x', { num_layers: 1 }],
      ['compress_time_res', { multiplier: 2 }],
      ['res_x', { num_layers: 1 }],
      ['compress_all_res', { multiplier: 2 }],
      ['res_x', { num_layers: 1 }],
      ['compress_all_res', { multiplier: 2 }],
      ['res_x', { num_layers: 1 }],
    ],
    decoder_blocks: decoder(false),
    timestep_conditioning: true,
  };
}

/** The authors' Transformer3DModel config at the fixture's widths. */
export function authorsTransformerConfig(numLayers: number, version: FixtureVersion): Record<string, unknown> {
  return {
    _class_name: 'Transformer3DModel',
    _diffusers_version: '0.25.1',
    activation_fn: 'gelu-approximate',
    attention_bias: true,
    attention_head_dim: 8,
    attention_type: 'default',
    caption_channels: 16,
    cross_attention_dim: 16,
    double_self_attention: false,
    dropout: 0.0,
    in_channels: FIXTURE_LATENT_CHANNELS,
    norm_elementwise_affine: false,
    norm_eps: 1e-6,
    norm_num_groups: 32,
    num_attention_heads: 2,
    num_embeds_ada_norm: 1000,
    num_layers: numLayers,
    num_vector_embeds: null,
    only_cross_attention: false,
    out_channels: FIXTURE_LATENT_CHANNELS,
    project_to_2d_pos: true,
    upcast_attention: false,
    use_linear_projection: false,
    qk_norm: 'rms_norm',
    standardization_norm: 'rms_norm',
    positional_embedding_type: 'rope',
    positional_embedding_theta: 10000.0,
    positional_embedding_max_pos: [20, 2048, 2048],
    timestep_scale_multiplier: 1000,
    ...(version === '0.9.5' ? { causal_temporal_positioning: true } : {}),
  };
}

export interface SingleFileFixture {
  /** The .safetensors path. */
  path: string;
  /** The diffusers folder holding the same weights (and the text encoder / tokenizer to pair it with). */
  diffusers: LtxvFixture;
}

export interface SingleFileFixtureOptions extends LtxvFixtureOptions {
  /** Authors' file name, e.g. 'ltxv-2b-0.9.6-distilled-04-25.safetensors'. */
  file: string;
  /** Tensors left out (authors' names), to make broken files. */
  drop?: string[];
  /** Overrides of the authors' VAE config in the metadata. */
  authorsVae?: Record<string, unknown>;
  /** Changes the tensors before they are written (e.g. a wrong shape). */
  mutate?: (tensors: TensorToWrite[]) => void;
  /** Extra metadata entries / config overrides. */
  metadata?: Record<string, string>;
}

/**
 * Writes `<dir>/diffusers/` (a diffusers fixture) and `<dir>/<file>` with the same weights in the
 * authors' single-file layout. Every tensor keeps its dtype (the transformer's `transformerDtype`).
 */
export function writeSingleFileFixture(dir: string, opts: SingleFileFixtureOptions): SingleFileFixture {
  const version = opts.version ?? '0.9.5';
  const diffusers = writeLtxvCheckpointFixture(join(dir, 'diffusers'), opts);
  const tensors: TensorToWrite[] = [];
  const copy = (file: string, rename: (n: string) => string) => {
    const f = SafetensorsFile.open(join(diffusers.folder, file));
    try {
      for (const n of f.names()) {
        const info = f.info(n)!;
        tensors.push({ name: rename(n), shape: info.shape, dtype: info.dtype as FloatDtype, data: f.read(n) });
      }
    } finally {
      f.close();
    }
  };
  copy('transformer/diffusion_pytorch_model.safetensors', (n) => `model.diffusion_model.${authorsTransformerName(n)}`);
  copy('vae/diffusion_pytorch_model.safetensors', (n) => `vae.${authorsVaeName(n, version)}`);
  // The statistics the authors' files carry beside the two the VAE uses.
  for (const extra of ['channel', 'mean-of-stds']) {
    tensors.push({ name: `vae.per_channel_statistics.${extra}`, shape: [FIXTURE_LATENT_CHANNELS], dtype: 'F32', data: new Float32Array(FIXTURE_LATENT_CHANNELS).fill(1) });
  }
  const numLayers = Number((opts.transformerConfig?.num_layers as number | undefined) ?? 28);
  const config = {
    transformer: authorsTransformerConfig(numLayers, version),
    vae: { ...authorsVaeConfig(version), ...opts.authorsVae },
    scheduler: { _class_name: 'RectifiedFlowScheduler', _diffusers_version: '0.25.1', num_train_timesteps: 1000, shifting: 'SD3', base_resolution: null, target_shift_terminal: 0.1 },
  };
  const path = join(dir, opts.file);
  const kept = tensors.filter((t) => !opts.drop?.includes(t.name));
  opts.mutate?.(kept);
  writeSafetensors(path, kept, { config: JSON.stringify(config), ...opts.metadata });
  return { path, diffusers };
}

/** The authors' upscaler config (LatentUpsampler.from_config) at a reduced width. */
export const FIXTURE_UPSCALER = { inChannels: FIXTURE_LATENT_CHANNELS, midChannels: 32, blocksPerStage: 1 } as const;

/**
 * Writes an upscaler file as the authors ship `ltxv-spatial-upscaler-*.safetensors`: LatentUpsampler's
 * state dict (bf16) and its config in the metadata. Returns its tensors by name (as stored).
 */
export function writeUpscalerFixture(path: string, opts: { drop?: string[]; seed?: number; config?: Record<string, unknown> } = {}): Map<string, Float32Array> {
  const c = FIXTURE_UPSCALER;
  const params = latentUpsamplerGraph(c, () => new Float32Array(0))
    .paramList()
    .filter((p) => p.name !== 'latents_mean' && p.name !== 'latents_std' && !opts.drop?.includes(p.name));
  const raw = seededWeights(opts.seed ?? 7);
  const tensors: TensorToWrite[] = params.map((p) => ({ name: p.name, shape: p.dims, dtype: 'BF16', data: bfloat16ToFloat(floatToBfloat16(raw(p.name, p.dims, p.init))) }));
  const config = {
    _class_name: 'LatentUpsampler',
    in_channels: c.inChannels,
    mid_channels: c.midChannels,
    num_blocks_per_stage: c.blocksPerStage,
    dims: 3,
    spatial_upsample: true,
    temporal_upsample: false,
    ...opts.config,
  };
  writeSafetensors(path, tensors, { config: JSON.stringify(config) });
  return new Map(tensors.map((t) => [t.name, t.data]));
}
