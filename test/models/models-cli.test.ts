/**
 * `reshoot models …` as a user runs it (the real bin/reshoot.mjs in a child process): pull from
 * a hub (a local server speaking its API, through HF_ENDPOINT) and convert, import a folder,
 * info, list, remove; bad arguments explained.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeLtxvCheckpointFixture } from '../helpers/checkpoint.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { commitOf, startHubServer, type HubServer } from '../helpers/hubServer.ts';
import { writeSingleFileFixture, writeUpscalerFixture } from '../helpers/singleFile.ts';

const run = promisify(execFile);
const bin = path.resolve('bin/reshoot.mjs');
const tmp = tempDir('reshoot-models-cli-');
let hub: HubServer;
let folder = '';
let env: NodeJS.ProcessEnv;
/** A multi-scale single file (on the hub without its upscaler), its text-encoder folder and its upscaler on disk. */
const single = { file: 'ltxv-2b-0.9.8-distilled.safetensors', path: '', textEncoder: '', upscaler: '' };

async function reshoot(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [bin, ...args], { env, cwd: tmp.dir });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

beforeAll(async () => {
  folder = path.join(tmp.dir, 'LTX-Fixture');
  writeLtxvCheckpointFixture(folder, { version: '0.9.1' });
  const files: Record<string, Uint8Array> = {};
  const walk = (dir: string, prefix = ''): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(dir, e.name), `${prefix}${e.name}/`);
      else files[`${prefix}${e.name}`] = readFileSync(path.join(dir, e.name));
    }
  };
  walk(folder);
  const sf = writeSingleFileFixture(path.join(tmp.dir, 'single'), { file: single.file, version: '0.9.5' });
  Object.assign(single, { path: sf.path, textEncoder: sf.diffusers.folder, upscaler: path.join(tmp.dir, 'single', 'ltxv-spatial-upscaler-0.9.8.safetensors') });
  writeUpscalerFixture(single.upscaler);
  const pixart: Record<string, Uint8Array> = {};
  for (const sub of ['text_encoder', 'tokenizer']) {
    for (const name of readdirSync(path.join(sf.diffusers.folder, sub))) pixart[`${sub}/${name}`] = readFileSync(path.join(sf.diffusers.folder, sub, name));
  }
  hub = await startHubServer({
    'Lightricks/LTX-Fixture': { files, commit: commitOf('cli') },
    'Lightricks/LTX-Video': { files: { [single.file]: readFileSync(sf.path) }, commit: commitOf('cli-ltxv') },
    'PixArt-alpha/PixArt-XL-2-1024-MS': { files: pixart, commit: commitOf('cli-pixart') },
  });
  env = {
    ...process.env,
    RESHOOT_MODELS: path.join(tmp.dir, 'models'),
    HF_HOME: path.join(tmp.dir, 'hf'),
    HF_ENDPOINT: hub.url,
    HF_TOKEN: '',
    HUGGING_FACE_HUB_TOKEN: '',
  };
});
afterAll(async () => {
  await hub?.close();
  tmp.cleanup();
});

describe('reshoot models', () => {
  it('pull downloads into the Hugging Face cache and converts; info shows where it came from; remove --hf-cache frees both', async () => {
    const pulled = await reshoot('models', 'pull', 'Lightricks/LTX-Fixture', '--id', 'fixture');
    // Nothing on stderr but the status lines a log gets every 3 s of a slow download or conversion.
    const progress = /^(\d+\.\d MB \/ \d+\.\d MB  \S+ \d+%|converting \S+( \d+\/\d+)?\s*)$/;
    expect(pulled.stderr.split('\n').filter((l) => l && !progress.test(l))).toEqual([]);
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).toMatch(/Lightricks\/LTX-Fixture@[0-9a-f]{12}: \d+ files, [\d.]+ MB downloaded/);
    expect(pulled.stdout).toMatch(/fixture: LTX-Video 0\.9\.1/);
    const info = await reshoot('models', 'info', 'fixture');
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/from: Lightricks\/LTX-Fixture@[0-9a-f]{12} .* \(LTX-Video 0\.9\.1\)/);
    expect(info.stdout).toMatch(/transformer\.onnx\.data/);
    // The recipe it samples with, and where the authors publish it.
    expect(info.stdout).toMatch(/recipe ltxv-2b-0\.9\.1 \(Lightricks\/LTX-Video configs\/ltxv-2b-0\.9\.1\.yaml @ 5260738e1719\)/);
    expect(info.stdout).toMatch(/pass 1: 40 steps; cfg 3, stg 1 on blocks \[19\], rescale 0\.7/);
    expect(info.stdout).toMatch(/frame positioning plain/);
    expect((await reshoot('models', 'list')).stdout).toMatch(/^fixture\s+[\d.]+ MB/m);
    const hubRoot = path.join(tmp.dir, 'hf', 'hub', 'models--Lightricks--LTX-Fixture');
    expect(existsSync(hubRoot)).toBe(true);
    const removed = await reshoot('models', 'remove', 'fixture', '--hf-cache');
    expect(removed.code).toBe(0);
    expect(removed.stdout).toMatch(/removed fixture/);
    expect(removed.stdout).toMatch(/from the Hugging Face cache/);
    expect(existsSync(hubRoot)).toBe(false);
    expect((await reshoot('models', 'info', 'fixture')).stderr).toMatch(/unknown model "fixture"/);
  });

  it('pull --file takes one single file and the PixArt text encoder through HF_ENDPOINT; a missing upscaler is explained and added with --into', async () => {
    const pulled = await reshoot('models', 'pull', 'Lightricks/LTX-Video', '--file', single.file, '--id', 'distilled');
    expect(pulled.code, pulled.stderr).toBe(0);
    expect(pulled.stdout).toMatch(/Lightricks\/LTX-Video@[0-9a-f]{12}: ltxv-2b-0\.9\.8-distilled\.safetensors, [\d.]+ MB downloaded; text encoder from .*models--PixArt-alpha--PixArt-XL-2-1024-MS/);
    expect(pulled.stdout).toMatch(/Lightricks\/LTX-Video has no ltxv-spatial-upscaler-0\.9\.8\.safetensors/);
    expect(pulled.stdout).toMatch(/distilled is multi-scale but was imported without its upscaler \(ltxv-spatial-upscaler-0\.9\.8\.safetensors\): it renders one pass at full size\. To add it: reshoot models import ltxv-spatial-upscaler-0\.9\.8\.safetensors --into distilled/);
    const added = await reshoot('models', 'import', single.upscaler, '--into', 'distilled');
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/distilled: latent upscaler ltxv-spatial-upscaler-0\.9\.8\.safetensors added/);
    const info = await reshoot('models', 'info', 'distilled');
    expect(info.stdout).toMatch(/latent_upsampler\.onnx/);
    expect(info.stdout).toMatch(/latent upscaler: ltxv-spatial-upscaler-0\.9\.8\.safetensors \(16 → 32 channels, 1 blocks per stage\)/);
  });

  it('import converts a single file with --text-encoder and --upscaler', async () => {
    const imported = await reshoot('models', 'import', single.path, '--text-encoder', single.textEncoder, '--upscaler', single.upscaler, '--id', 'from-file');
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/^from-file: LTX-Video 0\.9\.5\+ distilled/m);
    expect(imported.stdout).toMatch(/latent upscaler: ltxv-spatial-upscaler-0\.9\.8\.safetensors \(multi-scale: two passes\)/);
  });

  it('import converts a folder on disk (named after it); bad arguments are explained', async () => {
    const imported = await reshoot('models', 'import', folder, '--precision', 'fp16');
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/^ltx-fixture: /m);
    expect((await reshoot('models', 'info', 'ltx-fixture')).stdout).toMatch(/transformer: fp16/);
    const bad = await reshoot('models', 'import', path.join(tmp.dir, 'nowhere'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/nowhere/);
    expect((await reshoot('models', 'import', folder, '--precision', 'fp8')).stderr).toMatch(/--precision must be one of auto, fp32, fp16, int8, int4, not "fp8"/);
    expect((await reshoot('models', 'frobnicate')).code).toBe(2);
    expect((await reshoot('models', 'pull')).stderr).toMatch(/pull takes one repo id/);
    expect((await reshoot('models', 'remove', 'builtin:tiny')).stderr).toMatch(/built in/);
  });
});
