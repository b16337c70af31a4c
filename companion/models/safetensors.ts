/**
 * Reading (and, for fixtures, writing) safetensors files, the format diffusers checkpoints ship.
 *
 * Layout (huggingface/safetensors): an 8-byte little-endian header length N, N bytes of JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {string: string} }`,
 * then the data buffer; offsets are relative to the buffer's start.
 *
 * Why our own reader: checkpoints are many GB, so a file is never read whole. `open` reads only
 * the header and checks it against the file (dtype, shape × item size = byte span, spans inside
 * the file and not overlapping; a download cut short shows as spans past the end, reported with
 * the file's name); `read` then fetches ONE tensor with positioned reads and widens it to
 * Float32Array. Sharded checkpoints (`*.safetensors.index.json` with a weight_map) are opened as
 * one name → tensor view over their shards.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { ReshootError } from '../errors.ts';
import { bfloat16ToFloat, floatToBfloat16, floatToHalf, halfToFloat } from './precision.ts';

/** Every dtype the format defines, with its size in bytes; only the float ones can be read. */
const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
} as const;
export type SafetensorsDtype = keyof typeof DTYPE_BYTES;
/** The dtypes a checkpoint's weights may have (and fixtures are written in). */
export const FLOAT_DTYPES = ['F32', 'F16', 'BF16', 'F8_E4M3', 'F8_E5M2'] as const;
export type FloatDtype = (typeof FLOAT_DTYPES)[number];
export const isFloatDtype = (d: SafetensorsDtype): d is FloatDtype => (FLOAT_DTYPES as readonly string[]).includes(d);
/** For messages: the weight dtypes that can be read. */
export const FLOAT_DTYPES_TEXT = 'F32, F16, BF16 and FP8 (F8_E4M3, F8_E5M2)';

// ---- 8-bit floats (the authors' `-fp8` checkpoints store most weights as torch.float8_e4m3fn) ----

/**
 * Every value of an 8-bit float format, by its byte: `bias` and `mantissa` bits as in the OCP FP8
 * spec. E4M3 is the "fn" variant (no infinities; S.1111.111 is NaN, so its range ends at 448);
 * E5M2 is IEEE-like (exponent all ones: infinities and NaN). The authors' files carry no scale
 * tensors (Transformer3DModel loads them with a strict state dict), so a weight is its value.
 */
function fp8Table(exponentBits: number, mantissaBits: number, ieeeSpecials: boolean): Float32Array {
  const table = new Float32Array(256);
  const bias = (1 << (exponentBits - 1)) - 1;
  const maxExp = (1 << exponentBits) - 1;
  const mScale = 1 << mantissaBits;
  for (let b = 0; b < 256; b++) {
    const sign = b & 0x80 ? -1 : 1;
    const e = (b >> mantissaBits) & maxExp;
    const m = b & (mScale - 1);
    let v: number;
    if (ieeeSpecials && e === maxExp) v = m === 0 ? Infinity : NaN;
    else if (!ieeeSpecials && e === maxExp && m === mScale - 1) v = NaN;
    else if (e === 0) v = (m / mScale) * 2 ** (1 - bias);
    else v = (1 + m / mScale) * 2 ** (e - bias);
    table[b] = sign * v;
  }
  return table;
}
export const F8_E4M3_VALUES = fp8Table(4, 3, false);
export const F8_E5M2_VALUES = fp8Table(5, 2, true);
const FP8_TABLES = { F8_E4M3: F8_E4M3_VALUES, F8_E5M2: F8_E5M2_VALUES } as const;

/** Float32 → an 8-bit float's bytes, round to nearest (ties to the even code), saturating (fixtures). */
export function floatToFp8(values: Float32Array, dtype: 'F8_E4M3' | 'F8_E5M2'): Uint8Array {
  const table = FP8_TABLES[dtype];
  // Finite non-negative codes in ascending value order (codes 0..0x7f are ascending up to the specials).
  const codes: number[] = [];
  for (let b = 0; b < 0x80; b++) if (Number.isFinite(table[b])) codes.push(b);
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    const a = Math.abs(x);
    let lo = 0;
    let hi = codes.length - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (table[codes[mid]] <= a) lo = mid;
      else hi = mid;
    }
    const dLo = a - table[codes[lo]];
    const dHi = table[codes[hi]] - a;
    const code = a >= table[codes[hi]] ? codes[hi] : dLo < dHi || (dLo === dHi && (codes[lo] & 1) === 0) ? codes[lo] : codes[hi];
    out[i] = code | (x < 0 || Object.is(x, -0) ? 0x80 : 0);
  }
  return out;
}

/** An 8-bit float's bytes → float32. */
export function fp8ToFloat(bytes: Uint8Array, dtype: 'F8_E4M3' | 'F8_E5M2'): Float32Array {
  const table = FP8_TABLES[dtype];
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = table[bytes[i]];
  return out;
}

/** Headers beyond this are not a real checkpoint (the format's own reader caps at 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;
/** Positioned reads in chunks well under readSync's 2 GiB limit. */
const READ_CHUNK = 1 << 26;

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte span in the file. */
  begin: number;
  end: number;
  /** The file holding it. */
  file: string;
}

/** What a reader over one file or a sharded set offers. */
export interface TensorReader {
  /** Every tensor name. */
  names(): string[];
  info(name: string): TensorInfo | undefined;
  /** The tensor widened to float32 (throws naming the tensor if absent or not a float dtype). */
  read(name: string): Float32Array;
  metadata(): Record<string, string>;
  close(): void;
}

const entrySchema = z.object({
  dtype: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});

const bad = (file: string, what: string): ReshootError => new ReshootError('model', `${file}: ${what}`);

/** Reads `length` bytes at `position` into `target` (a view over the destination). */
function readFully(fd: number, target: Uint8Array, position: number, file: string): void {
  let done = 0;
  while (done < target.length) {
    const n = readSync(fd, target, done, Math.min(READ_CHUNK, target.length - done), position + done);
    if (n === 0) throw bad(file, `is truncated: ended while reading at byte ${position + done}`);
    done += n;
  }
}

/** One .safetensors file: header parsed and checked on open; tensors read on demand. */
export class SafetensorsFile implements TensorReader {
  private fd: number | undefined;
  private readonly tensors = new Map<string, TensorInfo>();
  private meta: Record<string, string> = {};
  readonly size: number;
  /** The raw header JSON (for fingerprints). */
  readonly headerText: string;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
    const file = path;
    this.size = fstatSync(fd).size;
    if (this.size < 8) throw bad(file, `is truncated: ${this.size} bytes, too short for a safetensors header`);
    const lenBuf = new Uint8Array(8);
    readFully(fd, lenBuf, 0, file);
    const headerLen = Number(new DataView(lenBuf.buffer).getBigUint64(0, true));
    if (headerLen > MAX_HEADER_BYTES) throw bad(file, `is not a safetensors file (header length ${headerLen} bytes)`);
    if (8 + headerLen > this.size) {
      throw bad(file, `is truncated: the header alone needs ${8 + headerLen} bytes, the file has ${this.size}`);
    }
    const headerBytes = new Uint8Array(headerLen);
    readFully(fd, headerBytes, 8, file);
    this.headerText = new TextDecoder().decode(headerBytes);
    let json: unknown;
    try {
      json = JSON.parse(this.headerText);
    } catch {
      throw bad(file, 'is not a safetensors file (its header is not JSON)');
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad(file, 'is not a safetensors file (its header is not a JSON object)');
    const dataStart = 8 + headerLen;
    const dataLen = this.size - dataStart;
    let needed = 0;
    let neededBy = '';
    for (const [name, raw] of Object.entries(json)) {
      if (name === '__metadata__') {
        const m = z.record(z.string(), z.string()).safeParse(raw);
        if (!m.success) throw bad(file, '__metadata__ must map strings to strings');
        this.meta = m.data;
        continue;
      }
      const parsed = entrySchema.safeParse(raw);
      if (!parsed.success) throw bad(file, `tensor "${name}" has a malformed header entry (needs dtype, shape, data_offsets)`);
      const { dtype, shape, data_offsets: [begin, end] } = parsed.data;
      if (!(dtype in DTYPE_BYTES)) throw bad(file, `tensor "${name}" has unknown dtype "${dtype}"`);
      const itemBytes = DTYPE_BYTES[dtype as SafetensorsDtype];
      const expected = shape.reduce((a, b) => a * b, 1) * itemBytes;
      if (end < begin || end - begin !== expected) {
        throw bad(file, `tensor "${name}" spans ${end - begin} bytes but ${dtype} [${shape}] needs ${expected}`);
      }
      if (end > needed) {
        needed = end;
        neededBy = name;
      }
      this.tensors.set(name, { name, dtype: dtype as SafetensorsDtype, shape, begin: dataStart + begin, end: dataStart + end, file });
    }
    if (needed > dataLen) {
      throw bad(
        file,
        `is truncated: tensor "${neededBy}" ends at byte ${dataStart + needed} but the file has ${this.size} bytes (an interrupted download? fetch it again)`,
      );
    }
    const spans = [...this.tensors.values()].filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
    for (let i = 1; i < spans.length; i++) {
      if (spans[i].begin < spans[i - 1].end) throw bad(file, `tensors "${spans[i - 1].name}" and "${spans[i].name}" overlap`);
    }
  }

  /** `open`, with every error naming the file (the header checks' messages do not always). */
  static openNamed(path: string): SafetensorsFile {
    try {
      return SafetensorsFile.open(path);
    } catch (e) {
      if (e instanceof ReshootError && !e.message.includes(path)) throw new ReshootError('model', `${path}: ${e.message}`, { cause: e });
      throw e;
    }
  }

  static open(path: string): SafetensorsFile {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (cause) {
      throw new ReshootError('model', `cannot open ${path}: ${(cause as Error).message}`, { cause });
    }
    try {
      return new SafetensorsFile(path, fd);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  info(name: string): TensorInfo | undefined {
    return this.tensors.get(name);
  }

  metadata(): Record<string, string> {
    return { ...this.meta };
  }

  read(name: string): Float32Array {
    const t = this.tensors.get(name);
    if (!t) throw bad(this.path, `has no tensor "${name}"`);
    if (this.fd === undefined) throw new Error(`${this.path} is closed`);
    if (!isFloatDtype(t.dtype)) throw bad(this.path, `tensor "${name}" is ${t.dtype}; only ${FLOAT_DTYPES_TEXT} weights are supported`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.dtype === 'F8_E4M3' || t.dtype === 'F8_E5M2') {
      const bytes = new Uint8Array(count);
      readFully(this.fd, bytes, t.begin, this.path);
      return fp8ToFloat(bytes, t.dtype);
    }
    if (t.dtype === 'F32') {
      const out = new Float32Array(count);
      readFully(this.fd, new Uint8Array(out.buffer), t.begin, this.path);
      return out;
    }
    const bits = new Uint16Array(count);
    readFully(this.fd, new Uint8Array(bits.buffer), t.begin, this.path);
    return t.dtype === 'F16' ? halfToFloat(bits) : bfloat16ToFloat(bits);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

const indexSchema = z.object({
  metadata: z.record(z.string(), z.unknown()).optional(),
  weight_map: z.record(z.string(), z.string()),
});

/** A sharded checkpoint: `<name>.safetensors.index.json` mapping each tensor to its shard. */
export class ShardedSafetensors implements TensorReader {
  private readonly shards = new Map<string, SafetensorsFile>();
  private readonly where = new Map<string, SafetensorsFile>();

  private constructor(readonly indexPath: string) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(indexPath, 'utf8'));
    } catch (cause) {
      throw new ReshootError('model', `${indexPath} is not readable JSON`, { cause });
    }
    const parsed = indexSchema.safeParse(json);
    if (!parsed.success) throw new ReshootError('model', `${indexPath} has no valid weight_map`);
    const dir = dirname(indexPath);
    try {
      for (const [name, shardName] of Object.entries(parsed.data.weight_map)) {
        if (shardName.includes('/') || shardName.includes('\\')) throw bad(indexPath, `shard "${shardName}" is not a file beside the index`);
        let shard = this.shards.get(shardName);
        if (!shard) {
          const path = join(dir, shardName);
          if (!existsSync(path)) throw bad(indexPath, `lists shard ${shardName}, which is missing (${path})`);
          shard = SafetensorsFile.open(path);
          this.shards.set(shardName, shard);
        }
        if (!shard.info(name)) throw bad(indexPath, `says "${name}" is in ${shardName}, which does not contain it`);
        this.where.set(name, shard);
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  static open(indexPath: string): ShardedSafetensors {
    return new ShardedSafetensors(indexPath);
  }

  /** The shard files in index order (for fingerprints). */
  files(): SafetensorsFile[] {
    return [...this.shards.values()];
  }

  names(): string[] {
    return [...this.where.keys()];
  }

  info(name: string): TensorInfo | undefined {
    return this.where.get(name)?.info(name);
  }

  metadata(): Record<string, string> {
    return {};
  }

  read(name: string): Float32Array {
    const shard = this.where.get(name);
    if (!shard) throw bad(this.indexPath, `has no tensor "${name}"`);
    return shard.read(name);
  }

  close(): void {
    for (const s of this.shards.values()) s.close();
  }
}

/** Opens a `.safetensors` file or a `.safetensors.index.json` sharded set. */
export function openSafetensors(path: string): TensorReader & { files(): SafetensorsFile[] } {
  if (path.endsWith('.index.json')) return ShardedSafetensors.open(path);
  const f = SafetensorsFile.open(path);
  return Object.assign(f, { files: () => [f] });
}

// ---- writing (fixtures, tests) ------------------------------------------------------------------

export interface TensorToWrite {
  name: string;
  shape: readonly number[];
  /** Stored as this dtype (converted from float32, round to nearest even). */
  dtype: FloatDtype;
  data: Float32Array;
}

/**
 * Writes a safetensors file, tensors in the given order. The header is padded with spaces to a
 * multiple of 8 bytes, as the reference writer does, so the data buffer is aligned.
 */
export function writeSafetensors(path: string, tensors: readonly TensorToWrite[], metadata?: Record<string, string>): void {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const encoded: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`${t.name}: ${t.data.length} values for shape [${t.shape}]`);
    const bytes =
      t.dtype === 'F32'
        ? new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)
        : t.dtype === 'F8_E4M3' || t.dtype === 'F8_E5M2'
          ? floatToFp8(t.data, t.dtype)
          : new Uint8Array((t.dtype === 'F16' ? floatToHalf(t.data) : floatToBfloat16(t.data)).buffer);
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    encoded.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  const utf8 = new TextEncoder();
  while (utf8.encode(json).length % 8 !== 0) json += ' ';
  const headerBytes = utf8.encode(json);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, headerBytes);
    for (const bytes of encoded) writeSync(fd, bytes);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `tensors` over `shards` files named `<base>-0000i-of-0000n.safetensors` plus
 * `<base>.safetensors.index.json`, as transformers/diffusers shard a checkpoint. Returns the index path.
 */
export function writeShardedSafetensors(dir: string, base: string, tensors: readonly TensorToWrite[], shards: number): string {
  const per = Math.ceil(tensors.length / shards);
  const weightMap: Record<string, string> = {};
  let totalSize = 0;
  for (let s = 0; s < shards; s++) {
    const part = tensors.slice(s * per, (s + 1) * per);
    const name = `${base}-${String(s + 1).padStart(5, '0')}-of-${String(shards).padStart(5, '0')}.safetensors`;
    writeSafetensors(join(dir, name), part);
    for (const t of part) {
      weightMap[t.name] = name;
      totalSize += t.data.length * DTYPE_BYTES[t.dtype];
    }
  }
  const indexPath = join(dir, `${base}.safetensors.index.json`);
  const json = { metadata: { total_size: totalSize }, weight_map: weightMap };
  writeFileSync(indexPath, `${JSON.stringify(json, null, 2)}\n`);
  return indexPath;
}

