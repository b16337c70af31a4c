/**
 * Context guidance (models/types.ts SchedulerDefaults.contextGuidance): classifier-free guidance
 * by the known frames. With the real tiny-model graphs:
 *  - the math: v_c + (s − 1)·(v_c − v_nc) on generated tokens, known tokens untouched;
 *  - the plan: the scale on steps at σ ≥ minSigma, off below and for models without it;
 *  - the sampler: a one-step window gives exactly x − v with v from the two passes computed here
 *    by hand (the second over the generated tokens alone, at their own RoPE rows); the extra pass
 *    runs only where a window has known tokens and conditioning is per-token; known tokens stay
 *    bit-exact; the same seed gives the same latents;
 *  - bad settings are refused: in a manifest, and in builtin:shapes' sampling.json by file name.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denoisePass, encodeKnown, encodePrompts, generatedAlone, samplingPlan, windowLayout, type WindowRequest } from '../../companion/engine/generate.ts';
import { addContextGuidance } from '../../companion/engine/guidance.ts';
import { loadRuntime, type ModelRuntime } from '../../companion/engine/runtime.ts';
import { addNoise, timestepFor } from '../../companion/engine/scheduler.ts';
import { Rng } from '../../companion/engine/noise.ts';
import type { Frame } from '../../companion/media/frame.ts';
import { syntheticFrame } from '../../companion/media/synthetic.ts';
import { modelManifestSchema } from '../../companion/models/manifest.ts';
import { loadModel } from '../../companion/models/registry.ts';
import { SHAPES_WEIGHTS_DIR, shapesSampling } from '../../companion/models/shapes.ts';
import type { ModelHandle, ModelManifest } from '../../companion/models/types.ts';
import { tempDir, useTestModelCache } from '../helpers/fixtures.ts';

useTestModelCache();

const W = 64;
const H = 48;
const tmp = tempDir();
let tiny: ModelHandle;
const runtimes: ModelRuntime[] = [];

beforeAll(async () => {
  tiny = await loadModel('builtin:tiny');
});
afterAll(async () => {
  for (const rt of runtimes) await rt.release();
  tmp.cleanup();
});

function withContext(m: ModelManifest, cg: { scale: number; minSigma: number } | undefined, steps: number): ModelManifest {
  const { contextGuidance: _, ...scheduler } = m.scheduler;
  return { ...m, scheduler: { ...scheduler, steps, ...(cg ? { contextGuidance: cg } : {}) } };
}

async function runtime(cg: { scale: number; minSigma: number } | undefined, steps: number): Promise<ModelRuntime> {
  const rt = await loadRuntime({ ...tiny, manifest: withContext(tiny.manifest, cg, steps) }, { providers: ['cpu'] });
  runtimes.push(rt);
  return rt;
}

/** Extend-like window: two frames known (the second twice: padding repeats), six to generate. */
function request(steps: number, known = true, conditioning: WindowRequest['conditioning'] = 'per-token'): WindowRequest {
  const first = syntheticFrame(0, W, H);
  const second = syntheticFrame(1, W, H);
  return {
    width: W,
    height: H,
    frames: known ? [first, second, second, ...Array<Frame | null>(6).fill(null)] : Array<Frame | null>(9).fill(null),
    masks: Array(9).fill(null),
    prompt: 'a boat',
    negativePrompt: '',
    seed: 5,
    stream: 0,
    steps,
    guidance: 1,
    strength: 1,
    conditioning,
    fps: 24,
  };
}

const none = () => {};
const never = () => false;

/** Runs one pass with the runtime watched: the token count of every transformer call, and the latents. */
async function pass(rt: ModelRuntime, req: WindowRequest) {
  const calls: number[] = [];
  const watched: ModelRuntime = Object.create(rt, {
    velocity: { value: (...a: Parameters<ModelRuntime['velocity']>) => (calls.push(a[2].length / a[1]), rt.velocity(...a)) },
  });
  const layout = windowLayout(rt.manifest, req.frames, req.masks, W, H);
  const plan = samplingPlan(rt.manifest, req, layout.tokens);
  const text = await encodePrompts(rt, req.prompt, plan.negativePrompt, plan.anyCfg);
  const x0 = await encodeKnown(rt, req.frames, layout, W, H);
  const { x } = await denoisePass(watched, { req, layout, x0, plan, text, stream: 0, stepBase: 0, totalSteps: req.steps }, none, never);
  return { x, x0, calls, layout, plan, text };
}

describe('context guidance', () => {
  it('adds (s − 1)·(v_c − v_nc) on generated tokens and leaves known ones alone', () => {
    const C = 2;
    const cond = Float32Array.of(1, 2, 3, 4, 5, 6);
    const out = Float32Array.from(cond);
    // Tokens 0 and 2 generated; their context-free velocities in order.
    addContextGuidance(out, cond, Float32Array.of(0, 0, 1, 1), Int32Array.of(0, 2), C, 4);
    expect(Array.from(out)).toEqual([4, 8, 3, 4, 5 + 3 * 4, 6 + 3 * 5]);
  });

  it('runs at σ ≥ minSigma and not below; models without it never run it', async () => {
    const req = request(4);
    const m = withContext(tiny.manifest, { scale: 3, minSigma: 0.5 }, 4);
    const plan = samplingPlan(m, req, 100);
    const scales = Array.from(plan.sigmas.subarray(0, -1), (s) => plan.weightsAt(s).context);
    const want = Array.from(plan.sigmas.subarray(0, -1), (s) => (s >= 0.5 ? 3 : 1));
    expect(scales).toEqual(want);
    expect(scales).toContain(1);
    expect(scales).toContain(3);
    expect(plan.anyContext).toBe(true);
    const off = samplingPlan(withContext(tiny.manifest, undefined, 4), req, 100);
    expect(off.anyContext).toBe(false);
    expect(off.weightsAt(1).context).toBe(1);
  });

  it('one step: x − v with v = v_c + (s − 1)·(v_c − v_nc), v_nc from the generated tokens alone at their own RoPE rows', async () => {
    const rt = await runtime({ scale: 3, minSigma: 0 }, 1);
    const req = request(1);
    const got = await pass(rt, req);
    const { layout, x0, text } = got;
    const C = rt.manifest.latent.channels;
    const S = layout.tokens;
    const D = rt.manifest.transformer.numAttentionHeads * rt.manifest.transformer.attentionHeadDim;
    const rope = rt.rope(layout.grid, req.fps);
    // The generated tokens and their RoPE rows, picked here by hand.
    const index = Array.from(layout.tokenMask.keys()).filter((t) => layout.tokenMask[t] === 1);
    const rows = (a: Float32Array) => Float32Array.from(index.flatMap((t) => Array.from(a.subarray(t * D, (t + 1) * D))));
    const alone = { index, rope: { cos: rows(rope.cos), sin: rows(rope.sin) } };
    expect(index.length).toBe(layout.generatedTokens);
    expect(Array.from(generatedAlone(layout.tokenMask, rope)!.index)).toEqual(index);
    expect(got.calls).toEqual([S, layout.generatedTokens]);

    // By hand: the start (generated tokens at σ 1 = the noise, known ones at the source), both passes.
    const sigma = got.plan.sigmas[0]!;
    const x = addNoise(x0, new Rng(req.seed, 0).normal(new Float32Array(S * C)), sigma);
    for (let t = 0; t < S; t++) if (layout.tokenMask[t] === 0) x.set(x0.subarray(t * C, (t + 1) * C), t * C);
    const timestep = layout.tokenMask.map((m) => timestepFor(sigma * m));
    const vc = await rt.velocity(x, 1, timestep, text.cond, rope);
    const sub = new Float32Array(alone.index.length * C);
    alone.index.forEach((t, k) => sub.set(x.subarray(t * C, (t + 1) * C), k * C));
    const vnc = await rt.velocity(sub, 1, Float32Array.from(alone.index, (t) => timestep[t]!), text.cond, alone.rope);
    let worst = 0;
    let changed = 0;
    alone.index.forEach((t, k) => {
      for (let c = 0; c < C; c++) {
        const v = vc[t * C + c]! + 2 * (vc[t * C + c]! - vnc[k * C + c]!);
        const want = x[t * C + c]! + (got.plan.sigmas[1]! - sigma) * v;
        worst = Math.max(worst, Math.abs(got.x[t * C + c]! - want));
        changed = Math.max(changed, Math.abs(vc[t * C + c]! - vnc[k * C + c]!));
      }
    });
    expect(changed).toBeGreaterThan(1e-3); // the known frames do change the generated tokens' velocity
    expect(worst).toBeLessThan(1e-5);
    for (let t = 0; t < S; t++) {
      if (layout.tokenMask[t] !== 0) continue;
      for (let c = 0; c < C; c++) expect(got.x[t * C + c]).toBe(x0[t * C + c]);
    }
  });

  it('runs only on steps that ask for it, only with known tokens and per-token conditioning; same seed, same latents', async () => {
    const rt = await runtime({ scale: 3, minSigma: 0.5 }, 4);
    const a = await pass(rt, request(4));
    const S = a.layout.tokens;
    const G = a.layout.generatedTokens;
    const want = Array.from(a.plan.sigmas.subarray(0, -1)).flatMap((s) => (s >= 0.5 ? [S, G] : [S]));
    expect(a.calls).toEqual(want);
    expect(a.calls.filter((n) => n === G).length).toBeGreaterThan(0);
    const b = await pass(rt, request(4));
    expect(Buffer.from(b.x.buffer).equals(Buffer.from(a.x.buffer))).toBe(true);
    const plain = await pass(await runtime(undefined, 4), request(4));
    expect(Buffer.from(plain.x.buffer).equals(Buffer.from(a.x.buffer))).toBe(false);

    // Nothing known: nothing to guide by. Blending: the known tokens are noised in the sequence, so no context-free pass.
    expect((await pass(rt, request(4, false))).calls).toEqual([S, S, S, S]);
    expect((await pass(rt, request(4, true, 'blend'))).calls).toEqual([S, S, S, S]);
  });

  it('refuses a scale of 1 or less, or a minSigma outside [0, 1], naming the field', () => {
    for (const cg of [{ scale: 1, minSigma: 0.5 }, { scale: 3, minSigma: 1.5 }]) {
      const r = modelManifestSchema.safeParse(withContext(tiny.manifest, cg, 4));
      expect(r.success).toBe(false);
      expect(r.error!.issues[0]!.path.join('.')).toMatch(/^scheduler\.contextGuidance\.(scale|minSigma)$/);
    }
    expect(modelManifestSchema.safeParse(withContext(tiny.manifest, { scale: 3, minSigma: 0.5 }, 4)).success).toBe(true);
  });

  it("builtin:shapes' sampling.json: the shipped one parses; a bad one is refused by file and field", () => {
    expect(shapesSampling().contextGuidance.scale).toBeGreaterThan(1);
    const dir = join(tmp.dir, 'shapes-bad');
    mkdirSync(dir);
    cpSync(join(SHAPES_WEIGHTS_DIR, 'sampling.json'), join(dir, 'sampling.json'));
    writeFileSync(join(dir, 'sampling.json'), JSON.stringify({ contextGuidance: { scale: 0.5, minSigma: 0.5 } }));
    expect(() => shapesSampling(dir)).toThrow(/sampling\.json: contextGuidance\.scale: /);
    writeFileSync(join(dir, 'sampling.json'), '{ "contextGuidance": ');
    expect(() => shapesSampling(dir)).toThrow(/sampling\.json: .*JSON/);
    expect(() => shapesSampling(join(tmp.dir, 'nowhere'))).toThrow(/nowhere.*sampling\.json/);
  });
});
