/**
 * The other kinds and mask forms, end to end: generate, bridge, replace with a matte clip and
 * with a mask image, and Windows-style relative paths.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobSpec } from '../../protocol/index.ts';
import { Engine } from '../../companion/engine/engine.ts';
import { runJob } from '../../companion/jobs/run.ts';
import { openEncoder, writePng } from '../../companion/media/encode.ts';
import { makeFrame } from '../../companion/media/frame.ts';
import { probe } from '../../companion/media/probe.ts';
import { FPS, losslessClip, readAll, tempDir, useTestModelCache } from '../helpers/fixtures.ts';

useTestModelCache();

const W = 64;
const H = 48;
const N = 12;
const tmp = tempDir();
let source = '';
let engine: Engine;
const sequence = { fps: '24000/1001', width: W, height: H };

beforeAll(async () => {
  source = await losslessClip(tmp.dir, 'source.mkv', W, H, N);
  engine = await Engine.open('builtin:tiny');
});
afterAll(async () => {
  await engine?.close();
  tmp.cleanup();
});

/** A matte frame: white (generate) in the rectangle [x0, x1) × [y0, y1), black elsewhere. */
function matteFrame(x0: number, x1: number, y0: number, y1: number) {
  const f = makeFrame(W, H, 3);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) f.data.fill(255, (y * W + x) * 3, (y * W + x) * 3 + 3);
  return f;
}

/** Counts pixels that differ between two frames inside and outside [x0,x1)×[y0,y1). */
function diffInOut(a: Uint8Array, b: Uint8Array, x0: number, x1: number, y0: number, y1: number) {
  let inside = 0;
  let outside = 0;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = (y * W + x) * 3;
      const differs = a[p] !== b[p] || a[p + 1] !== b[p + 1] || a[p + 2] !== b[p + 2];
      if (!differs) continue;
      if (x >= x0 && x < x1 && y >= y0 && y < y1) inside++;
      else outside++;
    }
  }
  return { inside, outside };
}

describe('generate', () => {
  it('makes a new shot of the asked length; a still becomes its first frame', async () => {
    const r = await runJob(parseJobSpec({ kind: 'generate', seed: 2, steps: 2, sequence, duration: { frames: 20 }, output: { format: 'ffv1', path: path.join(tmp.dir, 'gen.mkv') } }), { engine });
    expect((await probe(r.output)).frameCount).toBe(20);

    const r2 = await runJob(
      parseJobSpec({ kind: 'generate', seed: 2, steps: 2, sequence, source: { path: source, in: { frames: 4 } }, duration: { frames: 9 }, output: { format: 'ffv1', path: path.join(tmp.dir, 'gen2.mkv') } }),
      { engine },
    );
    const [first] = await readAll(r2.output, FPS, 1);
    const [still] = await readAll(source, FPS, 1, 4);
    expect(Buffer.from(first!.data).equals(Buffer.from(still!.data))).toBe(true);
    expect((await probe(r2.output)).frameCount).toBe(9);
  });
});

describe('bridge', () => {
  it('fills the gap between two clips with exactly the gap frames', async () => {
    const other = await losslessClip(tmp.dir, 'b.mkv', W, H, 10);
    for (const gap of [4, 30]) {
      const r = await runJob(
        parseJobSpec({
          kind: 'bridge',
          seed: 3,
          steps: 2,
          sequence,
          sources: { a: { path: source }, b: { path: other, in: { frames: 2 } } },
          gap: { frames: gap },
          output: { format: 'ffv1', path: path.join(tmp.dir, `bridge-${gap}.mkv`) },
        }),
        { engine },
      );
      expect((await probe(r.output)).frameCount).toBe(gap);
    }
  });
});

describe('replace and fill with raster masks', () => {
  it('a matte clip: pixels outside the matte stay bit-exact, inside change', async () => {
    const mattePath = path.join(tmp.dir, 'matte.mkv');
    const enc = await openEncoder({ path: mattePath, format: 'ffv1', width: W, height: H, fps: FPS, channels: 3, overwrite: false });
    for (let i = 0; i < N; i++) await enc.write(matteFrame(8 + i, 40 + i, 8, 32));
    await enc.finish();
    const r = await runJob(
      parseJobSpec({ kind: 'replace', prompt: 'a brick wall', seed: 4, steps: 2, sequence, source: { path: source }, mask: { type: 'matte', path: mattePath }, output: { format: 'ffv1', path: path.join(tmp.dir, 'replace.mkv') } }),
      { engine },
    );
    const src = await readAll(source, FPS, N);
    const out = await readAll(r.output, FPS, N);
    for (let i = 0; i < N; i++) {
      const d = diffInOut(src[i]!.data, out[i]!.data, 8 + i, 40 + i, 8, 32);
      expect(d.outside, `frame ${i}`).toBe(0);
      expect(d.inside, `frame ${i}`).toBeGreaterThan(0.9 * 32 * 24);
    }
  });

  it('a mask image applies to every frame; a Windows-style relative path is accepted', async () => {
    const maskPath = path.join(tmp.dir, 'mask.png');
    await writePng(maskPath, matteFrame(16, 48, 16, 40));
    const rel = path.relative(process.cwd(), source).split(path.sep).join('\\');
    const r = await runJob(
      parseJobSpec({ kind: 'fill', seed: 4, steps: 2, sequence, source: { path: rel }, mask: { type: 'image', path: maskPath }, output: { format: 'ffv1', path: path.join(tmp.dir, 'fill-img.mkv') } }),
      { engine },
    );
    const src = await readAll(source, FPS, N);
    const out = await readAll(r.output, FPS, N);
    for (let i = 0; i < N; i++) {
      const d = diffInOut(src[i]!.data, out[i]!.data, 16, 48, 16, 40);
      expect(d.outside).toBe(0);
      expect(d.inside).toBeGreaterThan(0.9 * 32 * 24);
    }
  });
});
