/**
 * Fill and replace in the source's own Y'CbCr (media/yuv.ts): when the output stores the source's
 * pixel format, the planes pass through untouched outside the mask — every luma code whose pixel
 * the mask leaves alone, and every chroma code none of whose pixels it touches, is the source's.
 * Compared code for code with ffmpeg's own decode of the source (no RGB in between).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobSpec, type JobSpec, type JobSpecInput } from '../../protocol/index.ts';
import { Engine } from '../../companion/engine/engine.ts';
import { runJob } from '../../companion/jobs/run.ts';
import { pickPipeline } from '../../companion/jobs/resolve.ts';
import { rasterizeShapes } from '../../companion/masks/index.ts';
import { decodeFrames } from '../../companion/media/decode.ts';
import { ffmpegPath, runTool } from '../../companion/media/ffmpeg.ts';
import { SCALE_FLAGS } from '../../companion/media/decode.ts';
import { probe, type MediaInfo } from '../../companion/media/probe.ts';
import { chromaSize, yuvFormat, type YuvFormat, type YuvFrame } from '../../companion/media/yuv.ts';
import { parseRational } from '../../protocol/rational.ts';
import { tempDir, testsrcClip, useTestModelCache } from '../helpers/fixtures.ts';

useTestModelCache();

const W = 96;
const H = 64;
const N = 9;
const RATE = '24000/1001';
const tmp = tempDir();
let engine: Engine;
let ten = '';
let eight = '';
let eight422 = '';
let alpha = '';
let alpha10 = '';

const lavfi = (name: string, filter: string, codecArgs: string[]): Promise<string> =>
  testsrcClip(tmp.dir, name, { width: W, height: H, rate: RATE, frames: N }, filter, codecArgs);

const bt709 = ['-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-movflags', '+write_colr'];

beforeAll(async () => {
  ten = await lavfi('ten.mov', 'format=yuv422p10le', ['-c:v', 'prores_ks', '-profile:v', '3', '-pix_fmt', 'yuv422p10le', ...bt709]);
  eight = await lavfi('eight.mp4', 'format=yuv420p', ['-c:v', 'libx264', '-crf', '18', '-pix_fmt', 'yuv420p']);
  eight422 = await lavfi('eight422.mkv', 'format=yuv422p', ['-c:v', 'ffv1', '-pix_fmt', 'yuv422p']);
  // ProRes 4444 with a real alpha gradient: transparent at the left edge, opaque at the right.
  const gradient = "format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='255*X/(W-1)'";
  alpha10 = await lavfi('alpha10.mkv', gradient, ['-c:v', 'ffv1', '-level', '3', '-pix_fmt', 'yuva444p10le', ...bt709.slice(0, -2)]);
  alpha = await lavfi('alpha.mov', gradient, ['-c:v', 'prores_ks', '-profile:v', '4', '-pix_fmt', 'yuva444p10le', '-alpha_bits', '16', ...bt709]);
  engine = await Engine.open('builtin:tiny');
});
afterAll(async () => {
  await engine?.close();
  tmp.cleanup();
});

const mask = {
  type: 'shapes' as const,
  shapes: [{ kind: 'ellipse' as const, feather: 3, keyframes: [{ frame: 0, cx: 30, cy: 30, rx: 12, ry: 9 }, { frame: N - 1, cx: 61, cy: 35, rx: 14, ry: 10 }] }],
};

function fill(source: string, out: string, format: string, extra: Record<string, unknown> = {}): JobSpec {
  return parseJobSpec({ kind: 'fill', prompt: 'plate', seed: 3, steps: 2, sequence: { fps: RATE, width: W, height: H }, source: { path: source }, mask, output: { path: out, format }, ...extra } as JobSpecInput);
}

async function codes(file: string, format: YuvFormat): Promise<YuvFrame[]> {
  const frames: YuvFrame[] = [];
  for await (const f of decodeFrames({ path: file, fps: parseRational(RATE), startFrame: 0, frameCount: N, yuv: format })) frames.push({ ...f, data: f.data.slice() });
  return frames;
}

/** The mask of frame f as the job rasterizes it (defaults filled in by the parser). */
function maskAt(spec: JobSpec, f: number): Float32Array {
  if (spec.kind !== 'fill' || spec.mask.type !== 'shapes') throw new Error('unreachable');
  return rasterizeShapes(spec.mask, f, W, H);
}

/**
 * Codes outside the mask (luma and alpha of unmasked pixels, chroma none of whose pixels is
 * masked) that differ, luma codes of fully masked pixels that differ, and the alpha codes there.
 */
function compare(spec: JobSpec, out: YuvFrame[], ref: YuvFrame[]) {
  let outside = 0;
  let outsideDiffer = 0;
  let insideDiffer = 0;
  let inside = 0;
  const alphaInside = new Set<number>();
  for (let f = 0; f < ref.length; f++) {
    const a = maskAt(spec, f);
    const { sx, sy, alpha } = ref[f]!.format;
    const c = chromaSize(W, H, ref[f]!.format);
    const alphaAt = W * H + 2 * c.width * c.height;
    for (let p = 0; p < W * H; p++) {
      const differs = out[f]!.data[p] !== ref[f]!.data[p];
      if (a[p] === 0) (outside++, (outsideDiffer += differs ? 1 : 0));
      else if (a[p] === 1) (inside++, (insideDiffer += differs ? 1 : 0));
      if (!alpha) continue;
      if (a[p] === 0) (outside++, (outsideDiffer += out[f]!.data[alphaAt + p] !== ref[f]!.data[alphaAt + p] ? 1 : 0));
      else if (a[p] === 1) alphaInside.add(out[f]!.data[alphaAt + p]!);
    }
    for (let cy = 0; cy < c.height; cy++) {
      for (let cx = 0; cx < c.width; cx++) {
        let masked = false;
        for (let y = cy << sy; y < Math.min(H, (cy + 1) << sy); y++) for (let x = cx << sx; x < Math.min(W, (cx + 1) << sx); x++) masked ||= a[y * W + x] !== 0;
        if (masked) continue;
        for (const plane of [W * H, W * H + c.width * c.height]) {
          outside++;
          if (out[f]!.data[plane + cy * c.width + cx] !== ref[f]!.data[plane + cy * c.width + cx]) outsideDiffer++;
        }
      }
    }
  }
  return { outside, outsideDiffer, inside, insideDiffer, alphaInside };
}

/**
 * ProRes codes each 16-line row of macroblocks of these small frames as its own slices: every
 * row the mask does not reach must come out exactly as a plain transcode's (the same codes in,
 * the same encoder), in every plane. Returns how many rows were compared.
 */
function untouchedRowsEqual(spec: JobSpec, ours: YuvFrame[], reference: YuvFrame[]): number {
  let rows = 0;
  const format = ours[0]!.format;
  const c = chromaSize(W, H, format);
  const planes: [number, number][] = [[0, W], [W * H, c.width], [W * H + c.width * c.height, c.width]];
  if (format.alpha) planes.push([W * H + 2 * c.width * c.height, W]);
  for (let f = 0; f < N; f++) {
    const a = maskAt(spec, f);
    for (let row = 0; row < H / 16; row++) {
      if (a.subarray(row * 16 * W, (row + 1) * 16 * W).some((v) => v !== 0)) continue;
      rows++;
      for (const [at, width] of planes) {
        const part = (d: YuvFrame['data']) => Array.from(d.subarray(at + row * 16 * width, at + (row + 1) * 16 * width));
        expect(part(ours[f]!.data)).toEqual(part(reference[f]!.data));
      }
    }
  }
  return rows;
}

describe("fill in the source's own Y'CbCr", () => {
  it('10-bit 4:2:2 ProRes into FFV1: stored as yuv422p10le, every code outside the mask the source\'s', async () => {
    const spec = fill(ten, path.join(tmp.dir, 'ten.mkv'), 'ffv1');
    const r = await runJob(spec, { engine });
    expect(r.provenance.media.yuv).toBe('yuv422p10le');
    const info = await probe(r.output);
    expect(info).toMatchObject({ pixFmt: 'yuv422p10le', frameCount: N, colorSpace: 'bt709' });
    expect(info.fps).toEqual(parseRational(RATE));
    const format = yuvFormat('yuv422p10le')!;
    const c = compare(spec, await codes(r.output, format), await codes(ten, format));
    expect(c.outside).toBeGreaterThan(N * W * H); // luma and chroma outside were all looked at
    expect(c.outsideDiffer).toBe(0);
    // The model's picture is really there: most fully masked luma codes changed.
    expect(c.insideDiffer).toBeGreaterThan(c.inside * 0.5);
  });

  for (const [name, source, pixFmt] of [
    ['10-bit 4:2:2 ProRes', () => ten, 'yuv422p10le'],
    ['8-bit 4:2:2 (widened k → 4k)', () => eight422, 'yuv422p'],
    ['8-bit 4:2:0 H.264 (chroma by ffmpeg\'s scaler)', () => eight, 'yuv420p'],
  ] as const) {
    it(`${name} into ProRes 422 HQ: every row the mask misses is a plain ffmpeg transcode's, code for code`, async () => {
      expect((await probe(source())).pixFmt).toBe(pixFmt);
      const spec = fill(source(), path.join(tmp.dir, `${pixFmt}-out.mov`), 'prores422hq');
      const r = await runJob(spec, { engine });
      expect(r.provenance.media.yuv).toBe('yuv422p10le');
      expect(r.provenance.media.notes.some((n) => n.includes(`${pixFmt} was converted to yuv422p10le`))).toBe(pixFmt !== 'yuv422p10le');
      const plain = path.join(tmp.dir, `${pixFmt}-plain.mov`);
      const args = ['-v', 'error', '-y', '-i', source(), '-vf', `scale=flags=${SCALE_FLAGS},format=yuv422p10le`, '-c:v', 'prores_ks', '-profile:v', '3', '-vendor', 'apl0', '-pix_fmt', 'yuv422p10le', plain];
      expect((await runTool(await ffmpegPath(), args, { timeoutMs: 60_000 })).code).toBe(0);
      const format = yuvFormat('yuv422p10le')!;
      const ours = await codes(r.output, format);
      const reference = await codes(plain, format);
      expect(untouchedRowsEqual(spec, ours, reference)).toBeGreaterThan(N); // about half of the rows are untouched
      // And the mask's own rows: the model's picture is there.
      expect(compare(spec, ours, reference).insideDiffer).toBeGreaterThan(0);
    });
  }

  it('10-bit 4:4:4 with a gradient alpha into FFV1: colour and alpha codes the source\'s outside, opaque inside', async () => {
    const own = 'yuva444p10le';
    const spec = fill(alpha10, path.join(tmp.dir, 'alpha.mkv'), 'ffv1');
    const r = await runJob(spec, { engine });
    expect(r.provenance.media).toMatchObject({ yuv: own, alpha: true });
    expect(await probe(r.output)).toMatchObject({ pixFmt: own, hasAlpha: true });
    const format = yuvFormat(own)!;
    const source = await codes(alpha10, format);
    const c = compare(spec, await codes(r.output, format), source);
    expect(c.outsideDiffer).toBe(0);
    expect([...c.alphaInside]).toEqual([1023]);
    // The gradient is real: transparent at the left, opaque at the right.
    const a0 = W * H * 3;
    expect(source[0]!.data[a0]).toBe(0);
    expect(source[0]!.data[a0 + W - 1]).toBeGreaterThan(1000); // (ffmpeg's rgba → 10-bit shifts alpha: 255 → 1020)
    // ProRes 4444 decodes at 12 bits here, which FFV1 cannot store as it is: that job goes through RGB (deep-alpha.test.ts).
    expect((await probe(alpha)).pixFmt).toBe('yuva444p12le');
    expect(pickPipeline(fill(alpha, '/o.mkv', 'ffv1'), await probe(alpha)).yuv).toBeUndefined();
  });

  it('alpha "source" keeps the source\'s alpha inside too; alpha "none" writes opaque 4:4:4', async () => {
    const format = yuvFormat('yuva444p10le')!;
    const keep = fill(alpha10, path.join(tmp.dir, 'alpha-keep.mkv'), 'ffv1');
    if (keep.kind !== 'fill') throw new Error('unreachable');
    keep.output.alpha = 'source';
    const kept = await runJob(keep, { engine });
    const out = await codes(kept.output, format);
    const source = await codes(alpha10, format);
    for (let f = 0; f < N; f++) expect(Array.from(out[f]!.data.subarray(W * H * 3))).toEqual(Array.from(source[f]!.data.subarray(W * H * 3)));

    const none = fill(alpha, path.join(tmp.dir, 'alpha-none.mov'), 'prores4444');
    if (none.kind !== 'fill') throw new Error('unreachable');
    none.output.alpha = 'none';
    const r = await runJob(none, { engine });
    expect(r.provenance.media).toMatchObject({ yuv: 'yuv444p10le', alpha: false });
    // (ffmpeg 4.1's ProRes decoder reads 4444 back at 12 bits.)
    expect(await probe(r.output)).toMatchObject({ pixFmt: 'yuv444p12le', hasAlpha: false });
  });

  it('ProRes 4444 with alpha into ProRes 4444: every row the mask misses is a plain transcode\'s, alpha included', async () => {
    const spec = fill(alpha, path.join(tmp.dir, 'alpha-out.mov'), 'prores4444');
    const r = await runJob(spec, { engine });
    expect(r.provenance.media).toMatchObject({ yuv: 'yuva444p10le', alpha: true });
    const plain = path.join(tmp.dir, 'alpha-plain.mov');
    const args = ['-v', 'error', '-y', '-i', alpha, '-c:v', 'prores_ks', '-profile:v', '4', '-vendor', 'apl0', '-pix_fmt', 'yuva444p10le', plain];
    expect((await runTool(await ffmpegPath(), args, { timeoutMs: 60_000 })).code).toBe(0);
    const format = yuvFormat('yuva444p10le')!;
    const ours = await codes(r.output, format);
    expect(untouchedRowsEqual(spec, ours, await codes(plain, format))).toBeGreaterThan(N);
    expect([...compare(spec, ours, await codes(alpha, format)).alphaInside]).toEqual([1023]);
    expect(r.provenance.media.notes.some((n) => n.includes('yuva444p12le was converted to yuva444p10le'))).toBe(true);
  });

  it('8-bit 4:2:0 H.264 into H.264 travels as yuv420p', async () => {
    const spec = fill(eight, path.join(tmp.dir, 'eight-out.mp4'), 'h264');
    const r = await runJob(spec, { engine });
    expect(r.provenance.media.yuv).toBe('yuv420p');
    expect(await probe(r.output)).toMatchObject({ pixFmt: 'yuv420p', frameCount: N });
  });
});

describe("which jobs stay in Y'CbCr (pickPipeline)", () => {
  const info = (over: Partial<MediaInfo> = {}): MediaInfo => ({
    path: '/in.mov', width: W, height: H, fps: parseRational(RATE), frameCount: N, durationSeconds: 1, codec: 'prores', pixFmt: 'yuv422p10le', bitDepth: 10,
    hasAlpha: false, isImage: false, videoStartOffset: 0, colorSpace: 'bt709', sampleAspect: { num: 1, den: 1 }, rotation: 0, ...over,
  });
  const yuvOf = (spec: JobSpec, over?: Partial<MediaInfo>) => pickPipeline(spec, info(over)).yuv?.pixFmt;

  it('what the output stores, for a Y\'CbCr source into a Y\'CbCr output; RGB outputs stay RGB', () => {
    expect(yuvOf(fill('/in.mov', '/o.mov', 'prores422hq'))).toBe('yuv422p10le');
    expect(yuvOf(fill('/in.mov', '/o.mkv', 'ffv1'), { pixFmt: 'yuv420p', bitDepth: 8 })).toBe('yuv420p');
    expect(yuvOf(fill('/in.mov', '/o.mp4', 'h264'), { pixFmt: 'yuv420p', bitDepth: 8 })).toBe('yuv420p');
    expect(yuvOf(fill('/in.mov', '/o.mov', 'prores4444'), { pixFmt: 'yuv444p10le' })).toBe('yuv444p10le');
    // Another chroma layout or depth than the output stores: converted in Y'CbCr to what it stores.
    expect(yuvOf(fill('/in.mov', '/o.mov', 'prores422hq'), { pixFmt: 'yuv420p', bitDepth: 8 })).toBe('yuv422p10le');
    expect(yuvOf(fill('/in.mov', '/o.mp4', 'h264'))).toBe('yuv420p');
    // An odd size with subsampled chroma: FFV1 stores it, ProRes and H.264 go through RGB (which pads).
    const odd = (format: string) => pickPipeline(fill('/in.mov', '/o', format, { sequence: { fps: RATE, width: W - 1, height: H - 1 } }), info({ pixFmt: 'yuv420p', bitDepth: 8, width: W - 1, height: H - 1 })).yuv?.pixFmt;
    expect(odd('ffv1')).toBe('yuv420p');
    expect(odd('h264')).toBeUndefined();
    expect(odd('prores422hq')).toBeUndefined();
    // RGB outputs: RGB.
    expect(yuvOf(fill('/in.mov', '/o', 'png'))).toBeUndefined();
    expect(yuvOf(fill('/in.mov', '/o', 'dpx'))).toBeUndefined();
  });

  it('RGB whenever the frame must be scaled, placed, turned or re-ranged, and for generated kinds; alpha stays where it is stored', () => {
    const spec = fill('/in.mov', '/o.mov', 'prores422hq');
    expect(yuvOf(spec, { width: W * 2 })).toBeUndefined();
    expect(yuvOf(spec, { sampleAspect: { num: 4, den: 3 } })).toBeUndefined();
    expect(yuvOf(spec, { rotation: 90 })).toBeUndefined();
    expect(yuvOf(spec, { colorRange: 'pc' })).toBeUndefined();
    expect(yuvOf(spec, { pixFmt: 'yuva444p10le', hasAlpha: true })).toBe('yuv422p10le'); // 422 HQ stores no alpha
    expect(yuvOf(fill('/in.mov', '/o.mov', 'prores4444'), { pixFmt: 'yuva444p10le', hasAlpha: true })).toBe('yuva444p10le');
    expect(yuvOf(fill('/in.mov', '/o.mkv', 'ffv1'), { pixFmt: 'yuva444p10le', hasAlpha: true })).toBe('yuva444p10le');
    expect(yuvOf(fill('/in.mov', '/o.mkv', 'ffv1'), { pixFmt: 'yuva444p12le', hasAlpha: true })).toBeUndefined(); // FFV1 has no 12-bit alpha
    expect(yuvOf(fill('/in.mov', '/o.mov', 'prores4444'), { pixFmt: 'yuva444p12le', hasAlpha: true })).toBe('yuva444p10le');
    expect(yuvOf(spec, { pixFmt: 'yuvj420p' })).toBeUndefined();
    expect(yuvOf(spec, { isImage: true })).toBeUndefined();
    const extend = parseJobSpec({ kind: 'extend', prompt: 'p', sequence: { fps: RATE, width: W, height: H }, source: { path: '/in.mov' }, extend: { direction: 'tail', duration: { frames: 8 } }, output: { path: '/o.mov', format: 'prores422hq' } } as JobSpecInput);
    expect(yuvOf(extend)).toBeUndefined();
  });
});
