/**
 * Everything about a job that can be checked before any work starts: the sources exist and
 * decode, the ranges lie inside them, the masks lie inside the frame, the output may be written,
 * and the job is not absurdly large. A job that fails here has written nothing.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { equalRational, formatRational, timeToFrames, toNumber, type JobSpec, type Source } from '../../protocol/index.ts';
import { ReshootError } from '../errors.ts';
import { FORMAT_EXTENSION } from '../media/encode.ts';
import { normalizeMediaPath, probe, type MediaInfo } from '../media/probe.ts';
import { checkMaskInFrame } from '../masks/index.ts';
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

  const outputPath = resolveOutput(spec, opts);
  return { seed, ranges, outputPath, outputFrames };
}

async function resolveSource(src: Source, spec: JobSpec, at: string): Promise<SourceRange> {
  const fps = spec.sequence.fps;
  if (!src.path) {
    // The service turns uploads and frame files into clips before a job is queued; only a path reaches here.
    throw new ReshootError('bad_spec', `${at}: frames by value ("upload" or "files") can only be used through the companion service; give a file path`);
  }
  const info = await probe(src.path);
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
