/**
 * Sources of another shape go into the sequence frame as Premiere's "scale to frame size" puts
 * them: whole, aspect kept, with bars (fit, the default), or covering it (fill), or stretched —
 * judged by displayed shape, so anamorphic pixels and phone rotation are honoured, and outputs
 * carry the sequence's pixel aspect.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobSpec } from '../../protocol/index.ts';
import { rational } from '../../protocol/rational.ts';
import { Engine } from '../../companion/engine/engine.ts';
import { runJob } from '../../companion/jobs/run.ts';
import { decodeFrames } from '../../companion/media/decode.ts';
import { ffmpegPath, runTool } from '../../companion/media/ffmpeg.ts';
import { fitGeometry, type Fit } from '../../companion/media/fit.ts';
import type { Frame } from '../../companion/media/frame.ts';
import { probe } from '../../companion/media/probe.ts';
import { tempDir, useTestModelCache } from '../helpers/fixtures.ts';

useTestModelCache();
const tmp = tempDir();
const FPS = rational(25);
const src = { fourThree: '', anamorphic: '', phone: '' };

async function make(name: string, filter: string, extra: string[] = []): Promise<string> {
  const out = path.join(tmp.dir, name);
  const r = await runTool(await ffmpegPath(), ['-v', 'error', '-y', '-f', 'lavfi', '-i', filter, '-frames:v', '3', '-c:v', 'png', ...extra, out], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(r.stderr);
  return out;
}

beforeAll(async () => {
  // Light grey everywhere, so black bars are unmistakable.
  src.fourThree = await make('four-three.mov', 'color=c=0xc0c0c0:s=96x72:r=25');
  // 144×108 stored, pixels 4/3 wide: displays as 192×108 (16:9), like 1440×1080 HDV.
  src.anamorphic = await make('anamorphic.mov', 'testsrc2=s=144x108:r=25,setsar=4/3');
  // A phone clip stored 64×36 with a red block in its stored top-left corner, to be shown turned 90° clockwise.
  src.phone = await make('phone.mov', 'color=c=0x808080:s=64x36:r=25,drawbox=x=0:y=0:w=8:h=8:c=red:t=fill');
  rotate90(src.phone, 36);
});
afterAll(() => tmp.cleanup());

/**
 * Writes a 90° clockwise display matrix into the file's track header, as a phone does (the
 * bundled ffmpeg 4.1 ignores `-metadata rotate` when muxing). tkhd: 4 bytes version/flags, then
 * 36 bytes of times, ids and durations, 8 of layer/group/volume: the 3×3 matrix starts 40 bytes
 * after the type, as 16.16 (a, b, c, d, x, y) and 2.30 (u, v, w) fixed point.
 */
function rotate90(file: string, storedHeight: number): void {
  const buf = readFileSync(file);
  const at = buf.indexOf('tkhd') + 4 + 40;
  const matrix = [0, 0x10000, 0, -0x10000, 0, 0, storedHeight * 0x10000, 0, 0x40000000];
  matrix.forEach((v, i) => buf.writeInt32BE(v, at + i * 4));
  writeFileSync(file, buf);
}

async function first(p: string, width: number, height: number, fit: Fit, pixelAspect = rational(1)): Promise<Frame> {
  for await (const f of decodeFrames({ path: p, fps: FPS, startFrame: 0, frameCount: 1, width, height, fit, pixelAspect })) return f;
  throw new Error('no frame');
}

const isBlack = (f: Frame, x: number, y: number) => [0, 1, 2].every((c) => f.data[(y * f.width + x) * 3 + c] === 0);

describe('fit, fill, stretch', () => {
  it('a 4:3 picture in a 16:9 frame: fit pillarboxes, fill crops, stretch distorts', async () => {
    expect(fitGeometry(96, 72, rational(1), 128, 72, rational(1), 'fit')).toEqual({ width: 96, height: 72, x: 16, y: 0 });
    const fit = await first(src.fourThree, 128, 72, 'fit');
    for (let y = 0; y < 72; y += 7) {
      expect(isBlack(fit, 0, y) && isBlack(fit, 15, y) && isBlack(fit, 112, y) && isBlack(fit, 127, y)).toBe(true);
      expect(isBlack(fit, 16, y) || isBlack(fit, 111, y)).toBe(false);
    }
    const fill = await first(src.fourThree, 128, 72, 'fill');
    const stretch = await first(src.fourThree, 128, 72, 'stretch');
    for (const f of [fill, stretch]) for (let x = 0; x < 128; x += 9) expect(isBlack(f, x, 0) || isBlack(f, x, 71)).toBe(false);
  });

  it('an anamorphic 1440×1080-style source fills a square-pixel 16:9 frame without bars, and passes untouched into an anamorphic sequence', async () => {
    const info = await probe(src.anamorphic);
    expect(info.sampleAspect).toEqual({ num: 4, den: 3 });
    expect(fitGeometry(144, 108, info.sampleAspect, 192, 108, rational(1), 'fit')).toEqual({ width: 192, height: 108, x: 0, y: 0 });
    const wide = await first(src.anamorphic, 192, 108, 'fit');
    expect(Buffer.from(wide.data).equals(Buffer.from((await first(src.anamorphic, 192, 108, 'stretch')).data))).toBe(true);
    // Into a 144×108 sequence with 4/3 pixels: same shape, so the frame is the source's own pixels.
    const same = await first(src.anamorphic, 144, 108, 'fit', rational(4, 3));
    const plain = await first(src.anamorphic, 144, 108, 'stretch');
    expect(Buffer.from(same.data).equals(Buffer.from(plain.data))).toBe(true);
  });

  it('a phone clip tagged rotate=90 is shown turned: tall, the stored top-left corner at the top right', async () => {
    const info = await probe(src.phone);
    expect(info).toMatchObject({ rotation: 90, width: 36, height: 64 });
    const f = await first(src.phone, 36, 64, 'fit');
    const px = (x: number, y: number) => Array.from(f.data.subarray((y * 36 + x) * 3, (y * 36 + x) * 3 + 3));
    expect(px(33, 2)[0]).toBeGreaterThan(200); // red, top right
    expect(px(33, 2)[1]).toBeLessThan(60);
    expect(px(2, 2)[0]).toBeLessThan(160); // grey, top left
  });
});

describe('pixel aspect on the output', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.open('builtin:tiny');
  });
  afterAll(async () => engine?.close());

  it('a fill in an anamorphic sequence writes a ProRes file tagged 4:3 pixels', async () => {
    const r = await runJob(parseJobSpec({
      kind: 'fill', seed: 1, steps: 2, sequence: { fps: '25', width: 144, height: 108, pixelAspect: '4/3' },
      source: { path: src.anamorphic },
      mask: { type: 'shapes', shapes: [{ kind: 'rectangle', feather: 0, keyframes: [{ frame: 0, x: 40, y: 30, width: 30, height: 20 }] }] },
      output: { format: 'prores422hq', path: path.join(tmp.dir, 'anamorphic-fill.mov') },
    }), { engine });
    const info = await probe(r.output);
    expect(info).toMatchObject({ width: 144, height: 108, sampleAspect: { num: 4, den: 3 }, frameCount: 3 });
  });
});
