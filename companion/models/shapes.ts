/**
 * `builtin:shapes`: a toy model trained by the project, for real pictures of one family on a CPU. The LTX-Video transformer at
 * a small width (its shape in models/shapes/config.json), trained by tools/train-shapes/train.py on the
 * synthetic family in companion/media/shapes.ts (coloured shapes bouncing over panning
 * gradients, 64×64 px, 24 fps), with a linear "VAE" (patchify + PCA to 64 channels) whose patch
 * (pixels and frames per latent cell) pca.py writes into vae.safetensors' metadata.
 * It extends, fills, bridges and generates clips of that family (how close to the truth:
 * bench/RESULTS.md, test/quality/); it is not a general video model, and it ignores the prompt
 * (it was trained without text).
 *
 * The weights ship in the repository (models/shapes/: diffusers' transformer config and a
 * safetensors file under the diffusers tensor names) and come in through the import path of real
 * checkpoints: the config parser, a checked CheckpointPart and the same graph builder. The
 * build is versioned by the weights' hash, so new weights rebuild the cached model by themselves.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { z } from 'zod';
import { ReshootError } from '../errors.ts';
import { byteTextEncoderGraph } from './byteTextEncoder.ts';
import { CheckpointPart, parseLtxvTransformerConfig } from './checkpoint.ts';
import { ltxvTransformerGraph } from './ltxv/transformer.ts';
import { contextGuidanceSchema } from './manifest.ts';
import { DataType } from './onnx/proto.ts';
import { GraphBuilder, type WeightSource } from './onnx/graph.ts';
import { patchChannels, patchify, unpatchify, type PatchSpec } from './patchVae.ts';
import { openSafetensors } from './safetensors.ts';
import { describeFiles, GRAPH_FILES } from './tiny.ts';
import { BYTE_PAD_ID } from './tokenizer.ts';
import type { ModelManifest } from './types.ts';
import { seededWeights } from './weights.ts';

export const SHAPES_ID = 'builtin:shapes';

/** Where the shipped weights live (repository root/models/shapes). */
export const SHAPES_WEIGHTS_DIR = fileURLToPath(new URL('../../models/shapes/', import.meta.url));
const WEIGHTS_FILE = 'transformer.safetensors';
const VAE_FILE = 'vae.safetensors';
const CONFIG_FILE = 'config.json';
/** How the project samples the model (its own recipe): read by the engine here and by tools/train-shapes/evaluate.py. */
const SAMPLING_FILE = 'sampling.json';

/** Latent channels: the linear VAE keeps the top 64 of the 3·t·8·8 patch directions. */
const LATENT_CHANNELS = 64;

const positiveInt = z.string().regex(/^[1-9][0-9]*$/, 'a positive integer').transform(Number);
const patchMetadata = z.object({ spatial: positiveInt, temporal: positiveInt });
const samplingSchema = z.object({ contextGuidance: contextGuidanceSchema }).strict();

/**
 * The sampling settings that ship with the weights (models/shapes/sampling.json): context guidance,
 * chosen by measuring the weights on held-out clips (models/shapes/README.md, bench/RESULTS.md).
 */
export function shapesSampling(weightsDir: string = SHAPES_WEIGHTS_DIR): z.infer<typeof samplingSchema> {
  const path = join(weightsDir, SAMPLING_FILE);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ReshootError('model', `${path}: ${(e as Error).message}`);
  }
  const parsed = samplingSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ReshootError('model', `${path}: ${issue.path.join('.') || 'the file'}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * The VAE's patch as pca.py wrote it into the metadata of `vae.safetensors`: the file says what
 * it is, and the latent layout, RoPE coordinates and windows follow from it.
 */
export function shapesPatch(weightsDir: string = SHAPES_WEIGHTS_DIR): PatchSpec {
  const path = join(weightsDir, VAE_FILE);
  const file = openSafetensors(path);
  try {
    const m = patchMetadata.safeParse(file.metadata());
    if (!m.success) {
      const issue = m.error.issues[0]!;
      const what = issue.code === 'invalid_type' ? 'is missing' : `must be ${issue.message}`;
      throw new ReshootError('model', `${path}: metadata "${issue.path.join('.')}" (the VAE's patch) ${what}; tools/train-shapes/pca.py writes it`);
    }
    return m.data;
  } finally {
    file.close();
  }
}

/**
 * The shapes VAE: the test models' exact patchify (8×8 px × t frames → 3·t·64 values per cell), then
 * a linear map to 64 channels fitted by PCA on the family (tools/train-shapes/pca.py), scaled to
 * unit variance; the decoder maps back and un-patchifies. Lossy (33–39 dB on the family, more
 * with fewer frames per cell) but cheap, and it keeps the latent narrower than the transformer
 * (256 wide; 128 until session 9), which must carry the noise.
 */
function linearVaeGraph(kind: 'encoder' | 'decoder', patch: PatchSpec, weights: WeightSource): GraphBuilder {
  const P = patchChannels(patch);
  const g = new GraphBuilder(`shapes_vae_${kind}`, weights);
  // [B, C, f, h, w] ↔ [B, f, h, w, C] around the per-cell linear map.
  const toLast = [0, 2, 3, 4, 1];
  const toSecond = [0, 4, 1, 2, 3];
  if (kind === 'encoder') {
    const sample = g.input('sample', DataType.FLOAT, ['batch', 3, 'frames', 'height', 'width']);
    const cells = g.transpose(patchify(g, sample, patch), toLast);
    const z = g.transpose(g.linear(cells, 'encoder', P, LATENT_CHANNELS), toSecond);
    g.output(z, 'latent', DataType.FLOAT, ['batch', LATENT_CHANNELS, 'latent_frames', 'latent_height', 'latent_width']);
  } else {
    const z = g.input('latent', DataType.FLOAT, ['batch', LATENT_CHANNELS, 'latent_frames', 'latent_height', 'latent_width']);
    const cells = g.transpose(g.linear(g.transpose(z, toLast), 'decoder', LATENT_CHANNELS, P), toSecond);
    g.output(unpatchify(g, cells, patch), 'sample', DataType.FLOAT, ['batch', 3, 'frames', 'height', 'width']);
  }
  return g;
}

/** Builds `graph` with weights from a safetensors file in `dir`, checked against its parameter list first. */
function buildFrom(dir: string, file: string, part: 'transformer' | 'vae', graph: (w: WeightSource) => GraphBuilder, out: string, name: string): void {
  const path = join(dir, file);
  const source = new CheckpointPart(dir, part, path, openSafetensors(path));
  try {
    const g = graph(source.weights());
    source.check(g.paramList()); // one clear message naming a missing or misshapen tensor, before writing
    g.save(out, name);
  } finally {
    source.close();
  }
}

/** Bump when the builder or the manifest it writes changes (new weights change the hash by themselves). */
const BUILDER_VERSION = 3; // 2: decoderReach 0 and extendContext in the manifest; 3: context guidance (sampling.json)

let version: number | undefined;
/** Build version: the first 48 bits of the sha256 of the builder version, config, weights and sampling settings. */
export function shapesBuildVersion(): number {
  if (version === undefined) {
    const hash = createHash('sha256').update(`builder ${BUILDER_VERSION}\n`);
    for (const f of [CONFIG_FILE, WEIGHTS_FILE, VAE_FILE, SAMPLING_FILE]) hash.update(readFileSync(join(SHAPES_WEIGHTS_DIR, f)));
    version = parseInt(hash.digest('hex').slice(0, 12), 16);
  }
  return version;
}

export const SHAPES_DESCRIPTION =
  'Toy model trained by the Reshoot project on synthetic shapes (one to three coloured circles, squares and ' +
  'diamonds bouncing over panning gradients, 64×64 px, 24 fps): the LTX-Video transformer at a small width ' +
  'with a linear patch "VAE" (64 channels). It extends, fills, bridges and generates clips of that ' +
  'family on a CPU in seconds. Its fills beat painting in the mean colour around the hole, its bridges beat a ' +
  'cross-fade and, sampled with context guidance, its extensions track the shapes over 12 new frames better than ' +
  'holding the last frame (bench/RESULTS.md); longer ones break the shapes up. It is not a general video model and ' +
  'ignores the prompt.';

function manifestBase(transformer: ModelManifest['transformer'], patch: PatchSpec, contextGuidance: ModelManifest['scheduler']['contextGuidance']): Omit<ModelManifest, 'files'> {
  return {
    id: SHAPES_ID,
    family: 'ltxv',
    license: 'trained by the Reshoot project on synthetic data it generates; ships under the project licence',
    testModel: false,
    description: SHAPES_DESCRIPTION,
    // A patch VAE: each cell decodes alone, so a fill regenerates only the cells its mask touches.
    latent: { channels: LATENT_CHANNELS, ...patch, decoderReach: 0 },
    sizeRules: { multiple: 8, maxPixels: 64 * 64, maxFrames: 17 },
    // Context guidance: extensions keep the shapes moving along their tracks instead of letting
    // them slow down and fade (bench/RESULTS.md, session 10).
    scheduler: { steps: 16, guidance: 1, shift: { kind: 'static', shift: 1 }, ...(contextGuidance ? { contextGuidance } : {}) },
    transformer,
    text: { tokenizer: 'bytes', maxTokens: 32, padId: BYTE_PAD_ID },
    conditioning: 'per-token',
    // Extensions chain windows of 13 known and 4 new frames: over held-out clips the shapes keep
    // their tracks better than with the default 5 known and 12 new (bench/RESULTS.md, session 8).
    extendContext: 13,
    build: { producer: 'reshoot', version: shapesBuildVersion() },
  };
}

/** Writes builtin:shapes (four graphs, their weights, model.json) into an existing empty folder. */
export interface ShapesBuildOptions {
  /** Folder with config.json, transformer.safetensors and vae.safetensors (default: the shipped one). */
  weightsDir?: string;
  /**
   * An untrained twin for comparisons: the same graphs and VAE with seeded random transformer
   * weights, under another id (test/quality uses it as the control the trained model must beat).
   */
  untrained?: { id: string; seed: number };
  /** A twin sampled without context guidance, under another id (bench/quality.ts runs both side by side). */
  withoutContextGuidance?: { id: string };
}

export function buildShapesModel(dir: string, opts: ShapesBuildOptions = {}): ModelManifest {
  const weightsDir = opts.weightsDir ?? SHAPES_WEIGHTS_DIR;
  const configPath = join(weightsDir, CONFIG_FILE);
  const parsed = parseLtxvTransformerConfig(JSON.parse(readFileSync(configPath, 'utf8')), configPath);
  // Frame positioning is not in a diffusers config (it comes with a release's recipe); the shapes
  // model was trained with causal frame coordinates (tools/train-shapes/train.py).
  const transformer = { ...parsed, rope: { ...parsed.rope, causalFix: true } };
  if (transformer.inChannels !== LATENT_CHANNELS) throw new Error(`${configPath}: in_channels ${transformer.inChannels}, the shapes VAE has ${LATENT_CHANNELS}`);
  const patch = shapesPatch(weightsDir);
  const sampling = shapesSampling(weightsDir); // read before any graph is written, like the patch
  buildFrom(weightsDir, VAE_FILE, 'vae', (w) => linearVaeGraph('encoder', patch, w), dir, GRAPH_FILES.vaeEncoder);
  buildFrom(weightsDir, VAE_FILE, 'vae', (w) => linearVaeGraph('decoder', patch, w), dir, GRAPH_FILES.vaeDecoder);
  if (opts.untrained) ltxvTransformerGraph(transformer, seededWeights(opts.untrained.seed)).save(dir, GRAPH_FILES.transformer);
  else buildFrom(weightsDir, WEIGHTS_FILE, 'transformer', (w) => ltxvTransformerGraph(transformer, w), dir, GRAPH_FILES.transformer);
  // The prompt reaches the transformer only through cross-attention, whose output projection
  // was trained at zero; the byte embeddings are seeded placeholders that cannot change a pixel.
  byteTextEncoderGraph(transformer.captionChannels, seededWeights(1)).save(dir, GRAPH_FILES.textEncoder);
  const paths = Object.values(GRAPH_FILES).flatMap((f) => [f, `${f}.data`]);
  const without = opts.withoutContextGuidance;
  const base = manifestBase(transformer, patch, without ? undefined : sampling.contextGuidance);
  const files = describeFiles(dir, paths);
  const manifest: ModelManifest = opts.untrained
    ? { ...base, id: opts.untrained.id, testModel: true, description: `${SHAPES_ID} with seeded random transformer weights (a control)`, files }
    : without
      ? { ...base, id: without.id, description: `${SHAPES_ID} sampled without context guidance (a comparison)`, files }
      : { ...base, files };
  writeFileSync(join(dir, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
