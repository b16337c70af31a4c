/**
 * The LTX-Video VAE's configuration: diffusers' `vae/config.json` of `AutoencoderKLLTXVideo`
 * (src/diffusers/models/autoencoders/autoencoder_kl_ltx.py) parsed, defaulted and checked, plus the
 * block structure both graphs and the parameter list are built from.
 *
 * Versions, as they show in the config (fields absent from a file take diffusers' defaults, which
 * are the 0.9.0 values, so the 0.9.0 file on the hub lists only a dozen keys):
 *   0.9.0   `LTXVideoDownBlock3D` encoder blocks (conv stride-2 downsampling, a resnet `conv_out`
 *           where the width changes), decoder without timestep conditioning.
 *   0.9.1   same encoder; `timestep_conditioning: true` decoder (time embedders in the mid and up
 *           blocks, `scale_shift_table`s), `decoder_inject_noise`, residual upsamplers that halve
 *           the width (`upsample_residual`, `upsample_factor`).
 *   0.9.5+  `LTXVideo095DownBlock3D` encoder blocks: space-to-depth downsamplers chosen per block by
 *           `downsample_type` (spatial / temporal / spatiotemporal / conv) that also widen; one
 *           block fewer than `block_out_channels` entries. Decoder as in 0.9.1.
 *
 * Anything else (another block type, a padding mode, temporal patches, a field this file does not
 * know) is refused with a ReshootError that names the field, rather than guessed at.
 */
import { z } from 'zod';
import { ReshootError } from '../../errors.ts';
import type { LatentSpec } from '../types.ts';

export type LtxvVaeVersion = '0.9.0' | '0.9.1' | '0.9.5+';
export type DownBlockType = 'LTXVideoDownBlock3D' | 'LTXVideo095DownBlock3D';
export type DownsampleType = 'conv' | 'spatial' | 'temporal' | 'spatiotemporal';

/** The config with diffusers' defaults applied; lists keep the file's order (encoder order). */
export interface LtxvVaeConfig {
  version: LtxvVaeVersion;
  latentChannels: number;
  /** Spatial patch of the input (pixels per side folded into channels before conv_in). */
  patchSize: number;
  resnetNormEps: number;
  scalingFactor: number;
  timestepConditioning: boolean;
  encoder: {
    causal: boolean;
    blockOutChannels: number[];
    blockTypes: DownBlockType[];
    /** One entry per down block, then the mid block's. */
    layersPerBlock: number[];
    spatioTemporalScaling: boolean[];
    downsampleType: DownsampleType[];
  };
  decoder: {
    causal: boolean;
    /** In the file's (encoder-side) order; the decoder walks them reversed. */
    blockOutChannels: number[];
    /** Same order as the file: the last entry is the decoder's mid block. */
    layersPerBlock: number[];
    spatioTemporalScaling: boolean[];
    injectNoise: boolean[];
    upsampleResidual: boolean[];
    upsampleFactor: number[];
  };
  latent: LatentSpec;
}

// ---- the file ---------------------------------------------------------------------------------

const DOWN_BLOCK_TYPES = ['LTXVideoDownBlock3D', 'LTXVideo095DownBlock3D'] as const;
const DOWNSAMPLE_TYPES = ['conv', 'spatial', 'temporal', 'spatiotemporal'] as const;

const positiveInt = z.number().int().positive();
const nonNegativeInt = z.number().int().nonnegative();

/** Every key AutoencoderKLLTXVideo.__init__ takes; the defaults are diffusers'. */
const fileSchema = z.strictObject({
  in_channels: positiveInt.default(3),
  out_channels: positiveInt.default(3),
  latent_channels: positiveInt.default(128),
  block_out_channels: z.array(positiveInt).min(1).default([128, 256, 512, 512]),
  down_block_types: z.array(z.string()).optional(),
  decoder_block_out_channels: z.array(positiveInt).min(1).default([128, 256, 512, 512]),
  layers_per_block: z.array(nonNegativeInt).default([4, 3, 3, 3, 4]),
  decoder_layers_per_block: z.array(nonNegativeInt).default([4, 3, 3, 3, 4]),
  spatio_temporal_scaling: z.array(z.boolean()).default([true, true, true, false]),
  decoder_spatio_temporal_scaling: z.array(z.boolean()).default([true, true, true, false]),
  decoder_inject_noise: z.array(z.boolean()).default([false, false, false, false, false]),
  downsample_type: z.array(z.string()).optional(),
  upsample_residual: z.array(z.boolean()).default([false, false, false, false]),
  upsample_factor: z.array(positiveInt).default([1, 1, 1, 1]),
  timestep_conditioning: z.boolean().default(false),
  patch_size: positiveInt.default(4),
  patch_size_t: positiveInt.default(1),
  resnet_norm_eps: z.number().positive().default(1e-6),
  scaling_factor: z.number().positive().default(1.0),
  encoder_causal: z.boolean().default(true),
  decoder_causal: z.boolean().default(false),
  spatial_compression_ratio: positiveInt.nullable().optional(),
  temporal_compression_ratio: positiveInt.nullable().optional(),
});

type VaeFile = z.infer<typeof fileSchema>;

function refuse(message: string): never {
  throw new ReshootError('model', `vae/config.json: ${message}`);
}

/** Parses a diffusers `vae/config.json` (already JSON-decoded) of AutoencoderKLLTXVideo. */
export function parseLtxvVaeConfig(json: unknown): LtxvVaeConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) refuse('is not a JSON object');
  // Keys starting with "_" are diffusers bookkeeping (_class_name, _diffusers_version, _name_or_path).
  const raw = json as Record<string, unknown>;
  const className = raw._class_name;
  if (className !== undefined && className !== 'AutoencoderKLLTXVideo') {
    refuse(`_class_name "${String(className)}" is not supported (only AutoencoderKLLTXVideo)`);
  }
  const fields = Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith('_')));
  const parsed = fileSchema.safeParse(fields);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') refuse(`unsupported field ${issue.keys.map((k) => `"${k}"`).join(', ')}`);
    refuse(`field "${path}" is invalid: ${issue.message}`);
  }
  return fromFile(parsed.data);
}

function expectLength(field: string, list: readonly unknown[], length: number, why: string): void {
  if (list.length !== length) refuse(`${field} has ${list.length} entries; ${length} expected (${why})`);
}

function fromFile(f: VaeFile): LtxvVaeConfig {
  if (f.in_channels !== 3) refuse(`in_channels ${f.in_channels} is not supported (RGB only: 3)`);
  if (f.out_channels !== 3) refuse(`out_channels ${f.out_channels} is not supported (RGB only: 3)`);
  if (f.patch_size_t !== 1) refuse(`patch_size_t ${f.patch_size_t} is not supported (only 1)`);

  // ---- encoder ----
  const types = f.down_block_types ?? f.block_out_channels.map(() => 'LTXVideoDownBlock3D');
  types.forEach((t, i) => {
    if (!(DOWN_BLOCK_TYPES as readonly string[]).includes(t)) {
      refuse(`down_block_types[${i}] "${t}" is not supported (known: ${DOWN_BLOCK_TYPES.join(', ')})`);
    }
  });
  const blockTypes = types as DownBlockType[];
  if (new Set(blockTypes).size > 1) refuse(`down_block_types mixes ${[...new Set(blockTypes)].join(' and ')}; only one kind per encoder is supported`);
  const is095 = blockTypes[blockTypes.length - 1] === 'LTXVideo095DownBlock3D';
  // diffusers: 0.9.5 encoders have one block fewer than block_out_channels entries (each widens to the next).
  const downBlocks = f.block_out_channels.length - (is095 ? 1 : 0);
  if (downBlocks < 1) refuse(`block_out_channels needs at least ${is095 ? 2 : 1} entries`);
  expectLength('down_block_types', blockTypes, downBlocks, 'one per down block');
  expectLength('layers_per_block', f.layers_per_block, downBlocks + 1, 'one per down block, then the mid block');
  expectLength('spatio_temporal_scaling', f.spatio_temporal_scaling, downBlocks, 'one per down block');
  const downsample = f.downsample_type ?? blockTypes.map(() => 'conv');
  downsample.forEach((t, i) => {
    if (!(DOWNSAMPLE_TYPES as readonly string[]).includes(t)) {
      refuse(`downsample_type[${i}] "${t}" is not supported (known: ${DOWNSAMPLE_TYPES.join(', ')})`);
    }
  });
  if (is095) expectLength('downsample_type', downsample, downBlocks, 'one per down block');

  // ---- decoder ----
  const n = f.decoder_block_out_channels.length;
  expectLength('decoder_layers_per_block', f.decoder_layers_per_block, n + 1, 'one per up block, then the mid block');
  expectLength('decoder_spatio_temporal_scaling', f.decoder_spatio_temporal_scaling, n, 'one per up block');
  expectLength('decoder_inject_noise', f.decoder_inject_noise, n + 1, 'one per up block, then the mid block');
  expectLength('upsample_residual', f.upsample_residual, n, 'one per up block');
  expectLength('upsample_factor', f.upsample_factor, n, 'one per up block');

  const version: LtxvVaeVersion = is095 ? '0.9.5+' : f.timestep_conditioning ? '0.9.1' : '0.9.0';
  const partial: Omit<LtxvVaeConfig, 'latent'> = {
    version,
    latentChannels: f.latent_channels,
    patchSize: f.patch_size,
    resnetNormEps: f.resnet_norm_eps,
    scalingFactor: f.scaling_factor,
    timestepConditioning: f.timestep_conditioning,
    encoder: {
      causal: f.encoder_causal,
      blockOutChannels: f.block_out_channels,
      blockTypes,
      layersPerBlock: f.layers_per_block,
      spatioTemporalScaling: f.spatio_temporal_scaling,
      downsampleType: (is095 ? downsample : blockTypes.map(() => 'conv')) as DownsampleType[],
    },
    decoder: {
      causal: f.decoder_causal,
      blockOutChannels: f.decoder_block_out_channels,
      layersPerBlock: f.decoder_layers_per_block,
      spatioTemporalScaling: f.decoder_spatio_temporal_scaling,
      injectNoise: f.decoder_inject_noise,
      upsampleResidual: f.upsample_residual,
      upsampleFactor: f.upsample_factor,
    },
  };
  // Walking the blocks checks that the widths chain up (throws by field name if not).
  const enc = encoderPlan(partial);
  const dec = decoderPlan(partial);
  const spatial = partial.patchSize * enc.stride[1];
  const temporal = enc.stride[0];
  if (enc.stride[1] !== enc.stride[2]) refuse('the encoder downsamples height and width differently');
  if (dec.stride[0] !== temporal || partial.patchSize * dec.stride[1] !== spatial) {
    refuse(
      `decoder_spatio_temporal_scaling upsamples ${dec.stride[0]}×${partial.patchSize * dec.stride[1]} (time × space) ` +
        `but the encoder downsamples ${temporal}×${spatial}`,
    );
  }
  if (f.spatial_compression_ratio != null && f.spatial_compression_ratio !== spatial) {
    refuse(`spatial_compression_ratio ${f.spatial_compression_ratio} does not match the blocks (${spatial})`);
  }
  if (f.temporal_compression_ratio != null && f.temporal_compression_ratio !== temporal) {
    refuse(`temporal_compression_ratio ${f.temporal_compression_ratio} does not match the blocks (${temporal})`);
  }
  return { ...partial, latent: { channels: partial.latentChannels, spatial, temporal } };
}

/** Latent channels and pixels per latent cell: { 128, 32, 8 } for every released LTX-Video VAE. */
export function latentSpecOf(cfg: LtxvVaeConfig): LatentSpec {
  return { ...cfg.latent };
}

// ---- block structure ----------------------------------------------------------------------------

/** Strides [time, height, width]. */
export type Stride3 = [number, number, number];

export type Downsampler =
  | { kind: 'conv'; stride: Stride3 } // LTXVideoCausalConv3d stride 2: downsamplers.0.conv.*
  | { kind: 'spaceToDepth'; stride: Stride3; convOut: number; groupSize: number }; // LTXVideoDownsampler3d: downsamplers.0.conv.conv.*

export interface EncoderBlockPlan {
  prefix: string;
  inChannels: number;
  outChannels: number;
  layers: number;
  downsampler?: Downsampler;
  /** 0.9.0 blocks change width with a resnet after the downsampler. */
  convOut: boolean;
}

export interface EncoderPlan {
  convInChannels: number;
  width: number; // channels after conv_in
  blocks: EncoderBlockPlan[];
  midChannels: number;
  midLayers: number;
  stride: Stride3; // overall, without the patch
}

const STRIDES: Record<Exclude<DownsampleType, 'conv'>, Stride3> = {
  spatial: [1, 2, 2],
  temporal: [2, 1, 1],
  spatiotemporal: [2, 2, 2],
};

/** LTXVideoEncoder3d's blocks and widths (diffusers' construction, checked for consistency). */
export function encoderPlan(cfg: Omit<LtxvVaeConfig, 'latent'>): EncoderPlan {
  const e = cfg.encoder;
  const is095 = e.blockTypes[e.blockTypes.length - 1] === 'LTXVideo095DownBlock3D';
  const count = e.blockOutChannels.length - (is095 ? 1 : 0);
  let width = e.blockOutChannels[0];
  const stride: Stride3 = [1, 1, 1];
  const blocks: EncoderBlockPlan[] = [];
  for (let i = 0; i < count; i++) {
    const inChannels = width;
    const outChannels = is095 ? e.blockOutChannels[i + 1] : i + 1 < count ? e.blockOutChannels[i + 1] : e.blockOutChannels[i];
    const plan: EncoderBlockPlan = { prefix: `encoder.down_blocks.${i}`, inChannels, outChannels, layers: e.layersPerBlock[i], convOut: false };
    if (!is095) {
      if (e.spatioTemporalScaling[i]) plan.downsampler = { kind: 'conv', stride: [2, 2, 2] };
      plan.convOut = inChannels !== outChannels;
    } else if (e.spatioTemporalScaling[i]) {
      const type = e.downsampleType[i];
      if (type === 'conv') {
        if (inChannels !== outChannels) refuse(`down block ${i}: downsample_type "conv" cannot widen ${inChannels} → ${outChannels} channels`);
        plan.downsampler = { kind: 'conv', stride: [2, 2, 2] };
      } else {
        const s = STRIDES[type];
        const prod = s[0] * s[1] * s[2];
        if (outChannels % prod !== 0 || (inChannels * prod) % outChannels !== 0) {
          refuse(`down block ${i}: ${inChannels} → ${outChannels} channels do not divide into a ${type} space-to-depth of ${prod}`);
        }
        plan.downsampler = { kind: 'spaceToDepth', stride: s, convOut: outChannels / prod, groupSize: (inChannels * prod) / outChannels };
      }
    } else if (inChannels !== outChannels) {
      refuse(`down block ${i}: LTXVideo095DownBlock3D without spatio_temporal_scaling cannot widen ${inChannels} → ${outChannels} channels`);
    }
    if (plan.downsampler) for (let a = 0; a < 3; a++) stride[a] *= plan.downsampler.stride[a];
    blocks.push(plan);
    width = outChannels;
  }
  return {
    convInChannels: 3 * cfg.patchSize * cfg.patchSize,
    width: e.blockOutChannels[0],
    blocks,
    midChannels: width,
    midLayers: e.layersPerBlock[count],
    stride,
  };
}

export interface DecoderBlockPlan {
  prefix: string;
  /** Width the block's `conv_in` resnet (if any) and time embedder are declared with. */
  inChannels: number;
  outChannels: number;
  layers: number;
  convIn: boolean;
  upsampler?: { inChannels: number; convOut: number; residual: boolean; factor: number };
  injectNoise: boolean;
}

export interface DecoderPlan {
  width: number; // channels after conv_in (= mid block)
  midLayers: number;
  midInjectNoise: boolean;
  blocks: DecoderBlockPlan[];
  outWidth: number; // channels into norm_out / conv_out
  convOutChannels: number;
  stride: Stride3;
}

/** LTXVideoDecoder3d's blocks and widths: lists reversed, widths divided by upsample_factor. */
export function decoderPlan(cfg: Omit<LtxvVaeConfig, 'latent'>): DecoderPlan {
  const d = cfg.decoder;
  const rev = <T>(xs: readonly T[]): T[] => [...xs].reverse();
  const channels = rev(d.blockOutChannels);
  const scaling = rev(d.spatioTemporalScaling);
  const layers = rev(d.layersPerBlock);
  const noise = rev(d.injectNoise);
  const residual = rev(d.upsampleResidual);
  const factor = rev(d.upsampleFactor);
  const cond = cfg.timestepConditioning;
  let width = channels[0]; // the tensor's actual width as it flows
  let declared = channels[0]; // diffusers' `output_channel` bookkeeping
  const stride: Stride3 = [1, 1, 1];
  const blocks: DecoderBlockPlan[] = [];
  for (let i = 0; i < channels.length; i++) {
    const f = factor[i];
    if (declared % f !== 0 || channels[i] % f !== 0) refuse(`up block ${i}: widths ${declared}, ${channels[i]} are not divisible by upsample_factor ${f}`);
    const inChannels = declared / f;
    const outChannels = channels[i] / f;
    const plan: DecoderBlockPlan = {
      prefix: `decoder.up_blocks.${i}`,
      inChannels,
      outChannels,
      layers: layers[i + 1],
      convIn: inChannels !== outChannels,
      injectNoise: noise[i + 1],
    };
    if (plan.convIn) {
      if (width !== inChannels) refuse(`up block ${i}: receives ${width} channels but its conv_in expects ${inChannels} (upsample_factor / decoder_block_out_channels)`);
      // diffusers hands conv_in the raw timestep (not an embedding) and per-channel noise scales of
      // the input width: both only work when the block does not change width.
      if (cond) refuse(`up block ${i}: changes width ${inChannels} → ${outChannels} in a timestep-conditioned decoder (unsupported by the reference code)`);
      if (plan.injectNoise) refuse(`up block ${i}: decoder_inject_noise on a block that changes width ${inChannels} → ${outChannels} (unsupported by the reference code)`);
      width = outChannels;
    }
    if (scaling[i]) {
      const upIn = outChannels * f;
      if (residual[i] && upIn % 8 !== 0) refuse(`up block ${i}: a residual upsampler needs a width divisible by 8 (got ${upIn})`);
      if (width !== upIn) refuse(`up block ${i}: receives ${width} channels but its upsampler expects ${upIn} (upsample_factor / decoder_block_out_channels)`);
      plan.upsampler = { inChannels: upIn, convOut: (upIn * 8) / f, residual: residual[i], factor: f };
      width = outChannels;
      for (let a = 0; a < 3; a++) stride[a] *= 2;
    } else if (width !== outChannels) {
      refuse(`up block ${i}: receives ${width} channels but its resnets expect ${outChannels}`);
    }
    if (cond && inChannels !== outChannels) refuse(`up block ${i}: time embedding width ${inChannels} ≠ resnet width ${outChannels}`);
    blocks.push(plan);
    declared = outChannels;
  }
  return {
    width: channels[0],
    midLayers: layers[0],
    midInjectNoise: noise[0],
    blocks,
    outWidth: width,
    convOutChannels: 3 * cfg.patchSize * cfg.patchSize,
    stride,
  };
}
