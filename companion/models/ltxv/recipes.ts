/**
 * The authors' sampling recipes for every LTX-Video 0.9.x checkpoint they publish, transcribed
 * from Lightricks/LTX-Video `configs/*.yaml` (values as written there, field by field) and the
 * defaults of `ltx_video/inference.py` that every config runs with (negative prompt,
 * `image_cond_noise_scale`, the CRF of conditioning images). The 0.9.7 configs were removed from
 * the repo when 0.9.8 came; they are read at the last commit that had them.
 *
 * `resolveLtxvRecipe` picks the recipe from what a checkpoint says about itself (version, size,
 * distilled or not, file or repo name); the fp8 files share their bf16 sibling's recipe.
 */
import { ReshootError } from '../../errors.ts';
import { stgDepth, type GuidanceSchedule, type Recipe, type RecipePass } from '../recipe.ts';

export const LTXV_REPO = 'Lightricks/LTX-Video';
/** The commit the configs were read at (2025-10-25). */
export const CONFIGS_COMMIT = '5260738e171955b66c0827f9af7e84d68fd1d919';
/** The last commit holding the 0.9.7 configs (2025-07-08). */
export const CONFIGS_097_COMMIT = '20799e51cd739986d98d9b1aab55cc2067c1eabb';

/** inference.py InferenceConfig.negative_prompt. */
export const LTXV_NEGATIVE_PROMPT = 'worst quality, inconsistent motion, blurry, jittery, distorted';
/** inference.py InferenceConfig.image_cond_noise_scale. */
export const LTXV_CONDITIONING_NOISE = 0.15;
/** crf_compressor.compress default, applied by inference.py to conditioning images. */
export const LTXV_CONDITIONING_IMAGE_CRF = 29;
/** inference.py load_image_to_tensor_with_resize_and_crop: TVF.gaussian_blur(kernel_size=3, sigma=1.0) before the CRF. */
export const LTXV_CONDITIONING_IMAGE_BLUR = 1;
export const LTXV_TEXT_ENCODER = 'PixArt-alpha/PixArt-XL-2-1024-MS';

const ALSO = ['ltx_video/inference.py', 'ltx_video/pipelines/pipeline_ltx_video.py'];

const constant = (cfg: number, stg: number, rescale: number, skipBlocks: number[]): GuidanceSchedule => ({
  cfg: [cfg],
  stg: [stg],
  rescale: [rescale],
  skipBlocks: [skipBlocks],
});

const pass = (p: Partial<RecipePass> & Pick<RecipePass, 'steps' | 'guidance'>): RecipePass => ({
  skipInitialSteps: 0,
  skipFinalSteps: 0,
  cfgStar: false,
  toneMapCompression: 0,
  ...p,
});

function recipe(
  name: string,
  files: string[],
  r: Pick<Recipe, 'framePositioning' | 'stochastic' | 'pipeline' | 'passes'> & Partial<Pick<Recipe, 'downscaleFactor' | 'upscaler'>>,
  commit = CONFIGS_COMMIT,
): Recipe {
  return {
    name,
    source: { repo: LTXV_REPO, file: `configs/${name}.yaml`, commit, also: ALSO },
    conditioning: 'per-token',
    conditioningNoise: LTXV_CONDITIONING_NOISE,
    conditioningImageCrf: LTXV_CONDITIONING_IMAGE_CRF,
    conditioningImageBlur: LTXV_CONDITIONING_IMAGE_BLUR,
    stgMode: 'attention_values',
    decode: { timestep: 0.05, noiseScale: 0.025 },
    negativePrompt: LTXV_NEGATIVE_PROMPT,
    textEncoder: LTXV_TEXT_ENCODER,
    files,
    ...r,
  };
}

/** guidance_scale 3, stg_scale 1, rescaling_scale 0.7, skip_block_list [19], 40 steps: every 2B dev config. */
const dev2b = (framePositioning: Recipe['framePositioning']): Pick<Recipe, 'framePositioning' | 'stochastic' | 'pipeline' | 'passes'> => ({
  framePositioning,
  stochastic: false,
  pipeline: 'base',
  passes: [pass({ steps: 40, guidance: constant(3, 1, 0.7, [19]) })],
});

/** The 0.9.7/0.9.8 13B dev schedule (first pass) and its short second pass. */
const dev13bPasses: RecipePass[] = [
  pass({
    steps: 30,
    skipFinalSteps: 3,
    cfgStar: true,
    guidance: {
      at: [1.0, 0.996, 0.9933, 0.985, 0.9767, 0.9008, 0.618],
      cfg: [1, 1, 6, 8, 6, 1, 1],
      stg: [0, 0, 4, 4, 4, 2, 1],
      rescale: [1, 1, 0.5, 0.5, 1, 1, 1],
      skipBlocks: [[], [11, 25, 35, 39], [22, 35, 39], [28], [28], [28], [28]],
    },
  }),
  pass({ steps: 30, skipInitialSteps: 17, cfgStar: true, guidance: { at: [1.0], cfg: [1], stg: [1], rescale: [1], skipBlocks: [[27]] } }),
];

/** The distilled multi-scale σ lists (0.9.7 13B, 0.9.8 2B and 13B). */
const distilledPasses = (toneMap: number): RecipePass[] => [
  pass({ steps: 7, sigmas: [1.0, 0.9937, 0.9875, 0.9812, 0.975, 0.9094, 0.725], guidance: constant(1, 0, 1, [42]) }),
  pass({ steps: 3, sigmas: [0.9094, 0.725, 0.4219], guidance: constant(1, 0, 1, [42]), toneMapCompression: toneMap }),
];

const multiScale = (upscaler: string) => ({ pipeline: 'multi-scale', downscaleFactor: 0.6666666, upscaler }) as const;

export const LTXV_RECIPES: readonly Recipe[] = [
  recipe('ltxv-2b-0.9', ['ltx-video-2b-v0.9.safetensors'], dev2b('plain')),
  recipe('ltxv-2b-0.9.1', ['ltx-video-2b-v0.9.1.safetensors'], dev2b('plain')),
  recipe('ltxv-2b-0.9.5', ['ltx-video-2b-v0.9.5.safetensors', 'ltxv-2b-0.9.5.safetensors'], dev2b('causal')),
  recipe('ltxv-2b-0.9.6-dev', ['ltxv-2b-0.9.6-dev-04-25.safetensors'], dev2b('causal')),
  recipe('ltxv-2b-0.9.6-distilled', ['ltxv-2b-0.9.6-distilled-04-25.safetensors'], {
    framePositioning: 'causal',
    stochastic: true,
    pipeline: 'base',
    passes: [pass({ steps: 8, guidance: constant(1, 0, 1, []) })],
  }),
  recipe(
    'ltxv-13b-0.9.7-dev',
    ['ltxv-13b-0.9.7-dev.safetensors', 'ltxv-13b-0.9.7-dev-fp8.safetensors'],
    { framePositioning: 'causal', stochastic: false, passes: dev13bPasses, ...multiScale('ltxv-spatial-upscaler-0.9.7.safetensors') },
    CONFIGS_097_COMMIT,
  ),
  recipe(
    'ltxv-13b-0.9.7-distilled',
    ['ltxv-13b-0.9.7-distilled.safetensors', 'ltxv-13b-0.9.7-distilled-fp8.safetensors'],
    { framePositioning: 'causal', stochastic: false, passes: distilledPasses(0), ...multiScale('ltxv-spatial-upscaler-0.9.7.safetensors') },
    CONFIGS_097_COMMIT,
  ),
  recipe('ltxv-13b-0.9.8-dev', ['ltxv-13b-0.9.8-dev.safetensors', 'ltxv-13b-0.9.8-dev-fp8.safetensors'], {
    framePositioning: 'causal',
    stochastic: false,
    passes: dev13bPasses,
    ...multiScale('ltxv-spatial-upscaler-0.9.8.safetensors'),
  }),
  recipe('ltxv-13b-0.9.8-distilled', ['ltxv-13b-0.9.8-distilled.safetensors', 'ltxv-13b-0.9.8-distilled-fp8.safetensors'], {
    framePositioning: 'causal',
    stochastic: false,
    passes: distilledPasses(0.6),
    ...multiScale('ltxv-spatial-upscaler-0.9.8.safetensors'),
  }),
  recipe('ltxv-2b-0.9.8-distilled', ['ltxv-2b-0.9.8-distilled.safetensors', 'ltxv-2b-0.9.8-distilled-fp8.safetensors'], {
    framePositioning: 'causal',
    stochastic: false,
    passes: distilledPasses(0),
    ...multiScale('ltxv-spatial-upscaler-0.9.8.safetensors'),
  }),
];

export const recipeByName = (name: string): Recipe | undefined => LTXV_RECIPES.find((r) => r.name === name);

/** What a checkpoint says about itself, as far as picking its recipe goes. */
export interface RecipeFacts {
  /** From the VAE config: '0.9.0', '0.9.1' or '0.9.5+'. */
  version: '0.9.0' | '0.9.1' | '0.9.5+';
  /** Transformer depth (28 blocks in 2B checkpoints, 48 in 13B ones). */
  numLayers: number;
  distilled: boolean;
  /** File name, repo id, folder name, `_name_or_path`s: searched for a release number (0.9.6, 0.9.8…). */
  names: readonly string[];
}

/** The size in a name ('ltxv-13b-…', 'ltx-video-2b-v0.9.1'), else from the depth (48 blocks = 13B), else 2B. */
function sizeOf(names: readonly string[], numLayers: number): '2b' | '13b' {
  for (const n of names) {
    const m = /(?:^|[^0-9a-z])(2|13)b(?![a-z0-9])/i.exec(n);
    if (m) return m[1] === '13' ? '13b' : '2b';
  }
  return numLayers === 48 ? '13b' : '2b';
}

/** The release number in a name: 'ltxv-13b-0.9.8-distilled' → '0.9.8', 'ltx-video-2b-v0.9.1' → '0.9.1'. */
function releaseIn(names: readonly string[]): string | undefined {
  for (const n of names) {
    const m = /(?:^|[^0-9.])0\.9(?:\.(\d+))?(?![0-9])/.exec(n);
    if (m) return m[1] ? `0.9.${m[1]}` : '0.9';
  }
  return undefined;
}

/**
 * The recipe for a checkpoint. The VAE fixes the era (0.9.0 / 0.9.1 / 0.9.5+); within 0.9.5+ the
 * release number in the checkpoint's name picks the config (no number: 0.9.5, the first of them).
 * A release the authors published no recipe for at this size (e.g. a 13B 0.9.5, or 0.9.9) is
 * refused by name rather than guessed, and so is a transformer too shallow for the blocks the
 * recipe perturbs.
 */
export function resolveLtxvRecipe(f: RecipeFacts): Recipe {
  const size = sizeOf(f.names, f.numLayers);
  const named = releaseIn(f.names);
  let release: string;
  if (f.version === '0.9.0') release = '0.9';
  else if (f.version === '0.9.1') release = '0.9.1';
  else if (!named || named === '0.9' || named === '0.9.0' || named === '0.9.1') release = '0.9.5';
  else release = named;
  const variant = release === '0.9' || release === '0.9.1' || release === '0.9.5' ? '' : f.distilled ? '-distilled' : '-dev';
  const name = `ltxv-${size}-${release}${variant}`;
  const found = recipeByName(name);
  if (!found) {
    const known = LTXV_RECIPES.map((r) => r.name).join(', ');
    throw new ReshootError('model', `no published recipe for ${name} (LTX-Video ${release}${f.distilled ? ' distilled' : ''} at ${size.toUpperCase()}); known: ${known}`);
  }
  for (const p of found.passes) {
    const deepest = stgDepth(p.guidance);
    if (deepest >= f.numLayers) {
      throw new ReshootError('model', `recipe ${name} perturbs transformer block ${deepest}, but this transformer has ${f.numLayers} blocks`);
    }
  }
  return found;
}
