/**
 * Alpha deeper than 8 bits widened to 16 by bit replication, as ffmpeg widens colour and gray
 * samples: opaque reads 65535 (swscale alone gives 65472 for 10-bit, 65520 for 12-bit), and every
 * value is the stored code with its top bits repeated below it.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRational } from '../../protocol/rational.ts';
import { decodeFrames, readImage } from '../../companion/media/decode.ts';
import { openEncoder } from '../../companion/media/encode.ts';
import { ffmpegPath, runTool } from '../../companion/media/ffmpeg.ts';
import type { DeepFrame } from '../../companion/media/frame.ts';
import { probe } from '../../companion/media/probe.ts';
import { tempDir } from '../helpers/fixtures.ts';

const W = 32;
const H = 8;
const FPS = parseRational('24');
const tmp = tempDir();
afterAll(() => tmp.cleanup());

async function ffmpeg(args: string[]): Promise<Buffer> {
  const r = await runTool(await ffmpegPath(), ['-v', 'error', '-nostdin', ...args], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout;
}

const replicate = (v: number, bits: number): number => (v << (16 - bits)) | (v >> (2 * bits - 16));

let g10 = '';
beforeAll(async () => {
  // A 10-bit planar RGBA frame with every alpha code from 0 to 1023 in steps of 33, and 1023.
  g10 = path.join(tmp.dir, 'gbrap10.mkv');
  const n = W * H;
  const planes = new Uint16Array(4 * n);
  for (let i = 0; i < n; i++) {
    planes[i] = 300; // G
    planes[n + i] = 600; // B
    planes[2 * n + i] = 900; // R
    planes[3 * n + i] = Math.min(1023, i * 33);
  }
  const raw = path.join(tmp.dir, 'gbrap10.raw');
  writeFileSync(raw, Buffer.from(planes.buffer));
  await ffmpeg(['-f', 'rawvideo', '-pix_fmt', 'gbrap10le', '-s', `${W}x${H}`, '-i', raw, '-c:v', 'ffv1', '-level', '3', '-pix_fmt', 'gbrap10le', '-y', g10]);
});

describe('alpha deeper than 8 bits at 16 bits', () => {
  it('10-bit alpha (FFV1 gbrap10): 1023 reads 65535, every code bit-replicated', async () => {
    const info = await probe(g10);
    expect(info).toMatchObject({ pixFmt: 'gbrap10le', hasAlpha: true });
    const [f] = await (async () => {
      const out: DeepFrame[] = [];
      for await (const x of decodeFrames({ path: g10, info, fps: FPS, startFrame: 0, frameCount: 1, channels: 4, depth: 16 })) out.push(x);
      return out;
    })();
    for (let i = 0; i < W * H; i++) expect(f!.data[i * 4 + 3], `pixel ${i}`).toBe(replicate(Math.min(1023, i * 33), 10));
    const still = await readImage(g10, { channels: 4, depth: 16 });
    expect(still.data[(W * H - 1) * 4 + 3]).toBe(65535);
  });

  it('ProRes 4444 (12-bit alpha as decoded) written from opaque and half alpha: 65535 and the 12-bit code replicated', async () => {
    const file = path.join(tmp.dir, 'alpha.mov');
    const enc = await openEncoder({ path: file, format: 'prores4444', width: W, height: H, fps: FPS, channels: 4, depth: 16, overwrite: false });
    const data = new Uint16Array(W * H * 4);
    for (let i = 0; i < W * H; i++) data.set([30000, 20000, 10000, i < W * H / 2 ? 65535 : 32768], i * 4);
    await enc.write({ width: W, height: H, channels: 4, depth: 16, data });
    await enc.finish();
    const info = await probe(file);
    expect(info.pixFmt).toMatch(/^yuva444p1[02]le$/);
    const [f] = await (async () => {
      const out: DeepFrame[] = [];
      for await (const x of decodeFrames({ path: file, info, fps: FPS, startFrame: 0, frameCount: 1, channels: 4, depth: 16 })) out.push(x);
      return out;
    })();
    expect(f!.data[3]).toBe(65535);
    const bits = Number(/(\d+)le$/.exec(info.pixFmt)![1]);
    const half = f!.data[(W * H - 1) * 4 + 3]!;
    expect(half).toBe(replicate(half >> (16 - bits), bits)); // a stored code with its top bits repeated
    expect(Math.abs(half - 32768)).toBeLessThan(64);
  });
});
