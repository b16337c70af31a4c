/**
 * An EXR plate read as it is stored, for a job that writes it back to EXR: each image of the
 * sequence is decoded here (exrRead.ts), not by ffmpeg, whose 4.1 decoder clips to [0, 1]. The
 * frames are DeepFrames whose 16-bit words are the plate's half-float bits (media/linear.ts), so
 * the encoder can write every untouched sample back bit for bit.
 *
 * The job's picture is the plate's display window, the frame a compositor sees. A data window
 * that differs from it is honoured both ways:
 *  - larger (overscan, e.g. for a later lens distortion or stabilization): the job works on the
 *    display window; a fill or replace writes the samples beyond it back as the plate's own
 *    (`PlateSurround`, used by the EXR writer), so the output keeps the plate's overscan;
 *  - smaller (a render's bounding box): the display window's pixels without data are 0, as EXR
 *    readers show them, and the output's data window is the display window.
 * A FLOAT plate travels as halves like any other; a fill or replace writes it back as FLOAT, each
 * sample the job did not change as the plate's own 32 bits (encode.ts).
 * No scaling happens on this path (scaling would change every sample anyway): the display window
 * must be the sequence's size, which `checkExrPlate` makes sure of before any work starts.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ReshootError } from '../errors.ts';
import { intersectRect } from '../engine/image.ts';
import { readExr, readExrHeader, type ExrBox, type ExrHeader, type ExrImage } from './exrRead.ts';
import type { AnyFrame, DeepFrame, Depth } from './frame.ts';
import { halfToDisplayTable } from './linear.ts';
import type { MediaInfo } from './probe.ts';
import { sequenceFile } from './sequence.ts';

/** Where a plate's samples are (data) and what its picture is (display), in EXR pixel coordinates. */
export interface ExrWindows {
  data: ExrBox;
  display: ExrBox;
}

export interface ExrPlateCheck {
  /** Notes for the provenance: channels the output will not carry (Z, AOVs), overscan left out. */
  notes: string[];
  windows: ExrWindows;
  /** A picture channel is stored as FLOAT (32-bit): a fill or replace writes FLOAT back. */
  float: boolean;
}

/**
 * Refuses, before work starts, a plate this path cannot carry exactly: a file exrRead.ts does
 * not read (named, with its compression or layout), or a display window that is not the
 * sequence's size. `keepsSurround`: the job writes the plate's own frames (fill, replace), so
 * samples beyond the display window go back too, and FLOAT samples as FLOAT; other kinds write
 * only the display window, in HALF.
 */
export async function checkExrPlate(info: MediaInfo, width: number, height: number, keepsSurround: boolean): Promise<ExrPlateCheck> {
  const { file, h } = await firstImageHeader(info);
  const { data, display } = { data: h.dataWindow, display: h.displayWindow };
  if (display.width !== width || display.height !== height) {
    throw new ReshootError(
      'bad_spec',
      `"${file}" is ${display.width}×${display.height} (its display window) but the sequence is ${width}×${height}. An EXR plate written back to EXR is kept sample for sample, ` +
        `values above 1.0 included, so it is never scaled: set the sequence to ${display.width}×${display.height}, or choose another output format (clipped to 0–1).`,
    );
  }
  const notes: string[] = [];
  const skipped = h.channels.map((c) => c.name).filter((n) => !['R', 'G', 'B', 'A'].includes(n));
  if (skipped.length) notes.push(`${path.basename(file)}: channels ${skipped.join(', ')} are not carried to the output (only R, G, B and A are)`);
  if (!keepsSurround && !contains(display, data)) notes.push(overscanNote(file, data, display));
  const float = h.channels.some((c) => ['R', 'G', 'B', 'A'].includes(c.name) && c.type === 'float');
  if (!keepsSurround && float) notes.push(`${path.basename(file)}: its FLOAT (32-bit) samples are written as HALF, the precision the job works at`);
  return { notes, windows: { data, display }, float };
}

/** The header of the plate's first image, whose windows and channels stand for the plate's. */
async function firstImageHeader(info: MediaInfo): Promise<{ file: string; h: ExrHeader }> {
  const file = sequenceFile(info.path, info.sequence!.start);
  return { file, h: readExrHeader(await readFile(file), file) };
}

/** Whether the plate's first image stores pixels beyond its display window (overscan). */
export async function hasOverscan(info: MediaInfo): Promise<boolean> {
  const { h } = await firstImageHeader(info);
  return !contains(h.displayWindow, h.dataWindow);
}

/**
 * For an EXR plate with overscan going to any output but EXR. ffmpeg 4.1 cannot decode such a
 * file ("Wrong or missing size information"), so `exrDisplayFrames` reads it instead, without a
 * scaler: its display window must be the sequence's size. Refused before work starts otherwise.
 * Returns the provenance's note that the overscan is left out.
 */
export async function checkOverscanPlate(info: MediaInfo, width: number, height: number): Promise<string[]> {
  const { file, h } = await firstImageHeader(info);
  const d = h.displayWindow;
  if (contains(d, h.dataWindow)) return [];
  if (d.width !== width || d.height !== height) {
    throw new ReshootError(
      'bad_spec',
      `"${file}" stores pixels beyond its display window (data window ${describeBox(h.dataWindow)}, display window ${describeBox(d)}: overscan), ` +
        `which the bundled ffmpeg cannot decode. Reshoot reads such a plate itself, at its display window's size: set the sequence to ${d.width}×${d.height}.`,
    );
  }
  return [overscanNote(file, h.dataWindow, d)];
}

/** For the provenance: what of an overscan plate the output leaves out. */
function overscanNote(file: string, data: ExrBox, display: ExrBox): string {
  return `${path.basename(file)}: the overscan beyond the display window (data window ${describeBox(data)}) is not carried to the output, which covers the display window ${describeBox(display)}`;
}

/**
 * An EXR plate with overscan, as ffmpeg shows every other EXR plate to a job whose output is not
 * EXR: the display window, linear values through the sRGB curve clipped to 0..1 (`-apply_trc
 * iec61966_2_1`), alpha clipped to 0..1, at 8 or 16 bits. NaN reads as black, as in the model's
 * view of a plate (linear.ts; ffmpeg shows it white).
 */
export async function* exrDisplayFrames(info: MediaInfo, start: number, count: number, width: number, height: number, channels: 3 | 4, depth: Depth): AsyncGenerator<AnyFrame, void, undefined> {
  const colour = halfToDisplayTable('srgb', depth);
  const alpha = halfToDisplayTable('unit', depth);
  for await (const f of exrPlateFrames(info, start, count, width, height, channels)) {
    const data = depth === 16 ? new Uint16Array(f.data.length) : new Uint8Array(f.data.length);
    for (let i = 0; i < data.length; i++) data[i] = (channels === 4 && i % 4 === 3 ? alpha : colour)[f.data[i]!]!;
    yield depth === 16 ? { width, height, channels, depth: 16, data: data as Uint16Array } : { width, height, channels, data: data as Uint8Array };
  }
}

/** Images [start, start + count) of the plate (0 = its first image), as display-window half-bit frames with `channels` channels. */
export async function* exrPlateFrames(info: MediaInfo, start: number, count: number, width: number, height: number, channels: 3 | 4): AsyncGenerator<DeepFrame, void, undefined> {
  const plate = plateSurround(info, start, count, channels);
  for (let i = 0; i < count; i++) {
    const image = await plate.image(i);
    const display = image.displayWindow;
    if (display.width !== width || display.height !== height) {
      throw new ReshootError('source_unreadable', `"${plate.file(i)}" shows ${display.width}×${display.height}, not ${width}×${height} like the plate's first image; an EXR plate read as stored is never scaled.`);
    }
    yield { width, height, channels, depth: 16, data: copyWindow(image.data, image.dataWindow, display, channels) };
  }
}

/** The plate's stored images, for the EXR writer to put back what lies beyond the display window. */
export interface PlateSurround {
  /** Image `i` of the job's span (0 = its first) as stored, with the job's channels. */
  image(i: number): Promise<ExrImage>;
  file(i: number): string;
}

/** The images [start, start + count) of an EXR plate, read as stored. */
export function plateSurround(info: MediaInfo, start: number, count: number, channels: 3 | 4): PlateSurround {
  const seq = info.sequence!;
  if (start + count > info.frameCount) {
    throw new ReshootError('bad_range', `Frames ${start}–${start + count - 1} are past the end of "${info.path}": the sequence has ${info.frameCount} images.`);
  }
  const file = (i: number): string => sequenceFile(info.path, seq.start + start + i);
  return {
    file,
    async image(i) {
      const image = await readExr(file(i));
      if (image.channels === channels) return image;
      const floatBits = image.floatBits ? reshape(image.floatBits, image.channels, channels, FLOAT_ONE) : undefined;
      return { ...image, channels, data: reshape(image.data, image.channels, channels, HALF_ONE), ...(floatBits ? { floatBits } : {}) };
    },
  };
}

/** Whether `outer` holds every pixel of `inner`. */
export function contains(outer: ExrBox, inner: ExrBox): boolean {
  return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width && inner.y + inner.height <= outer.y + outer.height;
}

/**
 * The samples of `from` (pixels laid out over box `src`) within box `dst`, as a new dst-sized
 * array; pixels of `dst` outside `src` are 0 (what an EXR reader shows where there is no data).
 */
export function copyWindow<T extends Uint16Array | Uint32Array>(from: T, src: ExrBox, dst: ExrBox, channels: number): T {
  const n = dst.width * dst.height * channels;
  const out = (from instanceof Uint32Array ? new Uint32Array(n) : new Uint16Array(n)) as T;
  pasteWindow(from, src, out, dst, channels);
  return out;
}

/** Writes the pixels of `from` (over box `src`) that fall inside box `dst` into `into` (over `dst`). */
export function pasteWindow<T extends Uint16Array | Uint32Array>(from: T, src: ExrBox, into: T, dst: ExrBox, channels: number): void {
  const both = intersectRect(src, dst);
  if (!both) return;
  const run = both.width * channels;
  for (let y = both.y; y < both.y + both.height; y++) {
    const s = ((y - src.y) * src.width + (both.x - src.x)) * channels;
    into.set(from.subarray(s, s + run), ((y - dst.y) * dst.width + (both.x - dst.x)) * channels);
  }
}

function describeBox(b: ExrBox): string {
  return `${b.width}×${b.height} at ${b.x},${b.y}`;
}

const HALF_ONE = 0x3c00;
const FLOAT_ONE = 0x3f800000;

/** RGBA → RGB drops alpha; RGB → RGBA adds an opaque one (`one`: 1.0 in the samples' format). */
function reshape<T extends Uint16Array | Uint32Array>(data: T, from: 3 | 4, to: 3 | 4, one: number): T {
  const n = data.length / from;
  const out = (data instanceof Uint32Array ? new Uint32Array(n * to) : new Uint16Array(n * to)) as T;
  for (let p = 0; p < n; p++) {
    out[p * to] = data[p * from]!;
    out[p * to + 1] = data[p * from + 1]!;
    out[p * to + 2] = data[p * from + 2]!;
    if (to === 4) out[p * to + 3] = one;
  }
  return out;
}
