/**
 * The per-frame pixel work of a masked render (fill, replace) on either side of the model: the
 * crop around the mask taken down to the model's working size (and the mask with it), and the
 * model's picture scaled back up to the crop's size for the composite.
 *
 * A 1080p fill's crop is about 1 MP: its bytes, the working-size frame and the scaled-back picture
 * are 2–3 MB each, every frame. Allocated afresh they cost page faults and garbage collection
 * (a profile of the media bench had put collection at a third of Node's per-frame CPU, driven by
 * such buffers); here they live in buffers kept from frame to frame and window to window. Nothing
 * else changes: the pixels are those of toModelRgb, resize and maskDown (engine/image.ts).
 *
 * Ownership: `modelFrame(i, …)` and `modelMask(i, …)` write into slot i, which stays valid until
 * the same slot is written again (the next window's frame i); `scaledBack` writes into one buffer
 * that is valid until the next call. The render loop hands slot i's frame to the model and
 * composites each scaled-back picture before asking for the next.
 */
import { maskDown, resize, type Rect } from '../engine/image.ts';
import { toModelRgb, type AnyFrame, type Frame } from '../media/frame.ts';
import { isYuvFrame, yuvToModelRgb, type YuvFrame } from '../media/yuv.ts';
import type { Colour } from '../media/colour.ts';
import type { MaskAlpha } from '../masks/alpha.ts';

/** A typed array reused for any length up to its capacity (grown when a longer one is asked for). */
class Reused<T extends Uint8Array | Float32Array> {
  private buffer: T | undefined;
  /** `headroom`: capacity allocated per element asked for, so that slowly growing lengths do not reallocate each time. */
  constructor(
    private readonly make: (length: number) => T,
    private readonly headroom: number,
  ) {}

  /** `length` elements (their old contents: the caller overwrites what it reads). */
  get(length: number): T {
    if (!this.buffer || this.buffer.length < length) this.buffer = this.make(Math.ceil(length * this.headroom));
    return this.buffer.subarray(0, length) as T;
  }
}

// Scratch for one frame at a time: a crop that grows a little every frame (a moving mask in the
// bench, which crops per frame) should not reallocate every frame. A window's slots are the size
// of its working frames exactly: a window holds up to maxFrames of them, and the engine copies
// each one's whole buffer to its worker.
const scratch = () => new Reused((n) => new Uint8Array(n), 1.25);
const bytes = () => new Reused((n) => new Uint8Array(n), 1);
const floats = () => new Reused((n) => new Float32Array(n), 1);

export class ModelCrops {
  private readonly crop = scratch();
  private readonly back = scratch();
  private readonly frames: Reused<Uint8Array>[] = [];
  private readonly masks: Reused<Float32Array>[] = [];

  /**
   * Frame `f`'s `region` as the model sees it (8-bit RGB: toModelRgb, or yuvToModelRgb through
   * `matrix` for a Y'CbCr frame) at the working size `size`, written into slot `slot`.
   */
  modelFrame(slot: number, f: AnyFrame | YuvFrame, region: Rect, size: { width: number; height: number }, view: { linear?: boolean; matrix?: Colour['matrix'] } = {}): Frame {
    const n = size.width * size.height * 3;
    const into = (this.frames[slot] ??= bytes()).get(n);
    // At working size already: the crop itself is the model's frame.
    const atSize = region.width === size.width && region.height === size.height;
    const target = atSize ? into : this.crop.get(region.width * region.height * 3);
    const crop = isYuvFrame(f) ? yuvToModelRgb(f, region, view.matrix ?? 'bt709', target) : toModelRgb(f, region, view.linear ?? false, target);
    return atSize ? crop : resize(crop, size.width, size.height, { into });
  }

  /** `mask`'s `region` at the working size `size` (maskDown: a cell's maximum), written into slot `slot`. */
  modelMask(slot: number, mask: MaskAlpha, frameWidth: number, frameHeight: number, region: Rect, size: { width: number; height: number }): Float32Array {
    const into = (this.masks[slot] ??= floats()).get(size.width * size.height);
    return maskDown(mask.alpha, frameWidth, frameHeight, region, size.width, size.height, mask.bounds, into);
  }

  /**
   * The model's picture `generated` scaled to `region`'s size, computed only over the mask's box
   * (the composite reads nothing else; the rest of the result is stale bytes).
   */
  scaledBack(generated: Frame, region: Rect, mask: MaskAlpha): Frame {
    const b = mask.bounds;
    if (!b) return generated; // nothing masked: the composite reads none of it
    const only = { x: b.x - region.x, y: b.y - region.y, width: b.width, height: b.height };
    return resize(generated, region.width, region.height, { into: this.back.get(region.width * region.height * 3), only });
  }
}
