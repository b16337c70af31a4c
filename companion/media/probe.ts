/**
 * What a media file holds, from ffprobe: size, exact frame rate, frame count, codec, alpha.
 * Also the one place that turns whatever path a user or the panel hands us (Windows paths,
 * file:// URLs, quoted paste) into a path this OS can open, with errors that name the path.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ReshootError } from '../errors.ts';
import { rational, toNumber, type Rational } from '../../protocol/rational.ts';
import { ffprobePath, runTool, summarizeStderr } from './ffmpeg.ts';
import { checkPlainFile, inputArgs, sniffPlaylist } from './safe-input.ts';
import { isSequencePattern, sequenceFromPattern, sequenceInFolder, type ImageSequence } from './sequence.ts';

export interface MediaInfo {
  path: string;
  width: number;
  height: number;
  /** Exact rate, e.g. {num: 24000, den: 1001}. Stills report 25/1 (ffmpeg's default); ignore it. */
  fps: Rational;
  /** Frames in the first video stream (1 for a still). */
  frameCount: number;
  durationSeconds: number;
  /** ffmpeg codec name: "prores", "h264", "ffv1", "png", ... */
  codec: string;
  /** Codec profile when the codec has one ("HQ", "4444", "High"), else undefined. */
  profile?: string;
  pixFmt: string;
  /** Bits per sample of the stored picture (8 for yuv420p, 10 for yuv422p10le, 16 for rgb48, 32 for float EXR). */
  bitDepth: number;
  hasAlpha: boolean;
  /** A single still image (PNG, JPEG, TIFF...), not a clip. */
  isImage: boolean;
  /** Seconds from the container's start to the first video frame (needed for exact seeking). */
  videoStartOffset: number;
  /** YUV matrix the file is tagged with ("bt709", "bt470bg"...), undefined when untagged. */
  colorSpace?: string;
  /** Colour primaries and transfer tags ("bt709", "smpte170m", "arib-std-b67"...), undefined when untagged. */
  colorPrimaries?: string;
  colorTransfer?: string;
  /** "tv" (limited) or "pc" (full), undefined when untagged (read as limited, except yuvj formats). */
  colorRange?: string;
  /** Shape of one stored pixel (4/3 for 1440×1080 HDV/XDCAM anamorphic); 1/1 when square or untagged. */
  sampleAspect: Rational;
  /**
   * Clockwise rotation a player applies (phone footage: 90 or 270). ffmpeg decodes frames already
   * turned, so `width`/`height` here are the turned (displayed) size, not the stored one.
   */
  rotation: 0 | 90 | 180 | 270;
  /** Start timecode as written in the file ("01:00:10:00", ";" for drop-frame), if any. */
  timecode?: string;
  /** Tape/reel name stored with the timecode, if any. */
  reelName?: string;
  /** The first audio stream, if the file has one. */
  audio?: AudioInfo;
  /**
   * Set for an image sequence: `path` is then its printf pattern, `frameCount` its length, and
   * `fps` a placeholder — a sequence has no rate of its own; it plays at the job's.
   */
  sequence?: { start: number; ext: string };
}

export interface AudioInfo {
  /** ffmpeg codec name: "pcm_s24le", "aac", ... */
  codec: string;
  sampleRate: number;
  channels: number;
  /** ffmpeg sample format of the decoded samples: "s16", "s32", "fltp", ... */
  sampleFormat: string;
  /** Seconds from the container's start to the first audio sample. */
  startOffset: number;
}

const isWindows = process.platform === 'win32';
const WINDOWS_DRIVE = /^[A-Za-z]:[\\/]/;
const WINDOWS_UNC = /^\\\\[^\\]/;

/**
 * Turns a user-supplied media path into one this OS can open:
 * - trims whitespace and surrounding quotes (paths pasted from Explorer come quoted),
 * - file:// URLs become paths (the panel shows frames as file: URLs),
 * - on macOS/Linux, backslashes in a path that is not a Windows drive/UNC path become slashes
 *   (relative paths written on Windows, e.g. "renders\\shot1.mov").
 * A Windows drive path on macOS/Linux is left as is: it cannot exist here, and probe says so.
 */
export function normalizeMediaPath(input: string): string {
  let p = input.trim();
  if (p.length >= 2 && (p[0] === '"' || p[0] === "'") && p[p.length - 1] === p[0]) p = p.slice(1, -1);
  if (/^file:/i.test(p)) {
    const url = new URL(p);
    // file:///C:/x on a non-Windows OS: fileURLToPath would give "/C:/x", which hides the fact
    // that this is a Windows path. Keep it recognisable instead.
    const drive = /^\/([A-Za-z]:\/.*)$/.exec(decodeURIComponent(url.pathname));
    if (!isWindows && drive) return drive[1]!.replace(/\//g, '\\');
    // file://server/share/x is a network share: show it as the UNC path Windows users know.
    if (!isWindows && url.host && url.host !== 'localhost') {
      return `\\\\${url.host}${decodeURIComponent(url.pathname).replace(/\//g, '\\')}`;
    }
    return fileURLToPath(url);
  }
  if (isWindows) return path.win32.normalize(p);
  if (WINDOWS_DRIVE.test(p) || WINDOWS_UNC.test(p)) return p;
  return p.replace(/\\/g, '/');
}

/** True for "C:\\..." or "\\\\server\\share" on an OS where such a path cannot exist. */
export function isForeignWindowsPath(p: string): boolean {
  return !isWindows && (WINDOWS_DRIVE.test(p) || WINDOWS_UNC.test(p));
}

/**
 * Checks that `p` names an existing file and returns the normalized path, or throws
 * source_missing with a message that helps (wrong OS, folder instead of file).
 */
export async function requireMediaFile(input: string): Promise<string> {
  const p = normalizeMediaPath(input);
  if (isForeignWindowsPath(p)) {
    throw new ReshootError(
      'source_missing',
      `Media file not found: "${p}" is a Windows path, but the companion runs on ${process.platform}. ` +
        `Give the path of the file as this machine sees it.`,
    );
  }
  let s;
  try {
    s = await stat(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new ReshootError('source_missing', `Media file not found: "${p}".`);
    }
    throw new ReshootError('source_unreadable', `Cannot open media file "${p}" (${code ?? String(e)}).`, { cause: e });
  }
  checkPlainFile(p, s);
  if (s.size === 0) throw new ReshootError('corrupt_media', `"${p}" is empty (0 bytes), not a media file.`);
  await sniffPlaylist(p);
  return p;
}

/**
 * Reads size, exact rate, frame count, codec and alpha of the first video stream of `input`:
 * a media file, or an image sequence given as its folder or a printf pattern (sequence.ts).
 */
export async function probe(input: string): Promise<MediaInfo> {
  const seq = await findSequence(normalizeMediaPath(input));
  if (!seq) return probeFile(await requireMediaFile(input));
  const first = await probeFile(await requireMediaFile(seq.first));
  const { timecode: _tc, reelName: _reel, audio: _audio, ...picture } = first;
  return { ...picture, path: seq.pattern, isImage: false, frameCount: seq.count, durationSeconds: 0, sequence: { start: seq.start, ext: seq.ext } };
}

/** The sequence `p` names, if it names one: an existing folder, or a printf pattern that is not itself a file. */
async function findSequence(p: string): Promise<ImageSequence | undefined> {
  let s;
  try {
    s = await stat(p);
  } catch {
    return isSequencePattern(p) ? sequenceFromPattern(p) : undefined;
  }
  return s.isDirectory() ? sequenceInFolder(p) : undefined;
}

async function probeFile(p: string): Promise<MediaInfo> {
  const args = ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', ...inputArgs(p)];
  const result = await runTool(await ffprobePath(), args, { timeoutMs: 60_000 });
  if (result.code !== 0) {
    const why = summarizeStderr(result.stderr) || `ffprobe exited with ${result.code ?? result.signal}`;
    throw new ReshootError('corrupt_media', `"${p}" is not a readable media file (${why}).`);
  }
  let json: FfprobeJson;
  try {
    json = JSON.parse(result.stdout.toString('utf8')) as FfprobeJson;
  } catch (e) {
    throw new ReshootError('source_unreadable', `ffprobe gave no usable answer for "${p}".`, { cause: e });
  }
  const streams = json.streams ?? [];
  const stream = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  if (!stream || !stream.width || !stream.height) {
    throw new ReshootError('corrupt_media', `"${p}" has no video stream (is it an audio file or not media at all?).`);
  }
  const info = describe(p, stream, json.format ?? {});
  info.sampleAspect = parseSar(stream.sample_aspect_ratio);
  info.rotation = rotationOf(stream);
  if (info.rotation === 90 || info.rotation === 270) {
    // Turned a quarter: the picture is displayed tall, and its pixels' shape turns with it.
    [info.width, info.height] = [info.height, info.width];
    info.sampleAspect = rational(info.sampleAspect.den, info.sampleAspect.num);
  }
  // Timecode lives on the video stream, a tmcd data track (mov) or the container (mxf).
  // Matroska spells its tags in capitals (TIMECODE).
  const tagged = (key: string) =>
    [stream, ...streams.filter((s) => s.codec_type === 'data'), json.format ?? {}].map((s) => s.tags?.[key] ?? s.tags?.[key.toUpperCase()]).find(Boolean);
  const timecode = tagged('timecode');
  const reelName = tagged('reel_name');
  if (timecode) info.timecode = timecode;
  if (reelName) info.reelName = reelName;
  const a = streams.find((s) => s.codec_type === 'audio');
  if (a && num(a.sample_rate) && a.channels) {
    const formatStart = num(json.format?.start_time) ?? 0;
    info.audio = {
      codec: a.codec_name ?? 'unknown',
      sampleRate: num(a.sample_rate)!,
      channels: a.channels,
      sampleFormat: a.sample_fmt ?? 'unknown',
      startOffset: Math.max(0, (num(a.start_time) ?? formatStart) - formatStart),
    };
  }
  return info;
}

interface FfprobeStream {
  codec_type?: string;
  sample_aspect_ratio?: string;
  side_data_list?: { side_data_type?: string; rotation?: number }[];
  codec_name?: string;
  sample_rate?: string;
  sample_fmt?: string;
  channels?: number;
  disposition?: Record<string, number>;
  profile?: string;
  width?: number;
  height?: number;
  pix_fmt?: string;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  nb_frames?: string;
  duration?: string;
  start_time?: string;
  color_space?: string;
  color_range?: string;
  color_primaries?: string;
  color_transfer?: string;
  bits_per_raw_sample?: string;
  tags?: Record<string, string>;
}
interface FfprobeFormat {
  tags?: Record<string, string>;
  format_name?: string;
  duration?: string;
  start_time?: string;
}
interface FfprobeJson {
  streams?: FfprobeStream[];
  format?: FfprobeFormat;
}

function describe(p: string, s: FfprobeStream, f: FfprobeFormat): MediaInfo {
  const formatName = f.format_name ?? '';
  // Single images come through the image2 demuxer or one of the *_pipe image demuxers.
  const isImage = formatName === 'image2' || formatName.endsWith('_pipe');
  const fps = pickFrameRate(s.r_frame_rate, s.avg_frame_rate);
  const durationSeconds = num(s.duration) ?? matroskaDuration(s.tags) ?? num(f.duration) ?? 0;
  let frameCount: number;
  if (isImage) frameCount = 1;
  else if (num(s.nb_frames) && num(s.nb_frames)! > 0) frameCount = num(s.nb_frames)!;
  else {
    // Matroska and some others carry no frame count; the duration covers the last frame fully,
    // so rounding recovers it (durations are stored to the millisecond, well under half a frame).
    frameCount = Math.round((durationSeconds * fps.num) / fps.den);
  }
  const pixFmt = s.pix_fmt ?? 'unknown';
  const videoStart = num(s.start_time) ?? 0;
  const formatStart = num(f.start_time) ?? videoStart;
  return {
    path: p,
    width: s.width!,
    height: s.height!,
    fps,
    frameCount,
    durationSeconds: isImage ? 0 : durationSeconds,
    codec: s.codec_name ?? 'unknown',
    profile: s.profile && s.profile !== 'unknown' ? s.profile : undefined,
    pixFmt,
    bitDepth: pixFmtBitDepth(pixFmt, num(s.bits_per_raw_sample)),
    hasAlpha: pixFmtHasAlpha(pixFmt),
    isImage,
    videoStartOffset: Math.max(0, videoStart - formatStart),
    colorSpace: tag(s.color_space),
    colorPrimaries: tag(s.color_primaries),
    colorTransfer: tag(s.color_transfer),
    colorRange: tag(s.color_range),
    sampleAspect: rational(1),
    rotation: 0,
  };
}

/** A colour tag, or undefined when absent or "unknown"/"unspecified". */
function tag(v: string | undefined): string | undefined {
  return v && v !== 'unknown' && v !== 'unspecified' && v !== 'reserved' ? v : undefined;
}

function parseSar(text?: string): Rational {
  const m = /^(\d+):(\d+)$/.exec(text ?? '');
  if (!m || Number(m[1]) === 0 || Number(m[2]) === 0) return rational(1);
  return rational(Number(m[1]), Number(m[2]));
}

/**
 * The display rotation, clockwise, from the stream's display matrix (newer ffprobe: side data,
 * counter-clockwise degrees) or its "rotate" tag (older files and ffprobe: clockwise degrees).
 */
function rotationOf(s: FfprobeStream): MediaInfo['rotation'] {
  const matrix = s.side_data_list?.find((d) => d.side_data_type === 'Display Matrix' && typeof d.rotation === 'number');
  const clockwise = matrix ? -matrix.rotation! : Number(s.tags?.rotate ?? 0);
  const r = ((Math.round(clockwise / 90) * 90) % 360 + 360) % 360;
  return r as MediaInfo['rotation'];
}

/**
 * r_frame_rate is the exact base rate for constant-rate video (24000/1001), while avg_frame_rate
 * can be a long approximation (2997/125). Use r_frame_rate unless it disagrees with the average
 * by more than 1% (variable-rate phone footage, where r_frame_rate can read 90000/1).
 */
function pickFrameRate(r?: string, avg?: string): Rational {
  const real = parseFfRate(r);
  const average = parseFfRate(avg);
  if (real && (!average || Math.abs(toNumber(real) / toNumber(average) - 1) < 0.01)) return real;
  if (average) return average;
  return rational(25); // ffmpeg's own default when nothing is known
}

function parseFfRate(text?: string): Rational | undefined {
  const m = /^(\d+)\/(\d+)$/.exec(text ?? '');
  if (!m || Number(m[1]) === 0 || Number(m[2]) === 0) return undefined;
  return rational(Number(m[1]), Number(m[2]));
}

/** Matroska stores the stream duration as a tag "HH:MM:SS.nnnnnnnnn". */
function matroskaDuration(tags?: Record<string, string>): number | undefined {
  const text = tags?.DURATION ?? tags?.duration;
  const m = /^(\d+):(\d+):(\d+(?:\.\d+)?)$/.exec(text ?? '');
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : undefined;
}

function num(text?: string): number | undefined {
  if (text === undefined || text === 'N/A') return undefined;
  const v = Number(text);
  return Number.isFinite(v) ? v : undefined;
}

/**
 * Bits per sample from an ffmpeg pixel format name: a trailing number is the depth
 * (yuv422p10le, gbrp12le, gray16be) except for the packed RGB names that count the whole pixel
 * (rgb48 = 3×16, rgba64 = 4×16); float formats (gbrpf32le, EXR) are 32. Everything else is 8.
 */
export function pixFmtBitDepth(pixFmt: string, rawBits?: number): number {
  if (/f32/.test(pixFmt)) return 32;
  if (/f16/.test(pixFmt)) return 16;
  if (/^(rgb|bgr)48|^(rgba|bgra)64|^ya16|^gray16|^xyz12/.test(pixFmt)) return /^xyz12/.test(pixFmt) ? 12 : 16;
  if (/^(p010|p210|p410)/.test(pixFmt)) return 10;
  if (/^(p016|p216|p416)/.test(pixFmt)) return 16;
  if (/^(x2rgb10|x2bgr10|v210|y210)/.test(pixFmt)) return 10;
  const m = /[a-z](9|10|12|14|16)(le|be)?$/.exec(pixFmt);
  if (m) return Number(m[1]);
  return rawBits && rawBits > 8 ? rawBits : 8;
}

/** ffmpeg pixel format names carry alpha as an "a" component: rgba, yuva444p10le, gbrap, ya8... */
export function pixFmtHasAlpha(pixFmt: string): boolean {
  return /^(yuva|gbrap|ya\d)|^(rgba|bgra|argb|abgr)|^(rgba64|bgra64)/.test(pixFmt) || pixFmt === 'pal8';
}
