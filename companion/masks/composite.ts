/**
 * The composite editors check, at the source's own precision and with its alpha:
 * out = src·(1 − a) + gen·a per colour channel, `gen` (the model's 8-bit picture, already scaled
 * back to full size) covering the rectangle `at` of the source. The output has the source's
 * depth and channels. Where a = 0 every sample — colour and alpha, 8 or 16 bits — IS the
 * source's (copied, never recomputed), so untouched pixels are bit-exact whatever the model did.
 */
import type { Rect } from '../engine/image.ts';
import type { AnyFrame, Frame } from '../media/frame.ts';

/**
 * Alpha of the generated pixels: 'opaque' (default) makes them fully opaque — the model paints
 * colour, and a filled hole should not stay a hole — blended by the mask's feather; 'source'
 * keeps the source's alpha there too (a plate replaced under an existing matte).
 */
export type AlphaInside = 'opaque' | 'source';

export function compositeOver(src: AnyFrame, gen: Frame, at: Rect, alpha: Float32Array, alphaInside: AlphaInside = 'opaque'): AnyFrame {
  const out = src.data.slice();
  const ch = src.channels;
  const gch = gen.channels;
  // 8-bit model output onto a 16-bit source: k → 257·k maps 0..255 exactly onto 0..65535.
  const scale = src.depth === 16 ? 257 : 1;
  const max = 255 * scale;
  for (let y = 0; y < at.height; y++) {
    const row = (at.y + y) * src.width + at.x;
    for (let x = 0; x < at.width; x++) {
      const a = alpha[row + x]!;
      if (a === 0) continue;
      const o = (row + x) * ch;
      const g = (y * gen.width + x) * gch;
      if (a === 1) {
        out[o] = gen.data[g]! * scale;
        out[o + 1] = gen.data[g + 1]! * scale;
        out[o + 2] = gen.data[g + 2]! * scale;
        if (ch === 4 && alphaInside === 'opaque') out[o + 3] = max;
      } else {
        for (let c = 0; c < 3; c++) out[o + c] = Math.round(out[o + c]! + (gen.data[g + c]! * scale - out[o + c]!) * a);
        if (ch === 4 && alphaInside === 'opaque') out[o + 3] = Math.round(out[o + 3]! + (max - out[o + 3]!) * a);
      }
    }
  }
  return { ...src, data: out } as AnyFrame;
}
