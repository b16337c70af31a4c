/**
 * A checkpoint's sampling recipe: how its authors run it. The engine's one operation (DESIGN.md
 * §3) stays the same for every model; the recipe fills in its knobs — frame positioning, guidance
 * (CFG, STG, rescale, CFG-star) and their schedules over σ, the σ list or step count, stochastic
 * sampling, conditioning noise, decode settings, tone mapping, the default negative prompt.
 *
 * Recipes are data (./ltxv/recipes.ts), each naming the file and commit of the authors' repo it
 * was transcribed from; `resolveLtxvRecipe` picks one from what the checkpoint says about itself.
 * A model without a recipe (test models) samples the plain loop: constant CFG from its scheduler
 * defaults, deterministic Euler steps, nothing else.
 */
import { z } from 'zod';

/** Spatio-temporal guidance: how the perturbed pass changes the self-attention of the chosen blocks. */
export type StgMode = 'attention_values' | 'attention_skip';

/**
 * Guidance values over the denoising steps, as the authors' pipeline reads its config: one value
 * per entry; a step at σ uses the first entry whose `at` ≤ σ (the last entry when none is). With
 * `at` absent there is one entry, used at every step.
 */
export interface GuidanceSchedule {
  at?: number[];
  /** Classifier-free guidance scale; CFG runs where it is > 1. */
  cfg: number[];
  /** STG scale; the perturbed pass runs where it is > 0. */
  stg: number[];
  /** Rescaling of the guided velocity towards the conditional one's std (1 = none); only with STG. */
  rescale: number[];
  /** Transformer blocks whose self-attention is perturbed in the STG pass. */
  skipBlocks: number[][];
}

/** One denoising pass. */
export interface RecipePass {
  /** Default step count (the length of `sigmas` when given). */
  steps: number;
  /** Fixed σ list (descending, without the terminal 0) the checkpoint was distilled on. */
  sigmas?: number[];
  /** Steps dropped from the start / end of the shifted schedule (the last step then goes to 0). */
  skipInitialSteps: number;
  skipFinalSteps: number;
  guidance: GuidanceSchedule;
  /** CFG-star: the unconditional velocity is first scaled by ⟨v_c, v_u⟩ / ‖v_u‖². */
  cfgStar: boolean;
  /** Sigmoid compression of the final latents before decoding (0 = none, 1 = full). */
  toneMapCompression: number;
}

export interface RecipeSource {
  repo: string;
  /** The config file the values come from, and the commit it was read at. */
  file: string;
  commit: string;
  /** Further files whose defaults the recipe takes (inference.py's negative prompt and conditioning noise). */
  also: string[];
}

export interface Recipe {
  /** The authors' name for the checkpoint, e.g. 'ltxv-13b-0.9.8-distilled'. */
  name: string;
  source: RecipeSource;
  /**
   * RoPE frame coordinates: 'causal' = the first latent frame at pixel frame 0, later ones at
   * 8·f − 7 (0.9.5+, `causal_temporal_positioning`); 'plain' = 8·f (0.9.0, 0.9.1).
   */
  framePositioning: 'causal' | 'plain';
  /**
   * How known tokens are held for every kind (extend, bridge, generate-from-frame, fill,
   * replace): the authors hold them at timestep 0 on every version. A job may still ask for
   * latent blending.
   */
  conditioning: 'per-token';
  /** Noise on the known tokens before each step, scaled by σ² (`image_cond_noise_scale`). */
  conditioningNoise: number;
  /** x264 CRF the authors pass every conditioning frame through (0 = none). */
  conditioningImageCrf: number;
  /**
   * σ of the 3×3 Gaussian blur the authors apply to every conditioning frame before compressing
   * it (inference.py load_image_to_tensor_with_resize_and_crop); absent = none (recipes recorded
   * before it was transcribed).
   */
  conditioningImageBlur?: number;
  stgMode: StgMode;
  /** Stochastic sampling: each step re-noises the x0 estimate with fresh noise instead of an Euler step. */
  stochastic: boolean;
  /** One pass ('base'), or two with the latent upscaler between them ('multi-scale'). */
  pipeline: 'base' | 'multi-scale';
  passes: RecipePass[];
  /** Multi-scale: the first pass runs at this fraction of the size; `upscaler` names the latent upsampler file. */
  downscaleFactor?: number;
  upscaler?: string;
  decode: { timestep: number; noiseScale: number };
  negativePrompt: string;
  /** Hugging Face repo whose text_encoder/ and tokenizer/ the checkpoint is run with. */
  textEncoder: string;
  /** Checkpoint files the recipe is for (the bf16 file and its -fp8 variant). */
  files: string[];
}

const nonNeg = z.number().nonnegative();
const guidanceSchedule = z
  .object({
    at: z.array(z.number().min(0).max(1)).min(1).optional(),
    cfg: z.array(nonNeg).min(1),
    stg: z.array(nonNeg).min(1),
    rescale: z.array(nonNeg).min(1),
    skipBlocks: z.array(z.array(z.number().int().nonnegative())).min(1),
  })
  .refine((g) => [g.cfg, g.stg, g.rescale, g.skipBlocks].every((a) => a.length === (g.at?.length ?? 1)), {
    message: 'cfg, stg, rescale and skipBlocks need one entry per guidance timestep (one without `at`)',
  });

const pass = z
  .object({
    steps: z.number().int().positive(),
    sigmas: z.array(z.number().gt(0).lte(1)).min(1).optional(),
    skipInitialSteps: z.number().int().nonnegative(),
    skipFinalSteps: z.number().int().nonnegative(),
    guidance: guidanceSchedule,
    cfgStar: z.boolean(),
    toneMapCompression: z.number().min(0).max(1),
  })
  .refine((p) => !p.sigmas || (p.sigmas.length === p.steps && p.sigmas.every((v, i, a) => i === 0 || v < a[i - 1]!)), {
    message: 'sigmas must decrease and hold one σ per step',
  })
  .refine((p) => p.skipInitialSteps + p.skipFinalSteps < p.steps, { message: 'skipped steps must leave at least one step' });

export const recipeSchema = z
  .object({
    name: z.string().min(1),
    source: z.object({ repo: z.string().min(1), file: z.string().min(1), commit: z.string().regex(/^[0-9a-f]{40}$/), also: z.array(z.string()) }),
    framePositioning: z.enum(['causal', 'plain']),
    conditioning: z.literal('per-token'),
    conditioningNoise: nonNeg,
    conditioningImageCrf: z.number().int().min(0).max(51),
    conditioningImageBlur: z.number().positive().optional(),
    stgMode: z.enum(['attention_values', 'attention_skip']),
    stochastic: z.boolean(),
    pipeline: z.enum(['base', 'multi-scale']),
    passes: z.array(pass).min(1).max(2),
    downscaleFactor: z.number().gt(0).lt(1).optional(),
    upscaler: z.string().min(1).optional(),
    decode: z.object({ timestep: nonNeg, noiseScale: z.number().min(0).max(1) }),
    negativePrompt: z.string(),
    textEncoder: z.string().min(1),
    files: z.array(z.string().min(1)),
  })
  .refine((r) => (r.pipeline === 'multi-scale') === (r.passes.length === 2 && r.downscaleFactor !== undefined && r.upscaler !== undefined), {
    message: 'a multi-scale recipe has two passes, a downscale factor and an upscaler; a base recipe one pass',
  });

// The schema and the interface must describe the same thing.
type Parsed = z.infer<typeof recipeSchema>;
const _a: (r: Parsed) => Recipe = (r) => r;
const _b: (r: Recipe) => Parsed = (r) => r;
void _a;
void _b;

/** What one step runs, from a pass's guidance schedule at σ. */
export interface StepGuidance {
  cfg: number;
  stg: number;
  rescale: number;
  skipBlocks: number[];
}

/** The schedule entry for σ: the first `at` ≤ σ, else the last (as the authors' pipeline maps it). */
export function guidanceAt(g: GuidanceSchedule, sigma: number): StepGuidance {
  let k = 0;
  if (g.at) {
    const first = g.at.findIndex((v) => v <= sigma);
    k = first >= 0 ? first : g.at.length - 1;
  }
  return { cfg: g.cfg[k]!, stg: g.stg[k]!, rescale: g.rescale[k]!, skipBlocks: g.skipBlocks[k]! };
}

/**
 * The deepest block a schedule perturbs where its STG scale is > 0 (−1: none). Entries with STG
 * off never run their block list (the 2B 0.9.8 distilled config names block 42 of 28, unused).
 */
export function stgDepth(g: GuidanceSchedule): number {
  return Math.max(-1, ...g.skipBlocks.flatMap((blocks, k) => (g.stg[k]! > 0 ? blocks : [])));
}

/** The pass a single-pass render runs: the recipe's first (a multi-scale recipe's low-resolution pass). */
export const firstPass = (r: Recipe): RecipePass => r.passes[0]!;

/** The largest CFG scale of a pass (what `models info` and the job default show). */
export const peakGuidance = (p: RecipePass): number => Math.max(...p.guidance.cfg);

/** One line per fact, for `reshoot models info` and logs. */
export function describeRecipe(r: Recipe): string[] {
  const g = (s: GuidanceSchedule): string => {
    const list = (a: readonly unknown[]) => (a.length === 1 ? String(a[0]) : `[${a.join(', ')}]`);
    const blocks = s.skipBlocks.length === 1 ? `[${s.skipBlocks[0]!.join(', ')}]` : `[${s.skipBlocks.map((b) => `[${b.join(', ')}]`).join(', ')}]`;
    return `cfg ${list(s.cfg)}, stg ${list(s.stg)} on blocks ${blocks}, rescale ${list(s.rescale)}${s.at ? ` at σ ${list(s.at)}` : ''}`;
  };
  const lines = [
    `recipe ${r.name} (${r.source.repo} ${r.source.file} @ ${r.source.commit.slice(0, 12)})`,
    `pipeline ${r.pipeline}${r.pipeline === 'multi-scale' ? ` (first pass at ×${r.downscaleFactor}, upscaler ${r.upscaler})` : ''}; frame positioning ${r.framePositioning}; STG ${r.stgMode}`,
  ];
  r.passes.forEach((p, i) => {
    const steps = p.sigmas ? `σ [${p.sigmas.join(', ')}]` : `${p.steps} steps${p.skipInitialSteps ? `, first ${p.skipInitialSteps} skipped` : ''}${p.skipFinalSteps ? `, last ${p.skipFinalSteps} skipped` : ''}`;
    lines.push(
      `pass ${i + 1}: ${steps}; ${g(p.guidance)}${p.cfgStar ? '; CFG-star' : ''}${p.toneMapCompression ? `; tone map ${p.toneMapCompression}` : ''}`,
    );
  });
  lines.push(
    `${r.stochastic ? 'stochastic' : 'deterministic'} sampling; conditioning ${r.conditioning}, noise ${r.conditioningNoise}·σ², image CRF ${r.conditioningImageCrf}${r.conditioningImageBlur ? ` after a 3×3 blur (σ ${r.conditioningImageBlur})` : ''}`,
    `decode at timestep ${r.decode.timestep} with noise ${r.decode.noiseScale}; text encoder ${r.textEncoder}`,
    `default negative prompt: "${r.negativePrompt}"`,
  );
  return lines;
}
