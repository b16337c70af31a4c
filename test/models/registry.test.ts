import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { listModels, loadModel, modelCacheDir, modelDir, modelManifestSchema } from '../../companion/models/registry.ts';
import { isReshootError } from '../../companion/errors.ts';

let cache: string;
const previous = process.env.RESHOOT_MODELS;
beforeEach(() => {
  cache = mkdtempSync(join(tmpdir(), 'reshoot-models-'));
  process.env.RESHOOT_MODELS = cache;
});
afterEach(() => {
  if (previous === undefined) delete process.env.RESHOOT_MODELS;
  else process.env.RESHOOT_MODELS = previous;
  rmSync(cache, { recursive: true, force: true });
});

async function modelError(id: string): Promise<Error> {
  const err = await loadModel(id).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isReshootError(err), String(err)).toBe(true);
  if (!isReshootError(err)) throw new Error('unreachable');
  expect(err.code).toBe('model');
  return err;
}

/** A copy of the built tiny model under another id (as a converted checkpoint would sit). */
function copyAs(id: string): string {
  const dir = modelDir(id);
  cpSync(modelDir('builtin:tiny'), dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...manifest, id }));
  return dir;
}

describe('model registry', () => {
  it('uses RESHOOT_MODELS as the cache', () => {
    expect(modelCacheDir()).toBe(cache);
  });

  it('builds builtin:tiny on first use and hands back its four graphs', async () => {
    const handle = await loadModel('builtin:tiny');
    expect(handle.dir).toBe(join(cache, 'builtin_tiny'));
    expect(handle.manifest.testModel).toBe(true);
    expect(handle.manifest.transformer.numLayers).toBe(2);
    for (const path of Object.values(handle.graphs)) {
      expect(existsSync(path)).toBe(true);
      expect(existsSync(`${path}.data`)).toBe(true);
    }
    expect(modelManifestSchema.safeParse(JSON.parse(readFileSync(join(handle.dir, 'model.json'), 'utf8'))).success).toBe(true);
    // No build leftovers, and a second load reuses the folder.
    expect(readdirSync(cache)).toEqual(['builtin_tiny']);
    expect((await loadModel('builtin:tiny')).manifest).toEqual(handle.manifest);
  });

  it('survives two loads racing to build', async () => {
    const [a, b] = await Promise.all([loadModel('builtin:tiny'), loadModel('builtin:tiny')]);
    expect(a.dir).toBe(b.dir);
    expect(readdirSync(cache)).toEqual(['builtin_tiny']);
  });

  it('survives two processes racing to build', async () => {
    const script = fileURLToPath(new URL('./fixtures/loadModel.ts', import.meta.url));
    const run = () => promisify(execFile)(process.execPath, ['--import', 'tsx', script, 'builtin:tiny'], { env: { ...process.env, RESHOOT_MODELS: cache } });
    const results = await Promise.all([run(), run(), run()]);
    for (const r of results) expect(r.stdout.trim()).toBe(join(cache, 'builtin_tiny'));
    expect(readdirSync(cache)).toEqual(['builtin_tiny']);
    expect((await loadModel('builtin:tiny')).manifest.id).toBe('builtin:tiny'); // complete and valid
  });

  it('rebuilds a builtin written by an older builder', async () => {
    const { dir } = await loadModel('builtin:tiny');
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...manifest, build: { producer: 'reshoot', version: 0 } }));
    const again = await loadModel('builtin:tiny');
    expect(again.manifest.build?.version).toBe(manifest.build.version);
    expect(readdirSync(cache)).toEqual(['builtin_tiny']);
  });

  it('refuses an unknown id, naming it', async () => {
    const err = await modelError('ltxv-9000');
    expect(err.message).toMatch(/unknown model "ltxv-9000"/);
    expect(err.message).toMatch(/builtin:tiny/); // says what is available
  });

  it('refuses a folder whose weights are truncated, naming the file', async () => {
    await loadModel('builtin:tiny');
    const dir = copyAs('my-model');
    expect((await loadModel('my-model')).manifest.id).toBe('my-model');
    truncateSync(join(dir, 'transformer.onnx.data'), 1000);
    const err = await modelError('my-model');
    expect(err.message).toContain(join(dir, 'transformer.onnx.data'));
    expect(err.message).toMatch(/1000 bytes/);
  });

  it('refuses a damaged builtin and says how to get it back', async () => {
    const { dir } = await loadModel('builtin:tiny');
    rmSync(join(dir, 'vae_decoder.onnx'));
    const err = await modelError('builtin:tiny');
    expect(err.message).toContain('vae_decoder.onnx is missing');
    expect(err.message).toContain(`delete ${dir}`);
  });

  it('refuses an invalid model.json', async () => {
    await loadModel('builtin:tiny');
    const dir = copyAs('bad');
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...manifest, sizeRules: { ...manifest.sizeRules, maxFrames: 16 } }));
    expect((await modelError('bad')).message).toMatch(/maxFrames/);
    writeFileSync(join(dir, 'model.json'), '{ not json');
    expect((await modelError('bad')).message).toMatch(/not valid JSON/);
  });

  it('lists builtins before they are built, and sizes once they are', async () => {
    expect(await listModels()).toEqual([
      expect.objectContaining({ id: 'builtin:shapes', status: 'not_built', bytes: null, testModel: false }),
      expect.objectContaining({ id: 'builtin:tiny', status: 'not_built', bytes: null, testModel: true }),
    ]);
    await loadModel('builtin:tiny');
    const dir = copyAs('broken');
    truncateSync(join(dir, 'text_encoder.onnx.data'), 10);
    const listed = await listModels();
    expect(listed.map((m) => [m.id, m.status])).toEqual([
      ['broken', 'damaged'],
      ['builtin:shapes', 'not_built'],
      ['builtin:tiny', 'ready'],
    ]);
    expect(listed[2].bytes).toBeGreaterThan(500_000);
    expect(listed[0].problem).toContain('text_encoder.onnx.data');
  });
});
