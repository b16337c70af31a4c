/**
 * Colour from the source: outputs carry the source's matrix, primaries and transfer (or the
 * default for their size, as Premiere reads untagged files: SD → BT.601), so an SD plate filled
 * into ProRes has the source's own Y'CbCr outside the mask (up to ProRes's loss), not the
 * source's colours re-encoded with BT.709's matrix.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobSpec } from '../../protocol/index.ts';
import { Engine } from '../../companion/engine/engine.ts';
import { runJob } from '../../companion/jobs/run.ts';
import { rasterizeShapes } from '../../companion/masks/index.ts';
import { colourBySize, outputColour, sourceMatrix } from '../../companion/media/colour.ts';
import { ffmpegPath, runTool } from '../../companion/media/ffmpeg.ts';
import { probe, type MediaInfo } from '../../companion/media/probe.ts';
import { tempDir, useTestModelCache } from '../helpers/fixtures.ts';

useTestModelCache();

const W = 160;
const H = 120;
const N = 5;
const tmp = tempDir();
let engine: Engine;
let sd = '';

async function ffmpeg(args: string[]): Promise<Buffer> {
  const r = await runTool(await ffmpegPath(), ['-v', 'error', '-nostdin', ...args], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout;
}

/** The file's 10-bit 4:2:2 planes as stored (no conversion): Y then Cb then Cr, per frame. */
async function planes(file: string, frames: number): Promise<Uint16Array> {
  const raw = await ffmpeg(['-i', file, '-frames:v', String(frames), '-f', 'rawvideo', '-pix_fmt', 'yuv422p10le', 'pipe:1']);
  return new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

beforeAll(async () => {
  // An untagged SD ProRes, as old DV/SD captures arrive: BT.601 colours, no colour tags.
  sd = path.join(tmp.dir, 'sd.mov');
  await ffmpeg(['-f', 'lavfi', '-i', `testsrc2=s=${W}x${H}:r=25:d=1`, '-frames:v', String(N), '-vf', 'scale=out_color_matrix=bt601:flags=bicubic,format=yuv422p10le', '-c:v', 'prores_ks', '-profile:v', '3', sd]);
  engine = await Engine.open('builtin:tiny');
});
afterAll(async () => {
  await engine?.close();
  tmp.cleanup();
});

const info = (over: Partial<MediaInfo>): MediaInfo => ({ height: 1080, ...over }) as MediaInfo;

describe('colour by tags and by size', () => {
  it('untagged: BT.709 from 720 lines, SMPTE 170M for NTSC sizes and below, BT.470BG for PAL', () => {
    expect(colourBySize(1080)).toMatchObject({ matrix: 'bt709', colorspace: 'bt709', primaries: 'bt709' });
    expect(colourBySize(720).matrix).toBe('bt709');
    expect(colourBySize(486)).toMatchObject({ matrix: 'bt601', colorspace: 'smpte170m', primaries: 'smpte170m', transfer: 'smpte170m' });
    expect(colourBySize(576)).toMatchObject({ matrix: 'bt601', colorspace: 'bt470bg', primaries: 'bt470bg' });
    expect(sourceMatrix(info({ height: 480 }))).toBe('bt601');
  });
  it("a tagged source's tags are carried, whatever the output size; untagged ones take the output's default", () => {
    expect(outputColour(info({ colorSpace: 'bt2020nc', colorPrimaries: 'bt2020', colorTransfer: 'arib-std-b67' }), 1080)).toEqual({ matrix: 'bt2020', colorspace: 'bt2020nc', primaries: 'bt2020', transfer: 'arib-std-b67' });
    expect(outputColour(info({ colorSpace: 'smpte170m' }), 1080)).toEqual({ matrix: 'bt601', colorspace: 'smpte170m', primaries: 'smpte170m', transfer: 'smpte170m' });
    expect(outputColour(info({ height: 480 }), 1080).matrix).toBe('bt709');
    expect(outputColour(undefined, 480).matrix).toBe('bt601');
  });
});

describe('an untagged SD source filled into ProRes', () => {
  it("keeps BT.601: tagged SMPTE 170M, and its Y'CbCr outside the mask is the source's up to ProRes's loss", async () => {
    const mask = { type: 'shapes' as const, shapes: [{ kind: 'ellipse' as const, feather: 2, keyframes: [{ frame: 0, cx: 80, cy: 60, rx: 25, ry: 20 }] }] };
    const spec = parseJobSpec({ kind: 'fill', seed: 1, steps: 2, sequence: { fps: '25', width: W, height: H }, source: { path: sd }, mask, output: { format: 'prores422hq', path: path.join(tmp.dir, 'fill.mov') } });
    if (spec.kind !== 'fill' || spec.mask.type !== 'shapes') throw new Error('unreachable');
    const shapes = spec.mask;
    const r = await runJob(spec, { engine });
    expect(r.provenance.media.colour.matrix).toBe('bt601');
    const tags = await probe(r.output);
    expect(tags).toMatchObject({ colorSpace: 'smpte170m', colorPrimaries: 'smpte170m' });
    // MOV's 'colr' atom has one code for the BT.709/BT.601 transfer curve (they are the same curve): it reads back as bt709.
    expect(tags.colorTransfer).toMatch(/^(smpte170m|bt709)$/);

    // The same source re-encoded the old way (BT.709 matrix) for contrast: the test can fail.
    const as709 = path.join(tmp.dir, 'as709.mov');
    await ffmpeg(['-i', sd, '-vf', 'scale=in_color_matrix=bt601:flags=bicubic+accurate_rnd+full_chroma_int,format=rgb48le,scale=out_color_matrix=bt709:flags=bicubic+accurate_rnd+full_chroma_int,format=yuv422p10le', '-c:v', 'prores_ks', '-profile:v', '3', as709]);

    const [src, out, old] = await Promise.all([planes(sd, N), planes(r.output, N), planes(as709, N)]);
    const frame = W * H * 2; // Y + Cb + Cr at 4:2:2
    // Mean absolute difference in 10-bit codes (sharp synthetic edges make the max meaningless:
    // 4:2:2 chroma is resampled on the way through RGB).
    const worst = (a: Uint16Array): number => {
      let w = 0;
      let n = 0;
      for (let f = 0; f < N; f++) {
        const alpha = rasterizeShapes(shapes, f, W, H);
        for (let y = 0; y < H; y++) {
          for (let x = 0; x < W; x++) {
            // A chroma sample covers two pixels: compare it only where both are outside the mask (and a margin for the scaler).
            const outside = (xx: number) => [-2, -1, 0, 1, 2].every((d) => (alpha[y * W + Math.min(W - 1, Math.max(0, xx + d))] ?? 0) === 0);
            if (!outside(x)) continue;
            const base = f * frame;
            w += Math.abs(a[base + y * W + x]! - src[base + y * W + x]!);
            n++;
            if (x % 2 === 0 && outside(x + 1)) {
              const c = base + W * H + y * (W / 2) + x / 2;
              w += Math.abs(a[c]! - src[c]!) + Math.abs(a[c + (W * H) / 2]! - src[c + (W * H) / 2]!);
              n += 2;
            }
          }
        }
      }
      return w / n;
    };
    const ours = worst(out);
    const theirs = worst(old);
    console.log(`mean 10-bit code difference outside the mask: ours ${ours}, BT.709 re-encode ${theirs}`);
    expect(ours).toBeLessThanOrEqual(8);
    expect(theirs).toBeGreaterThan(3 * ours + 20);
  });
});
