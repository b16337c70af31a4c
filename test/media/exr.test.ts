/**
 * EXR written by Reshoot itself (ffmpeg 4.1 has no EXR encoder), checked by reading it back
 * through ffmpeg's EXR decoder: half floats, RGB and RGBA, uncompressed and ZIP; a linear plate
 * goes back bit-exact, a display-referred frame is linearized with the sRGB curve.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobSpec } from '../../protocol/index.ts';
import { parseRational } from '../../protocol/rational.ts';
import { Engine } from '../../companion/engine/engine.ts';
import { runJob } from '../../companion/jobs/run.ts';
import { rasterizeShapes } from '../../companion/masks/index.ts';
import { decodeFrames } from '../../companion/media/decode.ts';
import { openEncoder } from '../../companion/media/encode.ts';
import { encodeExr, ffmpegHalfToUint16, fromHalf, linearDecodeInverse, toHalf } from '../../companion/media/exr.ts';
import type { AnyFrame, DeepFrame, Frame } from '../../companion/media/frame.ts';
import { probe } from '../../companion/media/probe.ts';
import { writeExr } from '../helpers/exr.ts';
import { tempDir, useTestModelCache } from '../helpers/fixtures.ts';

useTestModelCache();

const W = 40;
const H = 37; // not a multiple of ZIP's 16-line blocks: the last block is short
const FPS = parseRational('24');
const tmp = tempDir();
let plate = '';
let engine: Engine;

beforeAll(async () => {
  // A linear plate from the independent test writer: values across the whole half range below 1,
  // tiny ones included (several halves decode to one 16-bit sample there), and some above 1.
  plate = path.join(tmp.dir, 'plate');
  mkdirSync(plate);
  for (let i = 0; i < 5; i++) {
    writeExr(path.join(plate, `sh010.${1001 + i}.exr`), W, H, (x, y) => [((x + 1) / W) ** 3 * 1.3, ((y + 1) / H) ** 5, 1e-6 * (x + y + i)]);
  }
  engine = await Engine.open('builtin:tiny');
});
afterAll(async () => {
  await engine?.close();
  tmp.cleanup();
});

async function decodeAll(p: string, count: number, opts: { linear?: boolean; channels?: 3 | 4 } = {}): Promise<DeepFrame[]> {
  const out: DeepFrame[] = [];
  for await (const f of decodeFrames({ path: p, fps: FPS, startFrame: 0, frameCount: count, depth: 16, channels: opts.channels ?? 3, linear: opts.linear })) out.push(f);
  return out;
}

function same(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('half floats', () => {
  it('round to nearest even, subnormals and overflow included', () => {
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(0.5)).toBe(0x3800);
    expect(toHalf(65504)).toBe(0x7bff);
    expect(toHalf(1e9)).toBe(0x7bff);
    expect(toHalf(-3)).toBe(0);
    expect(toHalf(2 ** -24)).toBe(1);
    expect(toHalf(2 ** -25)).toBe(0); // a tie rounds to even (0)
    expect(toHalf(3 * 2 ** -25)).toBe(2); // a tie rounds to even (2)
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // tie between 1 and 1+2^-10: even
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    for (let h = 0; h < 0x7c00; h += 7) expect(toHalf(fromHalf(h)), `half ${h}`).toBe(h);
  });

  it("every 16-bit sample ffmpeg's linear decode gives maps back to a half it decodes to that sample", () => {
    const inv = linearDecodeInverse();
    const reachable = new Set<number>();
    for (let h = 0; h <= 0x3c00; h++) reachable.add(ffmpegHalfToUint16(h));
    for (const u of reachable) expect(ffmpegHalfToUint16(inv[u]!)).toBe(u);
  });
});

describe('encodeExr read back by ffmpeg', () => {
  it('a linear plate decoded and written again, uncompressed and ZIP, RGB: bit-exact', async () => {
    const src = await decodeAll(plate, 5, { linear: true });
    for (const compression of ['none', 'zip'] as const) {
      const dir = path.join(tmp.dir, `again-${compression}`);
      mkdirSync(dir);
      src.forEach((f, i) => writeFileSync(path.join(dir, `f.${i + 1}.exr`), encodeExr(f, { compression, transfer: 'linear' })));
      const back = await decodeAll(dir, 5, { linear: true });
      for (let i = 0; i < 5; i++) expect(same(back[i]!.data, src[i]!.data), `${compression} frame ${i}`).toBe(true);
    }
    // ZIP really compresses (blocks that would not shrink are stored raw, which readers accept).
    const size = (c: 'none' | 'zip') => encodeExr(src[0]!, { compression: c, transfer: 'linear' }).length;
    expect(size('zip')).toBeLessThan(0.8 * size('none'));
  });

  it('RGBA at 16 bits: colour and alpha come back exactly', async () => {
    const inv = linearDecodeInverse();
    const reachable: number[] = [];
    for (let h = 0; h <= 0x3c00; h += 13) reachable.push(ffmpegHalfToUint16(h));
    const data = new Uint16Array(W * H * 4).map((_, i) => reachable[(i * 7919) % reachable.length]!);
    const frame: DeepFrame = { width: W, height: H, channels: 4, depth: 16, data };
    expect(ffmpegHalfToUint16(inv[data[5]!]!)).toBe(data[5]);
    const dir = path.join(tmp.dir, 'rgba');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'f.1.exr'), encodeExr(frame, { compression: 'zip', transfer: 'linear' }));
    const [back] = await decodeAll(dir, 1, { linear: true, channels: 4 });
    expect(same(back!.data, data)).toBe(true);
  });

  it('an 8-bit display frame is linearized with the sRGB curve: read back through that curve it is the same picture', async () => {
    const data = new Uint8Array(W * H * 3).map((_, i) => (i * 37) % 256);
    const frame: Frame = { width: W, height: H, channels: 3, data };
    const dir = path.join(tmp.dir, 'display');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'f.1.exr'), encodeExr(frame, { compression: 'zip', transfer: 'srgb' }));
    // Linear in the file: level 128 (0.502 sRGB) is stored as ≈ 0.2158.
    const [lin] = await decodeAll(dir, 1, { linear: true });
    const i128 = data.indexOf(128);
    expect(lin!.data[i128]! / 65536).toBeCloseTo(0.2158, 3);
    const [shown] = await decodeAll(dir, 1);
    let worst = 0;
    for (let i = 0; i < data.length; i++) worst = Math.max(worst, Math.abs(shown!.data[i]! / 257 - data[i]!));
    expect(worst).toBeLessThan(0.75); // within one 8-bit level everywhere
  });

  it('openEncoder("exr") writes a folder numbered like the plate, atomically', async () => {
    const out = path.join(tmp.dir, 'enc-out');
    const enc = await openEncoder({ path: out, format: 'exr', width: W, height: H, fps: FPS, channels: 3, depth: 16, overwrite: false, startNumber: 1001, transfer: 'linear' });
    const src = await decodeAll(plate, 3, { linear: true });
    for (const f of src) await enc.write(f as AnyFrame);
    expect(readdirSync(tmp.dir).includes('enc-out')).toBe(false); // not before finish()
    await enc.finish();
    expect(readdirSync(out).sort()).toEqual(['frame_001001.exr', 'frame_001002.exr', 'frame_001003.exr']);
    const info = await probe(out);
    expect(info).toMatchObject({ codec: 'exr', frameCount: 3, width: W, height: H, sequence: { start: 1001, ext: 'exr' } });
    const back = await decodeAll(out, 3, { linear: true });
    for (let i = 0; i < 3; i++) expect(same(back[i]!.data, src[i]!.data)).toBe(true);
  });
});

describe('a fill of a linear EXR plate written to EXR', () => {
  it('stays linear: every sample outside the mask is the plate\'s own (ffmpeg decode, bit-exact), numbered like the plate', async () => {
    const spec = parseJobSpec({
      kind: 'fill', seed: 4, steps: 2, sequence: { fps: '24', width: W, height: H },
      source: { path: plate, in: { frames: 1 }, out: { frames: 5 } },
      mask: { type: 'shapes', shapes: [{ kind: 'ellipse', feather: 3, keyframes: [{ frame: 0, cx: 20, cy: 18, rx: 8, ry: 6 }] }] },
      output: { format: 'exr', path: path.join(tmp.dir, 'fill-exr') },
    });
    if (spec.kind !== 'fill' || spec.mask.type !== 'shapes') throw new Error('unreachable');
    const r = await runJob(spec, { engine });
    expect(r.provenance.media.depth).toBe(16);
    expect(readdirSync(r.output).sort()).toEqual([1002, 1003, 1004, 1005].map((n) => `frame_00${n}.exr`));
    const out = await decodeAll(r.output, 4, { linear: true });
    const src: DeepFrame[] = [];
    for await (const f of decodeFrames({ path: plate, fps: FPS, startFrame: 1, frameCount: 4, depth: 16, linear: true })) src.push(f);
    let differing = 0;
    let changedInside = 0;
    let above8bit = 0;
    for (let f = 0; f < 4; f++) {
      const a = rasterizeShapes(spec.mask, f, W, H);
      for (let p = 0; p < W * H; p++) {
        for (let c = 0; c < 3; c++) {
          const o = out[f]!.data[p * 3 + c]!;
          const s = src[f]!.data[p * 3 + c]!;
          if (a[p] === 0 && o !== s) differing++;
          if (a[p] === 1 && o !== s) changedInside++;
          if (a[p] === 0 && s % 257 !== 0) above8bit++;
        }
      }
    }
    expect(differing).toBe(0);
    expect(changedInside).toBeGreaterThan(0);
    expect(above8bit).toBeGreaterThan(1000); // the comparison is finer than 8 bits
  });
});
