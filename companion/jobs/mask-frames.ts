/**
 * Per-frame alpha at the sequence's frame size for the three mask forms: vector shapes are
 * rasterized, a matte clip is decoded alongside the source, an image is read once.
 * Alpha 0 = keep the source pixel, > 0 = generate (1 = fully).
 */
import type { Mask, Rational } from '../../protocol/index.ts';
import { timeToFrames } from '../../protocol/index.ts';
import { decodeFrames, readImage } from '../media/decode.ts';
import { probe } from '../media/probe.ts';
import { checkMaskInFrame, maskAlpha, matteToAlpha, rasterizeShapeMask, shapeAt, type MaskAlpha } from '../masks/index.ts';
import { ReshootError } from '../errors.ts';

export interface MaskFrames {
  /**
   * Alpha (and where it is above 0) for the next frame of the range, in order. Read-only: frames
   * whose mask is the same picture may be given the same object.
   */
  next(): Promise<MaskAlpha>;
  /** Hands back masks the caller is done with, so their buffers are reused (cleared where written). */
  release(done: MaskAlpha[]): void;
  close(): Promise<void>;
}

export async function openMaskFrames(mask: Mask, width: number, height: number, fps: Rational, frameCount: number): Promise<MaskFrames> {
  if (mask.type === 'shapes') {
    checkMaskInFrame(mask, width, height, frameCount);
    let i = 0;
    // Finished frames' buffers: a 1080p alpha is 8 MB, and allocating (zeroing) one per frame costs
    // more than drawing a shape into it.
    const free: MaskAlpha[] = [];
    // The last mask drawn and the shapes' geometry it shows. A mask that holds still (most fills:
    // a logo, a boom, a sign) is drawn once and handed out again for as long as it does not move.
    let last: { geometry: string; alpha: MaskAlpha } | undefined;
    // Hand-outs not yet released, per mask: a buffer is recycled only when none are left and it
    // can no longer be handed out again.
    const out = new Map<MaskAlpha, number>();
    const recycle = (m: MaskAlpha): void => {
      if (free.length < 4 && !free.includes(m)) free.push(m);
    };
    return {
      next: async () => {
        const geometry = JSON.stringify(mask.shapes.map((s) => shapeAt(s, i)));
        if (last?.geometry !== geometry) {
          if (last && !out.has(last.alpha)) recycle(last.alpha);
          last = { geometry, alpha: rasterizeShapeMask(mask, i, width, height, free.pop()) };
        }
        i++;
        out.set(last.alpha, (out.get(last.alpha) ?? 0) + 1);
        return last.alpha;
      },
      release: (done) => {
        for (const m of done) {
          const n = (out.get(m) ?? 1) - 1;
          if (n > 0) out.set(m, n);
          else if (out.delete(m) && m !== last?.alpha) recycle(m);
        }
      },
      close: async () => {
        free.length = 0;
        out.clear();
        last = undefined;
      },
    };
  }
  if (mask.type === 'image') {
    const alpha = maskAlpha(matteToAlpha(await readImage(mask.path, { width, height, channels: mask.channel === 'alpha' ? 4 : 3 }), mask.channel), width, height);
    return { next: async () => alpha, release: () => {}, close: async () => {} };
  }
  const info = await probe(mask.path);
  const start = mask.in ? timeToFrames(mask.in, fps) : 0;
  const it = decodeFrames({ path: info.path, info, fps, startFrame: start, frameCount, width, height, channels: mask.channel === 'alpha' ? 4 : 3 })[Symbol.asyncIterator]();
  return {
    async next() {
      const r = await it.next();
      if (r.done) throw new ReshootError('bad_mask', `the matte ${mask.path} ends before the job's range does`);
      return maskAlpha(matteToAlpha(r.value, mask.channel), width, height);
    },
    release() {},
    async close() {
      await it.return?.();
    },
  };
}
