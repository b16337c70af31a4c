/**
 * The device-resident step on WebGPU (engine/deviceSteps.ts, devicePass.ts) against the copying
 * step on the same provider, on lavapipe (test/helpers/webgpu.ts): the same latents, the same
 * pixels, and what crosses between host and device per step, counted by the runtime.
 *
 * Tolerance: the resident step computes guidance and Euler in float32 on the device, the copying
 * one in JavaScript doubles stored to float32, so final latents may differ by float rounding that
 * the steps carry on: max |Δ| ≤ 1e-4 of the latents' largest value (measured in the log); frames
 * within 1 level (8-bit), with most bytes equal.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { parseJobSpec } from '../../protocol/index.ts';
import { Engine } from '../../companion/engine/engine.ts';
import { denoisePass, encodeKnown, encodePrompts, samplingPlan, windowLayout, type WindowRequest } from '../../companion/engine/generate.ts';
import { loadRuntime, type DeviceRuntime, type ModelRuntime } from '../../companion/engine/runtime.ts';
import { applyGuidance, eulerStep } from '../../companion/engine/scheduler.ts';
import { runJob } from '../../companion/jobs/run.ts';
import type { Frame } from '../../companion/media/frame.ts';
import { loadModel } from '../../companion/models/registry.ts';
import { FPS, losslessClip, readAll, tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { describeWebGpu } from '../helpers/webgpu.ts';

useTestModelCache();
const tmp = tempDir('reshoot-resident-');
afterAll(() => tmp.cleanup());

const W = 128;
const H = 72;
const FRAMES = 17;

/** An extension-shaped window: the first 9 frames known, the rest generated; CFG on (batch 2). */
let known: Promise<Frame[]> | null = null;
async function request(): Promise<WindowRequest> {
  const source = await (known ??= losslessClip(tmp.dir, 'window.mkv', W, H, 9).then((p) => readAll(p, FPS, 9)));
  return {
    width: W, height: H, frames: [...source, ...Array(FRAMES - 9).fill(null)], masks: Array(FRAMES).fill(null),
    prompt: 'a door', negativePrompt: '', seed: 11, stream: 0, steps: 4, guidance: 3, strength: 1, conditioning: 'per-token', fps: 24,
  };
}

/** One pass through the engine's own functions, with the bytes that crossed during its steps. */
async function pass(rt: ModelRuntime, req: WindowRequest) {
  const layout = windowLayout(rt.manifest, req.frames, req.masks, W, H);
  const plan = samplingPlan(rt.manifest, req, layout.tokens);
  const text = await encodePrompts(rt, req.prompt, plan.negativePrompt, plan.anyCfg);
  const x0 = await encodeKnown(rt, req.frames, layout, W, H);
  const before = { ...rt.io };
  const steps = plan.sigmas.length - 1;
  const seen: number[] = [];
  const { x, stepMs } = await denoisePass(rt, { req, layout, x0, plan, text, stream: 0, stepBase: 0, totalSteps: steps }, (s) => seen.push(s.step), () => false);
  return { x, x0, layout, text, steps, seen, stepMs, toDevice: rt.io.toDevice - before.toDevice, toHost: rt.io.toHost - before.toHost };
}

describeWebGpu('device-resident steps on WebGPU (lavapipe)', () => {
  it('a window: the same latents as the copying step; per step only the timesteps go up and one float comes back', async () => {
    const tiny = await loadModel('builtin:tiny');
    const req = await request();
    const copying = await loadRuntime(tiny, { providers: ['webgpu'], compute: 'fp32', resident: false });
    const resident = await loadRuntime(tiny, { providers: ['webgpu'], compute: 'fp32', resident: true });
    try {
      expect(copying.device).toBeNull();
      expect(resident.device).not.toBeNull();
      const a = await pass(copying, req);
      const b = await pass(resident, req);
      expect(b.seen).toEqual([1, 2, 3, 4]);
      expect(b.stepMs).toHaveLength(4);

      let max = 0;
      let scale = 0;
      for (let i = 0; i < a.x.length; i++) {
        max = Math.max(max, Math.abs(a.x[i]! - b.x[i]!));
        scale = Math.max(scale, Math.abs(a.x[i]!));
      }
      // Known tokens are held to the source exactly either way (their step mask is 0).
      const C = tiny.manifest.latent.channels;
      const mask = a.layout.tokenMask;
      let knownMoved = 0;
      for (let t = 0; t < mask.length; t++) if (mask[t] === 0) for (let c = 0; c < C; c++) if (b.x[t * C + c] !== a.x0[t * C + c]) knownMoved++;
      console.log(`resident vs copying latents: max |Δ| ${max.toExponential(2)} of max |x| ${scale.toFixed(2)}; ${mask.length} tokens, ${a.layout.generatedTokens} generated`);
      expect(max).toBeLessThanOrEqual(1e-4 * scale);
      expect(knownMoved).toBe(0);

      // What crossed, by the shapes: B = 2 (CFG), N tokens, C channels, L text tokens of Dc, RoPE width D.
      const N = a.layout.tokens;
      const B = 2;
      const t = tiny.manifest.transformer;
      const L = a.text.cond.mask.length;
      const Dc = t.captionChannels;
      const D = t.numAttentionHeads * t.attentionHeadDim;
      const f = 4; // bytes per float32
      const stg = t.stg ? t.numLayers * B * f : 0;
      const copyStepUp = B * N * C * f + B * L * Dc * f + B * L * f + B * N * f + 2 * B * N * D * f + stg;
      expect(a.toDevice).toBe(a.steps * copyStepUp);
      expect(a.toHost).toBe(a.steps * B * N * C * f);
      const once = B * L * Dc * f + B * L * f + 2 * B * N * D * f + N * f + N * C * f + B * N * C * f; // text, mask, RoPE, step mask, x, hidden
      const residentStepUp = B * N * f + stg + 2 * f; // timesteps, STG zeros, dt and guidance
      expect(b.toDevice).toBe(once + b.steps * residentStepUp);
      expect(b.toHost).toBe(N * C * f + b.steps * f); // the final latents, and the non-finite check
      console.log(
        `bytes per step: copying ${copyStepUp} up / ${B * N * C * f} down; resident ${residentStepUp} up / 4 down (+ ${once} up once, ${N * C * f} down at the end)`,
      );
    } finally {
      await copying.release();
      await resident.release();
    }
  });

  it('the step graph: guidance and Euler as the copying step computes them; a non-finite velocity is reported', async () => {
    const tiny = await loadModel('builtin:tiny');
    const rt = await loadRuntime(tiny, { providers: ['webgpu'], compute: 'fp32', resident: true });
    try {
      const dev = rt.device!;
      const N = 5;
      const C = 3;
      const x = Float32Array.from({ length: N * C }, (_, i) => Math.sin(i));
      const v = Float32Array.from({ length: 2 * N * C }, (_, i) => Math.cos(i * 0.7) * 2);
      const m = Float32Array.of(1, 0, 1, 1, 0);
      expect(await dev.download(await dev.upload(x, [1, N, C]))).toEqual(x); // round trip, bit for bit
      const xd = await dev.upload(x, [1, N, C]);
      const scale = await dev.upload(m, [1, N, 1]);
      const r = await dev.step(xd, await dev.upload(v, [2, N, C]), scale, -0.25, 3);
      expect(r.nonFinite).toBe(false);
      const got = await dev.download(r.x);
      const hidden = await dev.download(r.hidden);
      const want = Float32Array.from(x);
      const guided = applyGuidance(v.slice(0, N * C), v.slice(N * C), 3);
      eulerStep(want, guided, 0.5, 0.25, C, m);
      for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(1e-6);
      expect(hidden).toEqual(Float32Array.from([...got, ...got]));
      const bad = Float32Array.from(v);
      bad[7] = Infinity;
      const r2 = await dev.step(xd, await dev.upload(bad, [2, N, C]), scale, -0.25, 3);
      expect(r2.nonFinite).toBe(true);
      for (const t of [xd, scale, r2.x, r2.hidden]) t.dispose();
    } finally {
      await rt.release();
    }
  });

  it('a velocity that overflows at step 3 hands the rest of the pass to the copying step: the same latents, 2 steps on the device', async () => {
    const tiny = await loadModel('builtin:tiny');
    const req = await request();
    const rt = await loadRuntime(tiny, { providers: ['webgpu'], compute: 'fp32', resident: true });
    try {
      const reference = await pass(rt, req);
      const real = rt.device!;
      let calls = 0;
      // The third device velocity comes back as Inf, as an fp16 overflow would.
      const overflowing: DeviceRuntime = {
        ...real,
        velocity: async (hidden, timestep, feeds) => {
          const v = await real.velocity(hidden, timestep, feeds);
          if (++calls !== 3) return v;
          const dims = v.dims;
          v.dispose();
          return real.upload(new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(Infinity), dims);
        },
      };
      const wrapped: ModelRuntime = Object.create(rt, { device: { get: () => overflowing } });
      const before = rt.io.deviceSteps;
      const b = await pass(wrapped, req);
      expect(rt.io.deviceSteps - before).toBe(2);
      expect(b.seen).toEqual([1, 2, 3, 4]);
      let max = 0;
      let scale = 0;
      for (let i = 0; i < b.x.length; i++) {
        max = Math.max(max, Math.abs(b.x[i]! - reference.x[i]!));
        scale = Math.max(scale, Math.abs(reference.x[i]!));
      }
      expect(max).toBeLessThanOrEqual(1e-4 * scale);
    } finally {
      await rt.release();
    }
  });

  it('a whole extend job: resident and copying WebGPU renders agree within 1 level, most bytes equal', async () => {
    const source = await losslessClip(tmp.dir, 'source.mkv', W, H, 12);
    const render = async (resident: boolean) => {
      // The engine's worker reads it when it loads the model.
      process.env.RESHOOT_WEBGPU_RESIDENT = resident ? '1' : '0';
      const engine = await Engine.open('builtin:tiny', ['webgpu'], 'fp32');
      try {
        const out = path.join(tmp.dir, `extend-${resident}.mkv`);
        const spec = parseJobSpec({
          kind: 'extend', seed: 5, steps: 3, guidance: 3, sequence: { fps: '24000/1001', width: W, height: H },
          source: { path: source }, extend: { direction: 'tail', duration: { frames: 9 } }, output: { format: 'ffv1', path: out },
        });
        const r = await runJob(spec, { engine });
        return { side: JSON.parse(readFileSync(r.sidecar, 'utf8')), frames: await readAll(out, FPS, 9), deviceSteps: engine.io.deviceSteps };
      } finally {
        await engine.close();
        delete process.env.RESHOOT_WEBGPU_RESIDENT;
      }
    };
    const copying = await render(false);
    const resident = await render(true);
    expect(resident.side.provider).toBe('webgpu');
    // Every step of the resident render ran on the device, none of the copying one's.
    expect(resident.deviceSteps).toBe(3);
    expect(copying.deviceSteps).toBe(0);
    expect(resident.frames).toHaveLength(copying.frames.length);
    let max = 0;
    let differ = 0;
    let total = 0;
    resident.frames.forEach((f, i) => {
      const g = copying.frames[i]!.data;
      for (let k = 0; k < f.data.length; k++) {
        const d = Math.abs(f.data[k]! - g[k]!);
        max = Math.max(max, d);
        if (d) differ++;
        total++;
      }
    });
    console.log(`extend, resident vs copying on webgpu: max ${max} level, ${differ} of ${total} bytes differ`);
    expect(max).toBeLessThanOrEqual(1);
    expect(differ / total).toBeLessThan(0.01);
  });
});
