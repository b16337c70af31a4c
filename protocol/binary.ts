/**
 * The binary WebSocket message that carries one uploaded frame: a fixed 24-byte little-endian
 * header, then the pixels (width × height × channels bytes, rows top to bottom, no padding).
 *
 *   off size field
 *    0   4   magic      0x52534854 ('RSHT' read as a little-endian u32)
 *    4   1   version    1
 *    5   1   kind       1 = frame
 *    6   2   reserved   0
 *    8   4   handle     from upload.ready
 *   12   4   frameIndex
 *   16   2   width
 *   18   2   height
 *   20   1   channels   3 or 4
 *   21   3   reserved   0
 *   24   …   pixels
 *
 * Shared by panel and companion: DataView and Uint8Array only (UXP may lack TextEncoder).
 */

export const FRAME_HEADER_BYTES = 24;
export const FRAME_MAGIC = 0x52534854;
export const FRAME_VERSION = 1;
export const FRAME_KIND = 1;

export interface FrameHeader {
  handle: number;
  frameIndex: number;
  width: number;
  height: number;
  channels: 3 | 4;
}

export type FrameDecodeResult =
  | { ok: true; header: FrameHeader; pixels: Uint8Array }
  | { ok: false; message: string };

/** Payload bytes of a frame. */
export function frameBytes(width: number, height: number, channels: number): number {
  return width * height * channels;
}

/** Header + pixels in one new buffer. Throws RangeError on a header that cannot be encoded. */
export function encodeFrameMessage(header: FrameHeader, pixels: Uint8Array): Uint8Array {
  checkHeader(header);
  const n = frameBytes(header.width, header.height, header.channels);
  if (pixels.length !== n) {
    throw new RangeError(
      `pixels has ${pixels.length} bytes; ${header.width}x${header.height}x${header.channels} needs ${n}`,
    );
  }
  const out = new Uint8Array(FRAME_HEADER_BYTES + n);
  writeFrameHeader(out, header);
  out.set(pixels, FRAME_HEADER_BYTES);
  return out;
}

/**
 * Writes the header into the first 24 bytes of `target` (for a sender that fills the pixels in
 * place after it, with no second copy). Throws RangeError on a bad header or short target.
 */
export function writeFrameHeader(target: Uint8Array, header: FrameHeader): void {
  checkHeader(header);
  if (target.length < FRAME_HEADER_BYTES) throw new RangeError(`target has ${target.length} bytes; the header needs ${FRAME_HEADER_BYTES}`);
  const v = new DataView(target.buffer, target.byteOffset, FRAME_HEADER_BYTES);
  v.setUint32(0, FRAME_MAGIC, true);
  v.setUint8(4, FRAME_VERSION);
  v.setUint8(5, FRAME_KIND);
  v.setUint16(6, 0, true);
  v.setUint32(8, header.handle, true);
  v.setUint32(12, header.frameIndex, true);
  v.setUint16(16, header.width, true);
  v.setUint16(18, header.height, true);
  v.setUint8(20, header.channels);
  v.setUint8(21, 0);
  v.setUint16(22, 0, true);
}

/** Reads a frame message. Never throws; `pixels` is a view into `buf` (no copy). */
export function decodeFrameMessage(buf: Uint8Array | ArrayBuffer): FrameDecodeResult {
  try {
    const bytes = buf instanceof Uint8Array ? buf : buf instanceof ArrayBuffer ? new Uint8Array(buf) : undefined;
    if (!bytes) return fail('expected binary data');
    if (bytes.length < FRAME_HEADER_BYTES) {
      return fail(`frame message is ${bytes.length} bytes, shorter than the ${FRAME_HEADER_BYTES}-byte header`);
    }
    const v = new DataView(bytes.buffer, bytes.byteOffset, FRAME_HEADER_BYTES);
    const magic = v.getUint32(0, true);
    if (magic !== FRAME_MAGIC) return fail(`bad magic 0x${hex(magic)} (expected 0x${hex(FRAME_MAGIC)}, "RSHT")`);
    const version = v.getUint8(4);
    if (version !== FRAME_VERSION) return fail(`unsupported frame message version ${version} (this side reads ${FRAME_VERSION})`);
    const kind = v.getUint8(5);
    if (kind !== FRAME_KIND) return fail(`unknown message kind ${kind} (expected ${FRAME_KIND} = frame)`);
    if (v.getUint16(6, true) !== 0 || v.getUint8(21) !== 0 || v.getUint16(22, true) !== 0) {
      return fail('reserved header bytes must be zero');
    }
    const handle = v.getUint32(8, true);
    const frameIndex = v.getUint32(12, true);
    const width = v.getUint16(16, true);
    const height = v.getUint16(18, true);
    const channels = v.getUint8(20);
    if (channels !== 3 && channels !== 4) return fail(`channels is ${channels}; expected 3 or 4`);
    if (width === 0 || height === 0) return fail(`empty frame ${width}x${height}`);
    const expected = FRAME_HEADER_BYTES + frameBytes(width, height, channels);
    if (bytes.length !== expected) {
      return fail(
        `frame message is ${bytes.length} bytes; a ${width}x${height}x${channels} frame needs exactly ${expected} (${FRAME_HEADER_BYTES}-byte header + pixels)`,
      );
    }
    return { ok: true, header: { handle, frameIndex, width, height, channels }, pixels: bytes.subarray(FRAME_HEADER_BYTES) };
  } catch (e) {
    return fail(`unreadable frame message (${e instanceof Error ? e.message : String(e)})`);
  }
}

function checkHeader(h: FrameHeader): void {
  const isInt = (x: unknown, max: number, min = 0) => typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max;
  if (!isInt(h.handle, 0xffffffff)) throw new RangeError(`handle must be a u32, got ${h.handle}`);
  if (!isInt(h.frameIndex, 0xffffffff)) throw new RangeError(`frameIndex must be a u32, got ${h.frameIndex}`);
  if (!isInt(h.width, 0xffff, 1)) throw new RangeError(`width must be 1..65535, got ${h.width}`);
  if (!isInt(h.height, 0xffff, 1)) throw new RangeError(`height must be 1..65535, got ${h.height}`);
  if (h.channels !== 3 && h.channels !== 4) throw new RangeError(`channels must be 3 or 4, got ${h.channels}`);
}

function fail(message: string): FrameDecodeResult {
  return { ok: false, message };
}

function hex(n: number): string {
  return n.toString(16).padStart(8, '0');
}
