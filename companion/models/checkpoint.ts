/**
 * Opening a diffusers-format LTX-Video checkpoint folder (what `huggingface-cli download
 * Lightricks/LTX-Video-0.9.5` or `reshoot models pull` leaves on disk) for conversion:
 *
 *   model_index.json                 pipeline class and component classes
 *   transformer/config.json          LTXVideoTransformer3DModel
 *   transformer/diffusion_pytorch_model[-0000i-of-0000n].safetensors (+ .index.json when sharded)
 *   vae/config.json, vae/diffusion_pytorch_model*.safetensors           AutoencoderKLLTXVideo
 *   text_encoder/config.json, text_encoder/model*.safetensors           T5EncoderModel
 *   tokenizer/spiece.model, tokenizer_config.json, special_tokens_map.json
 *   scheduler/scheduler_config.json  FlowMatchEulerDiscreteScheduler
 *
 * Everything the conversion needs is checked here, before any graph is written: every file, the
 * configs (the transformer config mapped onto ours, fields we cannot build refused by name), the
 * LTX-Video version (from the VAE config: 0.9.0; 0.9.1 with its timestep-conditioned decoder;
 * 0.9.5+ with the new encoder blocks; anything else refused), and — given a graph's parameter
 * list — every tensor's presence, dtype and shape. A broken or half-downloaded checkpoint is
 * reported in one sentence naming the file or tensor, never as a half-written model.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import { ReshootError } from '../errors.ts';
import type { ParamDecl, WeightSource } from './onnx/graph.ts';
import { FLOAT_DTYPES_TEXT, isFloatDtype, openSafetensors, type SafetensorsFile, type TensorReader } from './safetensors.ts';
import { parseT5Config, type T5Config } from './t5/config.ts';
import { parseLtxvVaeConfig, type LtxvVaeConfig } from './ltxv/vae-config.ts';
import { resolveLtxvRecipe } from './ltxv/recipes.ts';
import { firstPass, peakGuidance, type Recipe } from './recipe.ts';
import type { SchedulerDefaults, TransformerConfig } from './types.ts';

export type LtxVersion = LtxvVaeConfig['version'];
export type PartName = 'transformer' | 'vae' | 'text_encoder';

/** RoPE constants of LTXVideoTransformer3DModel (fixed in its __init__, not in config.json). */
export const LTX_ROPE = { baseNumFrames: 20, baseHeight: 2048, baseWidth: 2048, theta: 10000 } as const;

/**
 * Prompt length: the authors' pipeline (Lightricks/LTX-Video, `text_encoder_max_tokens = 256`)
 * rather than diffusers' 128 — where the port differs, the original wins (DESIGN.md §4). The
 * transformer masks padding in cross-attention, so short prompts give the same result either way.
 */
export const LTX_MAX_TOKENS = 256;

/** Tokenizer files copied into the model folder (spiece.model is required, the rest if present). */
export const TOKENIZER_FILES = ['spiece.model', 'tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json'] as const;

const fail = (message: string): ReshootError => new ReshootError('model', message);

export function readJson(folder: string, rel: string): Record<string, unknown> {
  const path = join(folder, rel);
  if (!existsSync(path)) throw fail(`checkpoint ${folder} is missing ${rel}`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new ReshootError('model', `checkpoint ${folder}: ${rel} is not valid JSON`, { cause });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw fail(`checkpoint ${folder}: ${rel} is not a JSON object`);
  return json as Record<string, unknown>;
}

/** Parses `json` with `schema`, reporting the first bad field as `<file>: <field> ...`. */
function parseConfig<T>(schema: z.ZodType<T>, json: unknown, where: string): T {
  const r = schema.safeParse(json);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue.path.join('.') || '(root)';
  throw fail(`${where}: field ${field} is invalid: ${issue.message}`);
}

// ---- model_index.json ---------------------------------------------------------------------------

const PIPELINES = ['LTXPipeline', 'LTXImageToVideoPipeline', 'LTXConditionPipeline'];

const component = z.tuple([z.string().nullable(), z.string().nullable()]);
const modelIndexSchema = z.looseObject({
  _class_name: z.string(),
  _name_or_path: z.string().optional(),
  transformer: component,
  vae: component,
  text_encoder: component,
  tokenizer: component,
  scheduler: component,
});

// ---- transformer/config.json --------------------------------------------------------------------

/** diffusers' LTXVideoTransformer3DModel config, with its __init__ defaults for absent fields. */
const transformerConfigSchema = z.looseObject({
  _class_name: z.string().optional(),
  _name_or_path: z.string().optional(),
  in_channels: z.number().int().positive().default(128),
  out_channels: z.number().int().positive().default(128),
  patch_size: z.number().int().default(1),
  patch_size_t: z.number().int().default(1),
  num_attention_heads: z.number().int().positive().default(32),
  attention_head_dim: z.number().int().positive().default(64),
  cross_attention_dim: z.number().int().positive().default(2048),
  num_layers: z.number().int().positive().default(28),
  activation_fn: z.string().default('gelu-approximate'),
  qk_norm: z.string().default('rms_norm_across_heads'),
  norm_elementwise_affine: z.boolean().default(false),
  norm_eps: z.number().positive().default(1e-6),
  caption_channels: z.number().int().positive().default(4096),
  attention_bias: z.boolean().default(true),
  attention_out_bias: z.boolean().default(true),
});

/** Maps transformer/config.json onto TransformerConfig, refusing what the graph cannot build. */
export function parseLtxvTransformerConfig(json: unknown, where = 'transformer/config.json'): TransformerConfig {
  const c = parseConfig(transformerConfigSchema, json, where);
  const refuse = (field: string, value: unknown, need: string): never => {
    throw fail(`${where}: ${field} = ${JSON.stringify(value)} is not supported (Reshoot builds ${need})`);
  };
  if (c._class_name !== undefined && c._class_name !== 'LTXVideoTransformer3DModel') refuse('_class_name', c._class_name, 'LTXVideoTransformer3DModel');
  if (c.patch_size !== 1) refuse('patch_size', c.patch_size, 'patch_size 1');
  if (c.patch_size_t !== 1) refuse('patch_size_t', c.patch_size_t, 'patch_size_t 1');
  if (c.activation_fn !== 'gelu-approximate') refuse('activation_fn', c.activation_fn, '"gelu-approximate"');
  if (c.qk_norm !== 'rms_norm_across_heads') refuse('qk_norm', c.qk_norm, '"rms_norm_across_heads"');
  if (c.norm_elementwise_affine) refuse('norm_elementwise_affine', true, 'norms without affine parameters');
  if (!c.attention_bias) refuse('attention_bias', false, 'attention projections with biases');
  if (!c.attention_out_bias) refuse('attention_out_bias', false, 'attention output projections with biases');
  const inner = c.num_attention_heads * c.attention_head_dim;
  if (c.cross_attention_dim !== inner) {
    throw fail(`${where}: cross_attention_dim = ${c.cross_attention_dim} must equal num_attention_heads × attention_head_dim = ${inner}`);
  }
  if (inner % 2 !== 0) throw fail(`${where}: num_attention_heads × attention_head_dim = ${inner} must be even (RoPE pairs)`);
  return {
    inChannels: c.in_channels,
    outChannels: c.out_channels,
    numAttentionHeads: c.num_attention_heads,
    attentionHeadDim: c.attention_head_dim,
    numLayers: c.num_layers,
    crossAttentionDim: c.cross_attention_dim,
    captionChannels: c.caption_channels,
    normEps: c.norm_eps,
    // Frame positioning depends on the release, not the config: set from the recipe (openLtxvCheckpoint).
    rope: { ...LTX_ROPE },
  };
}

// ---- vae/config.json: version and latent geometry (parsed by the VAE builder's own parser) ---------

export interface VaeFacts {
  version: LtxVersion;
  config: LtxvVaeConfig;
  latentChannels: number;
  spatial: number;
  temporal: number;
  timestepConditioned: boolean;
}

/** The LTX-Video version and latent geometry, from vae/config.json (unknown versions refused). */
export function detectLtxvVae(json: unknown, folder: string): VaeFacts {
  let config: LtxvVaeConfig;
  try {
    config = parseLtxvVaeConfig(json);
  } catch (e) {
    if (e instanceof ReshootError) throw new ReshootError('model', `checkpoint ${folder}: ${e.message} (Reshoot converts LTX-Video 0.9.0, 0.9.1 and 0.9.5+)`, { cause: e });
    throw e;
  }
  return {
    version: config.version,
    config,
    latentChannels: config.latent.channels,
    spatial: config.latent.spatial,
    temporal: config.latent.temporal,
    timestepConditioned: config.timestepConditioning,
  };
}

// ---- scheduler/scheduler_config.json ------------------------------------------------------------

const schedulerSchema = z.looseObject({
  _class_name: z.string().optional(),
  use_dynamic_shifting: z.boolean().default(false),
  shift: z.number().positive().default(1),
  base_shift: z.number().default(0.5),
  max_shift: z.number().default(1.15),
  base_image_seq_len: z.number().int().positive().default(256),
  max_image_seq_len: z.number().int().positive().default(4096),
  shift_terminal: z.number().nullable().optional(),
  time_shift_type: z.string().default('exponential'),
  invert_sigmas: z.boolean().default(false),
  use_karras_sigmas: z.boolean().default(false),
  use_exponential_sigmas: z.boolean().default(false),
  use_beta_sigmas: z.boolean().default(false),
  stochastic_sampling: z.boolean().default(false),
});

/**
 * The σ shift of the checkpoint's scheduler config (steps, guidance and fixed σ lists come from
 * its recipe: see ./recipe.ts).
 */
export function schedulerShift(json: unknown, where = 'scheduler/scheduler_config.json'): Pick<SchedulerDefaults, 'shift' | 'shiftTerminal'> {
  const c = parseConfig(schedulerSchema, json, where);
  if (c._class_name !== undefined && c._class_name !== 'FlowMatchEulerDiscreteScheduler') {
    throw fail(`${where}: _class_name = "${c._class_name}" is not supported (Reshoot samples with FlowMatchEulerDiscreteScheduler)`);
  }
  for (const flag of ['invert_sigmas', 'use_karras_sigmas', 'use_exponential_sigmas', 'use_beta_sigmas', 'stochastic_sampling'] as const) {
    if (c[flag]) throw fail(`${where}: ${flag} = true is not supported (Reshoot samples the plain shifted flow-matching schedule)`);
  }
  if (c.time_shift_type !== 'exponential') throw fail(`${where}: time_shift_type = "${c.time_shift_type}" is not supported (only "exponential")`);
  const shift: SchedulerDefaults['shift'] = c.use_dynamic_shifting
    ? { kind: 'dynamic', baseShift: c.base_shift, maxShift: c.max_shift, baseTokens: c.base_image_seq_len, maxTokens: c.max_image_seq_len }
    : { kind: 'static', shift: c.shift };
  return { shift, ...(c.shift_terminal ? { shiftTerminal: c.shift_terminal } : {}) };
}

/**
 * A model's scheduler defaults under its recipe: the first pass's step count (or fixed σ list)
 * and its largest CFG scale. A job that asks for exactly these runs the recipe's schedules; one
 * that asks for other values gets them as constants (see engine/generate.ts).
 */
export function recipeScheduler(recipe: Recipe, shift: Pick<SchedulerDefaults, 'shift' | 'shiftTerminal'>): SchedulerDefaults {
  const p = firstPass(recipe);
  return { steps: p.steps, guidance: peakGuidance(p), ...shift, ...(p.sigmas ? { sigmas: [...p.sigmas] } : {}) };
}

// ---- weights ------------------------------------------------------------------------------------

/** Weight file stems per component, and the variants diffusers may have saved instead. */
const WEIGHT_STEM: Record<PartName, string> = { transformer: 'diffusion_pytorch_model', vae: 'diffusion_pytorch_model', text_encoder: 'model' };
const VARIANTS = ['fp32', 'bf16', 'fp16'];

/** Finds the safetensors of a component: plain, then variants; sharded index before single file. */
export function findWeights(folder: string, part: PartName): string {
  const dir = join(folder, part);
  const stem = WEIGHT_STEM[part];
  const candidates = [
    `${stem}.safetensors.index.json`,
    `${stem}.safetensors`,
    ...VARIANTS.flatMap((v) => [`${stem}.safetensors.index.${v}.json`, `${stem}.${v}.safetensors`]),
  ];
  for (const c of candidates) if (existsSync(join(dir, c))) return join(dir, c);
  const present = existsSync(dir) ? readdirSync(dir) : [];
  const pickle = present.find((f) => f.endsWith('.bin') || f.endsWith('.pt') || f.endsWith('.ckpt'));
  if (pickle) throw fail(`checkpoint ${folder}: ${part}/${pickle} is a PyTorch pickle; Reshoot reads only .safetensors weights`);
  throw fail(`checkpoint ${folder} is missing ${part}/${stem}.safetensors (or a sharded ${stem}.safetensors.index.json)`);
}

/**
 * Tensors a graph may ask for under another name than the file uses. transformers saves T5's
 * tied embedding once, as `shared.weight`; T5EncoderModel reads it as `encoder.embed_tokens.weight`.
 */
const ALIASES: Record<string, string[]> = {
  'encoder.embed_tokens.weight': ['shared.weight'],
  'shared.weight': ['encoder.embed_tokens.weight'],
};

/** How a part names its file and its config in messages (a single-file checkpoint differs from a folder). */
export interface PartLabels {
  /** The weight file, as messages name it. */
  where: string;
  /** Where the expected shapes come from. */
  config: string;
  /** How a missing tensor is named in the file's own terms (default: its name). */
  missing?: (name: string) => string;
}

export class CheckpointPart {
  constructor(
    readonly folder: string,
    readonly name: PartName,
    /** Absolute path of the .safetensors or .safetensors.index.json. */
    readonly weightsPath: string,
    private readonly reader: TensorReader & { files(): SafetensorsFile[] },
    private readonly labels?: PartLabels,
  ) {}

  /** Path relative to the checkpoint folder, for messages. */
  get where(): string {
    return this.labels?.where ?? `${this.name}/${basename(this.weightsPath)}`;
  }

  files(): SafetensorsFile[] {
    return this.reader.files();
  }

  names(): string[] {
    return this.reader.names();
  }

  /** The name this part stores `name` under (itself or an alias), or undefined. */
  resolve(name: string): string | undefined {
    if (this.reader.info(name)) return name;
    return ALIASES[name]?.find((a) => this.reader.info(a));
  }

  /** The problem with one declared parameter, or undefined when it can be read as declared. */
  problem(p: Pick<ParamDecl, 'name' | 'dims'>): string | undefined {
    const stored = this.resolve(p.name);
    if (!stored) return `${this.name} weights lack tensor ${this.labels?.missing?.(p.name) ?? `"${p.name}"`} (looked in ${this.where})`;
    const info = this.reader.info(stored)!;
    // info.name is the name in the file (a single-file checkpoint stores it under the authors' name).
    if (!isFloatDtype(info.dtype)) return `${this.name} tensor "${info.name}" is ${info.dtype}; only ${FLOAT_DTYPES_TEXT} weights are supported`;
    const count = (d: readonly number[]) => d.reduce((a, b) => a * b, 1);
    // A [n] vs [n, 1]-style difference is a layout we cannot guess at: shapes must match exactly.
    if (info.shape.join() !== p.dims.join() || count(info.shape) !== count(p.dims)) {
      return `${this.name} tensor "${info.name}" has shape [${info.shape.join(', ')}], expected [${p.dims.join(', ')}] from ${this.labels?.config ?? `${this.name}/config.json`}`;
    }
    return undefined;
  }

  /** Throws one message for the first problem among `params` (with a count of the rest). */
  check(params: readonly Pick<ParamDecl, 'name' | 'dims'>[]): void {
    const problems = params.map((p) => this.problem(p)).filter((x): x is string => x !== undefined);
    if (problems.length === 0) return;
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''} in ${this.where})` : '';
    throw fail(`checkpoint ${this.folder}: ${problems[0]}${more}`);
  }

  /** Tensors in the file that `params` do not use (reported, never an error: real files carry extras). */
  unused(params: readonly Pick<ParamDecl, 'name'>[]): string[] {
    const used = new Set(params.map((p) => this.resolve(p.name)));
    return this.names().filter((n) => !used.has(n));
  }

  /** A WeightSource reading one tensor at a time, re-checking each request's shape. */
  weights(): WeightSource {
    return (name, dims) => {
      const problem = this.problem({ name, dims });
      if (problem) throw fail(`checkpoint ${this.folder}: ${problem}`);
      return this.reader.read(this.resolve(name)!);
    };
  }

  close(): void {
    this.reader.close();
  }
}

// ---- the whole folder -----------------------------------------------------------------------------

export interface LtxvCheckpoint {
  /** Absolute folder path. */
  folder: string;
  version: LtxVersion;
  /** Pipeline class from model_index.json. */
  pipeline: string;
  distilled: boolean;
  /** Hugging Face repo and revision when the folder sits in a hub cache (models--org--name/snapshots/<rev>). */
  repo?: string;
  revision?: string;
  /** A name for the model: the repo name or the folder name. */
  name: string;
  license?: string;
  transformer: TransformerConfig;
  vae: VaeFacts;
  t5: T5Config;
  /** Raw configs, for the VAE and T5 builders. */
  configs: { modelIndex: Record<string, unknown>; transformer: Record<string, unknown>; vae: Record<string, unknown>; textEncoder: Record<string, unknown>; scheduler: Record<string, unknown> };
  scheduler: SchedulerDefaults;
  /** How the authors sample this checkpoint (./ltxv/recipes.ts). */
  recipe: Recipe;
  /** Where the conversion cannot follow the checkpoint exactly (shown in the model's description). */
  notes?: string[];
  /** Tokenizer files present (relative to `tokenizerRoot`), spiece.model first. */
  tokenizerFiles: string[];
  /** The folder holding tokenizer/ (the checkpoint folder, or a single file's text-encoder folder). */
  tokenizerRoot: string;
  parts: Record<PartName, CheckpointPart>;
  close(): void;
}

/** The tokenizer files of `folder`/tokenizer (relative to `folder`); throws naming a missing one. */
export function tokenizerFilesIn(folder: string): string[] {
  for (const f of ['spiece.model', 'tokenizer_config.json', 'special_tokens_map.json']) {
    if (!existsSync(join(folder, 'tokenizer', f))) throw fail(`checkpoint ${folder} is missing tokenizer/${f}`);
  }
  return TOKENIZER_FILES.filter((f) => existsSync(join(folder, 'tokenizer', f))).map((f) => `tokenizer/${f}`);
}

/** Repo and revision from a hub-cache path: …/models--Lightricks--LTX-Video/snapshots/<sha>. */
export function hubOrigin(folder: string): { repo?: string; revision?: string } {
  const m = /models--([^/\\]+?)--([^/\\]+)[/\\]snapshots[/\\]([^/\\]+)/.exec(folder);
  return m ? { repo: `${m[1]}/${m[2]}`, revision: m[3] } : {};
}

/** The `license:` of the README's YAML front matter (hub model cards carry one). */
function readmeLicense(folder: string): string | undefined {
  const path = join(folder, 'README.md');
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, 'utf8');
  const front = /^---\r?\n([\s\S]*?)\r?\n---/.exec(text)?.[1];
  const line = front?.split(/\r?\n/).find((l) => /^license\s*:/.test(l));
  const lic = line?.replace(/^license\s*:\s*/, '').replace(/^["']|["']$/g, '').trim();
  const name = front?.split(/\r?\n/).find((l) => /^license_name\s*:/.test(l))?.replace(/^license_name\s*:\s*/, '').trim();
  return lic === 'other' && name ? name : lic || undefined;
}

/**
 * Opens and checks a diffusers LTX-Video folder: files, configs, version, weight files (headers
 * only). Parameter-level checks happen per graph via `parts[…].check(paramList)`.
 */
export function openLtxvCheckpoint(folderIn: string): LtxvCheckpoint {
  const folder = resolve(folderIn);
  if (!existsSync(folder)) throw fail(`checkpoint folder ${folder} does not exist`);
  if (statSync(folder).isFile()) {
    throw fail(`${folder} is a file; Reshoot imports a diffusers-format checkpoint folder (with model_index.json) or a single-file .safetensors checkpoint`);
  }
  const modelIndexJson = readJson(folder, 'model_index.json');
  const modelIndex = parseConfig(modelIndexSchema, modelIndexJson, `checkpoint ${folder}: model_index.json`);
  if (!PIPELINES.includes(modelIndex._class_name)) {
    throw fail(
      `checkpoint ${folder}: model_index.json names ${modelIndex._class_name}; Reshoot converts LTX-Video 0.9.x pipelines (${PIPELINES.join(', ')})`,
    );
  }
  const expectClass = (part: string, got: string | null, ok: string[]): void => {
    if (got === null || !ok.includes(got)) throw fail(`checkpoint ${folder}: model_index.json has ${part} ${got}, expected ${ok.join(' or ')}`);
  };
  expectClass('transformer', modelIndex.transformer[1], ['LTXVideoTransformer3DModel']);
  expectClass('vae', modelIndex.vae[1], ['AutoencoderKLLTXVideo']);
  expectClass('text_encoder', modelIndex.text_encoder[1], ['T5EncoderModel']);
  expectClass('tokenizer', modelIndex.tokenizer[1], ['T5Tokenizer', 'T5TokenizerFast']);

  const transformerJson = readJson(folder, 'transformer/config.json');
  const vaeJson = readJson(folder, 'vae/config.json');
  const textJson = readJson(folder, 'text_encoder/config.json');
  const schedulerJson = readJson(folder, 'scheduler/scheduler_config.json');
  const parsedTransformer = parseLtxvTransformerConfig(transformerJson, `checkpoint ${folder}: transformer/config.json`);
  const vae = detectLtxvVae(vaeJson, folder);
  const t5 = parseT5Config(textJson, `checkpoint ${folder}: text_encoder/config.json`);
  if (t5.dModel !== parsedTransformer.captionChannels) {
    throw fail(`checkpoint ${folder}: text_encoder d_model (${t5.dModel}) does not match transformer caption_channels (${parsedTransformer.captionChannels})`);
  }
  if (vae.latentChannels !== parsedTransformer.inChannels || vae.latentChannels !== parsedTransformer.outChannels) {
    throw fail(
      `checkpoint ${folder}: vae latent_channels (${vae.latentChannels}) does not match transformer in_channels/out_channels (${parsedTransformer.inChannels}/${parsedTransformer.outChannels})`,
    );
  }

  const tokenizerFiles = tokenizerFilesIn(folder);

  const origin = hubOrigin(folder);
  const name = origin.repo?.split('/')[1] ?? basename(folder);
  const names = [name, folder, modelIndex._name_or_path ?? '', String(transformerJson._name_or_path ?? '')];
  const distilled = names.some((n) => /distill/i.test(n));
  let recipe: Recipe;
  try {
    recipe = resolveLtxvRecipe({ version: vae.version, numLayers: parsedTransformer.numLayers, distilled, names });
  } catch (e) {
    if (e instanceof ReshootError) throw fail(`checkpoint ${folder}: ${e.message}`);
    throw e;
  }
  const scheduler = recipeScheduler(recipe, schedulerShift(schedulerJson, `checkpoint ${folder}: scheduler/scheduler_config.json`));
  // The graph takes the STG selector as an input, so every converted model can run its recipe's STG.
  const transformer: TransformerConfig = {
    ...parsedTransformer,
    rope: { ...parsedTransformer.rope, causalFix: recipe.framePositioning === 'causal' },
    stg: recipe.stgMode,
  };

  // Weight files last: their headers are checked against their sizes here (truncation).
  const opened: CheckpointPart[] = [];
  const parts = {} as Record<PartName, CheckpointPart>;
  try {
    for (const part of ['transformer', 'vae', 'text_encoder'] as const) {
      const path = findWeights(folder, part);
      parts[part] = new CheckpointPart(folder, part, path, openSafetensors(path));
      opened.push(parts[part]);
    }
  } catch (e) {
    for (const p of opened) p.close();
    if (e instanceof ReshootError && !e.message.startsWith('checkpoint')) throw fail(`checkpoint ${folder}: ${e.message}`);
    throw e;
  }

  return {
    folder,
    version: vae.version,
    pipeline: modelIndex._class_name,
    distilled,
    ...origin,
    name,
    license: readmeLicense(folder),
    transformer,
    vae,
    t5,
    configs: { modelIndex: modelIndexJson, transformer: transformerJson, vae: vaeJson, textEncoder: textJson, scheduler: schedulerJson },
    scheduler,
    recipe,
    tokenizerFiles,
    tokenizerRoot: folder,
    parts,
    close: () => opened.forEach((p) => p.close()),
  };
}
