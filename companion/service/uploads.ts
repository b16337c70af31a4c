/**
 * Frames uploaded by the panel (timeline frames exported in Premiere, with effects and
 * grading) become an ordinary lossless clip on disk, so a job can name them like any source.
 *
 * Flow control is by credit: `upload.ready` grants a window of frames; each frame written to the
 * encoder is acknowledged (`upload.ack`). A client that sends more than its window unacknowledged
 * is refused and its upload dropped, so a 4K upload can hold at most window × frame size in the
 * server's memory, and the encoder's pace is the client's pace.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Rational } from '../../protocol/rational.ts';
import { ReshootError } from '../errors.ts';
import { openEncoder, type Encoder } from '../media/encode.ts';

export const UPLOAD_WINDOW = 4;

/** A refused frame or upload, with the session error code protocol/session.ts documents. */
export class UploadError extends Error {
  constructor(
    readonly code: 'bad_frame' | 'window_exceeded' | 'upload_incomplete',
    message: string,
  ) {
    super(message);
    this.name = 'UploadError';
  }
}
const UPLOAD_ID = /^u[0-9a-f]{16}$/;

export interface UploadSpec {
  width: number;
  height: number;
  channels: 3 | 4;
  frames: number;
  fps: Rational;
}

export class Upload {
  received = 0;
  private inFlight = 0;
  private failed: Error | null = null;
  private lastWrite: Promise<unknown> = Promise.resolve();
  private constructor(
    readonly id: string,
    readonly handle: number,
    readonly spec: UploadSpec,
    readonly file: string,
    private readonly encoder: Encoder,
  ) {}

  static async begin(dir: string, handle: number, spec: UploadSpec): Promise<Upload> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const id = `u${randomBytes(8).toString('hex')}`;
    const file = path.join(dir, `${id}.mkv`);
    const encoder = await openEncoder({ path: file, format: 'ffvhuff', width: spec.width, height: spec.height, fps: spec.fps, channels: spec.channels, overwrite: false });
    return new Upload(id, handle, spec, file, encoder);
  }

  /** Frames accepted but not yet written: the socket is paused while this reaches the window. */
  get pending(): number {
    return this.inFlight;
  }

  /**
   * Writes one frame (in order); resolves with the count written so far. Throws a typed error
   * for frames out of order, of the wrong size, past the declared count, or beyond the window.
   */
  async write(frameIndex: number, width: number, height: number, channels: number, pixels: Uint8Array): Promise<number> {
    if (this.failed) throw this.failed;
    const s = this.spec;
    const expected = this.received + this.inFlight;
    if (frameIndex !== expected) throw new UploadError('bad_frame', `upload ${this.id}: expected frame ${expected}, got ${frameIndex}`);
    if (width !== s.width || height !== s.height || channels !== s.channels) {
      throw new UploadError('bad_frame', `upload ${this.id}: frame ${frameIndex} is ${width}x${height}x${channels}, the upload was declared ${s.width}x${s.height}x${s.channels}`);
    }
    if (frameIndex >= s.frames) throw new UploadError('bad_frame', `upload ${this.id}: frame ${frameIndex} is past the ${s.frames} frames declared`);
    if (this.inFlight >= UPLOAD_WINDOW) throw new UploadError('window_exceeded', `upload ${this.id}: more than ${UPLOAD_WINDOW} frames sent without waiting for an ack`);
    this.inFlight++;
    const written = (async () => {
      try {
        await this.encoder.write({ width, height, channels: channels as 3 | 4, data: pixels });
        this.received++;
        return this.received;
      } catch (e) {
        this.failed = e as Error;
        throw e;
      } finally {
        this.inFlight--;
      }
    })();
    this.lastWrite = written.catch(() => undefined);
    return written;
  }

  async finish(): Promise<void> {
    // upload.end may arrive before the last frames are written: let them land first.
    await this.lastWrite;
    if (this.received !== this.spec.frames) {
      await this.abort();
      throw new UploadError('upload_incomplete', `upload ${this.id}: ${this.received} of ${this.spec.frames} declared frames arrived`);
    }
    await this.encoder.finish();
  }

  async abort(): Promise<void> {
    await this.encoder.abort();
  }
}

/**
 * Removes what a killed companion left of uploads it was receiving (the encoder's
 * `.u….mkv.partial-*` files). Called at start, under the home's lock: no live writer remains.
 */
export async function removePartialUploads(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) if (/^\..*\.partial-\d/.test(name)) await rm(path.join(dir, name), { force: true });
}

/** The file of a finished upload, or a clear error; ids are checked so no path can be smuggled. */
export function uploadFile(dir: string, uploadId: string): string {
  if (!UPLOAD_ID.test(uploadId)) throw new ReshootError('bad_spec', `"${uploadId}" is not an upload id`);
  const file = path.join(dir, `${uploadId}.mkv`);
  if (!existsSync(file)) throw new ReshootError('source_missing', `upload ${uploadId} does not exist or has not finished`);
  return file;
}
