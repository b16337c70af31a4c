/**
 * The transformer's compute precision chosen at render (companion/models/computeVariant.ts,
 * stages.ts): `auto` is fp32 on the CPU provider and fp16 on GPU providers; forcing fp16 runs the
 * half-compute variant, made beside the model over the same stored weights. There is no GPU here,
 * so the fp16 path runs on the CPU provider (its fp16 kernels are slow but exact to fp16).
 *
 * Tolerance end to end (builtin:tiny, 3 steps, 8-bit frames): mean |fp16 − fp32| ≤ 0.25 level
 * and every pixel within 4 levels (measured: 8 steps, 17 frames, mean 0.027, max 1); the velocity
 * over int8 weights (seeded inputs) cosine ≥ 0.999.
 */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobSpec } from '../../protocol/index.ts';
import { Engine } from '../../companion/engine/engine.ts';
import { loadRuntime } from '../../companion/engine/runtime.ts';
import { StageSessions } from '../../companion/engine/stages.ts';
import { runJob } from '../../companion/jobs/run.ts';
import { attentionChoice } from '../../companion/engine/attentionProbe.ts';
import { computeChoice, HALF_GRAPH_FILE, halfComputeGraph, transformerVariant } from '../../companion/models/computeVariant.ts';
import { LTXV_QUANTIZE, ltxvTransformerGraph } from '../../companion/models/ltxv/transformer.ts';
import type { WeightSource } from '../../companion/models/onnx/graph.ts';
import { inspectModel } from '../../companion/models/onnx/inspect.ts';
import { cosine } from '../../companion/models/parity.ts';
import { loadModel } from '../../companion/models/registry.ts';
import { tinyTransformerConfig } from '../../companion/models/tiny.ts';
import type { ModelHandle } from '../../companion/models/types.ts';
import { seededWeights } from '../../companion/models/weights.ts';
import { FPS, losslessClip, readAll, tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { runTransformer, transformerFeeds } from '../helpers/transformerRun.ts';

useTestModelCache();

const tmp = tempDir('reshoot-compute-');
let tiny: ModelHandle;
/** A private copy of the tiny model: these tests write its fp16 variant and rewrite its transformer. */
let copy: ModelHandle;

beforeAll(async () => {
  tiny = await loadModel('builtin:tiny');
  const dir = mkdtempSync(path.join(tmpdir(), 'reshoot-compute-model-'));
  for (const f of readdirSync(tiny.dir)) if (!f.startsWith(HALF_GRAPH_FILE)) copyFileSync(path.join(tiny.dir, f), path.join(dir, f));
  const graphs = Object.fromEntries(Object.entries(tiny.graphs).map(([k, p]) => [k, path.join(dir, path.basename(p))])) as ModelHandle['graphs'];
  copy = { ...tiny, dir, graphs };
});
afterAll(() => {
  tmp.cleanup();
  rmSync(copy.dir, { recursive: true, force: true });
});

const noWeights: WeightSource = () => {
  throw new Error('no weight bytes here');
};

describe('compute precision at render', () => {
  it('auto computes fp32 on CPU; forced fp16 renders end to end, provenance says fp16, frames within tolerance of fp32', async () => {
    const W = 128;
    const H = 72;
    const source = await losslessClip(tmp.dir, 'source.mkv', W, H, 12);
    const auto = await Engine.open('builtin:tiny', ['cpu'], 'auto');
    const half = await Engine.open('builtin:tiny', ['cpu'], 'fp16');
    try {
      expect(auto.compute).toBe('fp32');
      expect(half.compute).toBe('fp16');
      expect(half.fallbacks).toEqual([]);
      const render = async (engine: Engine, name: string) => {
        const out = path.join(tmp.dir, name);
        const spec = parseJobSpec({
          kind: 'extend', seed: 3, steps: 3, sequence: { fps: '24000/1001', width: W, height: H },
          source: { path: source }, extend: { direction: 'tail', duration: { frames: 9 } }, output: { format: 'ffv1', path: out },
        });
        const r = await runJob(spec, { engine });
        return { side: JSON.parse(readFileSync(r.sidecar, 'utf8')), frames: await readAll(out, FPS, 9) };
      };
      const a = await render(auto, 'fp32.mkv');
      const b = await render(half, 'fp16.mkv');
      expect(a.side.transformer).toMatchObject({ compute: 'fp32', attention: 'fused' });
      expect(b.side.transformer).toMatchObject({ compute: 'fp16', attention: 'fused' });
      expect(b.side.provider).toBe('cpu');
      expect(b.frames).toHaveLength(9);
      let sum = 0;
      let max = 0;
      let n = 0;
      let differ = 0;
      for (let f = 0; f < 9; f++) {
        const x = a.frames[f]!.data;
        const y = b.frames[f]!.data;
        for (let i = 0; i < x.length; i++) {
          const d = Math.abs(x[i]! - y[i]!);
          sum += d;
          max = Math.max(max, d);
          if (d) differ++;
          n++;
        }
      }
      expect(sum / n).toBeLessThanOrEqual(0.25);
      expect(max).toBeLessThanOrEqual(4);
      expect(differ).toBeGreaterThan(0); // it really computed in another precision
    } finally {
      await auto.close();
      await half.close();
    }
  });

  it('the plain-attention variant (what a WebGPU adapter failing the fused check runs) is built like the fp16 one: over the stored weights, same velocity', async () => {
    const stored = inspectModel(copy.graphs.transformer);
    expect(stored.metadata['reshoot.attention']).toBe('fused');
    // Asking for what is stored gives the stored graph itself.
    expect(transformerVariant(copy, { attention: 'fused', compute: 'fp32' })).toBe(copy.graphs.transformer);
    const plain16 = transformerVariant(copy, { attention: 'plain', compute: 'fp16' });
    const plain32 = transformerVariant(copy, { attention: 'plain', compute: 'fp32' });
    expect([path.basename(plain16), path.basename(plain32)]).toEqual(['transformer.plain.fp16.onnx', 'transformer.plain.onnx']);
    for (const [v, compute] of [[plain16, 'fp16'], [plain32, 'fp32']] as const) {
      const made = inspectModel(v);
      expect(made.metadata).toMatchObject({ 'reshoot.attention': 'plain', 'reshoot.compute': compute });
      expect(made.initializers.map((t) => [t.name, t.external])).toEqual(stored.initializers.map((t) => [t.name, t.external]));
      expect(existsSync(`${v}.data`)).toBe(false);
    }
    const mtime = statSync(plain16).mtimeMs;
    expect(transformerVariant(copy, { attention: 'plain', compute: 'fp16' })).toBe(plain16);
    expect(statSync(plain16).mtimeMs).toBe(mtime);
    // Plain and fused attention compute the same thing (fp32, CPU): the variant is the same model.
    const f = transformerFeeds(copy.manifest.transformer, { batch: 1, grid: { frames: 2, height: 4, width: 8 }, textTokens: copy.manifest.text.maxTokens });
    const fused = await runTransformer(copy.graphs.transformer, f);
    const plain = await runTransformer(plain32, f);
    expect(Math.max(...fused.map((x, i) => Math.abs(x - plain[i]!)))).toBeLessThanOrEqual(1e-5);
    // A runtime told to use plain attention opens that variant (on the CPU too when forced) and says so.
    const rt = await loadRuntime(copy, { providers: ['cpu'], attention: 'plain' });
    try {
      expect(rt.attention).toEqual({ impl: 'plain', reason: 'plain attention forced by RESHOOT_ATTENTION=plain' });
      expect(rt.fusedAttention).toBe(false);
    } finally {
      await rt.release();
    }
    expect(attentionChoice('fused')).toBe('fused');
    expect(() => attentionChoice('flash')).toThrow('unknown attention "flash" (RESHOOT_ATTENTION: one of auto, fused, plain)');
  });

  it('the fp16 variant is one small graph over the stored weights: no second copy; reused, and rebuilt when the transformer changes', () => {
    const variant = halfComputeGraph(copy);
    expect(variant).toBe(path.join(copy.dir, HALF_GRAPH_FILE));
    const stored = inspectModel(copy.graphs.transformer);
    const made = inspectModel(variant);
    expect(made.metadata['reshoot.compute']).toBe('fp16');
    expect(made.metadata['reshoot.weights']).toBe(stored.metadata['reshoot.weights']);
    // Every weight is the stored graph's bytes, at the same place in the same file.
    expect(made.initializers.map((t) => [t.name, t.external])).toEqual(stored.initializers.map((t) => [t.name, t.external]));
    expect(made.initializers.every((t) => t.rawBytes === undefined)).toBe(true);
    expect(existsSync(`${variant}.data`)).toBe(false);
    expect(statSync(variant).size).toBeLessThan(statSync(`${copy.graphs.transformer}.data`).size / 5);

    const before = statSync(variant).mtimeMs;
    expect(halfComputeGraph(copy)).toBe(variant);
    expect(statSync(variant).mtimeMs).toBe(before);

    // Another transformer over the same weights (plain attention): the variant follows it.
    ltxvTransformerGraph(copy.manifest.transformer, noWeights, { attention: 'plain' }).saveOver(copy.dir, 'transformer.onnx', stored.initializers);
    halfComputeGraph(copy);
    expect(inspectModel(variant).metadata['reshoot.attention']).toBe('plain');
  });

  it('over int8 weights the fp16 variant casts the scales and matches the int8 fp32 graph (velocity cosine ≥ 0.999)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'reshoot-compute-int8-'));
    try {
      // 128-wide Linears so the int8 blocks (128) are whole, as at the real widths.
      const c = { ...tinyTransformerConfig, numAttentionHeads: 4, attentionHeadDim: 32, crossAttentionDim: 128 };
      const q = ltxvTransformerGraph(c, seededWeights(5)).save(dir, 'int8.onnx', {
        storage: (p) => (p.init.kind === 'linear' && LTXV_QUANTIZE.test(p.name) ? 'int8' : 'fp32'),
      });
      expect(q.quantized.length).toBeGreaterThan(0);
      const half = ltxvTransformerGraph(c, noWeights, { compute: 'fp16' }).saveOver(dir, 'int8-fp16.onnx', inspectModel(q.onnxPath).initializers);
      const feeds = transformerFeeds(c, { batch: 2, grid: { frames: 2, height: 4, width: 4 }, textTokens: 12 });
      const full = await runTransformer(q.onnxPath, feeds);
      const low = await runTransformer(half.onnxPath, feeds);
      expect(cosine(full, low)).toBeGreaterThanOrEqual(0.999);
      expect(inspectModel(half.onnxPath).opTypes).toContain('MatMulNBits');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a model whose fp16 graph cannot be made or run falls back to fp32 on the same provider, with a message', async () => {
    // Import kept weights in fp32 because they exceed fp16's range: no fp16 compute for this model.
    const precision = { transformer: { stored: 'fp16' as const, keptFp32: ['transformer_blocks.0.ff.net.2.weight'], notes: [] } };
    const handle: ModelHandle = { ...copy, manifest: { ...copy.manifest, precision } };
    const rt = await loadRuntime(handle, { providers: ['cpu'], compute: 'fp16' });
    try {
      expect(rt.provider).toBe('cpu');
      expect(rt.compute).toBe('fp32');
      expect(rt.fallbacks).toHaveLength(1);
      expect(rt.fallbacks[0]).toMatch(/^could not load transformer on cpu \(fp16 compute\) \(.*beyond fp16's range.*\); using cpu \(fp32 compute\)$/);
    } finally {
      await rt.release();
    }
  });

  it('an fp16 result that overflowed is computed again in fp32 at any step; in fp32 it is an error', async () => {
    const stages = new StageSessions(tiny.graphs, { providers: ['cpu'], half: { compute: () => 'fp16', graph: () => halfComputeGraph(copy) } });
    try {
      const feeds = transformerFeeds(tiny.manifest.transformer, { batch: 1, grid: { frames: 2, height: 3, width: 4 }, textTokens: tiny.manifest.text.maxTokens });
      await stages.run('transformer', feeds.feeds);
      expect(stages.computeOf('transformer')).toBe('fp16');
      // The second run "overflows" in fp16 (the check objects while the stage computes fp16).
      const out = await stages.run('transformer', feeds.feeds, () => (stages.computeOf('transformer') === 'fp16' ? 'velocity has a non-finite value' : null));
      expect(out.velocity!.dims).toEqual([1, 24, tiny.manifest.transformer.outChannels]);
      expect(stages.computeOf('transformer')).toBe('fp32');
      expect(stages.fallbacks).toEqual(['transformer (fp16 compute) gave unusable output on cpu (fp16 compute) (velocity has a non-finite value); using cpu (fp32 compute)']);
      await expect(stages.run('transformer', feeds.feeds, () => 'still bad')).rejects.toThrow('transformer (fp32 compute) gave unusable output: still bad');
    } finally {
      await stages.releaseAll();
    }
  });

  it('RESHOOT_COMPUTE / --compute takes auto, fp32 or fp16; anything else is one clear error', () => {
    expect(computeChoice('fp16')).toBe('fp16');
    expect(computeChoice(undefined)).toBe(process.env.RESHOOT_COMPUTE || 'auto');
    expect(() => computeChoice('bf16')).toThrow('unknown compute precision "bf16" (one of auto, fp32, fp16; RESHOOT_COMPUTE or --compute)');
  });
});
