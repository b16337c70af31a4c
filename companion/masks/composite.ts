/**
 * The composite editors check, at the source's own precision and with its alpha:
 * out = src·(1 − a) + gen·a per colour channel, `gen` (the model's 8-bit picture, already scaled
 * back to full size) covering the rectangle `at` of the source. The output has the source's
 * depth and channels. Where a = 0 every sample — colour and alpha, 8 or 16 bits — IS the
 * source's (copied, never recomputed), so untouched pixels are bit-exact whatever the model did.
 */
import { intersectRect, type Rect } from '../engine/image.ts';
import type { AnyFrame, Frame } from '../media/frame.ts';
import type { MaskAlpha } from './alpha.ts';
import { blendHalf } from './compositeHalf.ts';

/**
 * Alpha of the generated pixels: 'opaque' (default) makes them fully opaque — the model paints
 * colour, and a filled hole should not stay a hole — blended by the mask's feather; 'source'
 * keeps the source's alpha there too (a plate replaced under an existing matte).
 */
export type AlphaInside = 'opaque' | 'source';

/** The composite into a copy of `src` (which is left as it was). */
export function compositeOver(src: AnyFrame, gen: Frame, at: Rect, alpha: Float32Array, alphaInside: AlphaInside = 'opaque'): AnyFrame {
  const out = { ...src, data: src.data.slice() } as AnyFrame;
  blend(out, gen, at, alpha, at, alphaInside);
  return out;
}

/**
 * The composite written into `src` itself, visiting only the mask's bounds: for the render
 * loop, which owns each decoded frame and writes it straight to the encoder. No frame copy, and
 * a small mask costs its box rather than the frame.
 */
export function compositeInPlace(src: AnyFrame, gen: Frame, at: Rect, mask: MaskAlpha, alphaInside: AlphaInside = 'opaque', linear = false): AnyFrame {
  const box = mask.bounds && intersectRect(mask.bounds, at);
  // A linear EXR plate's samples are half-float bits: blended in float (compositeHalf.ts).
  if (box && linear && src.depth === 16) blendHalf(src, gen, at, mask.alpha, box, alphaInside);
  else if (box) blend(src, gen, at, mask.alpha, box, alphaInside);
  return src;
}

/** out = out·(1 − a) + gen·a over `box` (inside `at`, where `gen` sits). */
function blend(dst: AnyFrame, gen: Frame, at: Rect, alpha: Float32Array, box: Rect, alphaInside: AlphaInside): void {
  const out = dst.data;
  const ch = dst.channels;
  const gch = gen.channels;
  const gd = gen.data;
  const setAlpha = ch === 4 && alphaInside === 'opaque';
  // 8-bit model output onto a 16-bit source: k → 257·k maps 0..255 exactly onto 0..65535.
  const scale = dst.depth === 16 ? 257 : 1;
  const max = dst.depth === 16 ? 65535 : 255;
  // 8-bit RGB over 8-bit RGB: a run of fully generated pixels is one copy of the model's bytes.
  const copyRuns = dst.depth !== 16 && ch === 3 && gch === 3;
  const xEnd = box.x + box.width;
  for (let y = box.y; y < box.y + box.height; y++) {
    const row = y * dst.width;
    const grow = (y - at.y) * gen.width - at.x;
    for (let x = box.x; x < xEnd; x++) {
      const a = alpha[row + x]!;
      if (a === 0) continue;
      const o = (row + x) * ch;
      const g = (grow + x) * gch;
      if (a === 1 && copyRuns) {
        let end = x + 1;
        while (end < xEnd && alpha[row + end] === 1) end++;
        out.set(gd.subarray(g, g + (end - x) * 3), o);
        x = end - 1;
      } else if (a === 1) {
        out[o] = gd[g]! * scale;
        out[o + 1] = gd[g + 1]! * scale;
        out[o + 2] = gd[g + 2]! * scale;
        if (setAlpha) out[o + 3] = max;
      } else {
        out[o] = Math.round(out[o]! + (gd[g]! * scale - out[o]!) * a);
        out[o + 1] = Math.round(out[o + 1]! + (gd[g + 1]! * scale - out[o + 1]!) * a);
        out[o + 2] = Math.round(out[o + 2]! + (gd[g + 2]! * scale - out[o + 2]!) * a);
        if (setAlpha) out[o + 3] = Math.round(out[o + 3]! + (max - out[o + 3]!) * a);
      }
    }
  }
}
