/**
 * The latent upscaler of a multi-scale recipe (`ltxv-spatial-upscaler-0.9.8.safetensors`) converts
 * into the model folder as latent_upsampler.onnx with the manifest's `upsampler` field — at import
 * (`--upscaler`) or later (`--into <id>`), the same graph either way, its weights from the file and
 * the VAE statistics from the model's checkpoint. A bad upscaler file writes nothing.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isReshootError } from '../../companion/errors.ts';
import { addUpscaler, importCheckpoint } from '../../companion/models/convert/index.ts';
import { latentUpsamplerGraph } from '../../companion/models/ltxv/latentUpsampler.ts';
import { loadModel, modelDir } from '../../companion/models/registry.ts';
import { UPSAMPLER_FILE } from '../../companion/models/tiny.ts';
import { FIXTURE_UPSCALER, writeSingleFileFixture, writeUpscalerFixture } from '../helpers/singleFile.ts';

const root = mkdtempSync(join(tmpdir(), 'reshoot-upscaler-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const saved = process.env.RESHOOT_MODELS;
beforeEach(() => {
  process.env.RESHOOT_MODELS = join(mkdtempSync(join(root, 'cache-')), 'models');
});
afterEach(() => {
  if (saved === undefined) delete process.env.RESHOOT_MODELS;
  else process.env.RESHOOT_MODELS = saved;
});

const FILE = 'ltxv-2b-0.9.8-distilled.safetensors';
const UPSCALER = 'ltxv-spatial-upscaler-0.9.8.safetensors';
const f = writeSingleFileFixture(join(root, 'ckpt'), { file: FILE, version: '0.9.5' });
const upscaler = join(root, UPSCALER);
const upWeights = writeUpscalerFixture(upscaler);

/** The graph built straight from the fixture's values: what the converted one must be, byte for byte. */
function expectedData(): string {
  const dir = mkdtempSync(join(root, 'direct-'));
  const vae = f.diffusers.weights.vae;
  const saved = latentUpsamplerGraph(FIXTURE_UPSCALER, (name, dims, init) => (name.startsWith('latents_') ? vae(name, dims, init) : upWeights.get(name)!)).save(dir, 'x.onnx');
  return saved.dataSha256;
}

const sha = (files: { path: string; sha256: string }[], path: string) => files.find((x) => x.path === path)?.sha256;

describe('latent upscaler', () => {
  it('imports with the model (--upscaler): latent_upsampler.onnx, the upsampler field, the handle\'s graph', async () => {
    const m = await importCheckpoint(f.path, { textEncoder: f.diffusers.folder, upscaler });
    expect(m.recipe?.pipeline).toBe('multi-scale');
    expect(m.recipe?.upscaler).toBe(UPSCALER);
    expect(m.upsampler).toEqual({ source: UPSCALER, ...FIXTURE_UPSCALER });
    expect(sha(m.files, `${UPSAMPLER_FILE}.data`)).toBe(expectedData());
    const handle = await loadModel(m.id);
    expect(handle.graphs.upsampler).toBe(join(modelDir(m.id), UPSAMPLER_FILE));
  });

  it('a multi-scale model imported without it runs one pass; --into adds the same graph later', async () => {
    const m = await importCheckpoint(f.path, { textEncoder: f.diffusers.folder });
    expect(m.upsampler).toBeUndefined();
    expect((await loadModel(m.id)).graphs.upsampler).toBeUndefined();
    const added = await addUpscaler(m.id, upscaler);
    expect(added.upsampler).toEqual({ source: UPSCALER, ...FIXTURE_UPSCALER });
    expect(sha(added.files, `${UPSAMPLER_FILE}.data`)).toBe(expectedData());
    const handle = await loadModel(m.id); // verifies every listed file's size and hash
    expect(handle.manifest).toEqual(added);
    expect(readdirSync(modelDir(m.id)).filter((x) => x.startsWith('.'))).toEqual([]);
  });

  it('a model converted from a diffusers folder takes the upscaler too (statistics from its vae/)', async () => {
    const folder = await importCheckpoint(f.diffusers.folder, { id: 'diffusers-098' });
    const added = await addUpscaler(folder.id, upscaler);
    expect(sha(added.files, `${UPSAMPLER_FILE}.data`)).toBe(expectedData());
    const direct = await importCheckpoint(f.diffusers.folder, { id: 'diffusers-098-direct', upscaler });
    expect(sha(direct.files, `${UPSAMPLER_FILE}.data`)).toBe(expectedData());
  });

  it('a bad upscaler file is refused in one message and nothing is written', async () => {
    const broken = join(root, 'broken-upscaler.safetensors');
    writeUpscalerFixture(broken, { drop: ['res_blocks.0.conv2.weight'] });
    const err = await importCheckpoint(f.path, { textEncoder: f.diffusers.folder, upscaler: broken }).catch((e: unknown) => e);
    expect(isReshootError(err)).toBe(true);
    expect((err as Error).message).toMatch(/broken-upscaler\.safetensors: upscaler tensor "res_blocks\.0\.conv2\.weight" is missing/);
    expect(existsSync(process.env.RESHOOT_MODELS!) ? readdirSync(process.env.RESHOOT_MODELS!).filter((x) => !x.startsWith('.')) : []).toEqual([]);

    const m = await importCheckpoint(f.path, { textEncoder: f.diffusers.folder });
    const before = readFileSync(join(modelDir(m.id), 'model.json'), 'utf8');
    const wide = join(root, 'wide-upscaler.safetensors');
    writeUpscalerFixture(wide, { config: { in_channels: 128 } });
    await expect(addUpscaler(m.id, wide)).rejects.toThrow(/the upscaler takes 128 latent channels, the model's VAE has 16/);
    await expect(addUpscaler(m.id, broken)).rejects.toThrow(/upscaler tensor "res_blocks\.0\.conv2\.weight" is missing/);
    await expect(addUpscaler(m.id, f.path)).rejects.toThrow(/is not an LTX-Video latent upscaler/);
    expect(readFileSync(join(modelDir(m.id), 'model.json'), 'utf8')).toBe(before);
    expect(existsSync(join(modelDir(m.id), UPSAMPLER_FILE))).toBe(false);
  });
});
