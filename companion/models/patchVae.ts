/**
 * The "VAE" of test models: an exactly invertible space-time patchify with the shape contract of
 * LTX-Video's causal VAE, so the engine's encode → denoise → decode path runs for real on a CPU.
 *
 * Encoder: sample [B, 3, F, H, W] with F = 1 + t·(f - 1). The first frame is coded alone, like the
 * causal VAE; to give it a full temporal group it is repeated t times, later frames go in groups
 * of t. Each (group × s × s) block of RGB becomes one latent cell with C = 3·t·s·s channels,
 * ordered (rgb, dt, dy, dx). Decoder: the inverse, keeping the first group's frame once.
 *
 * Only Slice/Concat/Reshape/Transpose (plus Shape arithmetic for the symbolic sizes), so floats
 * round-trip bit for bit. The latent is not normalised: it is the pixels, rearranged.
 */
import { DataType } from './onnx/proto.ts';
import { GraphBuilder, type WeightSource } from './onnx/graph.ts';

export interface PatchSpec {
  spatial: number;
  temporal: number;
}

export const patchChannels = ({ spatial, temporal }: PatchSpec): number => 3 * temporal * spatial * spatial;

const noWeights: WeightSource = (name) => {
  throw new Error(`the patch VAE has no weights (asked for ${name})`);
};

// Axes of the 8-D view [B, 3, f, t, h, s, w, s] ↔ [B, 3, t, s, s, f, h, w].
const TO_CHANNELS = [0, 1, 3, 5, 7, 2, 4, 6];
const FROM_CHANNELS = [0, 1, 5, 2, 6, 3, 7, 4];

export function patchVaeEncoderGraph(spec: PatchSpec): GraphBuilder {
  const g = new GraphBuilder('patch_vae_encoder', noWeights);
  const sample = g.input('sample', DataType.FLOAT, ['batch', 3, 'frames', 'height', 'width']);
  g.output(patchify(g, sample, spec), 'latent', DataType.FLOAT, ['batch', patchChannels(spec), 'latent_frames', 'latent_height', 'latent_width']);
  return g;
}

/** The encoder's arithmetic, added to any graph: sample [B, 3, F, H, W] → cells [B, 3·t·s·s, f, h, w]. */
export function patchify(g: GraphBuilder, sample: string, spec: PatchSpec): string {
  const { spatial: s, temporal: t } = spec;
  // [x0 repeated t times, x1, x2, ...]: t·f frames
  const first = g.slice(sample, [0], [1], [2]);
  const padded = g.concat([...Array<string>(t - 1).fill(first), sample], 2);

  // dims [B, 3, t·f, s·h, s·w] / [1, 1, t, s, s] = [B, 3, f, h, w]
  const latentDims = g.div(g.shape(padded), g.ints([1, 1, t, s, s]));
  const at = (from: number, to: number): string => g.slice(latentDims, [from], [to], [0]);
  const view8 = g.concat([at(0, 3), g.ints([t]), at(3, 4), g.ints([s]), at(4, 5), g.ints([s])], 0);
  const cells = g.transpose(g.reshape(padded, view8), TO_CHANNELS);
  return g.reshape(cells, g.concat([at(0, 1), g.ints([patchChannels(spec)]), at(2, 5)], 0));
}

export function patchVaeDecoderGraph(spec: PatchSpec): GraphBuilder {
  const g = new GraphBuilder('patch_vae_decoder', noWeights);
  const latent = g.input('latent', DataType.FLOAT, ['batch', patchChannels(spec), 'latent_frames', 'latent_height', 'latent_width']);
  g.output(unpatchify(g, latent, spec), 'sample', DataType.FLOAT, ['batch', 3, 'frames', 'height', 'width']);
  return g;
}

/** The decoder's arithmetic, added to any graph: cells [B, 3·t·s·s, f, h, w] → sample [B, 3, F, H, W]. */
export function unpatchify(g: GraphBuilder, latent: string, spec: PatchSpec): string {
  const { spatial: s, temporal: t } = spec;
  const dims = g.shape(latent); // [B, C, f, h, w]
  const at = (from: number, to: number): string => g.slice(dims, [from], [to], [0]);
  const view8 = g.concat([at(0, 1), g.ints([3, t, s, s]), at(2, 5)], 0);
  const blocks = g.transpose(g.reshape(latent, view8), FROM_CHANNELS);
  const frames = g.reshape(blocks, g.concat([at(0, 1), g.ints([3]), g.mul(at(2, 5), g.ints([t, s, s]))], 0));
  // Drop the t - 1 repeats of the first frame (INT64_MAX as "to the end").
  return g.slice(frames, [t - 1], [Number.MAX_SAFE_INTEGER], [2]);
}
