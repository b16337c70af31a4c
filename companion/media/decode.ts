/**
 * Frames out of media files, streamed from ffmpeg's stdout one at a time.
 *
 * Exactness strategy (the thing editors check): ffmpeg decodes the *source* frames at the
 * source's own rate, with no fps filter, and this module picks which source frame fills each
 * frame of the requested rate. Output frame k at rate R shows the source frame on screen at
 * instant k/R, i.e. source frame floor(k·S/R) for a source at rate S; the arithmetic is done
 * in integers so 24000/1001 never drifts. Seeking uses ffmpeg's fast input seek (-ss before
 * -i, keyframe seek + accurate trim) aimed half a source frame *before* the first needed frame,
 * so rounding of timestamps (milliseconds in Matroska, microseconds inside ffmpeg) can never
 * tip the trim onto the wrong side of a frame boundary.
 */
import { ReshootError } from '../errors.ts';
import { formatRational, rational, type Rational } from '../../protocol/rational.ts';
import { fitGeometry, placeFilter, type Fit } from './fit.ts';
import { frameBuffer, frameBytes, type AnyFrame, type DeepFrame, type Depth, type Frame, type Samples } from './frame.ts';
import { FrameReader } from './frame-reader.ts';
import { uninitializedFrame, type BufferPool, type FramePool, type FrameShape } from './frame-pool.ts';
import { uninitializedYuvFrame, yuvFormat, yuvFrameBytes, type YuvFormat, type YuvFrame } from './yuv.ts';
import { exited, ffmpegPath, runTool, spawnTool, StderrTail, summarizeStderr } from './ffmpeg.ts';
import { probe, type MediaInfo } from './probe.ts';
import { inputArgs } from './safe-input.ts';
import { exrDisplayFrames, exrPlateFrames, hasOverscan } from './exrPlate.ts';
import { sourceMatrix } from './colour.ts';

export interface DecodeOptions {
  path: string;
  /** The rate frames are counted at (the sequence's); the source is resampled if it differs. */
  fps: Rational;
  /** First frame, counted at `fps` from the first frame of the source. */
  startFrame: number;
  frameCount: number;
  /** Output size; defaults to the source size. Scaling is always bicubic. */
  width?: number;
  height?: number;
  /** 3 = RGB (default), 4 = RGBA (opaque sources get alpha 255). */
  channels?: 3 | 4;
  /** 8 (default) or 16 bits per channel (DeepFrame): 16 keeps every level of a deeper source. */
  depth?: Depth;
  /** How a picture of another shape goes into width × height (fit.ts); default 'stretch'. */
  fit?: Fit;
  /** Pixel aspect of the output frame (the sequence's), for `fit`. Default 1. */
  pixelAspect?: Rational;
  /** Pass a probe result you already have to skip probing again. */
  info?: MediaInfo;
  /**
   * EXR sequences: deliver the plate's own half-float bits (16-bit words, read by exrPlate.ts at
   * its own size, values above 1.0 kept) instead of ffmpeg's sRGB-curved view clipped to [0, 1].
   * Other sources ignore it.
   */
  linear?: boolean;
  /**
   * Buffers for the decoded frames (frame-pool.ts): frames the caller releases into it once it is
   * done with them are filled again instead of allocating new ones. Ignored if its shape differs.
   */
  pool?: FramePool;
  /**
   * Frames in this Y'CbCr (yuv.ts) instead of RGB: ffmpeg passes the decoded planes through
   * unconverted when it is the source's own format, else converts chroma and depth only. Only
   * for a planar Y'CbCr video (not a still or sequence) at its own size (width/height/fit/
   * pixelAspect must not ask for scaling); channels and depth are ignored. `yuvPool` recycles its frames.
   */
  yuv?: YuvFormat;
  yuvPool?: BufferPool<YuvFrame>;
}

/**
 * Whole frames decoded ahead of the consumer (frame-reader.ts): enough for ffmpeg to keep
 * decoding while the frame loop composites and encodes the current one, and no more.
 */
export const READ_AHEAD = 2;

/** The one scaler used everywhere: bicubic, with accurate rounding and full chroma. */
export const SCALE_FLAGS = 'bicubic+accurate_rnd+full_chroma_int';

/**
 * Streams frames [startFrame, startFrame + frameCount) of `path` at `fps`. Holds at most
 * READ_AHEAD + 1 frames beyond those the caller keeps, plus the pipe's buffer. Stopping early (break / return()) kills ffmpeg.
 * A still image yields the same picture for every frame asked for.
 */
export function decodeFrames(opts: DecodeOptions & { yuv: YuvFormat }): AsyncGenerator<YuvFrame, void, undefined>;
export function decodeFrames(opts: DecodeOptions & { depth: 16 }): AsyncGenerator<DeepFrame, void, undefined>;
export function decodeFrames(opts: DecodeOptions & { depth?: 8 }): AsyncGenerator<Frame, void, undefined>;
export function decodeFrames(opts: DecodeOptions): AsyncGenerator<AnyFrame, void, undefined>;
export function decodeFrames(opts: DecodeOptions): AsyncGenerator<AnyFrame | YuvFrame, void, undefined> {
  return opts.yuv ? decodeYuv(opts, opts.yuv) : decodeAny(opts);
}

async function* decodeYuv(opts: DecodeOptions, format: YuvFormat): AsyncGenerator<YuvFrame, void, undefined> {
  checkRange(opts);
  const info = opts.info ?? (await probe(opts.path));
  const { width, height } = info;
  const asked = `${opts.width ?? width}x${opts.height ?? height}`;
  if (info.isImage || info.sequence || !yuvFormat(info.pixFmt) || asked !== `${width}x${height}`) {
    throw new ReshootError('internal', `"${info.path}" (${info.pixFmt}, ${width}x${height}) cannot be read as ${format.pixFmt} at ${asked}`);
  }
  const pool = opts.yuvPool;
  yield* streamVideo(opts, info, {
    pixFmt: format.pixFmt,
    // Another Y'CbCr layout or depth: converted by the one scaler, chroma and depth only (no matrix is involved).
    ...(info.pixFmt === format.pixFmt ? {} : { filter: `scale=flags=${SCALE_FLAGS},format=${format.pixFmt}` }),
    size: yuvFrameBytes(width, height, format),
    take: () => pool?.take() ?? uninitializedYuvFrame(width, height, format),
    release: (f) => pool?.release(f),
  });
}

async function* decodeAny(opts: DecodeOptions): AsyncGenerator<AnyFrame, void, undefined> {
  checkRange(opts);
  let info = opts.info ?? (await probe(opts.path));
  // An image sequence has no rate of its own: frame k of the job is image start + k.
  if (info.sequence) info = { ...info, fps: opts.fps };
  const width = opts.width ?? info.width;
  const height = opts.height ?? info.height;
  const channels = opts.channels ?? 3;
  const depth = opts.depth ?? 8;
  checkSize(width, height);

  if (opts.linear && info.sequence?.ext === 'exr') {
    yield* exrPlateFrames(info, opts.startFrame, opts.frameCount, width, height, channels);
    return;
  }
  // ffmpeg 4.1 cannot decode an EXR whose pixels reach beyond its display window: read it here.
  if (info.sequence?.ext === 'exr' && (await hasOverscan(info))) {
    yield* exrDisplayFrames(info, opts.startFrame, opts.frameCount, width, height, channels, depth);
    return;
  }

  if (info.isImage) {
    const still = await readImage(info.path, { width, height, channels, depth, info, fit: opts.fit, pixelAspect: opts.pixelAspect });
    for (let i = 0; i < opts.frameCount; i++) yield i === 0 ? still : copyFrame(still);
    return;
  }

  const size = frameBytes(width, height, channels, depth);
  const alphaFix = channels === 4 && depth === 16 ? shiftedAlphaBits(info) : 0;
  const shape = { width, height, channels, depth };
  const pool = opts.pool && sameShape(opts.pool.shape, shape) ? opts.pool : undefined;
  yield* streamVideo(opts, info, {
    pixFmt: rawPixFmt(channels, depth),
    filter: videoFilter(info, width, height, channels, depth, opts),
    size,
    take: () => pool?.take() ?? uninitializedFrame(shape),
    release: (f) => pool?.release(f),
    ...(alphaFix ? { fix: (f: AnyFrame) => widenAlpha(f as DeepFrame, alphaFix) } : {}),
  });
}

/** How raw frames come out of ffmpeg and into memory. */
interface RawOutput<T extends Samples> {
  /** ffmpeg's raw pixel format of the pipe. */
  pixFmt: string;
  /** The -vf filter graph that makes it (none: the decoder's own frames). */
  filter?: string;
  /** Bytes per frame. */
  size: number;
  take(): T;
  release(f: T): void;
  /** Applied to each frame as it arrives. */
  fix?(f: T): void;
}

/** Frames [startFrame, startFrame + frameCount) at `opts.fps` of a video (or sequence) through ffmpeg. */
async function* streamVideo<T extends Samples>(opts: DecodeOptions, info: MediaInfo, raw: RawOutput<T>): AsyncGenerator<T, void, undefined> {
  const end = opts.startFrame + opts.frameCount;
  const firstSource = sourceFrameAt(opts.startFrame, opts.fps, info.fps);
  const lastSource = sourceFrameAt(end - 1, opts.fps, info.fps);
  if (lastSource >= info.frameCount) throw shortClip(opts, info, lastSource);

  const args = ['-v', 'error', '-nostdin'];
  const seek: string[] = [];
  if (info.sequence) {
    // No seeking in a sequence: start reading at the first wanted image.
    seek.push('-f', 'image2', '-framerate', formatRational(opts.fps), '-start_number', String(info.sequence.start + firstSource));
    // EXR holds linear light: shown to the model and written out with the sRGB curve, as a comp
    // viewer shows it (an EXR plate written back to EXR is read by exrPlate.ts instead).
    if (info.sequence.ext === 'exr') seek.push('-apply_trc', 'iec61966_2_1');
  } else if (firstSource > 0) {
    seek.push('-ss', (info.videoStartOffset + ((firstSource - 0.5) * info.fps.den) / info.fps.num).toFixed(6));
  }
  args.push(...inputArgs(info.path, seek), '-map', '0:v:0', '-an', '-sn', '-dn');
  if (raw.filter) args.push('-vf', raw.filter);
  // passthrough: one output frame per decoded frame, no duplication to "fix" the rate.
  args.push('-vsync', 'passthrough', '-frames:v', String(lastSource - firstSource + 1));
  args.push('-f', 'rawvideo', '-pix_fmt', raw.pixFmt, 'pipe:1');

  const child = spawnTool(await ffmpegPath(), args, 'ignore');
  const stderr = new StderrTail();
  child.stderr!.on('data', (b: Buffer) => stderr.push(b));
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));
  const exit = exited(child);

  const reader = new FrameReader(child.stdout!, raw.size, READ_AHEAD, () => raw.take());
  let k = opts.startFrame; // next output frame to yield
  let source = firstSource; // index of the source frame being filled
  try {
    for (let frame = await reader.next(); frame; frame = await reader.next()) {
      // A whole source frame: it fills every output frame that shows it (none when the
      // source is faster and this frame is skipped, several when it is slower).
      raw.fix?.(frame);
      let shows = 0;
      while (k + shows < end && sourceFrameAt(k + shows, opts.fps, info.fps) === source) shows++;
      if (shows === 0) raw.release(frame);
      // Copies first: once yielded, the caller owns the frame (composites into it, hands it back).
      const copies = Array.from({ length: Math.max(0, shows - 1) }, () => copyInto(frame, raw.take()));
      for (const f of [...(shows > 0 ? [frame] : []), ...copies]) {
        yield f;
        k++;
      }
      if (k >= end) return;
      source++;
    }
    const { code, signal } = await exit;
    if (spawnError) throw new ReshootError('ffmpeg_missing', `Could not run ffmpeg: ${spawnError.message}`);
    if (code !== 0) {
      const why = summarizeStderr(stderr.text()) || `ffmpeg exited with ${code ?? signal}`;
      throw new ReshootError('corrupt_media', `Could not decode "${info.path}": ${why}`);
    }
    // ffmpeg ran cleanly but ran out of frames: the container's frame count was optimistic.
    throw shortClip(opts, info, lastSource, source);
  } finally {
    // Runs on normal completion, on error, and when the consumer stops early (return()).
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    child.stdout!.destroy();
    await exit;
  }
}

/**
 * Reads one image (a mask, a still) as a Frame, optionally scaled. Works for any file ffmpeg
 * reads; for a clip it returns the first frame.
 */
export async function readImage(path: string, opts: ImageOptions & { depth: 16 }): Promise<DeepFrame>;
export async function readImage(path: string, opts?: ImageOptions & { depth?: 8 }): Promise<Frame>;
export async function readImage(path: string, opts?: ImageOptions): Promise<AnyFrame>;
export async function readImage(path: string, opts: ImageOptions = {}): Promise<AnyFrame> {
  const info = opts.info ?? (await probe(path));
  const width = opts.width ?? info.width;
  const height = opts.height ?? info.height;
  const channels = opts.channels ?? 3;
  const depth = opts.depth ?? 8;
  checkSize(width, height);
  const args = ['-v', 'error', '-nostdin', ...inputArgs(info.path), '-map', '0:v:0', '-frames:v', '1'];
  args.push('-vf', videoFilter(info, width, height, channels, depth, opts));
  args.push('-f', 'rawvideo', '-pix_fmt', rawPixFmt(channels, depth), 'pipe:1');
  const result = await runTool(await ffmpegPath(), args, { timeoutMs: 60_000 });
  const size = frameBytes(width, height, channels, depth);
  if (result.code !== 0 || result.stdout.length !== size) {
    const why = summarizeStderr(result.stderr) || `ffmpeg produced ${result.stdout.length} of ${size} bytes`;
    throw new ReshootError('corrupt_media', `Could not read image "${info.path}": ${why}`);
  }
  // Copy: stdout may sit in Node's shared buffer pool, and a Frame owns its bytes.
  const frame = blankFrame(width, height, channels, depth);
  new Uint8Array(frame.data.buffer).set(result.stdout);
  const alphaFix = channels === 4 && depth === 16 ? shiftedAlphaBits(info) : 0;
  if (alphaFix) widenAlpha(frame as DeepFrame, alphaFix);
  return frame;
}

export interface ImageOptions {
  width?: number;
  height?: number;
  channels?: 3 | 4;
  depth?: Depth;
  info?: MediaInfo;
  fit?: Fit;
  pixelAspect?: Rational;
}

/**
 * Bits of a source's alpha when ffmpeg widens it to 16 by a plain shift: swscale turns a 10- or
 * 12-bit alpha (ProRes 4444, yuva444p10/12, gbrap10/12) into v << 6 or v << 4, so opaque reads
 * 65472 or 65520, not 65535 (colour channels go through the matrix and are full range). 0 when
 * the alpha needs no fix (none, 8 or 16 bits).
 */
function shiftedAlphaBits(info: MediaInfo): number {
  if (!info.hasAlpha) return 0;
  const m = /(\d+)(le|be)$/.exec(info.pixFmt);
  const bits = m ? Number(m[1]) : 8;
  return bits > 8 && bits < 16 ? bits : 0;
}

/**
 * Restores full range to a shifted alpha by bit replication: a + (a >> bits) is (v << s) | (v >> (bits − s))
 * for a = v << s (s = 16 − bits), the way ffmpeg widens colour and gray samples (1023 → 65535,
 * 512 → 32800); scaled (interpolated) alpha is stretched the same monotone way.
 */
export function widenAlpha(f: DeepFrame, bits: number): void {
  const d = f.data;
  for (let i = 3; i < d.length; i += 4) d[i] = d[i]! + (d[i]! >> bits);
}

/** ffmpeg's name for our in-memory layout: 16-bit samples little-endian, as typed arrays are on every supported CPU. */
function rawPixFmt(channels: 3 | 4, depth: Depth): string {
  if (depth === 16) return channels === 4 ? 'rgba64le' : 'rgb48le';
  return channels === 4 ? 'rgba' : 'rgb24';
}

/** A zeroed frame of the given shape. */
function blankFrame(width: number, height: number, channels: 3 | 4, depth: Depth): AnyFrame {
  const n = width * height * channels;
  return depth === 16 ? { width, height, channels, depth, data: new Uint16Array(n) } : { width, height, channels, data: new Uint8Array(n) };
}

/** `f`'s samples in `into` (a frame of the same shape). */
function copyInto<T extends Samples>(f: T, into: T): T {
  frameBuffer(into).set(frameBuffer(f));
  return into;
}

/** `f`'s samples in a fresh frame. */
function copyFrame(f: AnyFrame): AnyFrame {
  return f.depth === 16 ? { ...f, data: f.data.slice() } : { ...f, data: f.data.slice() };
}

function sameShape(a: FrameShape, b: FrameShape): boolean {
  return a.width === b.width && a.height === b.height && a.channels === b.channels && a.depth === b.depth;
}

/**
 * The source frame on screen at the instant output frame k (at rate `out`) starts:
 * floor(k · src / out), in exact integer arithmetic.
 */
export function sourceFrameAt(k: number, out: Rational, src: Rational): number {
  if (out.num * src.den === src.num * out.den) return k;
  return Number((BigInt(k) * BigInt(src.num) * BigInt(out.den)) / (BigInt(src.den) * BigInt(out.num)));
}

/**
 * Scale and convert to RGB in one scale filter so the flags and matrix are ours, not the
 * auto-inserted converter's. The matrix is named explicitly: the 2018 ffmpeg's "auto" ignores
 * the file's tag and always uses BT.601, which shifts BT.709 colours by a few levels. Untagged
 * YUV is read the way players do (colour.ts: BT.709 from 720 lines up, BT.601 below). (RGB
 * sources ignore the matrix.)
 */
function videoFilter(info: MediaInfo, width: number, height: number, channels: 3 | 4, depth: Depth, place: { fit?: Fit; pixelAspect?: Rational }): string {
  const g = fitGeometry(info.width, info.height, info.sampleAspect ?? rational(1), width, height, place.pixelAspect ?? rational(1), place.fit ?? 'stretch');
  const scale = `scale=${g.width}:${g.height}:flags=${SCALE_FLAGS}:in_color_matrix=${sourceMatrix(info)},format=${rawPixFmt(channels, depth)}`;
  return scale + placeFilter(g, width, height, channels === 4);
}

function checkRange(opts: DecodeOptions): void {
  const { startFrame, frameCount } = opts;
  if (!Number.isInteger(startFrame) || startFrame < 0 || !Number.isInteger(frameCount) || frameCount < 1) {
    throw new ReshootError(
      'bad_range',
      `Cannot decode ${frameCount} frame(s) from frame ${startFrame} of "${opts.path}": ` +
        `the start must be a whole frame ≥ 0 and the count a whole number ≥ 1.`,
    );
  }
}

function checkSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new ReshootError('bad_spec', `Frame size ${width}x${height} is not a valid size.`);
  }
}

function shortClip(opts: DecodeOptions, info: MediaInfo, lastSource: number, available = info.frameCount): ReshootError {
  const rate = formatRational(opts.fps);
  const last = opts.startFrame + opts.frameCount - 1;
  const resampled = formatRational(info.fps) === rate ? '' : ` (source frame ${lastSource} at ${formatRational(info.fps)} fps)`;
  return new ReshootError(
    'bad_range',
    `Frames ${opts.startFrame}–${last} at ${rate} fps are past the end of "${info.path}"${resampled}: ` +
      `the clip has ${available} frames (${formatRational(info.fps)} fps).`,
  );
}
