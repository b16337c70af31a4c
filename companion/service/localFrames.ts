/**
 * Frames by path: when the panel runs on the same machine, Premiere exports the timeline frames
 * (effects and grading included) straight into the companion's frames folder, and the job names
 * the files (`source.files`) instead of streaming decoded pixels over the socket. Nothing is
 * decoded on the panel's UI thread and nothing crosses the socket but file names.
 *
 * The files are untrusted names from a client: every one must be a PNG inside the frames folder
 * (symbolic links resolved), all of one size. They become the same lossless upload clip that
 * socket uploads become (uploads.ts), so the rest of the service sees an ordinary upload; the
 * frame files are deleted once read, whether the job is accepted or refused. Files outside the
 * folder are never touched.
 */
import { mkdirSync } from 'node:fs';
import { open, realpath, rm } from 'node:fs/promises';
import path from 'node:path';
import type { JobSpec } from '../../protocol/index.ts';
import type { Rational } from '../../protocol/rational.ts';
import { ReshootError } from '../errors.ts';
import { readImage } from '../media/decode.ts';
import { probe } from '../media/probe.ts';
import { acceptSpec, type SpecInput } from './submit.ts';
import { Upload } from './uploads.ts';
import type { SpecValidator } from './validator.ts';

/** The folder (inside the uploads folder) that panels export frames into; named in the connection file. */
export function framesFolder(uploadsDir: string): string {
  return path.join(uploadsDir, 'frames');
}

export function ensureFramesFolder(uploadsDir: string): string {
  const dir = framesFolder(uploadsDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from a PNG's IHDR; a clear error for anything that is not a PNG. */
async function pngSize(file: string, at: string): Promise<{ width: number; height: number }> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(24);
    const { bytesRead } = await fh.read(head, 0, 24, 0);
    if (bytesRead < 24 || !head.subarray(0, 8).equals(PNG_SIGNATURE) || head.toString('latin1', 12, 16) !== 'IHDR') {
      throw new ReshootError('bad_spec', `${at}: ${path.basename(file)} is not a PNG image`);
    }
    return { width: head.readUInt32BE(16), height: head.readUInt32BE(20) };
  } finally {
    await fh.close();
  }
}

/**
 * The real paths of `files`, each checked to be inside the frames folder. Throws before any file
 * is read or deleted when one is not.
 */
export async function checkFrameFiles(uploadsDir: string, files: string[], at: string): Promise<string[]> {
  const root = await realpath(ensureFramesFolder(uploadsDir));
  const out: string[] = [];
  const lexicalRoot = path.resolve(framesFolder(uploadsDir));
  const outside = (i: number, f: string) =>
    new ReshootError('bad_spec', `${at}.files[${i}]: ${f} is not inside the companion's frames folder (${lexicalRoot}); export frames there or upload them`);
  for (const [i, f] of files.entries()) {
    // Named outside (before anything is looked up), then resolved outside (symbolic links).
    if (!path.isAbsolute(f) || !path.resolve(f).startsWith(lexicalRoot + path.sep)) throw outside(i, f);
    let real: string;
    try {
      real = await realpath(f);
    } catch {
      throw new ReshootError('source_missing', `${at}.files[${i}]: ${path.basename(f)} does not exist`);
    }
    if (!real.startsWith(root + path.sep)) throw outside(i, f);
    out.push(real);
  }
  return out;
}

/** Reads checked frame files (in order) into a new upload clip; returns its upload id. */
async function framesToUpload(uploadsDir: string, files: string[], fps: Rational, at: string): Promise<string> {
  const size = await pngSize(files[0]!, `${at}.files[0]`);
  const upload = await Upload.begin(uploadsDir, 0, { width: size.width, height: size.height, channels: 3, frames: files.length, fps });
  try {
    const info = await probe(files[0]!);
    for (const [i, f] of files.entries()) {
      const s = await pngSize(f, `${at}.files[${i}]`);
      if (s.width !== size.width || s.height !== size.height) {
        throw new ReshootError('bad_spec', `${at}.files[${i}]: ${path.basename(f)} is ${s.width}x${s.height}, the first frame is ${size.width}x${size.height}`);
      }
      const frame = await readImage(f, { info: { ...info, path: f }, channels: 3 });
      await upload.write(i, frame.width, frame.height, 3, frame.data);
    }
    await upload.finish();
    return upload.id;
  } catch (e) {
    await upload.abort().catch(() => undefined);
    throw e;
  }
}

type JsonSource = Record<string, unknown>;

/**
 * acceptSpec (submit.ts) for specs that may name frame files: the spec is validated as usual (off
 * the event loop), each `files` source is read into an upload and named by its upload id, then the
 * spec is accepted as usual. Once their names are checked, the frame files are deleted either way.
 */
export async function acceptSpecWithFrames(input: SpecInput, uploadsDir: string, validator: SpecValidator): Promise<JobSpec> {
  const spec = 'checked' in input ? input.checked : await validator.spec(input);
  const named: { at: string; files: string[]; set: (s: JsonSource) => void }[] = [];
  const copy = structuredClone(spec) as unknown as { source?: JsonSource; sources?: { a: JsonSource; b: JsonSource } };
  if (spec.kind === 'bridge') {
    for (const k of ['a', 'b'] as const) {
      const s = spec.sources[k];
      if (s.files) named.push({ at: `sources.${k}`, files: s.files, set: (v) => (copy.sources![k] = v) });
    }
  } else if (spec.source?.files) {
    named.push({ at: 'source', files: spec.source.files, set: (v) => (copy.source = v) });
  }
  if (named.length === 0) return acceptSpec({ checked: spec }, uploadsDir, validator);

  // Check every name before reading or deleting anything.
  const checked = await Promise.all(named.map((n) => checkFrameFiles(uploadsDir, n.files, n.at)));
  try {
    for (const [i, n] of named.entries()) {
      const id = await framesToUpload(uploadsDir, checked[i]!, spec.sequence.fps, n.at);
      const original = (n.at === 'source' ? copy.source : copy.sources![n.at.slice(-1) as 'a' | 'b'])!;
      const { files: _files, ...rest } = original;
      n.set({ ...rest, upload: id });
    }
  } finally {
    await Promise.all(checked.flat().map((f) => rm(f, { force: true })));
  }
  return acceptSpec({ checked: copy as unknown as JobSpec }, uploadsDir, validator);
}
