/**
 * The recycled-buffer media path (frame-pool.ts, frame-reader.ts, Encoder.write's onWritten):
 * decoded frames are whole and exact however the pipe cuts them, the reader runs ahead of its
 * consumer by a bounded number of frames, a frame given back is filled again instead of a new
 * one being allocated, and a buffer reused as soon as the encoder says it is done with it never
 * changes what was written.
 */
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { rational } from '../../protocol/rational.ts';
import { decodeFrames, READ_AHEAD } from '../../companion/media/decode.ts';
import { openEncoder, WRITE_AHEAD } from '../../companion/media/encode.ts';
import { FramePool } from '../../companion/media/frame-pool.ts';
import { FrameReader } from '../../companion/media/frame-reader.ts';
import { frameBuffer, type AnyFrame, type Frame } from '../../companion/media/frame.ts';
import { syntheticFrame, writeSyntheticClip } from '../../companion/media/synthetic.ts';
import { collect, useTempDir } from './helpers.ts';

const dir = useTempDir();
const W = 64;
const H = 48;
const FRAMES = 12;
const clip = (name: string): string => path.join(dir, name);
const same = (a: AnyFrame, b: AnyFrame): boolean => Buffer.from(frameBuffer(a)).equals(Buffer.from(frameBuffer(b)));
const shape = { width: W, height: H, channels: 3 as const, depth: 8 as const };

beforeAll(async () => {
  await Promise.all([
    writeSyntheticClip({ path: clip('ffv1.mkv'), format: 'ffv1', width: W, height: H, fps: rational(24), frames: FRAMES }),
    writeSyntheticClip({ path: clip('big.mkv'), format: 'ffv1', width: 320, height: 240, fps: rational(24), frames: FRAMES }),
    writeSyntheticClip({ path: clip('twelve.mkv'), format: 'ffv1', width: W, height: H, fps: rational(12), frames: FRAMES }),
  ]);
});

describe('FrameReader', () => {
  const size = 10;
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n * size }, (_, i) => i % 251));
  const take = (): AnyFrame => ({ width: size, height: 1, channels: 3, data: new Uint8Array(size) }) as unknown as Frame;

  it('cuts frames exactly however the pipe chunks them, and drops a trailing partial frame', async () => {
    const pipe = new PassThrough();
    const reader = new FrameReader(pipe, size, 2, take);
    const all = bytes(5);
    // Chunks of 3, 7, 1, … bytes: frames straddle chunks and chunks hold several frame ends.
    for (let at = 0, k = 0; at < all.length; k++) {
      const n = [3, 7, 1, 13, 26][k % 5]!;
      pipe.write(all.subarray(at, at + n));
      at += n;
    }
    pipe.end(Buffer.from([1, 2, 3])); // 3 bytes of a sixth frame that never completes
    for (let i = 0; i < 5; i++) {
      const f = await reader.next();
      expect(Buffer.from(frameBuffer(f!)).equals(all.subarray(i * size, (i + 1) * size)), `frame ${i}`).toBe(true);
    }
    expect(await reader.next()).toBeUndefined();
  });

  it('reads ahead of the consumer, then pauses the pipe until a frame is taken', async () => {
    const pipe = new PassThrough();
    const reader = new FrameReader(pipe, size, 2, take);
    pipe.write(bytes(4));
    await new Promise((r) => setImmediate(r));
    // Four whole frames are waiting (one chunk held them all): the reader stops pulling.
    expect(pipe.isPaused()).toBe(true);
    await reader.next();
    await reader.next();
    expect(pipe.isPaused()).toBe(true); // two still waiting
    await reader.next();
    expect(pipe.isPaused()).toBe(false); // one: read on
    pipe.end(bytes(2));
    const rest: AnyFrame[] = [];
    for (let f = await reader.next(); f; f = await reader.next()) rest.push(f);
    expect(rest).toHaveLength(3);
  });

  it('passes a pipe error to the consumer', async () => {
    const pipe = new PassThrough();
    const reader = new FrameReader(pipe, size, 2, take);
    pipe.destroy(new Error('broken pipe'));
    await expect(reader.next()).rejects.toThrow('broken pipe');
  });
});

describe('decoding into a frame pool', () => {
  it('gives the same frames as fresh buffers, and a steady loop stops allocating', async () => {
    // Frames larger than a pipe chunk (64 KiB), as every real frame is: the read-ahead bound holds.
    const [BW, BH] = [320, 240];
    const pool = new FramePool({ ...shape, width: BW, height: BH });
    const fps = rational(24);
    let i = 0;
    for await (const f of decodeFrames({ path: clip('big.mkv'), fps, startFrame: 0, frameCount: FRAMES, pool })) {
      expect(same(f, syntheticFrame(i, BW, BH)), `frame ${i}`).toBe(true);
      pool.release(f);
      i++;
    }
    expect(i).toBe(FRAMES);
    // The frames in flight at once: those read ahead, the one being filled, the one held here.
    expect(pool.allocated).toBeLessThanOrEqual(READ_AHEAD + 2);
    expect(pool.allocated).toBeGreaterThan(0);
  });

  it('a source slower than the job: each repeat is its own copy, so compositing into one leaves the next intact', async () => {
    const pool = new FramePool(shape);
    const frames: AnyFrame[] = [];
    // 12 fps source at 24 fps: every source frame is shown twice.
    for await (const f of decodeFrames({ path: clip('twelve.mkv'), fps: rational(24), startFrame: 0, frameCount: 8, pool })) {
      frames.push({ ...f, data: f.data.slice() } as AnyFrame);
      // What the render loop does: writes into the frame, then hands it back.
      frameBuffer(f).fill(0);
      pool.release(f);
    }
    expect(frames).toHaveLength(8);
    frames.forEach((f, k) => expect(same(f, syntheticFrame(k >> 1, W, H)), `frame ${k}`).toBe(true));
  });

  it('a pool of another shape is ignored, not written with frames that do not fit it', async () => {
    const pool = new FramePool({ ...shape, width: W * 2 });
    const frames = await collect(decodeFrames({ path: clip('ffv1.mkv'), fps: rational(24), startFrame: 0, frameCount: 2, pool }));
    expect(frames.map((f) => f.width)).toEqual([W, W]);
    expect(pool.allocated).toBe(0);
  });
});

describe('Encoder.write onWritten', () => {
  it('is called once per frame, after which reusing the buffer does not change the output', async () => {
    const file = clip('reused.mkv');
    const enc = await openEncoder({ path: file, format: 'ffv1', width: W, height: H, fps: rational(24), channels: 3, overwrite: false });
    const pool = new FramePool(shape);
    const calls = new Array<number>(FRAMES).fill(0);
    for (let i = 0; i < FRAMES; i++) {
      const f = pool.take();
      frameBuffer(f).set(syntheticFrame(i, W, H).data);
      await enc.write(f, () => {
        calls[i]!++;
        // The buffer is the encoder's no longer: scribble on it, then let the next frame take it.
        frameBuffer(f).fill(0xaa);
        pool.release(f);
      });
    }
    await enc.finish();
    expect(calls).toEqual(new Array(FRAMES).fill(1));
    expect(pool.allocated).toBeLessThanOrEqual(WRITE_AHEAD + 1);
    const back = await collect(decodeFrames({ path: file, fps: rational(24), startFrame: 0, frameCount: FRAMES }));
    back.forEach((f, i) => expect(same(f, syntheticFrame(i, W, H)), `frame ${i}`).toBe(true));
  });

  it('writes issued without waiting for each other (as uploads do) all resolve, and land in order', async () => {
    const file = clip('concurrent.mkv');
    const enc = await openEncoder({ path: file, format: 'ffv1', width: W, height: H, fps: rational(24), channels: 3, overwrite: false });
    // More writers than WRITE_AHEAD wait for room at once: every one of them must be woken.
    await Promise.all(Array.from({ length: FRAMES }, (_, i) => enc.write(syntheticFrame(i, W, H))));
    await enc.finish();
    const back = await collect(decodeFrames({ path: file, fps: rational(24), startFrame: 0, frameCount: FRAMES }));
    back.forEach((f, i) => expect(same(f, syntheticFrame(i, W, H)), `frame ${i}`).toBe(true));
  });

  it('is called for a frame the encoder refuses', async () => {
    const enc = await openEncoder({ path: clip('refused.mkv'), format: 'ffv1', width: W, height: H, fps: rational(24), channels: 3, overwrite: false });
    let called = 0;
    await expect(enc.write(syntheticFrame(0, W + 2, H), () => called++)).rejects.toThrow(/expected 64x48x3/);
    expect(called).toBe(1);
    await enc.abort();
  });
});
