/**
 * `builtin:tiny`: the LTX-Video architecture at a tiny size with seeded weights, a byte-embedding
 * text encoder and an exactly invertible patchify "VAE". It runs every engine code path on a CPU
 * in seconds and is what the tests use; it does not make pictures.
 *
 * The build is deterministic: the same builder version writes byte-identical files.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelFile, ModelManifest, TransformerConfig } from './types.ts';
import { ltxvTransformerGraph } from './ltxv/transformer.ts';
import { patchChannels, patchVaeDecoderGraph, patchVaeEncoderGraph } from './patchVae.ts';
import { byteTextEncoderGraph } from './byteTextEncoder.ts';
import { BYTE_PAD_ID } from './tokenizer.ts';
import { seededWeights } from './weights.ts';

export const TINY_ID = 'builtin:tiny';
/** Bump when the tiny model's graphs or weights change, so cached copies are rebuilt. */
export const TINY_BUILD_VERSION = 4; // 2: fused attention (com.microsoft.MultiHeadAttention); 3: its text mask as attention_bias (WebGPU); 4: decoderReach 0
export const TINY_SEED = 1234;

export const GRAPH_FILES = {
  textEncoder: 'text_encoder.onnx',
  transformer: 'transformer.onnx',
  vaeEncoder: 'vae_encoder.onnx',
  vaeDecoder: 'vae_decoder.onnx',
} as const;

/** The latent upsampler's graph, present only in models whose manifest has `upsampler`. */
export const UPSAMPLER_FILE = 'latent_upsampler.onnx';

const latent = { channels: patchChannels({ spatial: 8, temporal: 2 }), spatial: 8, temporal: 2, decoderReach: 0 };

export const tinyTransformerConfig: TransformerConfig = {
  inChannels: latent.channels,
  outChannels: latent.channels,
  numAttentionHeads: 4,
  attentionHeadDim: 16,
  numLayers: 2,
  crossAttentionDim: 64,
  captionChannels: 32,
  normEps: 1e-6,
  // LTXVideoRotaryPosEmbed defaults, as LTXVideoTransformer3DModel constructs it.
  rope: { baseNumFrames: 20, baseHeight: 2048, baseWidth: 2048, theta: 10000 },
};

export const tinyManifest: Omit<ModelManifest, 'files'> = {
  id: TINY_ID,
  family: 'ltxv',
  license: 'none: weights are seeded random numbers generated on this machine',
  testModel: true,
  description:
    'Test model: the LTX-Video transformer at a tiny size (2 layers, 4 heads × 16) with seeded random weights, ' +
    'a byte-embedding text encoder and an exactly invertible patchify "VAE". It runs every code path on a CPU ' +
    'in seconds; its output is noise, not pictures.',
  latent,
  sizeRules: { multiple: 8, maxPixels: 128 * 72, maxFrames: 17 },
  scheduler: {
    steps: 8,
    guidance: 3,
    shift: { kind: 'dynamic', baseShift: 0.95, maxShift: 2.05, baseTokens: 1024, maxTokens: 4096 },
  },
  transformer: tinyTransformerConfig,
  text: { tokenizer: 'bytes', maxTokens: 32, padId: BYTE_PAD_ID },
  conditioning: 'per-token',
  build: { producer: 'reshoot', version: TINY_BUILD_VERSION },
};

/** sha256 of a file, read in chunks so multi-GB weight files do not need to fit in memory. */
export function sha256File(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.alloc(1 << 20);
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0; ) hash.update(chunk.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** Lists files as model.json records them. */
export function describeFiles(dir: string, paths: readonly string[]): ModelFile[] {
  return paths.map((path) => ({ path, sha256: sha256File(join(dir, path)), bytes: statSync(join(dir, path)).size }));
}

/** Writes the tiny model (four graphs, their weights, model.json) into an existing empty folder. */
export function buildTinyModel(dir: string, seed = TINY_SEED): ModelManifest {
  const weights = seededWeights(seed);
  const c = tinyTransformerConfig;
  byteTextEncoderGraph(c.captionChannels, weights).save(dir, GRAPH_FILES.textEncoder);
  ltxvTransformerGraph(c, weights).save(dir, GRAPH_FILES.transformer);
  patchVaeEncoderGraph(latent).save(dir, GRAPH_FILES.vaeEncoder);
  patchVaeDecoderGraph(latent).save(dir, GRAPH_FILES.vaeDecoder);
  const paths = Object.values(GRAPH_FILES).flatMap((f) => [f, `${f}.data`]);
  const manifest: ModelManifest = { ...tinyManifest, files: describeFiles(dir, paths) };
  writeFileSync(join(dir, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
