/**
 * Frame buffers handed round between the decoder and the encoder instead of a fresh 6–12 MB
 * buffer per 1080p frame. A new buffer of that size costs its page faults on first touch and
 * later a garbage collection; a recycled one costs neither. The render loop takes a frame from
 * the decoder, composites into it and gives it back once the encoder's pipe has taken its bytes
 * (Encoder.write's `onWritten`), so a steady run reuses the same few buffers.
 */
import type { AnyFrame, Depth } from './frame.ts';

export interface FrameShape {
  width: number;
  height: number;
  channels: 3 | 4;
  depth: Depth;
}

export class FramePool {
  private readonly free: AnyFrame[] = [];
  /** Buffers allocated so far (tests and benches read it: a steady run stops allocating). */
  allocated = 0;

  /** `keep`: most idle frames held; more are left to the garbage collector. */
  constructor(
    readonly shape: FrameShape,
    private readonly keep = 8,
  ) {}

  /** A frame of the pool's shape with unspecified contents: the caller overwrites every byte. */
  take(): AnyFrame {
    const f = this.free.pop();
    if (f) return f;
    this.allocated++;
    return uninitializedFrame(this.shape);
  }

  /**
   * Gives a frame back for reuse. Only a frame nothing else reads or writes any more may be
   * released. Frames of another shape (or views into a shared buffer) are left alone.
   */
  release(f: AnyFrame): void {
    const { width, height, channels, depth } = this.shape;
    if (f.width !== width || f.height !== height || f.channels !== channels || (f.depth ?? 8) !== depth) return;
    if (f.data.byteOffset !== 0 || f.data.byteLength !== f.data.buffer.byteLength) return;
    if (this.free.length < this.keep && !this.free.includes(f)) this.free.push(f);
  }
}

/** A frame whose memory is not zeroed (for a caller that fills every byte). Its own ArrayBuffer at offset 0, so 16-bit views are aligned. */
export function uninitializedFrame(s: FrameShape): AnyFrame {
  const n = s.width * s.height * s.channels;
  const bytes = Buffer.allocUnsafeSlow(n * (s.depth / 8)).buffer;
  return s.depth === 16
    ? { width: s.width, height: s.height, channels: s.channels, depth: 16, data: new Uint16Array(bytes, 0, n) }
    : { width: s.width, height: s.height, channels: s.channels, data: new Uint8Array(bytes, 0, n) };
}
