/**
 * Shape masks frame by frame (openMaskFrames), as the render loop takes and hands them back: a
 * mask that holds still is drawn once and the same picture handed out again; one that moves is
 * drawn anew each frame; recycled buffers never change a mask that is still being handed out.
 */
import { describe, expect, it } from 'vitest';
import { rational } from '../../protocol/rational.ts';
import { openMaskFrames } from '../../companion/jobs/mask-frames.ts';
import { rasterizeShapeMask, type MaskAlpha } from '../../companion/masks/index.ts';
import { ellipse, rect, shapes } from '../masks/helpers.ts';

const W = 96;
const H = 64;
const fps = rational(24);

const same = (a: Float32Array, b: Float32Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe('openMaskFrames with shapes', () => {
  // Still for frames 0–3 (held before its first move), moving over 4–7, still again from 7 on.
  const mask = shapes([
    ellipse([{ frame: 4, cx: 30, cy: 30, rx: 12, ry: 9 }, { frame: 7, cx: 60, cy: 34, rx: 15, ry: 9 }], { feather: 6 }),
    rect([{ frame: 0, x: 5, y: 5, width: 10, height: 8 }], { feather: 2 }),
  ]);

  it('hands out the picture of each frame; one object while the shapes hold still, a new one when they move', async () => {
    const masks = await openMaskFrames(mask, W, H, fps, 10);
    const got: MaskAlpha[] = [];
    // Windows of three frames, each released once the window is written, as renderMasked does.
    for (let w = 0; w < 10; w += 3) {
      const window: MaskAlpha[] = [];
      for (let i = w; i < Math.min(w + 3, 10); i++) {
        const m = await masks.next();
        // Compared now: a mask must still be right when it is handed out, whatever was recycled.
        const fresh = rasterizeShapeMask(mask, i, W, H);
        expect(same(m.alpha, fresh.alpha), `frame ${i}`).toBe(true);
        expect(m.bounds).toEqual(fresh.bounds);
        window.push(m);
        got.push(m);
      }
      masks.release(window);
    }
    await masks.close();
    // Frames 0–4 show the same picture (the ellipse is held at its first keyframe), 5 and 6 move,
    // 7–9 hold the last keyframe.
    expect(new Set(got.slice(0, 5)).size).toBe(1);
    expect(got[5]).not.toBe(got[4]);
    expect(got[6]).not.toBe(got[5]);
    expect(new Set(got.slice(7)).size).toBe(1);
    expect(got[7]).not.toBe(got[6]);
  });

  it('a moving mask handed back frame by frame is drawn into one buffer, not a new one per frame', async () => {
    const moving = shapes([ellipse([{ frame: 0, cx: 20, cy: 30, rx: 10, ry: 8 }, { frame: 11, cx: 70, cy: 30, rx: 14, ry: 8 }], { feather: 4 })]);
    const masks = await openMaskFrames(moving, W, H, fps, 12);
    const buffers = new Set<Float32Array>();
    for (let i = 0; i < 12; i++) {
      const m = await masks.next();
      expect(same(m.alpha, rasterizeShapeMask(moving, i, W, H).alpha), `frame ${i}`).toBe(true);
      buffers.add(m.alpha);
      masks.release([m]);
    }
    await masks.close();
    // Each frame's mask, once handed back and replaced by a moved one, is cleared and drawn into.
    expect(buffers.size).toBe(1);
  });

  it('a held mask handed out across windows is not recycled under a later frame', async () => {
    const still = shapes([ellipse([{ frame: 0, cx: 40, cy: 30, rx: 20, ry: 12 }], { feather: 8 })]);
    const masks = await openMaskFrames(still, W, H, fps, 6);
    const first = await masks.next();
    const copy = first.alpha.slice();
    masks.release([first]);
    for (let i = 1; i < 6; i++) {
      const m = await masks.next();
      expect(m).toBe(first);
      masks.release([m]);
    }
    expect(same(first.alpha, copy)).toBe(true);
    await masks.close();
  });
});
