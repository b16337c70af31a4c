/**
 * `reshoot models pull <repo> --file <name>.safetensors` against the local hub server: exactly the
 * one file, the upscaler its multi-scale recipe names, and only text_encoder/ + tokenizer/ of the
 * PixArt repo (once per cache) are downloaded, then converted into the same model as the same
 * files imported from disk. A cut download resumes; a wrong hash and a missing file are refused.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importCheckpoint } from '../../companion/models/convert/index.ts';
import { pullSingleFile } from '../../companion/models/hub/pullFile.ts';
import type { ModelManifest } from '../../companion/models/types.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { commitOf, startHubServer, type HubServer } from '../helpers/hubServer.ts';
import { writeSingleFileFixture, writeUpscalerFixture } from '../helpers/singleFile.ts';

const tmp = tempDir('reshoot-hub-single-');
process.env.HF_HOME = path.join(tmp.dir, 'hf-home');
delete process.env.HF_TOKEN;
delete process.env.HUGGING_FACE_HUB_TOKEN;
delete process.env.HF_HUB_CACHE;
process.env.RESHOOT_MODELS = path.join(tmp.dir, 'models');

const FILE = 'ltxv-2b-0.9.8-distilled.safetensors';
const UPSCALER = 'ltxv-spatial-upscaler-0.9.8.safetensors';
const PIXART = 'PixArt-alpha/PixArt-XL-2-1024-MS';
const junk = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 13) & 255);

let hub: HubServer;
let local: { checkpoint: string; textEncoder: string; upscaler: string };
beforeAll(async () => {
  const f = writeSingleFileFixture(path.join(tmp.dir, 'fixture'), { file: FILE, version: '0.9.5' });
  const upscaler = path.join(tmp.dir, 'fixture', UPSCALER);
  writeUpscalerFixture(upscaler);
  local = { checkpoint: f.path, textEncoder: f.diffusers.folder, upscaler };
  const pixart: Record<string, Uint8Array> = { 'model_index.json': junk(200), 'transformer/diffusion_pytorch_model.safetensors': junk(5000), 'text_encoder/pytorch_model.bin': junk(3000) };
  for (const sub of ['text_encoder', 'tokenizer']) {
    for (const name of readdirSync(path.join(f.diffusers.folder, sub))) pixart[`${sub}/${name}`] = readFileSync(path.join(f.diffusers.folder, sub, name));
  }
  hub = await startHubServer({
    'Lightricks/LTX-Video': {
      commit: commitOf('ltxv'),
      files: { [FILE]: readFileSync(f.path), [UPSCALER]: readFileSync(upscaler), 'ltxv-13b-0.9.8-dev.safetensors': junk(8000), 'README.md': junk(100) },
    },
    [PIXART]: { commit: commitOf('pixart'), files: pixart },
  });
}, 120_000);
afterAll(async () => {
  await hub?.close();
  tmp.cleanup();
});

const cache = () => mkdtempSync(path.join(tmp.dir, 'hub-cache-'));
const hashes = (m: ModelManifest) => Object.fromEntries(m.files.map((x) => [x.path, x.sha256]));

describe('models pull --file', () => {
  it('downloads the file, its upscaler and only the text encoder and tokenizer, and converts as from disk', async () => {
    const cacheDir = cache();
    hub.served.clear();
    const r = await pullSingleFile('Lightricks/LTX-Video', FILE, { hubUrl: hub.url, cacheDir });
    const served = [...hub.served.keys()].sort();
    expect(served).toEqual([FILE, UPSCALER, ...readdirSync(path.join(r.textEncoder, 'text_encoder')).map((x) => `text_encoder/${x}`), ...readdirSync(path.join(r.textEncoder, 'tokenizer')).map((x) => `tokenizer/${x}`)].sort());
    expect(served.some((p) => p.endsWith('.bin') || p.startsWith('transformer/') || p === 'model_index.json')).toBe(false);
    expect(r.checkpoint).toBe(path.join(cacheDir, 'models--Lightricks--LTX-Video', 'snapshots', commitOf('ltxv'), FILE));
    expect(r.textEncoder).toBe(path.join(cacheDir, `models--${PIXART.replace('/', '--')}`, 'snapshots', commitOf('pixart')));

    const pulled = await importCheckpoint(r.checkpoint, { textEncoder: r.textEncoder, upscaler: r.upscaler! });
    const fromDisk = await importCheckpoint(local.checkpoint, { ...local, id: 'from-disk' });
    expect(pulled.id).toBe('ltxv-2b-0.9.8-distilled');
    expect(pulled.source).toMatchObject({ repo: 'Lightricks/LTX-Video', revision: commitOf('ltxv') });
    expect(pulled.upsampler?.source).toBe(UPSCALER);
    expect(hashes(pulled)).toEqual(hashes(fromDisk));

    // Once per cache: a second pull downloads nothing.
    hub.served.clear();
    const again = await pullSingleFile('Lightricks/LTX-Video', FILE, { hubUrl: hub.url, cacheDir });
    expect(hub.served.size).toBe(0);
    expect(again.downloadedBytes).toBe(0);
  });

  it('a download cut short resumes where it stopped; the file ends byte-exact', async () => {
    const cacheDir = cache();
    hub.served.clear();
    hub.ranges.length = 0;
    hub.cutNext.set(FILE, 30_000);
    const r = await pullSingleFile('Lightricks/LTX-Video', FILE, { hubUrl: hub.url, cacheDir, retryDelayMs: 1 });
    expect(hub.ranges.length).toBe(1);
    expect(Buffer.from(readFileSync(r.checkpoint)).equals(Buffer.from(readFileSync(local.checkpoint)))).toBe(true);
  });

  it('a truncated download that cannot resume is refused and nothing half-written is left in the snapshot', async () => {
    const cacheDir = cache();
    hub.cutNext.set(FILE, 30_000);
    await expect(pullSingleFile('Lightricks/LTX-Video', FILE, { hubUrl: hub.url, cacheDir, retries: 0, retryDelayMs: 1 })).rejects.toThrow(/Lightricks\/LTX-Video\/ltxv-2b-0\.9\.8-distilled\.safetensors/);
    hub.cutNext.delete(FILE);
    expect(existsSync(path.join(cacheDir, 'models--Lightricks--LTX-Video', 'snapshots', commitOf('ltxv'), FILE))).toBe(false);
  });

  it('a file whose bytes do not match the hub\u2019s hash is refused; a file the repo lacks is named', async () => {
    const cacheDir = cache();
    hub.corrupt.add(FILE);
    try {
      await expect(pullSingleFile('Lightricks/LTX-Video', FILE, { hubUrl: hub.url, cacheDir, retryDelayMs: 1 })).rejects.toThrow(
        /Lightricks\/LTX-Video\/ltxv-2b-0\.9\.8-distilled\.safetensors failed its integrity check \(sha256 [0-9a-f]{64}, the hub lists [0-9a-f]{64}\)/,
      );
    } finally {
      hub.corrupt.delete(FILE);
    }
    expect(existsSync(path.join(cacheDir, 'models--Lightricks--LTX-Video', 'snapshots', commitOf('ltxv'), FILE))).toBe(false);
    await expect(pullSingleFile('Lightricks/LTX-Video', 'ltxv-2b-0.9.9-nope.safetensors', { hubUrl: hub.url, cacheDir })).rejects.toThrow(
      /Lightricks\/LTX-Video@main has no file ltxv-2b-0\.9\.9-nope\.safetensors/,
    );
  });
});
