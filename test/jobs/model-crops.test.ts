/**
 * ModelCrops (companion/jobs/model-crops.ts): the masked render's crops, masks and scaled-back
 * pictures in buffers kept from frame to frame. What must hold: the same bytes as the plain
 * functions (toModelRgb, resize, maskDown) give in fresh buffers, whatever the previous frame
 * left in the buffers, and the same composite.
 */
import { describe, expect, it } from 'vitest';
import { cropAround, workingSize } from '../../companion/engine/plan.ts';
import { maskDown, resize, type Rect } from '../../companion/engine/image.ts';
import { ModelCrops } from '../../companion/jobs/model-crops.ts';
import { toModelRgb, type AnyFrame, type DeepFrame, type Frame } from '../../companion/media/frame.ts';
import { compositeInPlace } from '../../companion/masks/composite.ts';
import { rasterizeShapeMask } from '../../companion/masks/rasterize.ts';
import type { ShapesMask } from '../../protocol/index.ts';

const W = 320;
const H = 180;
const RULES = { multiple: 32, maxPixels: 96 * 64, maxFrames: 17 };

function picture(seed: number): Frame {
  const data = new Uint8Array(W * H * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + seed * 97 + ((i / 3) >> 5) * seed) & 255;
  return { width: W, height: H, channels: 3, data };
}

function deepPicture(seed: number): DeepFrame {
  const data = new Uint16Array(W * H * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919 + seed * 4099) & 0xffff;
  return { width: W, height: H, channels: 3, depth: 16, data };
}

/** A feathered ellipse that grows and moves: every frame's crop and working size differ. */
const mask: ShapesMask = {
  type: 'shapes',
  invert: false,
  shapes: [{ kind: 'ellipse', mode: 'add', feather: 6, keyframes: [{ frame: 0, cx: 200, cy: 100, rx: 70, ry: 45 }, { frame: 3, cx: 120, cy: 80, rx: 20, ry: 15 }] }],
};

/** The model's stand-in: a picture of the working size unlike its input. */
const generated = (f: Frame, seed: number): Frame => ({ ...f, data: f.data.map((v, i) => (v ^ 0x5a) + seed + i) });

/** What the render loop did before the buffers were reused: fresh buffers for everything. */
function fresh(f: AnyFrame, alpha: ReturnType<typeof rasterizeShapeMask>, region: Rect, size: { width: number; height: number }, seed: number) {
  const small = resize(toModelRgb(f, region), size.width, size.height);
  const smallMask = maskDown(alpha.alpha, W, H, region, size.width, size.height);
  const gen = generated(small, seed);
  const out = { ...f, data: f.data.slice() } as AnyFrame;
  compositeInPlace(out, resize(gen, region.width, region.height), region, alpha);
  return { small, smallMask, out };
}

describe('ModelCrops', () => {
  it('frame after frame (shrinking, growing crops, 8 and 16 bits): the same model input, mask and composite as fresh buffers', () => {
    const crops = new ModelCrops();
    // Large crop first, then smaller ones, then large again: reused buffers hold the previous frame's bytes.
    for (const [k, frame] of [0, 3, 1, 2, 0].entries()) {
      for (const f of [picture(k + 1), deepPicture(k + 1)] as AnyFrame[]) {
        const alpha = rasterizeShapeMask(mask, frame, W, H);
        const region = cropAround(alpha.bounds!, W, H);
        const size = workingSize(region.width, region.height, RULES);
        const want = fresh(f, alpha, region, size, k);
        const small = crops.modelFrame(0, f, region, size);
        const smallMask = crops.modelMask(0, alpha, W, H, region, size);
        const label = `frame ${frame}, ${f.depth ?? 8} bits, ${region.width}x${region.height} → ${size.width}x${size.height}`;
        expect([small.width, small.height], label).toEqual([size.width, size.height]);
        expect(Buffer.from(small.data).equals(Buffer.from(want.small.data)), label).toBe(true);
        expect(smallMask, label).toEqual(want.smallMask);
        const out = { ...f, data: f.data.slice() } as AnyFrame;
        compositeInPlace(out, crops.scaledBack(generated(small, k), region, alpha), region, alpha);
        expect(Buffer.from(out.data.buffer).equals(Buffer.from(want.out.data.buffer)), label).toBe(true);
      }
    }
  });

  it('slots of one window are separate buffers: a later frame does not overwrite an earlier one', () => {
    const crops = new ModelCrops();
    const alpha = rasterizeShapeMask(mask, 0, W, H);
    const region = cropAround(alpha.bounds!, W, H);
    const size = workingSize(region.width, region.height, RULES);
    const frames = [picture(1), picture(2), picture(3)];
    const small = frames.map((f, i) => crops.modelFrame(i, f, region, size));
    const copies = small.map((s) => s.data.slice());
    for (let i = 0; i < 3; i++) expect(Buffer.from(small[i]!.data).equals(Buffer.from(resize(toModelRgb(frames[i]!, region), size.width, size.height).data))).toBe(true);
    expect(Buffer.from(copies[0]!).equals(Buffer.from(copies[1]!))).toBe(false);
    // Writing slot 1 again (the next window) leaves slots 0 and 2 alone.
    crops.modelFrame(1, picture(9), region, size);
    expect(Buffer.from(small[0]!.data).equals(Buffer.from(copies[0]!))).toBe(true);
    expect(Buffer.from(small[2]!.data).equals(Buffer.from(copies[2]!))).toBe(true);
  });

  it('a crop already at the working size is copied into its slot, not handed out as a view of the frame', () => {
    const crops = new ModelCrops();
    const f = picture(4);
    const region = { x: 10, y: 20, width: 64, height: 32 };
    const small = crops.modelFrame(0, f, region, { width: 64, height: 32 });
    expect(small.data.buffer).not.toBe(f.data.buffer);
    expect(Buffer.from(small.data).equals(Buffer.from(toModelRgb(f, region).data))).toBe(true);
  });
});
