/**
 * Live previews without a VAE decode: a per-model linear map from one latent cell to one RGB
 * colour, `rgb = W·latent + b` (W: 3×C, b: 3; rgb in [−1, 1] like the VAE's video tensor), applied
 * to the sampler's current x0 estimate (see generate.ts). One latent cell becomes one preview
 * pixel, so a preview costs C·3 multiply-adds per cell plus a PNG of a few kilobytes: well under a
 * millisecond for the test model, a few for LTX-Video at full size, against steps of 10 ms
 * (test model) to seconds (real models). A decode would cost as much as several steps.
 *
 * Where the map comes from (`previewMapFor`, once per model, then kept in memory):
 *
 *  - Patchify "VAE" (test models, patchVae.ts): each latent channel is one pixel's colour at one
 *    (dt, dy, dx) position of the cell, channels ordered (rgb, dt, dy, dx), values the pixels
 *    themselves in [−1, 1]. Averaging the t·s·s channels of each colour is exactly the cell's
 *    mean colour: the preview is an exact box-downscale of the window's frames. The map is
 *    checked once against the model's own encoder (one small probe image); should a test model
 *    ever have another VAE, the check fails and the map is fitted as below.
 *
 *  - Any other VAE: fitted by least squares on the model's own encoder. A few synthetic clips
 *    (static, 1 + temporal frames, 6×6 latent cells: mosaics of flat colour blocks 2×2 cells
 *    large, spread over the RGB cube, plus two smooth colour gradients) go through
 *    `rt.encodeVideo`; every latent cell of every latent frame is one sample (its latent vector →
 *    the mean colour of the pixels it covers). W and b solve the ridge regression
 *    min Σ‖W·z + b − rgb‖² + λ‖W‖² on centred data (b is not shrunk; λ is 1e-3 of the mean
 *    diagonal of ZᵀZ, which keeps the C×C system well posed: flat colours make many channels
 *    collinear, and the test model has more channels than samples of some colours). Cost: ~7
 *    encodes of a 6×6-cell clip, once per model; the sampler asks for the map right after a
 *    window's own encode, while the encoder is resident. The result is written beside the model
 *    as `.preview-map.json` (keyed by the encoder's sha256), so later runs read it instead; test
 *    models keep it in memory only (their folders are rebuilt at will).
 *
 * The map is linear, so it shows colour and layout, not detail: what an editor needs to see
 * whether a generation is heading the right way, and to cancel early if not.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encodePng } from '../media/png.ts';
import { patchChannels } from '../models/patchVae.ts';
import type { ModelManifest } from '../models/types.ts';
import type { ModelRuntime } from './runtime.ts';

export interface PreviewMap {
  /** [C][3]: the weight of latent channel c in red, green and blue. */
  factors: number[][];
  /** [3] */
  bias: number[];
  /** 'patchify': derived exactly from the layout; 'fitted': least squares on the encoder. */
  method: 'patchify' | 'fitted';
}

export interface PreviewPicture {
  width: number;
  height: number;
  png: Uint8Array;
}

/** Bump when the fit changes, so maps cached on disk are fitted again. */
export const PREVIEW_MAP_VERSION = 1;
export const PREVIEW_MAP_FILE = '.preview-map.json';

/** Latent cells per side of the fitting clips, and of each flat colour block in them. */
const FIT_CELLS = 6;
const FIT_BLOCK = 2;
const FIT_MOSAICS = 5;
const RIDGE = 1e-3;

const cache = new Map<string, Promise<PreviewMap>>();

/**
 * The model's latent → RGB map: derived or fitted once (see the file comment), then cached in
 * memory per model folder (`dir`; null = memory only) and, for real models, on disk beside it.
 */
export function previewMapFor(rt: ModelRuntime, dir: string | null): Promise<PreviewMap> {
  const key = dir ?? `model:${rt.manifest.id}`;
  let p = cache.get(key);
  if (!p) {
    p = resolveMap(rt, rt.manifest.testModel ? null : dir);
    cache.set(key, p);
    // A failure is not cached: the next window tries again.
    p.catch(() => cache.delete(key));
  }
  return p;
}

/** Forgets the maps kept in memory (tests: the next call reads the disk cache or fits again). */
export function forgetPreviewMaps(): void {
  cache.clear();
}

async function resolveMap(rt: ModelRuntime, dir: string | null): Promise<PreviewMap> {
  const m = rt.manifest;
  if (isPatchifyLayout(m)) {
    const exact = patchifyPreviewMap(m);
    if ((await probeError(rt, exact)) < 1e-4) return exact;
  }
  const key = encoderKey(m);
  const file = dir ? join(dir, PREVIEW_MAP_FILE) : null;
  if (file) {
    const stored = await readStored(file, m, key);
    if (stored) return stored;
  }
  const fitted = await fitPreviewMap(rt);
  if (file) await store(file, m, key, fitted);
  return fitted;
}

/** A test model whose latent has exactly the patchify VAE's channel count. */
function isPatchifyLayout(m: ModelManifest): boolean {
  return m.testModel && !m.vae && m.latent.channels === patchChannels(m.latent);
}

/** The exact map of the patchify "VAE": the mean of each colour's t·s·s channels. */
export function patchifyPreviewMap(m: Pick<ModelManifest, 'latent'>): PreviewMap {
  const C = m.latent.channels;
  const perColour = C / 3;
  const factors = Array.from({ length: C }, (_, c) => {
    const row = [0, 0, 0];
    row[Math.floor(c / perColour)] = 1 / perColour;
    return row;
  });
  return { factors, bias: [0, 0, 0], method: 'patchify' };
}

// ---------------------------------------------------------------- fitting

/** Pixel colour (each in [−1, 1]) of a fitting clip at (x, y), as (u, v) in [0, 1). */
type Paint = (u: number, v: number) => [number, number, number];

/** The fitting clips: mosaics of flat colour blocks, then two smooth gradients. */
function fitPaints(): Paint[] {
  // A fixed walk over the RGB cube: its corners and mid-grey first, then spread values.
  const colours: [number, number, number][] = [];
  for (let i = 0; i < 8; i++) colours.push([i & 1 ? 1 : -1, i & 2 ? 1 : -1, i & 4 ? 1 : -1]);
  colours.push([0, 0, 0]);
  let s = 0x2545f491;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) / 2 ** 23 - 1;
  };
  const blocks = FIT_CELLS / FIT_BLOCK;
  while (colours.length < FIT_MOSAICS * blocks * blocks) colours.push([next(), next(), next()]);
  const paints: Paint[] = [];
  for (let k = 0; k < FIT_MOSAICS; k++) {
    paints.push((u, v) => colours[k * blocks * blocks + Math.floor(v * blocks) * blocks + Math.floor(u * blocks)]!);
  }
  paints.push((u, v) => [2 * u - 1, 2 * v - 1, 1 - u - v]);
  paints.push((u, v) => [1 - 2 * v, Math.sin(Math.PI * u), 2 * u * v - 1]);
  return paints;
}

/** Fits the map on the model's encoder (see the file comment). Exported for tests. */
export async function fitPreviewMap(rt: ModelRuntime): Promise<PreviewMap> {
  const { channels: C, spatial, temporal } = rt.manifest.latent;
  const F = 1 + temporal;
  const side = FIT_CELLS * spatial;
  const cells = FIT_CELLS * FIT_CELLS;
  const latentFrameCount = 2;
  const X: Float64Array[] = [];
  const Y: [number, number, number][] = [];
  for (const paint of fitPaints()) {
    const { video, cellMeans } = paintClip(paint, side, F, spatial);
    const latent = await rt.encodeVideo(video, F, side, side);
    // latent [1, C, f, h, w]: one sample per cell and latent frame (the clip is static).
    for (let j = 0; j < latentFrameCount; j++) {
      for (let cell = 0; cell < cells; cell++) {
        const z = new Float64Array(C);
        for (let c = 0; c < C; c++) z[c] = latent[(c * latentFrameCount + j) * cells + cell]!;
        X.push(z);
        Y.push(cellMeans[cell]!);
      }
    }
  }
  return { ...ridge(X, Y, C), method: 'fitted' };
}

/** A static clip [1, 3, F, side, side] painted by `paint`, and each latent cell's mean colour. */
function paintClip(paint: Paint, side: number, F: number, spatial: number): { video: Float32Array; cellMeans: [number, number, number][] } {
  const plane = side * side;
  const video = new Float32Array(3 * F * plane);
  const n = side / spatial;
  const sums = Array.from({ length: n * n }, () => [0, 0, 0] as [number, number, number]);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const rgb = paint((x + 0.5) / side, (y + 0.5) / side);
      const cell = Math.floor(y / spatial) * n + Math.floor(x / spatial);
      for (let c = 0; c < 3; c++) {
        const value = Math.max(-1, Math.min(1, rgb[c]!));
        sums[cell]![c]! += value;
        for (let t = 0; t < F; t++) video[(c * F + t) * plane + y * side + x] = value;
      }
    }
  }
  const per = spatial * spatial;
  return { video, cellMeans: sums.map((s) => [s[0] / per, s[1] / per, s[2] / per]) };
}

/** Ridge regression with an unshrunk intercept: centre, solve (ZᵀZ + λI)W = ZᵀY, b = ȳ − W·z̄. */
function ridge(X: Float64Array[], Y: [number, number, number][], C: number): { factors: number[][]; bias: number[] } {
  const N = X.length;
  const mx = new Float64Array(C);
  const my = [0, 0, 0];
  for (let i = 0; i < N; i++) {
    for (let c = 0; c < C; c++) mx[c]! += X[i]![c]! / N;
    for (let k = 0; k < 3; k++) my[k]! += Y[i]![k]! / N;
  }
  const A = new Float64Array(C * C);
  const B = new Float64Array(C * 3);
  const z = new Float64Array(C);
  for (let i = 0; i < N; i++) {
    for (let c = 0; c < C; c++) z[c] = X[i]![c]! - mx[c]!;
    for (let a = 0; a < C; a++) {
      const za = z[a]!;
      if (za === 0) continue;
      const row = a * C;
      for (let b = a; b < C; b++) A[row + b]! += za * z[b]!;
      for (let k = 0; k < 3; k++) B[a * 3 + k]! += za * (Y[i]![k]! - my[k]!);
    }
  }
  let trace = 0;
  for (let a = 0; a < C; a++) {
    trace += A[a * C + a]!;
    for (let b = 0; b < a; b++) A[a * C + b] = A[b * C + a]!;
  }
  const lambda = Math.max(RIDGE * (trace / C), 1e-12);
  for (let a = 0; a < C; a++) A[a * C + a]! += lambda;
  const W = choleskySolve(A, B, C, 3);
  const factors = Array.from({ length: C }, (_, c) => [W[c * 3]!, W[c * 3 + 1]!, W[c * 3 + 2]!]);
  const bias = [0, 1, 2].map((k) => my[k]! - factors.reduce((s, f, c) => s + f[k]! * mx[c]!, 0));
  return { factors, bias };
}

/** Solves A·X = B for symmetric positive definite A (n×n), B (n×m), in place of copies. */
function choleskySolve(A: Float64Array, B: Float64Array, n: number, m: number): Float64Array {
  const L = new Float64Array(A);
  for (let j = 0; j < n; j++) {
    let d = L[j * n + j]!;
    for (let k = 0; k < j; k++) d -= L[j * n + k]! ** 2;
    if (!(d > 0)) throw new Error('the preview map fit is not positive definite');
    const ljj = Math.sqrt(d);
    L[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = L[i * n + j]!;
      for (let k = 0; k < j; k++) s -= L[i * n + k]! * L[j * n + k]!;
      L[i * n + j] = s / ljj;
    }
  }
  const X = new Float64Array(B);
  for (let col = 0; col < m; col++) {
    for (let i = 0; i < n; i++) {
      let s = X[i * m + col]!;
      for (let k = 0; k < i; k++) s -= L[i * n + k]! * X[k * m + col]!;
      X[i * m + col] = s / L[i * n + i]!;
    }
    for (let i = n - 1; i >= 0; i--) {
      let s = X[i * m + col]!;
      for (let k = i + 1; k < n; k++) s -= L[k * n + i]! * X[k * m + col]!;
      X[i * m + col] = s / L[i * n + i]!;
    }
  }
  return X;
}

/** Largest colour error of `map` on one small probe clip through the model's encoder. */
async function probeError(rt: ModelRuntime, map: PreviewMap): Promise<number> {
  const { spatial, temporal, channels: C } = rt.manifest.latent;
  const F = 1 + temporal;
  const side = 2 * spatial;
  const { video, cellMeans } = paintClip((u, v) => [Math.sin(9 * u + 3 * v), Math.cos(7 * v - 2 * u), u * u - v], side, F, spatial);
  const latent = await rt.encodeVideo(video, F, side, side);
  const cells = 4;
  let worst = 0;
  for (let j = 0; j < 2; j++) {
    for (let cell = 0; cell < cells; cell++) {
      for (let k = 0; k < 3; k++) {
        let v = map.bias[k]!;
        for (let c = 0; c < C; c++) v += map.factors[c]![k]! * latent[(c * 2 + j) * cells + cell]!;
        worst = Math.max(worst, Math.abs(v - cellMeans[cell]![k]!));
      }
    }
  }
  return worst;
}

// ---------------------------------------------------------------- the disk cache

function encoderKey(m: ModelManifest): string {
  return m.files
    .filter((f) => f.path.includes('vae_encoder'))
    .map((f) => `${f.path}:${f.sha256}`)
    .sort()
    .join(',');
}

async function readStored(file: string, m: ModelManifest, key: string): Promise<PreviewMap | null> {
  try {
    const j = JSON.parse(await readFile(file, 'utf8')) as { version?: unknown; model?: unknown; encoder?: unknown; factors?: unknown; bias?: unknown };
    const C = m.latent.channels;
    const row = (r: unknown) => Array.isArray(r) && r.length === 3 && r.every((v) => typeof v === 'number' && Number.isFinite(v));
    if (j.version !== PREVIEW_MAP_VERSION || j.model !== m.id || j.encoder !== key) return null;
    if (!Array.isArray(j.factors) || j.factors.length !== C || !j.factors.every(row) || !row(j.bias)) return null;
    return { factors: j.factors as number[][], bias: j.bias as number[], method: 'fitted' };
  } catch {
    return null; // absent or unreadable: fit again
  }
}

async function store(file: string, m: ModelManifest, key: string, map: PreviewMap): Promise<void> {
  const tmp = `${file}.partial-${process.pid}`;
  try {
    await writeFile(tmp, `${JSON.stringify({ version: PREVIEW_MAP_VERSION, model: m.id, encoder: key, factors: map.factors, bias: map.bias })}\n`);
    await rename(tmp, file);
  } catch {
    // A read-only model folder: the map stays in memory for this process.
  }
}

// ---------------------------------------------------------------- the picture

/**
 * One latent frame as a small PNG: `tokens` holds its h·w cells (raster order) of C channels,
 * each mapped to one colour, then scaled up nearest-neighbour by a whole factor so the longer
 * side is at most `maxSize` px (scaled down, nearest, if the grid is larger than that).
 */
export function previewPicture(map: PreviewMap, tokens: Float32Array, C: number, h: number, w: number, maxSize: number): PreviewPicture {
  const weights = new Float32Array(C * 3);
  for (let c = 0; c < C; c++) for (let k = 0; k < 3; k++) weights[c * 3 + k] = map.factors[c]![k]!;
  const cellRgb = new Uint8Array(h * w * 3);
  for (let s = 0; s < h * w; s++) {
    let r = map.bias[0]!;
    let g = map.bias[1]!;
    let b = map.bias[2]!;
    const base = s * C;
    for (let c = 0; c < C; c++) {
      const z = tokens[base + c]!;
      r += weights[c * 3]! * z;
      g += weights[c * 3 + 1]! * z;
      b += weights[c * 3 + 2]! * z;
    }
    cellRgb[s * 3] = toByte(r);
    cellRgb[s * 3 + 1] = toByte(g);
    cellRgb[s * 3 + 2] = toByte(b);
  }
  const longer = Math.max(w, h);
  const k = Math.floor(maxSize / longer);
  const width = k >= 1 ? w * k : Math.max(1, Math.round((w * maxSize) / longer));
  const height = k >= 1 ? h * k : Math.max(1, Math.round((h * maxSize) / longer));
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const sy = Math.floor((y * h) / height);
    for (let x = 0; x < width; x++) {
      const src = (sy * w + Math.floor((x * w) / width)) * 3;
      const dst = (y * width + x) * 3;
      data[dst] = cellRgb[src]!;
      data[dst + 1] = cellRgb[src + 1]!;
      data[dst + 2] = cellRgb[src + 2]!;
    }
  }
  return { width, height, png: encodePng(width, height, 3, data) };
}

/** [−1, 1] → 0..255, as videoTensorToFrames rounds. */
function toByte(v: number): number {
  const b = Math.round((v + 1) * 127.5);
  return b < 0 ? 0 : b > 255 ? 255 : b;
}
