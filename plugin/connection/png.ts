/**
 * PNG in and out, in plain TypeScript, for frames by value: Premiere's Exporter writes a PNG per
 * timeline frame, the panel decodes it to RGB and streams the pixels to the companion
 * (protocol/binary.ts). UXP's canvas cannot read pixels back and TextDecoder/DecompressionStream
 * are not guaranteed, so decoding is done here (inflate.ts).
 *
 * Decodes 8- and 16-bit grey, grey+alpha, RGB, RGBA and palette images (1–8 bit), non-interlaced
 * (Adam7 is refused with a clear message); every chunk's CRC is checked. Encodes 8-bit RGB/RGBA
 * with stored deflate blocks (the in-memory host's exported frames).
 */
import { deflateStored, inflate } from './inflate.ts';

export interface RgbImage {
  width: number;
  height: number;
  channels: 3 | 4;
  /** Rows top to bottom, no padding. */
  pixels: Uint8Array;
}

const SIGNATURE = [137, 80, 78, 71, 13, 10, 26, 10];

let CRC_TABLE: Uint32Array | null = null;
export function crc32(data: Uint8Array, crc = 0): number {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let c = ~crc >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

export class PngError extends Error {
  constructor(message: string) {
    super(`PNG: ${message}`);
    this.name = 'PngError';
  }
}

const u32 = (b: Uint8Array, o: number) => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const typeOf = (b: Uint8Array, o: number) => String.fromCharCode(b[o]!, b[o + 1]!, b[o + 2]!, b[o + 3]!);

/** True when `bytes` is a complete PNG (signature through IEND), e.g. a file finished writing. */
export function isCompletePng(bytes: Uint8Array): boolean {
  if (bytes.length < 8 + 12 || SIGNATURE.some((v, i) => bytes[i] !== v)) return false;
  let o = 8;
  while (o + 12 <= bytes.length) {
    const len = u32(bytes, o);
    if (typeOf(bytes, o + 4) === 'IEND') return o + 12 + len <= bytes.length;
    o += 12 + len;
  }
  return false;
}

/**
 * Decodes a PNG to 8-bit pixels: RGB (3 channels), or RGBA when `keepAlpha` and the image has
 * alpha (colour type 4/6 or a tRNS chunk). 16-bit samples are rounded to 8 bits.
 */
export function decodePng(bytes: Uint8Array, opts: { keepAlpha?: boolean } = {}): RgbImage {
  if (bytes.length < 8 || SIGNATURE.some((v, i) => bytes[i] !== v)) throw new PngError('not a PNG file (bad signature)');
  let o = 8;
  let ihdr: { width: number; height: number; depth: number; color: number; interlace: number } | null = null;
  let palette: Uint8Array | null = null;
  let trns: Uint8Array | null = null;
  const idat: Uint8Array[] = [];
  let ended = false;
  while (o + 12 <= bytes.length) {
    const len = u32(bytes, o);
    const type = typeOf(bytes, o + 4);
    if (o + 12 + len > bytes.length) throw new PngError(`chunk ${type} runs past the end of the file (truncated?)`);
    const body = bytes.subarray(o + 8, o + 8 + len);
    if (crc32(bytes.subarray(o + 4, o + 8 + len)) !== u32(bytes, o + 8 + len)) throw new PngError(`CRC mismatch in chunk ${type}`);
    if (type === 'IHDR') {
      ihdr = { width: u32(body, 0), height: u32(body, 4), depth: body[8]!, color: body[9]!, interlace: body[12]! };
    } else if (type === 'PLTE') palette = body;
    else if (type === 'tRNS') trns = body;
    else if (type === 'IDAT') idat.push(body);
    else if (type === 'IEND') {
      ended = true;
      break;
    }
    o += 12 + len;
  }
  if (!ihdr) throw new PngError('no IHDR chunk');
  if (!ended) throw new PngError('no IEND chunk (the file is incomplete)');
  const { width, height, depth, color, interlace } = ihdr;
  if (interlace !== 0) throw new PngError('interlaced (Adam7) PNGs are not supported; export without interlacing');
  const samples = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[color];
  if (!samples) throw new PngError(`unknown colour type ${color}`);
  const okDepth = color === 0 || color === 3 ? [1, 2, 4, 8, 16].includes(depth) && !(color === 3 && depth === 16) : depth === 8 || depth === 16;
  if (!okDepth) throw new PngError(`bit depth ${depth} is not valid for colour type ${color}`);
  if (color === 3 && !palette) throw new PngError('a palette image without a PLTE chunk');
  if (width < 1 || height < 1) throw new PngError(`empty image ${width}x${height}`);

  const bitsPerPixel = samples * depth;
  const bpp = Math.max(1, bitsPerPixel >> 3); // bytes per pixel for filtering
  const stride = Math.ceil((width * bitsPerPixel) / 8);
  const total = idat.reduce((n, c) => n + c.length, 0);
  const z = new Uint8Array(total);
  let at = 0;
  for (const c of idat) {
    z.set(c, at);
    at += c.length;
  }
  const raw = inflate(z, (stride + 1) * height);
  if (raw.length < (stride + 1) * height) throw new PngError(`image data is ${raw.length} bytes; ${width}x${height} needs ${(stride + 1) * height}`);

  // Undo the per-row filters in place.
  const data = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const prev = row - stride;
    for (let x = 0; x < stride; x++) {
      const v = raw[src + x]!;
      const a = x >= bpp ? data[row + x - bpp]! : 0;
      const b = y > 0 ? data[prev + x]! : 0;
      const c = x >= bpp && y > 0 ? data[prev + x - bpp]! : 0;
      let out: number;
      switch (filter) {
        case 0: out = v; break;
        case 1: out = v + a; break;
        case 2: out = v + b; break;
        case 3: out = v + ((a + b) >> 1); break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          out = v + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
          break;
        }
        default:
          throw new PngError(`unknown filter ${filter} on row ${y}`);
      }
      data[row + x] = out & 0xff;
    }
  }

  const hasAlpha = color === 4 || color === 6 || trns !== null;
  const channels: 3 | 4 = opts.keepAlpha && hasAlpha ? 4 : 3;
  const pixels = new Uint8Array(width * height * channels);
  const sample = (row: number, i: number): number => {
    // The i-th sample of a row, scaled to 8 bits.
    if (depth === 8) return data[row + i]!;
    if (depth === 16) return Math.round(((data[row + 2 * i]! << 8) | data[row + 2 * i + 1]!) / 257);
    const perByte = 8 / depth;
    const byte = data[row + Math.floor(i / perByte)]!;
    const shift = 8 - depth * ((i % perByte) + 1);
    const v = (byte >> shift) & ((1 << depth) - 1);
    return color === 3 ? v : Math.round((v * 255) / ((1 << depth) - 1));
  };
  const raw16 = (row: number, i: number) => (depth === 16 ? (data[row + 2 * i]! << 8) | data[row + 2 * i + 1]! : depth === 8 ? data[row + i]! : -1);
  for (let y = 0; y < height; y++) {
    const row = y * stride;
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * channels;
      let r: number, g: number, b: number, a = 255;
      if (color === 3) {
        const idx = sample(row, x);
        if (idx * 3 + 2 >= palette!.length) throw new PngError(`palette index ${idx} out of range`);
        r = palette![idx * 3]!;
        g = palette![idx * 3 + 1]!;
        b = palette![idx * 3 + 2]!;
        if (trns && idx < trns.length) a = trns[idx]!;
      } else if (color === 0 || color === 4) {
        r = g = b = sample(row, x * samples);
        if (color === 4) a = sample(row, x * samples + 1);
        else if (trns && trns.length >= 2) {
          const key = (trns[0]! << 8) | trns[1]!;
          const v = depth >= 8 ? raw16(row, x) : (data[row + Math.floor(x / (8 / depth))]! >> (8 - depth * ((x % (8 / depth)) + 1))) & ((1 << depth) - 1);
          if (v === key) a = 0;
        }
      } else {
        r = sample(row, x * samples);
        g = sample(row, x * samples + 1);
        b = sample(row, x * samples + 2);
        if (color === 6) a = sample(row, x * samples + 3);
        else if (trns && trns.length >= 6) {
          const k = [(trns[0]! << 8) | trns[1]!, (trns[2]! << 8) | trns[3]!, (trns[4]! << 8) | trns[5]!];
          if (raw16(row, x * 3) === k[0] && raw16(row, x * 3 + 1) === k[1] && raw16(row, x * 3 + 2) === k[2]) a = 0;
        }
      }
      pixels[p] = r;
      pixels[p + 1] = g;
      pixels[p + 2] = b;
      if (channels === 4) pixels[p + 3] = a;
    }
  }
  return { width, height, channels, pixels };
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  v.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

/** An 8-bit RGB or RGBA PNG (filter 0, stored deflate): larger than need be, valid everywhere. */
export function encodePng(img: RgbImage): Uint8Array {
  const { width, height, channels, pixels } = img;
  if (pixels.length !== width * height * channels) throw new PngError(`pixels has ${pixels.length} bytes; ${width}x${height}x${channels} needs ${width * height * channels}`);
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8;
  ihdr[9] = channels === 4 ? 6 : 2;
  const stride = width * channels;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const parts = [new Uint8Array(SIGNATURE), chunk('IHDR', ihdr), chunk('IDAT', deflateStored(raw)), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
