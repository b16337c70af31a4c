/** The model's 8-bit view of a frame (toModelRgb) and the widening back (widen): exact where they must be. */
import { describe, expect, it } from 'vitest';
import { toModelRgb, widen, type DeepFrame, type Frame } from '../../companion/media/frame.ts';
import { fromHalf, linearToSrgb, toHalf } from '../../companion/media/exr.ts';

const W = 23;
const H = 11;
const r = { x: 4, y: 2, width: 13, height: 7 };

function expected(get: (x: number, y: number, c: number) => number): number[] {
  const out: number[] = [];
  for (let y = r.y; y < r.y + r.height; y++) for (let x = r.x; x < r.x + r.width; x++) for (let c = 0; c < 3; c++) out.push(get(x, y, c));
  return out;
}

describe('toModelRgb', () => {
  it('8-bit RGB and RGBA: the crop, alpha dropped', () => {
    for (const ch of [3, 4] as const) {
      const f: Frame = { width: W, height: H, channels: ch, data: new Uint8Array(W * H * ch).map((_, i) => (i * 31) % 256) };
      const got = toModelRgb(f, r);
      expect(got).toMatchObject({ width: r.width, height: r.height, channels: 3 });
      expect(Array.from(got.data)).toEqual(expected((x, y, c) => f.data[(y * W + x) * ch + c]!));
    }
  });

  it('16-bit: the nearest 8-bit level; widen() comes back exactly', () => {
    const f: DeepFrame = { width: W, height: H, channels: 4, depth: 16, data: new Uint16Array(W * H * 4).map((_, i) => (i * 7919) % 65536) };
    const got = toModelRgb(f, r);
    expect(Array.from(got.data)).toEqual(expected((x, y, c) => Math.round((f.data[(y * W + x) * 4 + c]! * 255) / 65535)));
    const back = toModelRgb(widen(got));
    expect(Array.from(back.data)).toEqual(Array.from(got.data));
  });

  it('linear (an EXR plate kept as half bits): clipped to 0..1, through the sRGB curve', () => {
    const f: DeepFrame = { width: W, height: H, channels: 3, depth: 16, data: new Uint16Array(W * H * 3).map((_, i) => (i * 613) % 65536) };
    const got = toModelRgb(f, r, true);
    expect(Array.from(got.data)).toEqual(expected((x, y, c) => Math.round(255 * linearToSrgb(fromHalf(f.data[(y * W + x) * 3 + c]!)))));
    // 0, linear 0.2158 (sRGB level 128), 1.0, 20.0, -0.5, NaN, +Inf
    const halves = [0, toHalf(0.2158), 0x3c00, toHalf(20), toHalf(-0.5), 0x7e00, 0x7c00, 0xfc00, 0];
    const probe = toModelRgb({ width: 3, height: 1, channels: 3, depth: 16, data: Uint16Array.from(halves) }, { x: 0, y: 0, width: 3, height: 1 }, true);
    expect(Array.from(probe.data)).toEqual([0, 128, 255, 255, 0, 0, 255, 0, 0]);
  });
});
