/**
 * Whole frames out of a decoder's raw-video output, read ahead of the consumer.
 *
 * A pipe holds 64 KiB; a 1080p frame is 6 MB. Read only when the consumer asks, the decoder
 * would sit blocked on a full pipe while the consumer masks, composites and waits for the
 * encoder, and the three processes would take turns instead of running at once. This reader
 * keeps the bytes flowing into up to `ahead` finished frames (plus the one being filled), then
 * pauses its source: the decoder works while the frame loop does, and memory stays bounded.
 *
 * Two sources feed it (frame-socket.ts says which is used where):
 *  - a socket read with Node's `onread` option: the kernel copies the bytes straight into the
 *    frame being filled (`target()` / `wrote()`), with no chunk buffer per read and no copy;
 *  - any readable stream (`FrameReader.feed`): each chunk is copied into the frames. (A chunk is
 *    always used whole, so frames smaller than a chunk may run a chunk's worth further ahead.)
 */
import type { Readable } from 'node:stream';
import { frameBuffer, type AnyFrame } from './frame.ts';

/** What the reader needs of its source to hold it back. */
export interface Flow {
  pause(): void;
  resume(): void;
  isPaused(): boolean;
}

export class FrameReader {
  private readonly ready: AnyFrame[] = [];
  private current: AnyFrame | undefined;
  private bytes: Uint8Array | undefined;
  private filled = 0;
  private ended = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;
  private flow: Flow | undefined;

  /**
   * `take` supplies the buffer for each next frame (a FramePool's, or a fresh one); every byte
   * of it is overwritten before the frame is handed out. The source is attached afterwards.
   */
  constructor(
    private readonly frameSize: number,
    private readonly ahead: number,
    private readonly take: () => AnyFrame,
  ) {}

  /** Feeds `reader` from a readable stream's chunks (copied into its frames). */
  static feed(reader: FrameReader, pipe: Readable): FrameReader {
    reader.attach(pipe);
    pipe.on('data', (chunk: Buffer) => reader.copy(chunk));
    pipe.once('end', () => reader.finish());
    pipe.once('close', () => reader.finish());
    pipe.once('error', (e: Error) => reader.finish(e));
    return reader;
  }

  /** The source to pause while `ahead` frames wait, and to resume once the consumer takes one. */
  attach(flow: Flow): void {
    this.flow = flow;
  }

  /** The next whole frame, or undefined once the source has ended (a trailing partial frame is dropped). */
  async next(): Promise<AnyFrame | undefined> {
    while (this.ready.length === 0) {
      if (this.error) throw this.error;
      if (this.ended) return undefined;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    const frame = this.ready.shift()!;
    if (this.flow?.isPaused() && this.ready.length < this.ahead) this.flow.resume();
    return frame;
  }

  /** Where the next bytes go: the unfilled rest of the frame being filled (for a socket's `onread`). */
  target(): Uint8Array {
    if (!this.current) {
      this.current = this.take();
      this.bytes = frameBuffer(this.current);
      this.filled = 0;
    }
    return this.bytes!.subarray(this.filled, this.frameSize);
  }

  /** `n` bytes were written at `target()`. Pauses the source once `ahead` frames wait. */
  wrote(n: number): void {
    this.filled += n;
    if (this.filled === this.frameSize) {
      this.ready.push(this.current!);
      this.current = undefined;
      this.bytes = undefined;
      if (this.ready.length >= this.ahead && !this.flow?.isPaused()) this.flow?.pause();
    }
    this.signal();
  }

  /** The source has ended (with `error` if it failed). */
  finish(error?: Error): void {
    this.ended = true;
    this.error ??= error;
    this.signal();
  }

  private copy(chunk: Buffer): void {
    for (let offset = 0; offset < chunk.length; ) {
      const into = this.target();
      const n = Math.min(into.length, chunk.length - offset);
      into.set(chunk.subarray(offset, offset + n));
      offset += n;
      this.wrote(n);
    }
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
