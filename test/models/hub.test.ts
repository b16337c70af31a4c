/**
 * `reshoot models pull` against a local server that speaks the hub's API (test/helpers/hubServer.ts):
 * the standard cache layout, no second download, resume after a cut, hashes checked, gated repos
 * explained, the cache found offline, and a pulled fixture checkpoint converting into a model.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullCheckpoint, wantedFile, type PullProgress } from '../../companion/models/hub/pull.ts';
import { importCheckpoint } from '../../companion/models/convert/index.ts';
import { loadModel } from '../../companion/models/registry.ts';
import { writeLtxvCheckpointFixture } from '../helpers/checkpoint.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { commitOf, HUB_TOKEN, startHubServer, type HubServer } from '../helpers/hubServer.ts';

const tmp = tempDir('reshoot-hub-');
process.env.HF_HOME = path.join(tmp.dir, 'hf-home'); // no token file, no user cache
delete process.env.HF_TOKEN;
delete process.env.HUGGING_FACE_HUB_TOKEN;
delete process.env.HF_HUB_CACHE;
process.env.RESHOOT_MODELS = path.join(tmp.dir, 'models');

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + ((i >> 8) ^ seed)) & 255);
const json = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));

const smallRepo = () => ({
  'model_index.json': json({ _class_name: 'LTXPipeline' }),
  'scheduler/scheduler_config.json': json({ shift: 1 }),
  'transformer/diffusion_pytorch_model.safetensors': bytes(50_000, 1),
  'transformer/diffusion_pytorch_model.bin': bytes(3000, 9), // a pickle beside it: never pulled
  'ltx-video-2b-v0.9.safetensors': bytes(40_000, 2), // the single-file checkpoint: skipped by default
  'README.md': json('card'),
});

let hub: HubServer;
const COMMIT = commitOf('small');
beforeAll(async () => {
  hub = await startHubServer({
    'org/small': { files: smallRepo(), commit: COMMIT },
    'org/gated': { files: smallRepo(), commit: commitOf('gated'), gated: true },
  });
});
afterAll(async () => {
  await hub?.close();
  tmp.cleanup();
});

let cacheN = 0;
const freshCache = () => path.join(tmp.dir, `hub-cache-${cacheN++}`);
const repoRoot = (cache: string, repo: string) => path.join(cache, `models--${repo.replace('/', '--')}`);

describe('models pull', () => {
  it('downloads the checkpoint files into the standard cache layout, with progress, skipping what it never reads', async () => {
    const cacheDir = freshCache();
    const progress: PullProgress[] = [];
    const r = await pullCheckpoint('org/small', { hubUrl: hub.url, cacheDir, onProgress: (p) => progress.push(p) });
    expect(r.commit).toBe(COMMIT);
    expect(r.files.sort()).toEqual(['model_index.json', 'scheduler/scheduler_config.json', 'transformer/diffusion_pytorch_model.safetensors']);
    const root = repoRoot(cacheDir, 'org/small');
    expect(readFileSync(path.join(root, 'refs', 'main'), 'utf8')).toBe(COMMIT);
    const pointer = path.join(root, 'snapshots', COMMIT, 'transformer', 'diffusion_pytorch_model.safetensors');
    expect(lstatSync(pointer).isSymbolicLink()).toBe(true);
    expect(readlinkSync(pointer)).toMatch(/^\.\.\/\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/); // relative, named by the LFS sha256
    expect(Buffer.from(readFileSync(pointer)).equals(Buffer.from(smallRepo()['transformer/diffusion_pytorch_model.safetensors']))).toBe(true);
    expect(readdirSync(path.join(root, 'blobs')).some((b) => /^[0-9a-f]{40}$/.test(b))).toBe(true); // small files by git sha1
    expect(hub.served.has('ltx-video-2b-v0.9.safetensors')).toBe(false);
    expect(hub.served.has('transformer/diffusion_pytorch_model.bin')).toBe(false);
    const last = progress.at(-1)!;
    expect(last.file).toBeNull();
    expect(last.doneBytes).toBe(last.totalBytes);
    expect(r.downloadedBytes).toBe(last.totalBytes);
    // Pulling again downloads nothing.
    hub.served.clear();
    const again = await pullCheckpoint('org/small', { hubUrl: hub.url, cacheDir });
    expect(again.downloadedBytes).toBe(0);
    expect(hub.served.size).toBe(0);
    expect(wantedFile('README.md', true)).toBe(true);
  });

  it('resumes a cut download with a Range request instead of starting over', async () => {
    const cacheDir = freshCache();
    const big = 'transformer/diffusion_pytorch_model.safetensors';
    hub.served.clear();
    hub.ranges.length = 0;
    hub.cutNext.set(big, 20_000);
    const r = await pullCheckpoint('org/small', { hubUrl: hub.url, cacheDir, retryDelayMs: 1 });
    // The retry asks for the rest: from what arrived before the cut (at most the 20,000 sent).
    expect(hub.ranges).toHaveLength(1);
    const from = Number(/^bytes=(\d+)-$/.exec(hub.ranges[0]!)?.[1]);
    expect(from).toBeGreaterThan(0);
    expect(from).toBeLessThanOrEqual(20_000);
    expect(hub.served.get(big)).toBe(20_000 + (50_000 - from)); // nothing fetched twice but what the cut lost
    expect(Buffer.from(readFileSync(path.join(r.snapshotDir, big))).equals(Buffer.from(smallRepo()[big]))).toBe(true);
  });

  it('a server that ignores Range makes the file start over, still ending right', async () => {
    const cacheDir = freshCache();
    const big = 'transformer/diffusion_pytorch_model.safetensors';
    hub.noRange = true;
    hub.cutNext.set(big, 10_000);
    try {
      const r = await pullCheckpoint('org/small', { hubUrl: hub.url, cacheDir, retryDelayMs: 1 });
      expect(Buffer.from(readFileSync(path.join(r.snapshotDir, big))).equals(Buffer.from(smallRepo()[big]))).toBe(true);
    } finally {
      hub.noRange = false;
    }
  });

  it('refuses a file whose bytes do not match the hub\u2019s hash, and keeps nothing of it', async () => {
    const cacheDir = freshCache();
    const big = 'transformer/diffusion_pytorch_model.safetensors';
    hub.corrupt.add(big);
    try {
      await expect(pullCheckpoint('org/small', { hubUrl: hub.url, cacheDir, retryDelayMs: 1 })).rejects.toThrow(
        /org\/small\/transformer\/diffusion_pytorch_model\.safetensors failed its integrity check \(sha256 [0-9a-f]{64}, the hub lists [0-9a-f]{64}\)/,
      );
    } finally {
      hub.corrupt.delete(big);
    }
    const root = repoRoot(cacheDir, 'org/small');
    expect(readdirSync(path.join(root, 'blobs')).filter((b) => b.length === 64 || b.endsWith('.incomplete'))).toEqual([]);
    expect(existsSync(path.join(root, 'snapshots', COMMIT, big))).toBe(false);
  });

  it('a gated repo without a token is explained; with the token it pulls', async () => {
    const cacheDir = freshCache();
    await expect(pullCheckpoint('org/gated', { hubUrl: hub.url, cacheDir })).rejects.toThrow(/org\/gated is gated: accept its licence at http:\/\/127\.0\.0\.1:\d+\/org\/gated and set HF_TOKEN/);
    process.env.HF_TOKEN = HUB_TOKEN;
    try {
      const r = await pullCheckpoint('org/gated', { hubUrl: hub.url, cacheDir });
      expect(r.files).toContain('model_index.json');
    } finally {
      delete process.env.HF_TOKEN;
    }
    await expect(pullCheckpoint('org/gated', { hubUrl: hub.url, cacheDir, token: 'nonsense' })).rejects.toThrow(/does not hold a Hugging Face access token/);
  });

  it('unknown repos and revisions are named; a pinned commit is honoured', async () => {
    const cacheDir = freshCache();
    await expect(pullCheckpoint('org/none', { hubUrl: hub.url, cacheDir })).rejects.toThrow(/org\/none was not found on .*check the repo id/);
    await expect(pullCheckpoint('org/small', { hubUrl: hub.url, cacheDir, revision: 'v9' })).rejects.toThrow(/org\/small has no revision "v9"/);
    await expect(pullCheckpoint('not a repo', { hubUrl: hub.url, cacheDir })).rejects.toThrow(/is not a Hugging Face repo id/);
    const pinned = await pullCheckpoint('org/small', { hubUrl: hub.url, cacheDir, revision: COMMIT });
    expect(pinned.commit).toBe(COMMIT);
  });

  it('HF_HUB_CACHE decides where the cache is; with the hub unreachable a complete snapshot is used offline', async () => {
    const cacheDir = freshCache();
    process.env.HF_HUB_CACHE = cacheDir;
    try {
      const r = await pullCheckpoint('org/small', { hubUrl: hub.url });
      expect(r.snapshotDir.startsWith(cacheDir)).toBe(true);
      const offline = await pullCheckpoint('org/small', { hubUrl: 'http://127.0.0.1:9' });
      expect(offline).toMatchObject({ offline: true, commit: COMMIT, downloadedBytes: 0 });
      await expect(pullCheckpoint('org/other', { hubUrl: 'http://127.0.0.1:9' })).rejects.toThrow(/cannot reach http:\/\/127\.0\.0\.1:9 .*not in the cache/);
    } finally {
      delete process.env.HF_HUB_CACHE;
    }
  });

  it('a pulled checkpoint converts into a model that loads', async () => {
    const folder = path.join(tmp.dir, 'fixture-ckpt');
    writeLtxvCheckpointFixture(folder, { version: '0.9.5' });
    const files: Record<string, Uint8Array> = {};
    const walk = (dir: string, prefix = ''): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(path.join(dir, e.name), `${prefix}${e.name}/`);
        else files[`${prefix}${e.name}`] = readFileSync(path.join(dir, e.name));
      }
    };
    walk(folder);
    hub.repos.set('Lightricks/LTX-Fixture', { files, commit: commitOf('fixture') });
    const r = await pullCheckpoint('Lightricks/LTX-Fixture', { hubUrl: hub.url, cacheDir: freshCache() });
    const manifest = await importCheckpoint(r.snapshotDir, { id: 'pulled-fixture' });
    expect(manifest.source).toMatchObject({ repo: 'Lightricks/LTX-Fixture', revision: commitOf('fixture'), version: '0.9.5+' });
    expect((await loadModel('pulled-fixture')).manifest.id).toBe('pulled-fixture');
  });
});
