/**
 * The authors' latent spatial upscaler files (`ltxv-spatial-upscaler-0.9.7.safetensors`,
 * `…-0.9.8.safetensors`) converted into a model folder as `latent_upsampler.onnx`, the graph of
 * ../ltxv/latentUpsampler.ts. The file holds LatentUpsampler's state dict under its own names
 * (initial_conv, res_blocks.i, upsampler.0, post_upsample_res_blocks.i, final_conv) and its config
 * as JSON in the metadata (`config`: in_channels, mid_channels, num_blocks_per_stage, dims,
 * spatial_upsample, temporal_upsample), which `LatentUpsampler.from_pretrained` reads. The graph
 * folds in the VAE's per-channel statistics (latents_mean / latents_std), which come from the
 * model's VAE, so it takes and returns normalised latents like the VAE graphs.
 *
 * As for the main graphs, every tensor is checked by name and shape before anything is written.
 */
import { basename, join } from 'node:path';
import { z } from 'zod';
import { ReshootError } from '../../errors.ts';
import { latentUpsamplerGraph, type LatentUpsamplerConfig } from '../ltxv/latentUpsampler.ts';
import type { ParamDecl, SavedGraph, WeightSource } from '../onnx/graph.ts';
import { FLOAT_DTYPES_TEXT, isFloatDtype, SafetensorsFile } from '../safetensors.ts';
import { UPSAMPLER_FILE } from '../tiny.ts';
import type { ModelFile, UpsamplerSpec } from '../types.ts';

const fail = (message: string): ReshootError => new ReshootError('model', message);

/** The VAE statistics the graph folds in; everything else comes from the upscaler file. */
const FROM_VAE = new Set(['latents_mean', 'latents_std']);

const configSchema = z.looseObject({
  _class_name: z.string().optional(),
  in_channels: z.number().int().positive().default(4),
  mid_channels: z.number().int().positive().default(128),
  num_blocks_per_stage: z.number().int().positive().default(4),
  dims: z.number().int().default(2),
  spatial_upsample: z.boolean().default(true),
  temporal_upsample: z.boolean().default(false),
  spatial_scale: z.number().optional(),
  rational_resampler: z.boolean().optional(),
});

export interface UpscalerFile {
  path: string;
  config: LatentUpsamplerConfig;
  file: SafetensorsFile;
  close(): void;
}

/** Opens an upscaler file and reads its config (defaults: LatentUpsampler.from_config's). */
export function openUpscalerFile(path: string): UpscalerFile {
  const file = SafetensorsFile.openNamed(path);
  try {
    if (!file.info('initial_conv.weight') || !file.info('final_conv.weight')) {
      throw fail(`${path} is not an LTX-Video latent upscaler: it has no initial_conv / final_conv tensors`);
    }
    const raw = file.metadata().config;
    if (raw === undefined) throw fail(`${path} has no "config" entry in its metadata: it is not one of the authors' upscaler files`);
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      throw fail(`${path}: the "config" entry of its metadata is not valid JSON`);
    }
    const r = configSchema.safeParse(json);
    if (!r.success) throw fail(`${path}: upscaler config field ${r.error.issues[0].path.join('.')} is invalid: ${r.error.issues[0].message}`);
    const c = r.data;
    const refuse = (what: string) => fail(`${path}: ${what} is not supported (Reshoot converts the ×2 spatial upscalers, dims 3)`);
    if (c.dims !== 3) throw refuse(`dims = ${c.dims}`);
    if (!c.spatial_upsample || c.temporal_upsample) throw refuse(`spatial_upsample = ${c.spatial_upsample}, temporal_upsample = ${c.temporal_upsample}`);
    if (c.rational_resampler || (c.spatial_scale !== undefined && c.spatial_scale !== 2)) throw refuse(`spatial_scale ${c.spatial_scale ?? '?'} (rational resampler)`);
    const config = { inChannels: c.in_channels, midChannels: c.mid_channels, blocksPerStage: c.num_blocks_per_stage };
    return { path, config, file, close: () => file.close() };
  } catch (e) {
    file.close();
    throw e;
  }
}

const noWeights: WeightSource = (name) => {
  throw new Error(`internal: the parameter list was asked for the values of ${name}`);
};

function params(config: LatentUpsamplerConfig): ParamDecl[] {
  return latentUpsamplerGraph(config, noWeights).paramList();
}

/** Throws one message for the first tensor that is missing or misshapen (with a count of the rest). */
export function checkUpscaler(up: UpscalerFile, latentChannels: number): void {
  if (up.config.inChannels !== latentChannels) {
    throw fail(`${up.path}: the upscaler takes ${up.config.inChannels} latent channels, the model's VAE has ${latentChannels}`);
  }
  if (up.config.midChannels % 32 !== 0) throw fail(`${up.path}: mid_channels ${up.config.midChannels} is not a multiple of 32 (GroupNorm groups)`);
  const problems: string[] = [];
  for (const p of params(up.config)) {
    if (FROM_VAE.has(p.name)) continue;
    const info = up.file.info(p.name);
    if (!info) problems.push(`upscaler tensor "${p.name}" is missing`);
    else if (!isFloatDtype(info.dtype)) problems.push(`upscaler tensor "${p.name}" is ${info.dtype}; only ${FLOAT_DTYPES_TEXT} weights are supported`);
    else if (info.shape.join() !== p.dims.join()) problems.push(`upscaler tensor "${p.name}" has shape [${info.shape.join(', ')}], expected [${p.dims.join(', ')}] from its config`);
  }
  if (problems.length) throw fail(`${up.path}: ${problems[0]}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}`);
}

/** Builds latent_upsampler.onnx into `dir`: weights from the file, statistics from the VAE. */
export function convertUpscaler(up: UpscalerFile, vae: WeightSource, dir: string): { saved: SavedGraph; spec: UpsamplerSpec; files: ModelFile[] } {
  const weights: WeightSource = (name, dims, init) => (FROM_VAE.has(name) ? vae(name, dims, init) : up.file.read(name));
  const saved = latentUpsamplerGraph(up.config, weights).save(dir, UPSAMPLER_FILE);
  return {
    saved,
    spec: { source: basename(up.path), ...up.config },
    files: [
      { path: UPSAMPLER_FILE, sha256: saved.onnxSha256, bytes: saved.onnxBytes },
      { path: `${UPSAMPLER_FILE}.data`, sha256: saved.dataSha256, bytes: saved.dataBytes },
    ],
  };
}

/** The line for a multi-scale model imported without its upscaler. */
export function onePassNote(id: string, upscaler: string): string {
  return (
    `${id} is multi-scale but was imported without its upscaler (${upscaler}): it renders one pass at full size. ` +
    `To add it: reshoot models import ${upscaler} --into ${id} (or import again with --upscaler ${upscaler})`
  );
}

export const upscalerPaths = (dir: string) => [join(dir, UPSAMPLER_FILE), join(dir, `${UPSAMPLER_FILE}.data`)];
