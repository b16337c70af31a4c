/**
 * The LTX-Video latent spatial upsampler (`ltxv-spatial-upscaler-0.9.7/0.9.8.safetensors`) as an
 * ONNX graph, read top to bottom like the authors' LatentUpsampler
 * (Lightricks/LTX-Video ltx_video/models/autoencoders/latent_upsampler.py, dims = 3, spatial
 * upsampling), under its state-dict names:
 *
 *   initial_conv (Conv3d k3) → GroupNorm(32) → SiLU → res_blocks × n → upsampler.0 (Conv2d k3 per
 *   frame, mid → 4·mid) → PixelShuffle(2) → post_upsample_res_blocks × n → final_conv (Conv3d k3)
 *   ResBlock: conv1 → GroupNorm → SiLU → conv2 → GroupNorm → SiLU(· + input)
 *
 * The multi-scale pipeline feeds it un-normalised latents and normalises its output again with
 * the VAE's per-channel statistics (`_upsample_latents`); both are folded into the graph, so it
 * takes and returns latents as the VAE graphs do:
 *
 *   in:  latent [B, C, F, h, w]            (normalised)   params latents_mean [C], latents_std [C]
 *   out: upsampled [B, C, F, 2h, 2w]       (normalised)
 */
import { DataType } from '../onnx/proto.ts';
import { attr, GraphBuilder, type WeightSource } from '../onnx/graph.ts';
import { depthToSpace, perChannel } from './vae-ops.ts';

export interface LatentUpsamplerConfig {
  inChannels: number;
  midChannels: number;
  blocksPerStage: number;
}

/** nn.GroupNorm's default eps, and the group count the authors use. */
export const GROUP_NORM_EPS = 1e-5;
export const GROUPS = 32;

/** nn.GroupNorm(32, C) with affine weight/bias, over [B, C, F, H, W]. */
function groupNorm(g: GraphBuilder, x: string, prefix: string, channels: number): string {
  return g.scope(prefix, () => {
    const grouped = g.reshape(x, [0, GROUPS, -1]);
    const mean = g.reduceMean(grouped, [2]);
    const centred = g.sub(grouped, mean);
    const variance = g.reduceMean(g.mul(centred, centred), [2]);
    const normed = g.reshape(g.div(centred, g.sqrt(g.add(variance, g.scalar(GROUP_NORM_EPS)))), g.shape(x));
    const weight = g.param(`${prefix}.weight`, [channels], { kind: 'norm' });
    const bias = g.param(`${prefix}.bias`, [channels], { kind: 'bias' });
    return g.add(g.mul(normed, perChannel(g, weight)), perChannel(g, bias));
  });
}

/** nn.Conv3d(k = 3, padding = 1): zero padding on every axis, time included. */
function conv3d(g: GraphBuilder, x: string, prefix: string, inC: number, outC: number): string {
  const weight = g.param(`${prefix}.weight`, [outC, inC, 3, 3, 3], { kind: 'linear', fanIn: inC * 27 });
  const bias = g.param(`${prefix}.bias`, [outC], { kind: 'bias' });
  return g.op('Conv', [x, weight, bias], { kernel_shape: attr.ints([3, 3, 3]), pads: attr.ints([1, 1, 1, 1, 1, 1]) });
}

/** nn.Conv2d(k = 3, padding = 1) on every frame: a Conv3d with a 1×3×3 kernel over the 2-D weights. */
function conv2dPerFrame(g: GraphBuilder, x: string, prefix: string, inC: number, outC: number): string {
  const weight = g.param(`${prefix}.weight`, [outC, inC, 3, 3], { kind: 'linear', fanIn: inC * 9 });
  const bias = g.param(`${prefix}.bias`, [outC], { kind: 'bias' });
  return g.op('Conv', [x, g.unsqueeze(weight, [2]), bias], { kernel_shape: attr.ints([1, 3, 3]), pads: attr.ints([0, 1, 1, 0, 1, 1]) });
}

function resBlock(g: GraphBuilder, x: string, prefix: string, c: number): string {
  return g.scope(prefix, () => {
    let h = g.silu(groupNorm(g, conv3d(g, x, `${prefix}.conv1`, c, c), `${prefix}.norm1`, c));
    h = groupNorm(g, conv3d(g, h, `${prefix}.conv2`, c, c), `${prefix}.norm2`, c);
    return g.silu(g.add(h, x));
  });
}

export function latentUpsamplerGraph(c: LatentUpsamplerConfig, weights: WeightSource): GraphBuilder {
  if (c.midChannels % GROUPS !== 0) throw new Error(`mid_channels ${c.midChannels} must be a multiple of ${GROUPS} (GroupNorm groups)`);
  const g = new GraphBuilder('ltxv_latent_upsampler', weights);
  const F32 = DataType.FLOAT;
  const C = c.inChannels;
  const M = c.midChannels;
  const input = g.input('latent', F32, ['batch', C, 'frames', 'height', 'width']);
  const mean = perChannel(g, g.param('latents_mean', [C], { kind: 'bias' }));
  const std = perChannel(g, g.param('latents_std', [C], { kind: 'norm' }));

  let x = g.add(g.mul(input, std), mean); // un_normalize_latents
  x = g.silu(groupNorm(g, conv3d(g, x, 'initial_conv', C, M), 'initial_norm', M));
  for (let i = 0; i < c.blocksPerStage; i++) x = resBlock(g, x, `res_blocks.${i}`, M);
  x = depthToSpace(g, conv2dPerFrame(g, x, 'upsampler.0', M, 4 * M), M, [1, 2, 2]);
  for (let i = 0; i < c.blocksPerStage; i++) x = resBlock(g, x, `post_upsample_res_blocks.${i}`, M);
  x = conv3d(g, x, 'final_conv', M, C);
  const out = g.div(g.sub(x, mean), std); // normalize_latents
  g.output(out, 'upsampled', F32, ['batch', C, 'frames', 'height2', 'width2']);
  return g;
}
