import { describe, expect, it } from 'vitest';
import {
  addNoise,
  applyGuidance,
  blendKnown,
  dynamicShiftMu,
  eulerStep,
  scheduleFor,
  sigmaSchedule,
  timestepFor,
  truncateForStrength,
} from '../../companion/engine/scheduler.ts';

const close = (a: ArrayLike<number>, b: number[], eps = 1e-12) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(eps);
};

describe('sigma schedule (rectified flow)', () => {
  it('unshifted: linspace(1, 1/N, N) then 0', () => {
    close(sigmaSchedule(4, { kind: 'static', shift: 1 }, 0), [1, 0.75, 0.5, 0.25, 0]);
    close(sigmaSchedule(1, { kind: 'static', shift: 1 }, 0), [1, 0]);
  });

  it('static shift 3: σ\' = 3σ / (1 + 2σ)', () => {
    // 0.75 → 2.25/2.5 = 0.9; 0.5 → 1.5/2 = 0.75; 0.25 → 0.75/1.5 = 0.5
    close(sigmaSchedule(4, { kind: 'static', shift: 3 }, 0), [1, 0.9, 0.75, 0.5, 0]);
  });

  it('dynamic shift: μ linear in tokens, σ\' = e^μ / (e^μ + 1/σ − 1)', () => {
    const s = { kind: 'dynamic', baseShift: 0.95, maxShift: 2.05, baseTokens: 1024, maxTokens: 4096 } as const;
    expect(dynamicShiftMu(1024, s)).toBeCloseTo(0.95, 12);
    expect(dynamicShiftMu(4096, s)).toBeCloseTo(2.05, 12);
    expect(dynamicShiftMu(2560, s)).toBeCloseTo(1.5, 12);
    // At μ = 1.5: e^1.5 = 4.4816890703380645
    const e = 4.4816890703380645;
    close(sigmaSchedule(4, s, 2560), [1, e / (e + 1 / 0.75 - 1), e / (e + 1), e / (e + 3), 0], 1e-12);
  });

  it('dynamic shift equals static shift e^μ', () => {
    const s = { kind: 'dynamic', baseShift: Math.log(3), maxShift: Math.log(3), baseTokens: 0, maxTokens: 1 } as const;
    close(sigmaSchedule(4, s, 0), [1, 0.9, 0.75, 0.5, 0], 1e-12);
  });

  it('strictly decreasing, ends at 0, refuses bad step counts', () => {
    const sig = sigmaSchedule(30, { kind: 'dynamic', baseShift: 0.95, maxShift: 2.05, baseTokens: 1024, maxTokens: 4096 }, 6144);
    expect(sig.length).toBe(31);
    for (let i = 1; i < sig.length; i++) expect(sig[i]!).toBeLessThan(sig[i - 1]!);
    expect(sig[30]).toBe(0);
    expect(() => sigmaSchedule(0, { kind: 'static', shift: 1 }, 0)).toThrow(/steps/);
  });

  it('strength keeps the last round(N·s) steps', () => {
    const sig = sigmaSchedule(4, { kind: 'static', shift: 1 }, 0);
    close(truncateForStrength(sig, 1), [1, 0.75, 0.5, 0.25, 0]);
    close(truncateForStrength(sig, 0.5), [0.5, 0.25, 0]);
    close(truncateForStrength(sig, 0.01), [0.25, 0]);
    expect(() => truncateForStrength(sig, 0)).toThrow(/strength/);
  });

  it('timesteps are σ·1000', () => {
    expect(timestepFor(0.75)).toBe(750);
  });
});

describe('sampler steps', () => {
  it('Euler with the exact velocity recovers x0 from noise in one step', () => {
    const x0 = Float32Array.from([0.5, -1, 2, 0]);
    const eps = Float32Array.from([1, 1, -1, 0.25]);
    const x = addNoise(x0, eps, 1);
    close(x, [1, 1, -1, 0.25]);
    const v = Float32Array.from(eps.map((e, i) => e - x0[i]!));
    eulerStep(x, v, 1, 0, 2);
    close(x, [0.5, -1, 2, 0], 1e-7);
  });

  it('per-token scale 0 leaves known tokens untouched', () => {
    const x = Float32Array.from([1, 2, 3, 4]);
    eulerStep(x, Float32Array.from([10, 10, 10, 10]), 0.5, 0.25, 2, Float32Array.from([0, 1]));
    close(x, [1, 2, 0.5, 1.5]);
  });

  it('guidance: v_u + g (v_c − v_u)', () => {
    close(applyGuidance(Float32Array.from([3, 1]), Float32Array.from([1, 1]), 2.5), [6, 1]);
  });

  it('latent blending holds known tokens to the source and lands on it exactly at σ=0', () => {
    const x = Float32Array.from([9, 9, 9, 9]);
    const x0 = Float32Array.from([0.1, 0.2, 0.3, 0.4]);
    const eps = Float32Array.from([1, -1, 1, -1]);
    blendKnown(x, x0, eps, 0.5, 2, Float32Array.from([0, 1]));
    close(x, [0.5 * 0.1 + 0.5, 0.5 * 0.2 - 0.5, 9, 9], 1e-7);
    blendKnown(x, x0, eps, 0, 2, Float32Array.from([0, 1]));
    expect(Array.from(x.slice(0, 2))).toEqual(Array.from(x0.slice(0, 2)));
  });
});

describe('model schedules', () => {
  const linear = { kind: 'static' as const, shift: 1 };

  it('shift_terminal stretches the schedule so its last σ before 0 is the terminal (LTX 0.9.0/0.9.1: 0.1)', () => {
    // linspace 1, .75, .5, .25; 1 − σ scaled by (1 − 0.1) / (1 − 0.25) = 1.2: 1, .7, .4, .1
    close(sigmaSchedule(4, linear, 0, 0.1), [1, 0.7, 0.4, 0.1, 0]);
    const shifted = sigmaSchedule(20, { kind: 'dynamic', baseShift: 0.95, maxShift: 2.05, baseTokens: 1024, maxTokens: 4096 }, 6144, 0.1);
    expect(shifted[0]).toBe(1);
    expect(shifted[19]).toBeCloseTo(0.1, 12);
    for (let i = 1; i < shifted.length; i++) expect(shifted[i]!).toBeLessThan(shifted[i - 1]!);
  });

  it("a model's fixed σ list is used at its own step count; another step count gets the shifted schedule", () => {
    const model = { steps: 3, shift: linear, sigmas: [1, 0.9, 0.4] };
    close(scheduleFor(model, 3, 100), [1, 0.9, 0.4, 0]);
    close(scheduleFor(model, 4, 100), [1, 0.75, 0.5, 0.25, 0]);
    close(scheduleFor({ steps: 4, shift: linear, shiftTerminal: 0.1 }, 4, 0), [1, 0.7, 0.4, 0.1, 0]);
  });
});
