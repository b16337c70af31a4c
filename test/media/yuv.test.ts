/**
 * The Y'CbCr frame's two conversions (media/yuv.ts): the mask's box to 8-bit RGB for the model,
 * checked against ffmpeg's own conversion, and the composite back into codes, which must leave
 * every code the mask does not reach as it was.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeFrames } from '../../companion/media/decode.ts';
import { ffmpegPath, runTool } from '../../companion/media/ffmpeg.ts';
import type { Frame } from '../../companion/media/frame.ts';
import { chromaSize, compositeYuv, yuvFormat, yuvSamples, yuvToModelRgb, type YuvFormat, type YuvFrame } from '../../companion/media/yuv.ts';
import type { MaskAlpha } from '../../companion/masks/alpha.ts';
import { parseRational } from '../../protocol/rational.ts';
import { tempDir } from '../helpers/fixtures.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** A deterministic generator (the tests must not depend on Math.random). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function randomYuv(width: number, height: number, format: YuvFormat, rand: () => number): YuvFrame {
  const n = yuvSamples(width, height, format);
  const s = 1 << (format.bits - 8);
  const data = format.bits > 8 ? new Uint16Array(n) : new Uint8Array(n);
  // Legal limited-range codes: luma 16–235, chroma 16–240 (scaled to the depth).
  // Legal codes in every plane (alpha any value in the same range is fine for these tests).
  for (let i = 0; i < n; i++) data[i] = Math.round((i < width * height ? 16 + rand() * 219 : 16 + rand() * 224) * s);
  return { width, height, format, data };
}

function randomRgb(width: number, height: number, rand: () => number): Frame {
  return { width, height, channels: 3, data: Uint8Array.from({ length: width * height * 3 }, () => Math.floor(rand() * 256)) };
}

/** A mask with zeros, ones and feathered values inside a box, zero outside it. */
function randomMask(width: number, height: number, box: { x: number; y: number; width: number; height: number }, rand: () => number): MaskAlpha {
  const alpha = new Float32Array(width * height);
  for (let y = box.y; y < box.y + box.height; y++) {
    for (let x = box.x; x < box.x + box.width; x++) {
      const r = rand();
      alpha[y * width + x] = r < 0.3 ? 0 : r < 0.6 ? 1 : rand();
    }
  }
  return { alpha, bounds: box } as MaskAlpha;
}

const BT709 = { kr: 0.2126, kb: 0.0722 };

describe('compositeYuv', () => {
  for (const [pixFmt, width, height] of [['yuv422p10le', 33, 17], ['yuv420p', 31, 19], ['yuv444p12le', 24, 15], ['yuva444p10le', 20, 13]] as const) {
    it(`${pixFmt} ${width}x${height}: codes outside the mask untouched, fully masked luma the model's colour`, () => {
      const rand = lcg(7);
      const format = yuvFormat(pixFmt)!;
      const src = randomYuv(width, height, format, rand);
      const before = src.data.slice();
      // The model's picture covers a region; the mask's box sits inside it, starting on an odd column.
      const at = { x: 3, y: 1, width: width - 5, height: height - 3 };
      const box = { x: 5, y: 2, width: width - 9, height: height - 5 };
      const gen = randomRgb(at.width, at.height, rand);
      const mask = randomMask(width, height, box, rand);
      compositeYuv(src, gen, at, mask, 'bt709');

      const s = 1 << (format.bits - 8);
      const c = chromaSize(width, height, format);
      let fullyMasked = 0;
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const p = y * width + x;
          const a = mask.alpha[p]!;
          if (a === 0) expect(src.data[p]).toBe(before[p]);
          // Alpha (a fourth plane after Cb and Cr): untouched outside, opaque where fully masked.
          const alphaAt = width * height + 2 * c.width * c.height + p;
          if (format.alpha && a === 0) expect(src.data[alphaAt]).toBe(before[alphaAt]);
          if (format.alpha && a === 1) expect(src.data[alphaAt]).toBe((1 << format.bits) - 1);
          if (a === 1) {
            fullyMasked++;
            const g = ((y - at.y) * gen.width + (x - at.x)) * 3;
            const [r, gg, b] = [gen.data[g]! / 255, gen.data[g + 1]! / 255, gen.data[g + 2]! / 255];
            const luma = BT709.kr * r + (1 - BT709.kr - BT709.kb) * gg + BT709.kb * b;
            expect(Math.abs(src.data[p]! - (16 + 219 * luma) * s)).toBeLessThanOrEqual(0.5 + 1e-3 * s);
          }
        }
      }
      expect(fullyMasked).toBeGreaterThan(10);
      // A chroma sample moves only if one of the pixels it covers is masked.
      let untouched = 0;
      for (let cy = 0; cy < c.height; cy++) {
        for (let cx = 0; cx < c.width; cx++) {
          let masked = false;
          for (let y = cy << format.sy; y < Math.min(height, (cy + 1) << format.sy); y++) {
            for (let x = cx << format.sx; x < Math.min(width, (cx + 1) << format.sx); x++) masked ||= mask.alpha[y * width + x] !== 0;
          }
          if (masked) continue;
          untouched++;
          for (const plane of [width * height, width * height + c.width * c.height]) {
            expect(src.data[plane + cy * c.width + cx]).toBe(before[plane + cy * c.width + cx]);
          }
        }
      }
      expect(untouched).toBeGreaterThan(c.width * c.height / 3);
    });
  }

  it('a whole 4:4:4 frame composited at alpha 1 reads back as the model\'s picture', () => {
    const rand = lcg(11);
    const format = yuvFormat('yuv444p10le')!;
    const src = randomYuv(24, 12, format, rand);
    const gen = randomRgb(24, 12, rand);
    const all = { x: 0, y: 0, width: 24, height: 12 };
    const alpha = new Float32Array(24 * 12).fill(1);
    compositeYuv(src, gen, all, { alpha, bounds: all } as MaskAlpha, 'bt709');
    const back = yuvToModelRgb(src, all, 'bt709');
    const worst = back.data.reduce((m, v, i) => Math.max(m, Math.abs(v - gen.data[i]!)), 0);
    expect(worst).toBeLessThanOrEqual(1);
  });
});

describe('yuvToModelRgb', () => {
  it("matches ffmpeg's RGB decode of the same 10-bit BT.709 frame where the chroma is flat", async () => {
    const W = 128;
    const H = 72;
    const file = path.join(tmp.dir, 'bars.mov');
    const args = ['-v', 'error', '-y', '-f', 'lavfi', '-i', `smptehdbars=s=${W}x${H}:r=24`, '-frames:v', '1', '-vf', 'format=yuv422p10le',
      '-c:v', 'prores_ks', '-profile:v', '3', '-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-movflags', '+write_colr', file];
    expect((await runTool(await ffmpegPath(), args, { timeoutMs: 60_000 })).code).toBe(0);
    const fps = parseRational('24');
    const format = yuvFormat('yuv422p10le')!;
    let yuv: YuvFrame | undefined;
    for await (const f of decodeFrames({ path: file, fps, startFrame: 0, frameCount: 1, yuv: format })) yuv = f;
    let rgb: Frame | undefined;
    for await (const f of decodeFrames({ path: file, fps, startFrame: 0, frameCount: 1 })) rgb = f;
    const ours = yuvToModelRgb(yuv!, { x: 0, y: 0, width: W, height: H }, 'bt709');
    // Compare away from colour edges, where ffmpeg interpolates chroma and we take the sample a pixel sits on.
    let compared = 0;
    let worst = 0;
    for (let y = 1; y < H - 1; y++) {
      for (let x = 2; x < W - 2; x++) {
        const p = (y * W + x) * 3;
        const flat = [-2, -1, 1, 2].every((d) => [0, 1, 2].every((k) => rgb!.data[p + d * 3 + k] === rgb!.data[p + k]));
        if (!flat) continue;
        compared++;
        for (let k = 0; k < 3; k++) worst = Math.max(worst, Math.abs(ours.data[p + k]! - rgb!.data[p + k]!));
      }
    }
    expect(compared).toBeGreaterThan((W * H) / 3);
    expect(worst).toBeLessThanOrEqual(1);
  });
});
