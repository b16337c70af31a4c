/**
 * Whole frames out of a raw-video pipe, read ahead of the consumer.
 *
 * A pipe holds 64 KiB; a 1080p frame is 6 MB. Read only when the consumer asks, the decoder
 * would sit blocked on a full pipe while the consumer masks, composites and waits for the
 * encoder, and the three processes would take turns instead of running at once. This reader
 * keeps the pipe flowing into up to `ahead` finished frames (plus the one being filled), then
 * pauses it: the decoder works while the frame loop does, and memory stays bounded. (A chunk is
 * always used whole, so frames smaller than a chunk may run a chunk's worth further ahead.)
 */
import type { Readable } from 'node:stream';
import { frameBuffer, type Samples } from './frame.ts';

export class FrameReader<T extends Samples> {
  private readonly ready: T[] = [];
  private current: T | undefined;
  private bytes: Uint8Array | undefined;
  private filled = 0;
  private ended = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;

  /**
   * `take` supplies the buffer for each next frame (a FramePool's, or a fresh one); every byte
   * of it is overwritten before the frame is handed out.
   */
  constructor(
    private readonly pipe: Readable,
    private readonly frameSize: number,
    private readonly ahead: number,
    private readonly take: () => T,
  ) {
    pipe.on('data', (chunk: Buffer) => this.onData(chunk));
    pipe.once('end', () => this.finish());
    pipe.once('close', () => this.finish());
    pipe.once('error', (e: Error) => this.finish(e));
  }

  /** The next whole frame, or undefined once the pipe has ended (a trailing partial frame is dropped). */
  async next(): Promise<T | undefined> {
    while (this.ready.length === 0) {
      if (this.error) throw this.error;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    const frame = this.ready.shift()!;
    if (this.pipe.isPaused() && this.ready.length < this.ahead) this.pipe.resume();
    return frame;
  }

  private onData(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (!this.current) {
        this.current = this.take();
        this.bytes = frameBuffer(this.current);
        this.filled = 0;
      }
      const n = Math.min(this.frameSize - this.filled, chunk.length - offset);
      this.bytes!.set(chunk.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === this.frameSize) {
        this.ready.push(this.current);
        this.current = undefined;
        this.bytes = undefined;
      }
    }
    if (this.ready.length >= this.ahead) this.pipe.pause();
    this.signal();
  }

  private finish(error?: Error): void {
    this.ended = true;
    this.error ??= error;
    this.signal();
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
