/**
 * Our EXR reader (exrRead.ts) against files other software wrote: OpenImageIO's oiiotool
 * (Debian openimageio-tools, installed by .ci/run) recompresses a picture of known half values
 * (0..20, negatives, NaN, ±Inf, an alpha ramp) as RLE, ZIPS, ZIP and PIZ, in HALF and FLOAT.
 * Every compression must give back exactly the halves written; OpenImageIO's own decode
 * (--dumpdata) and ffmpeg's (in-range samples; ffmpeg clips the rest) agree with ours.
 * Tiled, multi-part, deep and lossy-compressed files are refused, naming file and reason.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeExr, fromHalf, toHalf } from '../../companion/media/exr.ts';
import { decodeExr, readExr } from '../../companion/media/exrRead.ts';
import { ffmpegPath, runTool } from '../../companion/media/ffmpeg.ts';
import { isReshootError } from '../../companion/errors.ts';
import { tempDir } from '../helpers/fixtures.ts';

// Large enough that PIZ's value map holds more than 2^14 distinct halves (its 16-bit wavelet
// mode), with odd sizes (PIZ's 32-line blocks and the wavelet's odd rows and columns).
const W = 301;
const H = 203;
const tmp = tempDir();
let src = '';
let want: Uint16Array;

function oiio(...args: string[]): string {
  return execFileSync('oiiotool', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
}

beforeAll(() => {
  want = new Uint16Array(W * H * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = (y * W + x) * 4;
      want[p] = toHalf((20 * x) / W); // 0..20: highlights far above 1.0
      want[p + 1] = toHalf((y - 40) / 50); // negatives down to -0.8
      want[p + 2] = (x * 7919 + y * 104729) & 0x7bff; // every finite positive half, scattered
      want[p + 3] = toHalf(x / (W - 1));
    }
  }
  want[3 * 4] = 0x7c00; // +Inf
  want[5 * 4 + 1] = 0x7e00; // NaN
  want[7 * 4 + 2] = 0xfc00; // -Inf
  src = path.join(tmp.dir, 'src.exr');
  writeFileSync(src, encodeExr({ width: W, height: H, channels: 4, depth: 16, data: want }, { compression: 'none', transfer: 'half' }));
});
afterAll(() => tmp.cleanup());

function firstDifference(a: Uint16Array, b: Uint16Array): string | null {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `sample ${i}: ${a[i]!.toString(16)} vs ${b[i]!.toString(16)}`;
  return null;
}

describe('reading EXR files oiiotool wrote', () => {
  for (const compression of ['none', 'rle', 'zips', 'zip', 'piz']) {
    for (const type of ['half', 'float']) {
      it(`${compression.toUpperCase()}, ${type.toUpperCase()} channels: every sample is the half written (>1, negatives, NaN, Inf)`, async () => {
        const file = path.join(tmp.dir, `${compression}-${type}.exr`);
        oiio(src, '-d', type, '--compression', compression, '-o', file);
        expect(oiio('--info', '-v', file)).toContain(`compression: "${compression}"`);
        const img = await readExr(file);
        expect(img).toMatchObject({ width: W, height: H, channels: 4, ignored: [] });
        expect(firstDifference(img.data, want)).toBeNull();
      });
    }
  }

  it("agrees with OpenImageIO's own decode of a PIZ file, sample for sample", async () => {
    const file = path.join(tmp.dir, 'check-piz.exr');
    oiio(src, '--compression', 'piz', '-o', file);
    const img = await readExr(file);
    let checked = 0;
    for (const line of oiio('--dumpdata', file).split('\n')) {
      const m = /Pixel \((\d+), (\d+)\): (.*)$/.exec(line);
      if (!m) continue;
      const p = (Number(m[2]) * W + Number(m[1])) * 4;
      m[3]!.trim().split(/\s+/).forEach((s, c) => {
        const theirs = Number(s);
        const ours = fromHalf(img.data[p + c]!);
        if (Number.isNaN(ours)) expect(s.toLowerCase()).toContain('nan');
        // --dumpdata prints -Inf as "inf" too (the -Inf half itself is checked bit for bit above).
        else if (!Number.isFinite(ours)) expect(s.toLowerCase().replace('-', '')).toBe('inf');
        else expect(Math.abs(theirs - ours), `pixel ${m[1]},${m[2]} channel ${c}`).toBeLessThanOrEqual(1e-9 + 1e-8 * Math.abs(ours));
        checked++;
      });
    }
    expect(checked).toBe(W * H * 4);
  });

  it("agrees with ffmpeg's decode wherever ffmpeg does not clip (0..1), and keeps what it clips", async () => {
    const file = path.join(tmp.dir, 'ffmpeg-piz.exr');
    oiio(src, '--compression', 'piz', '-o', file);
    const img = await readExr(file);
    const r = await runTool(await ffmpegPath(), ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgba64le', 'pipe:1'], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    const theirs = new Uint16Array(new Uint8Array(r.stdout).buffer);
    let inRange = 0;
    let clipped = 0;
    for (let i = 0; i < theirs.length; i++) {
      const v = fromHalf(img.data[i]!);
      if (v >= 0 && v <= 1) {
        expect(ffmpegHalfToUint16(img.data[i]!), `sample ${i}`).toBe(theirs[i]);
        inRange++;
      } else if (v > 1) {
        expect(theirs[i]).toBe(65535);
        clipped++;
      }
    }
    expect(inRange).toBeGreaterThan(50_000);
    expect(clipped).toBeGreaterThan(50_000); // what ffmpeg loses and our reader keeps (checked above)
  });

  it('skips channels that are not R, G, B or A, and names them', async () => {
    const file = path.join(tmp.dir, 'z.exr');
    oiio(src, '--ch', 'R,G,B,A,Z=0.5', '--compression', 'zip', '-o', file);
    const img = await readExr(file);
    expect(img.ignored).toEqual(['Z']);
    expect(firstDifference(img.data, want)).toBeNull();
  });

  it('an RGB file (no alpha) reads as 3 channels', async () => {
    const file = path.join(tmp.dir, 'rgb.exr');
    oiio(src, '--ch', 'R,G,B', '--compression', 'piz', '-o', file);
    const img = await readExr(file);
    expect(img.channels).toBe(3);
    expect(img.data.filter((_, i) => i % 3 === 0).every((h, p) => h === want[p * 4])).toBe(true);
  });
});

/** ffmpeg 4.1's EXR decoder, half → 16-bit integer with no transfer curve (libavcodec/exr.c exr_halflt2uint). */
function ffmpegHalfToUint16(h: number): number {
  const exp = (14 - (h >>> 10)) >>> 0;
  if (exp >= 14) {
    if (exp === 14) return (h >>> 9) & 1;
    return h & 0x8000 ? 0 : 0xffff;
  }
  const v = (h << 6) & 0xffff;
  return (v + 0x10000) >>> (exp + 1);
}

describe('files the reader refuses, with one message naming the file and why', () => {
  async function refusal(file: string): Promise<string> {
    try {
      await readExr(file);
    } catch (e) {
      if (!isReshootError(e)) throw e;
      expect(e.code).toBe('source_unreadable');
      expect(e.message).toContain(file);
      return e.message;
    }
    throw new Error(`${file} was read`);
  }

  it('tiled', async () => {
    const file = path.join(tmp.dir, 'tiled.exr');
    oiio(src, '--tile', '16', '16', '-o', file);
    expect(await refusal(file)).toMatch(/tiled EXR is not read/);
  });

  for (const c of ['b44', 'pxr24', 'dwaa']) {
    it(`${c.toUpperCase()} compression`, async () => {
      const file = path.join(tmp.dir, `${c}.exr`);
      oiio(src, '--compression', c, '-o', file);
      expect(await refusal(file)).toContain(`EXR compression ${c.toUpperCase()} is not read (NONE, RLE, ZIPS, ZIP and PIZ are)`);
    });
  }

  it('multi-part and deep (by their version flags)', async () => {
    const bytes = readFileSync(src);
    for (const [flag, words] of [[0x1000, 'multi-part'], [0x800, 'deep']] as const) {
      const file = path.join(tmp.dir, `${words}.exr`);
      const b = Buffer.from(bytes);
      b.writeUInt32LE(b.readUInt32LE(4) | flag, 4);
      writeFileSync(file, b);
      expect(await refusal(file)).toContain(`a ${words} EXR is not read`);
    }
  });

  it('not an EXR, a picture without R, G and B, and a file cut short', async () => {
    const png = path.join(tmp.dir, 'not.exr');
    writeFileSync(png, Buffer.from('\x89PNG\r\n\x1a\n0000000000'));
    expect(await refusal(png)).toContain('not an OpenEXR file');
    const y = path.join(tmp.dir, 'y.exr');
    oiio(src, '--ch', 'Y=R', '-o', y);
    expect(await refusal(y)).toContain('no "R" channel (channels: Y); an RGB plate is needed.');
    const cut = path.join(tmp.dir, 'cut.exr');
    const piz = path.join(tmp.dir, 'whole.exr');
    oiio(src, '--compression', 'piz', '-o', piz);
    const whole = readFileSync(piz);
    writeFileSync(cut, whole.subarray(0, whole.length - 5000));
    expect(await refusal(cut)).toMatch(/cut short|past the end|does not decompress/);
  });
});

describe('decodeExr', () => {
  it('reads our own writer, RGB and RGBA, uncompressed and ZIP, bit for bit', () => {
    for (const channels of [3, 4] as const) {
      const data = channels === 4 ? want : want.filter((_, i) => i % 4 !== 3);
      for (const compression of ['none', 'zip'] as const) {
        const img = decodeExr(encodeExr({ width: W, height: H, channels, depth: 16, data }, { compression, transfer: 'half' }), 'ours.exr');
        expect(img.channels).toBe(channels);
        expect(firstDifference(img.data, data), `${channels} channels, ${compression}`).toBeNull();
      }
    }
  });
});
