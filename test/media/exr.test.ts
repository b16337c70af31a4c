/**
 * EXR written by Reshoot itself (ffmpeg 4.1 has no EXR encoder) and HDR plates carried through
 * jobs. A linear half-float plate with highlights far above 1.0, negatives, NaN and Inf, filled
 * and written back to EXR, must keep every sample outside the mask as the plate's own half bits
 * (read back with exrRead.ts: ffmpeg would clip them), with finite, plausible linear values
 * inside. A display-referred frame is linearized with the sRGB curve. Other outputs of such a
 * plate are clipped to 0..1 (documented in the README).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobSpec } from '../../protocol/index.ts';
import { parseRational } from '../../protocol/rational.ts';
import { Engine } from '../../companion/engine/engine.ts';
import { runJob } from '../../companion/jobs/run.ts';
import { rasterizeShapes } from '../../companion/masks/index.ts';
import { decodeFrames } from '../../companion/media/decode.ts';
import { openEncoder } from '../../companion/media/encode.ts';
import { encodeExr, fromHalf, toHalf } from '../../companion/media/exr.ts';
import { readExr, type ExrImage } from '../../companion/media/exrRead.ts';
import type { DeepFrame, Frame } from '../../companion/media/frame.ts';
import { modelToHalfTable } from '../../companion/media/linear.ts';
import { probe } from '../../companion/media/probe.ts';
import { tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { reshootErrorOf } from './helpers.ts';

useTestModelCache();

const W = 40;
const H = 37; // not a multiple of ZIP's 16-line blocks: the last block is short
const FPS = parseRational('24');
const tmp = tempDir();
let plate = '';
let engine: Engine;
const NAN_OUTSIDE = 2 * W + 3; // pixel (3, 2): far from the mask
const INF_OUTSIDE = 30 * W + 35;
const NAN_INSIDE = 18 * W + 20; // the ellipse's centre
const ellipse = { kind: 'ellipse' as const, mode: 'add' as const, feather: 3, keyframes: [{ frame: 0, cx: 20, cy: 18, rx: 8, ry: 6 }] };
/** A pixel in the ellipse's feather (0 < a < 1); the mask does not move. */
const NAN_FEATHER = rasterizeShapes({ type: 'shapes', shapes: [ellipse], invert: false }, 0, W, H).findIndex((a) => a > 0.2 && a < 0.8);

/**
 * A linear HDR plate: red 0..20 across, green from -1.25 down, blue fine detail; NaN and Inf
 * here and there; with `alpha`, a ramp 0..1 down the frame.
 */
function hdrFrame(i: number, channels: 3 | 4 = 3): DeepFrame {
  const data = new Uint16Array(W * H * channels);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = (y * W + x) * channels;
      data[p] = toHalf((20 * x) / (W - 1));
      data[p + 1] = toHalf((y - 10) / 8);
      data[p + 2] = toHalf(0.5 + 0.49 * Math.sin(x * 0.7 + y * 1.3 + i) + 1e-3 * i);
      if (channels === 4) data[p + 3] = toHalf(y / (H - 1));
    }
  }
  data[NAN_OUTSIDE * channels] = 0x7e00;
  data[INF_OUTSIDE * channels + 1] = 0x7c00;
  data[NAN_INSIDE * channels + 2] = 0x7e00;
  data[NAN_FEATHER * channels] = 0x7e00;
  return { width: W, height: H, channels, depth: 16, data };
}

beforeAll(async () => {
  plate = path.join(tmp.dir, 'plate');
  mkdirSync(plate);
  for (let i = 0; i < 5; i++) writeFileSync(path.join(plate, `sh010.${1001 + i}.exr`), encodeExr(hdrFrame(i), { compression: 'zip', transfer: 'half' }));
  engine = await Engine.open('builtin:tiny');
});
afterAll(async () => {
  await engine?.close();
  tmp.cleanup();
});

async function readFolder(dir: string): Promise<ExrImage[]> {
  const names = readdirSync(dir).filter((n) => n.endsWith('.exr')).sort();
  return Promise.all(names.map((n) => readExr(path.join(dir, n))));
}

describe('half floats', () => {
  it('round to nearest even; sign, NaN and Inf kept; beyond the half range saturates', () => {
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(0.5)).toBe(0x3800);
    expect(toHalf(65504)).toBe(0x7bff);
    expect(toHalf(1e9)).toBe(0x7bff);
    expect(toHalf(-1e9)).toBe(0xfbff);
    expect(toHalf(-3)).toBe(0xc200);
    expect(toHalf(Number.NaN)).toBe(0x7e00);
    expect(toHalf(Number.POSITIVE_INFINITY)).toBe(0x7c00);
    expect(toHalf(Number.NEGATIVE_INFINITY)).toBe(0xfc00);
    expect(toHalf(2 ** -24)).toBe(1);
    expect(toHalf(-(2 ** -24))).toBe(0x8001);
    expect(toHalf(2 ** -25)).toBe(0); // a tie rounds to even (0)
    expect(toHalf(3 * 2 ** -25)).toBe(2); // a tie rounds to even (2)
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // tie between 1 and 1+2^-10: even
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    for (let h = 0; h < 0x10000; h++) if ((h & 0x7c00) !== 0x7c00) expect(toHalf(fromHalf(h)), `half ${h}`).toBe(h);
  });
});

describe('encodeExr', () => {
  it('an 8-bit display frame is linearized with the sRGB curve; ffmpeg reading it through that curve sees the same picture', async () => {
    const data = new Uint8Array(W * H * 3).map((_, i) => (i * 37) % 256);
    const frame: Frame = { width: W, height: H, channels: 3, data };
    const dir = path.join(tmp.dir, 'display');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'f.1.exr'), encodeExr(frame, { compression: 'zip', transfer: 'srgb' }));
    // Linear in the file: level 128 (0.502 sRGB) is stored as ≈ 0.2158.
    const [lin] = await readFolder(dir);
    expect(fromHalf(lin!.data[data.indexOf(128)]!)).toBeCloseTo(0.2158, 3);
    const shown: DeepFrame[] = [];
    for await (const f of decodeFrames({ path: dir, fps: FPS, startFrame: 0, frameCount: 1, depth: 16 })) shown.push(f);
    let worst = 0;
    for (let i = 0; i < data.length; i++) worst = Math.max(worst, Math.abs(shown[0]!.data[i]! / 257 - data[i]!));
    expect(worst).toBeLessThan(0.75); // within one 8-bit level everywhere
  });

  it('openEncoder("exr") writes a folder numbered like the plate, atomically, the half bits as given', async () => {
    const out = path.join(tmp.dir, 'enc-out');
    const enc = await openEncoder({ path: out, format: 'exr', width: W, height: H, fps: FPS, channels: 3, depth: 16, overwrite: false, startNumber: 1001, transfer: 'half' });
    const src = [0, 1, 2].map((i) => hdrFrame(i));
    for (const f of src) await enc.write(f);
    expect(readdirSync(tmp.dir).includes('enc-out')).toBe(false); // not before finish()
    await enc.finish();
    expect(readdirSync(out).sort()).toEqual(['frame_001001.exr', 'frame_001002.exr', 'frame_001003.exr']);
    expect(await probe(out)).toMatchObject({ codec: 'exr', frameCount: 3, width: W, height: H, sequence: { start: 1001, ext: 'exr' } });
    const back = await readFolder(out);
    for (let i = 0; i < 3; i++) expect(Buffer.from(back[i]!.data.buffer).equals(Buffer.from(src[i]!.data.buffer))).toBe(true);
  });
});

describe('a fill of a linear HDR EXR plate written to EXR', () => {
  it("keeps every sample outside the mask as the plate's own half bits (0..20, negatives, NaN, Inf); inside, finite linear values", async () => {
    const spec = parseJobSpec({
      kind: 'fill', seed: 4, steps: 2, sequence: { fps: '24', width: W, height: H },
      source: { path: plate, in: { frames: 1 }, out: { frames: 5 } },
      mask: { type: 'shapes', shapes: [ellipse] },
      output: { format: 'exr', path: path.join(tmp.dir, 'fill-exr') },
    });
    if (spec.kind !== 'fill' || spec.mask.type !== 'shapes') throw new Error('unreachable');
    expect(NAN_FEATHER).toBeGreaterThan(0);
    const r = await runJob(spec, { engine });
    expect(r.provenance.media.depth).toBe(16);
    expect(readdirSync(r.output).filter((n) => n.endsWith('.exr')).sort()).toEqual([1002, 1003, 1004, 1005].map((n) => `frame_00${n}.exr`));
    const out = await readFolder(r.output);
    const generated = new Set(modelToHalfTable());
    let outside = 0;
    let above1 = 0;
    let negative = 0;
    let inside = 0;
    let band = 0;
    for (let f = 0; f < 4; f++) {
      const src = hdrFrame(f + 1).data;
      const o = out[f]!;
      expect(o).toMatchObject({ width: W, height: H, channels: 3 });
      const a = rasterizeShapes(spec.mask, f, W, H);
      for (let p = 0; p < W * H; p++) {
        for (let c = 0; c < 3; c++) {
          const i = p * 3 + c;
          const [s, v] = [src[i]!, o.data[i]!];
          if (a[p] === 0) {
            expect(v, `frame ${f} pixel ${p} channel ${c}`).toBe(s);
            outside++;
            if (fromHalf(s) > 1) above1++;
            if (fromHalf(s) < 0) negative++;
          } else if (a[p] === 1) {
            // The model's own level, linearized: within 0..1, never the plate's NaN.
            expect(generated.has(v), `frame ${f} pixel ${p} channel ${c}`).toBe(true);
            inside++;
          } else {
            // The feather: between the plate's value and the generated one (0..1), finite.
            const x = fromHalf(v);
            expect(Number.isFinite(x)).toBe(true);
            const sv = fromHalf(s);
            if (Number.isFinite(sv)) {
              expect(x).toBeGreaterThanOrEqual(Math.min(sv, 0) - 1e-3);
              expect(x).toBeLessThanOrEqual(Math.max(sv, 1) + 1e-3);
            }
            band++;
          }
        }
      }
      expect(Number.isNaN(fromHalf(o.data[NAN_OUTSIDE * 3]!))).toBe(true);
      expect(o.data[INF_OUTSIDE * 3 + 1]).toBe(0x7c00);
      expect(Number.isFinite(fromHalf(o.data[NAN_INSIDE * 3 + 2]!))).toBe(true);
      expect(generated.has(o.data[NAN_FEATHER * 3]!)).toBe(true); // a NaN under the feather takes the generated value
    }
    expect(above1).toBeGreaterThan(2000); // highlights up to 20.0 came back unclipped
    expect(negative).toBeGreaterThan(500);
    expect(outside).toBeGreaterThan(10_000);
    expect(inside).toBeGreaterThan(300);
    expect(band).toBeGreaterThan(100);
  });

  it('a plate of another size than the sequence is refused before anything is written', async () => {
    const out = path.join(tmp.dir, 'wrong-size');
    const e = await reshootErrorOf(
      runJob(parseJobSpec({
        kind: 'fill', seed: 1, steps: 2, sequence: { fps: '24', width: 32, height: 32 }, source: { path: plate },
        mask: { type: 'shapes', shapes: [{ ...ellipse, keyframes: [{ frame: 0, cx: 16, cy: 16, rx: 6, ry: 6 }] }] },
        output: { format: 'exr', path: out },
      }), { engine }),
      'bad_spec',
    );
    expect(e.message).toContain('sh010.1001.exr" is 40×37 (its display window) but the sequence is 32×32');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp.dir).filter((n) => n.includes('wrong-size'))).toEqual([]);
  });

  it("an RGBA plate: alpha outside the mask is the plate's own, inside opaque (1.0), blended in the feather", async () => {
    const dir = path.join(tmp.dir, 'plate-rgba');
    mkdirSync(dir);
    for (let i = 0; i < 2; i++) writeFileSync(path.join(dir, `a.${1001 + i}.exr`), encodeExr(hdrFrame(i, 4), { compression: 'zip', transfer: 'half' }));
    const spec = parseJobSpec({
      kind: 'fill', seed: 4, steps: 2, sequence: { fps: '24', width: W, height: H }, source: { path: dir },
      mask: { type: 'shapes', shapes: [ellipse] }, output: { format: 'exr', path: path.join(tmp.dir, 'fill-rgba') },
    });
    if (spec.kind !== 'fill' || spec.mask.type !== 'shapes') throw new Error('unreachable');
    const r = await runJob(spec, { engine });
    expect(r.provenance.media.alpha).toBe(true);
    const out = await readFolder(r.output);
    const a = rasterizeShapes(spec.mask, 0, W, H);
    for (let f = 0; f < 2; f++) {
      const src = hdrFrame(f, 4).data;
      expect(out[f]!.channels).toBe(4);
      for (let p = 0; p < W * H; p++) {
        if (a[p] === 0) for (let c = 0; c < 4; c++) expect(out[f]!.data[p * 4 + c]).toBe(src[p * 4 + c]);
        else if (a[p] === 1) expect(out[f]!.data[p * 4 + 3]).toBe(0x3c00);
        else {
          const v = fromHalf(out[f]!.data[p * 4 + 3]!);
          expect(v).toBeGreaterThanOrEqual(fromHalf(src[p * 4 + 3]!));
          expect(v).toBeLessThanOrEqual(1);
        }
      }
    }
  });

  it('a plate with other channels (Z): they are skipped, and the provenance says so', async () => {
    const dir = path.join(tmp.dir, 'plate-z');
    mkdirSync(dir);
    for (let i = 0; i < 2; i++) {
      execFileSync('oiiotool', [path.join(plate, `sh010.${1001 + i}.exr`), '--ch', 'R,G,B,Z=2.5', '--compression', 'piz', '-o', path.join(dir, `z.${1001 + i}.exr`)]);
    }
    const r = await runJob(parseJobSpec({
      kind: 'fill', seed: 4, steps: 2, sequence: { fps: '24', width: W, height: H }, source: { path: dir },
      mask: { type: 'shapes', shapes: [ellipse] }, output: { format: 'exr', path: path.join(tmp.dir, 'fill-z') },
    }), { engine });
    expect(r.provenance.media.notes).toEqual(['z.1001.exr: channels Z are not carried to the output (only R, G, B and A are)']);
    const [first] = await readFolder(r.output);
    const a = rasterizeShapes({ type: 'shapes', shapes: [ellipse], invert: false }, 0, W, H);
    const src = hdrFrame(0).data;
    for (let p = 0; p < W * H; p++) if (a[p] === 0) for (let c = 0; c < 3; c++) expect(first!.data[p * 3 + c]).toBe(src[p * 3 + c]);
  });

  describe('plates whose data window is not their display window', () => {
    // Overscan: 8 px beyond the picture left and right, 4 above and below (origin -8,-4), made by
    // OpenImageIO from a bigger frame of our own, so the windows are laid out by another writer.
    const OW = W + 16;
    const OH = H + 8;
    const bigFrame = (i: number): DeepFrame => {
      const f = hdrFrame(i);
      const data = new Uint16Array(OW * OH * 3);
      for (let y = 0; y < OH; y++) for (let x = 0; x < OW; x++) for (let c = 0; c < 3; c++) data[(y * OW + x) * 3 + c] = f.data[((y % H) * W + (x % W)) * 3 + c]! ^ (x < 8 || x >= W + 8 || y < 4 || y >= H + 4 ? 0x0001 : 0);
      return { width: OW, height: OH, channels: 3, depth: 16, data };
    };
    let overscan = '';
    beforeAll(() => {
      overscan = path.join(tmp.dir, 'plate-overscan');
      mkdirSync(overscan);
      for (let i = 0; i < 2; i++) {
        const flat = path.join(tmp.dir, `flat.${i}.exr`);
        writeFileSync(flat, encodeExr(bigFrame(i), { compression: 'zip', transfer: 'half' }));
        execFileSync('oiiotool', [flat, '--origin', '-8-4', '--fullsize', `${W}x${H}+0+0`, '--compression', 'piz', '-o', path.join(overscan, `o.${1001 + i}.exr`)]);
      }
    });

    it('overscan, filled to EXR: the job works on the display window; the overscan and everything outside the mask come back bit for bit', async () => {
      const spec = parseJobSpec({ kind: 'fill', seed: 1, steps: 2, sequence: { fps: '24', width: W, height: H }, source: { path: overscan }, mask: { type: 'shapes', shapes: [ellipse] }, output: { format: 'exr', path: path.join(tmp.dir, 'overscan-out') } });
      if (spec.kind !== 'fill' || spec.mask.type !== 'shapes') throw new Error('unreachable');
      const r = await runJob(spec, { engine });
      expect(r.provenance.media.notes).toEqual([]);
      const out = await readFolder(r.output);
      expect(out).toHaveLength(2);
      const a = rasterizeShapes(spec.mask, 0, W, H);
      for (let f = 0; f < 2; f++) {
        const o = out[f]!;
        expect(o.dataWindow).toEqual({ x: -8, y: -4, width: OW, height: OH });
        expect(o.displayWindow).toEqual({ x: 0, y: 0, width: W, height: H });
        const src = bigFrame(f).data;
        let changed = 0;
        for (let y = 0; y < OH; y++) {
          for (let x = 0; x < OW; x++) {
            const [dx, dy] = [x - 8, y - 4];
            const inPicture = dx >= 0 && dx < W && dy >= 0 && dy < H;
            for (let c = 0; c < 3; c++) {
              const i = (y * OW + x) * 3 + c;
              if (!inPicture || a[dy * W + dx] === 0) expect(o.data[i], `frame ${f} (${dx},${dy}) channel ${c}`).toBe(src[i]);
              else if (o.data[i] !== src[i]) changed++;
            }
          }
        }
        expect(changed).toBeGreaterThan(100); // the model did paint the mask
      }
      // OpenImageIO reads the windows back as written.
      const info = execFileSync('oiiotool', ['--info', '-v', path.join(r.output, readdirSync(r.output).sort()[0]!)], { encoding: 'utf8' });
      expect(info).toMatch(new RegExp(`${OW} x +${OH}, 3 channel, half`));
      expect(info).toMatch(/pixel data origin: x=-8, y=-4/);
      expect(info).toContain(`full/display size: ${W} x ${H}`);
    });

    it('overscan, extended to EXR: new frames cover the display window, and the provenance says the overscan is not carried', async () => {
      const r = await runJob(parseJobSpec({ kind: 'extend', seed: 3, steps: 2, sequence: { fps: '24', width: W, height: H }, source: { path: overscan }, extend: { direction: 'tail', duration: { frames: 3 } }, output: { format: 'exr', path: path.join(tmp.dir, 'overscan-extend') } }), { engine });
      expect(r.provenance.media.notes).toEqual([`o.1001.exr: the overscan beyond the display window (data window ${OW}×${OH} at -8,-4) is not carried to the output, which covers the display window ${W}×${H} at 0,0`]);
      const out = await readFolder(r.output);
      expect(out).toHaveLength(3);
      for (const o of out) expect([o.dataWindow, o.displayWindow]).toEqual([{ x: 0, y: 0, width: W, height: H }, { x: 0, y: 0, width: W, height: H }]);
    });

    it('overscan to another format: read by Reshoot (ffmpeg 4.1 cannot), shown as ffmpeg shows the same picture without overscan', async () => {
      const r = await runJob(parseJobSpec({ kind: 'fill', seed: 1, steps: 2, sequence: { fps: '24', width: W, height: H }, source: { path: overscan }, mask: { type: 'shapes', shapes: [ellipse] }, output: { format: 'png', path: path.join(tmp.dir, 'overscan-png') } }), { engine });
      expect(r.provenance.media.depth).toBe(16);
      expect(r.provenance.media.notes).toEqual([`o.1001.exr: the overscan beyond the display window (data window ${OW}×${OH} at -8,-4) is not carried to the output, which covers the display window ${W}×${H} at 0,0`]);
      const ours: DeepFrame[] = [];
      for await (const f of decodeFrames({ path: r.output, fps: FPS, startFrame: 0, frameCount: 2, depth: 16 })) ours.push(f);
      // The same plate cropped to its display window (no overscan) goes through ffmpeg.
      const cropped = path.join(tmp.dir, 'plate-cropped');
      mkdirSync(cropped);
      for (let i = 0; i < 2; i++) execFileSync('oiiotool', [path.join(overscan, `o.${1001 + i}.exr`), '--crop', `${W}x${H}+0+0`, '-o', path.join(cropped, `c.${1001 + i}.exr`)]);
      const viaFfmpeg: DeepFrame[] = [];
      for await (const f of decodeFrames({ path: cropped, fps: FPS, startFrame: 0, frameCount: 2, depth: 16 })) viaFfmpeg.push(f);
      const a = rasterizeShapes({ type: 'shapes', shapes: [ellipse], invert: false }, 0, W, H);
      let worst = 0;
      let compared = 0;
      for (let f = 0; f < 2; f++) {
        for (let p = 0; p < W * H; p++) {
          if (a[p] !== 0) continue;
          for (let c = 0; c < 3; c++) {
            const [x, y] = [ours[f]!.data[p * 3 + c]!, viaFfmpeg[f]!.data[p * 3 + c]!];
            // NaN: black here, as the model's view of a plate shows it (linear.ts); ffmpeg shows it white.
            if (Number.isNaN(fromHalf(bigFrame(f).data[((((p / W) | 0) + 4) * OW + (p % W) + 8) * 3 + c]!))) {
              expect(x).toBe(0);
              continue;
            }
            worst = Math.max(worst, Math.abs(x - y));
            compared++;
          }
        }
      }
      expect(compared).toBeGreaterThan(5000);
      expect(worst).toBeLessThanOrEqual(64); // a quarter of one 8-bit level at 16 bits
    });

    it('overscan to another format at a sequence size other than the display window is refused before anything is written', async () => {
      const out = path.join(tmp.dir, 'overscan-small');
      const e = await reshootErrorOf(
        runJob(parseJobSpec({ kind: 'fill', seed: 1, steps: 2, sequence: { fps: '24', width: 32, height: 32 }, source: { path: overscan }, mask: { type: 'shapes', shapes: [{ ...ellipse, keyframes: [{ frame: 0, cx: 16, cy: 16, rx: 6, ry: 6 }] }] }, output: { format: 'png', path: out } }), { engine }),
        'bad_spec',
      );
      expect(e.message).toContain(`o.1001.exr" stores pixels beyond its display window (data window ${OW}×${OH} at -8,-4, display window ${W}×${H} at 0,0: overscan)`);
      expect(e.message).toContain(`set the sequence to ${W}×${H}`);
      expect(existsSync(out)).toBe(false);
    });

    it("a render's bounding box (data window inside the picture): black around it, as EXR readers show it; the output stores the whole picture", async () => {
      const dir = path.join(tmp.dir, 'plate-bbox');
      mkdirSync(dir);
      // The plate's pixels (x 4..35, y 3..32) of a W×H picture, cut by OpenImageIO.
      for (let i = 0; i < 2; i++) execFileSync('oiiotool', [path.join(plate, `sh010.${1001 + i}.exr`), '--crop', '32x30+4+3', '--fullsize', `${W}x${H}+0+0`, '-o', path.join(dir, `b.${1001 + i}.exr`)]);
      expect((await readExr(path.join(dir, 'b.1001.exr'))).dataWindow).toEqual({ x: 4, y: 3, width: 32, height: 30 });
      const spec = parseJobSpec({ kind: 'fill', seed: 1, steps: 2, sequence: { fps: '24', width: W, height: H }, source: { path: dir }, mask: { type: 'shapes', shapes: [ellipse] }, output: { format: 'exr', path: path.join(tmp.dir, 'bbox-out') } });
      if (spec.kind !== 'fill' || spec.mask.type !== 'shapes') throw new Error('unreachable');
      const r = await runJob(spec, { engine });
      const [o] = await readFolder(r.output);
      expect([o!.dataWindow, o!.displayWindow]).toEqual([{ x: 0, y: 0, width: W, height: H }, { x: 0, y: 0, width: W, height: H }]);
      const src = hdrFrame(0).data;
      const a = rasterizeShapes(spec.mask, 0, W, H);
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          if (a[y * W + x] !== 0) continue;
          const inData = x >= 4 && x < 36 && y >= 3 && y < 33;
          for (let c = 0; c < 3; c++) expect(o!.data[(y * W + x) * 3 + c], `(${x},${y}) channel ${c}`).toBe(inData ? src[(y * W + x) * 3 + c] : 0);
        }
      }
      // Through ffmpeg (a PNG output) the same plate decodes too: the bounding box is not overscan.
      const png = await runJob(parseJobSpec({ kind: 'fill', seed: 1, steps: 2, sequence: { fps: '24', width: W, height: H }, source: { path: dir, out: { frames: 1 } }, mask: { type: 'shapes', shapes: [ellipse] }, output: { format: 'png', path: path.join(tmp.dir, 'bbox-png') } }), { engine });
      expect(png.provenance.frames).toBe(1);
    });
  });

  it('a FLOAT plate filled to EXR comes back FLOAT: every sample outside the mask is the plate\'s own 32 bits (values no half can hold included)', async () => {
    const dir = path.join(tmp.dir, 'plate-float');
    mkdirSync(dir);
    // Scaled and offset by OpenImageIO so most values fall between halves, red up to 100,000 (past the half range).
    for (let i = 0; i < 2; i++) execFileSync('oiiotool', [path.join(plate, `sh010.${1001 + i}.exr`), '--mulc', '5000.37,1.00001,1.00001', '--addc', '0,0.0000123,0.0000123', '-d', 'float', '--compression', 'zip', '-o', path.join(dir, `f.${1001 + i}.exr`)]);
    const stored = await readExr(path.join(dir, 'f.1001.exr'));
    const notHalf = Array.from(stored.floatBits!).filter((b) => (b & 0x1fff) !== 0).length;
    expect(notHalf).toBeGreaterThan(W * H); // most samples need their 32 bits
    const spec = parseJobSpec({ kind: 'fill', seed: 2, steps: 2, sequence: { fps: '24', width: W, height: H }, source: { path: dir }, mask: { type: 'shapes', shapes: [ellipse] }, output: { format: 'exr', path: path.join(tmp.dir, 'float-out') } });
    if (spec.kind !== 'fill' || spec.mask.type !== 'shapes') throw new Error('unreachable');
    const r = await runJob(spec, { engine });
    const out = await readFolder(r.output);
    const a = rasterizeShapes(spec.mask, 0, W, H);
    const widen = new Uint32Array(Float32Array.from(Array.from({ length: 65536 }, (_, h) => fromHalf(h))).buffer);
    for (let f = 0; f < 2; f++) {
      const src = (await readExr(path.join(dir, `f.${1001 + f}.exr`))).floatBits!;
      const o = out[f]!;
      expect(o.floatBits).toBeDefined();
      let painted = 0;
      for (let p = 0; p < W * H; p++) {
        for (let c = 0; c < 3; c++) {
          const i = p * 3 + c;
          if (a[p] === 0) expect(o.floatBits![i], `frame ${f} pixel ${p} channel ${c}`).toBe(src[i]);
          else if (o.floatBits![i] !== src[i]) {
            expect(o.floatBits![i]).toBe(widen[o.data[i]!]); // a changed sample is its half, widened
            painted++;
          }
        }
      }
      expect(painted).toBeGreaterThan(100);
    }
    expect(execFileSync('oiiotool', ['--info', path.join(r.output, 'frame_001001.exr')], { encoding: 'utf8' })).toContain('float openexr');
  });

  it('encodeExr with windows: the frame is the data window, placed and read back as written', async () => {
    const f = hdrFrame(2);
    const windows = { data: { x: -3, y: 5, width: W, height: H }, display: { x: 0, y: 0, width: 20, height: 60 } };
    const file = path.join(tmp.dir, 'windows.exr');
    writeFileSync(file, encodeExr(f, { compression: 'zip', transfer: 'half', windows }));
    const back = await readExr(file);
    expect([back.dataWindow, back.displayWindow]).toEqual([windows.data, windows.display]);
    expect(Buffer.from(back.data.buffer).equals(Buffer.from(f.data.buffer))).toBe(true);
    // OpenImageIO agrees on where the pixels are: the pixel at data (0,0) is EXR pixel (-3,5).
    const dump = execFileSync('oiiotool', ['--info', '-v', file], { encoding: 'utf8' });
    expect(dump).toMatch(/pixel data origin: x=-3, y=5/);
    expect(dump).toContain('full/display size: 20 x 60');
    expect(() => encodeExr(f, { compression: 'zip', transfer: 'half', windows: { ...windows, data: { ...windows.data, width: W - 1 } } })).toThrow(/data window/);
  });

  it('to a 16-bit PNG instead, the plate is shown through the sRGB curve and clipped to 0..1 (documented)', async () => {
    const out = path.join(tmp.dir, 'fill-png');
    const r = await runJob(parseJobSpec({
      kind: 'fill', seed: 4, steps: 2, sequence: { fps: '24', width: W, height: H }, source: { path: plate, out: { frames: 2 } },
      mask: { type: 'shapes', shapes: [ellipse] }, output: { format: 'png', path: out },
    }), { engine });
    expect(r.provenance.media.depth).toBe(16);
    const frames: DeepFrame[] = [];
    for await (const f of decodeFrames({ path: r.output, fps: FPS, startFrame: 0, frameCount: 2, depth: 16 })) frames.push(f);
    const src = hdrFrame(0).data;
    // Red reaches 20.0 at the right edge: white there, as on an sRGB display; negatives black.
    const right = ((H - 2) * W + W - 1) * 3;
    expect(fromHalf(src[right]!)).toBe(20);
    expect(frames[0]!.data[right]).toBe(65535);
    expect(fromHalf(src[1]!)).toBeLessThan(0);
    expect(frames[0]!.data[1]).toBe(0);
  });
});

describe('chain kinds into EXR from an EXR plate', () => {
  it("generate: the first frame is the plate's own half bits (above 1.0 kept), the rest the model's levels linearized", async () => {
    const out = path.join(tmp.dir, 'gen-exr');
    const r = await runJob(parseJobSpec({
      kind: 'generate', seed: 2, steps: 2, sequence: { fps: '24', width: W, height: H }, source: { path: plate, in: { frames: 2 } },
      duration: { frames: 9 }, output: { format: 'exr', path: out },
    }), { engine });
    const frames = await readFolder(r.output);
    expect(frames.length).toBe(9);
    expect(Buffer.from(frames[0]!.data.buffer).equals(Buffer.from(hdrFrame(2).data.buffer))).toBe(true);
    const generated = new Set(modelToHalfTable());
    for (const f of frames.slice(1)) expect(f.data.every((h) => generated.has(h))).toBe(true);
  });

  it('extend: new frames only, each sample one of the model’s 256 levels linearized (0..1, finite)', async () => {
    const out = path.join(tmp.dir, 'ext-exr');
    const r = await runJob(parseJobSpec({
      kind: 'extend', seed: 3, steps: 2, sequence: { fps: '24', width: W, height: H }, source: { path: plate },
      extend: { direction: 'tail', duration: { frames: 6 } }, output: { format: 'exr', path: out },
    }), { engine });
    const frames = await readFolder(r.output);
    expect(frames.length).toBe(6);
    const generated = new Set(modelToHalfTable());
    for (const f of frames) {
      expect(f).toMatchObject({ width: W, height: H, channels: 3 });
      expect(f.data.every((h) => generated.has(h))).toBe(true);
    }
    // Not a flat picture: the model continued the plate, whose clipped look varies across the frame.
    expect(new Set(frames[0]!.data).size).toBeGreaterThan(10);
  });
});
