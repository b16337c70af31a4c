/**
 * ONNX Runtime sessions for one model folder, behind the few calls the sampler needs.
 * Lives in the engine's worker thread: ORT's run() blocks its thread for the whole step.
 */
import * as ort from 'onnxruntime-node';
import { ltxRope } from '../models/ltxv/rope.ts';
import { tokenizeBytes } from '../models/tokenizer.ts';
import type { ModelHandle, ModelManifest } from '../models/types.ts';
import type { Rope, TextEmbedding } from './generate.ts';
import type { LatentGrid } from './latents.ts';

export interface ModelRuntime {
  manifest: ModelManifest;
  provider: string;
  encodeText(prompt: string): Promise<TextEmbedding>;
  encodeVideo(video: Float32Array, frames: number, height: number, width: number): Promise<Float32Array>;
  decodeVideo(latent: Float32Array, frames: number, height: number, width: number): Promise<Float32Array>;
  velocity(tokens: Float32Array, batch: number, timestep: Float32Array, text: TextEmbedding, rope: Rope): Promise<Float32Array>;
  rope(grid: LatentGrid, fps: number): Rope;
  release(): Promise<void>;
}

/** Providers in the order Reshoot prefers them; CPU always last and always present. */
export const PROVIDER_ORDER = ['cuda', 'dml', 'coreml', 'webgpu', 'cpu'] as const;
export type Provider = (typeof PROVIDER_ORDER)[number];

/** Providers this build of onnxruntime-node has the binaries for (not yet proof they work). */
export function bundledProviders(): Provider[] {
  const listed = new Set(
    (ort as unknown as { listSupportedBackends?: () => { name: string; bundled: boolean }[] })
      .listSupportedBackends?.()
      .filter((b) => b.bundled)
      .map((b) => b.name) ?? ['cpu'],
  );
  return PROVIDER_ORDER.filter((p) => listed.has(p) || p === 'cpu');
}

async function openSession(path: string, provider: Provider): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, {
    executionProviders: [provider],
    graphOptimizationLevel: 'all',
    // Reproducibility: same inputs → same bytes on the same provider.
    extra: { session: { use_deterministic_compute: '1' } },
  } as ort.InferenceSession.SessionOptions);
}

export async function loadRuntime(model: ModelHandle, provider: Provider = 'cpu'): Promise<ModelRuntime> {
  const m = model.manifest;
  const [text, transformer, vaeEnc, vaeDec] = await Promise.all([
    openSession(model.graphs.textEncoder, provider),
    openSession(model.graphs.transformer, provider),
    openSession(model.graphs.vaeEncoder, provider),
    openSession(model.graphs.vaeDecoder, provider),
  ]);
  const textCache = new Map<string, TextEmbedding>();
  const ropeCache = new Map<string, Rope>();
  const D = m.transformer.numAttentionHeads * m.transformer.attentionHeadDim;
  const C = m.latent.channels;

  return {
    manifest: m,
    provider,

    async encodeText(prompt) {
      const hit = textCache.get(prompt);
      if (hit) return hit;
      const { ids, mask } = tokenizeBytes(prompt, m.text.maxTokens);
      const L = m.text.maxTokens;
      const out = await text.run({
        input_ids: new ort.Tensor('int64', ids, [1, L]),
        attention_mask: new ort.Tensor('int64', mask, [1, L]),
      });
      const embeds = out.last_hidden_state!.data as Float32Array;
      const emb: TextEmbedding = { embeds, mask: Float32Array.from(mask, (v) => Number(v)), batch: 1 };
      textCache.set(prompt, emb);
      return emb;
    },

    async encodeVideo(video, frames, height, width) {
      const out = await vaeEnc.run({ sample: new ort.Tensor('float32', video, [1, 3, frames, height, width]) });
      return out.latent!.data as Float32Array;
    },

    async decodeVideo(latent, frames, height, width) {
      const out = await vaeDec.run({ latent: new ort.Tensor('float32', latent, [1, C, frames, height, width]) });
      return out.sample!.data as Float32Array;
    },

    async velocity(tokens, batch, timestep, txt, rope) {
      const S = timestep.length / batch;
      const L = txt.mask.length / txt.batch;
      const cos = batch === 1 ? rope.cos : repeat(rope.cos, batch);
      const sin = batch === 1 ? rope.sin : repeat(rope.sin, batch);
      const out = await transformer.run({
        hidden_states: new ort.Tensor('float32', tokens, [batch, S, C]),
        encoder_hidden_states: new ort.Tensor('float32', txt.embeds, [batch, L, m.transformer.captionChannels]),
        encoder_attention_mask: new ort.Tensor('float32', txt.mask, [batch, L]),
        timestep: new ort.Tensor('float32', timestep, [batch, S]),
        rope_cos: new ort.Tensor('float32', cos, [batch, S, D]),
        rope_sin: new ort.Tensor('float32', sin, [batch, S, D]),
      });
      return out.velocity!.data as Float32Array;
    },

    rope(grid, fps) {
      const key = `${grid.frames}x${grid.height}x${grid.width}@${fps}`;
      let r = ropeCache.get(key);
      if (!r) {
        const t = m.transformer;
        const { cos, sin } = ltxRope({
          dim: D,
          frames: grid.frames,
          height: grid.height,
          width: grid.width,
          frameRate: fps,
          spatial: m.latent.spatial,
          temporal: m.latent.temporal,
          baseNumFrames: t.rope.baseNumFrames,
          baseHeight: t.rope.baseHeight,
          baseWidth: t.rope.baseWidth,
          theta: t.rope.theta,
        });
        r = { cos, sin };
        ropeCache.set(key, r);
      }
      return r;
    },

    async release() {
      await Promise.all([text, transformer, vaeEnc, vaeDec].map((s) => s.release()));
    },
  };
}

function repeat(a: Float32Array, times: number): Float32Array {
  const out = new Float32Array(a.length * times);
  for (let i = 0; i < times; i++) out.set(a, i * a.length);
  return out;
}
