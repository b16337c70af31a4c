/**
 * Stage-by-stage sessions, provider fallback and the prompt-embedding cache, with the real test
 * model and onnxruntime-node.
 */
import { mkdtempSync, readdirSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../companion/engine/engine.ts';
import { PromptCache } from '../../companion/engine/promptCache.ts';
import { bundledProviders, providersFor } from '../../companion/engine/providers.ts';
import { loadRuntime } from '../../companion/engine/runtime.ts';
import { StageSessions } from '../../companion/engine/stages.ts';
import { loadModel } from '../../companion/models/registry.ts';
import type { ModelHandle } from '../../companion/models/types.ts';
import { useTestModelCache } from '../helpers/fixtures.ts';

useTestModelCache();

let tiny: ModelHandle;
beforeAll(async () => {
  tiny = await loadModel('builtin:tiny');
});

/** Does this machine have a GPU provider that actually opens a graph? (Not here: no Vulkan.) */
async function opens(provider: 'webgpu'): Promise<boolean> {
  try {
    const s = await ort.InferenceSession.create(tiny.graphs.vaeDecoder, { executionProviders: [provider] });
    await s.release();
    return true;
  } catch {
    return false;
  }
}

describe('providers', () => {
  it('an explicit provider keeps CPU behind it; auto is every bundled one, CPU last', () => {
    expect(providersFor('cpu')).toEqual(['cpu']);
    expect(providersFor('webgpu')).toEqual(['webgpu', 'cpu']);
    expect(providersFor('auto')).toEqual(bundledProviders());
    expect(providersFor('auto').at(-1)).toBe('cpu');
    expect(() => providersFor('tpu')).toThrow(/unknown provider "tpu" \(one of auto, cuda, dml, coreml, webgpu, cpu\)/);
  });

  it('a provider that cannot load falls back to the next with a message, and the render is the same as on CPU', async () => {
    if (!bundledProviders().includes('webgpu') || (await opens('webgpu'))) return; // needs a provider that fails here
    const fallback = await Engine.open('builtin:tiny', ['webgpu', 'cpu']);
    const cpu = await Engine.open('builtin:tiny', ['cpu']);
    try {
      expect(fallback.provider).toBe('cpu');
      expect(fallback.fallbacks.length).toBeGreaterThan(0);
      // auto compute: the transformer tries WebGPU in fp16, then in fp32, then CPU (fp32 there).
      expect(fallback.fallbacks[0]).toMatch(/^could not load transformer on webgpu \(fp16 compute\) \(.+\); using webgpu \(fp32 compute\)$/);
      expect(fallback.fallbacks[1]).toMatch(/^could not load transformer on webgpu \(fp32 compute\) \(.+\); using cpu \(fp32 compute\)$/);
      expect(fallback.fallbacks.slice(2).every((f) => /^could not load \w+ on webgpu \(.+\); using cpu$/.test(f))).toBe(true);
      expect(fallback.compute).toBe('fp32');
      expect(cpu.fallbacks).toEqual([]);
      const req = {
        width: 64, height: 48, frames: Array(9).fill(null), masks: Array(9).fill(null),
        prompt: 'a', negativePrompt: '', seed: 5, stream: 0, steps: 2, guidance: 3, strength: 1, conditioning: 'per-token' as const, fps: 24,
      };
      const [a, b] = [await fallback.generate(req), await cpu.generate(req)];
      expect(Buffer.compare(Buffer.from(a.frames[4]!.data), Buffer.from(b.frames[4]!.data))).toBe(0);
    } finally {
      await fallback.close();
      await cpu.close();
    }
  });

  it('with no provider that works the error says which were tried', async () => {
    const stages = new StageSessions({ ...tiny.graphs, transformer: path.join(tiny.dir, 'missing.onnx') }, { providers: ['cpu'] });
    await expect(stages.load('textEncoder')).resolves.toBeUndefined();
    await expect(stages.load('transformer')).rejects.toThrow();
    await stages.releaseAll();
  });
});

describe('stage-by-stage loading', () => {
  it('within a small budget only the stage in use stays open; results do not change', async () => {
    const all = new StageSessions(tiny.graphs, { providers: ['cpu'] });
    const total = all.totalBytes();
    // A budget a little over the biggest graph: every new stage pushes the others out.
    const one = new StageSessions(tiny.graphs, { providers: ['cpu'], budgetBytes: Math.ceil(total * 0.6) });
    await one.load('transformer');
    await one.load('textEncoder');
    await one.load('vaeDecoder');
    expect(one.resident().length).toBeLessThan(3);
    expect(one.resident()).toContain('vaeDecoder');
    await all.load('transformer');
    await all.load('textEncoder');
    await all.load('vaeDecoder');
    expect(all.resident().sort()).toEqual(['textEncoder', 'transformer', 'vaeDecoder']);
    await one.releaseAll();
    await all.releaseAll();
  });
});

describe('prompt embeddings', () => {
  it('the text encoder runs once per distinct prompt; the cache returns the same numbers', async () => {
    const rt = await loadRuntime(tiny, { providers: ['cpu'] });
    try {
      const a = await rt.encodeText('a red door');
      const again = await rt.encodeText('a red door');
      const b = await rt.encodeText('a blue door');
      expect(again.embeds).toEqual(a.embeds);
      expect(b.embeds).not.toEqual(a.embeds);
    } finally {
      await rt.release();
    }
  });

  it('on disk: a second process reuses the embedding; a damaged file is ignored and replaced', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'reshoot-prompts-'));
    try {
      const ids = BigInt64Array.from([5n, 6n, 7n, 0n]);
      const mask = BigInt64Array.from([1n, 1n, 1n, 0n]);
      const embeds = Float32Array.from({ length: 4 * 3 }, (_, i) => i / 7);
      const first = new PromptCache(dir);
      await first.get(ids, mask, async () => embeds);
      expect(first.encoderRuns).toBe(1);
      const second = new PromptCache(dir);
      const hit = await second.get(ids, mask, async () => new Float32Array(12));
      expect(second.encoderRuns).toBe(0);
      expect(hit.embeds).toEqual(embeds);
      expect(Array.from(hit.mask)).toEqual([1, 1, 1, 0]);
      // Truncate the file: it is not trusted, the encoder runs again and the file is rewritten.
      const cacheDir = path.join(dir, '.prompt-cache');
      const file = readdirSync(cacheDir).find((f) => f.endsWith('.f32'))!;
      truncateSync(path.join(cacheDir, file), 5);
      const third = new PromptCache(dir);
      const redone = await third.get(ids, mask, async () => embeds);
      expect(third.encoderRuns).toBe(1);
      expect(redone.embeds).toEqual(embeds);
      expect(readdirSync(cacheDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
