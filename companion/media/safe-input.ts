/**
 * Opening a user's media path with ffmpeg/ffprobe without letting the file steer them elsewhere.
 *
 * A source must be a plain file (or an image sequence of plain files). ffmpeg would happily read
 * a FIFO (and block forever), /dev/zero (and never end), or a playlist — an ffconcat list or an
 * HLS .m3u8 — that names other files or URLs, which a job spec from a web page or a shared batch
 * file must never be able to make the companion read. So:
 * - `checkPlainFile` refuses anything that is not a regular file, naming what it is;
 * - `sniffPlaylist` recognises playlists by their first bytes before ffprobe ever opens them;
 * - `inputArgs` opens every input through the `file` protocol only and a whitelist of demuxers
 *   that read media, never lists of other paths (defence in depth behind the sniff).
 */
import type { Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { ReshootError } from '../errors.ts';

/**
 * Demuxers that read pictures and sound from the file they are given. Names as ffmpeg spells
 * them; a demuxer with several names ("mov,mp4,m4a,...") matches by any one of them. Absent on
 * purpose: concat, hls, dash, tee, ffmetadata, lavfi, data, subfile, and anything network.
 */
export const SAFE_DEMUXERS = [
  'mov', 'matroska', 'avi', 'mxf', 'mpegts', 'mpeg', 'mpegvideo', 'h264', 'hevc', 'm4v', 'dv', 'flv', 'gif', 'ivf',
  'yuv4mpegpipe', 'wav', 'aiff', 'image2', 'apng',
  'png_pipe', 'jpeg_pipe', 'tiff_pipe', 'dpx_pipe', 'exr_pipe', 'bmp_pipe', 'webp_pipe', 'ppm_pipe', 'pgm_pipe',
  'pam_pipe', 'psd_pipe', 'sgi_pipe', 'j2k_pipe', 'qdraw_pipe', 'pictor_pipe',
].join(',');

/**
 * The ffmpeg/ffprobe arguments that open `p` as an input: file protocol only, media demuxers
 * only. The `file:` prefix also keeps a name like "take:2.mov" from being read as a protocol.
 */
export function inputArgs(p: string, extra: string[] = []): string[] {
  return ['-protocol_whitelist', 'file', '-format_whitelist', SAFE_DEMUXERS, ...extra, '-i', `file:${p}`];
}

/** Refuses anything but a regular file, saying what it is instead. */
export function checkPlainFile(p: string, s: Stats): void {
  if (s.isFile()) return;
  const what = s.isFIFO()
    ? 'a named pipe (FIFO)'
    : s.isCharacterDevice() || s.isBlockDevice()
      ? 'a device'
      : s.isSocket()
        ? 'a socket'
        : s.isDirectory()
          ? 'a folder'
          : 'not a regular file';
  throw new ReshootError('source_unreadable', `"${p}" is ${what}, not a media file; sources must be ordinary files or image sequences.`);
}

const PLAYLIST_SIGNATURES: { test: RegExp; name: string }[] = [
  { test: /^ffconcat version/, name: 'an ffconcat list' },
  { test: /^#EXTM3U/, name: 'an HLS/M3U playlist' },
  { test: /^<\?xml[\s\S]*<MPD|^<MPD/, name: 'a DASH manifest' },
  { test: /^\[playlist\]/i, name: 'a PLS playlist' },
  { test: /^<\?xml[\s\S]*<(smil|playlist|ASX)|^<(smil|asx)/i, name: 'a playlist' },
];

/**
 * Refuses a playlist or list of files by its first bytes, before ffprobe opens it: a list makes
 * ffmpeg open the paths it names, which are not what the user picked.
 */
export async function sniffPlaylist(p: string): Promise<void> {
  const fh = await open(p, 'r');
  let head: string;
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    head = buf.subarray(0, bytesRead).toString('latin1').replace(/^\uFEFF|^\xEF\xBB\xBF/, '').trimStart();
  } finally {
    await fh.close();
  }
  const hit = PLAYLIST_SIGNATURES.find((s) => s.test.test(head));
  if (hit) {
    throw new ReshootError(
      'source_unreadable',
      `"${p}" is ${hit.name}, not a media file; Reshoot does not open the paths a playlist names. Give the media file itself.`,
    );
  }
}
