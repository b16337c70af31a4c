import { describe, it, expect } from 'vitest';
import { ltxRope, ropeGrid, type RopeOptions } from '../../companion/models/ltxv/rope.ts';

// LTX-Video 0.9 at 25 fps: VAE 32×32×8, base sizes and theta from LTXVideoRotaryPosEmbed.
const options: RopeOptions = {
  dim: 14, // 14 // 6 = 2 frequencies per axis, 14 % 6 = 2 padding channels
  frames: 2,
  height: 2,
  width: 3,
  frameRate: 25,
  spatial: 32,
  temporal: 8,
  baseNumFrames: 20,
  baseHeight: 2048,
  baseWidth: 2048,
  theta: 10000,
};

describe('ltxRope', () => {
  const { cos, sin, tokens, dim } = ltxRope(options);
  const row = (t: Float32Array, s: number): number[] => Array.from(t.subarray(s * dim, (s + 1) * dim));

  it('has one row per token in (f, h, w) raster order', () => {
    expect(tokens).toBe(12);
    expect(cos.length).toBe(12 * 14);
  });

  it('matches values worked out by hand from the diffusers formula', () => {
    // Token 11 = (f 1, h 1, w 2). grid = index · (8/25, 32, 32) / (20, 2048, 2048):
    const grid = [(1 * 8) / 25 / 20, 32 / 2048, (2 * 32) / 2048]; // 0.016, 0.015625, 0.03125
    ropeGrid(options, 1, 1, 2).forEach((g, axis) => expect(g).toBeCloseTo(grid[axis], 8)); // float32 steps
    const freqs = [Math.PI / 2, (10000 * Math.PI) / 2]; // theta ** linspace(0, 1, 2) · π/2
    const c = row(cos, 11);
    const s = row(sin, 11);
    // Padding first: two unrotated channels.
    expect(c.slice(0, 2)).toEqual([1, 1]);
    expect(s.slice(0, 2)).toEqual([0, 0]);
    // Then per frequency k, per axis (f, h, w), each value twice (repeat_interleave(2)).
    for (let k = 0; k < 2; k++) {
      for (let axis = 0; axis < 3; axis++) {
        const angle = freqs[k] * (2 * grid[axis] - 1);
        const at = 2 + 2 * (k * 3 + axis);
        // The low frequency is exact to float32; the high one (angle ≈ 15000 rad) carries
        // float32 rounding of the angle, as torch computes it, so allow 2e-3.
        const tol = k === 0 ? 1e-6 : 2e-3;
        expect(Math.abs(c[at] - Math.cos(angle))).toBeLessThan(tol);
        expect(Math.abs(s[at] - Math.sin(angle))).toBeLessThan(tol);
        expect(c[at + 1]).toBe(c[at]);
        expect(s[at + 1]).toBe(s[at]);
      }
    }
    // Spot values for the first frequency: cos(π/2 · (2·0.016 - 1)) and sin(π/2 · (2·0.03125 - 1)).
    expect(c[2]).toBeCloseTo(Math.cos((Math.PI / 2) * -0.968), 6);
    expect(c[2]).toBeCloseTo(0.050244, 5);
    expect(s[6]).toBeCloseTo(Math.sin((Math.PI / 2) * -0.9375), 6);
    expect(s[6]).toBeCloseTo(-0.995185, 5);
  });

  it('puts the origin token at angle -freq on every axis', () => {
    const c = row(cos, 0);
    const s = row(sin, 0);
    for (const at of [2, 4, 6]) {
      expect(c[at]).toBeCloseTo(0, 6); // cos(-π/2)
      expect(s[at]).toBeCloseTo(-1, 6);
    }
  });

  it('with causalFix, places latent frame f at pixel frame max(0, 8f - 7) / fps', () => {
    const fixed = { ...options, causalFix: true };
    expect(ropeGrid(fixed, 0, 0, 0)[0]).toBe(0);
    expect(ropeGrid(fixed, 1, 0, 0)[0]).toBeCloseTo(1 / 25 / 20, 8);
    expect(ropeGrid(fixed, 3, 0, 0)[0]).toBeCloseTo(17 / 25 / 20, 8);
    expect(ropeGrid(options, 3, 0, 0)[0]).toBeCloseTo(24 / 25 / 20, 7); // the plain pipeline: 8f / fps
  });

  it('needs no padding when the dim is a multiple of 6', () => {
    const t = ltxRope({ ...options, dim: 12 });
    expect(t.cos[0]).toBeCloseTo(Math.cos(-Math.PI / 2), 6); // first channel is already rotated
  });
});
