/**
 * Live previews with the real test model: the latent → RGB map (exact for the patchify "VAE",
 * fitted on the encoder for any other), the picture a window's preview shows, and the throttle
 * that keeps previews cheap (a fast job sends few, the output does not change).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../companion/engine/engine.ts';
import { generateWindow, type PreviewImage, type WindowRequest } from '../../companion/engine/generate.ts';
import { framesToVideoTensor, latentToTokens, pixelFramesOf } from '../../companion/engine/latents.ts';
import { fitPreviewMap, forgetPreviewMaps, PREVIEW_MAP_FILE, previewMapFor, previewPicture, type PreviewMap } from '../../companion/engine/previewMap.ts';
import { loadRuntime, type ModelRuntime } from '../../companion/engine/runtime.ts';
import { PREVIEW_EVERY_MS, PREVIEW_MAX_SIZE, type Preview } from '../../companion/jobs/render.ts';
import { runJob } from '../../companion/jobs/run.ts';
import { readImage } from '../../companion/media/decode.ts';
import type { Frame } from '../../companion/media/frame.ts';
import { syntheticFrame } from '../../companion/media/synthetic.ts';
import { loadModel } from '../../companion/models/registry.ts';
import type { ModelHandle } from '../../companion/models/types.ts';
import { parseJobSpec } from '../../protocol/index.ts';
import { losslessClip, tempDir, useTestModelCache } from '../helpers/fixtures.ts';

useTestModelCache();

const W = 64;
const H = 48;
const tmp = tempDir();
let model: ModelHandle;
let rt: ModelRuntime;
let engine: Engine;

beforeAll(async () => {
  model = await loadModel('builtin:tiny');
  rt = await loadRuntime(model, 'cpu');
  engine = await Engine.open('builtin:tiny');
});
afterAll(async () => {
  await rt?.release();
  await engine?.close();
  tmp.cleanup();
});

/** A minimal PNG reader (8-bit RGB, any filter), CRCs aside: enough to check what we encode. */
function readPng(png: Uint8Array): { width: number; height: number; data: Uint8Array } {
  expect([...png.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let o = 8;
  let width = 0;
  let height = 0;
  const idat: Uint8Array[] = [];
  while (o < png.length) {
    const len = view.getUint32(o);
    const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
    const body = png.subarray(o + 8, o + 8 + len);
    if (type === 'IHDR') {
      width = view.getUint32(o + 8);
      height = view.getUint32(o + 12);
      expect([body[8], body[9], body[12]]).toEqual([8, 2, 0]); // 8-bit RGB, not interlaced
    } else if (type === 'IDAT') idat.push(body);
    o += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * 3;
  const data = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)]!;
    for (let i = 0; i < stride; i++) {
      const v = raw[y * (stride + 1) + 1 + i]!;
      const a = i >= 3 ? data[y * stride + i - 3]! : 0;
      const b = y > 0 ? data[(y - 1) * stride + i]! : 0;
      const c = i >= 3 && y > 0 ? data[(y - 1) * stride + i - 3]! : 0;
      const p = a + b - c;
      const pred = [0, a, b, (a + b) >> 1, Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c][f]!;
      data[y * stride + i] = (v + pred) & 0xff;
    }
  }
  return { width, height, data };
}

const request = (over: Partial<WindowRequest> = {}): WindowRequest => ({
  width: W, height: H, frames: Array(9).fill(null), masks: Array(9).fill(null),
  prompt: 'x', negativePrompt: '', seed: 5, stream: 0, steps: 2, guidance: 3, strength: 1, conditioning: 'per-token', fps: 24,
  ...over,
});

/** Runs one window in this thread, keeping every preview. */
async function previewsOf(req: WindowRequest, map?: () => Promise<PreviewMap>): Promise<PreviewImage[]> {
  const got: PreviewImage[] = [];
  await generateWindow(rt, req, () => {}, () => false, { map: map ?? (() => previewMapFor(rt, model.dir)), emit: (p) => got.push(p) });
  return got;
}

/** The mean colour of latent cell (cx, cy) of latent frame j: the box the patchify VAE codes in it. */
function cellMean(frames: Frame[], j: number, cx: number, cy: number, s: number, t: number): number[] {
  const [first, last] = pixelFramesOf(j, t);
  const sum = [0, 0, 0];
  let n = 0;
  for (let f = first; f <= last; f++) {
    for (let y = cy * s; y < (cy + 1) * s; y++) {
      for (let x = cx * s; x < (cx + 1) * s; x++) {
        for (let c = 0; c < 3; c++) sum[c]! += frames[f]!.data[(y * W + x) * 3 + c]!;
        n++;
      }
    }
  }
  return sum.map((v) => v / n);
}

describe('the preview map', () => {
  it('is derived exactly from the patchify layout for the test model, kept in memory only', async () => {
    const map = await previewMapFor(rt, model.dir);
    expect(map.method).toBe('patchify');
    expect(map.factors).toHaveLength(rt.manifest.latent.channels);
    expect(existsSync(path.join(model.dir, PREVIEW_MAP_FILE))).toBe(false);
  });

  it('a window whose frames are all known previews the source, box-downscaled (exact up to rounding)', async () => {
    const { spatial: s, temporal: t } = rt.manifest.latent;
    const frames = Array.from({ length: 9 }, (_, i) => syntheticFrame(i, W, H, { seed: 11 }));
    // Default frame: nothing is generated, so the middle latent frame; then frame 0 by name.
    for (const [frame, j] of [[undefined, 2], [0, 0], [8, 4]] as const) {
      const got = await previewsOf(request({ frames, preview: { everyMs: 0, maxSize: PREVIEW_MAX_SIZE, ...(frame === undefined ? {} : { frame }) } }));
      expect(got.length).toBeGreaterThan(0);
      const p = got[0]!;
      expect(p.latentFrame).toBe(j);
      // 8×6 cells, scaled up 24× to 192×144.
      expect([p.width, p.height]).toEqual([192, 144]);
      const img = readPng(p.png);
      expect([img.width, img.height]).toEqual([192, 144]);
      const k = p.width / (W / s);
      let worst = 0;
      for (let cy = 0; cy < H / s; cy++) {
        for (let cx = 0; cx < W / s; cx++) {
          const want = cellMean(frames, j, cx, cy, s, t);
          // Every pixel of the cell's k×k block shows its colour (nearest-neighbour upscale).
          for (const [dx, dy] of [[0, 0], [k - 1, k - 1], [k >> 1, 0]] as const) {
            const o = ((cy * k + dy) * p.width + cx * k + dx) * 3;
            for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(img.data[o + c]! - want[c]!));
          }
        }
      }
      expect(worst).toBeLessThanOrEqual(0.5 + 1e-6);
    }
  });

  it('a standard decoder (ffmpeg) reads the preview PNG to the same pixels', async () => {
    const frames = Array.from({ length: 9 }, (_, i) => syntheticFrame(i, W, H, { seed: 2 }));
    const [p] = await previewsOf(request({ frames, preview: { everyMs: 0, maxSize: 100 } }));
    // 8×6 cells: the largest whole factor that fits 100 px is 12.
    expect([p!.width, p!.height]).toEqual([96, 72]);
    const file = path.join(tmp.dir, 'preview.png');
    writeFileSync(file, p!.png);
    const decoded = await readImage(file);
    expect([decoded.width, decoded.height]).toEqual([96, 72]);
    expect(Buffer.from(decoded.data).equals(Buffer.from(readPng(p!.png).data))).toBe(true);
  });

  it('fitted on the encoder by least squares, it recovers flat colours within a few levels', async () => {
    const fitted = await fitPreviewMap(rt);
    expect(fitted.method).toBe('fitted');
    const { channels: C, spatial: s, temporal: t } = rt.manifest.latent;
    const F = 1 + t;
    const side = 2 * s;
    // Colours that are not among the fitting clips' flat blocks.
    for (const colour of [[200, 30, 90], [17, 240, 128], [128, 128, 128], [3, 5, 250], [255, 255, 0]]) {
      const flat: Frame = { width: side, height: side, channels: 3, data: new Uint8Array(side * side * 3).map((_, i) => colour[i % 3]!) };
      const cells = (side / s) ** 2;
      const latent = latentToTokens(await rt.encodeVideo(framesToVideoTensor(Array(F).fill(flat)), F, side, side), C, 2 * cells);
      for (let j = 0; j < 2; j++) {
        const pic = previewPicture(fitted, latent.subarray(j * cells * C, (j + 1) * cells * C), C, side / s, side / s, 2);
        const img = readPng(pic.png);
        for (let i = 0; i < img.data.length; i++) expect(Math.abs(img.data[i]! - colour[i % 3]!)).toBeLessThanOrEqual(2);
      }
    }
  });

  it('a real model fits once and caches the map beside itself, keyed by its encoder', async () => {
    // The test model's encoder posing as a real model's: no patchify shortcut, a disk cache.
    const dir = path.join(tmp.dir, 'real-model');
    mkdirSync(dir);
    let encodes = 0;
    const manifest = { ...rt.manifest, id: 'test:real', testModel: false };
    const real: ModelRuntime = { ...rt, manifest, encodeVideo: (...a) => (encodes++, rt.encodeVideo(...a)) };
    const first = await previewMapFor(real, dir);
    expect(first.method).toBe('fitted');
    expect(encodes).toBeGreaterThan(0);
    const stored = JSON.parse(readFileSync(path.join(dir, PREVIEW_MAP_FILE), 'utf8'));
    expect(stored).toMatchObject({ model: 'test:real', factors: first.factors, bias: first.bias });
    // A new process (memory forgotten) reads it back without encoding anything.
    forgetPreviewMaps();
    encodes = 0;
    expect(await previewMapFor(real, dir)).toEqual(first);
    expect(encodes).toBe(0);
    // Another encoder (its sha256 differs): fitted again.
    forgetPreviewMaps();
    const other: ModelRuntime = { ...real, manifest: { ...manifest, files: manifest.files.map((f) => (f.path.includes('vae_encoder') ? { ...f, sha256: '0'.repeat(64) } : f)) } };
    await previewMapFor(other, dir);
    expect(encodes).toBeGreaterThan(0);
    forgetPreviewMaps();
  });

  it('a map that cannot be had means no previews, not a failed window', async () => {
    const got = await previewsOf(request({ preview: { everyMs: 0, maxSize: 64 } }), () => Promise.reject(new Error('no encoder')));
    expect(got).toEqual([]);
  });
});

describe('previews through the engine', () => {
  it('arrive from the worker as PNGs no more often than asked, and do not change the output', async () => {
    const big = request({ width: 128, height: 72, frames: Array(17).fill(null), masks: Array(17).fill(null), steps: 20 });
    const seen: { at: number; p: PreviewImage }[] = [];
    const t0 = performance.now();
    const withPreviews = await engine.generate({ ...big, preview: { everyMs: 100, maxSize: 192 } }, () => {}, (p) => seen.push({ at: performance.now(), p }));
    const wall = performance.now() - t0;
    const without = await engine.generate(big);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.length).toBeLessThanOrEqual(Math.floor(wall / 100) + 1);
    for (const { p } of seen) {
      expect([p.width, p.height]).toEqual([192, 108]);
      expect(readPng(p.png).data.length).toBe(192 * 108 * 3);
    }
    // Steps are strictly increasing: never two previews for one step.
    const steps = seen.map((s) => s.p.step);
    expect(steps).toEqual([...new Set(steps)].sort((a, b) => a - b));
    const bytes = (o: typeof without) => Buffer.concat(o.frames.map((f) => Buffer.from(f.data)));
    expect(bytes(withPreviews).equals(bytes(without))).toBe(true);
  });

  it('a fast job with 20 steps sends few previews (the render default throttle)', async () => {
    const source = await losslessClip(tmp.dir, 'src.mkv', W, H, 9);
    const spec = parseJobSpec({
      kind: 'extend', seed: 3, steps: 20, sequence: { fps: '24000/1001', width: W, height: H }, source: { path: source },
      extend: { direction: 'tail', duration: { frames: 8 } }, output: { format: 'ffv1', path: path.join(tmp.dir, 'out.mkv') },
    });
    const previews: Preview[] = [];
    let steps = 0;
    const t0 = performance.now();
    const r = await runJob(spec, { engine, force: true, onProgress: (p) => (steps += p.phase === 'generating' ? 1 : 0), onPreview: (p) => previews.push(p) });
    const wall = performance.now() - t0;
    expect(steps).toBeGreaterThanOrEqual(20);
    expect(r.stats.windows).toBeGreaterThanOrEqual(1);
    // At most one per PREVIEW_EVERY_MS of wall time, and never one per step.
    expect(previews.length).toBeLessThanOrEqual(Math.floor(wall / PREVIEW_EVERY_MS) + r.stats.windows);
    expect(previews.length).toBeLessThan(steps); // never one per step
    for (const p of previews) expect(Math.max(p.width, p.height)).toBeLessThanOrEqual(PREVIEW_MAX_SIZE);
  });
});
