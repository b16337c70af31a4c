/**
 * A model's ONNX graphs behind the few calls the sampler needs: encode text, encode video,
 * predict velocity, upsample latents (multi-scale models), decode video. Lives in the engine's worker thread: ORT's run() blocks its
 * thread for the whole step.
 *
 * Sessions open stage by stage within a memory budget and fall back to the next provider when
 * one fails (stages.ts). Prompt embeddings are cached in memory and on disk beside the model,
 * so a prompt used before does not load the (large) text encoder again.
 */
import * as ort from 'onnxruntime-node';
import { transformerVariant, type ComputeChoice } from '../models/computeVariant.ts';
import type { AttentionImpl } from '../models/ltxv/transformer.ts';
import { computeFor } from '../models/precision.ts';
import { ltxRope } from '../models/ltxv/rope.ts';
import { graphVariant } from '../models/onnx/inspect.ts';
import { loadTokenizer } from '../models/tokenizer.ts';
import type { ModelHandle, ModelManifest } from '../models/types.ts';
import type { Rope, TextEmbedding } from './generate.ts';
import type { LatentGrid } from './latents.ts';
import { PromptCache } from './promptCache.ts';
import { toneMapLatents } from './scheduler.ts';
import type { Provider } from './providers.ts';
import { StageSessions, type Compute } from './stages.ts';
import { attentionChoice, failedProbeMessage, probeFusedAttention, type AttentionChoice } from './attentionProbe.ts';
import { DeviceSteps, type IoCount, type StepResult } from './deviceSteps.ts';
import { repeatBatch } from './guidanceBatch.ts';

export { PROVIDER_ORDER, bundledProviders, type Provider } from './providers.ts';

export interface ModelRuntime {
  manifest: ModelManifest;
  /** The provider the transformer (the bulk of the work) runs on now. */
  readonly provider: Provider;
  /** The float type the transformer computes in there (after any fallback); goes into provenance. */
  readonly compute: Compute;
  /** Provider fallbacks so far, one message each. */
  readonly fallbacks: readonly string[];
  /** Stages holding a session right now (for the memory benchmark). */
  resident(): string[];
  encodeText(prompt: string): Promise<TextEmbedding>;
  encodeVideo(video: Float32Array, frames: number, height: number, width: number): Promise<Float32Array>;
  /**
   * `noise(n)` draws n standard normals from the window's decoder stream: timestep-conditioned
   * decoders get the latent mixed with noise first, and 0.9.1 decoders their in-block noise.
   */
  decodeVideo(
    latent: Float32Array,
    frames: number,
    height: number,
    width: number,
    noise?: (count: number) => Float32Array,
    /** The recipe's tone-map compression of the final latents, after the decode noise (0 = none). */
    toneMap?: number,
  ): Promise<Float32Array>;
  /**
   * `perturb` [numLayers, batch], 1 = that block's self-attention perturbed for that batch element
   * (STG); only for graphs with the STG input (manifest.transformer.stg), which get zeros without it.
   */
  velocity(tokens: Float32Array, batch: number, timestep: Float32Array, text: TextEmbedding, rope: Rope, perturb?: Float32Array): Promise<Float32Array>;
  /** Whether the model carries a latent spatial upsampler (multi-scale recipes need it). */
  readonly hasUpsampler: boolean;
  /** Latent [1, C, F, h, w] (normalised) → [1, C, F, 2h, 2w] through the upsampler graph. */
  upsample(latent: Float32Array, frames: number, height: number, width: number): Promise<Float32Array>;
  /** The memory budget (bytes) stages are held within; the sampler also sizes its guidance batch by it. */
  readonly budgetBytes: number;
  /** The transformer's weight bytes (what stays resident while the sampler steps). */
  readonly transformerBytes: number;
  /** Whether the transformer graph's attention is fused (no S×S score matrix held). */
  readonly fusedAttention: boolean;
  /** The attention the transformer's open graph uses, and why when it is not simply the stored graph's; goes into provenance. */
  readonly attention: AttentionUse;
  /** RoPE tables of a latent grid; `frameOffset` pixel frames later in time (appended conditioning, see appended.ts). */
  rope(grid: LatentGrid, fps: number, frameOffset?: number): Rope;
  /** Bytes fed to the providers and read back from them so far (what steps move). */
  readonly io: IoCount;
  /**
   * The device-resident step (deviceSteps.ts) while the transformer runs on WebGPU and resident
   * steps are on (RuntimeOptions.resident); null otherwise, and the sampler copies.
   */
  readonly device: DeviceRuntime | null;
  release(): Promise<void>;
}

/** What stays on the device across a pass's steps: text and RoPE, uploaded once. */
export interface DeviceFeeds {
  embeds: ort.Tensor;
  mask: ort.Tensor;
  cos: ort.Tensor;
  sin: ort.Tensor;
}

/** The transformer and the step on WebGPU, their tensors left in device memory (deviceSteps.ts). */
export interface DeviceRuntime {
  upload(data: Float32Array, dims: readonly number[]): Promise<ort.Tensor>;
  download(t: ort.Tensor): Promise<Float32Array>;
  /** Text [B, L, Dc] with its mask and RoPE repeated per batch element, on the device. */
  feeds(text: TextEmbedding, rope: Rope, batch: number, tokens: number): Promise<DeviceFeeds>;
  /** The velocity [B, S, C] on the device for hidden_states [B, S, C] on the device; timesteps [B·S] from the host. */
  velocity(hidden: ort.Tensor, timestep: Float32Array, feeds: DeviceFeeds): Promise<ort.Tensor>;
  /** Guidance combine + Euler update on the device (the velocity is released; x is kept). */
  step(x: ort.Tensor, velocity: ort.Tensor, tokenScale: ort.Tensor, dt: number, guidance: number): Promise<StepResult>;
}

/** Which attention the transformer runs with, and why (a failed or passed adapter check, or RESHOOT_ATTENTION). */
export interface AttentionUse {
  impl: AttentionImpl;
  reason?: string;
}

export interface RuntimeOptions {
  /** Providers to try in order (see providers.ts). */
  providers: Provider[];
  /** Weights resident at once (default: RESHOOT_MEMORY_BUDGET_GB or 16 GiB). */
  budgetBytes?: number;
  onFallback?: (message: string) => void;
  /** Transformer compute precision (default `auto`: fp16 on GPU providers, fp32 on CPU; see computeVariant.ts). */
  compute?: ComputeChoice;
  /**
   * Keep a pass's tensors on the device between steps where the provider allows it (WebGPU; see
   * deviceSteps.ts). Default: on, unless RESHOOT_WEBGPU_RESIDENT=0 (the copying step everywhere).
   */
  resident?: boolean;
  /**
   * Fused or plain attention in the transformer (default: RESHOOT_ATTENTION, else auto: the stored
   * graph's, except on WebGPU when the adapter's fused kernel fails its check; attentionProbe.ts).
   */
  attention?: AttentionChoice;
}

export async function loadRuntime(model: ModelHandle, opts: RuntimeOptions | Provider = 'cpu'): Promise<ModelRuntime> {
  const o: RuntimeOptions = typeof opts === 'string' ? { providers: [opts] } : opts;
  const m = model.manifest;
  const choice = o.compute ?? 'auto';
  const resident = o.resident ?? process.env.RESHOOT_WEBGPU_RESIDENT !== '0';
  const attention = o.attention ?? attentionChoice();
  const storedAttention = (graphVariant(model.graphs.transformer).attention ?? 'fused') as AttentionImpl;
  /** Per provider, why its transformer runs the attention it does (absent: the stored graph's, unchecked). */
  const attentionReasons = new Map<Provider, string>();
  const attentionOn = async (provider: Provider): Promise<AttentionImpl> => {
    if (attention !== 'auto') {
      attentionReasons.set(provider, `${attention} attention forced by RESHOOT_ATTENTION=${attention}`);
      return attention;
    }
    // Only WebGPU's fused kernel is known to go wrong (attentionProbe.ts); CPU, CUDA, DirectML and
    // CoreML run the stored graph as before, and a plain model stays plain.
    if (provider !== 'webgpu' || storedAttention !== 'fused') return storedAttention;
    let verdict;
    try {
      verdict = await probeFusedAttention(provider);
    } catch {
      // The provider cannot run the probe (no adapter): opening the transformer there fails with
      // the real reason and the stage falls back as before.
      return storedAttention;
    }
    if (verdict.ok) {
      attentionReasons.set(provider, `fused attention passed its check on this adapter (max error ${verdict.maxError.toPrecision(2)}, ${verdict.ms.toFixed(0)} ms)`);
      return 'fused';
    }
    attentionReasons.set(provider, failedProbeMessage(provider, verdict));
    return 'plain';
  };
  const variantPaths = new Map<string, AttentionImpl>();
  const attentionOf = (graph: string): AttentionImpl => {
    let a = variantPaths.get(graph);
    if (!a) variantPaths.set(graph, (a = (graphVariant(graph).attention ?? 'fused') as AttentionImpl));
    return a;
  };
  /** The transformer graph last opened (kept when a large model's session is evicted between uses). */
  let transformerGraph: string | null = null;
  const stages = new StageSessions(model.graphs, {
    ...o,
    half: { compute: (provider) => computeFor(provider, choice), graph: () => transformerVariant(model, { compute: 'fp16' }) },
    // The attention variant is built over the stored weights like the fp16 one (computeVariant.ts).
    transformerGraph: async ({ provider, compute }) => {
      const impl = await attentionOn(provider);
      if (compute === 'fp16') return (transformerGraph = transformerVariant(model, { attention: impl, compute }));
      return (transformerGraph = impl === storedAttention ? model.graphs.transformer : transformerVariant(model, { attention: impl, compute }));
    },
    // On WebGPU the velocity stays on the device for the step graph (the copying path downloads it).
    outputLocations: (stage, provider) => (resident && stage === 'transformer' && provider === 'webgpu' ? { velocity: 'gpu-buffer' } : undefined),
  });
  // Small models stay resident: open everything now, so a broken provider shows at load.
  // Large ones open the transformer now (the stage that decides the provider) and the rest on use.
  if (stages.totalBytes() <= stages.budget || m.testModel) {
    for (const stage of ['transformer' as const, ...stages.stages().filter((s) => s !== 'transformer')]) await stages.load(stage);
  } else {
    await stages.load('transformer');
  }
  const attentionUse = (): AttentionUse => {
    const graph = stages.graphOf('transformer') ?? transformerGraph;
    const reason = attentionReasons.get(stages.providerOf('transformer'));
    return { impl: graph ? attentionOf(graph) : storedAttention, ...(reason ? { reason } : {}) };
  };
  const tokenize = await loadTokenizer(model);
  // On disk only for real models: their text encoder is the slowest thing to load.
  const prompts = new PromptCache(m.testModel ? null : model.dir);
  const ropeCache = new Map<string, Rope>();
  // The RoPE tables repeated per batch element, as ORT tensors, for the last rope and batch used:
  // every step of a window feeds the same ones, and rebuilding them was the bulk of a step's host
  // work (2 × B × S × D floats: 192 MiB per step at 6,144 tokens, batch 2; bench/step-io.ts).
  let ropeFeeds: { rope: Rope; batch: number; cos: ort.Tensor; sin: ort.Tensor } | null = null;
  const D = m.transformer.numAttentionHeads * m.transformer.attentionHeadDim;
  const C = m.latent.channels;
  const L = m.text.maxTokens;
  const io: IoCount = { toDevice: 0, toHost: 0, deviceSteps: 0 };
  let steps: Promise<DeviceSteps> | null = null;
  const deviceSteps = (): Promise<DeviceSteps> => (steps ??= DeviceSteps.open(io));
  /** Host bytes a run is fed (device tensors cross nothing). */
  const fed = (feeds: Record<string, ort.Tensor>): number =>
    Object.values(feeds).reduce((n, t) => n + (t.location === 'gpu-buffer' ? 0 : (t.data as Float32Array).byteLength), 0);
  /** The transformer's extra inputs: the STG selector, all zeros (no perturbed pass). */
  const stgFeeds = (batch: number): Record<string, ort.Tensor> =>
    m.transformer.stg ? { stg_perturb: new ort.Tensor('float32', new Float32Array(m.transformer.numLayers * batch), [m.transformer.numLayers, batch]) } : {};

  const device: DeviceRuntime = {
    upload: async (data, dims) => (await deviceSteps()).upload(data, dims),
    download: async (t) => (await deviceSteps()).download(t),
    async feeds(txt, rope, batch, tokens) {
      const Lt = txt.mask.length / txt.batch;
      const d = await deviceSteps();
      return {
        embeds: await d.upload(txt.embeds, [batch, Lt, m.transformer.captionChannels]),
        mask: await d.upload(txt.mask, [batch, Lt]),
        cos: await d.upload(batch === 1 ? rope.cos : repeatBatch(rope.cos, batch), [batch, tokens, D]),
        sin: await d.upload(batch === 1 ? rope.sin : repeatBatch(rope.sin, batch), [batch, tokens, D]),
      };
    },
    async velocity(hidden, timestep, f) {
      const [batch, S] = hidden.dims as [number, number, number];
      const feeds: Record<string, ort.Tensor> = {
        ...stgFeeds(batch),
        hidden_states: hidden,
        encoder_hidden_states: f.embeds,
        encoder_attention_mask: f.mask,
        timestep: new ort.Tensor('float32', timestep, [batch, S]),
        rope_cos: f.cos,
        rope_sin: f.sin,
      };
      io.toDevice += fed(feeds);
      // No finite check here: the step graph reports a non-finite velocity (deviceSteps.ts).
      const out = await stages.run('transformer', feeds);
      return out.velocity!;
    },
    step: async (x, v, scale, dt, g) => (await deviceSteps()).step(x, v, scale, dt, g),
  };

  return {
    manifest: m,
    get provider() {
      return stages.providerOf('transformer');
    },
    get compute() {
      return stages.computeOf('transformer');
    },
    get fallbacks() {
      return stages.fallbacks;
    },
    resident: () => stages.resident(),
    io,
    get device() {
      return resident && stages.providerOf('transformer') === 'webgpu' ? device : null;
    },
    hasUpsampler: model.graphs.upsampler !== undefined,
    budgetBytes: stages.budget,
    transformerBytes: stages.bytesOf('transformer'),
    get attention() {
      return attentionUse();
    },
    get fusedAttention() {
      return attentionUse().impl === 'fused';
    },

    async encodeText(prompt) {
      const { ids, mask } = tokenize(prompt);
      return prompts.get(ids, mask, async () => {
        const out = await stages.run('textEncoder', {
          input_ids: new ort.Tensor('int64', ids, [1, L]),
          attention_mask: new ort.Tensor('int64', mask, [1, L]),
        });
        return out.last_hidden_state!.data as Float32Array;
      });
    },

    async encodeVideo(video, frames, height, width) {
      const out = await stages.run('vaeEncoder', { sample: new ort.Tensor('float32', video, [1, 3, frames, height, width]) });
      return out.latent!.data as Float32Array;
    },

    async decodeVideo(latent, frames, height, width, noise, toneMap = 0) {
      const feeds: Record<string, ort.Tensor> = {};
      const vae = m.vae;
      const draw = noise ?? ((count: number) => new Float32Array(count));
      if (vae?.timestepConditioned) {
        // LTX 0.9.1+: the decoder was trained on slightly noised latents and is told how much.
        // Mixed into the normalised latent, as the authors' pipeline does (diffusers mixes after
        // de-normalising, which differs when latents_std ≠ 1).
        const scale = vae.decodeNoiseScale ?? 0;
        if (scale > 0) {
          const n = draw(latent.length);
          latent = latent.map((v, i) => (1 - scale) * v + scale * n[i]!);
        }
        feeds.timestep = new ort.Tensor('float32', Float32Array.of(vae.decodeTimestep ?? 0), [1]);
      }
      // The authors tone-map after mixing in the decode noise, right before the decoder.
      if (toneMap > 0) latent = toneMapLatents(Float32Array.from(latent), toneMap);
      if (vae?.spatialNoise) {
        const { sites, scale } = vae.spatialNoise;
        feeds.spatial_noise = new ort.Tensor('float32', draw(sites * scale * height * scale * width), [sites, scale * height, scale * width]);
      }
      feeds.latent = new ort.Tensor('float32', latent, [1, C, frames, height, width]);
      const out = await stages.run('vaeDecoder', feeds);
      return out.sample!.data as Float32Array;
    },

    async velocity(tokens, batch, timestep, txt, rope, perturb) {
      const S = timestep.length / batch;
      const Lt = txt.mask.length / txt.batch;
      if (ropeFeeds?.rope !== rope || ropeFeeds.batch !== batch) {
        const cos = batch === 1 ? rope.cos : repeatBatch(rope.cos, batch);
        const sin = batch === 1 ? rope.sin : repeatBatch(rope.sin, batch);
        ropeFeeds = { rope, batch, cos: new ort.Tensor('float32', cos, [batch, S, D]), sin: new ort.Tensor('float32', sin, [batch, S, D]) };
      }
      const layers = m.transformer.numLayers;
      if (perturb && !m.transformer.stg) throw new Error(`internal: ${m.id} has no STG input; the sampler asked for a perturbed pass`);
      if (perturb && perturb.length !== layers * batch) throw new Error(`internal: stg_perturb has ${perturb.length} values, expected ${layers} × ${batch}`);
      const feeds: Record<string, ort.Tensor> = {
        ...(m.transformer.stg ? { stg_perturb: new ort.Tensor('float32', perturb ?? new Float32Array(layers * batch), [layers, batch]) } : {}),
        hidden_states: new ort.Tensor('float32', tokens, [batch, S, C]),
        encoder_hidden_states: new ort.Tensor('float32', txt.embeds, [batch, Lt, m.transformer.captionChannels]),
        encoder_attention_mask: new ort.Tensor('float32', txt.mask, [batch, Lt]),
        timestep: new ort.Tensor('float32', timestep, [batch, S]),
        rope_cos: ropeFeeds.cos,
        rope_sin: ropeFeeds.sin,
      };
      io.toDevice += fed(feeds);
      let v: Float32Array | undefined;
      // A velocity left on the device (the session keeps it there for resident steps) is fetched
      // first; then an fp16 graph whose activations overflowed (Inf/NaN) reruns in fp32 (stages.ts).
      await stages.run('transformer', feeds, async (out) => {
        const t = out.velocity!;
        if (t.location === 'gpu-buffer') v = await (await deviceSteps()).download(t);
        else {
          v = t.data as Float32Array;
          io.toHost += v.byteLength;
        }
        return nonFinite(v);
      });
      return v!;
    },

    async upsample(latent, frames, height, width) {
      const out = await stages.run('upsampler', { latent: new ort.Tensor('float32', latent, [1, C, frames, height, width]) });
      return out.upsampled!.data as Float32Array;
    },

    rope(grid, fps, frameOffset = 0) {
      const key = `${grid.frames}x${grid.height}x${grid.width}@${fps}+${frameOffset}`;
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
          causalFix: t.rope.causalFix ?? false,
          frameOffset,
        });
        r = { cos, sin };
        ropeCache.set(key, r);
      }
      return r;
    },

    release: async () => {
      ropeFeeds = null;
      const d = steps;
      steps = null;
      await Promise.all([stages.releaseAll(), d?.then((x) => x.release())]);
    },
  };
}

/** An fp16 graph whose activations overflowed returns Inf/NaN: the stage then reruns in fp32 (stages.ts). */
function nonFinite(v: Float32Array): string | null {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return `velocity has a non-finite value at ${i} of ${v.length}`;
  return null;
}
