/**
 * The T5 text encoder of a single-file checkpoint, which the file does not carry. The authors run
 * every LTX-Video release with PixArt-alpha/PixArt-XL-2-1024-MS's `text_encoder/` (T5-v1.1-XXL
 * encoder, 4096 wide) and `tokenizer/` (the recipe names it: `Recipe.textEncoder`). Any folder in
 * diffusers layout with those two subfolders serves: the PixArt repo in the Hugging Face cache
 * (what `reshoot models pull … --file …` fetches, once per cache), a diffusers LTX-Video download,
 * or a copy anywhere; or the id of a model converted earlier, meaning the folder it took its T5
 * from (its T5 graph is then linked, not converted again: ./convert/reuse.ts). Without one, the
 * message says what to run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ReshootError } from '../errors.ts';
import { CheckpointPart, findWeights, readJson, tokenizerFilesIn } from './checkpoint.ts';
import { COMMIT_SHA, RepoCache } from './hub/cache.ts';
import { modelDir } from './registry.ts';
import type { Recipe } from './recipe.ts';
import { openSafetensors } from './safetensors.ts';
import { parseT5Config, type T5Config } from './t5/config.ts';

/** The subfolders of the text-encoder repo a single-file import needs (and `pull` fetches). */
export const TEXT_ENCODER_FOLDERS = ['text_encoder/', 'tokenizer/'] as const;

export interface TextEncoderFolder {
  folder: string;
  t5: T5Config;
  configJson: Record<string, unknown>;
  part: CheckpointPart;
  /** Relative to `folder`. */
  tokenizerFiles: string[];
}

/** A snapshot of `repo` in the Hugging Face cache holding text_encoder/ and tokenizer/, if any. */
export function cachedTextEncoder(repo: string, cacheDir?: string): string | undefined {
  const cache = new RepoCache(repo, cacheDir);
  let commit: string | undefined;
  try {
    commit = readFileSync(cache.ref('main'), 'utf8').trim();
  } catch {
    return undefined;
  }
  if (!COMMIT_SHA.test(commit)) return undefined;
  const snapshot = cache.snapshot(commit);
  return existsSync(join(snapshot, 'text_encoder', 'config.json')) && existsSync(join(snapshot, 'tokenizer', 'spiece.model')) ? snapshot : undefined;
}

/** What to run when no text encoder is at hand. */
export function missingTextEncoderMessage(checkpoint: string, repo: string): string {
  return (
    `${checkpoint} carries no text encoder; the authors run it with ${repo} (text_encoder/ and tokenizer/), which is not in the Hugging Face cache. ` +
    `Run "reshoot models pull ${repo} --text-encoder-only" (about 19 GB, once per cache), or pass --text-encoder <folder> with a folder holding text_encoder/ and tokenizer/ (e.g. a diffusers LTX-Video download)`
  );
}

/**
 * `--text-encoder <id>`: the folder the model `id` took its text encoder from (recorded in its
 * import.json), when `given` is not a folder but the id of a converted model.
 */
function textEncoderOfModel(given: string): string | undefined {
  if (existsSync(given) || given.includes('/') || given.includes('\\')) return undefined;
  try {
    const record = JSON.parse(readFileSync(join(modelDir(given), 'import.json'), 'utf8')) as { textEncoderFolder?: unknown };
    return typeof record.textEncoderFolder === 'string' ? record.textEncoderFolder : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Opens the text encoder for `checkpoint`: the given folder (or the one a converted model given by
 * id took its T5 from), else the recipe's repo in the Hugging Face cache. Checks its config and
 * weight file (headers only) and the tokenizer files.
 */
export function openTextEncoderFolder(folderIn: string | undefined, ctx: { checkpoint: string; recipe: Pick<Recipe, 'textEncoder'> }): TextEncoderFolder {
  const folder = folderIn !== undefined ? (textEncoderOfModel(folderIn) ?? resolve(folderIn)) : cachedTextEncoder(ctx.recipe.textEncoder);
  if (folder === undefined) throw new ReshootError('model', missingTextEncoderMessage(ctx.checkpoint, ctx.recipe.textEncoder));
  if (!existsSync(folder)) throw new ReshootError('model', `text encoder folder ${folder} does not exist`);
  const configJson = readJson(folder, 'text_encoder/config.json');
  const t5 = parseT5Config(configJson, `${folder}: text_encoder/config.json`);
  const tokenizerFiles = tokenizerFilesIn(folder);
  const weights = findWeights(folder, 'text_encoder');
  let reader;
  try {
    reader = openSafetensors(weights);
  } catch (e) {
    if (e instanceof ReshootError) throw new ReshootError('model', `text encoder ${folder}: ${e.message}`, { cause: e });
    throw e;
  }
  return { folder, t5, configJson, part: new CheckpointPart(folder, 'text_encoder', weights, reader), tokenizerFiles };
}
