/**
 * Layers of the LTX-Video VAE on top of the GraphBuilder, each named after the diffusers module it
 * reimplements. All tensors are [B, C, F, H, W] (NCDHW); sizes other than channels are symbolic,
 * so reshapes that split or merge frame/height/width axes build their target shape from Shape().
 */
import type { GraphBuilder } from '../onnx/graph.ts';
import { attr } from '../onnx/graph.ts';
import type { Stride3 } from './vae-config.ts';

/** "To the end" for Slice. */
const END = Number.MAX_SAFE_INTEGER;

/** RMSNorm(eps=1e-8, elementwise_affine=False) applied over channels, as every LTX VAE norm1/norm2/norm_out. */
export const PIXEL_NORM_EPS = 1e-8;

/** x / sqrt(mean over channels of x² + eps). */
export function pixelNorm(g: GraphBuilder, x: string, eps = PIXEL_NORM_EPS): string {
  const meanSquare = g.reduceMean(g.mul(x, x), [1]);
  return g.div(x, g.sqrt(g.add(meanSquare, g.scalar(eps))));
}

/** A [C] parameter viewed as [C, 1, 1, 1] so it broadcasts over NCDHW. */
export function perChannel(g: GraphBuilder, p: string): string {
  return g.reshape(p, [-1, 1, 1, 1]);
}

/** nn.LayerNorm(C, eps, affine) over the channel axis (diffusers moves channels last and back). */
export function channelLayerNorm(g: GraphBuilder, x: string, prefix: string, channels: number, eps: number): string {
  const mean = g.reduceMean(x, [1]);
  const centred = g.sub(x, mean);
  const variance = g.reduceMean(g.mul(centred, centred), [1]);
  const normed = g.div(centred, g.sqrt(g.add(variance, g.scalar(eps))));
  const weight = g.param(`${prefix}.weight`, [channels], { kind: 'norm' });
  const bias = g.param(`${prefix}.bias`, [channels], { kind: 'bias' });
  return g.add(g.mul(normed, perChannel(g, weight)), perChannel(g, bias));
}

/**
 * LTXVideoCausalConv3d: pads time by repeating the first frame (k - 1) times when causal, or the
 * first and last frames (k - 1) / 2 times each when not; pads height and width with zeros (k / 2);
 * then nn.Conv3d with bias, weights `${prefix}.conv.weight` [out, in, k, k, k].
 */
export function causalConv3d(
  g: GraphBuilder,
  x: string,
  prefix: string,
  inChannels: number,
  outChannels: number,
  opts: { causal: boolean; kernel?: number; stride?: Stride3 },
): string {
  const k = opts.kernel ?? 3;
  const stride = opts.stride ?? [1, 1, 1];
  return g.scope(prefix, () => {
    let padded = x;
    if (k > 1) {
      const first = g.slice(x, [0], [1], [2]);
      if (opts.causal) {
        padded = g.concat([...Array<string>(k - 1).fill(first), x], 2);
      } else {
        const half = (k - 1) / 2;
        const last = g.slice(x, [-1], [END], [2]);
        padded = g.concat([...Array<string>(half).fill(first), x, ...Array<string>(half).fill(last)], 2);
      }
    }
    const weight = g.param(`${prefix}.conv.weight`, [outChannels, inChannels, k, k, k], { kind: 'linear', fanIn: inChannels * k * k * k });
    const bias = g.param(`${prefix}.conv.bias`, [outChannels], { kind: 'bias' });
    const p = Math.floor(k / 2);
    return g.op('Conv', [padded, weight, bias], {
      kernel_shape: attr.ints([k, k, k]),
      pads: attr.ints([0, p, p, 0, p, p]),
      strides: attr.ints(stride),
    });
  });
}

/** Shape of `x` sliced to [from, to) as an int64 tensor. */
function dims(g: GraphBuilder, x: string): (from: number, to: number) => string {
  const s = g.shape(x);
  return (from, to) => g.slice(s, [from], [to], [0]);
}

/**
 * [B, C·s0·s1·s2, F, H, W] → [B, C, F·s0, H·s1, W·s2], channel index (c, st, sh, sw): diffusers'
 * upsampler reshape + permute(0, 1, 5, 2, 6, 3, 7, 4), the original's PixelShuffleND.
 */
export function depthToSpace(g: GraphBuilder, x: string, channels: number, s: Stride3): string {
  const d = dims(g, x);
  const view = g.concat([d(0, 1), g.ints([channels, s[0], s[1], s[2]]), d(2, 5)], 0);
  const moved = g.transpose(g.reshape(x, view), [0, 1, 5, 2, 6, 3, 7, 4]);
  return g.reshape(moved, g.concat([d(0, 1), g.ints([channels]), g.mul(d(2, 5), g.ints(s))], 0));
}

/** The inverse: [B, C, F·s0, H·s1, W·s2] → [B, C·s0·s1·s2, F, H, W], channel index (c, st, sh, sw). */
export function spaceToDepth(g: GraphBuilder, x: string, channels: number, s: Stride3): string {
  const d = dims(g, x);
  const small = g.div(d(2, 5), g.ints(s));
  const at = (i: number): string => g.slice(small, [i], [i + 1], [0]);
  const view = g.concat([d(0, 1), g.ints([channels]), at(0), g.ints([s[0]]), at(1), g.ints([s[1]]), at(2), g.ints([s[2]])], 0);
  const moved = g.transpose(g.reshape(x, view), [0, 1, 3, 5, 7, 2, 4, 6]);
  return g.reshape(moved, g.concat([d(0, 1), g.ints([channels * s[0] * s[1] * s[2]]), small], 0));
}

/**
 * The encoder's input patchify: [B, 3, F, H, W] → [B, 3·p·p, F, H/p, W/p] with the channel index
 * (c, dx, dy) — width sub-position before height, as diffusers' permute(0, 1, 3, 7, 5, 2, 4, 6)
 * and the original's "b c (f p) (h q) (w r) -> b (c p r q) f h w".
 */
export function patchify(g: GraphBuilder, x: string, p: number): string {
  const d = dims(g, x);
  const small = g.div(d(3, 5), g.ints([p, p]));
  const at = (i: number): string => g.slice(small, [i], [i + 1], [0]);
  const view = g.concat([d(0, 3), at(0), g.ints([p]), at(1), g.ints([p])], 0); // [B, 3, F, h, dy, w, dx]
  const moved = g.transpose(g.reshape(x, view), [0, 1, 6, 4, 2, 3, 5]); // [B, 3, dx, dy, F, h, w]
  return g.reshape(moved, g.concat([d(0, 1), g.ints([3 * p * p]), d(2, 3), small], 0));
}

/** The decoder's output unpatchify, the inverse of `patchify`. */
export function unpatchify(g: GraphBuilder, x: string, p: number): string {
  const d = dims(g, x);
  const view = g.concat([d(0, 1), g.ints([3, p, p]), d(2, 5)], 0); // [B, 3, dx, dy, F, h, w]
  const moved = g.transpose(g.reshape(x, view), [0, 1, 4, 5, 3, 6, 2]); // [B, 3, F, h, dy, w, dx]
  return g.reshape(moved, g.concat([d(0, 1), g.ints([3]), d(2, 3), g.mul(d(3, 5), g.ints([p, p]))], 0));
}
