import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors, SafetensorsFile, writeSafetensors, writeShardedSafetensors } from '../../companion/models/safetensors.ts';
import { bfloat16ToFloat, floatToBfloat16, floatToHalf, halfToFloat } from '../../companion/models/precision.ts';
import { isReshootError } from '../../companion/errors.ts';
import { seededNormals } from '../../companion/models/weights.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'reshoot-safetensors-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Writes a raw file: 8-byte header length, header JSON, data. */
function rawFile(name: string, header: unknown, dataBytes: number): string {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([len, json, Buffer.alloc(dataBytes)]));
  return path;
}

function openError(path: string): string {
  try {
    SafetensorsFile.open(path).close();
  } catch (e) {
    expect(isReshootError(e), String(e)).toBe(true);
    return (e as Error).message;
  }
  throw new Error(`${path} opened`);
}

describe('safetensors', () => {
  it('round-trips F32 exactly, F16 and BF16 to their precision, with metadata', () => {
    const values = seededNormals(5, 3 * 7);
    values[0] = 0;
    values[1] = -2.5; // exact in all three
    values[2] = 1e-6; // an fp16 subnormal
    const path = join(dir, 'three.safetensors');
    writeSafetensors(
      path,
      [
        { name: 'a.f32', shape: [3, 7], dtype: 'F32', data: values },
        { name: 'b.f16', shape: [3, 7], dtype: 'F16', data: values },
        { name: 'c.bf16', shape: [21], dtype: 'BF16', data: values },
        { name: 'd.empty', shape: [0, 4], dtype: 'F32', data: new Float32Array(0) },
      ],
      { format: 'pt' },
    );
    // The header is padded to 8 bytes, as the reference writer does.
    const headerLen = Number(readFileSync(path).readBigUInt64LE(0));
    expect(headerLen % 8).toBe(0);
    const f = openSafetensors(path);
    try {
      expect(f.names()).toEqual(['a.f32', 'b.f16', 'c.bf16', 'd.empty']);
      expect(f.metadata()).toEqual({ format: 'pt' });
      expect(f.info('b.f16')).toMatchObject({ dtype: 'F16', shape: [3, 7] });
      expect(f.read('a.f32')).toEqual(values);
      const half = f.read('b.f16');
      const bf = f.read('c.bf16');
      for (let i = 0; i < values.length; i++) {
        expect(Math.abs(half[i] - values[i])).toBeLessThanOrEqual(Math.abs(values[i]) * 2 ** -11 + 2 ** -25);
        expect(Math.abs(bf[i] - values[i])).toBeLessThanOrEqual(Math.abs(values[i]) * 2 ** -8);
      }
      expect([half[1], bf[1]]).toEqual([-2.5, -2.5]);
      expect(half[2]).toBe(17 * 2 ** -24); // nearest fp16 subnormal
      // fp16 values read back are exactly the rounded fp16 values.
      expect(half).toEqual(halfToFloat(floatToHalf(values)));
      expect(f.read('d.empty')).toEqual(new Float32Array(0));
      expect(() => f.read('nope')).toThrow(/has no tensor "nope"/);
    } finally {
      f.close();
    }
  });

  it('converts to and from fp16 and bf16 bit-exactly on known patterns', () => {
    const cases: [number, number][] = [
      [1, 0x3c00],
      [-2, 0xc000],
      [65504, 0x7bff],
      [65520, 0x7c00], // halfway past the largest value rounds to infinity
      [2 ** -24, 0x0001],
      [2 ** -14, 0x0400],
      [1 + 2 ** -11, 0x3c00], // tie to even (down)
      [1 + 3 * 2 ** -11, 0x3c02], // tie to even (up)
      [0.1, 0x2e66],
      [-0, 0x8000],
      [Infinity, 0x7c00],
    ];
    const bits = floatToHalf(Float32Array.from(cases, (c) => c[0]));
    expect(Array.from(bits)).toEqual(cases.map((c) => c[1]));
    expect(Array.from(halfToFloat(Uint16Array.from([0x3c00, 0x7bff, 0x0001, 0xfc00])))).toEqual([1, 65504, 2 ** -24, -Infinity]);
    expect(Number.isNaN(halfToFloat(floatToHalf(Float32Array.of(NaN)))[0])).toBe(true);
    const bf = floatToBfloat16(Float32Array.of(1, -2.5, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 3e38));
    expect(Array.from(bf)).toEqual([0x3f80, 0xc020, 0x3f80, 0x3f82, 0x7f62]);
    expect(Array.from(bfloat16ToFloat(bf)).slice(0, 4)).toEqual([1, -2.5, 1, 1 + 2 ** -6]);
  });

  it('reads a sharded checkpoint through its index', () => {
    const sub = mkdtempSync(join(dir, 'sharded-'));
    const tensors = Array.from({ length: 5 }, (_, i) => ({ name: `w.${i}`, shape: [2, i + 1], dtype: 'BF16' as const, data: seededNormals(i, 2 * (i + 1)) }));
    const index = writeShardedSafetensors(sub, 'model', tensors, 2);
    const f = openSafetensors(index);
    try {
      expect(f.names().sort()).toEqual(tensors.map((t) => t.name));
      expect(f.files().map((s) => s.path)).toEqual([join(sub, 'model-00001-of-00002.safetensors'), join(sub, 'model-00002-of-00002.safetensors')]);
      expect(f.info('w.4')?.file).toBe(join(sub, 'model-00002-of-00002.safetensors'));
      expect(f.read('w.3').length).toBe(8);
    } finally {
      f.close();
    }
    // An index naming a tensor its shard lacks, and one naming a missing shard.
    const json = JSON.parse(readFileSync(index, 'utf8'));
    writeFileSync(index, JSON.stringify({ weight_map: { ...json.weight_map, 'w.9': 'model-00001-of-00002.safetensors' } }));
    expect(() => openSafetensors(index)).toThrow(/says "w\.9" is in model-00001-of-00002\.safetensors, which does not contain it/);
    writeFileSync(index, JSON.stringify({ weight_map: { ...json.weight_map, 'w.0': 'model-00009-of-00009.safetensors' } }));
    expect(() => openSafetensors(index)).toThrow(/lists shard model-00009-of-00009\.safetensors, which is missing/);
  });

  it('detects a truncated file from the header, naming the file and the tensor', () => {
    const path = join(dir, 'cut.safetensors');
    writeSafetensors(path, [
      { name: 'first', shape: [4], dtype: 'F32', data: new Float32Array(4) },
      { name: 'last', shape: [64], dtype: 'F32', data: new Float32Array(64) },
    ]);
    const size = readFileSync(path).length;
    truncateSync(path, size - 10);
    expect(openError(path)).toMatch(new RegExp(`${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: is truncated: tensor "last" ends at byte ${size} but the file has ${size - 10} bytes`));
    truncateSync(path, 20);
    expect(openError(path)).toMatch(/cut\.safetensors: is truncated: the header alone needs \d+ bytes, the file has 20/);
    truncateSync(path, 3);
    expect(openError(path)).toMatch(/cut\.safetensors: is truncated: 3 bytes/);
  });

  it('refuses malformed headers, each with a message naming what is wrong', () => {
    const entry = (dtype: string, shape: number[], offsets: [number, number]) => ({ dtype, shape, data_offsets: offsets });
    expect(openError(rawFile('dtype.safetensors', { x: entry('Q4', [2], [0, 2]) }, 2))).toMatch(/tensor "x" has unknown dtype "Q4"/);
    expect(openError(rawFile('span.safetensors', { x: entry('F32', [2, 3], [0, 20]) }, 24))).toMatch(/tensor "x" spans 20 bytes but F32 \[2,3\] needs 24/);
    expect(openError(rawFile('overlap.safetensors', { a: entry('F32', [4], [0, 16]), b: entry('F16', [4], [8, 16]) }, 16))).toMatch(/tensors "a" and "b" overlap/);
    expect(openError(rawFile('shape.safetensors', { x: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4))).toMatch(/tensor "x" has a malformed header entry/);
    expect(openError(rawFile('meta.safetensors', { __metadata__: { a: 1 } }, 0))).toMatch(/__metadata__ must map strings to strings/);
    const notJson = join(dir, 'notjson.safetensors');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(3n);
    writeFileSync(notJson, Buffer.concat([len, Buffer.from('{x]')]));
    expect(openError(notJson)).toMatch(/notjson\.safetensors: is not a safetensors file \(its header is not JSON\)/);
    const huge = join(dir, 'huge.safetensors');
    writeFileSync(huge, Buffer.from('PK\x03\x04garbage-zip-file'));
    expect(openError(huge)).toMatch(/huge\.safetensors: is not a safetensors file \(header length/);
    expect(openError(join(dir, 'absent.safetensors'))).toMatch(/cannot open .*absent\.safetensors/);
  });

  it('opens non-float tensors but refuses to read them as weights, naming the dtype', () => {
    const path = rawFile('ints.safetensors', { steps: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, 16);
    const f = SafetensorsFile.open(path);
    try {
      expect(f.info('steps')?.dtype).toBe('I64');
      expect(() => f.read('steps')).toThrow(/tensor "steps" is I64; only F32, F16, BF16 and FP8 \(F8_E4M3, F8_E5M2\) weights are supported/);
    } finally {
      f.close();
    }
  });
});
