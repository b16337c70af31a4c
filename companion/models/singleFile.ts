/**
 * Single-file LTX-Video checkpoints — what the authors' README, their configs and ComfyUI
 * (`models/checkpoints/`) use: one .safetensors holding the transformer under
 * `model.diffusion_model.*` and the VAE under `vae.*`, with the authors' configs as JSON in the
 * header metadata (`config`: transformer, vae, scheduler). No text encoder: the authors run every
 * release with PixArt-alpha/PixArt-XL-2-1024-MS's `text_encoder/` and `tokenizer/`, which come from
 * a separate folder (see ./textEncoder.ts).
 *
 * Opening one gives the same `LtxvCheckpoint` a diffusers folder gives, so the conversion, its
 * checks and its output are shared: the authors' configs are translated into diffusers' (the
 * graphs are written against diffusers' modules), and the tensors are presented under diffusers'
 * names through a renaming view — nothing is copied. The rename tables are diffusers'
 * (`scripts/convert_ltx_to_diffusers.py`, applied the way it applies them: each pair a substring
 * replacement, in order); the config translation follows the authors' constructors
 * (`causal_video_autoencoder.py` Encoder/Decoder, `transformer3d.py`). Every problem (a truncated
 * file, a file that is not LTX-Video, a config we cannot build, an unknown release, a tensor
 * missing or of the wrong shape) is reported in one sentence before anything is written.
 */
import { basename, dirname, resolve } from 'node:path';
import { z } from 'zod';
import { ReshootError } from '../errors.ts';
import {
  CheckpointPart,
  detectLtxvVae,
  hubOrigin,
  LTX_ROPE,
  parseLtxvTransformerConfig,
  recipeScheduler,
  schedulerShift,
  type LtxvCheckpoint,
} from './checkpoint.ts';
import { resolveLtxvRecipe } from './ltxv/recipes.ts';
import type { Recipe } from './recipe.ts';
import { SafetensorsFile, type TensorInfo, type TensorReader } from './safetensors.ts';
import { openTextEncoderFolder } from './textEncoder.ts';
import type { TransformerConfig } from './types.ts';

export const TRANSFORMER_PREFIX = 'model.diffusion_model.';
export const VAE_PREFIX = 'vae.';

const fail = (message: string): ReshootError => new ReshootError('model', message);

// ---- the authors' names → diffusers' ---------------------------------------------------------------

type Renames = readonly (readonly [string, string])[];

/** diffusers' TRANSFORMER_KEYS_RENAME_DICT (after the prefix is dropped). */
export const TRANSFORMER_RENAMES: Renames = [
  ['patchify_proj', 'proj_in'],
  ['adaln_single', 'time_embed'],
  ['q_norm', 'norm_q'],
  ['k_norm', 'norm_k'],
];

/** diffusers' VAE_KEYS_RENAME_DICT: the 0.9.0 block layout (ten encoder and ten decoder entries). */
const VAE_RENAMES_090: Renames = [
  ['up_blocks.0', 'mid_block'],
  ['up_blocks.1', 'up_blocks.0'],
  ['up_blocks.2', 'up_blocks.1.upsamplers.0'],
  ['up_blocks.3', 'up_blocks.1'],
  ['up_blocks.4', 'up_blocks.2.conv_in'],
  ['up_blocks.5', 'up_blocks.2.upsamplers.0'],
  ['up_blocks.6', 'up_blocks.2'],
  ['up_blocks.7', 'up_blocks.3.conv_in'],
  ['up_blocks.8', 'up_blocks.3.upsamplers.0'],
  ['up_blocks.9', 'up_blocks.3'],
  ['down_blocks.0', 'down_blocks.0'],
  ['down_blocks.1', 'down_blocks.0.downsamplers.0'],
  ['down_blocks.2', 'down_blocks.0.conv_out'],
  ['down_blocks.3', 'down_blocks.1'],
  ['down_blocks.4', 'down_blocks.1.downsamplers.0'],
  ['down_blocks.5', 'down_blocks.1.conv_out'],
  ['down_blocks.6', 'down_blocks.2'],
  ['down_blocks.7', 'down_blocks.2.downsamplers.0'],
  ['down_blocks.8', 'down_blocks.3'],
  ['down_blocks.9', 'mid_block'],
  ['conv_shortcut', 'conv_shortcut.conv'],
  ['res_blocks', 'resnets'],
  ['norm3.norm', 'norm3'],
  ['per_channel_statistics.mean-of-means', 'latents_mean'],
  ['per_channel_statistics.std-of-means', 'latents_std'],
];

/** The 0.9.1 decoder (upsampler before each block) and its time embedder names. */
const VAE_UPDATES_091: Renames = [
  ['up_blocks.0', 'mid_block'],
  ['up_blocks.1', 'up_blocks.0.upsamplers.0'],
  ['up_blocks.2', 'up_blocks.0'],
  ['up_blocks.3', 'up_blocks.1.upsamplers.0'],
  ['up_blocks.4', 'up_blocks.1'],
  ['up_blocks.5', 'up_blocks.2.upsamplers.0'],
  ['up_blocks.6', 'up_blocks.2'],
  ['up_blocks.7', 'up_blocks.3.upsamplers.0'],
  ['up_blocks.8', 'up_blocks.3'],
  ['last_time_embedder', 'time_embedder'],
  ['last_scale_shift_table', 'scale_shift_table'],
];

/** 0.9.5+: the 0.9.1 decoder, and an encoder of res_x + space-to-depth pairs. */
const VAE_UPDATES_095: Renames = [
  ...VAE_UPDATES_091.slice(0, 9),
  ['down_blocks.0', 'down_blocks.0'],
  ['down_blocks.1', 'down_blocks.0.downsamplers.0'],
  ['down_blocks.2', 'down_blocks.1'],
  ['down_blocks.3', 'down_blocks.1.downsamplers.0'],
  ['down_blocks.4', 'down_blocks.2'],
  ['down_blocks.5', 'down_blocks.2.downsamplers.0'],
  ['down_blocks.6', 'down_blocks.3'],
  ['down_blocks.7', 'down_blocks.3.downsamplers.0'],
  ['down_blocks.8', 'mid_block'],
  ...VAE_UPDATES_091.slice(9),
];

/** Python's dict.update on an ordered table: updated keys keep their place, new keys go last. */
function updated(base: Renames, updates: Renames): Renames {
  const out = base.map(([k, v]) => [k, updates.find(([u]) => u === k)?.[1] ?? v] as const);
  return [...out, ...updates.filter(([u]) => !base.some(([k]) => k === u))];
}

export function vaeRenames(version: LtxvCheckpoint['version']): Renames {
  if (version === '0.9.0') return VAE_RENAMES_090;
  return updated(VAE_RENAMES_090, version === '0.9.1' ? VAE_UPDATES_091 : VAE_UPDATES_095);
}

/** Applies the table to one name as the script does: every pair, in order, on the running result. */
export function renamed(name: string, table: Renames): string {
  return table.reduce((n, [from, to]) => n.split(from).join(to), name);
}

/** The file's tensors under `prefix`, named as the graphs name them; a view, read on demand. */
class RenamedView implements TensorReader {
  /** graph name → name in the file */
  private readonly stored = new Map<string, string>();

  constructor(
    private readonly file: SafetensorsFile,
    prefix: string,
    table: Renames,
  ) {
    for (const name of file.names()) {
      if (!name.startsWith(prefix)) continue;
      const graphName = renamed(name.slice(prefix.length), table);
      const other = this.stored.get(graphName);
      if (other) throw fail(`${file.path}: tensors "${other}" and "${name}" both map to "${graphName}"; the file's layout is not a released LTX-Video one`);
      this.stored.set(graphName, name);
    }
  }
  names(): string[] {
    return [...this.stored.keys()];
  }
  info(name: string): TensorInfo | undefined {
    const s = this.stored.get(name);
    return s === undefined ? undefined : this.file.info(s);
  }
  read(name: string): Float32Array {
    const s = this.stored.get(name);
    if (s === undefined) throw fail(`${this.file.path} has no tensor for "${name}"`);
    return this.file.read(s);
  }
  metadata(): Record<string, string> {
    return this.file.metadata();
  }
  files(): SafetensorsFile[] {
    return [this.file];
  }
  /** The file is shared by the parts; the checkpoint closes it once. */
  close(): void {}
}

// ---- the authors' configs → diffusers' ---------------------------------------------------------------

/** Transformer3DModel's config as the authors save it (their defaults where a field may be absent). */
const authorsTransformerSchema = z.looseObject({
  _class_name: z.string().optional(),
  num_attention_heads: z.number().int().positive(),
  attention_head_dim: z.number().int().positive(),
  cross_attention_dim: z.number().int().positive(),
  num_layers: z.number().int().positive(),
  in_channels: z.number().int().positive(),
  out_channels: z.number().int().positive().nullable().optional(),
  caption_channels: z.number().int().positive(),
  norm_eps: z.number().positive().default(1e-6),
  attention_bias: z.boolean().default(true),
  activation_fn: z.string().default('gelu-approximate'),
  qk_norm: z.string().nullable().default('rms_norm'),
  norm_elementwise_affine: z.boolean().default(false),
  adaptive_norm: z.string().default('single_scale_shift'),
  standardization_norm: z.string().default('rms_norm'),
  positional_embedding_type: z.string().default('rope'),
  positional_embedding_theta: z.number().default(LTX_ROPE.theta),
  positional_embedding_max_pos: z.array(z.number()).default([LTX_ROPE.baseNumFrames, LTX_ROPE.baseHeight, LTX_ROPE.baseWidth]),
});

function parseAuthors<T>(schema: z.ZodType<T>, json: unknown, where: string): T {
  const r = schema.safeParse(json);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw fail(`${where}: field ${issue.path.join('.') || '(root)'} is invalid: ${issue.message}`);
}

/** The authors' transformer config as diffusers' LTXVideoTransformer3DModel config (then parsed as one). */
export function transformerConfigFromAuthors(json: unknown, where: string): Record<string, unknown> {
  const c = parseAuthors(authorsTransformerSchema, json, where);
  const refuse = (field: string, value: unknown, need: string): never => {
    throw fail(`${where}: ${field} = ${JSON.stringify(value)} is not supported (Reshoot builds ${need})`);
  };
  if (c._class_name !== undefined && c._class_name !== 'Transformer3DModel') refuse('_class_name', c._class_name, 'Transformer3DModel');
  if (c.positional_embedding_type !== 'rope') refuse('positional_embedding_type', c.positional_embedding_type, '"rope"');
  const maxPos = [LTX_ROPE.baseNumFrames, LTX_ROPE.baseHeight, LTX_ROPE.baseWidth];
  if (c.positional_embedding_max_pos.join() !== maxPos.join()) refuse('positional_embedding_max_pos', c.positional_embedding_max_pos, JSON.stringify(maxPos));
  if (c.positional_embedding_theta !== LTX_ROPE.theta) refuse('positional_embedding_theta', c.positional_embedding_theta, String(LTX_ROPE.theta));
  if (c.adaptive_norm !== 'single_scale_shift') refuse('adaptive_norm', c.adaptive_norm, '"single_scale_shift"');
  if (c.standardization_norm !== 'rms_norm') refuse('standardization_norm', c.standardization_norm, '"rms_norm"');
  // The authors' "rms_norm" on q and k runs over the whole inner dimension: diffusers' "across heads".
  if (c.qk_norm !== 'rms_norm') refuse('qk_norm', c.qk_norm, '"rms_norm"');
  return {
    _class_name: 'LTXVideoTransformer3DModel',
    in_channels: c.in_channels,
    out_channels: c.out_channels ?? c.in_channels,
    patch_size: 1,
    patch_size_t: 1,
    num_attention_heads: c.num_attention_heads,
    attention_head_dim: c.attention_head_dim,
    cross_attention_dim: c.cross_attention_dim,
    num_layers: c.num_layers,
    activation_fn: c.activation_fn,
    qk_norm: 'rms_norm_across_heads',
    norm_elementwise_affine: c.norm_elementwise_affine,
    norm_eps: c.norm_eps,
    caption_channels: c.caption_channels,
    attention_bias: c.attention_bias,
    attention_out_bias: c.attention_bias,
  };
}

const blockParams = z.union([z.number().int(), z.record(z.string(), z.unknown())]);
const blockList = z.array(z.tuple([z.string(), blockParams]));

/** CausalVideoAutoencoder's config as the authors save it. */
const authorsVaeSchema = z.looseObject({
  _class_name: z.string().optional(),
  dims: z.union([z.number(), z.array(z.number())]).default(3),
  in_channels: z.number().int().positive().default(3),
  out_channels: z.number().int().positive().default(3),
  latent_channels: z.number().int().positive(),
  blocks: blockList.optional(),
  encoder_blocks: blockList.optional(),
  decoder_blocks: blockList.optional(),
  encoder_base_channels: z.number().int().positive().default(128),
  decoder_base_channels: z.number().int().positive().default(128),
  scaling_factor: z.number().positive().default(1),
  norm_layer: z.string().default('group_norm'),
  patch_size: z.number().int().positive().default(1),
  latent_log_var: z.string().optional(),
  use_quant_conv: z.boolean().default(true),
  causal_decoder: z.boolean().default(false),
  timestep_conditioning: z.boolean().default(false),
  spatial_padding_mode: z.string().default('zeros'),
  normalize_latent_channels: z.boolean().default(false),
});

interface Block {
  name: string;
  params: Record<string, unknown>;
}

/** One diffusers block: a res_x group with the downsampler / upsampler and width change that follow it. */
interface Group {
  layers: number;
  injectNoise: boolean;
  compress?: Block;
  widen?: Block;
}

const num = (b: Block | undefined, key: string, fallback: number): number => (typeof b?.params[key] === 'number' ? (b.params[key] as number) : fallback);

/**
 * Groups the authors' block list the way diffusers' blocks group it: each `res_x` with the
 * `compress*` and `res_x_y` after it (in file order; the decoder walks the same groups
 * reversed). The last group is the mid block and has neither.
 */
function groups(blocks: Block[], where: string, allowed: RegExp): Group[] {
  const out: Group[] = [];
  for (const b of blocks) {
    if (!allowed.test(b.name)) throw fail(`${where}: block "${b.name}" is not supported (Reshoot builds the released LTX-Video VAEs)`);
    const last = out[out.length - 1];
    if (b.name === 'res_x') {
      out.push({ layers: num(b, 'num_layers', 1), injectNoise: b.params.inject_noise === true });
    } else if (!last) {
      throw fail(`${where}: block "${b.name}" comes before any res_x block`);
    } else if (b.name === 'res_x_y') {
      if (last.widen) throw fail(`${where}: two res_x_y blocks in a row`);
      last.widen = b;
    } else {
      if (last.compress || last.widen) throw fail(`${where}: block "${b.name}" follows another downsampler`);
      last.compress = b;
    }
  }
  const mid = out[out.length - 1];
  if (!mid || mid.compress || mid.widen) throw fail(`${where}: the blocks must end with a res_x block (the mid block)`);
  return out;
}

const normalise = (list: z.infer<typeof blockList>): Block[] =>
  list.map(([name, p]) => ({ name, params: typeof p === 'number' ? { num_layers: p } : p }));

const DOWNSAMPLE: Record<string, string> = { compress_space_res: 'spatial', compress_time_res: 'temporal', compress_all_res: 'spatiotemporal' };

/**
 * How the graphs differ from the authors' VAE config where they cannot follow it: the graphs pad
 * convolutions spatially with zeros, as diffusers' port does for every release; a file naming
 * another spatial padding mode is still converted (refusing would refuse the release), with a note.
 */
export function vaeNotes(json: unknown): string[] {
  const mode = (json as { spatial_padding_mode?: unknown } | undefined)?.spatial_padding_mode;
  return typeof mode === 'string' && mode !== 'zeros' ? [`its VAE config names spatial padding "${mode}"; the graphs pad with zeros, as diffusers' port does`] : [];
}

/** The authors' VAE config as diffusers' AutoencoderKLLTXVideo config (then parsed and checked as one). */
export function vaeConfigFromAuthors(json: unknown, where: string): Record<string, unknown> {
  const c = parseAuthors(authorsVaeSchema, json, where);
  const refuse = (field: string, value: unknown, need: string): never => {
    throw fail(`${where}: ${field} = ${JSON.stringify(value)} is not supported (Reshoot builds ${need})`);
  };
  if (c._class_name !== undefined && c._class_name !== 'CausalVideoAutoencoder') refuse('_class_name', c._class_name, 'CausalVideoAutoencoder');
  if (c.dims !== 3) refuse('dims', c.dims, '3');
  if (c.norm_layer !== 'pixel_norm') refuse('norm_layer', c.norm_layer, '"pixel_norm"');
  if ((c.latent_log_var ?? 'per_channel') !== 'uniform') refuse('latent_log_var', c.latent_log_var ?? 'per_channel', '"uniform"');
  if (c.use_quant_conv) refuse('use_quant_conv', true, 'no quant conv');
  if (c.normalize_latent_channels) refuse('normalize_latent_channels', true, 'no latent channel normalisation');
  const encoderList = c.encoder_blocks ?? c.blocks;
  const decoderList = c.decoder_blocks ?? c.blocks;
  if (!encoderList || !decoderList) throw fail(`${where} has no encoder_blocks / decoder_blocks (nor blocks)`);

  // Encoder: widths as the authors' Encoder grows them; diffusers lists each block's input width.
  const enc = groups(normalise(encoderList), `${where}: encoder_blocks`, /^(res_x|res_x_y|compress_all|compress_(space|time|all)_res)$/);
  const downs = enc.slice(0, -1);
  const is095 = downs.some((g) => g.compress?.name.endsWith('_res'));
  let width = c.encoder_base_channels;
  const blockOut: number[] = [];
  for (const g of downs) {
    blockOut.push(width);
    if (is095 && g.compress && !g.compress.name.endsWith('_res')) throw fail(`${where}: encoder_blocks mixes 0.9.0 and 0.9.5 downsamplers`);
    if (g.compress?.name.endsWith('_res')) width *= num(g.compress, 'multiplier', 2);
    if (g.widen) width *= num(g.widen, 'multiplier', 2);
  }
  if (is095) blockOut.push(width);
  if (is095 && downs.some((g) => g.widen)) throw fail(`${where}: encoder_blocks has res_x_y in a 0.9.5 encoder`);

  // Decoder: widths as the authors' Decoder shrinks them, walking the groups from the mid block.
  const dec = groups(normalise(decoderList), `${where}: decoder_blocks`, /^(res_x|res_x_y|compress_all)$/);
  let dWidth = c.decoder_base_channels;
  for (const g of dec) dWidth *= num(g.compress, 'multiplier', 1) * (g.widen ? num(g.widen, 'multiplier', 2) : 1);
  const resWidth = new Array<number>(dec.length);
  for (let i = dec.length - 1; i >= 0; i--) {
    const g = dec[i];
    if (g.widen) dWidth /= num(g.widen, 'multiplier', 2);
    if (g.compress) dWidth /= num(g.compress, 'multiplier', 1);
    resWidth[i] = dWidth;
  }
  const ups = dec.slice(0, -1);
  return {
    _class_name: 'AutoencoderKLLTXVideo',
    in_channels: c.in_channels,
    out_channels: c.out_channels,
    latent_channels: c.latent_channels,
    block_out_channels: blockOut,
    down_block_types: downs.map(() => (is095 ? 'LTXVideo095DownBlock3D' : 'LTXVideoDownBlock3D')),
    layers_per_block: enc.map((g) => g.layers),
    spatio_temporal_scaling: downs.map((g) => g.compress !== undefined),
    downsample_type: downs.map((g) => (g.compress ? (DOWNSAMPLE[g.compress.name] ?? 'conv') : 'conv')),
    decoder_block_out_channels: ups.map((g, i) => resWidth[i] * num(g.compress, 'multiplier', 1)),
    decoder_layers_per_block: dec.map((g) => g.layers),
    decoder_spatio_temporal_scaling: ups.map((g) => g.compress !== undefined),
    decoder_inject_noise: dec.map((g) => g.injectNoise),
    upsample_residual: ups.map((g) => g.compress?.params.residual === true),
    upsample_factor: ups.map((g) => num(g.compress, 'multiplier', 1)),
    timestep_conditioning: c.timestep_conditioning,
    patch_size: c.patch_size,
    patch_size_t: 1,
    resnet_norm_eps: 1e-6,
    scaling_factor: c.scaling_factor,
    encoder_causal: true,
    decoder_causal: c.causal_decoder,
  };
}

/** The authors' RectifiedFlowScheduler config as diffusers' (their own mapping: utils/diffusers_config_mapping.py). */
const authorsSchedulerSchema = z.looseObject({
  _class_name: z.string().optional(),
  shifting: z.string().nullable().optional(),
  target_shift_terminal: z.number().nullable().optional(),
});

export function schedulerConfigFromAuthors(json: unknown, where: string): Record<string, unknown> {
  const c = parseAuthors(authorsSchedulerSchema, json ?? {}, where);
  if (c._class_name !== undefined && c._class_name !== 'RectifiedFlowScheduler') {
    throw fail(`${where}: _class_name = "${c._class_name}" is not supported (Reshoot samples the authors' RectifiedFlowScheduler)`);
  }
  if (c.shifting === 'SD3') {
    return {
      _class_name: 'FlowMatchEulerDiscreteScheduler',
      use_dynamic_shifting: true,
      base_image_seq_len: 1024,
      base_shift: 0.95,
      max_image_seq_len: 4096,
      max_shift: 2.05,
      shift: 1.0,
      ...(c.target_shift_terminal ? { shift_terminal: c.target_shift_terminal } : {}),
    };
  }
  if (c.shifting != null) throw fail(`${where}: shifting = "${c.shifting}" is not supported (only "SD3" or none)`);
  return { _class_name: 'FlowMatchEulerDiscreteScheduler', use_dynamic_shifting: false, shift: 1.0 };
}

// ---- the file ------------------------------------------------------------------------------------

export interface SingleFileOptions {
  /**
   * A folder holding `text_encoder/` and `tokenizer/` (diffusers layout: the PixArt repo, or any
   * diffusers LTX-Video download). Default: PixArt-alpha/PixArt-XL-2-1024-MS in the Hugging Face
   * cache, if it is there.
   */
  textEncoder?: string;
}

const metadataSchema = z.object({
  transformer: z.unknown().optional(),
  vae: z.unknown().optional(),
  scheduler: z.unknown().optional(),
});

/** The model's name from the file: 'ltxv-13b-0.9.8-distilled.safetensors' → 'ltxv-13b-0.9.8-distilled'. */
export const singleFileName = (path: string): string => basename(path).replace(/\.safetensors$/i, '');

/** What a single file's header says: its configs translated, its version and its recipe. */
export interface SingleFileHeader {
  path: string;
  file: SafetensorsFile;
  name: string;
  distilled: boolean;
  transformerJson: Record<string, unknown>;
  vaeJson: Record<string, unknown>;
  schedulerJson: Record<string, unknown>;
  transformer: TransformerConfig;
  vae: ReturnType<typeof detectLtxvVae>;
  recipe: Recipe;
  /** The authors' VAE config as the file has it. */
  vaeMeta: unknown;
}

/** Reads and checks a single file's header (no weight is read); the caller closes `file`. */
export function readSingleFile(pathIn: string): SingleFileHeader {
  const path = resolve(pathIn);
  const file = SafetensorsFile.openNamed(path);
  try {
    const names = file.names();
    if (!names.some((n) => n.startsWith(TRANSFORMER_PREFIX))) {
      throw fail(`${path} is not an LTX-Video checkpoint: it has no ${TRANSFORMER_PREFIX}* tensors`);
    }
    if (!names.some((n) => n.startsWith(VAE_PREFIX))) {
      throw fail(`${path} holds a transformer but no VAE (${VAE_PREFIX}* tensors): Reshoot imports the authors' full single files (transformer and VAE)`);
    }
    const raw = file.metadata().config;
    if (raw === undefined) throw fail(`${path} has no "config" entry in its metadata: it is not one of the authors' LTX-Video files`);
    let meta: z.infer<typeof metadataSchema>;
    try {
      meta = metadataSchema.parse(JSON.parse(raw));
    } catch {
      throw fail(`${path}: the "config" entry of its metadata is not a JSON object`);
    }
    if (meta.transformer === undefined || meta.vae === undefined) throw fail(`${path}: its metadata config lacks the ${meta.transformer === undefined ? 'transformer' : 'vae'} config`);
    const where = (part: string) => `${path}: metadata config.${part}`;

    const transformerJson = transformerConfigFromAuthors(meta.transformer, where('transformer'));
    const vaeJson = vaeConfigFromAuthors(meta.vae, where('vae'));
    const schedulerJson = schedulerConfigFromAuthors(meta.scheduler, where('scheduler'));
    const parsedTransformer = parseLtxvTransformerConfig(transformerJson, where('transformer'));
    const vae = detectLtxvVae(vaeJson, path);
    if (vae.latentChannels !== parsedTransformer.inChannels || vae.latentChannels !== parsedTransformer.outChannels) {
      throw fail(`${path}: vae latent_channels (${vae.latentChannels}) does not match transformer in_channels/out_channels (${parsedTransformer.inChannels}/${parsedTransformer.outChannels})`);
    }

    const name = singleFileName(path);
    const distilled = /distill/i.test(name);
    let recipe: Recipe;
    try {
      recipe = resolveLtxvRecipe({ version: vae.version, numLayers: parsedTransformer.numLayers, distilled, names: [name] });
    } catch (e) {
      if (e instanceof ReshootError) throw fail(`${path}: ${e.message}`);
      throw e;
    }
    return { path, file, name, distilled, transformerJson, vaeJson, schedulerJson, transformer: parsedTransformer, vae, recipe, vaeMeta: meta.vae };
  } catch (e) {
    file.close();
    throw e;
  }
}

/**
 * Opens a single-file checkpoint for conversion: header, configs, version, recipe, the text
 * encoder folder — everything but the per-tensor checks, which run per graph as for a folder.
 */
export function openSingleFileCheckpoint(pathIn: string, opts: SingleFileOptions = {}): LtxvCheckpoint {
  const h = readSingleFile(pathIn);
  const { path, file, name, distilled, transformerJson, vaeJson, schedulerJson, vae, recipe } = h;
  const parsedTransformer = h.transformer;
  const closers: (() => void)[] = [() => file.close()];
  try {
    const where = (part: string) => `${path}: metadata config.${part}`;
    const te = openTextEncoderFolder(opts.textEncoder, { checkpoint: path, recipe });
    closers.push(() => te.part.close());
    if (te.t5.dModel !== parsedTransformer.captionChannels) {
      throw fail(`${path}: the text encoder in ${te.folder} has d_model ${te.t5.dModel}, the transformer expects caption_channels ${parsedTransformer.captionChannels}`);
    }
    const transformer: TransformerConfig = {
      ...parsedTransformer,
      rope: { ...parsedTransformer.rope, causalFix: recipe.framePositioning === 'causal' },
      stg: recipe.stgMode,
    };
    const labels = (part: string, missing: (name: string) => string) => ({ where: basename(path), config: `the ${part} config in its metadata`, missing });
    // The transformer's renames invert one to one; the VAE's block renumbering does not, so its
    // missing tensors are named as diffusers (and the graph) name them.
    const authorsTransformerName = (n: string) => `"${TRANSFORMER_PREFIX}${TRANSFORMER_RENAMES.reduce((x, [from, to]) => x.split(to).join(from), n)}"`;
    const parts = {
      transformer: new CheckpointPart(path, 'transformer', path, new RenamedView(file, TRANSFORMER_PREFIX, TRANSFORMER_RENAMES), labels('transformer', authorsTransformerName)),
      vae: new CheckpointPart(path, 'vae', path, new RenamedView(file, VAE_PREFIX, vaeRenames(vae.version)), labels('vae', (n) => `"${n}" (diffusers' name; ${VAE_PREFIX}* in the file)`)),
      text_encoder: te.part,
    };
    const origin = hubOrigin(dirname(path));
    return {
      folder: path,
      version: vae.version,
      pipeline: 'single file',
      distilled,
      ...origin,
      name,
      // Single files carry no model card; the repo's says it (LTXV open weights license).
      license: undefined,
      transformer,
      vae,
      t5: te.t5,
      configs: { modelIndex: {}, transformer: transformerJson, vae: vaeJson, textEncoder: te.configJson, scheduler: schedulerJson },
      scheduler: recipeScheduler(recipe, schedulerShift(schedulerJson, where('scheduler'))),
      recipe,
      notes: vaeNotes(h.vaeMeta),
      tokenizerFiles: te.tokenizerFiles,
      tokenizerRoot: te.folder,
      parts,
      close: () => closers.forEach((c) => c()),
    };
  } catch (e) {
    closers.forEach((c) => c());
    throw e;
  }
}

/** Whether `path` names a single-file checkpoint (rather than a folder). */
export const isSingleFile = (path: string): boolean => /\.safetensors$/i.test(path);
