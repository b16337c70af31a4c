/**
 * A minimal OpenEXR writer for tests (the bundled ffmpeg 4.1 reads EXR but cannot write it):
 * scanline, uncompressed, half-float R, G, B — enough to make a real linear-light plate.
 * Layout per the OpenEXR file-layout document: magic, version, header attributes, offset table,
 * then one block per scanline (y, byte count, then each channel's row in channel-name order).
 */
import { writeFileSync } from 'node:fs';

function half(v: number): number {
  // Round-to-nearest float32 → float16 for the finite, non-negative range tests use.
  if (v <= 0) return 0;
  const f = new Float32Array([v]);
  const bits = new Uint32Array(f.buffer)[0]!;
  const exp = ((bits >>> 23) & 0xff) - 127 + 15;
  const mant = bits & 0x7fffff;
  if (exp <= 0) return Math.round((mant | 0x800000) / 2 ** (14 - exp)) >>> 0;
  const h = (exp << 10) | (mant >>> 13);
  return h + ((mant >>> 12) & 1); // round half up on the dropped bits
}

function attr(name: string, type: string, data: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32LE(data.length);
  return Buffer.concat([Buffer.from(`${name}\0${type}\0`, 'latin1'), size, data]);
}

/** Writes `rgb(x, y)` (linear floats) as an uncompressed half-float EXR of width × height. */
export function writeExr(file: string, width: number, height: number, rgb: (x: number, y: number) => [number, number, number]): void {
  const chlist = Buffer.concat([
    ...['B', 'G', 'R'].map((c) => {
      const b = Buffer.alloc(c.length + 1 + 16);
      b.write(`${c}\0`, 0, 'latin1');
      b.writeInt32LE(1, c.length + 1); // HALF
      b.writeInt32LE(1, c.length + 9); // xSampling
      b.writeInt32LE(1, c.length + 13); // ySampling
      return b;
    }),
    Buffer.from([0]),
  ]);
  const box = Buffer.alloc(16);
  box.writeInt32LE(0, 0);
  box.writeInt32LE(0, 4);
  box.writeInt32LE(width - 1, 8);
  box.writeInt32LE(height - 1, 12);
  const f32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeFloatLE(v);
    return b;
  };
  const header = Buffer.concat([
    Buffer.from([0x76, 0x2f, 0x31, 0x01, 2, 0, 0, 0]),
    attr('channels', 'chlist', chlist),
    attr('compression', 'compression', Buffer.from([0])),
    attr('dataWindow', 'box2i', box),
    attr('displayWindow', 'box2i', box),
    attr('lineOrder', 'lineOrder', Buffer.from([0])),
    attr('pixelAspectRatio', 'float', f32(1)),
    attr('screenWindowCenter', 'v2f', Buffer.alloc(8)),
    attr('screenWindowWidth', 'float', f32(1)),
    Buffer.from([0]),
  ]);
  const rowBytes = width * 2 * 3;
  const blockBytes = 8 + rowBytes;
  const table = Buffer.alloc(8 * height);
  const blocks = Buffer.alloc(blockBytes * height);
  for (let y = 0; y < height; y++) {
    table.writeBigUInt64LE(BigInt(header.length + table.length + y * blockBytes), y * 8);
    const o = y * blockBytes;
    blocks.writeInt32LE(y, o);
    blocks.writeInt32LE(rowBytes, o + 4);
    for (let x = 0; x < width; x++) {
      const [r, g, b] = rgb(x, y);
      blocks.writeUInt16LE(half(b), o + 8 + x * 2);
      blocks.writeUInt16LE(half(g), o + 8 + width * 2 + x * 2);
      blocks.writeUInt16LE(half(r), o + 8 + width * 4 + x * 2);
    }
  }
  writeFileSync(file, Buffer.concat([header, table, blocks]));
}
