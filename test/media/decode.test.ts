/**
 * Frame-exact decoding: lossless clips whose frames are known exactly (syntheticFrame) are
 * decoded from the start, the middle and the end, at NTSC and integer rates, and compared
 * byte for byte. Lossy all-intra and long-GOP clips check that seeking lands on the right
 * frame (the frame index is written into the picture).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { rational, type Rational } from '../../protocol/rational.ts';
import { decodeFrames, sourceFrameAt } from '../../companion/media/decode.ts';
import { syntheticFrame, syntheticFrameIndex, writeSyntheticClip } from '../../companion/media/synthetic.ts';
import { collect, reshootErrorOf, useTempDir } from './helpers.ts';

const dir = useTempDir();
const W = 64;
const H = 48;
const FRAMES = 60;
const clip = (name: string): string => path.join(dir, name);

const rates: Array<[string, Rational]> = [
  ['24000/1001', rational(24000, 1001)],
  ['25', rational(25)],
];

beforeAll(async () => {
  await Promise.all([
    writeSyntheticClip({ path: clip('ntsc.mkv'), format: 'ffv1', width: W, height: H, fps: rates[0]![1], frames: FRAMES }),
    writeSyntheticClip({ path: clip('pal.mkv'), format: 'ffv1', width: W, height: H, fps: rates[1]![1], frames: FRAMES }),
    writeSyntheticClip({ path: clip('fifty.mkv'), format: 'ffv1', width: W, height: H, fps: rational(50), frames: FRAMES }),
    writeSyntheticClip({ path: clip('alpha.mkv'), format: 'ffv1', width: W, height: H, fps: rational(25), frames: 10, channels: 4 }),
  ]);
});

describe.each(rates)('ffv1 clip at %s fps decodes frame-exactly', (label, fps) => {
  const file = (): string => clip(label === '25' ? 'pal.mkv' : 'ntsc.mkv');

  it.each([
    ['the first frames', 0, 5],
    ['a middle range', 23, 7],
    ['the last frames', FRAMES - 4, 4],
    ['a single frame', 41, 1],
    ['the whole clip', 0, FRAMES],
  ])('%s (start %i, count %i)', async (_what, start, count) => {
    const frames = await collect(decodeFrames({ path: file(), fps, startFrame: start, frameCount: count }));
    expect(frames).toHaveLength(count);
    frames.forEach((f, i) => {
      const expected = syntheticFrame(start + i, W, H);
      expect({ w: f.width, h: f.height, c: f.channels }).toEqual({ w: W, h: H, c: 3 });
      // Byte-for-byte: compare as Buffers so a failure prints a short diff, not 9216 numbers.
      expect(Buffer.from(f.data).equals(Buffer.from(expected.data)), `frame ${start + i}`).toBe(true);
    });
  });

  it('refuses a range past the end with bad_range naming the clip length', async () => {
    const err = await reshootErrorOf(collect(decodeFrames({ path: file(), fps, startFrame: FRAMES - 2, frameCount: 5 })), 'bad_range');
    expect(err.message).toContain(`${FRAMES} frames`);
    expect(err.message).toContain(file());
    expect(err.message).toContain(`${FRAMES - 2}–${FRAMES + 2}`);
  });
});

describe('resampling and scaling', () => {
  it('a 50 fps source decoded at 25 fps gives every other frame', async () => {
    const frames = await collect(decodeFrames({ path: clip('fifty.mkv'), fps: rational(25), startFrame: 7, frameCount: 10 }));
    expect(frames).toHaveLength(10);
    frames.forEach((f, i) => {
      expect(Buffer.from(f.data).equals(Buffer.from(syntheticFrame(2 * (7 + i), W, H).data)), `frame ${i}`).toBe(true);
    });
  });

  it('a 25 fps source decoded at 50 fps shows each frame twice', async () => {
    const frames = await collect(decodeFrames({ path: clip('pal.mkv'), fps: rational(50), startFrame: 11, frameCount: 6 }));
    const expected = [5, 6, 6, 7, 7, 8]; // output frame k shows source frame floor(k/2)
    frames.forEach((f, i) => expect(Buffer.from(f.data).equals(Buffer.from(syntheticFrame(expected[i]!, W, H).data))).toBe(true));
    // Repeated frames are separate buffers, so a consumer may modify one safely.
    expect(frames[1]!.data).not.toBe(frames[2]!.data);
  });

  it('a 23.976 source in a 25 fps sequence shows the frame on screen at each instant', async () => {
    const fps = rational(25);
    const frames = await collect(decodeFrames({ path: clip('ntsc.mkv'), fps, startFrame: 20, frameCount: 30 }));
    frames.forEach((f, i) => {
      const k = 20 + i;
      // Frame k starts at k/25 s; the source frame on screen then is floor(k/25 * 24000/1001).
      const j = Math.floor((k * 24000) / (25 * 1001));
      expect(sourceFrameAt(k, fps, rational(24000, 1001))).toBe(j);
      expect(Buffer.from(f.data).equals(Buffer.from(syntheticFrame(j, W, H).data)), `frame ${k}`).toBe(true);
    });
  });

  it('resampled ranges past the end are refused', async () => {
    // 60 frames at 50 fps = 30 frames at 25 fps.
    await reshootErrorOf(collect(decodeFrames({ path: clip('fifty.mkv'), fps: rational(25), startFrame: 28, frameCount: 3 })), 'bad_range');
    const ok = await collect(decodeFrames({ path: clip('fifty.mkv'), fps: rational(25), startFrame: 27, frameCount: 3 }));
    expect(ok).toHaveLength(3);
  });

  it('scales to the requested size', async () => {
    const frames = await collect(decodeFrames({ path: clip('pal.mkv'), fps: rational(25), startFrame: 3, frameCount: 2, width: 40, height: 30 }));
    expect(frames.map((f) => [f.width, f.height, f.data.length])).toEqual([[40, 30, 40 * 30 * 3], [40, 30, 40 * 30 * 3]]);
  });

  it('decodes RGBA with alpha preserved', async () => {
    const frames = await collect(decodeFrames({ path: clip('alpha.mkv'), fps: rational(25), startFrame: 4, frameCount: 3, channels: 4 }));
    frames.forEach((f, i) => expect(Buffer.from(f.data).equals(Buffer.from(syntheticFrame(4 + i, W, H, { channels: 4 }).data))).toBe(true));
  });

  it('rejects nonsense ranges', async () => {
    await reshootErrorOf(collect(decodeFrames({ path: clip('pal.mkv'), fps: rational(25), startFrame: -1, frameCount: 2 })), 'bad_range');
    await reshootErrorOf(collect(decodeFrames({ path: clip('pal.mkv'), fps: rational(25), startFrame: 0, frameCount: 0 })), 'bad_range');
    await reshootErrorOf(collect(decodeFrames({ path: clip('pal.mkv'), fps: rational(25), startFrame: 1.5, frameCount: 2 })), 'bad_range');
  });
});

describe('seeking in lossy clips lands on the right frame', () => {
  it('ProRes (all-intra) at 24000/1001', async () => {
    const fps = rational(24000, 1001);
    const file = clip('seek.mov');
    await writeSyntheticClip({ path: file, format: 'prores422hq', width: 96, height: 64, fps, frames: 90 });
    for (const start of [0, 1, 37, 85]) {
      const frames = await collect(decodeFrames({ path: file, fps, startFrame: start, frameCount: 5 }));
      expect(frames.map(syntheticFrameIndex)).toEqual([0, 1, 2, 3, 4].map((i) => start + i));
    }
  });

  it('H.264 with a seek past a keyframe and B-frames at 24000/1001', async () => {
    const fps = rational(24000, 1001);
    const file = clip('seek.mp4');
    // 300 frames: libx264 puts a keyframe at 0 and 250, so these seeks start from different GOPs.
    await writeSyntheticClip({ path: file, format: 'h264', width: 96, height: 64, fps, frames: 300 });
    for (const start of [0, 100, 249, 250, 251, 295]) {
      const frames = await collect(decodeFrames({ path: file, fps, startFrame: start, frameCount: 5 }));
      expect(frames.map(syntheticFrameIndex), `start ${start}`).toEqual([0, 1, 2, 3, 4].map((i) => start + i));
    }
  });
});

describe('streaming', () => {
  const LONG = 300;
  const LW = 640;
  const LH = 360;
  const frameSize = LW * LH * 3;

  function ffmpegChildren(): number {
    // Count our child ffmpeg processes from /proc (Linux; no `ps` needed on a bare CI machine).
    // /proc/PID/stat is "pid (comm) state ppid ...".
    let n = 0;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      } catch {
        continue; // the process ended while we looked
      }
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      if (ppid === process.pid && comm.includes('ffmpeg')) n++;
    }
    return n;
  }

  beforeAll(async () => {
    await writeSyntheticClip({ path: clip('long.mkv'), format: 'ffv1', width: LW, height: LH, fps: rational(25), frames: LONG });
  });

  it('yields frames one at a time without holding the clip in memory', async () => {
    const before = process.memoryUsage().arrayBuffers;
    let count = 0;
    let peak = 0;
    let ffmpegStillRunningAfterFirst = false;
    for await (const f of decodeFrames({ path: clip('long.mkv'), fps: rational(25), startFrame: 0, frameCount: LONG })) {
      expect(f.data.length).toBe(frameSize);
      if (count === 0) {
        // The consumer holds frame 0 while ffmpeg is still blocked on a full pipe: the clip is
        // produced as it is consumed, not read up front.
        await new Promise((r) => setTimeout(r, 200));
        ffmpegStillRunningAfterFirst = ffmpegChildren() === 1;
      }
      count++;
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
    }
    expect(count).toBe(LONG);
    expect(ffmpegStillRunningAfterFirst).toBe(true);
    // The whole clip is 207 MB; streaming stays far below that even before GC catches up.
    expect(peak).toBeLessThan((LONG * frameSize) / 2);
  });

  it('stopping early kills ffmpeg', async () => {
    let count = 0;
    for await (const _ of decodeFrames({ path: clip('long.mkv'), fps: rational(25), startFrame: 10, frameCount: 200 })) {
      if (++count === 3) break;
    }
    expect(count).toBe(3);
    expect(ffmpegChildren()).toBe(0);
  });
});
