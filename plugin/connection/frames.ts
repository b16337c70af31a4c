/**
 * Timeline frames by value: the host renders a sequence frame to a PNG file (effects and grading
 * included, Exporter.exportSequenceFrame in Premiere), the panel reads the file and decodes it to
 * the RGB pixels an upload carries (protocol/binary.ts).
 */
import type { Host } from '../host/types.ts';
import { fileUrl } from '../host/fileUrl.ts';
import { decodePng } from './png.ts';

/** Reads a whole binary file. */
export type ReadFile = (path: string) => Promise<Uint8Array>;

/** UXP's storage API, the part used here. */
interface UxpStorage {
  storage: {
    localFileSystem: { getEntryWithUrl(url: string): Promise<{ read(o: { format: symbol }): Promise<string | ArrayBuffer> }> };
    formats: { binary: symbol };
  };
}

declare const __non_webpack_require__: ((id: string) => unknown) | undefined;

/**
 * How this panel reads files: the host's own reader when it has one (the in-memory host keeps its
 * exported frames in memory), else UXP's file system (Premiere; `localFileSystem: fullAccess`).
 */
export function fileReaderFor(host: Host): ReadFile {
  const own = (host as Host & { readBinaryFile?: ReadFile }).readBinaryFile;
  if (typeof own === 'function') return (p) => own.call(host, p);
  return async (path) => {
    if (typeof __non_webpack_require__ !== 'function') throw new Error(`cannot read ${path}: no file system here`);
    const uxp = __non_webpack_require__('uxp') as UxpStorage;
    const entry = await uxp.storage.localFileSystem.getEntryWithUrl(fileUrl(path));
    const data = await entry.read({ format: uxp.storage.formats.binary });
    if (typeof data === 'string') throw new Error(`${path} was read as text, not bytes`);
    return new Uint8Array(data);
  };
}

/**
 * Exports the sequence frame at `ticks` and returns its RGB pixels (width × height × 3). The
 * exported file is deleted once read: frames by value leave nothing behind in the temp folder.
 */
export async function exportRgbFrame(host: Host, readFile: ReadFile, ticks: number, folder: string, width: number, height: number): Promise<Uint8Array> {
  const path = await host.exportFrame(ticks, folder, width, height);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } finally {
    await host.removeFile(path);
  }
  const img = decodePng(bytes);
  if (img.width !== width || img.height !== height) {
    throw new Error(`the exported frame ${path} is ${img.width}x${img.height}, not the ${width}x${height} asked for`);
  }
  return img.pixels;
}
