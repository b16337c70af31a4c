/**
 * The sampler's per-step math against golden numbers from the authors' own code.
 *
 * How fixtures/ltxv-sampling-golden.json was made (a throwaway script; nothing of upstream is in
 * this repository): Lightricks/LTX-Video at commit 5260738e171955b66c0827f9af7e84d68fd1d919,
 * `ltx_video/schedulers/rf.py` imported unmodified (diffusers' ConfigMixin / register_to_config /
 * SchedulerMixin / BaseOutput and safetensors.safe_open shimmed: the scheduler only reads
 * `config.num_train_timesteps` from them); the "perform guidance" block of
 * LTXVideoPipeline.__call__, `denoising_step`, `add_noise_to_image_conditioning_latents` and
 * `tone_map_latents` from `ltx_video/pipelines/pipeline_ltx_video.py` copied verbatim into the
 * script (per-step lists replaced by the step's scalars; `randn_tensor` / `torch.randn_like`
 * replaced by the given ε). PyTorch 1.13 CPU, float32, as the pipeline runs.
 *   - schedules: RectifiedFlowScheduler(shifting="SD3", target_shift_terminal=0.1) — the config
 *     the authors map diffusers' LTX scheduler config to — set_timesteps(n, samples_shape), then
 *     sliced as retrieve_timesteps does for skip_initial / skip_final_inference_steps;
 *   - inputs (regenerated below by the same formulas, rounded to float32): S = 24 tokens × C = 8,
 *     v_text[i] = sin(0.37 i) + 0.1, v_uncond[i] = 0.8 cos(0.11 i), v_perturbed[i] = sin(0.21 i + 1),
 *     x[i] = 0.9 cos(0.05 i), ε[i] = sin(0.013 i²); tokens 0–7 conditioning (mask 1).
 *
 * Tolerances: guidance, steps, conditioning noise and tone map are elementwise float32 arithmetic
 * upstream and float32 (sums in float64) here: 2e-6 relative to the values' scale (a few float32
 * ulps; CFG-star's and rescale's sums over 192 products are ordered differently). Schedules are
 * float32 upstream and float64 here: 3e-6 absolute — the largest gap (1.7e-6) is σ₀ at 13 376
 * tokens, where float32 rounds e^μ ≈ 215 inside the shift.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { combineGuidance } from '../../companion/engine/guidance.ts';
import { eulerStep, noiseKnown, passSchedule, stochasticStep, toneMapLatents } from '../../companion/engine/scheduler.ts';

const golden = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'ltxv-sampling-golden.json'), 'utf8')) as Record<string, number[]>;

const N = 24 * 8;
const C = 8;
const seq = (g: (i: number) => number) => Float32Array.from({ length: N }, (_, i) => g(i));
const vText = seq((i) => Math.sin(0.37 * i) + 0.1);
const vUncond = seq((i) => 0.8 * Math.cos(0.11 * i));
const vPerturbed = seq((i) => Math.sin(0.21 * i + 1.0));
const x = seq((i) => Math.cos(0.05 * i) * 0.9);
const eps = seq((i) => Math.sin(0.013 * i * i));
/** 1 = generated; tokens 0–7 are the conditioning (mask 1 upstream). */
const tokenMask = Float32Array.from({ length: 24 }, (_, t) => (t < 8 ? 0 : 1));

function expectClose(got: ArrayLike<number>, want: number[], tol: number): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  expect(worst).toBeLessThan(tol);
}
const scale = (a: number[]) => Math.max(...a.map(Math.abs));

describe('sampling math vs the authors’ pipeline (golden numbers)', () => {
  const shift = { kind: 'dynamic', baseShift: 0.95, maxShift: 2.05, baseTokens: 1024, maxTokens: 4096 } as const;
  const schedule = (steps: number, tokens: number, skipInitialSteps = 0, skipFinalSteps = 0) =>
    Array.from(passSchedule({ steps, skipInitialSteps, skipFinalSteps }, shift, tokens, 0.1).slice(0, -1));

  it('schedules: SD3 shift with terminal 0.1, skipped steps at either end', () => {
    expectClose(schedule(30, 480, 0, 3), golden.sched_30_480_final3!, 3e-6);
    expectClose(schedule(30, 480, 17, 0), golden.sched_30_480_initial17!, 3e-6);
    expectClose(schedule(40, 480), golden.sched_40_480!, 3e-6);
    expectClose(schedule(8, 13376), golden.sched_8_13376!, 3e-6);
  });

  it.each([
    ['guide_cfg3_stg1_r07', { cfg: 3, stg: 1, rescale: 0.7, cfgStar: false }],
    ['guide_cfg8_stg4_r05_star', { cfg: 8, stg: 4, rescale: 0.5, cfgStar: true }],
    ['guide_cfg6_star', { cfg: 6, stg: 0, rescale: 1, cfgStar: true }],
    ['guide_stg2', { cfg: 1, stg: 2, rescale: 1, cfgStar: false }],
  ] as const)('%s: every element of the guided velocity', (key, w) => {
    const got = combineGuidance(
      { cond: vText, ...(w.cfg > 1 ? { uncond: vUncond } : {}), ...(w.stg > 0 ? { perturbed: vPerturbed } : {}) },
      w,
    );
    const want = golden[key]!;
    expectClose(got, want, 2e-6 * scale(want));
  });

  it('a denoising step from σ 0.725 to 0.4219 with conditioning tokens held: Euler and stochastic', () => {
    const euler = Float32Array.from(x);
    eulerStep(euler, vText, 0.725, 0.4219, C, tokenMask);
    expectClose(euler, golden.step_euler!, 2e-6);
    const stochastic = Float32Array.from(x);
    stochasticStep(stochastic, vText, 0.725, 0.4219, C, eps, tokenMask);
    expectClose(stochastic, golden.step_stochastic!, 2e-6);
  });

  it('conditioning noise on the held tokens, and tone mapping', () => {
    const noised = Float32Array.from(x);
    noiseKnown(noised, vUncond, eps, 0.15, Math.fround(0.9094), C, tokenMask);
    expectClose(noised, golden.cond_noise!, 2e-6);
    const toned = toneMapLatents(Float32Array.from(vText, (v) => v * 3), 0.6);
    expectClose(toned, golden.tone_map_06!, 2e-6 * scale(golden.tone_map_06!));
  });
});
