/**
 * Stage-by-stage sessions, provider fallback and the prompt-embedding cache, with the real test
 * model and onnxruntime-node.
 */
import { mkdtempSync, readdirSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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

// No Vulkan driver for this process: WebGPU finds no adapter, whatever this machine has (each test
// file runs in its own process, and Dawn reads this when the first WebGPU session opens).
process.env.VK_ICD_FILENAMES = path.join(tmpdir(), 'reshoot-no-such-vulkan-driver.json');

describe('providers', () => {
  it('an explicit provider keeps CPU behind it; auto is every bundled one, CPU last', () => {
    expect(providersFor('cpu')).toEqual(['cpu']);
    expect(providersFor('webgpu')).toEqual(['webgpu', 'cpu']);
    expect(providersFor('auto')).toEqual(bundledProviders());
    expect(providersFor('auto').at(-1)).toBe('cpu');
    expect(() => providersFor('tpu')).toThrow(/unknown provider "tpu" \(one of auto, cuda, dml, coreml, webgpu, cpu\)/);
  });

  it.runIf(bundledProviders().includes('webgpu'))('a provider with no adapter is passed over with one message naming why, and the render is the same as on CPU', async () => {
    const fallback = await Engine.open('builtin:tiny', ['webgpu', 'cpu']);
    const cpu = await Engine.open('builtin:tiny', ['cpu']);
    try {
      expect(fallback.provider).toBe('cpu');
      // auto compute would try WebGPU in fp16, then in fp32, then CPU; with no adapter WebGPU is out
      // for every compute type and every stage after the first failure.
      expect(fallback.fallbacks).toHaveLength(1);
      expect(fallback.fallbacks[0]).toMatch(
        /^could not load transformer on webgpu \(fp16 compute\) \(no WebGPU adapter: Dawn found no usable GPU driver \(on Linux it needs libvulkan1 and a Vulkan 1\.3 driver; a software one for tests: \.ci\/lavapipe\.sh\)\); using cpu \(fp32 compute\)$/,
      );
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
