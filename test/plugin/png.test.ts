/**
 * The panel's own PNG decoder and inflate (plugin/connection/png.ts, inflate.ts), against Node's
 * zlib and PNGs written by the real ffmpeg (filtered rows, dynamic Huffman): frames by value
 * depend on reading Premiere's exported frames exactly.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ffmpegPath } from '../../companion/media/ffmpeg.ts';
import { deflateStored, inflate } from '../../plugin/connection/inflate.ts';
import { decodePng, encodePng, isCompletePng } from '../../plugin/connection/png.ts';
import { tempDir } from '../helpers/fixtures.ts';

function noiseAndRuns(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = i % 300 < 150 ? (s >>> 24) & 0xff : (i >> 4) & 0xff; // random, then repetitive
  }
  return out;
}

describe('inflate', () => {
  it('reads what zlib writes at every level, and stored blocks', () => {
    for (const size of [0, 1, 100, 70_000, 200_000]) {
      const data = noiseAndRuns(size, size + 3);
      for (const level of [0, 1, 6, 9]) expect(inflate(deflateSync(data, { level }))).toEqual(data);
      expect(inflate(deflateStored(data))).toEqual(data);
    }
  });

  it('refuses corrupt and truncated data', () => {
    const z = deflateSync(noiseAndRuns(5000), { level: 6 });
    expect(() => inflate(z.subarray(0, z.length - 10))).toThrow(/inflate/);
    const bad = Uint8Array.from(z);
    bad[bad.length - 1] ^= 0xff;
    expect(() => inflate(bad)).toThrow(/Adler-32/);
  });
});

describe('PNG', () => {
  it('round-trips its own encoding (RGB and RGBA)', () => {
    for (const channels of [3, 4] as const) {
      const img = { width: 19, height: 7, channels, pixels: noiseAndRuns(19 * 7 * channels) };
      const png = encodePng(img);
      expect(isCompletePng(png)).toBe(true);
      expect(isCompletePng(png.subarray(0, png.length - 3))).toBe(false);
      expect(decodePng(png, { keepAlpha: true })).toEqual(img);
    }
  });

  it('decodes ffmpeg-written PNGs (rgb24, rgba, rgb48, gray, palette) to the same pixels as ffmpeg', async () => {
    const ff = await ffmpegPath();
    const dir = tempDir('reshoot-png-');
    try {
      const src = ['-f', 'lavfi', '-i', 'testsrc2=size=66x44:rate=1', '-vf', 'scale=67:45', '-frames:v', '1'];
      const raw = (file: string, fmt: string) =>
        new Uint8Array(execFileSync(ff, ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', fmt, '-'], { maxBuffer: 1 << 24 }));
      for (const fmt of ['rgb24', 'rgba', 'rgb48be', 'gray', 'pal8']) {
        const file = path.join(dir.dir, `${fmt}.png`);
        execFileSync(ff, ['-v', 'error', ...src, '-pix_fmt', fmt, '-y', file]);
        const img = decodePng(new Uint8Array(readFileSync(file)));
        expect(img).toMatchObject({ width: 67, height: 45, channels: 3 });
        // 16-bit: ffmpeg's own 48→24 conversion dithers, so compare with its 16-bit samples rounded.
        const r16 = fmt === 'rgb48be' ? raw(file, 'rgb48be') : null;
        const want = r16 ? Uint8Array.from({ length: 67 * 45 * 3 }, (_, i) => Math.round(((r16[2 * i]! << 8) | r16[2 * i + 1]!) / 257)) : raw(file, 'rgb24');
        expect(img.pixels, fmt).toEqual(want);
      }
    } finally {
      dir.cleanup();
    }
  });

  it('names what is wrong with a bad file', () => {
    expect(() => decodePng(new Uint8Array([1, 2, 3]))).toThrow(/not a PNG/);
    const png = encodePng({ width: 4, height: 4, channels: 3, pixels: new Uint8Array(48) });
    expect(() => decodePng(png.subarray(0, png.length - 12))).toThrow(/IEND/);
    const bad = Uint8Array.from(png);
    bad[20] ^= 1;
    expect(() => decodePng(bad)).toThrow(/CRC/);
  });
});
