/**
 * The render loop's fast composite: only the mask's box is visited and the decoded frame is
 * written in place. It must give exactly the bytes of the whole-frame composite, leave every
 * sample outside the mask as it was, and find the same mask box as a scan of the whole frame.
 */
import { describe, expect, it } from 'vitest';
import { alphaBounds, compositeInPlace, compositeOver, maskAlpha, rasterizeShapeMask, rasterizeShapes } from '../../companion/masks/index.ts';
import { maskBounds } from '../../companion/engine/plan.ts';
import type { AnyFrame, Frame } from '../../companion/media/frame.ts';
import { ellipse, polygon, rect, shapes } from './helpers.ts';

const W = 160;
const H = 90;

function noise(n: number, seed: number, max: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % (max + 1)));
}

function source(channels: 3 | 4, depth: 8 | 16): AnyFrame {
  const n = W * H * channels;
  return depth === 16
    ? { width: W, height: H, channels, depth, data: Uint16Array.from(noise(n, 7, 65535)) }
    : { width: W, height: H, channels, data: Uint8Array.from(noise(n, 7, 255)) };
}

/** Byte equality of two sample arrays (toEqual walks them element by element: seconds at this size). */
const same = (a: ArrayBufferView, b: ArrayBufferView): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

const masks = {
  ellipse: shapes([ellipse([{ frame: 0, cx: 70, cy: 40, rx: 30, ry: 20 }], { feather: 9 })]),
  twoShapes: shapes([rect([{ frame: 0, x: 5, y: 5, width: 20, height: 10 }], { feather: 4 }), polygon([{ frame: 0, points: [[100, 60], [150, 85], [120, 30]] }], { feather: 2 })]),
  subtracted: shapes([rect([{ frame: 0, x: 10, y: 10, width: 120, height: 60 }]), ellipse([{ frame: 0, cx: 70, cy: 40, rx: 80, ry: 50 }], { mode: 'subtract' })]),
  inverted: shapes([ellipse([{ frame: 0, cx: 80, cy: 45, rx: 30, ry: 20 }], { feather: 6 })], true),
  offFrame: shapes([rect([{ frame: 0, x: 500, y: 500, width: 10, height: 10 }])]),
};

describe('mask bounds', () => {
  for (const [name, m] of Object.entries(masks)) {
    it(`${name}: the box from the shapes' coverage is the box of a whole-frame scan`, () => {
      const r = rasterizeShapeMask(m, 0, W, H);
      expect(same(r.alpha, rasterizeShapes(m, 0, W, H))).toBe(true);
      expect(r.bounds).toEqual(maskBounds(r.alpha, W, H));
      expect(alphaBounds(r.alpha, W, H)).toEqual(maskBounds(r.alpha, W, H));
    });
  }
  it('a reused buffer (cleared only where it was written) gives the same alpha and bounds as a fresh one, frame after frame', () => {
    const moving = shapes([ellipse([{ frame: 0, cx: 20, cy: 20, rx: 15, ry: 10 }, { frame: 9, cx: 130, cy: 70, rx: 25, ry: 12 }], { feather: 5 }), rect([{ frame: 0, x: 60, y: 30, width: 30, height: 20 }], { mode: 'subtract', feather: 2 })]);
    for (const m of [moving, masks.inverted, masks.twoShapes, masks.offFrame]) {
      let prev = rasterizeShapeMask(m, 0, W, H);
      for (let f = 1; f < 10; f++) {
        const fresh = rasterizeShapeMask(m, f, W, H);
        const reused = rasterizeShapeMask(m, f, W, H, prev);
        expect(reused.alpha).toBe(prev.alpha);
        expect(same(reused.alpha, fresh.alpha), `frame ${f}`).toBe(true);
        expect(reused.bounds).toEqual(fresh.bounds);
        prev = reused;
      }
    }
  });

  it('a single pixel and an empty mask', () => {
    const a = new Float32Array(W * H);
    expect(maskAlpha(a, W, H).bounds).toBeNull();
    a[37 * W + 151] = 0.001;
    expect(alphaBounds(a, W, H)).toEqual({ x: 151, y: 37, width: 1, height: 1 });
  });
});

describe('compositeInPlace', () => {
  const region = { x: 20, y: 8, width: 120, height: 70 };
  const gen: Frame = { width: region.width, height: region.height, channels: 3, data: Uint8Array.from(noise(region.width * region.height * 3, 99, 255)) };
  for (const [channels, depth] of [[3, 8], [4, 8], [3, 16], [4, 16]] as const) {
    for (const alphaInside of ['opaque', 'source'] as const) {
      it(`${channels} channels at ${depth} bits, alpha inside ${alphaInside}: the same bytes as the whole-frame composite, nothing outside touched`, () => {
        const m = rasterizeShapeMask(masks.ellipse, 0, W, H);
        const src = source(channels, depth);
        const before = src.data.slice();
        const expected = compositeOver(src, gen, region, m.alpha, alphaInside);
        expect(same(src.data, before)).toBe(true); // compositeOver copies
        const out = compositeInPlace(src, gen, region, m, alphaInside);
        expect(out).toBe(src);
        expect(same(out.data, expected.data)).toBe(true);
        let changedOutside = 0;
        let changedInside = 0;
        for (let p = 0; p < W * H; p++) {
          for (let c = 0; c < channels; c++) {
            const differs = out.data[p * channels + c] !== before[p * channels + c];
            if (m.alpha[p] === 0 && differs) changedOutside++;
            if (m.alpha[p]! > 0 && differs) changedInside++;
          }
        }
        expect(changedOutside).toBe(0);
        expect(changedInside).toBeGreaterThan(1000);
      });
    }
  }
  for (const depth of [8, 16] as const) {
    it(`RGB at ${depth} bits, pixel by pixel: the model's value where alpha is 1, the rounded blend in the feather, the source where 0`, () => {
      // Independent of blend(): the formula written out, so a fast path (8-bit runs of alpha 1
      // copied as one block) cannot drift from it unnoticed.
      const m = rasterizeShapeMask(masks.twoShapes, 0, W, H);
      const src = source(3, depth);
      const before = src.data.slice();
      const out = compositeInPlace(src, gen, region, m).data;
      const k = depth === 16 ? 257 : 1;
      let wrong = 0, full = 0;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const a = m.alpha[y * W + x]!;
          const inRegion = x >= region.x && x < region.x + region.width && y >= region.y && y < region.y + region.height;
          for (let c = 0; c < 3; c++) {
            const i = (y * W + x) * 3 + c;
            const g = inRegion ? gen.data[((y - region.y) * region.width + x - region.x) * 3 + c]! * k : NaN;
            const want = a === 0 || !inRegion ? before[i]! : a === 1 ? g : Math.round(before[i]! + (g - before[i]!) * a);
            if (out[i] !== want) wrong++;
          }
          if (a === 1 && inRegion) full++;
        }
      }
      expect(full).toBeGreaterThan(100);
      expect(wrong).toBe(0);
    });
  }
  it('a mask with no pixels leaves the frame as it was', () => {
    const src = source(3, 8);
    const before = src.data.slice();
    compositeInPlace(src, gen, region, rasterizeShapeMask(masks.offFrame, 0, W, H), 'opaque');
    expect(same(src.data, before)).toBe(true);
  });
});
