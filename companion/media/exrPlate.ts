/**
 * An EXR plate read as it is stored, for a job that writes it back to EXR: each image of the
 * sequence is decoded here (exrRead.ts), not by ffmpeg, whose 4.1 decoder clips to [0, 1]. The
 * frames are DeepFrames whose 16-bit words are the plate's half-float bits (media/linear.ts), so
 * the encoder can write every untouched sample back bit for bit.
 *
 * No scaling happens on this path (scaling would change every sample anyway): the plate must be
 * the sequence's size, which `checkExrPlate` makes sure of before any work starts.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ReshootError } from '../errors.ts';
import { readExr, readExrHeader } from './exrRead.ts';
import type { DeepFrame } from './frame.ts';
import type { MediaInfo } from './probe.ts';
import { sequenceFile } from './sequence.ts';

/**
 * Refuses, before work starts, a plate this path cannot carry exactly: a file exrRead.ts does
 * not read (named, with its compression or layout), or a picture that is not the sequence's size.
 * Returns notes for the provenance: channels the output will not carry (Z, AOVs).
 */
export async function checkExrPlate(info: MediaInfo, width: number, height: number): Promise<string[]> {
  const seq = info.sequence!;
  const file = sequenceFile(info.path, seq.start);
  const h = readExrHeader(await readFile(file), file);
  if (h.width !== width || h.height !== height) {
    throw new ReshootError(
      'bad_spec',
      `"${file}" is ${h.width}×${h.height} but the sequence is ${width}×${height}. An EXR plate written back to EXR is kept sample for sample, ` +
        `values above 1.0 included, so it is never scaled: set the sequence to ${h.width}×${h.height}, or choose another output format (clipped to 0–1).`,
    );
  }
  const [d, s] = [h.dataWindow, h.displayWindow];
  if (d.x !== s.x || d.y !== s.y || d.width !== s.width || d.height !== s.height) {
    throw new ReshootError(
      'source_unreadable',
      `"${file}": its data window (${d.width}×${d.height} at ${d.x},${d.y}) differs from its display window (${s.width}×${s.height} at ${s.x},${s.y}); ` +
        `overscan plates are not carried to EXR. Crop the plate to its display window, or choose another output format.`,
    );
  }
  const skipped = h.channels.map((c) => c.name).filter((n) => !['R', 'G', 'B', 'A'].includes(n));
  return skipped.length ? [`${path.basename(file)}: channels ${skipped.join(', ')} are not carried to the output (only R, G, B and A are)`] : [];
}

/** Images [start, start + count) of the plate (0 = its first image), as width × height half-bit frames with `channels` channels. */
export async function* exrPlateFrames(info: MediaInfo, start: number, count: number, width: number, height: number, channels: 3 | 4): AsyncGenerator<DeepFrame, void, undefined> {
  const seq = info.sequence!;
  if (start + count > info.frameCount) {
    throw new ReshootError('bad_range', `Frames ${start}–${start + count - 1} are past the end of "${info.path}": the sequence has ${info.frameCount} images.`);
  }
  for (let i = 0; i < count; i++) {
    const file = sequenceFile(info.path, seq.start + start + i);
    const img = await readExr(file);
    if (img.width !== width || img.height !== height) {
      throw new ReshootError('source_unreadable', `"${file}" is ${img.width}×${img.height}, not ${width}×${height} like the plate's first image; an EXR plate read as stored is never scaled.`);
    }
    yield { width: img.width, height: img.height, channels, depth: 16, data: img.channels === channels ? img.data : reshape(img.data, img.channels, channels) };
  }
}

/** RGBA → RGB drops alpha; RGB → RGBA adds an opaque one (half 1.0). */
function reshape(data: Uint16Array, from: 3 | 4, to: 3 | 4): Uint16Array {
  const n = data.length / from;
  const out = new Uint16Array(n * to);
  for (let p = 0; p < n; p++) {
    out[p * to] = data[p * from]!;
    out[p * to + 1] = data[p * from + 1]!;
    out[p * to + 2] = data[p * from + 2]!;
    if (to === 4) out[p * to + 3] = 0x3c00;
  }
  return out;
}
