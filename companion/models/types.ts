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
 *                  out: velocity [B, S, C]               rectified-flow velocity (noise - x0)
 *   vae_encoder    in:  sample [B, 3, F, H, W] in [-1, 1]
 *                  out: latent [B, C, f, h, w]            already normalised (mean/std applied)
 *   vae_decoder    in:  latent [B, C, f, h, w]
 *                  out: sample [B, 3, F, H, W] in [-1, 1]
 *
 * Frame counts: F = 1 + temporal * (f - 1) (causal VAE: the first frame is coded alone).
 * Pixel sizes: H = spatial * h, W = spatial * w.
 */

export interface LatentSpec {
  /** Latent channels C. */
  channels: number;
  /** Pixels per latent cell along height and width. */
  spatial: number;
  /** Pixel frames per latent frame after the first. */
  temporal: number;
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
  /** RoPE base sizes and theta as in diffusers' LTXVideoRotaryPosEmbed. */
  rope: { baseNumFrames: number; baseHeight: number; baseWidth: number; theta: number };
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
  text: { tokenizer: 'bytes'; maxTokens: number; padId: number };
  /** How known tokens are held to the source when the job does not say. */
  conditioning: 'per-token' | 'blend';
  files: ModelFile[];
  /** Which builder wrote the folder; builtins are rebuilt when their builder version changes. */
  build?: { producer: string; version: number };
}

/** What `loadModel` hands the engine: the manifest plus absolute graph paths. */
export interface ModelHandle {
  dir: string;
  manifest: ModelManifest;
  graphs: { textEncoder: string; transformer: string; vaeEncoder: string; vaeDecoder: string };
}
