/**
 * Extend, generate and bridge of sources deeper than 8 bits write at the source's depth: the
 * output is a 16-bit file like a fill of the same plate would be; frames the model made are its
 * 8-bit levels widened exactly (k → 257·k); a generate's still is the source's own 16-bit frame.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobSpec } from '../../protocol/index.ts';
import { parseRational } from '../../protocol/rational.ts';
import { Engine } from '../../companion/engine/engine.ts';
import { runJob } from '../../companion/jobs/run.ts';
import { decodeFrames } from '../../companion/media/decode.ts';
import type { DeepFrame } from '../../companion/media/frame.ts';
import { probe } from '../../companion/media/probe.ts';
import { tempDir, testsrcClip, useTestModelCache } from '../helpers/fixtures.ts';

useTestModelCache();

const W = 64;
const H = 48;
const RATE = '24';
const FPS = parseRational(RATE);
const tmp = tempDir();
let engine: Engine;
let ten = '';
let sixteen = '';

const lavfi = (name: string, filter: string, codecArgs: string[]): Promise<string> =>
  testsrcClip(tmp.dir, name, { width: W, height: H, rate: RATE, frames: 12 }, filter, codecArgs);

beforeAll(async () => {
  ten = await lavfi('ten.mov', 'format=yuv422p10le', ['-c:v', 'prores_ks', '-profile:v', '3', '-pix_fmt', 'yuv422p10le', '-colorspace', 'bt709']);
  sixteen = await lavfi('sixteen.mkv', "format=rgb48le,geq=r='r(X,Y)+X*37':g='g(X,Y)+Y*91':b='b(X,Y)+(X+Y)*13'", ['-c:v', 'ffv1', '-pix_fmt', 'rgb48le']);
  engine = await Engine.open('builtin:tiny');
});
afterAll(async () => {
  await engine?.close();
  tmp.cleanup();
});

async function decodeAll(p: string, start: number, count: number): Promise<DeepFrame[]> {
  const out: DeepFrame[] = [];
  for await (const f of decodeFrames({ path: p, fps: FPS, startFrame: start, frameCount: count, depth: 16 })) out.push(f);
  return out;
}

/** Samples that are not an 8-bit level widened (257·k). */
const notWidened = (f: DeepFrame): number => f.data.reduce((n, v) => n + (v % 257 === 0 ? 0 : 1), 0);

const sequence = { fps: RATE, width: W, height: H };

describe('deep sources through extend, generate and bridge', () => {
  it('extend of a 10-bit ProRes into FFV1: a 16-bit file, new frames at 8-bit precision widened', async () => {
    const out = path.join(tmp.dir, 'extend.mkv');
    const r = await runJob(parseJobSpec({ kind: 'extend', seed: 1, steps: 2, sequence, source: { path: ten }, extend: { direction: 'tail', duration: { frames: 6 } }, output: { format: 'ffv1', path: out } }), { engine });
    expect(r.provenance.media.depth).toBe(16);
    const info = await probe(out);
    expect(info).toMatchObject({ frameCount: 6, pixFmt: 'gbrp16le', bitDepth: 16 }); // FFV1 stores 16-bit RGB planar
    for (const f of await decodeAll(out, 0, 6)) expect(notWidened(f)).toBe(0);
  });

  it('generate from a 16-bit still into 16-bit PNG: the still is the source frame bit for bit, the rest widened', async () => {
    const out = path.join(tmp.dir, 'gen');
    const r = await runJob(parseJobSpec({ kind: 'generate', seed: 2, steps: 2, sequence, source: { path: sixteen, in: { frames: 4 } }, duration: { frames: 9 }, output: { format: 'png', path: out } }), { engine });
    expect(r.provenance.media.depth).toBe(16);
    const frames = await decodeAll(out, 0, 9);
    const [still] = await decodeAll(sixteen, 4, 1);
    expect(Buffer.from(frames[0]!.data.buffer).equals(Buffer.from(still!.data.buffer))).toBe(true);
    expect(notWidened(still!)).toBeGreaterThan(1000); // the still has levels finer than 8 bits
    for (const f of frames.slice(1)) expect(notWidened(f)).toBe(0);
  });

  it('bridge between a 10-bit clip and a 16-bit clip into 16-bit TIFF; H.264 stays 8-bit', async () => {
    const out = path.join(tmp.dir, 'bridge');
    const spec = { kind: 'bridge', seed: 3, steps: 2, sequence, sources: { a: { path: ten }, b: { path: sixteen, in: { frames: 2 } } }, gap: { frames: 5 } };
    const r = await runJob(parseJobSpec({ ...spec, output: { format: 'tiff', path: out } }), { engine });
    expect(r.provenance.media.depth).toBe(16);
    expect(await probe(out)).toMatchObject({ frameCount: 5, bitDepth: 16 });
    for (const f of await decodeAll(out, 0, 5)) expect(notWidened(f)).toBe(0);
    const h264 = await runJob(parseJobSpec({ ...spec, output: { format: 'h264', path: path.join(tmp.dir, 'bridge.mp4') } }), { engine });
    expect(h264.provenance.media.depth).toBe(8);
  });
});
