/**
 * Importing an LTX-Video checkpoint as a Reshoot model: model.json plus the four ONNX graphs with
 * external weights (and, for a multi-scale recipe given its upscaler file, latent_upsampler.onnx:
 * ./upsampler.ts), in the model cache under the model's id. The checkpoint is a diffusers-format
 * folder (../checkpoint.ts) or one of the authors' single files with a text-encoder folder
 * (../singleFile.ts); both open as the same LtxvCheckpoint. Entry point of `reshoot models pull/import`.
 *
 * Order of work, so that a bad checkpoint never leaves anything behind:
 *   1. open and check the folder (files, configs, version; see ../checkpoint.ts) and every graph's
 *      parameter list against the safetensors headers (names, dtypes, shapes) — no weight is read;
 *   2. build each graph into a temporary folder in the cache, streaming weights one tensor at a
 *      time from the safetensors into `<graph>.onnx.data` (fp16 where chosen: ../precision.ts);
 *   3. copy the tokenizer, hash the files, write model.json, and rename the folder into place
 *      (as registry.ts does for builtins: a crash never leaves a half-written model).
 *
 * Import is once per model: `import.json` in the folder records a fingerprint of the checkpoint
 * (see checkpointFingerprint), the converter version and the precision; importing the same
 * checkpoint again returns the existing manifest without work. A changed checkpoint (or converter,
 * or precision) under the same id is converted again and replaces the earlier import.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ReshootError } from '../../errors.ts';
import { findWeights, openLtxvCheckpoint, type LtxvCheckpoint } from '../checkpoint.ts';
import type { SavedGraph, WeightSource } from '../onnx/graph.ts';
import { precisionPolicy, type PrecisionChoice } from '../precision.ts';
import { loadModel, modelCacheDir, modelDir, modelManifestSchema } from '../registry.ts';
import { SafetensorsFile } from '../safetensors.ts';
import { isSingleFile, openSingleFileCheckpoint, VAE_PREFIX } from '../singleFile.ts';
import { describeFiles } from '../tiny.ts';
import type { GraphPrecision, ModelFile, ModelManifest } from '../types.ts';
import { CONVERTER_VERSION, convertedManifest } from './manifest.ts';
import { graphJob, graphJobs, paramsOf, type GraphJob, type GraphKey } from './parts.ts';
import { reuseTextEncoder, textEncoderKey } from './reuse.ts';
import { checkUpscaler, convertUpscaler, openUpscalerFile, type UpscalerFile } from './upsampler.ts';

export interface ImportProgress {
  /** 'check', then each graph ('text_encoder', 'transformer', 'vae_encoder', 'vae_decoder'), 'files', 'done'. */
  stage: string;
  done: number;
  total: number;
}

export interface ImportOptions {
  /** Model id in the cache; default: the repo or folder name, lower-cased. */
  id?: string;
  onProgress?: (p: ImportProgress) => void;
  /** 'auto' (default; fp32 for now), 'fp32', or 'fp16' storage where safe (see ../precision.ts). */
  precision?: PrecisionChoice;
  /** Single files: the folder with text_encoder/ and tokenizer/ (default: the recipe's repo in the HF cache). */
  textEncoder?: string;
  /** The latent upscaler file of a multi-scale recipe (e.g. ltxv-spatial-upscaler-0.9.8.safetensors). */
  upscaler?: string;
}

const IMPORT_RECORD = 'import.json';

const importRecord = z.object({ fingerprint: z.string(), converter: z.number(), precision: z.string() });

/** A model id from the checkpoint's name: 'Lightricks/LTX-Video-0.9.5' → 'ltx-video-0.9.5'. */
export function defaultModelId(ckpt: Pick<LtxvCheckpoint, 'name'>): string {
  return ckpt.name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'ltxv';
}

/**
 * What identifies a checkpoint without reading its weights: the folder, configs, tokenizer, and
 * per weight file its header, size, modification time and real path (in a hub cache the real path
 * is the blob named by its LFS sha256, i.e. the content). A re-downloaded or edited file changes
 * it; converting again when unsure is the safe side.
 */
export function checkpointFingerprint(ckpt: LtxvCheckpoint, precision: PrecisionChoice): string {
  const h = createHash('sha256');
  h.update(`reshoot-import ${CONVERTER_VERSION} ${precision} ${ckpt.folder}\n`);
  h.update(JSON.stringify(ckpt.configs));
  for (const part of Object.values(ckpt.parts)) {
    for (const f of part.files()) {
      const st = statSync(f.path);
      h.update(`\n${part.name} ${f.path} ${realpathSync(f.path)} ${f.size} ${st.mtimeMs}\n${f.headerText}`);
    }
  }
  for (const rel of ckpt.tokenizerFiles) h.update(readFileSync(join(ckpt.tokenizerRoot, rel)));
  return h.digest('hex');
}

/** Checks every graph's parameters against the checkpoint (throws the first problem); reads no weight. */
export function checkCheckpoint(ckpt: LtxvCheckpoint, jobs: readonly GraphJob[] = graphJobs(ckpt)): void {
  for (const job of jobs) ckpt.parts[job.part].check(paramsOf(job));
}

/**
 * Builds one graph from the checkpoint into `dir`, streaming its weights. Used by the import for
 * each graph, and on its own to convert (or test) a single part.
 */
export function convertGraph(
  ckpt: LtxvCheckpoint,
  graph: GraphKey,
  dir: string,
  opts: { precision?: PrecisionChoice; onProgress?: (p: ImportProgress) => void } = {},
): { saved: SavedGraph; precision: GraphPrecision } {
  const job = graphJob(ckpt, graph);
  const part = ckpt.parts[job.part];
  part.check(paramsOf(job));
  const policy = precisionPolicy({ choice: opts.precision ?? 'auto', keep: job.keep, quantize: job.quantize });
  const g = job.build(part.weights());
  opts.onProgress?.({ stage: graph, done: 0, total: g.paramList().length });
  const saved = g.save(dir, job.file, {
    storage: (p, values) => policy.decide(p, values),
    onParam: (_, i, total) => opts.onProgress?.({ stage: graph, done: i + 1, total }),
  });
  return { saved, precision: policy.report() };
}

function validId(id: string): string {
  if (!id.trim()) throw new ReshootError('model', 'model id must not be empty');
  if (id.startsWith('builtin:')) throw new ReshootError('model', `model id "${id}" is reserved for built-in models; pass another id`);
  return id;
}

/** The manifest of a finished earlier import of the same checkpoint, or undefined. */
async function previousImport(id: string, dir: string, fingerprint: string): Promise<ModelManifest | undefined> {
  if (!existsSync(dir)) return undefined;
  let record: z.infer<typeof importRecord> | undefined;
  try {
    record = importRecord.parse(JSON.parse(readFileSync(join(dir, IMPORT_RECORD), 'utf8')));
  } catch {
    throw new ReshootError('model', `model "${id}" already exists in ${dir} and was not imported from a checkpoint; pass another id`);
  }
  if (record.fingerprint !== fingerprint) return undefined; // another checkpoint, converter or precision: redo
  try {
    return (await loadModel(id)).manifest;
  } catch {
    return undefined; // damaged: convert again
  }
}

const isRaceLoss = (e: unknown): boolean => {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EPERM' || code === 'EACCES';
};

/** A diffusers folder, or a single-file checkpoint (the authors' / ComfyUI's .safetensors). */
export function openCheckpoint(path: string, opts: Pick<ImportOptions, 'textEncoder'> = {}): LtxvCheckpoint {
  return isSingleFile(path) ? openSingleFileCheckpoint(path, opts) : openLtxvCheckpoint(path);
}

/** Converts the checkpoint in `folder` (or a single file) into the model cache (once: a repeat import is a no-op). */
export async function importCheckpoint(folder: string, opts: ImportOptions = {}): Promise<ModelManifest> {
  const choice = opts.precision ?? 'auto';
  const progress = (stage: string, done: number, total: number): void => opts.onProgress?.({ stage, done, total });
  progress('check', 0, 1);
  const ckpt = openCheckpoint(folder, opts);
  let up: UpscalerFile | undefined;
  try {
    up = opts.upscaler ? openUpscalerFile(opts.upscaler) : undefined;
    const id = validId(opts.id ?? defaultModelId(ckpt));
    const dir = modelDir(id);
    const fingerprint = up ? withUpscaler(checkpointFingerprint(ckpt, choice), up) : checkpointFingerprint(ckpt, choice);
    const previous = await previousImport(id, dir, fingerprint);
    if (previous) {
      progress('done', 1, 1);
      return previous;
    }
    const jobs = graphJobs(ckpt);
    checkCheckpoint(ckpt, jobs);
    if (up) checkUpscaler(up, ckpt.vae.latentChannels);
    progress('check', 1, 1);

    await mkdir(modelCacheDir(), { recursive: true });
    const tmp = await mkdtemp(join(modelCacheDir(), '.importing-'));
    try {
      const precision: Record<string, GraphPrecision> = {};
      const files: ModelFile[] = [];
      const teKey = textEncoderKey(ckpt, choice);
      for (const job of jobs) {
        // The same T5 converted for another model: linked, not converted again (./reuse.ts).
        const reused = job.graph === 'text_encoder' ? reuseTextEncoder(teKey, tmp) : undefined;
        if (reused) {
          precision[job.graph] = reused.precision;
          files.push(...reused.files);
          progress(job.graph, 1, 1);
          continue;
        }
        const { saved, precision: report } = convertGraph(ckpt, job.graph, tmp, { precision: choice, onProgress: opts.onProgress });
        precision[job.graph] = report;
        files.push(
          { path: job.file, sha256: saved.onnxSha256, bytes: saved.onnxBytes },
          { path: `${job.file}.data`, sha256: saved.dataSha256, bytes: saved.dataBytes },
        );
      }
      let upsampler: ModelManifest['upsampler'];
      if (up) {
        progress('latent_upsampler', 0, 1);
        const converted = convertUpscaler(up, ckpt.parts.vae.weights(), tmp);
        files.push(...converted.files);
        upsampler = converted.spec;
        progress('latent_upsampler', 1, 1);
      }
      progress('files', 0, 1);
      mkdirSync(join(tmp, 'tokenizer'));
      for (const rel of ckpt.tokenizerFiles) copyFileSync(join(ckpt.tokenizerRoot, rel), join(tmp, rel));
      files.push(...describeFiles(tmp, ckpt.tokenizerFiles));
      progress('files', 1, 1);
      const manifest: ModelManifest = { ...convertedManifest(ckpt, id, files, precision), ...(upsampler ? { upsampler } : {}) };
      const checked = modelManifestSchema.safeParse(manifest);
      if (!checked.success) throw new Error(`internal: the converted manifest is invalid: ${checked.error.message}`);
      writeFileSync(join(tmp, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
      writeFileSync(join(tmp, IMPORT_RECORD), `${JSON.stringify({ fingerprint, converter: CONVERTER_VERSION, precision: choice, textEncoder: teKey, textEncoderFolder: ckpt.tokenizerRoot }, null, 2)}\n`);

      if (existsSync(dir)) {
        // An import of another checkpoint (or converter) under this id: replace it.
        const stale = join(modelCacheDir(), `.stale-${process.pid}-${Date.now()}`);
        await rename(dir, stale).catch(() => undefined);
        await rm(stale, { recursive: true, force: true });
      }
      try {
        await rename(tmp, dir);
      } catch (e) {
        // Another process imported the same model first; its folder is as good as ours.
        if (!isRaceLoss(e) || !existsSync(join(dir, 'model.json'))) throw e;
      }
      progress('done', 1, 1);
      return manifest;
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  } finally {
    up?.close();
    ckpt.close();
  }
}

/** The import's fingerprint with the upscaler file's identity (path, size, mtime, header) added. */
function withUpscaler(fingerprint: string, up: UpscalerFile): string {
  const st = statSync(up.path);
  return createHash('sha256').update(`${fingerprint}\nupscaler ${up.path} ${realpathSync(up.path)} ${st.size} ${st.mtimeMs}\n${up.file.headerText}`).digest('hex');
}

/**
 * The VAE's latents_mean / latents_std of the checkpoint a model was converted from (a single
 * file's per_channel_statistics, or a folder's vae weights), for an upscaler added later.
 */
function vaeStatistics(checkpoint: string): { source: WeightSource; close(): void } {
  if (!existsSync(checkpoint)) {
    throw new ReshootError('model', `the checkpoint the model was converted from (${checkpoint}) is gone; import it again with --upscaler`);
  }
  const single = isSingleFile(checkpoint);
  const file = SafetensorsFile.open(single ? checkpoint : findWeights(checkpoint, 'vae'));
  const stored: Record<string, string> = single
    ? { latents_mean: `${VAE_PREFIX}per_channel_statistics.mean-of-means`, latents_std: `${VAE_PREFIX}per_channel_statistics.std-of-means` }
    : { latents_mean: 'latents_mean', latents_std: 'latents_std' };
  return {
    source: (name, dims) => {
      const info = file.info(stored[name] ?? name);
      if (!info || info.shape.join() !== dims.join()) throw new ReshootError('model', `${checkpoint}: the VAE statistic ${stored[name] ?? name} is missing or not of shape [${dims.join(', ')}]`);
      return file.read(info.name);
    },
    close: () => file.close(),
  };
}

/**
 * `models import <upscaler file> --into <id>`: adds the latent upscaler to a model converted
 * earlier, without converting the rest again. The graph is written beside the others, then
 * model.json is replaced in one rename, so a crash leaves the model as it was.
 */
export async function addUpscaler(id: string, path: string): Promise<ModelManifest> {
  const { manifest, dir } = await loadModel(id);
  if (!manifest.source) throw new ReshootError('model', `model "${id}" was not converted from an LTX-Video checkpoint; it takes no upscaler`);
  const up = openUpscalerFile(path);
  try {
    checkUpscaler(up, manifest.latent.channels);
    const stats = vaeStatistics(manifest.source.checkpoint);
    const tmp = await mkdtemp(join(dir, '.upscaler-'));
    try {
      const converted = convertUpscaler(up, stats.source, tmp);
      const next: ModelManifest = {
        ...manifest,
        files: [...manifest.files.filter((f) => !converted.files.some((c) => c.path === f.path)), ...converted.files],
        upsampler: converted.spec,
      };
      const checked = modelManifestSchema.safeParse(next);
      if (!checked.success) throw new Error(`internal: the manifest with the upscaler is invalid: ${checked.error.message}`);
      for (const f of converted.files) await rename(join(tmp, f.path), join(dir, f.path));
      writeFileSync(join(tmp, 'model.json'), `${JSON.stringify(next, null, 2)}\n`);
      await rename(join(tmp, 'model.json'), join(dir, 'model.json'));
      return next;
    } finally {
      stats.close();
      await rm(tmp, { recursive: true, force: true });
    }
  } finally {
    up.close();
  }
}
