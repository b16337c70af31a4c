/**
 * The LTX-Video VAE (encoder and decoder) as ONNX graphs, read top to bottom like diffusers'
 * `AutoencoderKLLTXVideo` (src/diffusers/models/autoencoders/autoencoder_kl_ltx.py), whose
 * state-dict names and shapes it keeps, so a checkpoint's `vae/diffusion_pytorch_model.safetensors`
 * maps onto it one to one. Config parsing and block structure: ./vae-config.ts; layers: ./vae-ops.ts.
 *
 * Graph I/O (see ../types.ts), B = batch, C = latent channels, F = 1 + 8(f - 1), H = 32h, W = 32w:
 *
 *   vae_encoder  in:  sample [B, 3, F, H, W] in [-1, 1]
 *                out: latent [B, C, f, h, w] = (posterior mean − latents_mean) · scaling_factor / latents_std
 *   vae_decoder  in:  latent [B, C, f, h, w] (normalised as above; de-normalised inside)
 *                     timestep [B]            only when `timestep_conditioning` (0.9.1+): the
 *                                             pipeline's decode_timestep, e.g. 0.05 (the graph
 *                                             multiplies by `decoder.timestep_scale_multiplier`)
 *                     spatial_noise [N, Hn, Wn]  only when `decoder_inject_noise` has a true entry
 *                                             (0.9.1): N(0, 1) planes, one per injection site, see
 *                                             `ltxvVaeDecoderNoiseShape`; zeros switch injection off
 *                out: sample [B, 3, F, H, W], nominally in [-1, 1] (not clamped)
 *
 * The encoder returns the posterior's mean (its mode). The diagonal Gaussian's log-variance is the
 * encoder's extra last channel, which the graph drops; both the authors' `vae_encode` and diffusers'
 * pipelines *sample* (mean + exp(logvar / 2)·ε) instead, a small random perturbation we leave out.
 *
 * What the engine does around the decoder of a timestep-conditioned VAE (0.9.1+), as the authors'
 * pipeline does: latent ← (1 − s)·latent + s·ε with s = decode_noise_scale (0.025 in their configs),
 * ε ~ N(0, 1), on the *normalised* latent (this graph's input), then timestep = decode_timestep
 * (0.05). diffusers' pipelines mix the noise after de-normalising instead; with per-channel
 * latents_std ≠ 1 that is a different perturbation, and the original wins (DESIGN §4).
 *
 * Noise injection (0.9.1 decoder resnets): upstream draws torch.randn(H, W) at every site, shared by
 * the batch, the frames and (scaled per channel) the channels. Here those planes are a graph input,
 * so a seeded engine gets reproducible pictures; each site reads the top-left H×W of its own plane.
 */
import { DataType } from '../onnx/proto.ts';
import { GraphBuilder, type ParamDecl, type WeightSource } from '../onnx/graph.ts';
import { timestepFrequencies, TIMESTEP_CHANNELS } from './transformer.ts';
import {
  decoderPlan,
  encoderPlan,
  latentSpecOf,
  type DecoderBlockPlan,
  type Downsampler,
  type LtxvVaeConfig,
} from './vae-config.ts';
import { causalConv3d, channelLayerNorm, depthToSpace, patchify, perChannel, pixelNorm, spaceToDepth, unpatchify } from './vae-ops.ts';

export { latentSpecOf, parseLtxvVaeConfig, type LtxvVaeConfig } from './vae-config.ts';

const F32 = DataType.FLOAT;
const END = Number.MAX_SAFE_INTEGER;

interface Ctx {
  g: GraphBuilder;
  cfg: LtxvVaeConfig;
  causal: boolean;
  /** The `spatial_noise` input and the next site to read, when noise is injected. */
  noise?: { input: string; next: number };
}

// ---- timestep conditioning ----------------------------------------------------------------------

/**
 * PixArtAlphaCombinedTimestepSizeEmbeddings(dim, 0) on a [B] timestep: Timesteps(256,
 * flip_sin_to_cos=True, shift 0) → `${prefix}.timestep_embedder.linear_1` → SiLU → `linear_2`.
 */
function timeEmbedding(g: GraphBuilder, t: string, prefix: string, dim: number): string {
  return g.scope(prefix, () => {
    const args = g.mul(g.reshape(t, [-1, 1]), g.floats(timestepFrequencies(), [TIMESTEP_CHANNELS / 2]));
    const proj = g.concat([g.cos(args), g.sin(args)], -1);
    const e = `${prefix}.timestep_embedder`;
    return g.linear(g.silu(g.linear(proj, `${e}.linear_1`, TIMESTEP_CHANNELS, dim)), `${e}.linear_2`, dim, dim);
  });
}

/** emb [B, k·C] viewed [B, k, C, 1, 1, 1] plus `table` [k, C]: the k modulation tensors [B, C, 1, 1, 1]. */
function modulation(g: GraphBuilder, emb: string, table: string, k: number, channels: number): string[] {
  const t = g.param(table, [k, channels], { kind: 'table', dim: channels });
  const ada = g.add(g.reshape(emb, [0, k, channels, 1, 1, 1]), g.reshape(t, [k, channels, 1, 1, 1]));
  return Array.from({ length: k }, (_, i) => g.gather(ada, i, 1));
}

/** h·(1 + scale) + shift */
function modulate(g: GraphBuilder, h: string, shift: string, scale: string): string {
  return g.add(g.mul(h, g.add(g.scalar(1), scale)), shift);
}

/** h + plane[:H, :W] · per_channel_scale, the plane shared by batch and frames. */
function injectSpatialNoise(ctx: Ctx, h: string, scaleName: string, channels: number): string {
  const { g } = ctx;
  if (!ctx.noise) return h; // injection switched off at build time: the term is zero (its scales unused)
  const scale = g.param(scaleName, [channels, 1, 1], { kind: 'bias' });
  const plane = g.gather(ctx.noise.input, ctx.noise.next++, 0); // [Hn, Wn]
  const hw = g.slice(g.shape(h), [3], [5], [0]);
  const cropped = g.op('Slice', [plane, g.ints([0, 0]), hw, g.ints([0, 1])]);
  return g.add(h, g.mul(g.unsqueeze(cropped, [0, 1, 2]), g.reshape(scale, [1, channels, 1, 1, 1])));
}

// ---- blocks ---------------------------------------------------------------------------------------

/**
 * LTXVideoResnetBlock3d: norm1 → [modulate] → SiLU → conv1 → [noise] → norm2 → [modulate] → SiLU →
 * conv2 → [noise], plus the input (through norm3 LayerNorm + 1×1×1 conv_shortcut when the width
 * changes). `emb` is the block's time embedding [B, 4·C] when timestep-conditioned.
 */
function resnet(ctx: Ctx, x: string, prefix: string, inChannels: number, outChannels: number, opts: { emb?: string; injectNoise?: boolean } = {}): string {
  const { g, cfg, causal } = ctx;
  return g.scope(prefix, () => {
    let h = pixelNorm(g, x);
    let ada: string[] | undefined;
    if (opts.emb) {
      ada = modulation(g, opts.emb, `${prefix}.scale_shift_table`, 4, inChannels); // shift1, scale1, shift2, scale2
      h = modulate(g, h, ada[0], ada[1]);
    }
    h = causalConv3d(g, g.silu(h), `${prefix}.conv1`, inChannels, outChannels, { causal });
    if (opts.injectNoise) h = injectSpatialNoise(ctx, h, `${prefix}.per_channel_scale1`, inChannels);
    h = pixelNorm(g, h);
    if (ada) h = modulate(g, h, ada[2], ada[3]);
    h = causalConv3d(g, g.silu(h), `${prefix}.conv2`, outChannels, outChannels, { causal });
    if (opts.injectNoise) h = injectSpatialNoise(ctx, h, `${prefix}.per_channel_scale2`, inChannels);
    let shortcut = x;
    if (inChannels !== outChannels) {
      shortcut = channelLayerNorm(g, shortcut, `${prefix}.norm3`, inChannels, cfg.resnetNormEps);
      shortcut = causalConv3d(g, shortcut, `${prefix}.conv_shortcut`, inChannels, outChannels, { causal, kernel: 1 });
    }
    return g.add(h, shortcut);
  });
}

/**
 * LTXVideoDownsampler3d (0.9.5+): repeat the first frame when halving time, then
 * space-to-depth(conv(x)) plus space-to-depth(x) averaged over groups of `groupSize` channels.
 */
function downsampler3d(ctx: Ctx, x: string, prefix: string, inChannels: number, d: Extract<Downsampler, { kind: 'spaceToDepth' }>): string {
  const { g, causal } = ctx;
  return g.scope(prefix, () => {
    const s = d.stride;
    const padded = s[0] > 1 ? g.concat([g.slice(x, [0], [s[0] - 1], [2]), x], 2) : x;
    const outChannels = d.convOut * s[0] * s[1] * s[2];
    const folded = spaceToDepth(g, padded, inChannels, s); // [B, in·s, F', H', W']
    const y = spaceToDepth(g, causalConv3d(g, padded, `${prefix}.conv`, inChannels, d.convOut, { causal }), d.convOut, s);
    const groupMean = g.reduceMean(g.reshape(folded, [0, outChannels, d.groupSize, -1]), [2]);
    return g.add(y, g.reshape(groupMean, g.shape(y)));
  });
}

/**
 * LTXVideoUpsampler3d: depth-to-space(conv(x)) by 2 in time, height and width, dropping the first
 * frame; `residual` adds depth-to-space(x) tiled over channels (8 / factor copies).
 */
function upsampler3d(ctx: Ctx, x: string, prefix: string, u: NonNullable<DecoderBlockPlan['upsampler']>): string {
  const { g, causal } = ctx;
  return g.scope(prefix, () => {
    const conv = causalConv3d(g, x, `${prefix}.conv`, u.inChannels, u.convOut, { causal });
    let y = g.slice(depthToSpace(g, conv, u.convOut / 8, [2, 2, 2]), [1], [END], [2]);
    if (u.residual) {
      const spread = depthToSpace(g, x, u.inChannels / 8, [2, 2, 2]);
      const tiled = g.op('Tile', [spread, g.ints([1, 8 / u.factor, 1, 1, 1])]);
      y = g.add(y, g.slice(tiled, [1], [END], [2]));
    }
    return y;
  });
}

function latentStats(g: GraphBuilder, channels: number): { mean: string; std: string } {
  // Persistent buffers of AutoencoderKLLTXVideo (the original's per_channel_statistics mean-of-means / std-of-means).
  const mean = perChannel(g, g.param('latents_mean', [channels], { kind: 'bias' }));
  const std = perChannel(g, g.param('latents_std', [channels], { kind: 'norm' }));
  return { mean, std };
}

// ---- encoder ------------------------------------------------------------------------------------

/** Builds the `vae_encoder` graph (weights are fetched from `weights` on save). */
export function ltxvVaeEncoderGraph(cfg: LtxvVaeConfig, weights: WeightSource): GraphBuilder {
  const g = new GraphBuilder('ltxv_vae_encoder', weights);
  const plan = encoderPlan(cfg);
  const ctx: Ctx = { g, cfg, causal: cfg.encoder.causal };
  const C = cfg.latentChannels;

  const sample = g.input('sample', F32, ['batch', 3, 'frames', 'height', 'width']);
  let x = causalConv3d(g, patchify(g, sample, cfg.patchSize), 'encoder.conv_in', plan.convInChannels, plan.width, { causal: ctx.causal });

  for (const b of plan.blocks) {
    for (let j = 0; j < b.layers; j++) x = resnet(ctx, x, `${b.prefix}.resnets.${j}`, b.inChannels, b.inChannels);
    const d = b.downsampler;
    if (d?.kind === 'conv') {
      x = causalConv3d(g, x, `${b.prefix}.downsamplers.0`, b.inChannels, b.inChannels, { causal: ctx.causal, stride: d.stride });
    } else if (d?.kind === 'spaceToDepth') {
      x = downsampler3d(ctx, x, `${b.prefix}.downsamplers.0`, b.inChannels, d);
    }
    if (b.convOut) x = resnet(ctx, x, `${b.prefix}.conv_out`, b.inChannels, b.outChannels);
  }
  for (let j = 0; j < plan.midLayers; j++) x = resnet(ctx, x, `encoder.mid_block.resnets.${j}`, plan.midChannels, plan.midChannels);

  x = g.silu(pixelNorm(g, x));
  // C mean channels, then one log-variance channel shared by all (diffusers repeats it to 2C).
  x = causalConv3d(g, x, 'encoder.conv_out', plan.midChannels, C + 1, { causal: ctx.causal });
  const mean = g.slice(x, [0], [C], [1]);

  const stats = latentStats(g, C);
  const latent = g.div(g.mul(g.sub(mean, stats.mean), g.scalar(cfg.scalingFactor)), stats.std);
  g.output(latent, 'latent', F32, ['batch', C, 'latent_frames', 'latent_height', 'latent_width']);
  return g;
}

// ---- decoder ------------------------------------------------------------------------------------

export interface DecoderGraphOptions {
  /**
   * 'input' (default): decoders with `decoder_inject_noise` take the `spatial_noise` input.
   * 'off': no such input; the injected noise is zero (deterministic, not what the model was trained with).
   */
  spatialNoise?: 'input' | 'off';
}

/** Number of noise planes a decoder consumes, and the plane size for a latent of h × w; null without injection. */
export function ltxvVaeDecoderNoiseShape(cfg: LtxvVaeConfig, latentHeight: number, latentWidth: number): { sites: number; height: number; width: number } | null {
  const plan = decoderPlan(cfg);
  let sites = plan.midInjectNoise ? 2 * plan.midLayers : 0;
  let scale = 1;
  let largest = 1;
  for (const b of plan.blocks) {
    if (b.upsampler) scale *= 2;
    if (b.injectNoise && b.layers > 0) {
      sites += 2 * b.layers;
      largest = scale;
    }
  }
  return sites === 0 ? null : { sites, height: latentHeight * largest, width: latentWidth * largest };
}

/** Builds the `vae_decoder` graph (weights are fetched from `weights` on save). */
export function ltxvVaeDecoderGraph(cfg: LtxvVaeConfig, weights: WeightSource, opts: DecoderGraphOptions = {}): GraphBuilder {
  const g = new GraphBuilder('ltxv_vae_decoder', weights);
  const plan = decoderPlan(cfg);
  const ctx: Ctx = { g, cfg, causal: cfg.decoder.causal };
  const C = cfg.latentChannels;
  const cond = cfg.timestepConditioning;

  const latent = g.input('latent', F32, ['batch', C, 'latent_frames', 'latent_height', 'latent_width']);
  const timestep = cond ? g.input('timestep', F32, ['batch']) : undefined;
  if (ltxvVaeDecoderNoiseShape(cfg, 1, 1) && (opts.spatialNoise ?? 'input') === 'input') {
    ctx.noise = { input: g.input('spatial_noise', F32, ['noise_sites', 'noise_height', 'noise_width']), next: 0 };
  }

  const stats = latentStats(g, C);
  const z = g.add(g.div(g.mul(latent, stats.std), g.scalar(cfg.scalingFactor)), stats.mean);
  let x = causalConv3d(g, z, 'decoder.conv_in', C, plan.width, { causal: ctx.causal });

  // temb = timestep · timestep_scale_multiplier (1000 in the released checkpoints), shape [B]
  const t = timestep ? g.mul(timestep, g.param('decoder.timestep_scale_multiplier', [], { kind: 'norm' })) : undefined;

  const midEmb = t ? timeEmbedding(g, t, 'decoder.mid_block.time_embedder', 4 * plan.width) : undefined;
  for (let j = 0; j < plan.midLayers; j++) {
    x = resnet(ctx, x, `decoder.mid_block.resnets.${j}`, plan.width, plan.width, { emb: midEmb, injectNoise: plan.midInjectNoise });
  }

  for (const b of plan.blocks) {
    if (b.convIn) x = resnet(ctx, x, `${b.prefix}.conv_in`, b.inChannels, b.outChannels);
    const emb = t ? timeEmbedding(g, t, `${b.prefix}.time_embedder`, 4 * b.inChannels) : undefined;
    if (b.upsampler) x = upsampler3d(ctx, x, `${b.prefix}.upsamplers.0`, b.upsampler);
    for (let j = 0; j < b.layers; j++) {
      x = resnet(ctx, x, `${b.prefix}.resnets.${j}`, b.outChannels, b.outChannels, { emb, injectNoise: b.injectNoise });
    }
  }

  x = pixelNorm(g, x);
  if (t) {
    const emb = timeEmbedding(g, t, 'decoder.time_embedder', 2 * plan.outWidth);
    const [shift, scale] = modulation(g, emb, 'decoder.scale_shift_table', 2, plan.outWidth);
    x = modulate(g, x, shift, scale);
  }
  x = causalConv3d(g, g.silu(x), 'decoder.conv_out', plan.outWidth, plan.convOutChannels, { causal: ctx.causal });
  g.output(unpatchify(g, x, cfg.patchSize), 'sample', F32, ['batch', 3, 'frames', 'height', 'width']);
  return g;
}

// ---- parameters ---------------------------------------------------------------------------------

const declareOnly: WeightSource = (name) => {
  throw new Error(`ltxvVaeParams only lists parameters (asked for the values of ${name})`);
};

/**
 * Every tensor of the checkpoint's `vae/diffusion_pytorch_model.safetensors` the two graphs read,
 * under its state-dict name and shape: the encoder's, then the decoder's not already listed
 * (`latents_mean` / `latents_std` are shared).
 */
export function ltxvVaeParams(cfg: LtxvVaeConfig): ParamDecl[] {
  const all = new Map<string, ParamDecl>();
  for (const g of [ltxvVaeEncoderGraph(cfg, declareOnly), ltxvVaeDecoderGraph(cfg, declareOnly)]) {
    for (const p of g.paramList()) if (!all.has(p.name)) all.set(p.name, p);
  }
  return [...all.values()];
}

/** The pixel frame count for f latent frames (the first frame is coded alone): 1 + temporal·(f − 1). */
export function pixelFramesFor(cfg: LtxvVaeConfig, latentFrames: number): number {
  return 1 + latentSpecOf(cfg).temporal * (latentFrames - 1);
}
