/**
 * Where models live and how the engine gets one. A model is a folder in the cache
 * (RESHOOT_MODELS, else ~/.cache/reshoot/models) named after its id; `loadModel` validates its
 * model.json and checks every listed file is present at its recorded size (hashing multi-GB
 * weights on every load would be too slow; sha256 is recorded for `doctor`-style checks).
 *
 * Builtins (`builtin:tiny`, `builtin:shapes`) are built into the cache on first use. The build goes to a temporary
 * folder beside the final one and is renamed into place, so a crash never leaves a half-written
 * model and two processes racing to build both end up with one complete folder.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ReshootError } from '../errors.ts';
import { modelManifestSchema } from './manifest.ts';
import { buildShapesModel, SHAPES_DESCRIPTION, SHAPES_ID, shapesBuildVersion } from './shapes.ts';
import { buildTinyModel, GRAPH_FILES, TINY_BUILD_VERSION, TINY_ID, tinyManifest, UPSAMPLER_FILE } from './tiny.ts';
import type { ModelHandle, ModelManifest } from './types.ts';

export { modelManifestSchema } from './manifest.ts';
export { buildLtxvTransformer } from './ltxv/transformer.ts';

interface Builtin {
  version: number;
  description: string;
  testModel: boolean;
  build(dir: string): ModelManifest;
}

const BUILTINS: Record<string, Builtin> = {
  [TINY_ID]: { version: TINY_BUILD_VERSION, description: tinyManifest.description, testModel: true, build: (dir) => buildTinyModel(dir) },
  [SHAPES_ID]: {
    // A getter: the version is the shipped weights' hash, read when first asked for.
    get version() {
      return shapesBuildVersion();
    },
    description: SHAPES_DESCRIPTION,
    testModel: false,
    build: (dir) => buildShapesModel(dir),
  },
};

export function modelCacheDir(): string {
  return process.env.RESHOOT_MODELS || join(homedir(), '.cache', 'reshoot', 'models');
}

/** The folder for a model id: characters that are not portable in file names become '_'. */
export function modelDir(id: string): string {
  return join(modelCacheDir(), id.replace(/[^A-Za-z0-9._-]/g, '_'));
}

async function readManifest(id: string, dir: string): Promise<ModelManifest> {
  const path = join(dir, 'model.json');
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ReshootError('model', `model "${id}" has no readable model.json in ${dir}`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (cause) {
    throw new ReshootError('model', `model "${id}": ${path} is not valid JSON`, { cause });
  }
  const parsed = modelManifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new ReshootError('model', `model "${id}": ${path} is invalid: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  }
  if (parsed.data.id !== id) {
    throw new ReshootError('model', `model "${id}": ${path} describes "${parsed.data.id}" instead`);
  }
  return parsed.data;
}

/** Throws naming the first file that is missing or has the wrong size. */
function verifyFiles(id: string, dir: string, manifest: ModelManifest, hint: string): void {
  for (const f of manifest.files) {
    const path = join(dir, f.path);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      throw new ReshootError('model', `model "${id}" is damaged: ${path} is missing${hint}`);
    }
    if (size !== f.bytes) {
      throw new ReshootError('model', `model "${id}" is damaged: ${path} is ${size} bytes, model.json says ${f.bytes}${hint}`);
    }
  }
  for (const graph of Object.values(GRAPH_FILES)) {
    if (!manifest.files.some((f) => f.path === graph)) {
      throw new ReshootError('model', `model "${id}": model.json does not list ${graph}`);
    }
  }
  if (manifest.upsampler && !manifest.files.some((f) => f.path === UPSAMPLER_FILE)) {
    throw new ReshootError('model', `model "${id}": model.json has an upsampler but does not list ${UPSAMPLER_FILE}`);
  }
}

const isRaceLoss = (e: unknown): boolean => {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EPERM' || code === 'EACCES';
};

/**
 * Builds a model into the cache under `id` unless a build of `version` is already there (the
 * builtins; also the twins of builtin:shapes that test/quality and bench/quality compare with).
 */
export async function ensureBuilt(id: string, builtin: Pick<Builtin, 'version' | 'build'>): Promise<void> {
  const dir = modelDir(id);
  if (existsSync(join(dir, 'model.json'))) {
    const current = await readManifest(id, dir).then(
      (m) => m.build?.version === builtin.version,
      () => true, // damaged: leave it for loadModel to report, never delete a user's folder silently
    );
    if (current) return;
    // An older builder wrote it: move it aside (another process may be doing the same).
    const stale = join(modelCacheDir(), `.stale-${process.pid}-${Date.now()}`);
    await rename(dir, stale).catch(() => undefined);
    await rm(stale, { recursive: true, force: true });
  }
  await mkdir(modelCacheDir(), { recursive: true });
  const tmp = await mkdtemp(join(modelCacheDir(), '.building-'));
  try {
    builtin.build(tmp);
    try {
      await rename(tmp, dir);
    } catch (e) {
      // Another process finished first; its folder is as good as ours.
      if (!isRaceLoss(e) || !existsSync(join(dir, 'model.json'))) throw e;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Finds, (for builtins) builds, validates and returns a model. */
export async function loadModel(id: string): Promise<ModelHandle> {
  const builtin = BUILTINS[id];
  const dir = modelDir(id);
  if (builtin) {
    try {
      await ensureBuilt(id, builtin);
    } catch (cause) {
      throw new ReshootError('model', `could not build ${id} in ${modelCacheDir()}: ${(cause as Error).message}`, { cause });
    }
  } else if (!existsSync(dir)) {
    const known = (await listModels()).map((m) => m.id).join(', ');
    throw new ReshootError('model', `unknown model "${id}": no folder ${dir} (available: ${known || 'none'})`);
  }
  const manifest = await readManifest(id, dir);
  verifyFiles(id, dir, manifest, builtin ? `; delete ${dir} and it will be rebuilt` : '');
  return { dir, manifest, graphs: modelGraphs(dir, manifest) };
}

/** The graph files of a model folder (the upsampler only where the manifest has one). */
export function modelGraphs(dir: string, manifest: Pick<ModelManifest, 'upsampler'>): ModelHandle['graphs'] {
  return {
    textEncoder: join(dir, GRAPH_FILES.textEncoder),
    transformer: join(dir, GRAPH_FILES.transformer),
    vaeEncoder: join(dir, GRAPH_FILES.vaeEncoder),
    vaeDecoder: join(dir, GRAPH_FILES.vaeDecoder),
    ...(manifest.upsampler ? { upsampler: join(dir, UPSAMPLER_FILE) } : {}),
  };
}

export interface ModelListing {
  id: string;
  dir: string;
  /** ready: loads; not_built: a builtin built on first use; damaged: see `problem`. */
  status: 'ready' | 'not_built' | 'damaged';
  /** Bytes on disk (sum of listed files); null when not built. */
  bytes: number | null;
  testModel: boolean;
  description: string;
  problem?: string;
}

/** Models in the cache, plus builtins not built yet. */
export async function listModels(): Promise<ModelListing[]> {
  const out: ModelListing[] = [];
  const root = modelCacheDir();
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const dir = join(root, entry.name);
    if (!existsSync(join(dir, 'model.json'))) continue;
    let id = entry.name;
    try {
      const raw = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { id?: unknown };
      if (typeof raw.id === 'string') id = raw.id;
      const manifest = await readManifest(id, dir);
      verifyFiles(id, dir, manifest, '');
      const bytes = manifest.files.reduce((sum, f) => sum + f.bytes, 0);
      out.push({ id, dir, status: 'ready', bytes, testModel: manifest.testModel, description: manifest.description });
    } catch (e) {
      out.push({ id, dir, status: 'damaged', bytes: null, testModel: false, description: '', problem: (e as Error).message });
    }
  }
  for (const [id, b] of Object.entries(BUILTINS)) {
    if (out.some((m) => m.id === id)) continue;
    out.push({ id, dir: modelDir(id), status: 'not_built', bytes: null, testModel: b.testModel, description: b.description });
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}
