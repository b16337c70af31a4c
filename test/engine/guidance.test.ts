/**
 * The recipe's per-step math against hand-computed values: CFG, CFG-star, STG and rescaling as
 * the authors combine them; recipe schedules with fixed σ lists and skipped steps; stochastic
 * steps; conditioning noise; tone mapping.
 */
import { describe, expect, it } from 'vitest';
import { combineGuidance, std } from '../../companion/engine/guidance.ts';
import { noiseKnown, passSchedule, sigmaSchedule, stochasticStep, toneMapLatents } from '../../companion/engine/scheduler.ts';

const f = (...v: number[]) => Float32Array.from(v);
const close = (a: ArrayLike<number>, b: number[], eps = 1e-6) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) expect(Math.abs(a[i]! - b[i]!), `index ${i}: ${a[i]} vs ${b[i]}`).toBeLessThan(eps);
};

describe('combining guidance', () => {
  const cond = f(1, 2, 3, 4);
  const uncond = f(0.5, 1, 1, 2);
  const perturbed = f(1, 1, 2, 5);

  it('no guidance: the conditional velocity', () => {
    close(combineGuidance({ cond }, { cfg: 1, stg: 0, rescale: 1, cfgStar: false }), [1, 2, 3, 4]);
  });

  it('CFG: v_u + g·(v_c − v_u)', () => {
    close(combineGuidance({ cond, uncond }, { cfg: 3, stg: 0, rescale: 1, cfgStar: false }), [2, 4, 7, 8]);
  });

  it('CFG-star scales v_u by ⟨v_c, v_u⟩ / ‖v_u‖² first', () => {
    // ⟨c, u⟩ = 0.5 + 2 + 3 + 8 = 13.5; ‖u‖² = 0.25 + 1 + 1 + 4 = 6.25; α = 2.16
    const a = 13.5 / (6.25 + 1e-8);
    const want = [0, 1, 2, 3].map((i) => a * uncond[i]! + 3 * (cond[i]! - a * uncond[i]!));
    close(combineGuidance({ cond, uncond }, { cfg: 3, stg: 0, rescale: 1, cfgStar: true }), want, 1e-5);
  });

  it('STG adds stg·(v_c − v_p), with or without CFG', () => {
    close(combineGuidance({ cond, perturbed }, { cfg: 1, stg: 2, rescale: 1, cfgStar: false }), [1, 4, 5, 2]);
    close(combineGuidance({ cond, uncond, perturbed }, { cfg: 3, stg: 2, rescale: 1, cfgStar: false }), [2, 6, 9, 6]);
  });

  it('rescale r: v·(r·std(v_c)/std(v) + 1 − r), only with STG', () => {
    const v = [2, 6, 9, 6];
    const factor = (0.7 * std(cond)) / std(f(...v)) + 0.3;
    close(combineGuidance({ cond, uncond, perturbed }, { cfg: 3, stg: 2, rescale: 0.7, cfgStar: false }), v.map((x) => x * factor), 1e-5);
    // std is torch's (n − 1): std(1, 2, 3, 4) = √(5/3)
    expect(std(cond)).toBeCloseTo(Math.sqrt(5 / 3), 12);
    // Without STG there is nothing to rescale.
    close(combineGuidance({ cond, uncond }, { cfg: 3, stg: 0, rescale: 0.7, cfgStar: false }), [2, 4, 7, 8]);
  });
});

describe('recipe schedules and steps', () => {
  const shift = { kind: 'dynamic', baseShift: 0.95, maxShift: 2.05, baseTokens: 1024, maxTokens: 4096 } as const;

  it('a fixed σ list runs as given, then 0', () => {
    close(passSchedule({ steps: 3, sigmas: [0.9094, 0.725, 0.4219], skipInitialSteps: 0, skipFinalSteps: 0 }, shift, 4096), [0.9094, 0.725, 0.4219, 0]);
  });

  it('skipped steps drop the ends of the shifted schedule; the last kept step goes to 0', () => {
    const full = sigmaSchedule(30, shift, 3000, 0.1);
    const first = passSchedule({ steps: 30, skipInitialSteps: 0, skipFinalSteps: 3 }, shift, 3000, 0.1);
    close(first, [...Array.from(full.subarray(0, 27)), 0], 1e-15);
    const second = passSchedule({ steps: 30, skipInitialSteps: 17, skipFinalSteps: 0 }, shift, 3000, 0.1);
    close(second, Array.from(full.subarray(17)), 1e-15);
    expect(second.length).toBe(14);
  });

  it('a stochastic step re-noises the x0 estimate to σ′; known tokens stay', () => {
    const x = f(1, 2, 3, 4);
    const v = f(0.5, 0.5, -1, 2);
    const noise = f(0.1, -0.2, 0.3, 0.4);
    stochasticStep(x, v, 0.8, 0.5, 2, noise, f(1, 0));
    // token 0: x0 = x − 0.8·v = (0.6, 1.6); x′ = 0.5·x0 + 0.5·ε
    close(x, [0.5 * 0.6 + 0.05, 0.5 * 1.6 - 0.1, 3, 4]);
  });

  it('conditioning noise sets known tokens to x0 + s·σ²·ε and leaves generated ones', () => {
    const x = f(9, 9, 9, 9);
    noiseKnown(x, f(1, 2, 3, 4), f(1, -1, 2, 2), 0.15, 0.5, 2, f(0, 1));
    close(x, [1 + 0.15 * 0.25, 2 - 0.15 * 0.25, 9, 9]);
  });

  it('tone mapping: identity at 0, pulls large values in more than small ones', () => {
    const a = f(0.1, -3, 1);
    expect(Array.from(toneMapLatents(Float32Array.from(a), 0))).toEqual(Array.from(a));
    const t = toneMapLatents(Float32Array.from(a), 0.6);
    const s = 0.45;
    const scale = (x: number) => 1 - 0.8 * s * (1 / (1 + Math.exp(-4 * s * (Math.abs(x) - 1))));
    close(t, [0.1 * scale(0.1), -3 * scale(-3), 1 * scale(1)]);
    expect(t[1]! / -3).toBeLessThan(t[0]! / 0.1);
    expect(() => toneMapLatents(f(1), 1.5)).toThrow(/compression/);
  });
});
