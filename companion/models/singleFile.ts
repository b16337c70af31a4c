/**
 * Single-file LTX-Video checkpoints — what the authors' README, their configs and ComfyUI use:
 * one .safetensors holding the transformer under `model.diffusion_model.*` and the VAE under
 * `vae.*`, with the authors' configs as JSON in the header metadata (`config`: transformer, vae,
 * scheduler). Reshoot cannot convert them yet (only diffusers-format folders); this module
 * recognises one from its header alone (no weight is read) and says what it is, which recipe the
 * authors run it with, and what to import instead, in one message.
 */
import { basename } from 'node:path';
import { ReshootError } from '../errors.ts';
import { resolveLtxvRecipe, type RecipeFacts } from './ltxv/recipes.ts';
import { openSafetensors } from './safetensors.ts';

const TRANSFORMER_PREFIX = 'model.diffusion_model.';
const VAE_PREFIX = 'vae.';

export interface SingleFileFacts {
  file: string;
  transformerTensors: number;
  vaeTensors: number;
  /** The recipe's name, or why none could be resolved. */
  recipe: { name: string } | { problem: string };
}

/** The LTX-Video era from the metadata's VAE config: timestep conditioning came with 0.9.1, new blocks with 0.9.5. */
function versionOf(vae: Record<string, unknown> | undefined, name: string): RecipeFacts['version'] {
  const blocks = JSON.stringify(vae?.encoder_blocks ?? vae?.blocks ?? []);
  if (/compress_(space|time|all)_res/.test(blocks)) return '0.9.5+';
  if (vae?.timestep_conditioning === true) return '0.9.1';
  // No VAE config to go by: the release number in the name ('…-v0.9.safetensors' is 0.9.0).
  const minor = /0\.9(?:\.(\d+))?/.exec(name)?.[1];
  if (minor === undefined || minor === '0') return '0.9.0';
  return minor === '1' ? '0.9.1' : '0.9.5+';
}

/** Reads a single-file checkpoint's header; throws a one-sentence error for a file that is not one. */
export function inspectSingleFile(path: string): SingleFileFacts {
  const file = basename(path);
  let reader;
  try {
    reader = openSafetensors(path);
  } catch (e) {
    if (e instanceof ReshootError) throw new ReshootError('model', `${path}: ${e.message}`, { cause: e });
    throw e;
  }
  try {
    const names = reader.names();
    const transformerNames = names.filter((n) => n.startsWith(TRANSFORMER_PREFIX));
    const vaeTensors = names.filter((n) => n.startsWith(VAE_PREFIX)).length;
    if (transformerNames.length === 0) {
      throw new ReshootError('model', `${path} is not an LTX-Video checkpoint: it has no ${TRANSFORMER_PREFIX}* tensors`);
    }
    let config: { transformer?: Record<string, unknown>; vae?: Record<string, unknown> } = {};
    const raw = reader.metadata().config;
    if (raw !== undefined) {
      try {
        config = JSON.parse(raw) as typeof config;
      } catch {
        throw new ReshootError('model', `${path}: the "config" entry of its metadata is not valid JSON`);
      }
    }
    const numLayers =
      typeof config.transformer?.num_layers === 'number'
        ? config.transformer.num_layers
        : new Set(transformerNames.map((n) => /transformer_blocks\.(\d+)\./.exec(n)?.[1]).filter(Boolean)).size;
    let recipe: SingleFileFacts['recipe'];
    try {
      recipe = { name: resolveLtxvRecipe({ version: versionOf(config.vae, file), numLayers, distilled: /distill/i.test(file), names: [file] }).name };
    } catch (e) {
      if (!(e instanceof ReshootError)) throw e;
      recipe = { problem: e.message };
    }
    return { file, transformerTensors: transformerNames.length, vaeTensors, recipe };
  } finally {
    reader.close();
  }
}

/** The error for `models import <file>`: what the file is and what to import instead. */
export function singleFileRefusal(path: string): ReshootError {
  const f = inspectSingleFile(path);
  const recipe = 'name' in f.recipe ? `the authors run it with recipe ${f.recipe.name}` : f.recipe.problem;
  return new ReshootError(
    'model',
    `${path} is a single-file LTX-Video checkpoint (${f.transformerTensors} transformer and ${f.vaeTensors} VAE tensors; ${recipe}); ` +
      'Reshoot does not convert single files yet: import or pull the same release in diffusers format (a folder with model_index.json, transformer/, vae/, text_encoder/, tokenizer/, scheduler/)',
  );
}
