/** Frame resizing (companion/engine/image.ts), as a fill's crop goes down to the working size and back. */
import { describe, expect, it } from 'vitest';
import { maskDown, resize, type Rect } from '../../companion/engine/image.ts';
import { alphaBounds } from '../../companion/masks/alpha.ts';
import type { Frame } from '../../companion/media/frame.ts';

const flat = (width: number, height: number, level: number): Frame => ({ width, height, channels: 3, data: new Uint8Array(width * height * 3).fill(level) });

describe('resize', () => {
  it('area-down keeps a flat frame flat at every size, up to the last row and column', () => {
    // 59 → 56 (a fill crop at the shapes model's working size) is one where (n − 1)·s + s lands past the edge in floating point.
    for (const [w, h, tw, th] of [[59, 59, 56, 56], [13, 21, 10, 18], [64, 40, 56, 32]] as const) {
      const out = resize(flat(w, h, 200), tw, th);
      expect([out.width, out.height]).toEqual([tw, th]);
      expect(out.data.every((v) => v === 200), `${w}×${h} → ${tw}×${th}`).toBe(true);
    }
  });

  it('area-down averages: a 2×2 block of 0 and 255 columns becomes their mean', () => {
    const f: Frame = { width: 2, height: 2, channels: 3, data: new Uint8Array([0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255]) };
    expect([...resize(f, 1, 1).data]).toEqual([128, 128, 128]);
  });
});

/**
 * The resampling code as it was before it was made faster (commit d88cf40): the definition the
 * fast code must match byte for byte (float sums in the same order, the same integer bilinear).
 */
const reference = {
  areaDown(f: Frame, width: number, height: number): Uint8Array {
    const ch = f.channels;
    const out = new Uint8Array(width * height * 3);
    const sx = f.width / width;
    const sy = f.height / height;
    const acc = new Float64Array(3);
    for (let y = 0; y < height; y++) {
      const y0 = y * sy;
      const y1 = y0 + sy;
      for (let x = 0; x < width; x++) {
        const x0 = x * sx;
        const x1 = x0 + sx;
        acc.fill(0);
        let total = 0;
        for (let yy = Math.floor(y0); yy < Math.min(f.height, Math.ceil(y1)); yy++) {
          const wy = Math.min(y1, yy + 1) - Math.max(y0, yy);
          for (let xx = Math.floor(x0); xx < Math.min(f.width, Math.ceil(x1)); xx++) {
            const w = wy * (Math.min(x1, xx + 1) - Math.max(x0, xx));
            const p = (yy * f.width + xx) * ch;
            for (let c = 0; c < 3; c++) acc[c]! += w * f.data[p + c]!;
            total += w;
          }
        }
        for (let c = 0; c < 3; c++) out[(y * width + x) * 3 + c] = Math.round(acc[c]! / total);
      }
    }
    return out;
  },
  bilinear(f: Frame, width: number, height: number): Uint8Array {
    const ch = f.channels;
    const out = new Uint8Array(width * height * 3);
    const one = 1 << 11;
    for (let y = 0; y < height; y++) {
      const fy = Math.min(Math.max((y + 0.5) * (f.height / height) - 0.5, 0), f.height - 1);
      const y0 = Math.floor(fy);
      const ty = Math.round((fy - y0) * one);
      const y1 = Math.min(y0 + 1, f.height - 1);
      for (let x = 0; x < width; x++) {
        const fx = Math.min(Math.max((x + 0.5) * (f.width / width) - 0.5, 0), f.width - 1);
        const x0 = Math.floor(fx);
        const tx = Math.round((fx - x0) * one);
        const x1 = Math.min(x0 + 1, f.width - 1);
        for (let c = 0; c < 3; c++) {
          const at = (yy: number, xx: number) => f.data[(yy * f.width + xx) * ch + c]!;
          const v = (at(y0, x0) * (one - tx) + at(y0, x1) * tx) * (one - ty) + (at(y1, x0) * (one - tx) + at(y1, x1) * tx) * ty;
          out[(y * width + x) * 3 + c] = (v + (1 << 21)) >> 22;
        }
      }
    }
    return out;
  },
  maskDown(alpha: Float32Array, w: number, h: number, r: Rect, width: number, height: number): Float32Array {
    const out = new Float32Array(width * height);
    const sx = r.width / width;
    const sy = r.height / height;
    for (let y = 0; y < height; y++) {
      const yA = r.y + Math.floor(y * sy);
      const yB = Math.min(r.y + Math.ceil((y + 1) * sy), h);
      for (let x = 0; x < width; x++) {
        const xA = r.x + Math.floor(x * sx);
        const xB = Math.min(r.x + Math.ceil((x + 1) * sx), w);
        let m = 0;
        for (let yy = yA; yy < yB; yy++) for (let xx = xA; xx < xB; xx++) m = Math.max(m, alpha[yy * w + xx]!);
        out[y * width + x] = m;
      }
    }
    return out;
  },
};

/** Deterministic pseudo-random numbers in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

/** Noise with flat runs of 0 and 255, where means of .5 (the rounding that order decides) are common. */
function noise(rnd: () => number, width: number, height: number, channels: 3 | 4): Frame {
  const data = new Uint8Array(width * height * channels).map(() => (rnd() < 0.5 ? Math.floor(rnd() * 256) : rnd() < 0.5 ? 0 : 255));
  return { width, height, channels, data };
}

describe('resize and maskDown match their definition byte for byte', () => {
  it('area-down and bilinear, RGB and RGBA sources, 300 random sizes (shrinking, enlarging, mixed)', () => {
    // Noise with runs of 0 and 255 makes means on and next to a half: without the exact division near
    // a half (roundMean), a mean there rounds the other way and this test fails.
    const rnd = lcg(12);
    let down = 0;
    for (let t = 0; t < 300; t++) {
      const f = noise(rnd, 1 + Math.floor(rnd() * 80), 1 + Math.floor(rnd() * 60), rnd() < 0.3 ? 4 : 3);
      const tw = 1 + Math.floor(rnd() * 90);
      const th = 1 + Math.floor(rnd() * 70);
      const isDown = tw <= f.width && th <= f.height;
      if (isDown) down++;
      const want = isDown ? reference.areaDown(f, tw, th) : reference.bilinear(f, tw, th);
      const got = resize(f, tw, th);
      expect([got.width, got.height, got.channels]).toEqual([tw, th, 3]);
      expect(Buffer.from(got.data).equals(Buffer.from(want)), `${f.width}x${f.height}x${f.channels} → ${tw}x${th}`).toBe(true);
    }
    expect(down).toBeGreaterThan(50); // both paths were exercised
    expect(down).toBeLessThan(250);
  });

  it('the sizes a 1080p fill uses: a ~1 MP crop to 1216×704-class working sizes and back', () => {
    const rnd = lcg(3);
    const crop = noise(rnd, 1150, 900, 3);
    const small = resize(crop, 1056, 800);
    expect(Buffer.from(small.data).equals(Buffer.from(reference.areaDown(crop, 1056, 800)))).toBe(true);
    const back = resize(small, 1150, 900);
    expect(Buffer.from(back.data).equals(Buffer.from(reference.bilinear(small, 1150, 900)))).toBe(true);
  });

  it('`only` computes just that rectangle, `into` is written in place; both give the same bytes there', () => {
    const rnd = lcg(5);
    for (const [w, h, tw, th] of [[40, 30, 64, 50], [64, 50, 40, 30]] as const) {
      const f = noise(rnd, w, h, 3);
      const whole = resize(f, tw, th).data;
      const into = new Uint8Array(tw * th * 3).fill(77);
      const only = { x: 5, y: 7, width: 20, height: 11 };
      const got = resize(f, tw, th, { into, only });
      expect(got.data).toBe(into);
      for (let y = 0; y < th; y++) {
        for (let x = 0; x < tw; x++) {
          const inside = x >= only.x && x < only.x + only.width && y >= only.y && y < only.y + only.height;
          for (let c = 0; c < 3; c++) {
            const i = (y * tw + x) * 3 + c;
            expect(into[i], `${x},${y}`).toBe(inside ? whole[i] : 77);
          }
        }
      }
    }
  });

  it('refuses a buffer of the wrong size, naming both sizes', () => {
    const f = flat(10, 10, 1);
    expect(() => resize(f, 5, 5, { into: new Uint8Array(74) })).toThrow(/74 bytes, 5x5 RGB needs 75/);
  });

  it('maskDown: random masks and regions, with and without the mask bounds, into a reused buffer', () => {
    const rnd = lcg(9);
    const reused = new Float32Array(200 * 200).fill(0.25);
    for (let t = 0; t < 300; t++) {
      const w = 1 + Math.floor(rnd() * 80);
      const h = 1 + Math.floor(rnd() * 60);
      // Zero outside a random box (as a shape mask is), values 0, 1 and between inside it.
      const box = { x: Math.floor(rnd() * w), y: Math.floor(rnd() * h), width: 0, height: 0 };
      box.width = 1 + Math.floor(rnd() * (w - box.x));
      box.height = 1 + Math.floor(rnd() * (h - box.y));
      const alpha = new Float32Array(w * h);
      for (let y = box.y; y < box.y + box.height; y++) for (let x = box.x; x < box.x + box.width; x++) alpha[y * w + x] = rnd() < 0.4 ? 0 : rnd() < 0.5 ? 1 : rnd();
      const r = { x: Math.floor((rnd() * w) / 2), y: Math.floor((rnd() * h) / 2), width: 0, height: 0 };
      r.width = 1 + Math.floor(rnd() * (w - r.x));
      r.height = 1 + Math.floor(rnd() * (h - r.y));
      const tw = 1 + Math.floor(rnd() * r.width * 1.3);
      const th = 1 + Math.floor(rnd() * r.height * 1.3);
      const want = reference.maskDown(alpha, w, h, r, tw, th);
      const label = `${w}x${h} region ${JSON.stringify(r)} → ${tw}x${th}`;
      expect(maskDown(alpha, w, h, r, tw, th), label).toEqual(want);
      expect(maskDown(alpha, w, h, r, tw, th, alphaBounds(alpha, w, h)), label).toEqual(want);
      // A reused buffer holding an earlier mask's values: every cell is overwritten.
      expect(maskDown(alpha, w, h, r, tw, th, alphaBounds(alpha, w, h), reused.subarray(0, tw * th)), label).toEqual(want);
    }
    // An empty mask (bounds null) is all zeros even in a buffer that held something.
    const into = new Float32Array(12).fill(1);
    expect([...maskDown(new Float32Array(100), 10, 10, { x: 0, y: 0, width: 10, height: 10 }, 4, 3, null, into)]).toEqual(Array(12).fill(0));
  });
});
