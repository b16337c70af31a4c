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

const run = promisify(execFile);
const bin = path.resolve('bin/reshoot.mjs');
const tmp = tempDir('reshoot-models-cli-');
let hub: HubServer;
let folder = '';
let env: NodeJS.ProcessEnv;

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
  hub = await startHubServer({ 'Lightricks/LTX-Fixture': { files, commit: commitOf('cli') } });
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
    // Without a terminal, status lines go to stderr every 3 s of wall time: how many depends on the
    // machine's speed, so only they are allowed there, nothing else.
    expect(pulled.stderr.split('\n').filter((l) => l && !/^(\d+\.\d MB \/ \d+\.\d MB |converting )/.test(l))).toEqual([]);
    expect(pulled.code).toBe(0);
    expect(pulled.stdout).toMatch(/Lightricks\/LTX-Fixture@[0-9a-f]{12}: \d+ files, [\d.]+ MB downloaded/);
    expect(pulled.stdout).toMatch(/fixture: LTX-Video 0\.9\.1/);
    const info = await reshoot('models', 'info', 'fixture');
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/from: Lightricks\/LTX-Fixture@[0-9a-f]{12} .* \(LTX-Video 0\.9\.1\)/);
    expect(info.stdout).toMatch(/transformer\.onnx\.data/);
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

  it('import converts a folder on disk (named after it); bad arguments are explained', async () => {
    const imported = await reshoot('models', 'import', folder, '--precision', 'fp16');
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/^ltx-fixture: /m);
    expect((await reshoot('models', 'info', 'ltx-fixture')).stdout).toMatch(/transformer: fp16/);
    const bad = await reshoot('models', 'import', path.join(tmp.dir, 'nowhere'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/nowhere/);
    expect((await reshoot('models', 'import', folder, '--precision', 'fp8')).stderr).toMatch(/--precision must be auto, fp32 or fp16, not "fp8"/);
    expect((await reshoot('models', 'frobnicate')).code).toBe(2);
    expect((await reshoot('models', 'pull')).stderr).toMatch(/pull takes one repo id/);
    expect((await reshoot('models', 'remove', 'builtin:tiny')).stderr).toMatch(/built in/);
  });
});
