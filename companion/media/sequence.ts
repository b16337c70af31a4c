/**
 * Image sequences as sources: how VFX plates arrive (shot_1001.exr, shot_1002.exr, …). A source
 * path may name the folder that holds one sequence, or a printf pattern ("shot_%04d.dpx"). The
 * frames must be numbered without gaps: a missing frame is named, never silently skipped or
 * held, because a plate with a hole is not the plate the editor has.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { ReshootError } from '../errors.ts';

export interface ImageSequence {
  /** printf pattern ffmpeg's image2 demuxer reads, absolute: "/plates/shot_%04d.exr". */
  pattern: string;
  /** Number of the first frame (1001 is common in VFX). */
  start: number;
  count: number;
  /** The first frame's file, probed for size and pixel format. */
  first: string;
  /** Lower-case extension without the dot: png, tif, tiff, dpx, exr, jpg. */
  ext: string;
}

const IMAGE_EXT = /^(png|tif|tiff|dpx|exr|jpg|jpeg|bmp|tga)$/i;
const NUMBERED = /^(.*?)(\d+)\.([A-Za-z]+)$/;
const PRINTF = /%0?(\d*)d/;

/** True when `p` looks like a printf frame pattern rather than a file name. */
export function isSequencePattern(p: string): boolean {
  return PRINTF.test(path.basename(p));
}

/** The sequence in folder `dir`; refuses a folder with no numbered images or with several sequences. */
export async function sequenceInFolder(dir: string): Promise<ImageSequence> {
  const groups = new Map<string, { prefix: string; ext: string; numbers: { n: number; digits: string }[] }>();
  for (const name of await readdir(dir)) {
    const m = NUMBERED.exec(name);
    if (!m || !IMAGE_EXT.test(m[3]!)) continue;
    const key = `${m[1]}\0${m[3]}`;
    const g = groups.get(key) ?? { prefix: m[1]!, ext: m[3]!, numbers: [] };
    g.numbers.push({ n: Number(m[2]), digits: m[2]! });
    groups.set(key, g);
  }
  if (groups.size === 0) {
    throw new ReshootError('source_unreadable', `"${dir}" is a folder with no numbered images (name_0001.png, .tif, .dpx, .exr…); give a media file or an image sequence.`);
  }
  if (groups.size > 1) {
    const names = [...groups.values()].map((g) => `${g.prefix}#.${g.ext}`).join(', ');
    throw new ReshootError('source_unreadable', `"${dir}" holds several image sequences (${names}); give one as a pattern, e.g. "${path.join(dir, `${[...groups.values()][0]!.prefix}%04d.${[...groups.values()][0]!.ext}`)}".`);
  }
  const g = [...groups.values()][0]!;
  return build(dir, g.prefix, g.ext, g.numbers, dir);
}

/** The sequence a printf pattern names ("shot_%04d.exr"); refuses one that matches nothing. */
export async function sequenceFromPattern(pattern: string): Promise<ImageSequence> {
  const dir = path.dirname(pattern);
  const base = path.basename(pattern);
  const m = PRINTF.exec(base)!;
  const width = m[1] ? Number(m[1]) : 0;
  const [before, after] = [base.slice(0, m.index), base.slice(m.index + m[0].length)];
  const re = new RegExp(`^${escape(before)}(\\d${width ? `{${width},}` : '+'})${escape(after)}$`);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new ReshootError('source_missing', `Image sequence not found: the folder of "${pattern}" cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)}).`, { cause: e });
  }
  const numbers = names.flatMap((n) => {
    const hit = re.exec(n);
    return hit ? [{ n: Number(hit[1]), digits: hit[1]! }] : [];
  });
  if (numbers.length === 0) throw new ReshootError('source_missing', `Image sequence not found: no file in "${dir}" matches "${base}".`);
  const ext = /\.([A-Za-z0-9]+)$/.exec(after)?.[1] ?? '';
  if (!IMAGE_EXT.test(ext)) throw new ReshootError('source_unreadable', `"${pattern}": .${ext} is not an image format Reshoot reads as a sequence (png, tif, dpx, exr, jpg).`);
  return build(dir, before, ext, numbers, pattern);
}

function build(dir: string, prefix: string, ext: string, numbers: { n: number; digits: string }[], asGiven: string): ImageSequence {
  numbers.sort((a, b) => a.n - b.n);
  // Padded when every number has the same width (1001–1012 reads as %04d, which also finds 0999).
  const width = numbers[0]!.digits.length;
  const sameWidth = numbers.every((x) => x.digits.length === width);
  const padded = width > 1 && sameWidth;
  if (!sameWidth && numbers.some((x) => x.digits.length > 1 && x.digits.startsWith('0'))) {
    throw new ReshootError('source_unreadable', `"${asGiven}": the frame numbers are padded to different widths; rename them to one width.`);
  }
  for (let i = 1; i < numbers.length; i++) {
    if (numbers[i]!.n !== numbers[i - 1]!.n + 1) {
      const missing = numbers[i - 1]!.n + 1;
      const file = `${prefix}${padded ? String(missing).padStart(width, '0') : missing}.${ext}`;
      throw new ReshootError('source_unreadable', `"${asGiven}": frame ${missing} (${file}) is missing from the sequence ${numbers[0]!.n}–${numbers[numbers.length - 1]!.n}.`);
    }
  }
  const digits = padded ? `%0${width}d` : '%d';
  const first = path.join(dir, `${prefix}${numbers[0]!.digits}.${ext}`);
  return { pattern: path.join(dir, `${prefix}${digits}.${ext}`), start: numbers[0]!.n, count: numbers.length, first, ext: ext.toLowerCase() };
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The file of image `n` of a sequence's printf pattern ("shot_%04d.exr", 1001 → "shot_1001.exr"). */
export function sequenceFile(pattern: string, n: number): string {
  return pattern.replace(PRINTF, (_, width: string) => String(n).padStart(width ? Number(width) : 0, '0'));
}
