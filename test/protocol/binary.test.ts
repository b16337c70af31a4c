import { describe, expect, it } from 'vitest';
import {
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  decodeFrameMessage,
  encodeFrameMessage,
  writeFrameHeader,
  type FrameHeader,
} from '../../protocol/index.ts';

function pixelsFor(h: FrameHeader): Uint8Array {
  const p = new Uint8Array(h.width * h.height * h.channels);
  for (let i = 0; i < p.length; i++) p[i] = (i * 31 + h.frameIndex) & 0xff;
  return p;
}

/** Byte equality without vitest's per-element deep compare (slow for megabytes). */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function decoded(buf: Uint8Array) {
  const r = decodeFrameMessage(buf);
  if (!r.ok) throw new Error(r.message);
  return r;
}

function refusal(buf: Uint8Array): string {
  const r = decodeFrameMessage(buf);
  if (r.ok) throw new Error('expected the frame to be refused');
  return r.message;
}

const base: FrameHeader = { handle: 7, frameIndex: 3, width: 16, height: 9, channels: 4 };
const valid = () => encodeFrameMessage(base, pixelsFor(base));

describe('frame header layout', () => {
  it('is 24 little-endian bytes starting with RSHT', () => {
    const buf = encodeFrameMessage({ handle: 0x01020304, frameIndex: 0x0a0b0c0d, width: 0x0102, height: 0x0304, channels: 3 }, new Uint8Array(0x0102 * 0x0304 * 3));
    expect(FRAME_HEADER_BYTES).toBe(24);
    expect(Array.from(buf.subarray(0, 24))).toEqual([
      0x54, 0x48, 0x53, 0x52, // magic 0x52534854 LE: "THSR"
      1, 1, 0, 0, // version, kind, reserved
      0x04, 0x03, 0x02, 0x01, // handle
      0x0d, 0x0c, 0x0b, 0x0a, // frameIndex
      0x02, 0x01, 0x04, 0x03, // width, height
      3, 0, 0, 0, // channels, reserved
    ]);
    expect(FRAME_MAGIC).toBe(0x52534854);
  });
});

describe('round trip', () => {
  it.each([
    [1, 1, 3],
    [16, 16, 3],
    [16, 9, 4],
    [17, 13, 3], // odd sizes: no row padding
    [640, 360, 4],
    [1920, 1080, 3],
    [4096, 16, 4],
  ])('%ix%ix%i', (width, height, channels) => {
    const header: FrameHeader = { handle: 0xffffffff, frameIndex: 9999, width, height, channels: channels as 3 | 4 };
    const pixels = pixelsFor(header);
    const buf = encodeFrameMessage(header, pixels);
    expect(buf.length).toBe(24 + width * height * channels);
    const r = decoded(buf);
    expect(r.header).toEqual(header);
    expect(sameBytes(r.pixels, pixels)).toBe(true);
    // A view, not a copy.
    expect(r.pixels.buffer).toBe(buf.buffer);
    expect(r.pixels.byteOffset).toBe(buf.byteOffset + 24);
  });

  it('decodes from a view at an offset into a larger buffer (as Node Buffers often are)', () => {
    const msg = valid();
    const big = new Uint8Array(msg.length + 13);
    big.set(msg, 5);
    const r = decoded(big.subarray(5, 5 + msg.length));
    expect(r.header).toEqual(base);
    expect(sameBytes(r.pixels, pixelsFor(base))).toBe(true);
  });

  it('decodes an ArrayBuffer (what a browser WebSocket delivers)', () => {
    const msg = valid();
    expect(decodeFrameMessage(msg.slice().buffer)).toMatchObject({ ok: true, header: base });
  });

  it('writeFrameHeader fills a buffer the caller owns', () => {
    const buf = new Uint8Array(24 + 16 * 9 * 4);
    buf.set(pixelsFor(base), 24);
    writeFrameHeader(buf, base);
    expect(sameBytes(buf, valid())).toBe(true);
  });
});

describe('encoding refuses what cannot be sent', () => {
  it.each([
    [{ ...base, handle: -1 }, 'handle'],
    [{ ...base, handle: 2 ** 32 }, 'handle'],
    [{ ...base, frameIndex: 1.5 }, 'frameIndex'],
    [{ ...base, width: 0 }, 'width'],
    [{ ...base, height: 65536 }, 'height'],
    [{ ...base, channels: 5 as 3 }, 'channels'],
  ])('%j', (header, what) => {
    expect(() => encodeFrameMessage(header, new Uint8Array(16 * 9 * 4))).toThrow(new RegExp(what));
  });

  it('pixels of the wrong length', () => {
    expect(() => encodeFrameMessage(base, new Uint8Array(16 * 9 * 3))).toThrow(/needs 576/);
    expect(() => writeFrameHeader(new Uint8Array(10), base)).toThrow(RangeError);
  });
});

describe('corrupted frames are refused', () => {
  const patched = (edit: (v: DataView, b: Uint8Array) => void) => {
    const b = valid();
    edit(new DataView(b.buffer, b.byteOffset, b.byteLength), b);
    return b;
  };

  it('bad magic', () => {
    expect(refusal(patched((v) => v.setUint32(0, 0x52534855, true)))).toMatch(/bad magic/);
    expect(refusal(patched((v) => v.setUint32(0, FRAME_MAGIC, false)))).toMatch(/bad magic/);
  });

  it('bad version or kind', () => {
    expect(refusal(patched((v) => v.setUint8(4, 2)))).toMatch(/version 2/);
    expect(refusal(patched((v) => v.setUint8(5, 0)))).toMatch(/kind 0/);
  });

  it('non-zero reserved bytes', () => {
    for (const at of [6, 7, 21, 22, 23]) expect(refusal(patched((v) => v.setUint8(at, 1)))).toMatch(/reserved/);
  });

  it('channels other than 3 or 4', () => {
    for (const c of [0, 1, 2, 5, 255]) expect(refusal(patched((v) => v.setUint8(20, c)))).toMatch(/channels is/);
  });

  it('empty frames', () => {
    expect(refusal(patched((v) => v.setUint16(16, 0, true)))).toMatch(/empty frame/);
  });

  it('short: less than a header', () => {
    for (const n of [0, 1, 4, 23]) expect(refusal(valid().subarray(0, n))).toMatch(/shorter than the 24-byte header/);
  });

  it('short or long payload', () => {
    const b = valid();
    expect(refusal(b.subarray(0, b.length - 1))).toMatch(/needs exactly 600/);
    expect(refusal(b.subarray(0, 24))).toMatch(/needs exactly/);
    const longer = new Uint8Array(b.length + 1);
    longer.set(b);
    expect(refusal(longer)).toMatch(/is 601 bytes/);
  });

  it('a header whose size disagrees with the payload', () => {
    expect(refusal(patched((v) => v.setUint16(16, 17, true)))).toMatch(/needs exactly/);
    expect(refusal(patched((v) => v.setUint8(20, 3)))).toMatch(/needs exactly/);
    // Claims a huge frame: refused by length, no allocation.
    expect(refusal(patched((v) => { v.setUint16(16, 0xffff, true); v.setUint16(18, 0xffff, true); }))).toMatch(/needs exactly/);
  });

  it('not binary at all', () => {
    for (const v of [undefined, null, 'RSHT', 5, {}]) {
      expect(decodeFrameMessage(v as unknown as Uint8Array)).toMatchObject({ ok: false });
    }
  });
});
