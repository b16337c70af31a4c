/**
 * Whole-pipeline scenarios shared by the parity test (test/engine/upstream-pipeline.test.ts) and
 * the throwaway script that fed the same inputs to the authors' pipeline (see that test's header).
 * Everything here is defined by formula or seed, so both sides build identical inputs:
 *
 *  - the model: the LTX-Video transformer graph (companion/models/ltxv/transformer.ts) at a tiny
 *    width (4 heads × 8 = inner dim 32, so 32 % 6 = 2 padding channels like the real 2048 and
 *    4096) and the recipe's real depth (28 blocks for 2B recipes, 48 for 13B) with seededWeights,
 *    and the exactly invertible patch "VAE" (companion/models/patchVae.ts) at the real temporal
 *    factor 8 and spatial factor 2: 3·8·2·2 = 96 latent channels;
 *  - the prompt: formula embeddings for the prompt and the negative prompt, 8 tokens × 16, with
 *    padding tokens masked out, fed to both sides in place of a text encoder;
 *  - the frames: uint8 RGB by formula;
 *  - the noise: the engine's own streams (companion/engine/noise.ts Rng), which the script read
 *    from a file the dump below wrote and handed to the authors' code in place of torch.randn.
 */
import { latentToTokens } from '../../companion/engine/latents.ts';
import type { ModelRuntime } from '../../companion/engine/runtime.ts';
import type { TextEmbedding, WindowRequest } from '../../companion/engine/generate.ts';
import type { Frame } from '../../companion/media/frame.ts';
import { recipeByName } from '../../companion/models/ltxv/recipes.ts';
import { ltxvTransformerGraph } from '../../companion/models/ltxv/transformer.ts';
import { patchChannels, patchVaeDecoderGraph, patchVaeEncoderGraph } from '../../companion/models/patchVae.ts';
import { byteTextEncoderGraph } from '../../companion/models/byteTextEncoder.ts';
import { BYTE_PAD_ID } from '../../companion/models/tokenizer.ts';
import { modelGraphs } from '../../companion/models/registry.ts';
import { GRAPH_FILES } from '../../companion/models/tiny.ts';
import type { ModelHandle, ModelManifest, TransformerConfig } from '../../companion/models/types.ts';
import type { Recipe } from '../../companion/models/recipe.ts';
import { seededWeights } from '../../companion/models/weights.ts';

export const PATCH = { spatial: 2, temporal: 8 } as const;
export const CHANNELS = patchChannels(PATCH);
export const TEXT_TOKENS = 8;
export const CAPTION_CHANNELS = 16;
const HEADS = 4;
const HEAD_DIM = 8;

export interface PipelineScenario {
  /** Key of the golden numbers. */
  name: string;
  recipe: string;
  width: number;
  height: number;
  frames: number;
  fps: number;
  /** Pixel frames of the window that are known (the rest are generated). */
  known: number[];
  /**
   * The same conditioning as the authors' pipeline takes it: ConditioningItem(media = these
   * frames, media_frame_number = start, strength 1). For the engine, items at frame 0 are the known
   * frames above; later ones go in as appended conditioning (companion/engine/appended.ts).
   */
  items: { start: number; count: number }[];
  seed: number;
  /** Transformer seed (seededWeights). */
  weightsSeed: number;
  /** A multi-scale recipe run as its first pass alone, at the full size (the engine without a two-pass runtime). */
  firstPassOnly?: boolean;
  /** Multi-scale recipes: the latent upsampler (companion/models/ltxv/latentUpsampler.ts) and its seed. */
  upsampler?: { midChannels: number; blocksPerStage: number; seed: number };
}

/**
 * Noise streams of a multi-scale scenario's second pass: the first pass draws as generate.ts does
 * (initial noise from the window's stream, stochastic steps from stream + 2<<20, conditioning noise
 * from stream + 3<<20); the second pass draws from the same streams offset by this.
 */
export const SECOND_PASS_STREAM = 4 << 20;

export const SCENARIOS: Record<string, PipelineScenario> = {
  /**
   * 0.9.8 distilled multi-scale: 13 × 13 px runs its first pass at 8 × 8 (int(13·0.6666666) = 8,
   * a multiple of the patch VAE's 2), the upsampler doubles the latents to 16 × 16, the second pass
   * runs there; the conditioning frame is resized to each pass's size by the pipeline (bilinear).
   * Golden numbers only: the engine's two-pass runtime is not in this branch.
   */
  ms098d: {
    name: 'ms098d',
    recipe: 'ltxv-2b-0.9.8-distilled',
    width: 13,
    height: 13,
    frames: 9,
    fps: 24,
    known: [0],
    items: [{ start: 0, count: 1 }],
    seed: 16,
    weightsSeed: 906,
    upsampler: { midChannels: 32, blocksPerStage: 1, seed: 907 },
  },
  i2v091: { name: 'i2v091', recipe: 'ltxv-2b-0.9.1', width: 8, height: 8, frames: 17, fps: 24, known: [0], items: [{ start: 0, count: 1 }], seed: 11, weightsSeed: 901 },
  /** Extend: the first 9 frames known (two latent frames: the lone first frame and one group of 8), 16 new. */
  extend095: {
    name: 'extend095',
    recipe: 'ltxv-2b-0.9.5',
    width: 8,
    height: 8,
    frames: 25,
    fps: 30,
    known: [0, 1, 2, 3, 4, 5, 6, 7, 8],
    items: [{ start: 0, count: 9 }],
    seed: 12,
    weightsSeed: 902,
  },
  /**
   * Bridge: the tail of clip A (9 frames) at the start, the head of clip B (17 frames) from frame
   * 16 on, 7 new frames between. The authors append B's first two latent frames as extra tokens
   * placed at frames 16–24 and put its third in the grid (frames 25–32).
   */
  bridge095: {
    name: 'bridge095',
    recipe: 'ltxv-2b-0.9.5',
    width: 8,
    height: 8,
    frames: 33,
    fps: 24,
    known: [0, 1, 2, 3, 4, 5, 6, 7, 8],
    items: [
      { start: 0, count: 9 },
      { start: 16, count: 17 },
    ],
    seed: 13,
    weightsSeed: 903,
  },
  /** 0.9.6 distilled: 8 shifted steps, stochastic sampling, no CFG / STG. */
  distilled096: { name: 'distilled096', recipe: 'ltxv-2b-0.9.6-distilled', width: 8, height: 8, frames: 17, fps: 24, known: [0], items: [{ start: 0, count: 1 }], seed: 14, weightsSeed: 904 },
  /** 13B 0.9.8 dev, first pass at full size: CFG / STG / rescale / skipped blocks scheduled over σ, CFG-star, 27 of 30 steps. */
  dev098: {
    name: 'dev098',
    recipe: 'ltxv-13b-0.9.8-dev',
    width: 8,
    height: 8,
    frames: 17,
    fps: 24,
    known: [0],
    items: [{ start: 0, count: 1 }],
    seed: 15,
    weightsSeed: 905,
    firstPassOnly: true,
  },
};

export function scenarioRecipe(s: PipelineScenario): Recipe {
  const r = recipeByName(s.recipe);
  if (!r) throw new Error(`no recipe ${s.recipe}`);
  return r;
}

export function scenarioTransformer(s: PipelineScenario, recipe = scenarioRecipe(s)): TransformerConfig {
  return {
    inChannels: CHANNELS,
    outChannels: CHANNELS,
    numAttentionHeads: HEADS,
    attentionHeadDim: HEAD_DIM,
    numLayers: s.recipe.includes('13b') ? 48 : 28,
    crossAttentionDim: HEADS * HEAD_DIM,
    captionChannels: CAPTION_CHANNELS,
    normEps: 1e-6,
    rope: { baseNumFrames: 20, baseHeight: 2048, baseWidth: 2048, theta: 10000, causalFix: recipe.framePositioning === 'causal' },
    stg: recipe.stgMode,
  };
}

/** Pixel value of frame f at (x, y), channel c: smooth, distinct per frame, in 0..255. */
export function pixel(f: number, x: number, y: number, c: number): number {
  return Math.round(127.5 + 100 * Math.sin(0.7 * x + 1.3 * y + 0.45 * f + 2.1 * c));
}

export function scenarioFrame(s: PipelineScenario, f: number): Frame {
  const data = new Uint8Array(s.width * s.height * 3);
  for (let y = 0; y < s.height; y++) for (let x = 0; x < s.width; x++) for (let c = 0; c < 3; c++) data[(y * s.width + x) * 3 + c] = pixel(f, x, y, c);
  return { width: s.width, height: s.height, channels: 3, data };
}

/** Prompt (k = 0) and negative prompt (k = 1) embeddings [1, 8, 16] and their masks. */
export function scenarioText(k: 0 | 1): TextEmbedding {
  const embeds = Float32Array.from({ length: TEXT_TOKENS * CAPTION_CHANNELS }, (_, i) => Math.sin(0.31 * i + 1.7 * k) * (1 + 0.5 * k));
  const real = k === 0 ? 6 : 3;
  const mask = Float32Array.from({ length: TEXT_TOKENS }, (_, t) => (t < real ? 1 : 0));
  return { embeds, mask, batch: 1 };
}

export const PROMPT = 'the prompt';

/** The scenario's model folder: tiny transformer at the recipe's depth, patch VAE, and a manifest carrying the recipe. */
export function buildScenarioModel(dir: string, s: PipelineScenario, recipe = scenarioRecipe(s)): ModelHandle {
  const t = scenarioTransformer(s, recipe);
  ltxvTransformerGraph(t, seededWeights(s.weightsSeed)).save(dir, GRAPH_FILES.transformer);
  patchVaeEncoderGraph(PATCH).save(dir, GRAPH_FILES.vaeEncoder);
  patchVaeDecoderGraph(PATCH).save(dir, GRAPH_FILES.vaeDecoder);
  // Never run (the test hands the runtime its embeddings), but a runtime loads every graph.
  byteTextEncoderGraph(CAPTION_CHANNELS, seededWeights(1)).save(dir, GRAPH_FILES.textEncoder);
  const first = recipe.passes[0]!;
  const manifest: ModelManifest = {
    id: `golden-${s.name}`,
    family: 'ltxv',
    license: 'none: seeded test weights',
    testModel: true,
    description: 'whole-pipeline parity fixture',
    latent: { channels: CHANNELS, spatial: PATCH.spatial, temporal: PATCH.temporal },
    sizeRules: { multiple: 1, maxPixels: 64 * 64, maxFrames: 97 },
    scheduler: {
      steps: first.steps,
      guidance: Math.max(...first.guidance.cfg),
      // The authors' RectifiedFlowScheduler(shifting="SD3", target_shift_terminal=0.1) as their checkpoints configure it.
      shift: { kind: 'dynamic', baseShift: 0.95, maxShift: 2.05, baseTokens: 1024, maxTokens: 4096 },
      shiftTerminal: 0.1,
    },
    transformer: t,
    text: { tokenizer: 'bytes', maxTokens: TEXT_TOKENS, padId: BYTE_PAD_ID },
    conditioning: 'per-token',
    recipe,
    files: [],
  };
  return { dir, manifest, graphs: modelGraphs(dir, manifest) };
}

export function scenarioRequest(s: PipelineScenario, recipe = scenarioRecipe(s)): WindowRequest {
  const known = new Set(s.known);
  return {
    width: s.width,
    height: s.height,
    frames: Array.from({ length: s.frames }, (_, f) => (known.has(f) ? scenarioFrame(s, f) : null)),
    masks: Array.from({ length: s.frames }, () => null),
    prompt: PROMPT,
    negativePrompt: '',
    seed: s.seed,
    stream: 0,
    steps: recipe.passes[0]!.steps,
    guidance: Math.max(...recipe.passes[0]!.guidance.cfg),
    strength: 1,
    conditioning: 'per-token',
    fps: s.fps,
    appended: s.items
      .filter((it) => it.start > 0)
      .map((it) => ({ at: it.start, frames: Array.from({ length: it.count }, (_, k) => scenarioFrame(s, it.start + k)) })),
  };
}

/** What the engine did, seen through its runtime: each transformer call's input x (first batch row) and the latents it decoded. */
export interface Recorded {
  inputs: Float32Array[];
  final: Float32Array | null;
}

/**
 * The runtime with the scenario's prompt embeddings in place of its text encoder, recording the
 * sampler's x at every transformer call and the final latents (as tokens [S, C]).
 */
export function recordingRuntime(rt: ModelRuntime): { rt: ModelRuntime; rec: Recorded } {
  const rec: Recorded = { inputs: [], final: null };
  const wrapped: ModelRuntime = {
    ...rt,
    manifest: rt.manifest,
    get provider() {
      return rt.provider;
    },
    get fallbacks() {
      return rt.fallbacks;
    },
    encodeText: async (prompt) => scenarioText(prompt === PROMPT ? 0 : 1),
    velocity: async (tokens, batch, timestep, text, rope, perturb) => {
      rec.inputs.push(tokens.slice(0, tokens.length / batch));
      return rt.velocity(tokens, batch, timestep, text, rope, perturb);
    },
    decodeVideo: async (latent, frames, height, width, noise, toneMap) => {
      rec.final = latentToTokens(latent, CHANNELS, latent.length / CHANNELS);
      return rt.decodeVideo(latent, frames, height, width, noise, toneMap);
    },
  };
  return { rt: wrapped, rec };
}
