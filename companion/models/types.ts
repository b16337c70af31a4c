/**
 * The contract between a model folder and the engine. A model is a folder holding `model.json`
 * (described by ModelManifest) and four ONNX graphs whose inputs and outputs are fixed here, so
 * the engine can drive any family without knowing how the graphs were built.
 *
 * Graph I/O (all float32 unless noted; B = batch, L = text tokens, S = video tokens,
 * F/H/W = pixel frames/height/width, f/h/w = latent frames/height/width, C = latent channels):
 *
 *   text_encoder   in:  input_ids int64 [B, L], attention_mask int64 [B, L]
 *                  out: last_hidden_state [B, L, captionChannels]
 *   transformer    in:  hidden_states [B, S, C]          latent tokens in (f, h, w) raster order
 *                       encoder_hidden_states [B, L, captionChannels]
 *                       encoder_attention_mask [B, L]     1 = real token, 0 = padding
 *                       timestep [B, S]                   per-token sigma * 1000
 *                       rope_cos [B, S, innerDim], rope_sin [B, S, innerDim]
 *                       stg_perturb [numLayers, B]       only when transformer.stg is set: 1 = that
 *                                                         block's self-attention is perturbed for that
 *                                                         batch element (spatio-temporal guidance)
 *                  out: velocity [B, S, C]               rectified-flow velocity (noise - x0)
 *   vae_encoder    in:  sample [B, 3, F, H, W] in [-1, 1]
 *                  out: latent [B, C, f, h, w]            already normalised (mean/std applied)
 *   vae_decoder    in:  latent [B, C, f, h, w]
 *                       timestep [B]                      only when manifest.vae.timestepConditioned
 *                       spatial_noise [N, Hn, Wn]         only for decoders that inject noise (0.9.1;
 *                                                         see ltxv/vae.ts ltxvVaeDecoderNoiseShape)
 *                  out: sample [B, 3, F, H, W] in [-1, 1]
 *
 * Frame counts: F = 1 + temporal * (f - 1) (causal VAE: the first frame is coded alone).
 * Pixel sizes: H = spatial * h, W = spatial * w.
 */

import type { Recipe, StgMode } from './recipe.ts';

export interface LatentSpec {
  /** Latent channels C. */
  channels: number;
  /** Pixels per latent cell along height and width. */
  spatial: number;
  /** Pixel frames per latent frame after the first. */
  temporal: number;
  /**
   * Latent cells beyond its own that a cell's decoded pixels depend on. A fill regenerates every
   * token within this reach of the mask, so that each pixel it composites comes from generated
   * latents only. 0 for a patch VAE (test models, builtin:shapes: each cell decodes alone);
   * absent = 1, what the engine takes for a convolutional decoder (LTX-Video's).
   */
  decoderReach?: number;
}

export interface SizeRules {
  /** Working width and height must be multiples of this. */
  multiple: number;
  /** Largest working frame, in pixels (width * height); bigger frames are scaled down. */
  maxPixels: number;
  /** Largest window in pixel frames (must satisfy 1 + temporal * k); longer ranges are split. */
  maxFrames: number;
}

export interface SchedulerDefaults {
  steps: number;
  guidance: number;
  /** Shift of the sigma schedule: static `shift`, or resolution-dependent when `dynamic`. */
  shift: { kind: 'static'; shift: number } | { kind: 'dynamic'; baseShift: number; maxShift: number; baseTokens: number; maxTokens: number };
  /**
   * diffusers' FlowMatchEulerDiscreteScheduler `shift_terminal`: the shifted schedule is stretched
   * so its last sigma is this value (LTX-Video 0.9.0/0.9.1 use 0.1). Absent: no stretch.
   */
  shiftTerminal?: number;
  /**
   * A fixed schedule (σ values from 1 towards 0, without the terminal 0) that replaces the
   * shifted one when a job runs the default step count: timestep-distilled checkpoints were
   * trained on exactly these σ. A job asking for another step count gets the shifted schedule.
   */
  sigmas?: number[];
  /**
   * Context guidance: classifier-free guidance whose condition is the known frames rather than the
   * prompt (as Stable Video Diffusion guides by its conditioning image). Each step at σ ≥ `minSigma`
   * runs one more pass over the generated tokens alone — every known token, appended ones too,
   * left out of the sequence — and moves the velocity away from it: v += (scale − 1)·(v_c − v_nc).
   * Only with per-token conditioning and only where a window has known tokens. Absent: off.
   */
  contextGuidance?: { scale: number; minSigma: number };
}

export interface TransformerConfig {
  inChannels: number;
  outChannels: number;
  numAttentionHeads: number;
  attentionHeadDim: number;
  numLayers: number;
  crossAttentionDim: number;
  captionChannels: number;
  normEps: number;
  /**
   * RoPE base sizes and theta as in diffusers' LTXVideoRotaryPosEmbed. `causalFix`: latent frame
   * coordinates as the authors' code computes them, max(0, f·temporal + 1 − temporal) pixel frames
   * (see ltxv/rope.ts); true for converted real models, absent (false) for test models.
   */
  rope: { baseNumFrames: number; baseHeight: number; baseWidth: number; theta: number; causalFix?: boolean };
  /**
   * Set when the graph takes the STG input `stg_perturb`: what a perturbed block's self-attention
   * passes on instead of its output (its values V, or its input). Absent: no STG input.
   */
  stg?: StgMode;
}

/** Test models: bytes + 1 as ids (see tokenizer.ts). */
export interface BytesTextSpec {
  tokenizer: 'bytes';
  maxTokens: number;
  padId: number;
}

/** T5 v1.1 with the checkpoint's SentencePiece model, shipped in the model folder. */
export interface T5TextSpec {
  tokenizer: 't5';
  /** Path of the SentencePiece model relative to the model folder, e.g. 'tokenizer/spiece.model'. */
  file: string;
  /** Tokens per prompt, padded (LTX-Video pipelines use 128). */
  maxTokens: number;
  padId: number;
  eosId: number;
}

export type TextSpec = BytesTextSpec | T5TextSpec;

/** How the VAE decoder is driven. */
export interface VaeSpec {
  /**
   * True for LTX-Video 0.9.1+ decoders: the vae_decoder graph takes an extra input
   * `timestep` float32 [B] (the decode timestep, already in the decoder's units).
   */
  timestepConditioned: boolean;
  /** Timestep the decoder is run at (LTX publishes 0.05 for 0.9.1+). */
  decodeTimestep?: number;
  /** Noise mixed into the latent before decoding: x = (1 − s)·x + s·ε (LTX publishes 0.025). */
  decodeNoiseScale?: number;
  /**
   * LTX-Video 0.9.1 decoders inject noise inside their blocks; the graph takes it as the input
   * `spatial_noise` float32 [sites, scale·h, scale·w] (h, w: latent size) so runs are seeded.
   */
  spatialNoise?: { sites: number; scale: number };
}

/** Where a converted model came from. */
export interface ModelSource {
  /** The checkpoint folder it was converted from (absolute path at conversion time). */
  checkpoint: string;
  /** Hugging Face repo id, when known (e.g. 'Lightricks/LTX-Video-0.9.5'). */
  repo?: string;
  /** Commit of that repo, when known. */
  revision?: string;
  /** LTX-Video version as detected from the configs: '0.9.0', '0.9.1' or '0.9.5+'. */
  version: string;
}

/** Per graph (key: 'text_encoder' | 'transformer' | 'vae_encoder' | 'vae_decoder'): how weights are stored. */
export interface GraphPrecision {
  /** Storage of the graph's weight matrices; inputs and outputs are float32 either way. */
  stored: 'fp32' | 'fp16' | 'int8' | 'int4';
  /** Weights kept in fp32 although `stored` is fp16 (fp16 overflow, or known-sensitive layers). */
  keptFp32: string[];
  notes: string[];
}

export interface ModelFile {
  /** Path relative to the model folder. */
  path: string;
  sha256: string;
  bytes: number;
}

export interface ModelManifest {
  id: string;
  family: 'ltxv';
  license: string;
  /** True for models that exercise code paths but make no pictures worth keeping. */
  testModel: boolean;
  description: string;
  latent: LatentSpec;
  sizeRules: SizeRules;
  scheduler: SchedulerDefaults;
  transformer: TransformerConfig;
  text: TextSpec;
  /** Absent for test models (patchify "VAE", no timestep). */
  vae?: VaeSpec;
  /** How known tokens are held to the source when the job does not say. */
  conditioning: 'per-token' | 'blend';
  /**
   * Known frames (1 + temporal·k) each window of an extension starts from when the job does not
   * say (extend.context); absent = about a third of the window (engine/plan.ts planChain).
   */
  extendContext?: number;
  files: ModelFile[];
  /** Which builder wrote the folder; builtins are rebuilt when their builder version changes. */
  build?: { producer: string; version: number };
  /** Set for models converted from a checkpoint. */
  source?: ModelSource;
  /** Set for models converted from a checkpoint: what was stored at which precision. */
  precision?: Record<string, GraphPrecision>;
  /** How the checkpoint's authors sample it (./recipe.ts); absent: the plain loop (test models). */
  recipe?: Recipe;
  /**
   * The latent spatial upsampler of a multi-scale recipe, converted into the folder as
   * `latent_upsampler.onnx` (GRAPH_FILES.upsampler); absent: the model runs one pass.
   */
  upsampler?: UpsamplerSpec;
}

/** A latent ×2 spatial upsampler converted with the model (companion/models/ltxv/latentUpsampler.ts). */
export interface UpsamplerSpec {
  /** The file it was converted from, e.g. 'ltxv-spatial-upscaler-0.9.8.safetensors' (matches recipe.upscaler). */
  source: string;
  inChannels: number;
  midChannels: number;
  blocksPerStage: number;
}

/** What `loadModel` hands the engine: the manifest plus absolute graph paths. */
export interface ModelHandle {
  dir: string;
  manifest: ModelManifest;
  graphs: { textEncoder: string; transformer: string; vaeEncoder: string; vaeDecoder: string; upsampler?: string };
}
