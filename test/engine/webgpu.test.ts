/**
 * The WebGPU provider, really run: onnxruntime-node's WebGPU (Dawn) on Mesa's lavapipe, a Vulkan
 * driver on the CPU (.ci/lavapipe.sh; test/helpers/webgpu.ts). Not a GPU figure and not GPU
 * speed, but the same provider, kernels and shaders an editor's GPU runs, so what breaks on
 * WebGPU breaks here first.
 *
 * Tolerances, measured on lavapipe (Mesa 25.0.7) with onnxruntime-node 1.30:
 *  - plain attention graph: velocity within 1e-5 of CPU (measured 3e-6): WebGPU's fp32 kernels
 *    are exact to float rounding.
 *  - fused attention (com.microsoft.MultiHeadAttention) at 24 tokens: the same 1e-5. Larger, it is
 *    not: ORT's WebGPU MultiHeadAttention takes a flash-attention path for head sizes that are a
 *    multiple of 4, and on lavapipe that path is off by up to 0.2 on unit-scale inputs once there
 *    are ≥ 26 queries and > 8 keys (builtin:tiny's velocity at 32 tokens: cosine 0.9998, max 0.12
 *    at RMS 1.1). Whether a hardware GPU shares it is unknown (no GPU here), so the engine checks
 *    each adapter before using the fused graph there (engine/attentionProbe.ts: max error ≤ 1e-3
 *    on unit-scale inputs, else the plain variant). The tests below hold that check to a direct
 *    measurement instead of pinning the defect, so they pass on a lavapipe with or without it.
 *  - forced fused vs forced plain on WebGPU at 64 tokens (fp32): plain within 1e-4 of CPU
 *    (measured 2.5e-6); fused, where the check fails, more than 100× further (measured 0.16).
 *  - fp16 compute graph on WebGPU vs fp32 on CPU: cosine ≥ 0.999 (measured 0.999993).
 *  - int8 / int4 weights (MatMulNBits, which WebGPU has kernels for): cosine ≥ 0.9999 against the
 *    same graph on CPU (measured 1 − 1e-13).
 *  - a whole fill (400 tokens, fp16 compute, the attention the check allows — plain on this
 *    lavapipe — and device-resident steps on WebGPU, fp32 on CPU): outside the mask bit-exact
 *    (the composite copies the source); inside mean ≤ 0.5 and max ≤ 8 levels of the CPU render
 *    (measured 0.213 / 3; the CPU provider's own fp16-vs-fp32 bound is 0.25 / 4). builtin:tiny's
 *    pictures cannot tell the two attentions apart (forced fused measured 0.214 / 3 as well): the
 *    velocity test above is the one that would see a wrong attention.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobSpec } from '../../protocol/index.ts';
import { Engine } from '../../companion/engine/engine.ts';
import { measureFusedAttention, PROBE_TOLERANCE, probeFusedAttention } from '../../companion/engine/attentionProbe.ts';
import { providerErrorReason } from '../../companion/engine/providers.ts';
import { loadRuntime } from '../../companion/engine/runtime.ts';
import { runJob } from '../../companion/jobs/run.ts';
import { LTXV_QUANTIZE, ltxvTransformerGraph } from '../../companion/models/ltxv/transformer.ts';
import { attr, GraphBuilder } from '../../companion/models/onnx/graph.ts';
import { inspectModel } from '../../companion/models/onnx/inspect.ts';
import { DataType } from '../../companion/models/onnx/proto.ts';
import { cosine } from '../../companion/models/parity.ts';
import { loadModel } from '../../companion/models/registry.ts';
import { tinyTransformerConfig } from '../../companion/models/tiny.ts';
import type { TransformerConfig } from '../../companion/models/types.ts';
import { seededNormals, seededWeights } from '../../companion/models/weights.ts';
import type { Frame } from '../../companion/media/frame.ts';
import { FPS, losslessClip, readAll, tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { transformerFeeds, type TransformerFeeds } from '../helpers/transformerRun.ts';
import { describeWebGpu } from '../helpers/webgpu.ts';

useTestModelCache();

const tmp = tempDir('reshoot-webgpu-');
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'reshoot-webgpu-graphs-'));
});
afterAll(() => {
  tmp.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** One run of a graph on a provider (the engine's options, minus the CPU arena setting). */
async function runOn(provider: 'cpu' | 'webgpu', graph: string, feeds: Record<string, ort.Tensor>): Promise<ort.InferenceSession.ReturnType> {
  const session = await ort.InferenceSession.create(graph, { executionProviders: [provider], graphOptimizationLevel: 'all', logSeverityLevel: 3 } as ort.InferenceSession.SessionOptions);
  try {
    return await session.run(feeds);
  } finally {
    await session.release();
  }
}

const velocityOn = async (provider: 'cpu' | 'webgpu', graph: string, f: TransformerFeeds) => (await runOn(provider, graph, f.feeds)).velocity!.data as Float32Array;

function errors(ref: Float32Array, got: Float32Array): { cosine: number; max: number; rms: number } {
  let max = 0;
  let sq = 0;
  for (let i = 0; i < ref.length; i++) {
    max = Math.max(max, Math.abs(ref[i]! - got[i]!));
    sq += ref[i]! * ref[i]!;
  }
  return { cosine: cosine(ref, got), max, rms: Math.sqrt(sq / ref.length) };
}

describe('WebGPU errors', () => {
  it('names a missing kernel and drops the source path from anything else', () => {
    expect(providerErrorReason('webgpu', new Error("/onnxruntime_src/x.cc:1 f() x was false. Non-zero status code returned while running MultiHeadAttention node. Name:'a' Status Message: input `key_padding_mask` not implemented for webgpu"))).toBe(
      'webgpu has no kernel for key_padding_mask (input `key_padding_mask` not implemented for webgpu)',
    );
    expect(providerErrorReason('cuda', new Error('/onnxruntime_src/onnxruntime/core/x.cc:12 onnxruntime::F() ok was false. out of memory\nmore'))).toBe('out of memory');
  });
});

describeWebGpu('WebGPU on a software Vulkan (lavapipe)', () => {
  const grid = { frames: 2, height: 4, width: 4 }; // 32 tokens

  it('plain attention: the velocity matches CPU to float rounding', async () => {
    const graph = ltxvTransformerGraph(tinyTransformerConfig, seededWeights(5), { attention: 'plain' }).save(dir, 'plain.onnx').onnxPath;
    const f = transformerFeeds(tinyTransformerConfig, { batch: 2, grid, textTokens: 8 });
    const e = errors(await velocityOn('cpu', graph, f), await velocityOn('webgpu', graph, f));
    console.log(`plain attention, webgpu vs cpu: cosine ${e.cosine}, max ${e.max.toExponential(2)} (rms ${e.rms.toFixed(3)})`);
    expect(e.max).toBeLessThanOrEqual(1e-5);
  });

  it('fused attention (builtin:tiny\'s graph, 24 tokens): the text mask runs as attention_bias; velocity matches CPU to float rounding', async () => {
    const tiny = await loadModel('builtin:tiny');
    expect(inspectModel(tiny.graphs.transformer).opTypes).toContain('MultiHeadAttention');
    // 24 tokens: below the size where lavapipe's flash-attention path goes wrong (checked below).
    const f = transformerFeeds(tiny.manifest.transformer, { batch: 2, grid: { frames: 2, height: 3, width: 4 }, textTokens: tiny.manifest.text.maxTokens });
    const e = errors(await velocityOn('cpu', tiny.graphs.transformer, f), await velocityOn('webgpu', tiny.graphs.transformer, f));
    console.log(`fused attention, webgpu vs cpu: cosine ${e.cosine}, max ${e.max.toExponential(2)} (rms ${e.rms.toFixed(3)})`);
    expect(e.max).toBeLessThanOrEqual(1e-5);
  });

  const mha = (S: number, L: number) => {
    const H = 1;
    const Dh = 16;
    const g = new GraphBuilder('mha', () => {
      throw new Error('no weights');
    });
    const [q, k, v] = [['q', S], ['k', L], ['v', L]].map(([n, len]) => g.input(n as string, DataType.FLOAT, [1, len as number, H * Dh]));
    g.output(g.msOp('MultiHeadAttention', [q!, k!, v!], { num_heads: attr.i(H), scale: attr.f(1 / Math.sqrt(Dh)) }), 'o', DataType.FLOAT, [1, S, H * Dh]);
    const graph = g.save(dir, `mha-${S}-${L}.onnx`).onnxPath;
    const feeds = { q: new ort.Tensor('float32', seededNormals(1, S * Dh), [1, S, Dh]), k: new ort.Tensor('float32', seededNormals(2, L * Dh), [1, L, Dh]), v: new ort.Tensor('float32', seededNormals(3, L * Dh), [1, L, Dh]) };
    return async () => errors((await runOn('cpu', graph, feeds)).o!.data as Float32Array, (await runOn('webgpu', graph, feeds)).o!.data as Float32Array);
  };

  it('MultiHeadAttention alone is exact below 26 queries or with ≤ 8 keys', async () => {
    for (const [S, L] of [[25, 25], [32, 8], [17, 9]] as const) expect((await mha(S, L)()).max).toBeLessThanOrEqual(1e-5);
  });

  // The fused-attention check (engine/attentionProbe.ts) against a measurement of its own, so
  // these pass whether or not this lavapipe has the flash-path defect, and fail if the check lies.
  it('the fused-attention check agrees with a direct measurement at 32 queries × 32 keys', async () => {
    const direct = await mha(32, 32)();
    const verdict = await probeFusedAttention('webgpu');
    console.log(
      `fused-attention check: ${verdict.ok ? 'passes' : 'fails'}, max error ${verdict.maxError.toExponential(2)} ` +
        `(${verdict.cases.map((c) => `${c.queries}×${c.keys}: ${c.maxError.toExponential(2)}`).join(', ')}; ${verdict.ms.toFixed(0)} ms); direct 32×32: ${direct.max.toExponential(2)}`,
    );
    expect(verdict.ok).toBe(direct.max <= PROBE_TOLERANCE);
    // Cached: the same verdict, not a second measurement.
    expect(await probeFusedAttention('webgpu')).toBe(verdict);
  });

  it('on this lavapipe the check says the fused kernel is broken, when a direct measurement says so', async (ctx) => {
    const direct = await mha(32, 32)();
    if (direct.max <= PROBE_TOLERANCE) {
      console.warn(`this lavapipe's fused attention is exact at 32×32 (max ${direct.max.toExponential(2)}): nothing broken to detect here`);
      ctx.skip();
    }
    const verdict = await probeFusedAttention('webgpu');
    expect(verdict.ok).toBe(false);
    expect(verdict.maxError).toBeGreaterThan(PROBE_TOLERANCE);
    // The CPU provider against itself: the same check passes with no error at all.
    const cpu = await measureFusedAttention('cpu');
    expect(cpu).toMatchObject({ ok: true, maxError: 0 });
  });

  it('RESHOOT_ATTENTION forces the attention on WebGPU; plain matches CPU, fused differs as far as the check says', async () => {
    const tiny = await loadModel('builtin:tiny');
    const grid = { frames: 2, height: 4, width: 8 }; // 64 tokens: above where the defect starts
    const f = transformerFeeds(tiny.manifest.transformer, { batch: 1, grid, textTokens: tiny.manifest.text.maxTokens });
    const data = (name: string) => f.feeds[name]!.data as Float32Array;
    const velocity = async (provider: 'cpu' | 'webgpu', forced: 'fused' | 'plain') => {
      const before = process.env.RESHOOT_ATTENTION;
      process.env.RESHOOT_ATTENTION = forced;
      try {
        // fp32 compute: what differs is the attention alone, not half precision.
        const rt = await loadRuntime(tiny, { providers: [provider], compute: 'fp32', resident: false });
        try {
          expect(rt.provider).toBe(provider);
          expect(rt.attention).toEqual({ impl: forced, reason: `${forced} attention forced by RESHOOT_ATTENTION=${forced}` });
          const text = { embeds: data('encoder_hidden_states'), mask: data('encoder_attention_mask'), batch: 1 };
          return await rt.velocity(data('hidden_states'), 1, data('timestep'), text, { cos: data('rope_cos'), sin: data('rope_sin') });
        } finally {
          await rt.release();
        }
      } finally {
        if (before === undefined) delete process.env.RESHOOT_ATTENTION;
        else process.env.RESHOOT_ATTENTION = before;
      }
    };
    const cpu = await velocity('cpu', 'fused');
    const plain = errors(cpu, await velocity('webgpu', 'plain'));
    const fused = errors(cpu, await velocity('webgpu', 'fused'));
    const verdict = await probeFusedAttention('webgpu');
    console.log(`64 tokens on webgpu vs cpu: plain max ${plain.max.toExponential(2)}; fused (forced) cosine ${fused.cosine}, max ${fused.max.toExponential(2)} (rms ${fused.rms.toFixed(3)}); check ${verdict.ok ? 'passes' : 'fails'}`);
    expect(plain.max).toBeLessThanOrEqual(1e-4);
    // Forced fused really ran the fused kernel: where the check says it is broken, it is off here too.
    if (!verdict.ok) expect(fused.max).toBeGreaterThan(100 * plain.max);
  });

  it('fp16 compute graph on WebGPU: velocity cosine ≥ 0.999 against fp32 on CPU', async () => {
    const c: TransformerConfig = tinyTransformerConfig;
    const full = ltxvTransformerGraph(c, seededWeights(5), { attention: 'plain' }).save(dir, 'f32.onnx');
    const half = ltxvTransformerGraph(c, () => {
      throw new Error('no weights');
    }, { attention: 'plain', compute: 'fp16' }).saveOver(dir, 'f16.onnx', inspectModel(full.onnxPath).initializers);
    const f = transformerFeeds(c, { batch: 2, grid, textTokens: 8 });
    const e = errors(await velocityOn('cpu', full.onnxPath, f), await velocityOn('webgpu', half.onnxPath, f));
    console.log(`fp16 compute on webgpu vs fp32 on cpu: cosine ${e.cosine}, max ${e.max.toExponential(2)}`);
    expect(e.cosine).toBeGreaterThanOrEqual(0.999);
  });

  for (const bits of ['int8', 'int4'] as const) {
    it(`${bits} weights (MatMulNBits) run on WebGPU and match the same graph on CPU`, async () => {
      // 128-wide Linears so the quantization blocks (128) are whole, as at the real widths.
      const c: TransformerConfig = { ...tinyTransformerConfig, numAttentionHeads: 4, attentionHeadDim: 32, crossAttentionDim: 128 };
      const q = ltxvTransformerGraph(c, seededWeights(5), { attention: 'plain' }).save(dir, `${bits}.onnx`, {
        storage: (p) => (p.init.kind === 'linear' && LTXV_QUANTIZE.test(p.name) ? bits : 'fp32'),
      });
      expect(inspectModel(q.onnxPath).opTypes).toContain('MatMulNBits');
      const f = transformerFeeds(c, { batch: 1, grid, textTokens: 8 });
      const e = errors(await velocityOn('cpu', q.onnxPath, f), await velocityOn('webgpu', q.onnxPath, f));
      console.log(`${bits} on webgpu vs cpu: cosine ${e.cosine}, max ${e.max.toExponential(2)} (rms ${e.rms.toFixed(3)})`);
      expect(e.cosine).toBeGreaterThanOrEqual(0.9999);
    });
  }

  it('a whole fill job forced onto WebGPU, above the fused kernel\'s defect size: auto computes fp16 with the attention the check allows, provenance says so, outside the mask bit-exact, inside close to the CPU render', async () => {
    // builtin:tiny's latent cell is 8 × 8 px × 2 frames: 128 × 72 × 9 frames is a window of
    // hundreds of tokens (logged), far above the 26 queries / 8 keys where lavapipe's fused
    // attention goes wrong.
    const W = 128;
    const H = 72;
    const N = 9;
    const source = await losslessClip(tmp.dir, 'source.mkv', W, H, N);
    const render = async (provider: 'cpu' | 'webgpu') => {
      const engine = await Engine.open('builtin:tiny', [provider], 'auto');
      try {
        const out = path.join(tmp.dir, `${provider}.mkv`);
        const spec = parseJobSpec({
          kind: 'fill', seed: 7, steps: 3, prompt: 'plate', sequence: { fps: '24000/1001', width: W, height: H },
          source: { path: source },
          mask: { type: 'shapes', shapes: [{ kind: 'rectangle', keyframes: [{ frame: 0, x: 40, y: 20, width: 48, height: 32 }] }] },
          output: { format: 'ffv1', path: out },
        });
        const r = await runJob(spec, { engine });
        return { side: JSON.parse(readFileSync(r.sidecar, 'utf8')), frames: await readAll(out, FPS, N), deviceSteps: engine.io.deviceSteps };
      } finally {
        await engine.close();
      }
    };
    const cpu = await render('cpu');
    const gpu = await render('webgpu');
    const src = await readAll(source, FPS, N);
    expect(gpu.side.provider).toBe('webgpu');
    expect(gpu.side.providerFallbacks).toEqual([]);
    expect(gpu.side.timings.tokensPerWindow[0]).toBeGreaterThanOrEqual(64);
    const verdict = await probeFusedAttention('webgpu');
    // The check's verdict decides the attention on WebGPU; the CPU keeps the stored fused graph.
    expect(gpu.side.transformer).toMatchObject({ compute: 'fp16', attention: verdict.ok ? 'fused' : 'plain' });
    expect(gpu.side.transformer.attentionReason).toMatch(verdict.ok ? /passed its check/ : /fails its check on this adapter .*using plain attention/);
    expect(cpu.side.transformer).toMatchObject({ compute: 'fp32', attention: 'fused' });
    expect(cpu.side.transformer.attentionReason).toBeUndefined();
    // The steps stayed on the device there (engine/devicePass.ts); the CPU has no such path.
    expect(gpu.deviceSteps).toBe(3);
    expect(cpu.deviceSteps).toBe(0);
    expect(gpu.frames).toHaveLength(N);
    const inside = (x: number, y: number) => x >= 40 && x < 88 && y >= 20 && y < 52;
    let sum = 0;
    let max = 0;
    let n = 0;
    let outsideDiffers = 0;
    gpu.frames.forEach((g: Frame, f) => {
      const c = cpu.frames[f]!.data;
      const s = src[f]!.data;
      for (let i = 0; i < g.data.length; i++) {
        const p = Math.floor(i / 3);
        if (!inside(p % W, Math.floor(p / W))) {
          if (g.data[i] !== s[i]) outsideDiffers++;
          continue;
        }
        const d = Math.abs(g.data[i]! - c[i]!);
        sum += d;
        max = Math.max(max, d);
        n++;
      }
    });
    console.log(`fill on webgpu (fp16, ${gpu.side.transformer.attention} attention) vs cpu (fp32, fused), ${gpu.side.timings.tokensPerWindow[0]} tokens: inside the mask mean ${(sum / n).toFixed(3)}, max ${max} levels`);
    expect(outsideDiffers).toBe(0);
    expect(sum / n).toBeLessThanOrEqual(0.5);
    expect(max).toBeLessThanOrEqual(8);
    expect(max).toBeGreaterThan(0); // it really ran elsewhere
  });
});
