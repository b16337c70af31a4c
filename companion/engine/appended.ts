/**
 * Conditioning that does not start the window — a bridge's end frames — the way the authors'
 * pipeline takes it (Lightricks/LTX-Video ltx_video/pipelines/pipeline_ltx_video.py,
 * `prepare_conditioning` and `_handle_non_first_conditioning_sequence`, prefix mode "concat"):
 * the frames are encoded on their own, as if they began a clip, and their first latent frames go
 * into the sequence as extra tokens placed in time where the frames sit in the window, held at
 * timestep 0 like any known token; they are dropped before decoding. A sequence of 1 + 8k frames
 * (k ≥ 1) starting on a multiple of the VAE's temporal factor puts its first two latent frames
 * (the lone first frame and the first group) in as extra tokens, and the rest in the grid as known
 * latent frames. The model was trained this way: an end frame kept in the grid lands in a latent
 * frame that also covers generated frames, and is encoded as the middle of a clip rather than as
 * a clip's start.
 */
import type { Frame } from '../media/frame.ts';
import { concatTokens, framesToVideoTensor, latentToTokens, type LatentGrid } from './latents.ts';
import type { ModelRuntime } from './runtime.ts';
import type { Rope } from './generate.ts';

/** Known frames given to the model as extra tokens (see the header). */
export interface AppendedConditioning {
  /** Frames at the window's working size: one, or 1 + temporal·k (k ≥ 1). */
  frames: Frame[];
  /** Pixel frame of the window where the first of them sits (a multiple of the temporal factor for more than one frame). */
  at: number;
}

/** Latent frames of a multi-frame item that go in as extra tokens (the authors' num_prefix_latent_frames). */
const PREFIX_LATENT_FRAMES = 2;

export interface AppendedTokens {
  /** Extra tokens [count, C], in item order, to go before the grid's. */
  tokens: Float32Array;
  /** Their RoPE rows [count, D] each. */
  rope: Rope;
  count: number;
}

/**
 * Encodes the items and returns their extra tokens; latent frames of long items that belong in
 * the grid are written into `gridX0` and marked known in `gridMask` (0 = known).
 */
export async function appendConditioning(
  rt: ModelRuntime,
  items: readonly AppendedConditioning[],
  window: { frames: number; width: number; height: number; fps: number },
  grid: LatentGrid,
  gridX0: Float32Array,
  gridMask: Float32Array,
): Promise<AppendedTokens> {
  const { channels: C, temporal: T } = rt.manifest.latent;
  const cells = grid.height * grid.width;
  const parts: { tokens: Float32Array; rope: Rope }[] = [];
  for (const [i, item] of items.entries()) {
    const n = item.frames.length;
    const where = `appended conditioning ${i + 1} (${n} frames at frame ${item.at})`;
    if (n === 0) throw new RangeError(`${where}: no frames`);
    if (!Number.isInteger(item.at) || item.at < 0 || item.at + n > window.frames) throw new RangeError(`${where}: does not fit the window of ${window.frames} frames`);
    if (n > 1 && ((n - 1) % T !== 0 || item.at % T !== 0 || n < 1 + T)) {
      throw new RangeError(`${where}: a sequence must be 1 + ${T}·k frames starting on a multiple of ${T}`);
    }
    for (const f of item.frames) {
      if (f.width !== window.width || f.height !== window.height) throw new RangeError(`${where}: frames must be ${window.width}×${window.height}, got ${f.width}×${f.height}`);
    }
    const latentCount = 1 + (n - 1) / T;
    const encoded = latentToTokens(await rt.encodeVideo(framesToVideoTensor(item.frames), n, window.height, window.width), C, latentCount * cells);
    // Latent frames past the prefix are known frames of the grid, where they sit in time.
    for (let k = PREFIX_LATENT_FRAMES; k < latentCount; k++) {
      const j = item.at / T + k;
      gridX0.set(encoded.subarray(k * cells * C, (k + 1) * cells * C), j * cells * C);
      gridMask.fill(0, j * cells, (j + 1) * cells);
    }
    const prefix = Math.min(latentCount, PREFIX_LATENT_FRAMES);
    const rope = rt.rope({ frames: prefix, height: grid.height, width: grid.width }, window.fps, item.at);
    parts.push({ tokens: encoded.slice(0, prefix * cells * C), rope });
  }
  const tokens = concatTokens(...parts.map((p) => p.tokens));
  return { tokens, rope: { cos: concatTokens(...parts.map((p) => p.rope.cos)), sin: concatTokens(...parts.map((p) => p.rope.sin)) }, count: tokens.length / C };
}
