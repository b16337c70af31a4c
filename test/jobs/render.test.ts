/**
 * End to end through runJob: real ffmpeg, real ONNX Runtime, the built-in test model.
 * What an editor checks: frame counts and rates, untouched pixels bit-exact, determinism by
 * seed, and that a failed job leaves nothing behind.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobSpec, type JobSpecInput } from '../../protocol/index.ts';
import { Engine } from '../../companion/engine/engine.ts';
import { runJob } from '../../companion/jobs/run.ts';
import { probe } from '../../companion/media/probe.ts';
import { rasterizeShapes } from '../../companion/masks/index.ts';
import type { WindowRequest } from '../../companion/engine/generate.ts';
import type { Frame } from '../../companion/media/frame.ts';
import { FPS, losslessClip, maskedChanges, readAll, tempDir, useTestModelCache } from '../helpers/fixtures.ts';

useTestModelCache();

const W = 128;
const H = 72;
const SRC_FRAMES = 20;
const tmp = tempDir();
let source = '';
let engine: Engine;

beforeAll(async () => {
  source = await losslessClip(tmp.dir, 'source.mkv', W, H, SRC_FRAMES);
  engine = await Engine.open('builtin:tiny');
});
afterAll(async () => {
  await engine?.close();
  tmp.cleanup();
});

const sequence = { fps: '24000/1001', width: W, height: H };
const ellipse = {
  type: 'shapes' as const,
  shapes: [{ kind: 'ellipse' as const, feather: 4, keyframes: [{ frame: 0, cx: 40, cy: 30, rx: 14, ry: 10 }, { frame: SRC_FRAMES - 1, cx: 90, cy: 40, rx: 18, ry: 12 }] }],
};

/** An engine that records each window it is asked for and what it returned. */
function spyOn(e: Engine) {
  const calls: { req: WindowRequest; out: Frame[] }[] = [];
  const spy = Object.create(e) as Engine;
  spy.generate = async (req, onStep) => {
    const r = await e.generate(req, onStep);
    calls.push({ req, out: r.frames });
    return r;
  };
  return { spy, calls };
}

function fillSpec(out: string, seed = 7): Extract<JobSpecInput, { kind: 'fill' }> {
  return { kind: 'fill', prompt: 'plate', seed, steps: 3, sequence, source: { path: source }, mask: ellipse, output: { format: 'ffv1', path: out } };
}

describe('extend', () => {
  it('writes exactly the new frames at the sequence rate and size (tail)', async () => {
    const out = path.join(tmp.dir, 'tail.mkv');
    const spec = parseJobSpec({ kind: 'extend', seed: 1, steps: 3, sequence, source: { path: source }, extend: { direction: 'tail', duration: { frames: 15 } }, output: { format: 'ffv1', path: out } });
    const r = await runJob(spec, { engine });
    const info = await probe(r.output);
    expect(info.frameCount).toBe(15);
    expect(info.fps).toEqual({ num: 24000, den: 1001 });
    expect([info.width, info.height]).toEqual([W, H]);
    const side = JSON.parse(readFileSync(r.sidecar, 'utf8'));
    expect(side.seed).toBe(1);
    expect(side.model).toMatchObject({ id: 'builtin:tiny', testModel: true });
    expect(side.provider).toBe('cpu');
    expect(side.timings.windows).toBe(2); // 12 new frames per window with 5 of context
  });

  it('extends the head by whole seconds at 23.976', async () => {
    const out = path.join(tmp.dir, 'head.mov');
    const spec = parseJobSpec({ kind: 'extend', seed: 1, steps: 2, sequence, source: { path: source, in: { frames: 2 } }, extend: { direction: 'head', duration: { seconds: 1 } }, output: { format: 'prores422hq', path: out } });
    const r = await runJob(spec, { engine });
    const info = await probe(r.output);
    expect(info.frameCount).toBe(24); // 1 s at 24000/1001 = 24 frames
    expect(info.codec).toBe('prores');
  });

  it('new frames start on the frame after the last (tail) and end on the frame before the first (head)', async () => {
    const src = await readAll(source, FPS, SRC_FRAMES);
    for (const direction of ['tail', 'head'] as const) {
      const { spy, calls } = spyOn(engine);
      const out = path.join(tmp.dir, `order-${direction}.mkv`);
      const spec = parseJobSpec({ kind: 'extend', seed: 1, steps: 2, sequence, source: { path: source, in: { frames: 3 }, out: { frames: 17 } }, extend: { direction, duration: { frames: 15 } }, output: { format: 'ffv1', path: out } });
      await runJob(spec, { engine: spy });
      const result = await readAll(out, FPS, 15);
      const first = calls[0]!;
      const known = first.req.frames.map((f, i) => (f ? i : -1)).filter((i) => i >= 0);
      const same = (a: { data: Uint8Array }, b: { data: Uint8Array }) => Buffer.from(a.data).equals(Buffer.from(b.data));
      if (direction === 'tail') {
        // Known frames open the window, in order, and are the source's last frames (12..16).
        expect(known).toEqual([0, 1, 2, 3, 4]);
        known.forEach((i) => expect(same(first.req.frames[i]!, src[12 + i]!)).toBe(true));
        // The first output frame is the one generated right after source frame 16.
        expect(same(result[0]!, first.out[5]!)).toBe(true);
      } else {
        // Known frames close the window and are the source's first frames of the range (3..7).
        const n = first.req.frames.length;
        expect(known).toEqual([n - 5, n - 4, n - 3, n - 2, n - 1]);
        known.forEach((i, k) => expect(same(first.req.frames[i]!, src[3 + k]!)).toBe(true));
        // The last output frame is the one generated right before source frame 3.
        expect(same(result[14]!, first.out[n - 6]!)).toBe(true);
      }
    }
  });

  it('the known frames of a window decode back to the source exactly (invertible test VAE)', async () => {
    const frames = await readAll(source, FPS, 5, SRC_FRAMES - 5);
    for (const conditioning of ['per-token', 'blend'] as const) {
      const out = await engine.generate({
        width: W, height: H, frames: [...frames, null, null, null, null], masks: Array(9).fill(null),
        prompt: '', negativePrompt: '', seed: 3, stream: 0, steps: 3, guidance: 3, strength: 1, conditioning, fps: 24000 / 1001,
      });
      expect(out.frames).toHaveLength(9);
      for (let i = 0; i < 5; i++) expect(Buffer.from(out.frames[i]!.data).equals(Buffer.from(frames[i]!.data))).toBe(true);
      // and the new frames are generated, not copies
      expect(Buffer.from(out.frames[6]!.data).equals(Buffer.from(frames[4]!.data))).toBe(false);
    }
  });
});

describe('fill', () => {
  it('keeps every pixel outside the mask bit for bit and changes the inside, on every frame', async () => {
    const out = path.join(tmp.dir, 'fill.mkv');
    const r = await runJob(parseJobSpec(fillSpec(out)), { engine });
    const src = await readAll(source, FPS, SRC_FRAMES);
    const res = await readAll(r.output, FPS, SRC_FRAMES);
    expect(res).toHaveLength(SRC_FRAMES);
    const spec = parseJobSpec(fillSpec(out));
    if (spec.kind !== 'fill' || spec.mask.type !== 'shapes') throw new Error('unreachable');
    for (let f = 0; f < SRC_FRAMES; f++) {
      const { outside, inside, changedInside } = maskedChanges(src[f]!, res[f]!, rasterizeShapes(spec.mask, f, W, H));
      expect(outside, `frame ${f}: pixels changed outside the mask`).toBe(0);
      expect(inside).toBeGreaterThan(100);
      expect(changedInside / inside, `frame ${f}: share of masked pixels that changed`).toBeGreaterThan(0.9);
    }
  });

  it('is deterministic by seed, and another seed differs', async () => {
    const a = await runJob(parseJobSpec(fillSpec(path.join(tmp.dir, 'a.mkv'), 11)), { engine });
    const b = await runJob(parseJobSpec(fillSpec(path.join(tmp.dir, 'b.mkv'), 11)), { engine });
    const c = await runJob(parseJobSpec(fillSpec(path.join(tmp.dir, 'c.mkv'), 12)), { engine });
    const [fa, fb, fc] = await Promise.all([a, b, c].map((r) => readAll(r.output, FPS, SRC_FRAMES)));
    const bytes = (fs: typeof fa) => Buffer.concat(fs!.map((f) => Buffer.from(f.data)));
    expect(bytes(fa).equals(bytes(fb))).toBe(true);
    expect(bytes(fa).equals(bytes(fc))).toBe(false);
  });
});

describe('bad input: one clear error, nothing written', () => {
  const listing = () => readdirSync(tmp.dir).sort();

  async function refused(input: JobSpecInput | (() => unknown), code: string, message: RegExp, opts: { force?: boolean } = {}) {
    const before = listing();
    const err = await (async () => {
      const spec = typeof input === 'function' ? input() : parseJobSpec(input);
      await runJob(spec as ReturnType<typeof parseJobSpec>, { engine, ...opts });
    })().then(
      () => null,
      (e: Error & { code?: string }) => e,
    );
    expect(err, 'expected the job to be refused').not.toBeNull();
    expect(err!.code).toBe(code);
    expect(err!.message).toMatch(message);
    expect(listing()).toEqual(before);
  }

  it('missing source', () => refused({ ...fillSpec(path.join(tmp.dir, 'x.mkv')), source: { path: path.join(tmp.dir, 'nope.mov') } }, 'source_missing', /nope\.mov/));

  it('corrupt media', async () => {
    const bad = path.join(tmp.dir, 'corrupt.mov');
    (await import('node:fs')).writeFileSync(bad, 'this is not a movie'.repeat(100));
    await refused({ ...fillSpec(path.join(tmp.dir, 'x.mkv')), source: { path: bad } }, 'corrupt_media', /corrupt\.mov/);
  });

  it('out-of-range and zero-length ranges', async () => {
    await refused({ ...fillSpec(path.join(tmp.dir, 'x.mkv')), source: { path: source, out: { frames: 500 } } }, 'bad_range', /500.*20 frames/);
    await refused(() => parseJobSpec({ ...fillSpec(path.join(tmp.dir, 'x.mkv')), source: { path: source, in: { frames: 5 }, out: { frames: 5 } } }), 'bad_spec', /source\.out/);
    await refused({ ...fillSpec(path.join(tmp.dir, 'x.mkv')), source: { path: source, in: { frames: 25 } } }, 'bad_range', /empty/);
  });

  it('a mask outside the frame', () =>
    refused(
      { ...fillSpec(path.join(tmp.dir, 'x.mkv')), mask: { type: 'shapes', shapes: [{ kind: 'rectangle', keyframes: [{ frame: 0, x: 500, y: 500, width: 10, height: 10 }] }] } },
      'bad_mask',
      /outside/,
    ));

  it('unknown fields', () => refused(() => parseJobSpec({ ...fillSpec(path.join(tmp.dir, 'x.mkv')), colour: 'red' }), 'bad_spec', /colour/));

  it('absurd sizes are refused before work starts', () =>
    refused(
      { kind: 'generate', sequence: { fps: 24, width: 7680, height: 4320 }, duration: { seconds: 600 }, output: { format: 'prores422hq', path: path.join(tmp.dir, 'huge.mov') } },
      'too_large',
      /gigapixels/,
    ));

  it('an existing output without --force', async () => {
    const out = path.join(tmp.dir, 'exists.mkv');
    (await import('node:fs')).writeFileSync(out, 'keep me');
    await refused(fillSpec(out), 'output_exists', /--force/);
    expect(readFileSync(out, 'utf8')).toBe('keep me');
  });

  it('a job cancelled midway removes its partial output', async () => {
    const out = path.join(tmp.dir, 'cancelled.mkv');
    const before = listing();
    let cancelled = false;
    const err = await runJob(parseJobSpec({ ...fillSpec(out), steps: 6 }), {
      engine,
      onProgress: (p) => {
        if (!cancelled && p.phase === 'generating' && p.window === 2) {
          cancelled = true;
          engine.cancel();
        }
      },
    }).catch((e: Error & { code?: string }) => e);
    expect((err as { code?: string }).code).toBe('cancelled');
    expect(existsSync(out)).toBe(false);
    expect(listing()).toEqual(before);
  });

  it('a Windows path from Premiere on another OS is named in the error', () =>
    refused({ ...fillSpec(path.join(tmp.dir, 'x.mkv')), source: { path: 'C:\\Users\\editor\\Videos\\shot 01.mov' } }, 'source_missing', /Windows path/));
});
