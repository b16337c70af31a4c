/**
 * Single-file checkpoints (the authors' and ComfyUI's format) are recognised from their header
 * and refused in one message that names what the file is, the recipe the authors run it with and
 * what to import instead — before anything is written. (Converting them is not built yet.)
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isReshootError } from '../../companion/errors.ts';
import { importCheckpoint } from '../../companion/models/convert/index.ts';
import { ltxvTransformerGraph } from '../../companion/models/ltxv/transformer.ts';
import { writeSafetensors, type TensorToWrite } from '../../companion/models/safetensors.ts';
import { inspectSingleFile } from '../../companion/models/singleFile.ts';
import type { TransformerConfig } from '../../companion/models/types.ts';

const root = mkdtempSync(join(tmpdir(), 'reshoot-single-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const previous = process.env.RESHOOT_MODELS;
beforeEach(() => {
  process.env.RESHOOT_MODELS = join(mkdtempSync(join(root, 'cache-')), 'models');
});
afterEach(() => {
  if (previous === undefined) delete process.env.RESHOOT_MODELS;
  else process.env.RESHOOT_MODELS = previous;
});

/** diffusers → the authors' tensor names (diffusers' conversion script renames the other way). */
const AUTHORS = [
  ['proj_in', 'patchify_proj'],
  ['time_embed', 'adaln_single'],
  ['norm_q', 'q_norm'],
  ['norm_k', 'k_norm'],
] as const;

/** A reduced single file with the real layout: transformer under model.diffusion_model.*, a VAE tensor, config metadata. */
function singleFile(name: string, layers: number, vaeConfig: Record<string, unknown>): string {
  const c: TransformerConfig = {
    inChannels: 16, outChannels: 16, numAttentionHeads: 2, attentionHeadDim: 8, numLayers: layers,
    crossAttentionDim: 16, captionChannels: 16, normEps: 1e-6, rope: { baseNumFrames: 20, baseHeight: 2048, baseWidth: 2048, theta: 10000 },
  };
  const tensors: TensorToWrite[] = ltxvTransformerGraph(c, () => new Float32Array(0))
    .paramList()
    .map((p) => ({
      name: `model.diffusion_model.${AUTHORS.reduce((n, [from, to]) => n.replace(from, to), p.name)}`,
      shape: p.dims,
      dtype: 'BF16' as const,
      data: new Float32Array(p.dims.reduce((a, b) => a * b, 1)),
    }));
  tensors.push({ name: 'vae.per_channel_statistics.mean-of-means', shape: [16], dtype: 'BF16', data: new Float32Array(16) });
  const config = { transformer: { _class_name: 'Transformer3DModel', num_layers: layers, causal_temporal_positioning: true }, vae: vaeConfig, scheduler: { _class_name: 'RectifiedFlowScheduler' } };
  const path = join(root, name);
  writeSafetensors(path, tensors, { config: JSON.stringify(config) });
  return path;
}

const vae095 = { _class_name: 'CausalVideoAutoencoder', encoder_blocks: [['res_x', { num_layers: 4 }], ['compress_space_res', { multiplier: 2 }]], timestep_conditioning: true };

async function importError(path: string): Promise<string> {
  const err = await importCheckpoint(path).then(() => undefined, (e: unknown) => e);
  expect(isReshootError(err), String(err)).toBe(true);
  const cache = process.env.RESHOOT_MODELS!;
  expect(existsSync(cache) ? readdirSync(cache) : []).toEqual([]);
  return (err as Error).message;
}

describe('single-file checkpoints', () => {
  it('are recognised from the header: tensors, and the recipe from the file name and metadata', () => {
    const path = singleFile('ltxv-13b-0.9.8-distilled.safetensors', 48, vae095);
    expect(inspectSingleFile(path)).toEqual({ file: 'ltxv-13b-0.9.8-distilled.safetensors', transformerTensors: 15 + 25 * 48, vaeTensors: 1, recipe: { name: 'ltxv-13b-0.9.8-distilled' } });
  });

  it('import refuses one in one sentence naming it, its recipe and what to import instead, writing nothing', async () => {
    const path = singleFile('ltxv-2b-0.9.6-distilled-04-25.safetensors', 28, vae095);
    const msg = await importError(path);
    expect(msg).toContain(`${path} is a single-file LTX-Video checkpoint`);
    expect(msg).toContain('recipe ltxv-2b-0.9.6-distilled');
    expect(msg).toMatch(/diffusers format \(a folder with model_index\.json/);
  });

  it('an unknown release is named; a truncated file and a file that is not LTX-Video are explained', async () => {
    expect(await importError(singleFile('ltxv-2b-0.9.9-dev.safetensors', 28, vae095))).toMatch(/no published recipe for ltxv-2b-0\.9\.9-dev/);
    const cut = singleFile('ltxv-2b-0.9.8-distilled.safetensors', 28, vae095);
    truncateSync(cut, statSync(cut).size - 64);
    expect(await importError(cut)).toMatch(/is truncated/);
    const other = join(root, 'other.safetensors');
    writeSafetensors(other, [{ name: 'weight', shape: [2], dtype: 'F32', data: new Float32Array(2) }]);
    expect(await importError(other)).toMatch(/is not an LTX-Video checkpoint: it has no model\.diffusion_model\.\* tensors/);
    const txt = join(root, 'notes.txt');
    writeFileSync(txt, 'x');
    expect(await importError(txt)).toMatch(/is a file; Reshoot imports a diffusers-format checkpoint folder/);
  });
});
