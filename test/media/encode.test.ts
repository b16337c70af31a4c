/**
 * Every output format, read back with probe (frame count, size, exact rate, codec, alpha), plus
 * the atomicity guarantees: an existing output is never clobbered without overwrite, and a
 * failed or aborted encode leaves nothing behind.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rational } from '../../protocol/rational.ts';
import { probe } from '../../companion/media/probe.ts';
import { decodeFrames, readImage } from '../../companion/media/decode.ts';
import { contactSheet, openEncoder, writePng, type EncodeFormat } from '../../companion/media/encode.ts';
import { makeFrame } from '../../companion/media/frame.ts';
import { syntheticFrame, writeSyntheticClip } from '../../companion/media/synthetic.ts';
import { collect, meanAbsDiff, reshootErrorOf, useTempDir } from './helpers.ts';

const dir = useTempDir();
const NTSC = rational(24000, 1001);
const W = 64;
const H = 48;
const N = 12;

/** Names in `folder`, to check that no ".partial" file was left. */
async function listing(folder: string): Promise<string[]> {
  return (await readdir(folder)).sort();
}

describe('formats', () => {
  it.each<[EncodeFormat, string, { codec: string; profile?: string; alpha: boolean; pixFmt: RegExp }]>([
    ['prores422hq', 'hq.mov', { codec: 'prores', profile: 'HQ', alpha: false, pixFmt: /^yuv422p10/ }],
    ['prores4444', 'alpha.mov', { codec: 'prores', profile: '4444', alpha: true, pixFmt: /^yuva444p1[02]/ }],
    ['h264', 'web.mp4', { codec: 'h264', profile: 'High', alpha: false, pixFmt: /^yuv420p$/ }],
    ['ffv1', 'lossless.mkv', { codec: 'ffv1', alpha: false, pixFmt: /^bgr0$/ }],
  ])('%s writes a file probe reads back exactly', async (format, name, want) => {
    const file = path.join(dir, name);
    await writeSyntheticClip({ path: file, format, width: W, height: H, fps: NTSC, frames: N });
    const info = await probe(file);
    expect(info).toMatchObject({ width: W, height: H, frameCount: N, fps: { num: 24000, den: 1001 }, codec: want.codec, hasAlpha: want.alpha, isImage: false });
    if (want.profile) expect(info.profile).toBe(want.profile);
    expect(info.pixFmt).toMatch(want.pixFmt);
    if (format !== 'ffv1') expect(info.colorSpace).toBe('bt709');
    // Colours survive the RGB → YUV → RGB round trip (same matrix both ways).
    const [back] = await collect(decodeFrames({ path: file, fps: NTSC, startFrame: 5, frameCount: 1, info }));
    expect(meanAbsDiff(back!, syntheticFrame(5, W, H))).toBeLessThan(format === 'h264' ? 4 : 2);
  });

  it('prores4444 keeps the alpha channel', async () => {
    const file = path.join(dir, 'alpha.mov');
    const [back] = await collect(decodeFrames({ path: file, fps: NTSC, startFrame: 2, frameCount: 1, channels: 4 }));
    const want = syntheticFrame(2, W, H, { channels: 4 });
    // Compare alpha only: opaque left, 96 on the right.
    let worst = 0;
    for (let i = 3; i < want.data.length; i += 4) worst = Math.max(worst, Math.abs(back!.data[i]! - want.data[i]!));
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('png writes a folder of numbered frames (rgba when 4 channels)', async () => {
    const folder = path.join(dir, 'seq');
    await writeSyntheticClip({ path: folder, format: 'png', width: W, height: H, fps: NTSC, frames: N, channels: 4 });
    const files = await listing(folder);
    expect(files).toHaveLength(N);
    expect(files[0]).toBe('frame_000001.png');
    expect(files[N - 1]).toBe(`frame_${String(N).padStart(6, '0')}.png`);
    const info = await probe(path.join(folder, 'frame_000003.png'));
    expect(info).toMatchObject({ isImage: true, hasAlpha: true, width: W, height: H, frameCount: 1, codec: 'png' });
    // PNG is lossless: frame_000003 is frame index 2, bit for bit.
    const img = await readImage(path.join(folder, 'frame_000003.png'), { channels: 4 });
    expect(Buffer.from(img.data).equals(Buffer.from(syntheticFrame(2, W, H, { channels: 4 }).data))).toBe(true);
  });

  it('h264 pads odd sizes to even', async () => {
    const file = path.join(dir, 'odd.mp4');
    await writeSyntheticClip({ path: file, format: 'h264', width: 65, height: 49, fps: rational(25), frames: 3 });
    expect(await probe(file)).toMatchObject({ width: 66, height: 50, frameCount: 3, fps: { num: 25, den: 1 } });
  });

  it('stores integer and NTSC rates exactly', async () => {
    for (const fps of [rational(30000, 1001), rational(60000, 1001), rational(50), rational(24)]) {
      const file = path.join(dir, `rate-${fps.num}.mov`);
      await writeSyntheticClip({ path: file, format: 'prores422hq', width: W, height: H, fps, frames: 4 });
      const info = await probe(file);
      expect(info.fps).toEqual(fps);
      expect(info.frameCount).toBe(4);
    }
  });

  it('writes a start timecode into .mov', async () => {
    const file = path.join(dir, 'tc.mov');
    const enc = await openEncoder({ path: file, format: 'prores422hq', width: W, height: H, fps: rational(25), channels: 3, overwrite: false, timecode: '01:00:00:00' });
    await enc.write(syntheticFrame(0, W, H));
    await enc.finish();
    // The tmcd track is there (ffmpeg would have failed on a bad timecode).
    expect((await readFile(file)).includes(Buffer.from('tmcd'))).toBe(true);
  });
});

describe('atomic output', () => {
  it('refuses an existing output without overwrite and leaves it untouched', async () => {
    const file = path.join(dir, 'exists.mov');
    await writeFile(file, 'precious');
    const err = await reshootErrorOf(
      openEncoder({ path: file, format: 'prores422hq', width: W, height: H, fps: NTSC, channels: 3, overwrite: false }),
      'output_exists',
    );
    expect(err.message).toContain(file);
    expect(await readFile(file, 'utf8')).toBe('precious');
    await reshootErrorOf(writeSyntheticClip({ path: file, format: 'h264', width: W, height: H, fps: NTSC, frames: 2 }), 'output_exists');
    expect(await readFile(file, 'utf8')).toBe('precious');
  });

  it('replaces an existing output with overwrite', async () => {
    const file = path.join(dir, 'replace.mp4');
    await writeFile(file, 'old');
    await writeSyntheticClip({ path: file, format: 'h264', width: W, height: H, fps: NTSC, frames: 3, overwrite: true });
    expect((await probe(file)).frameCount).toBe(3);

    const folder = path.join(dir, 'replace-seq');
    await writeSyntheticClip({ path: folder, format: 'png', width: W, height: H, fps: NTSC, frames: 5 });
    await writeSyntheticClip({ path: folder, format: 'png', width: W, height: H, fps: NTSC, frames: 2, overwrite: true });
    expect(await listing(folder)).toEqual(['frame_000001.png', 'frame_000002.png']);
  });

  it('a frame of the wrong size fails with write_failed and leaves no partial file', async () => {
    const sub = path.join(dir, 'wrong-size');
    await mkdir(sub);
    const file = path.join(sub, 'out.mov');
    const enc = await openEncoder({ path: file, format: 'prores422hq', width: W, height: H, fps: NTSC, channels: 3, overwrite: false });
    for (let i = 0; i < 3; i++) await enc.write(syntheticFrame(i, W, H));
    const err = await reshootErrorOf(enc.write(makeFrame(W + 2, H, 3)), 'write_failed');
    expect(err.message).toContain('66x48x3');
    expect(await listing(sub)).toEqual([]);
    await reshootErrorOf(enc.finish(), 'write_failed'); // the encoder stays closed
    await reshootErrorOf(enc.write(syntheticFrame(3, W, H)), 'write_failed');
  });

  it('abort() removes the partial output and keeps a file it would have replaced', async () => {
    const sub = path.join(dir, 'aborted');
    await mkdir(sub);
    const file = path.join(sub, 'out.mp4');
    await writeFile(file, 'previous render');
    const enc = await openEncoder({ path: file, format: 'h264', width: W, height: H, fps: NTSC, channels: 3, overwrite: true });
    for (let i = 0; i < 10; i++) await enc.write(syntheticFrame(i, W, H));
    // ffmpeg creates its (hidden) partial output once it has started; wait for it.
    for (let t = 0; t < 200 && !(await listing(sub)).some((n) => n.includes('.partial-')); t++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await listing(sub)).some((n) => n.includes('.partial-'))).toBe(true);
    await enc.abort();
    await enc.abort(); // twice is harmless
    expect(await listing(sub)).toEqual(['out.mp4']);
    expect(await readFile(file, 'utf8')).toBe('previous render');
  });

  it('an aborted PNG sequence leaves no folder', async () => {
    const sub = path.join(dir, 'aborted-seq');
    await mkdir(sub);
    const enc = await openEncoder({ path: path.join(sub, 'seq'), format: 'png', width: W, height: H, fps: NTSC, channels: 3, overwrite: false });
    await enc.write(syntheticFrame(0, W, H));
    await enc.abort();
    expect(await listing(sub)).toEqual([]);
  });

  it('finishing with no frames is an error and leaves nothing', async () => {
    const sub = path.join(dir, 'empty');
    await mkdir(sub);
    const enc = await openEncoder({ path: path.join(sub, 'out.mov'), format: 'prores422hq', width: W, height: H, fps: NTSC, channels: 3, overwrite: false });
    await reshootErrorOf(enc.finish(), 'write_failed');
    expect(await listing(sub)).toEqual([]);
  });

  it('backpressure: many large frames are written without piling up', async () => {
    const file = path.join(dir, 'big.mkv');
    const enc = await openEncoder({ path: file, format: 'ffv1', width: 640, height: 360, fps: rational(25), channels: 3, overwrite: false });
    const frame = syntheticFrame(0, 640, 360);
    for (let i = 0; i < 60; i++) await enc.write(frame);
    await enc.finish();
    expect((await probe(file)).frameCount).toBe(60);
  });
});

describe('single images', () => {
  it('writePng and readImage round-trip exactly, RGB and RGBA', async () => {
    for (const channels of [3, 4] as const) {
      const file = path.join(dir, `still-${channels}.png`);
      const frame = syntheticFrame(77, 50, 30, { channels });
      await writePng(file, frame);
      const back = await readImage(file, { channels });
      expect(Buffer.from(back.data).equals(Buffer.from(frame.data))).toBe(true);
      await reshootErrorOf(writePng(file, frame), 'output_exists');
      await writePng(file, frame, { overwrite: true });
    }
    expect((await listing(dir)).filter((n) => n.includes('.partial-'))).toEqual([]);
  });

  it('readImage scales when asked', async () => {
    const img = await readImage(path.join(dir, 'still-3.png'), { width: 25, height: 15 });
    expect([img.width, img.height, img.channels, img.data.length]).toEqual([25, 15, 3, 25 * 15 * 3]);
  });

  it('a still decodes as a clip of any length', async () => {
    const frames = await collect(decodeFrames({ path: path.join(dir, 'still-3.png'), fps: NTSC, startFrame: 100, frameCount: 3 }));
    expect(frames).toHaveLength(3);
    expect(Buffer.from(frames[2]!.data).equals(Buffer.from(syntheticFrame(77, 50, 30).data))).toBe(true);
  });
});

describe('contactSheet', () => {
  it('lays out cells at the cell width, keeping aspect, with gaps', () => {
    const a = makeFrame(64, 48, 3);
    a.data.fill(200);
    const b = makeFrame(32, 32, 4); // RGBA, half transparent red
    for (let i = 0; i < b.data.length; i += 4) b.data.set([255, 0, 0, 128], i);
    const sheet = contactSheet([[a, b], [a]], 16, { gap: 2, background: 0 });
    // Columns: 2 × 16 + 3 gaps; rows: max(12, 16) and 12, + 3 gaps.
    expect([sheet.width, sheet.height, sheet.channels]).toEqual([2 + 2 * 18, 2 + 16 + 2 + 12 + 2, 3]);
    const px = (x: number, y: number): number[] => Array.from(sheet.data.subarray((y * sheet.width + x) * 3, (y * sheet.width + x) * 3 + 3));
    expect(px(0, 0)).toEqual([0, 0, 0]); // gap
    expect(px(2, 2)).toEqual([200, 200, 200]); // first cell
    expect(px(20, 2)).toEqual([128, 0, 0]); // RGBA blended over the background
    expect(px(2, 20)).toEqual([200, 200, 200]); // second row
  });

  it('box-averages when shrinking', () => {
    const f = makeFrame(4, 2, 3);
    // Left half black, right half white: a 2x1 reduction gives one black and one white pixel.
    for (let y = 0; y < 2; y++) for (let x = 2; x < 4; x++) f.data.fill(255, (y * 4 + x) * 3, (y * 4 + x) * 3 + 3);
    const sheet = contactSheet([[f]], 2, { gap: 0 });
    expect(Array.from(sheet.data)).toEqual([0, 0, 0, 255, 255, 255]);
  });
});

it('temp folder holds no partial outputs after all of the above', async () => {
  const all = await readdir(dir, { recursive: true });
  expect(all.filter((n) => String(n).includes('.partial-'))).toEqual([]);
  expect(existsSync(path.join(dir, 'hq.mov'))).toBe(true);
});
