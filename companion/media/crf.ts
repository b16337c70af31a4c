/**
 * H.264 compression of conditioning frames, as the LTX-Video authors prepare every conditioning
 * image and video frame (Lightricks/LTX-Video ltx_video/pipelines/crf_compressor.py, called from
 * inference.py's load_image_to_tensor_with_resize_and_crop): each frame on its own is encoded as
 * a one-frame libx264 stream (preset veryfast, yuv420p, the given CRF) and decoded back to RGB.
 * The models were trained on video that went through such a codec; a pristine still conditions
 * them less well than one that carries its artefacts.
 *
 * Only what the model sees is compressed: the pixels an editor keeps are composited from the
 * source, never from these.
 */
import { ReshootError } from '../errors.ts';
import { ffmpegPath, runTool, summarizeStderr } from './ffmpeg.ts';
import type { Frame } from './frame.ts';

/** Frames compressed at once (one ffmpeg pair each): the machine's other work keeps going. */
const CONCURRENCY = 2;

/**
 * Each frame through libx264 at `crf` and back (0 = unchanged, as the authors' compress()).
 * Odd widths/heights lose their last column/row first (yuv420p needs even sizes; the authors
 * crop the same way) and get it back by repetition, so the result has the input's size.
 */
export async function crfRoundTrip(frames: readonly Frame[], crf: number): Promise<Frame[]> {
  if (!Number.isInteger(crf) || crf < 0 || crf > 51) throw new RangeError(`CRF must be a whole number in [0, 51], got ${crf}`);
  if (crf === 0) return [...frames];
  const bin = await ffmpegPath();
  const out: Frame[] = new Array(frames.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < frames.length; i = next++) out[i] = await roundTrip(bin, frames[i]!, crf);
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, frames.length) }, worker));
  return out;
}

async function roundTrip(bin: string, f: Frame, crf: number): Promise<Frame> {
  const w = f.width & ~1;
  const h = f.height & ~1;
  if (w === 0 || h === 0) throw new RangeError(`a ${f.width}×${f.height} frame is too small to compress`);
  const rgb = evenRgb(f, w, h);
  const size = `${w}x${h}`;
  const raw = ['-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', size];
  const encoded = await runTool(
    bin,
    ['-hide_banner', '-loglevel', 'error', ...raw, '-r', '1', '-i', 'pipe:0', '-frames:v', '1', '-c:v', 'libx264', '-preset', 'veryfast', '-crf', String(crf), '-pix_fmt', 'yuv420p', '-f', 'h264', 'pipe:1'],
    { input: rgb, timeoutMs: 60_000 },
  );
  if (encoded.code !== 0 || encoded.stdout.length === 0) throw failed('encode', encoded.stderr);
  const decoded = await runTool(bin, ['-hide_banner', '-loglevel', 'error', '-f', 'h264', '-i', 'pipe:0', '-frames:v', '1', ...raw, 'pipe:1'], {
    input: encoded.stdout,
    timeoutMs: 60_000,
  });
  if (decoded.code !== 0 || decoded.stdout.length !== w * h * 3) throw failed('decode', decoded.stderr);
  return padBack(new Uint8Array(decoded.stdout.buffer, decoded.stdout.byteOffset, decoded.stdout.length), w, h, f.width, f.height);
}

/** The frame's RGB, cropped to w × h from the top left. */
function evenRgb(f: Frame, w: number, h: number): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  const ch = f.channels;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * f.width + x) * ch;
      const o = (y * w + x) * 3;
      out[o] = f.data[s]!;
      out[o + 1] = f.data[s + 1]!;
      out[o + 2] = f.data[s + 2]!;
    }
  }
  return out;
}

/** w × h RGB back to width × height, repeating the last column/row where the crop took one. */
function padBack(rgb: Uint8Array, w: number, h: number, width: number, height: number): Frame {
  if (w === width && h === height) return { width, height, channels: 3, data: Uint8Array.from(rgb) };
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (Math.min(y, h - 1) * w + Math.min(x, w - 1)) * 3;
      data.set(rgb.subarray(s, s + 3), (y * width + x) * 3);
    }
  }
  return { width, height, channels: 3, data };
}

function failed(what: string, stderr: string): ReshootError {
  return new ReshootError('internal', `could not ${what} a conditioning frame with libx264 (ffmpeg: ${summarizeStderr(stderr) || 'no message'})`);
}
