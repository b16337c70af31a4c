/**
 * Frames into media files: ProRes 422 HQ, ProRes 4444 (alpha), H.264, PNG sequences, and
 * lossless FFV1 (used by tests for bit-exact round trips).
 *
 * Outputs are atomic: ffmpeg writes to a hidden sibling (".name.partial-<pid>-<n>") that is
 * renamed into place only after ffmpeg exits cleanly, so Premiere never imports half a file
 * and a failed or cancelled render leaves nothing behind. Frames are piped as raw RGB(A) and
 * `write` resolves only while fewer than WRITE_AHEAD frames wait for the pipe, so a fast producer
 * cannot pile frames up in memory while the encoder lags.
 */
import type { ChildProcess } from 'node:child_process';
import { lstat, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { ReshootError } from '../errors.ts';
import { formatRational, type Rational } from '../../protocol/rational.ts';
import { frameBuffer, frameBytes, type AnyFrame, type Depth, type Frame } from './frame.ts';
import { exited, ffmpegPath, runTool, spawnTool, StderrTail, summarizeStderr } from './ffmpeg.ts';
import { SCALE_FLAGS } from './decode.ts';
import { inputArgs } from './safe-input.ts';
import { encodeExr, halfToFloatBitsTable, type ExrCompression, type ExrTransfer } from './exr.ts';
import { contains, copyWindow, pasteWindow, type ExrWindows, type PlateSurround } from './exrPlate.ts';
import { unionRect } from '../engine/plan.ts';
import { BT709, type Colour } from './colour.ts';
import { isYuvFrame, yuvFrameBytes, type YuvFormat, type YuvFrame } from './yuv.ts';

/** Output formats; 'ffvhuff' is internal (uploaded frames): lossless like FFV1, about 5× faster to write. */
export type EncodeFormat = 'prores422hq' | 'prores4444' | 'h264' | 'png' | 'ffv1' | 'ffvhuff' | 'tiff' | 'dpx' | 'exr';

/** Image-sequence formats: the output is a folder of frame_000001.<ext> … */
const SEQUENCE_EXT: Partial<Record<EncodeFormat, string>> = { png: 'png', tiff: 'tif', dpx: 'dpx', exr: 'exr' };

/** The file extension each format is written with (PNG sequences are folders). */
export const FORMAT_EXTENSION: Record<EncodeFormat, string> = {
  prores422hq: '.mov',
  prores4444: '.mov',
  h264: '.mp4',
  png: '',
  ffv1: '.mkv',
  ffvhuff: '.mkv',
  tiff: '',
  dpx: '',
  exr: '',
};

export interface EncoderOptions {
  /** Output file (or, for png/tiff/dpx, the folder that receives frame_000001.png ...). */
  path: string;
  format: EncodeFormat;
  width: number;
  height: number;
  /** Stored exactly (24000/1001 stays 24000/1001). */
  fps: Rational;
  /** Channels of the frames that will be written. 4 keeps alpha (prores4444, png, ffv1). */
  channels: 3 | 4;
  /**
   * Bits per channel of the frames that will be written (default 8). 16 (DeepFrame) is stored as
   * 16-bit PNG and FFV1 (lossless, every level kept) and feeds ProRes's 10-bit encode directly.
   */
  depth?: Depth;
  /** Replace an existing output. Without it an existing path is refused before any work. */
  overwrite: boolean;
  /** Start timecode for .mov/.mp4/.mkv, e.g. "01:00:00:00" ("01:00:00;00" for drop-frame). */
  timecode?: string;
  /** Reel (tape) name stored with the timecode (mov). */
  reelName?: string;
  /** Sound from a source file laid under the frames (not for image sequences). */
  audio?: AudioCopy;
  /** Pixel aspect stored in the output (mov 'pasp', the stream's SAR); absent or 1 = square. */
  sar?: Rational;
  /** Number of the first image of a sequence output (default 1; a plate's own numbering, e.g. 1001). */
  startNumber?: number;
  /**
   * EXR only: what the frames' samples mean (exr.ts): 'half' = half-float bits of an EXR plate
   * (written as they are), 'srgb' (default) = display-referred, linearized for EXR.
   */
  transfer?: ExrTransfer;
  /** EXR only: 'zip' (default; lossless, like most VFX plates) or 'none'. */
  exrCompression?: ExrCompression;
  /**
   * EXR of an EXR plate (transfer 'half') only: the plate's windows. The frames are its display
   * window, written with the plate's display window; with `surround` (a fill or replace of a
   * plate with overscan or FLOAT samples, whose frame i is the plate's image i), samples the
   * plate stores beyond the display window, and FLOAT samples the job did not change, are
   * written back from the plate as they are (exrPlate.ts).
   */
  exrPlate?: { windows: ExrWindows; surround?: PlateSurround };
  /** Y'CbCr outputs: the matrix for the RGB conversion and the tags written (colour.ts; default BT.709). */
  colour?: Colour;
  /**
   * Frames come in this Y'CbCr (YuvFrame, yuv.ts) and are stored as they are: the format must be
   * what the output stores (yuv422p10le for ProRes 422 HQ, yuv444p10le for 4444, yuva444p10le
   * for 4444 with `channels` 4, yuv420p for H.264 at even sizes, any FFV1 takes). `depth` is then ignored.
   */
  yuv?: YuvFormat;
}

/**
 * A span of a file's first audio stream, decoded and re-encoded as `codec`: PCM at the source's
 * rate and channels keeps every sample bit for bit, and the decode lets ffmpeg cut on the exact
 * sample (a stream copy could only cut on packet boundaries).
 */
export interface AudioCopy {
  path: string;
  /** Seconds from the file's start. */
  start: number;
  duration: number;
  codec: string;
}

export interface Encoder {
  /** Final path (where the output appears after finish()). */
  readonly path: string;
  readonly framesWritten: number;
  /**
   * Queues one frame; resolves when ffmpeg can take more (at most WRITE_AHEAD frames wait for the
   * pipe). Rejects with write_failed. `onWritten` is called once the frame's bytes are no longer
   * needed (the pipe has taken them, or the write failed): from then on the caller may reuse the
   * buffer (frame-pool.ts). Until then it must not change it.
   */
  write(frame: AnyFrame | YuvFrame, onWritten?: () => void): Promise<void>;
  /** Closes the stream, waits for ffmpeg and moves the output into place. */
  finish(): Promise<void>;
  /** Stops ffmpeg and removes the partial output. Safe to call at any time, more than once. */
  abort(): Promise<void>;
}

/**
 * Frames the encoder's pipe may hold before write() waits. One frame would make the frame loop
 * wait for ffmpeg to read each whole frame; with two, the loop prepares frame n + 1 while ffmpeg
 * reads and encodes frame n, and memory stays bounded.
 */
export const WRITE_AHEAD = 2;

let partialCounter = 0;
/**
 * Partial outputs of this process (partial path → final path and the ffmpeg writing it),
 * removed if the process exits before they are finished.
 */
const livePartials = new Map<string, { finalPath: string; child?: ChildProcess }>();
process.once('exit', () => abandonOutputs());

/**
 * Stops every encoder of this process at once and removes its partial output, synchronously:
 * for a signal handler (Ctrl-C, SIGTERM) that must leave no `.partial-…` file behind before
 * the process exits. Returns the final paths that will now not be written.
 */
export function abandonOutputs(): string[] {
  const abandoned: string[] = [];
  for (const [partial, { finalPath, child }] of livePartials) {
    // Kill the writer first so it cannot create another file in a folder being removed.
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(partial, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 });
    abandoned.push(finalPath);
  }
  livePartials.clear();
  return abandoned;
}

export async function openEncoder(opts: EncoderOptions): Promise<Encoder> {
  const { width, height, channels, format } = opts;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ReshootError('bad_spec', `Cannot encode frames of size ${width}x${height}.`);
  }
  const finalPath = path.resolve(opts.path);
  await refuseExisting(finalPath, opts.overwrite);
  const partial = path.join(
    path.dirname(finalPath),
    `.${path.basename(finalPath)}.partial-${process.pid}-${++partialCounter}`,
  );
  try {
    await mkdir(path.dirname(finalPath), { recursive: true });
    if (SEQUENCE_EXT[format]) await mkdir(partial);
  } catch (e) {
    throw new ReshootError('write_failed', `Cannot create output "${finalPath}": ${(e as Error).message}`, { cause: e });
  }
  livePartials.set(partial, { finalPath });
  // ffmpeg 4.1 cannot write EXR: those frames are encoded here (exr.ts), one file each.
  if (format === 'exr') return new ExrSequenceEncoder(opts, finalPath, partial);

  const ext = SEQUENCE_EXT[format];
  const args = encoderArgs(opts, ext ? path.join(partial, `frame_%06d.${ext}`) : partial);
  const child = spawnTool(await ffmpegPath(), args, 'pipe');
  livePartials.set(partial, { finalPath, child });
  return new FfmpegEncoder(child, opts, finalPath, partial);
}

/** Input: raw frames on stdin at the exact rate. Output: per-format codec settings. */
function encoderArgs(opts: EncoderOptions, target: string): string[] {
  const rate = formatRational(opts.fps);
  const alpha = opts.channels === 4;
  const deep = opts.depth === 16;
  const args = ['-v', 'error', '-y'];
  const input = opts.yuv?.pixFmt ?? (deep ? (alpha ? 'rgba64le' : 'rgb48le') : alpha ? 'rgba' : 'rgb24');
  args.push('-f', 'rawvideo', '-pix_fmt', input, '-s', `${opts.width}x${opts.height}`);
  args.push('-framerate', rate, '-i', 'pipe:0');
  if (opts.audio) {
    // Floor to the microsecond ffmpeg counts in, so the cut never lands after the wanted sample.
    const us = (t: number) => (Math.floor(t * 1e6 + 1e-6) / 1e6).toFixed(6);
    args.push(...inputArgs(opts.audio.path, ['-ss', us(opts.audio.start), '-t', us(opts.audio.duration)]));
  }
  args.push('-r', rate);

  // RGB → YUV in one explicit scale filter: the source's matrix (colour.ts; BT.709 by default),
  // limited range, and tags that say so, so Premiere and our own decoder read the colours back
  // the same way.
  // Non-square pixels are tagged on the stream so Premiere interprets the footage as it should.
  const sar = opts.sar && opts.sar.num !== opts.sar.den ? `setsar=${opts.sar.num}/${opts.sar.den}` : '';
  const sarOnly = sar ? ['-vf', sar] : [];
  const colour = opts.colour ?? BT709;
  const tags = ['-colorspace', colour.colorspace, '-color_primaries', colour.primaries, '-color_trc', colour.transfer, '-color_range', 'tv'];
  const toYuv = (pixFmt: string, pre = ''): string[] => {
    // Frames already in the output's Y'CbCr go to the encoder as they are.
    if (opts.yuv) {
      if (opts.yuv.pixFmt !== pixFmt) throw new ReshootError('internal', `${opts.yuv.pixFmt} frames cannot be stored as ${pixFmt} without conversion`);
      return [...sarOnly, '-pix_fmt', pixFmt, ...tags];
    }
    return ['-vf', `${pre}scale=flags=${SCALE_FLAGS}:out_color_matrix=${colour.matrix}:out_range=tv,format=${pixFmt}${sar ? `,${sar}` : ''}`, '-pix_fmt', pixFmt, ...tags];
  };
  const timecode = [
    ...(opts.timecode ? ['-timecode', opts.timecode] : []),
    ...(opts.reelName ? ['-metadata:s:v:0', `reel_name=${opts.reelName}`] : []),
    ...audioArgs(opts.audio),
  ];
  // Older ffmpeg (the 2018 npm build) writes the mov 'colr' atom only when asked; without it
  // the tags above are lost and readers fall back to guessing the matrix.
  const movColr = ['-movflags', '+write_colr'];

  switch (opts.format) {
    case 'prores422hq':
      return [...args, '-c:v', 'prores_ks', '-profile:v', '3', '-vendor', 'apl0', ...toYuv('yuv422p10le'),
        ...movColr, ...timecode, '-f', 'mov', target];
    case 'prores4444':
      // 4444 is also right for opaque RGB (full chroma); alpha is stored only when given.
      return [...args, '-c:v', 'prores_ks', '-profile:v', '4', '-vendor', 'apl0',
        ...toYuv(alpha ? 'yuva444p10le' : 'yuv444p10le'), ...movColr, ...timecode, '-f', 'mov', target];
    case 'h264':
      // 4:2:0 needs even dimensions: pad odd ones by one black row/column rather than distort.
      return [...args, '-c:v', 'libx264', '-preset', 'medium', '-crf', '16', '-profile:v', 'high',
        ...toYuv('yuv420p', 'pad=ceil(iw/2)*2:ceil(ih/2)*2,'), '-movflags', '+faststart',
        ...timecode, '-f', 'mp4', target];
    case 'png':
    case 'tiff':
    case 'dpx': {
      if (opts.audio) throw new ReshootError('internal', 'an image sequence has no audio track');
      const start = ['-start_number', String(opts.startNumber ?? 1)];
      if (opts.format === 'png') {
        const pixFmt = deep ? (alpha ? 'rgba64be' : 'rgb48be') : alpha ? 'rgba' : 'rgb24';
        return [...args, '-c:v', 'png', '-pix_fmt', pixFmt, ...sarOnly, ...start, '-f', 'image2', target];
      }
      if (opts.format === 'tiff') {
        const pixFmt = deep ? (alpha ? 'rgba64le' : 'rgb48le') : alpha ? 'rgba' : 'rgb24';
        return [...args, '-c:v', 'tiff', '-pix_fmt', pixFmt, ...sarOnly, ...start, '-f', 'image2', target];
      }
      // DPX as VFX exchanges it: 10-bit RGB; with alpha, 16-bit RGBA (DPX has no 10-bit RGBA in ffmpeg).
      return [...args, '-c:v', 'dpx', '-pix_fmt', alpha ? 'rgba64le' : 'gbrp10le', ...sarOnly, ...start, '-f', 'image2', target];
    }
    case 'ffv1': {
      // Lossless RGB: bgr0/bgra are FFV1's 8-bit RGB layouts (the shuffle from rgb24 is exact);
      // rgb48le/rgba64le keep all 16 bits.
      // Y'CbCr frames are stored as they are, tagged like the other Y'CbCr outputs.
      const pixFmt = opts.yuv || deep ? input : alpha ? 'bgra' : 'bgr0';
      return [...args, '-c:v', 'ffv1', '-level', '3', '-pix_fmt', pixFmt, ...sarOnly, ...(opts.yuv ? tags : []), ...timecode, '-f', 'matroska', target];
    }
    case 'exr':
      throw new ReshootError('internal', 'EXR is written by ExrSequenceEncoder, not ffmpeg');
    case 'ffvhuff':
      if (deep) throw new ReshootError('internal', 'ffvhuff is written at 8 bits only');
      return [...args, '-c:v', 'ffvhuff', '-pix_fmt', alpha ? 'bgra' : 'rgb24', '-f', 'matroska', target];
  }
}

/** Maps the audio input (index 1) into the output with its own codec settings. */
function audioArgs(audio: AudioCopy | undefined): string[] {
  if (!audio) return [];
  const args = ['-map', '0:v:0', '-map', '1:a:0', '-c:a', audio.codec, '-max_muxing_queue_size', '4096'];
  if (audio.codec === 'aac') args.push('-b:a', '320k');
  return args;
}

class FfmpegEncoder implements Encoder {
  framesWritten = 0;
  private state: 'open' | 'finishing' | 'done' | 'failed' = 'open';
  private readonly stderr = new StderrTail();
  private readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Set when ffmpeg dies or the pipe breaks while we still expect it to be working. */
  private broken: Error | undefined;
  private readonly frameSize: number;
  /** Frames handed to the pipe whose bytes it has not taken yet. */
  private queued = 0;
  /** Writers waiting for room (several when callers write without awaiting each other, as uploads do). */
  private readonly waiting = new Set<() => void>();

  constructor(
    private readonly child: ChildProcess,
    private readonly opts: EncoderOptions,
    readonly path: string,
    private readonly partial: string,
  ) {
    this.frameSize = opts.yuv ? yuvFrameBytes(opts.width, opts.height, opts.yuv) : frameBytes(opts.width, opts.height, opts.channels, opts.depth ?? 8);
    child.stderr!.on('data', (b: Buffer) => this.stderr.push(b));
    child.stdin!.on('error', (e) => (this.broken ??= e));
    child.once('error', (e) => (this.broken ??= e));
    this.exit = exited(child);
    void this.exit.then(({ code, signal }) => {
      if (this.state === 'open') this.broken ??= new Error(`ffmpeg exited early (${code ?? signal})`);
    });
  }

  async write(frame: AnyFrame | YuvFrame, onWritten?: () => void): Promise<void> {
    // Once only: a failed write may reach both the pipe's callback and the error path below.
    let called = false;
    const written = (): void => {
      if (!called) (called = true), onWritten?.();
    };
    try {
      await this.toPipe(frame, written);
    } catch (e) {
      written();
      throw e;
    }
  }

  private async toPipe(frame: AnyFrame | YuvFrame, onWritten: () => void): Promise<void> {
    if (this.state !== 'open') throw this.fail(`the encoder is already ${this.state === 'finishing' ? 'finishing' : 'closed'}`);
    const bytes = frameBuffer(frame);
    const got = describeFrame(frame);
    const expected = this.opts.yuv ? `${this.opts.width}x${this.opts.height} ${this.opts.yuv.pixFmt}` : `${this.opts.width}x${this.opts.height}x${this.opts.channels} at ${this.opts.depth ?? 8} bits`;
    if (got !== expected || bytes.length !== this.frameSize) {
      await this.cleanup();
      throw this.fail(`frame ${this.framesWritten} is ${got} (${bytes.length} bytes), expected ${expected}`);
    }
    if (this.broken) return this.failAfterExit();
    const stdin = this.child.stdin!;
    this.queued++;
    stdin.write(bytes, () => {
      this.queued--;
      onWritten();
      this.wakeWriter();
    });
    this.framesWritten++;
    if (this.queued >= WRITE_AHEAD) {
      // Backpressure: wait until the pipe has taken a frame, or for ffmpeg to die.
      await this.roomOrExit(stdin);
      if (this.broken) await this.failAfterExit();
    }
  }

  /** Resolves once fewer than WRITE_AHEAD frames wait, or when the pipe or ffmpeg is gone; never rejects. */
  private roomOrExit(stdin: NonNullable<ChildProcess['stdin']>): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        stdin.off('close', done).off('error', done);
        this.waiting.delete(done);
        resolve();
      };
      this.waiting.add(done);
      stdin.on('close', done).on('error', done);
      void this.exit.then(done);
    });
  }

  private wakeWriter(): void {
    if (this.queued < WRITE_AHEAD) for (const done of [...this.waiting]) done();
  }

  async finish(): Promise<void> {
    if (this.state !== 'open') throw this.fail(`finish() called on an encoder that is ${this.state}`);
    if (this.framesWritten === 0) {
      await this.cleanup();
      throw this.fail('no frames were written');
    }
    this.state = 'finishing';
    this.child.stdin!.end();
    const { code, signal } = await this.exit;
    if (code !== 0 || this.broken) {
      await this.cleanup();
      throw this.fail(summarizeStderr(this.stderr.text()) || `ffmpeg exited with ${code ?? signal}`);
    }
    try {
      await moveIntoPlace(this.partial, this.path, this.opts.overwrite);
    } catch (e) {
      await this.cleanup();
      if (e instanceof ReshootError) throw e;
      throw this.fail((e as Error).message, e);
    }
    livePartials.delete(this.partial);
    this.state = 'done';
  }

  async abort(): Promise<void> {
    if (this.state === 'done') return;
    await this.cleanup();
  }

  /** Kills ffmpeg (if running) and removes the partial output. */
  private async cleanup(): Promise<void> {
    this.state = 'failed';
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    this.child.stdin!.destroy();
    await this.exit;
    await rm(this.partial, { recursive: true, force: true });
    livePartials.delete(this.partial);
  }

  private async failAfterExit(): Promise<never> {
    await this.exit; // let stderr arrive so the message says why
    await this.cleanup();
    throw this.fail(summarizeStderr(this.stderr.text()) || this.broken?.message || 'ffmpeg stopped');
  }

  private fail(why: string, cause?: unknown): ReshootError {
    return new ReshootError('write_failed', `Could not write "${this.path}": ${why}. No partial output was left.`, { cause });
  }
}

/**
 * An EXR image sequence: each frame encoded in this process (exr.ts) and written into the hidden
 * partial folder as frame_NNNNNN.exr, numbered like the plate; the folder is renamed into place
 * when complete, as every other output is.
 */
class ExrSequenceEncoder implements Encoder {
  framesWritten = 0;
  private state: 'open' | 'done' | 'failed' = 'open';

  constructor(
    private readonly opts: EncoderOptions,
    readonly path: string,
    private readonly partial: string,
  ) {}

  async write(frame: AnyFrame | YuvFrame, onWritten?: () => void): Promise<void> {
    if (isYuvFrame(frame)) {
      onWritten?.();
      await this.abort();
      throw this.fail(`frame ${this.framesWritten} is ${describeFrame(frame)}: EXR is written from RGB frames`);
    }
    try {
      await this.writeFrame(frame);
    } finally {
      onWritten?.();
    }
  }

  private async writeFrame(frame: AnyFrame): Promise<void> {
    if (this.state !== 'open') throw this.fail('the encoder is already closed');
    const { width, height, channels } = this.opts;
    const depth = this.opts.depth ?? 8;
    if (frame.width !== width || frame.height !== height || frame.channels !== channels || (frame.depth ?? 8) !== depth) {
      await this.abort();
      throw this.fail(`frame ${this.framesWritten} is ${frame.width}x${frame.height}x${frame.channels} at ${frame.depth ?? 8} bits, expected ${width}x${height}x${channels} at ${depth} bits`);
    }
    let bytes: Buffer;
    try {
      bytes = await this.encode(frame);
    } catch (e) {
      await this.abort();
      if (e instanceof ReshootError) throw e;
      throw this.fail((e as Error).message, e);
    }
    const name = `frame_${String((this.opts.startNumber ?? 1) + this.framesWritten).padStart(6, '0')}.exr`;
    try {
      await writeFile(path.join(this.partial, name), bytes);
    } catch (e) {
      await this.abort();
      throw this.fail((e as Error).message, e);
    }
    this.framesWritten++;
  }

  /**
   * The file for `frame`. With the plate's stored image (a fill or replace): its overscan is put
   * back around the frame, and a FLOAT plate is written as FLOAT, each sample the job left as the
   * plate's own (its half equals the plate's, rounded) as the plate's 32 bits, each changed one
   * as its half, widened. A generated sample that happens to equal the plate's rounded value
   * also takes the plate's bits: they differ by less than half a half-float step.
   */
  private async encode(frame: AnyFrame): Promise<Buffer> {
    const opts = { compression: this.opts.exrCompression ?? 'zip', transfer: this.opts.transfer ?? 'srgb', sar: this.opts.sar } as const;
    const plate = this.opts.exrPlate;
    if (!plate) return encodeExr(frame, opts);
    const { display } = plate.windows;
    const stored = plate.surround ? await plate.surround.image(this.framesWritten) : undefined;
    if (!stored || (contains(display, stored.dataWindow) && !stored.floatBits)) return encodeExr(frame, { ...opts, windows: { data: display, display } });
    if (frame.depth !== 16) throw new Error("an EXR plate's own samples go back only around half-bit frames");
    const ch = frame.channels;
    const data = unionRect(stored.dataWindow, display)!;
    const halves = copyWindow(stored.data, stored.dataWindow, data, ch);
    // A FLOAT plate's halves before the frame goes in: what tells an unchanged sample.
    const plateHalves = stored.floatBits ? halves.slice() : undefined;
    pasteWindow(frame.data, display, halves, data, ch);
    const windows = { data, display };
    const whole = { ...frame, width: data.width, height: data.height, data: halves };
    if (!stored.floatBits || !plateHalves) return encodeExr(whole, { ...opts, windows });
    const bits = copyWindow(stored.floatBits, stored.dataWindow, data, ch);
    const widen = halfToFloatBitsTable();
    for (let i = 0; i < bits.length; i++) if (halves[i] !== plateHalves[i]) bits[i] = widen[halves[i]!]!;
    return encodeExr(whole, { ...opts, windows, floatBits: bits });
  }

  async finish(): Promise<void> {
    if (this.state !== 'open') throw this.fail(`finish() called on an encoder that is ${this.state}`);
    if (this.framesWritten === 0) {
      await this.abort();
      throw this.fail('no frames were written');
    }
    try {
      await moveIntoPlace(this.partial, this.path, this.opts.overwrite);
    } catch (e) {
      await this.abort();
      if (e instanceof ReshootError) throw e;
      throw this.fail((e as Error).message, e);
    }
    livePartials.delete(this.partial);
    this.state = 'done';
  }

  async abort(): Promise<void> {
    if (this.state === 'done') return;
    this.state = 'failed';
    await rm(this.partial, { recursive: true, force: true });
    livePartials.delete(this.partial);
  }

  private fail(why: string, cause?: unknown): ReshootError {
    return new ReshootError('write_failed', `Could not write "${this.path}": ${why}. No partial output was left.`, { cause });
  }
}

/** A frame's shape as the encoder's errors name it. */
function describeFrame(f: AnyFrame | YuvFrame): string {
  return isYuvFrame(f) ? `${f.width}x${f.height} ${f.format.pixFmt}` : `${f.width}x${f.height}x${f.channels} at ${f.depth ?? 8} bits`;
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch {
    return false;
  }
}

async function refuseExisting(finalPath: string, overwrite: boolean): Promise<void> {
  if (!overwrite && (await exists(finalPath))) {
    throw new ReshootError('output_exists', `Output "${finalPath}" already exists; choose another name or allow overwriting.`);
  }
}

/**
 * Renames a finished partial onto its final name. A file replaces a file atomically; a folder
 * (PNG sequence) or a change of kind needs the old one moved aside first, then deleted.
 */
async function moveIntoPlace(partial: string, finalPath: string, overwrite: boolean): Promise<void> {
  await refuseExisting(finalPath, overwrite); // it may have appeared while we were encoding
  let old: string | undefined;
  if (await exists(finalPath)) {
    const [a, b] = await Promise.all([lstat(partial), lstat(finalPath)]);
    if (a.isDirectory() || b.isDirectory()) {
      old = path.join(path.dirname(finalPath), `.${path.basename(finalPath)}.old-${process.pid}-${++partialCounter}`);
      await rename(finalPath, old);
    }
  }
  await rename(partial, finalPath);
  if (old) await rm(old, { recursive: true, force: true });
}

/**
 * Writes one frame as a PNG (RGBA when the frame has 4 channels), atomically.
 * `overwrite` defaults to false, like every output.
 */
export async function writePng(file: string, frame: Frame, opts: { overwrite?: boolean } = {}): Promise<void> {
  const finalPath = path.resolve(file);
  const overwrite = opts.overwrite ?? false;
  await refuseExisting(finalPath, overwrite);
  if (frame.data.length !== frameBytes(frame.width, frame.height, frame.channels)) {
    throw new ReshootError('write_failed', `Could not write "${finalPath}": frame data does not match ${frame.width}x${frame.height}x${frame.channels}.`);
  }
  const partial = path.join(path.dirname(finalPath), `.${path.basename(finalPath)}.partial-${process.pid}-${++partialCounter}`);
  const pixFmt = frame.channels === 4 ? 'rgba' : 'rgb24';
  const args = ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', pixFmt, '-s', `${frame.width}x${frame.height}`,
    '-i', 'pipe:0', '-frames:v', '1', '-c:v', 'png', '-pix_fmt', pixFmt, '-f', 'image2', '-update', '1', partial];
  try {
    await mkdir(path.dirname(finalPath), { recursive: true });
    const result = await runTool(await ffmpegPath(), args, { input: frame.data, timeoutMs: 60_000 });
    if (result.code !== 0) throw new Error(summarizeStderr(result.stderr) || `ffmpeg exited with ${result.code}`);
    await moveIntoPlace(partial, finalPath, overwrite);
  } catch (e) {
    await rm(partial, { force: true });
    if (e instanceof ReshootError) throw e;
    throw new ReshootError('write_failed', `Could not write "${finalPath}": ${(e as Error).message}`, { cause: e });
  }
}

export { contactSheet } from './contact-sheet.ts';
