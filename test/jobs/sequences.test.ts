/**
 * Image sequences as sources, as VFX plates arrive: a folder or a printf pattern of 16-bit PNG,
 * 16-bit TIFF, 10-bit DPX or linear half-float EXR frames numbered from 1001, played at the job's
 * rate. Frames come out exactly as the files hold them; a gap is named, never skipped.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobSpec } from '../../protocol/index.ts';
import { parseRational } from '../../protocol/rational.ts';
import { Engine } from '../../companion/engine/engine.ts';
import { runJob } from '../../companion/jobs/run.ts';
import { rasterizeShapes } from '../../companion/masks/index.ts';
import { decodeFrames, readImage } from '../../companion/media/decode.ts';
import { ffmpegPath, runTool } from '../../companion/media/ffmpeg.ts';
import type { DeepFrame } from '../../companion/media/frame.ts';
import { probe } from '../../companion/media/probe.ts';
import { writeExr } from '../helpers/exr.ts';
import { tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { reshootErrorOf } from '../media/helpers.ts';

useTestModelCache();

const W = 64;
const H = 48;
const N = 12;
const FPS = parseRational('24');
const tmp = tempDir();
const dirs = { png: '', tiff: '', dpx: '', exr: '' };

async function sequence(kind: 'png' | 'tiff' | 'dpx', pixFmt: string): Promise<string> {
  const dir = path.join(tmp.dir, kind);
  mkdirSync(dir);
  const ext = kind === 'tiff' ? 'tif' : kind;
  const args = ['-v', 'error', '-f', 'lavfi', '-i', `testsrc2=s=${W}x${H}:r=24,format=rgb48le,geq=r='r(X,Y)+X*29':g='g(X,Y)+Y*53':b='b(X,Y)'`,
    '-frames:v', String(N), '-pix_fmt', pixFmt, '-start_number', '1001', path.join(dir, `plate_%04d.${ext}`)];
  const r = await runTool(await ffmpegPath(), args, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(r.stderr);
  return dir;
}

beforeAll(async () => {
  dirs.png = await sequence('png', 'rgb48be');
  dirs.tiff = await sequence('tiff', 'rgb48le');
  dirs.dpx = await sequence('dpx', 'gbrp10le');
  dirs.exr = path.join(tmp.dir, 'exr');
  mkdirSync(dirs.exr);
  // Linear light: 0.214 is middle grey on an sRGB display (code ≈ 0.5).
  for (let i = 0; i < 4; i++) writeExr(path.join(dirs.exr, `plate.${1001 + i}.exr`), 32, 16, (x) => [0.214, x / 31, i / 10]);
});
afterAll(() => tmp.cleanup());

async function frames(p: string, start: number, count: number): Promise<DeepFrame[]> {
  const out: DeepFrame[] = [];
  for await (const f of decodeFrames({ path: p, fps: FPS, startFrame: start, frameCount: count, depth: 16 })) out.push(f);
  return out;
}

describe('image sequences as sources', () => {
  it('a folder of 16-bit PNGs from 1001: its length, depth, and frames exactly as the files hold them', async () => {
    const info = await probe(dirs.png);
    expect(info).toMatchObject({ frameCount: N, width: W, height: H, bitDepth: 16, isImage: false, sequence: { start: 1001, ext: 'png' } });
    expect(info.path).toBe(path.join(dirs.png, 'plate_%04d.png'));
    const got = await frames(dirs.png, 3, 4);
    expect(got).toHaveLength(4);
    for (let i = 0; i < 4; i++) {
      const file = await readImage(path.join(dirs.png, `plate_${1004 + i}.png`), { depth: 16 });
      expect(Buffer.from(got[i]!.data.buffer).equals(Buffer.from(file.data.buffer)), `frame ${1004 + i}`).toBe(true);
    }
  });

  it('a printf pattern works the same, for 16-bit TIFF and 10-bit DPX', async () => {
    const tif = await probe(path.join(dirs.tiff, 'plate_%04d.tif'));
    expect(tif).toMatchObject({ frameCount: N, bitDepth: 16 });
    const dpx = await probe(path.join(dirs.dpx, 'plate_%04d.dpx'));
    expect(dpx).toMatchObject({ frameCount: N, bitDepth: 10, codec: 'dpx' });
    const [a] = await frames(path.join(dirs.dpx, 'plate_%04d.dpx'), N - 1, 1);
    const last = await readImage(path.join(dirs.dpx, `plate_${1000 + N}.dpx`), { depth: 16 });
    expect(Buffer.from(a!.data.buffer).equals(Buffer.from(last.data.buffer))).toBe(true);
  });

  it('a linear EXR sequence is shown with the sRGB curve: linear 0.214 reads as middle grey', async () => {
    const info = await probe(dirs.exr);
    expect(info).toMatchObject({ frameCount: 4, codec: 'exr', sequence: { ext: 'exr', start: 1001 } });
    const [f] = await frames(dirs.exr, 0, 1);
    expect(f!.data[0]! / 65535).toBeCloseTo(0.5, 2); // R = 0.214 linear
    expect(f!.data[1]).toBe(0); // G ramps from 0 at the left edge
  });

  it('a gap in the numbering is named; a folder of several sequences or none, and a pattern that matches nothing, are explained', async () => {
    const gap = path.join(tmp.dir, 'gap');
    mkdirSync(gap);
    for (const n of [1, 2, 4]) writeFileSync(path.join(gap, `shot.${String(n).padStart(4, '0')}.png`), 'x');
    expect((await reshootErrorOf(probe(gap), 'source_unreadable')).message).toMatch(/frame 3 \(shot\.0003\.png\) is missing from the sequence 1–4/);

    const two = path.join(tmp.dir, 'two');
    mkdirSync(two);
    writeFileSync(path.join(two, 'a_0001.png'), 'x');
    writeFileSync(path.join(two, 'b_0001.dpx'), 'x');
    expect((await reshootErrorOf(probe(two), 'source_unreadable')).message).toMatch(/holds several image sequences \(a_#\.png, b_#\.dpx\)/);

    const empty = path.join(tmp.dir, 'empty');
    mkdirSync(empty);
    expect((await reshootErrorOf(probe(empty), 'source_unreadable')).message).toMatch(/folder with no numbered images/);
    rmSync(empty, { recursive: true });

    const none = path.join(dirs.png, 'other_%04d.png');
    expect((await reshootErrorOf(probe(none), 'source_missing')).message).toContain('no file in');
  });
});

describe('a fill on a 16-bit PNG plate', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.open('builtin:tiny');
  });
  afterAll(async () => engine?.close());

  it('frames 2–9 of the plate at the job rate, every 16-bit value outside the mask kept', async () => {
    const spec = parseJobSpec({
      kind: 'fill', seed: 4, steps: 2, sequence: { fps: '24', width: W, height: H },
      source: { path: path.join(dirs.png, 'plate_%04d.png'), in: { frames: 2 }, out: { frames: 10 } },
      mask: { type: 'shapes', shapes: [{ kind: 'rectangle', feather: 2, keyframes: [{ frame: 0, x: 20, y: 12, width: 16, height: 12 }] }] },
      output: { format: 'ffv1', path: path.join(tmp.dir, 'plate-fill.mkv') },
    });
    if (spec.kind !== 'fill' || spec.mask.type !== 'shapes') throw new Error('unreachable');
    const r = await runJob(spec, { engine });
    expect(r.provenance.media.depth).toBe(16);
    const out = await frames(r.output, 0, 8);
    const src = await frames(dirs.png, 2, 8);
    let differing = 0;
    for (let f = 0; f < 8; f++) {
      const a = rasterizeShapes(spec.mask, f, W, H);
      for (let p = 0; p < W * H; p++) if (a[p] === 0) for (let c = 0; c < 3; c++) if (out[f]!.data[p * 3 + c] !== src[f]!.data[p * 3 + c]) differing++;
    }
    expect(differing).toBe(0);
  });

  it('written back as 16-bit TIFF and 10-bit DPX sequences numbered like the plate (1003…)', async () => {
    for (const [format, ext, pixFmt] of [['tiff', 'tif', 'rgb48le'], ['dpx', 'dpx', 'gbrp10le']] as const) {
      const out = path.join(tmp.dir, `plate-${format}`);
      const r = await runJob(parseJobSpec({
        kind: 'fill', seed: 4, steps: 2, sequence: { fps: '24', width: W, height: H },
        source: { path: dirs.png, in: { frames: 2 }, out: { frames: 6 } },
        mask: { type: 'shapes', shapes: [{ kind: 'rectangle', feather: 0, keyframes: [{ frame: 0, x: 20, y: 12, width: 16, height: 12 }] }] },
        output: { format, path: out },
      }), { engine });
      const names = readdirSync(r.output).sort();
      expect(names, format).toEqual([1003, 1004, 1005, 1006].map((n) => `frame_${String(n).padStart(6, '0')}.${ext}`));
      const info = await probe(r.output);
      expect(info).toMatchObject({ frameCount: 4, pixFmt, sequence: { start: 1003 } });
      if (format === 'tiff') {
        // 16-bit TIFF is lossless: the corner (outside the mask) is the plate's own value.
        const [a] = await frames(r.output, 0, 1);
        const [b] = await frames(dirs.png, 2, 1);
        expect(Array.from(a!.data.subarray(0, 30))).toEqual(Array.from(b!.data.subarray(0, 30)));
      }
    }
  });
});
