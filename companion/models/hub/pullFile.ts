/**
 * `reshoot models pull <repo> --file <name>.safetensors`: one single-file checkpoint from a hub
 * repo (any repo, any file: Lightricks/LTX-Video's, a mirror's), plus what its recipe needs and
 * the file does not carry —
 *
 *   - the text encoder the recipe names (PixArt-alpha/PixArt-XL-2-1024-MS: only its
 *     text_encoder/ and tokenizer/), once per Hugging Face cache;
 *   - for a multi-scale recipe, the latent upscaler file it names (recipe.upscaler), from the
 *     same repo and revision.
 *
 * Everything goes through pull.ts (resume, sha256 check, HF cache layout, token, HF_ENDPOINT).
 * The conversion is the caller's (importCheckpoint with the paths returned here).
 */
import { join } from 'node:path';
import { ReshootError } from '../../errors.ts';
import { readSingleFile } from '../singleFile.ts';
import { cachedTextEncoder, TEXT_ENCODER_FOLDERS } from '../textEncoder.ts';
import { pullCheckpoint, type PullOptions } from './pull.ts';

export interface SingleFilePull {
  repo: string;
  commit: string;
  /** The checkpoint in the snapshot. */
  checkpoint: string;
  /** Folder with text_encoder/ and tokenizer/. */
  textEncoder: string;
  /** The latent upscaler file, for a multi-scale recipe whose repo has it. */
  upscaler?: string;
  /** Bytes downloaded this time, over all three. */
  downloadedBytes: number;
  offline: boolean;
  /** What the user should know (e.g. an upscaler the repo does not have). */
  notes: string[];
}

export interface SingleFilePullOptions extends Omit<PullOptions, 'files' | 'folders' | 'all'> {
  /** A folder with text_encoder/ and tokenizer/ to use instead of pulling the recipe's. */
  textEncoder?: string;
}

export async function pullSingleFile(repo: string, file: string, opts: SingleFilePullOptions = {}): Promise<SingleFilePull> {
  if (!/\.safetensors$/i.test(file)) throw new ReshootError('model', `--file ${file}: Reshoot pulls single-file checkpoints (.safetensors)`);
  const { textEncoder, ...pull } = opts;
  const main = await pullCheckpoint(repo, { ...pull, files: [file] });
  const checkpoint = join(main.snapshotDir, ...file.split('/'));
  // Header only: the recipe says which text encoder and upscaler the file is run with.
  const header = readSingleFile(checkpoint);
  header.file.close();
  const recipe = header.recipe;
  let downloadedBytes = main.downloadedBytes;
  let offline = main.offline;
  const notes: string[] = [];

  let upscaler: string | undefined;
  if (recipe.pipeline === 'multi-scale' && recipe.upscaler) {
    try {
      const up = await pullCheckpoint(repo, { ...pull, revision: main.commit, files: [recipe.upscaler] });
      upscaler = join(up.snapshotDir, ...recipe.upscaler.split('/'));
      downloadedBytes += up.downloadedBytes;
      offline ||= up.offline;
    } catch (e) {
      if (!(e instanceof ReshootError) || !/has no file/.test(e.message)) throw e;
      notes.push(`${repo} has no ${recipe.upscaler} (the upscaler recipe ${recipe.name} names)`);
    }
  }

  let te = textEncoder ?? cachedTextEncoder(recipe.textEncoder, pull.cacheDir);
  if (te === undefined) {
    const { revision: _ignored, ...rest } = pull;
    const r = await pullCheckpoint(recipe.textEncoder, { ...rest, folders: TEXT_ENCODER_FOLDERS });
    te = r.snapshotDir;
    downloadedBytes += r.downloadedBytes;
    offline ||= r.offline;
  }
  return { repo, commit: main.commit, checkpoint, textEncoder: te, ...(upscaler ? { upscaler } : {}), downloadedBytes, offline, notes };
}
