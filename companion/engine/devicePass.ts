/**
 * A denoising pass with its tensors left on the device between steps (WebGPU; deviceSteps.ts):
 * the latents, the transformer's input and velocity, text and RoPE never come back to the host
 * until the pass ends. Per step only the timesteps go up and one float comes back.
 *
 * It takes the passes whose step is the guided Euler update alone: per-token conditioning (the
 * known tokens stay put through the step's token mask), deterministic steps, no conditioning
 * noise, no live previews (those read x and v on the host), plain CFG or none at the same batch
 * every step (no STG, CFG-star or rescale), and a batch that fits the memory budget in one call.
 * Anything else runs the copying step (generate.ts); so does the rest of a pass whose fp16
 * velocity overflowed, which moves that step to fp32 as the copying step does.
 */
import type { SamplingPlan, TextEmbedding, Rope } from './generate.ts';
import { batchFits, repeatBatch, stackText } from './guidanceBatch.ts';
import type { ModelRuntime, DeviceRuntime } from './runtime.ts';
import { timestepFor } from './scheduler.ts';

export interface DevicePassPlan {
  device: DeviceRuntime;
  /** 1 (no guidance) or 2 (cond, uncond). */
  batch: 1 | 2;
}

/** The device and batch for a pass when it can run on the device, else null. */
export function devicePassPlan(
  rt: ModelRuntime,
  plan: SamplingPlan,
  o: { perToken: boolean; previews: boolean; tokens: number; textTokens: number },
): DevicePassPlan | null {
  const device = rt.device;
  if (!device || !o.perToken || o.previews || plan.stochastic || plan.conditioningNoise > 0) return null;
  const weights = Array.from(plan.sigmas.subarray(0, -1), (s) => plan.weightsAt(s));
  if (weights.length === 0 || weights.some((w) => w.useStg || w.cfgStar || w.useCfg !== weights[0]!.useCfg)) return null;
  const batch = weights[0]!.useCfg ? 2 : 1;
  if (batch === 2 && !batchFits(rt, batch, o.tokens, o.textTokens)) return null;
  return { device, batch };
}

export interface DevicePassRun {
  /** The pass's tokens [N, C] at the first σ; on return, where the steps left them. */
  x: Float32Array;
  /** Per token: 1 generated, 0 known. */
  mask: Float32Array;
  channels: number;
  sigmas: Float64Array;
  plan: SamplingPlan;
  texts: { cond: TextEmbedding; uncond: TextEmbedding | null };
  rope: Rope;
  onStep: (i: number, ms: number) => void;
  isCancelled: () => boolean;
}

/**
 * Runs the pass's steps on the device from the first; returns how many ran (all of them, or the
 * index of the step whose velocity was not finite, which the caller reruns by copying). `x` is
 * updated to the state after the last step that ran. A cancel stops it between steps; the caller
 * then throws as the copying loop does.
 */
export async function denoiseOnDevice(p: DevicePassPlan, r: DevicePassRun): Promise<number> {
  const { device, batch } = p;
  const N = r.mask.length;
  const C = r.channels;
  const steps = r.sigmas.length - 1;
  const texts = batch === 2 ? stackText([r.texts.cond, r.texts.uncond!]) : r.texts.cond;
  const feeds = await device.feeds(texts, r.rope, batch, N);
  const scale = await device.upload(r.mask, [1, N, 1]);
  let x = await device.upload(r.x, [1, N, C]);
  let hidden = batch === 1 ? x : await device.upload(repeatBatch(r.x, batch), [batch, N, C]);
  const timestep = new Float32Array(batch * N);
  let done = 0;
  try {
    for (; done < steps && !r.isCancelled(); done++) {
      const started = performance.now();
      const sigma = r.sigmas[done]!;
      for (let t = 0; t < N; t++) timestep[t] = timestepFor(sigma * r.mask[t]!);
      if (batch === 2) timestep.copyWithin(N, 0, N);
      const v = await device.velocity(hidden, timestep, feeds);
      if (hidden !== x) hidden.dispose();
      const next = await device.step(x, v, scale, r.sigmas[done + 1]! - sigma, r.plan.weightsAt(sigma).cfg);
      if (next.nonFinite) {
        // x (before this step) is still whole: hand the step to the copying loop.
        if (next.hidden !== next.x) next.hidden.dispose();
        next.x.dispose();
        hidden = x;
        break;
      }
      x.dispose();
      x = next.x;
      hidden = next.hidden;
      r.onStep(done, performance.now() - started);
    }
    if (hidden !== x) hidden.dispose();
    r.x.set(await device.download(x));
    return done;
  } finally {
    for (const t of [feeds.embeds, feeds.mask, feeds.cos, feeds.sin, scale]) t.dispose();
  }
}
