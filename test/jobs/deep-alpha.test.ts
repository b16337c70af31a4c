/**
 * Fill and replace at the source's own precision and with its alpha: every pixel outside the
 * mask is the source's value — 8, 10 and 16 bits, compared with a decode of the source at its own
 * depth — and a real gradient alpha survives into every format that stores alpha.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobSpec, safeParseJobSpec, type JobSpecInput } from '../../protocol/index.ts';
import { Engine } from '../../companion/engine/engine.ts';
import { runJob } from '../../companion/jobs/run.ts';
import { rasterizeShapes } from '../../companion/masks/index.ts';
import { decodeFrames, readImage } from '../../companion/media/decode.ts';
import type { AnyFrame, DeepFrame } from '../../companion/media/frame.ts';
import { probe } from '../../companion/media/probe.ts';
import { parseRational } from '../../protocol/rational.ts';
import { tempDir, testsrcClip, useTestModelCache } from '../helpers/fixtures.ts';

useTestModelCache();

const W = 96;
const H = 64;
const N = 9;
const RATE = '24000/1001';
const tmp = tempDir();
let engine: Engine;
const src: Record<'eight' | 'ten' | 'sixteen' | 'alpha', string> = { eight: '', ten: '', sixteen: '', alpha: '' };

const lavfi = (name: string, filter: string, codecArgs: string[]): Promise<string> =>
  testsrcClip(tmp.dir, name, { width: W, height: H, rate: RATE, frames: N }, filter, codecArgs);

beforeAll(async () => {
  src.eight = await lavfi('eight.mkv', 'format=rgb24', ['-c:v', 'ffv1', '-pix_fmt', 'bgr0']);
  src.ten = await lavfi('ten.mov', 'format=yuv422p10le', ['-c:v', 'prores_ks', '-profile:v', '3', '-pix_fmt', 'yuv422p10le', '-colorspace', 'bt709']);
  // A 16-bit RGB source whose low bits matter: a fine ramp added to the picture.
  src.sixteen = await lavfi('sixteen.mkv', 'format=rgb48le,geq=r=\'r(X,Y)+X*37\':g=\'g(X,Y)+Y*91\':b=\'b(X,Y)+(X+Y)*13\'', ['-c:v', 'ffv1', '-pix_fmt', 'rgb48le']);
  // ProRes 4444 with a real alpha gradient: transparent at the left edge, opaque at the right.
  src.alpha = await lavfi('alpha.mov', "format=rgba,geq=r='r(X,Y)':g='g(X,Y)':b='b(X,Y)':a='255*X/(W-1)'", ['-c:v', 'prores_ks', '-profile:v', '4', '-pix_fmt', 'yuva444p10le', '-alpha_bits', '16']);
  engine = await Engine.open('builtin:tiny');
  const spec = parseJobSpec(fill(src.eight, 'unused.mkv', { format: 'ffv1' }));
  if (spec.kind !== 'fill' || spec.mask.type !== 'shapes') throw new Error('unreachable');
  parsedMask = spec.mask;
});
afterAll(async () => {
  await engine?.close();
  tmp.cleanup();
});

const mask = {
  type: 'shapes' as const,
  shapes: [{ kind: 'ellipse' as const, feather: 3, keyframes: [{ frame: 0, cx: 30, cy: 30, rx: 12, ry: 9 }, { frame: N - 1, cx: 60, cy: 34, rx: 14, ry: 10 }] }],
};

/** The mask as the job sees it (defaults filled in), for telling inside from outside. */
let parsedMask: Parameters<typeof rasterizeShapes>[0];
const maskAt = (f: number) => rasterizeShapes(parsedMask, f, W, H);

function fill(source: string, out: string, output: Record<string, unknown>): JobSpecInput {
  return { kind: 'fill', prompt: 'plate', seed: 3, steps: 2, sequence: { fps: RATE, width: W, height: H }, source: { path: source }, mask, output: { path: out, ...output } } as JobSpecInput;
}

async function decodeAll(p: string, channels: 3 | 4 = 3): Promise<DeepFrame[]> {
  const frames: DeepFrame[] = [];
  for await (const f of decodeFrames({ path: p, fps: parseRational(RATE), startFrame: 0, frameCount: N, channels, depth: 16 })) frames.push(f);
  return frames;
}

/** Samples outside the mask that differ, and whether any sample there is finer than 8 bits. */
function compareOutside(out: AnyFrame[], ref: AnyFrame[]) {
  let differing = 0;
  let finerThan8 = false;
  for (let f = 0; f < ref.length; f++) {
    const a = maskAt(f);
    const ch = ref[f]!.channels;
    for (let p = 0; p < W * H; p++) {
      if (a[p] !== 0) continue;
      for (let c = 0; c < ch; c++) {
        const v = ref[f]!.data[p * ch + c]!;
        if (out[f]!.data[p * ch + c] !== v) differing++;
        if (v % 257 !== 0) finerThan8 = true;
      }
    }
  }
  return { differing, finerThan8 };
}

describe('the source precision is kept outside the mask', () => {
  it('8-bit source, FFV1 out: 8-bit pipeline, bit-exact', async () => {
    const r = await runJob(parseJobSpec(fill(src.eight, path.join(tmp.dir, 'o8.mkv'), { format: 'ffv1' })), { engine });
    expect(r.provenance.media).toMatchObject({ depth: 8, alpha: false });
    const { differing } = compareOutside(await decodeAll(r.output), await decodeAll(src.eight));
    expect(differing).toBe(0);
  });

  // (Into FFV1 or ProRes 422 HQ the same source stays in its own Y'CbCr instead: yuv.test.ts.)
  it('10-bit ProRes source, 16-bit TIFF out: 16-bit pipeline, bit-exact against the source decoded at 16 bits', async () => {
    expect((await probe(src.ten)).bitDepth).toBe(10);
    const r = await runJob(parseJobSpec(fill(src.ten, path.join(tmp.dir, 'o10'), { format: 'tiff' })), { engine });
    expect(r.provenance.media).toMatchObject({ depth: 16, yuv: null });
    expect((await probe(r.output)).bitDepth).toBe(16);
    const { differing, finerThan8 } = compareOutside(await decodeAll(r.output), await decodeAll(src.ten));
    expect(finerThan8).toBe(true); // the comparison really covers levels an 8-bit path would lose
    expect(differing).toBe(0);
  });

  it('16-bit RGB source, FFV1 and 16-bit PNG out: every 16-bit level outside the mask kept', async () => {
    const ref = await decodeAll(src.sixteen);
    const r = await runJob(parseJobSpec(fill(src.sixteen, path.join(tmp.dir, 'o16.mkv'), { format: 'ffv1' })), { engine });
    const ffv1 = compareOutside(await decodeAll(r.output), ref);
    expect(ffv1.finerThan8).toBe(true);
    expect(ffv1.differing).toBe(0);

    const png = await runJob(parseJobSpec(fill(src.sixteen, path.join(tmp.dir, 'o16png'), { format: 'png' })), { engine });
    const frames: DeepFrame[] = [];
    for (let i = 1; i <= N; i++) {
      const file = path.join(png.output, `frame_${String(i).padStart(6, '0')}.png`);
      expect((await probe(file)).pixFmt).toBe('rgb48be');
      frames.push(await readImage(file, { depth: 16 }));
    }
    expect(compareOutside(frames, ref).differing).toBe(0);
  });
});

describe('alpha', () => {
  it('ProRes 4444 with a gradient alpha into FFV1: colour and alpha bit-exact outside, opaque inside', async () => {
    const r = await runJob(parseJobSpec(fill(src.alpha, path.join(tmp.dir, 'a.mkv'), { format: 'ffv1' })), { engine });
    expect(r.provenance.media).toMatchObject({ depth: 16, alpha: true });
    expect((await probe(r.output)).hasAlpha).toBe(true);
    const out = await decodeAll(r.output, 4);
    const ref = await decodeAll(src.alpha, 4);
    expect(compareOutside(out, ref).differing).toBe(0);
    // The gradient is real: alpha runs from transparent to opaque across the frame.
    expect(ref[0]!.data[3]).toBe(0);
    expect(ref[0]!.data[(W - 1) * 4 + 3]).toBeGreaterThan(65000);
    expect(new Set(Array.from({ length: W }, (_, x) => ref[0]!.data[x * 4 + 3])).size).toBeGreaterThan(W / 2);
    for (let f = 0; f < N; f++) {
      const a = maskAt(f);
      for (let p = 0; p < W * H; p++) if (a[p] === 1) expect(out[f]!.data[p * 4 + 3]).toBe(65535);
    }
  });

  it('alpha "source" keeps the source alpha inside the mask too; "none" writes no alpha', async () => {
    const keep = await runJob(parseJobSpec(fill(src.alpha, path.join(tmp.dir, 'keep.mkv'), { format: 'ffv1', alpha: 'source' })), { engine });
    const out = await decodeAll(keep.output, 4);
    const ref = await decodeAll(src.alpha, 4);
    for (let f = 0; f < N; f++) for (let p = 0; p < W * H; p++) expect(out[f]!.data[p * 4 + 3]).toBe(ref[f]!.data[p * 4 + 3]);

    const none = await runJob(parseJobSpec(fill(src.alpha, path.join(tmp.dir, 'none.mkv'), { format: 'ffv1', alpha: 'none' })), { engine });
    expect((await probe(none.output)).hasAlpha).toBe(false);
  });

  it('ProRes 4444 and PNG outputs store the alpha', async () => {
    const mov = await runJob(parseJobSpec(fill(src.alpha, path.join(tmp.dir, 'a.mov'), { format: 'prores4444' })), { engine });
    const info = await probe(mov.output);
    expect(info).toMatchObject({ codec: 'prores', hasAlpha: true });
    const out = await decodeAll(mov.output, 4);
    const ref = await decodeAll(src.alpha, 4);
    let worst = 0;
    for (let f = 0; f < N; f++) {
      const a = maskAt(f);
      for (let p = 0; p < W * H; p++) if (a[p] === 0) worst = Math.max(worst, Math.abs(out[f]!.data[p * 4 + 3]! - ref[f]!.data[p * 4 + 3]!));
    }
    expect(worst).toBeLessThanOrEqual(257); // ProRes codes alpha losslessly up to its 16-bit rounding

    const png = await runJob(parseJobSpec(fill(src.alpha, path.join(tmp.dir, 'apng'), { format: 'png' })), { engine });
    const first = await probe(path.join(png.output, 'frame_000001.png'));
    expect(first.pixFmt).toBe('rgba64be');
  });

  it('asking for alpha in a format that cannot store it is a spec error naming the field', () => {
    const r = safeParseJobSpec(fill(src.alpha, 'x.mov', { format: 'prores422hq', alpha: 'opaque' }));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toMatch(/output\.alpha: prores422hq cannot store alpha/);
  });
});
