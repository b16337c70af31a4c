/**
 * Frame buffers handed round between the decoder and the encoder instead of a fresh 6–12 MB
 * buffer per 1080p frame. A new buffer of that size costs its page faults on first touch and
 * later a garbage collection; a recycled one costs neither. The render loop takes a frame from
 * the decoder, composites into it and gives it back once the encoder's pipe has taken its bytes
 * (Encoder.write's `onWritten`), so a steady run reuses the same few buffers.
 */
import type { AnyFrame, Depth, Samples } from './frame.ts';

export interface FrameShape {
  width: number;
  height: number;
  channels: 3 | 4;
  depth: Depth;
}

/** Buffers of one shape, reused: `make` allocates one, `fits` says whether a released one is of that shape. */
export class BufferPool<T extends Samples> {
  private readonly free: T[] = [];
  /** Buffers allocated so far (tests and benches read it: a steady run stops allocating). */
  allocated = 0;

  /** `keep`: most idle buffers held; more are left to the garbage collector. */
  constructor(
    private readonly make: () => T,
    private readonly fits: (f: T) => boolean,
    private readonly keep = 8,
  ) {}

  /** A buffer of the pool's shape with unspecified contents: the caller overwrites every byte. */
  take(): T {
    const f = this.free.pop();
    if (f) return f;
    this.allocated++;
    return this.make();
  }

  /**
   * Gives a buffer back for reuse. Only one nothing else reads or writes any more may be
   * released. Buffers of another shape (or views into a shared buffer) are left alone.
   */
  release(f: T): void {
    if (!this.fits(f)) return;
    if (f.data.byteOffset !== 0 || f.data.byteLength !== f.data.buffer.byteLength) return;
    if (this.free.length < this.keep && !this.free.includes(f)) this.free.push(f);
  }
}

/** RGB frames of one shape (decode.ts fills them, the render loop releases them once written). */
export class FramePool extends BufferPool<AnyFrame> {
  constructor(
    readonly shape: FrameShape,
    keep = 8,
  ) {
    const { width, height, channels, depth } = shape;
    super(() => uninitializedFrame(shape), (f) => f.width === width && f.height === height && f.channels === channels && (f.depth ?? 8) === depth, keep);
  }
}

/** A frame whose memory is not zeroed (for a caller that fills every byte). Its own ArrayBuffer at offset 0, so 16-bit views are aligned. */
export function uninitializedFrame(s: FrameShape): AnyFrame {
  const n = s.width * s.height * s.channels;
  return s.depth === 16
    ? { width: s.width, height: s.height, channels: s.channels, depth: 16, data: uninitializedSamples(n, 16) }
    : { width: s.width, height: s.height, channels: s.channels, data: uninitializedSamples(n, 8) };
}

/** `n` samples of 8 or 16 bits in memory that is not zeroed: their own ArrayBuffer at offset 0 (so a pool may keep them). */
export function uninitializedSamples(n: number, bits: 16): Uint16Array;
export function uninitializedSamples(n: number, bits: 8): Uint8Array;
export function uninitializedSamples(n: number, bits: Depth): Uint8Array | Uint16Array;
export function uninitializedSamples(n: number, bits: Depth): Uint8Array | Uint16Array {
  const bytes = Buffer.allocUnsafeSlow(n * (bits / 8)).buffer;
  return bits === 16 ? new Uint16Array(bytes, 0, n) : new Uint8Array(bytes, 0, n);
}
