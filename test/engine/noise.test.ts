import { describe, expect, it } from 'vitest';
import { Rng } from '../../companion/engine/noise.ts';

describe('seeded noise', () => {
  it('is reproducible by seed and stream, different otherwise', () => {
    const a = new Rng(42).normal(new Float32Array(1000));
    const b = new Rng(42).normal(new Float32Array(1000));
    const c = new Rng(43).normal(new Float32Array(1000));
    const d = new Rng(42, 1).normal(new Float32Array(1000));
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
    expect(Buffer.from(a.buffer).equals(Buffer.from(d.buffer))).toBe(false);
  });

  it('is standard normal', () => {
    const n = new Rng(7).normal(new Float32Array(200_000));
    let mean = 0;
    for (const v of n) mean += v;
    mean /= n.length;
    let variance = 0;
    for (const v of n) variance += (v - mean) ** 2;
    variance /= n.length;
    expect(Math.abs(mean)).toBeLessThan(0.01);
    expect(Math.abs(variance - 1)).toBeLessThan(0.02);
    expect(n.every(Number.isFinite)).toBe(true);
  });
});
