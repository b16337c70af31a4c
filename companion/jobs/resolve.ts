/**
 * Everything about a job that can be checked before any work starts: the sources exist and
 * decode, the ranges lie inside them, the masks lie inside the frame, the output may be written,
 * and the job is not absurdly large. A job that fails here has written nothing.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { checkOutputWritable } from '../media/writable.ts';
import { checkExrPlate, checkOverscanPlate, contains, plateSurround } from '../media/exrPlate.ts';
import { equalRational, formatRational, rational, timeToFrames, toNumber, type JobSpec, type Source } from '../../protocol/index.ts';
import { ReshootError } from '../errors.ts';
import { FORMAT_EXTENSION } from '../media/encode.ts';
import { normalizeMediaPath, probe, type AudioInfo, type MediaInfo } from '../media/probe.ts';
import type { AudioCopy, EncodeFormat, EncoderOptions } from '../media/encode.ts';
import { outputColour, sourceMatrix } from '../media/colour.ts';
import { yuvFormat, type YuvFormat } from '../media/yuv.ts';
import { formatTimecode, offsetTimecode, parseTimecode } from '../media/timecode.ts';
import { checkMaskInFrame, type AlphaInside } from '../masks/index.ts';
import type { Depth } from '../media/frame.ts';
import { ALPHA_FORMATS, SEQUENCE_FORMATS } from '../../protocol/jobspec.ts';
import { pickSeed } from '../engine/noise.ts';

/** Frames [start, start + count) of a source, counted at the sequence rate. */
export interface SourceRange {
  path: string;
  start: number;
  count: number;
  info: MediaInfo;
}

export interface Prepared {
  seed: number;
  /** fill/replace/extend/generate: one range (generate: maybe none); bridge: [a, b]. */
  ranges: SourceRange[];
  outputPath: string;
  /** Frames the output will hold. */
  outputFrames: number;
  /** How frames travel from source to output (see pickPipeline). */
  pipeline: Pipeline;
  /** Timecode, reel and sound the output carries (see pickTags). */
  tags: OutputTags;
  /** What the output leaves out of the source, for the provenance (e.g. an EXR plate's Z channel). */
  notes: string[];
  /** An EXR plate written back to EXR: its windows, and its stored images when its overscan goes back too (encode.ts). */
  exrPlate?: EncoderOptions['exrPlate'];
}

export interface OutputTags {
  /** Timecode of the output's first frame. */
  timecode?: string;
  reelName?: string;
  audio?: AudioCopy;
  /** First image number of a sequence output: a fill of a plate keeps the plate's own numbering. */
  startNumber?: number;
}

/**
 * Bits and channels of the frames written. A fill/replace passes the source through outside the
 * mask, so it works at the source's precision (16 bits when the source has more than 8) and
 * keeps its alpha when the output format can store it; generated-only kinds (extend, generate,
 * bridge) write RGB at the source's depth too (the model's 8-bit levels widened; a generate's
 * still at its own 16-bit values).
 */
export interface Pipeline {
  depth: Depth;
  channels: 3 | 4;
  /** Alpha of generated pixels when channels = 4. */
  alphaInside: AlphaInside;
  /**
   * EXR plate to EXR output: samples are the plate's half-float bits (linear light, read by
   * media/exrPlate.ts, written back as they are; generated pixels linearized; media/linear.ts);
   * the model sees them clipped to [0, 1] through the sRGB curve. False: display-referred.
   */
  linear: boolean;
  /**
   * A fill or replace of a Y'CbCr source into a Y'CbCr output travels in the output's Y'CbCr
   * (media/yuv.ts, pickYuv): outside the mask the source's codes pass through, untouched (or
   * converted by ffmpeg as a plain transcode would, when the formats differ). Undefined: RGB at `depth`.
   */
  yuv?: YuvFormat;
}

/** Refused before work starts: more output than a workstation should be asked for in one job. */
export const MAX_OUTPUT_PIXELS = 64e9; // ≈ 5 min of UHD, 20 min of 1080p
/** Full-size frames one window holds in memory (fill keeps its window's source frames). */
export const MAX_WINDOW_BYTES = 2 * 1024 ** 3;

export interface PrepareOptions {
  /** Overrides spec.output.path. */
  out?: string;
  force: boolean;
  /** Where outputs go when neither the spec nor `out` says. */
  defaultDir: string;
  /** The model's longest window, for the memory check. */
  maxWindowFrames: number;
}

export async function prepare(spec: JobSpec, opts: PrepareOptions): Promise<Prepared> {
  const fps = spec.sequence.fps;
  const seed = spec.seed ?? pickSeed();

  const ranges: SourceRange[] = [];
  if (spec.kind === 'bridge') {
    ranges.push(await resolveSource(spec.sources.a, spec, 'sources.a'), await resolveSource(spec.sources.b, spec, 'sources.b'));
  } else if (spec.source) {
    ranges.push(await resolveSource(spec.source, spec, 'source'));
  }

  const outputFrames =
    spec.kind === 'fill' || spec.kind === 'replace'
      ? ranges[0]!.count
      : spec.kind === 'extend'
        ? timeToFrames(spec.extend.duration, fps)
        : spec.kind === 'generate'
          ? timeToFrames(spec.duration, fps)
          : timeToFrames(spec.gap, fps);

  const { width, height } = spec.sequence;
  const pixels = width * height * outputFrames;
  if (pixels > MAX_OUTPUT_PIXELS) {
    throw new ReshootError(
      'too_large',
      `The job would write ${(pixels / 1e9).toFixed(0)} gigapixels (${width}×${height} × ${outputFrames} frames at ${formatRational(fps)} fps); ` +
        `the limit is ${MAX_OUTPUT_PIXELS / 1e9} gigapixels per job. Shorten the range or render at a smaller frame size.`,
    );
  }
  const windowBytes = width * height * 3 * opts.maxWindowFrames;
  if (windowBytes > MAX_WINDOW_BYTES) {
    throw new ReshootError(
      'too_large',
      `A ${width}×${height} frame is too large: one model window would hold ${(windowBytes / 1024 ** 3).toFixed(1)} GiB of frames (limit ${MAX_WINDOW_BYTES / 1024 ** 3} GiB).`,
    );
  }

  if (spec.kind === 'fill' || spec.kind === 'replace') {
    if (spec.mask.type === 'shapes') checkMaskInFrame(spec.mask, width, height, outputFrames);
    else await probe(spec.mask.path); // exists and decodes: fail now, not mid-render
  }

  const pipeline = pickPipeline(spec, ranges[0]?.info);
  // An EXR plate kept as stored: a file its reader refuses, or one of another size, fails now.
  // A fill or replace writes the plate's own images back, overscan and FLOAT samples included.
  const writesPlateImages = spec.kind === 'fill' || spec.kind === 'replace';
  const exr = pipeline.linear ? await checkExrPlate(ranges[0]!.info, width, height, writesPlateImages) : undefined;
  const notes = exr?.notes ?? [];
  for (const r of ranges) if (r.info.sequence?.ext === 'exr' && !(pipeline.linear && r === ranges[0])) notes.push(...(await checkOverscanPlate(r.info, width, height)));
  const outputPath = resolveOutput(spec, opts);
  await checkOutputWritable(outputPath);
  const source = ranges[0]?.info;
  if (pipeline.yuv && source && pipeline.yuv.pixFmt !== source.pixFmt) {
    notes.push(`The source's ${source.pixFmt} was converted to ${pipeline.yuv.pixFmt} by ffmpeg's scaler, as a plain transcode converts it; outside the mask the output is that conversion.`);
  }
  const result: Prepared = { seed, ranges, outputPath, outputFrames, pipeline, tags: pickTags(spec, ranges), notes };
  if (exr) {
    const { data, display } = exr.windows;
    const fromPlate = writesPlateImages && (exr.float || !contains(display, data));
    result.exrPlate = { windows: exr.windows, ...(fromPlate ? { surround: plateSurround(ranges[0]!.info, ranges[0]!.start, outputFrames, pipeline.channels) } : {}) };
  }
  return result;
}

/**
 * What an editor expects to find on the output when it goes back into the timeline: the timecode
 * of its first frame (the source's start timecode plus where the output begins; an extension
 * continues the clip's count, before its head or after its tail; a bridge continues clip A), the
 * reel name, and — for fill/replace, whose frames replace the source's own — the source's sound
 * for the same span, sample for sample. New frames (extend, generate, bridge) get no sound.
 */
export function pickTags(spec: JobSpec, ranges: SourceRange[]): OutputTags {
  const fps = spec.sequence.fps;
  const src = ranges[0];
  if (!src) return {};
  let offset: number;
  switch (spec.kind) {
    case 'fill':
    case 'replace':
    case 'generate':
      offset = src.start;
      break;
    case 'extend':
      offset = spec.extend.direction === 'tail' ? src.start + src.count : src.start - timeToFrames(spec.extend.duration, fps);
      break;
    case 'bridge':
      offset = src.start + src.count;
      break;
  }
  const tags: OutputTags = {};
  const tc = src.info.isImage ? undefined : parseTimecode(src.info.timecode, src.info.fps);
  if (tc) tags.timecode = formatTimecode(offsetTimecode(tc, src.info.fps, offset, fps));
  if (src.info.reelName) tags.reelName = src.info.reelName;
  if (src.info.sequence && (spec.kind === 'fill' || spec.kind === 'replace')) tags.startNumber = src.info.sequence.start + src.start;
  const audio = src.info.audio;
  if (audio && (spec.kind === 'fill' || spec.kind === 'replace') && !SEQUENCE_FORMATS.includes(spec.output.format)) {
    tags.audio = {
      path: src.path,
      start: src.info.videoStartOffset + (src.start * fps.den) / fps.num,
      duration: (src.count * fps.den) / fps.num,
      codec: audioCodecFor(audio, spec.output.format),
    };
  }
  return tags;
}

/** PCM that holds the source's samples exactly (its own PCM codec when it has one); AAC in MP4. */
function audioCodecFor(audio: AudioInfo, format: JobSpec['output']['format']): string {
  if (format === 'h264') return 'aac';
  if (audio.codec.startsWith('pcm_')) return audio.codec;
  if (/^s16/.test(audio.sampleFormat)) return 'pcm_s16le';
  if (/^s32/.test(audio.sampleFormat)) return 'pcm_s32le';
  if (/^flt/.test(audio.sampleFormat)) return 'pcm_f32le';
  if (/^dbl/.test(audio.sampleFormat)) return 'pcm_f64le';
  return 'pcm_s24le';
}

export function pickPipeline(spec: JobSpec, source: MediaInfo | undefined): Pipeline {
  const { format, alpha } = spec.output;
  const passThrough = (spec.kind === 'fill' || spec.kind === 'replace') && source !== undefined;
  // Every kind writes at its (first) source's precision, so an extension or bridge of a 10-bit
  // plate is a 16-bit file like the plate's fill would be; frames the model made are its 8-bit
  // levels widened. H.264 is 8-bit 4:2:0 here: a deeper source gains nothing from a 16-bit path into it.
  const depth: Depth = source !== undefined && source.bitDepth > 8 && format !== 'h264' ? 16 : 8;
  const keepAlpha = passThrough && source.hasAlpha && alpha !== 'none' && ALPHA_FORMATS.includes(format);
  // Kinds that write the plate's own pixels (a fill's surroundings, a generate's first frame)
  // carry an EXR plate into EXR as its half bits; the others write only what the model made.
  const writesPlate = passThrough || spec.kind === 'generate';
  const linear = writesPlate && depth === 16 && format === 'exr' && source?.sequence?.ext === 'exr';
  const channels = keepAlpha ? 4 : 3;
  const yuv = passThrough ? pickYuv(spec, source, keepAlpha) : undefined;
  return { depth, channels, alphaInside: alpha === 'source' ? 'source' : 'opaque', linear, ...(yuv ? { yuv } : {}) };
}

/**
 * The Y'CbCr a fill or replace travels in from decoder to encoder, with no RGB in between: what
 * the output stores (ProRes 422 HQ: 10-bit 4:2:2; ProRes 4444: 10-bit 4:4:4, with the source's
 * alpha when it is kept; H.264: 8-bit 4:2:0; FFV1: the source's own), for a planar limited-range Y'CbCr source whose
 * frame needs no scaling, placing or turning (the sequence's size and pixel aspect are the
 * source's) and no other matrix (the output's colour is the source's). The source's codes pass
 * through as they are when the formats match; else ffmpeg converts them as a plain transcode
 * would (an 8-bit source into 10 bits: k → 4k, exact; 4:2:0 into 4:2:2: its chroma scaler).
 * Undefined: RGB.
 */
export function pickYuv(spec: JobSpec, source: MediaInfo, keepAlpha = false): YuvFormat | undefined {
  const own = yuvFormat(source.pixFmt);
  if (!own || source.isImage || source.sequence || source.colorRange === 'pc' || source.rotation !== 0) return undefined;
  const { width, height, pixelAspect } = spec.sequence;
  if (source.width !== width || source.height !== height) return undefined;
  if (!equalRational(source.sampleAspect, pixelAspect ?? rational(1))) return undefined;
  if (outputColour(source, height).matrix !== sourceMatrix(source)) return undefined;
  const stored = YUV_STORED[spec.output.format]?.[keepAlpha ? 1 : 0];
  if (!stored) return undefined;
  // FFV1 stores the source's own format; without alpha when the alpha is left out.
  const format = stored === 'own' ? (keepAlpha || !own.alpha ? own : yuvFormat(own.pixFmt.replace(/^yuva/, 'yuv'))!) : yuvFormat(stored)!;
  if (stored === 'own' && FFV1_LACKS.has(format.pixFmt)) return undefined;
  // ProRes and H.264 want even sizes for subsampled chroma (the RGB path pads or scales instead);
  // FFV1 stores any size the source has.
  const even = (format.sx === 0 || width % 2 === 0) && (format.sy === 0 || height % 2 === 0);
  return stored === 'own' || even ? format : undefined;
}

/** Formats of yuv.ts that ffmpeg 4.1's FFV1 encoder does not take (it would convert them: 12-bit alpha to 16). */
const FFV1_LACKS = new Set(['yuva444p12le']);

/**
 * What each output format stores when given Y'CbCr (encode.ts), without and with alpha: one
 * pixel format, the source's own (FFV1), or none (RGB formats; alpha where the format has none).
 */
const YUV_STORED: Record<EncodeFormat, readonly [opaque: string | undefined, alpha: string | undefined] | undefined> = {
  prores422hq: ['yuv422p10le', undefined],
  prores4444: ['yuv444p10le', 'yuva444p10le'],
  h264: ['yuv420p', undefined],
  ffv1: ['own', 'own'],
  ffvhuff: undefined,
  png: undefined,
  tiff: undefined,
  dpx: undefined,
  exr: undefined,
};

async function resolveSource(src: Source, spec: JobSpec, at: string): Promise<SourceRange> {
  const fps = spec.sequence.fps;
  if (!src.path) {
    // The service turns uploads and frame files into clips before a job is queued; only a path reaches here.
    throw new ReshootError('bad_spec', `${at}: frames by value ("upload" or "files") can only be used through the companion service; give a file path`);
  }
  const probed = await probe(src.path);
  // An image sequence plays at the job's rate (it has none of its own).
  const info = probed.sequence ? { ...probed, fps } : probed;
  // The clip's length in frames at the sequence rate (a still is as long as it is asked to be).
  const length = info.isImage
    ? Number.POSITIVE_INFINITY
    : equalRational(info.fps, fps)
      ? info.frameCount
      : Math.floor((info.frameCount * toNumber(fps)) / toNumber(info.fps) + 1e-6);
  const start = src.in ? timeToFrames(src.in, fps) : 0;
  const end = src.out ? timeToFrames(src.out, fps) : info.isImage ? start + 1 : length;
  if (end > length) {
    throw new ReshootError(
      'bad_range',
      `${at}: out is frame ${end} but ${info.path} has only ${length} frames at ${formatRational(fps)} fps.`,
    );
  }
  if (start >= end) {
    throw new ReshootError('bad_range', `${at}: the range is empty (in at frame ${start}, clip ends at frame ${end}).`);
  }
  return { path: info.path, start, count: end - start, info };
}

function resolveOutput(spec: JobSpec, opts: PrepareOptions): string {
  const ext = FORMAT_EXTENSION[spec.output.format];
  let out = opts.out ?? spec.output.path;
  if (!out) out = path.join(opts.defaultDir, `reshoot-${spec.kind}-${Date.now()}${ext}`);
  out = path.resolve(normalizeMediaPath(out));
  if (ext && path.extname(out) === '') out += ext;
  if (existsSync(out) && !opts.force) {
    throw new ReshootError('output_exists', `The output ${out} already exists; pass --force to replace it.`);
  }
  return out;
}
