/**
 * Reads back just enough of a ModelProto to check what a graph holds: its initializers (name,
 * dims, type, where the bytes are), its inputs/outputs and op types. Used by tests and by
 * `reshoot doctor`-style checks; the runtime never needs it (ORT parses the model itself).
 */
import { readFileSync } from 'node:fs';

interface Field {
  field: number;
  wire: number;
  /** Varint value (as bigint, since int64 may be negative), or undefined for other wire types. */
  int?: bigint;
  /** Bytes of a length-delimited or fixed field. */
  bytes?: Uint8Array;
}

function* fields(buf: Uint8Array): Generator<Field> {
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[pos++];
      if (b === undefined) throw new Error('truncated varint');
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) yield { field, wire, int: BigInt.asIntN(64, varint()) };
    else if (wire === 2) {
      const len = Number(varint());
      yield { field, wire, bytes: buf.subarray(pos, pos + len) };
      pos += len;
    } else if (wire === 5) {
      yield { field, wire, bytes: buf.subarray(pos, pos + 4) };
      pos += 4;
    } else if (wire === 1) {
      yield { field, wire, bytes: buf.subarray(pos, pos + 8) };
      pos += 8;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
}

const text = (b: Uint8Array | undefined): string => new TextDecoder().decode(b);

export interface InitializerInfo {
  name: string;
  dims: number[];
  dataType: number;
  external?: { location: string; offset: number; length: number };
  rawBytes?: number;
}

export interface ValueInfo {
  name: string;
  elemType: number;
  shape: (number | string)[];
}

export interface GraphSummary {
  irVersion: number;
  /** The default (ai.onnx) domain's opset. */
  opset: number;
  /** Every imported domain's opset, '' for ai.onnx (e.g. { '': 17, 'com.microsoft': 1 }). */
  opsets: Record<string, number>;
  /** metadata_props: Reshoot records the graph's variant there (reshoot.attention, .compute, .weights). */
  metadata: Record<string, string>;
  producerName: string;
  initializers: InitializerInfo[];
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  opTypes: string[];
}

function readTensor(buf: Uint8Array): InitializerInfo {
  const t: InitializerInfo = { name: '', dims: [], dataType: 0 };
  const ext: Record<string, string> = {};
  for (const f of fields(buf)) {
    if (f.field === 1) t.dims.push(Number(f.int));
    else if (f.field === 2) t.dataType = Number(f.int);
    else if (f.field === 8) t.name = text(f.bytes);
    else if (f.field === 9) t.rawBytes = f.bytes!.length;
    else if (f.field === 13) {
      let key = '';
      let value = '';
      for (const e of fields(f.bytes!)) {
        if (e.field === 1) key = text(e.bytes);
        if (e.field === 2) value = text(e.bytes);
      }
      ext[key] = value;
    }
  }
  if (ext.location !== undefined) {
    t.external = { location: ext.location, offset: Number(ext.offset ?? 0), length: Number(ext.length ?? -1) };
  }
  return t;
}

function readValueInfo(buf: Uint8Array): ValueInfo {
  const v: ValueInfo = { name: '', elemType: 0, shape: [] };
  for (const f of fields(buf)) {
    if (f.field === 1) v.name = text(f.bytes);
    if (f.field !== 2) continue;
    for (const tt of fields(f.bytes!)) {
      if (tt.field !== 1) continue;
      for (const tf of fields(tt.bytes!)) {
        if (tf.field === 1) v.elemType = Number(tf.int);
        if (tf.field !== 2) continue;
        for (const dim of fields(tf.bytes!)) {
          for (const d of fields(dim.bytes!)) {
            if (d.field === 1) v.shape.push(Number(d.int));
            if (d.field === 2) v.shape.push(text(d.bytes));
          }
        }
      }
    }
  }
  return v;
}

/** Summarises an ONNX file (or its bytes). */
export function inspectModel(source: string | Uint8Array): GraphSummary {
  const buf = typeof source === 'string' ? new Uint8Array(readFileSync(source)) : source;
  const s: GraphSummary = { irVersion: 0, opset: 0, opsets: {}, metadata: {}, producerName: '', initializers: [], inputs: [], outputs: [], opTypes: [] };
  for (const f of fields(buf)) {
    if (f.field === 1) s.irVersion = Number(f.int);
    else if (f.field === 2) s.producerName = text(f.bytes);
    else if (f.field === 14) {
      let key = '';
      let value = '';
      for (const e of fields(f.bytes!)) {
        if (e.field === 1) key = text(e.bytes);
        else if (e.field === 2) value = text(e.bytes);
      }
      s.metadata[key] = value;
    }
    else if (f.field === 8) {
      let domain = '';
      let version = 0;
      for (const o of fields(f.bytes!)) {
        if (o.field === 1) domain = text(o.bytes);
        else if (o.field === 2) version = Number(o.int);
      }
      s.opsets[domain] = version;
      if (domain === '') s.opset = version;
    } else if (f.field === 7) {
      for (const g of fields(f.bytes!)) {
        if (g.field === 5) s.initializers.push(readTensor(g.bytes!));
        else if (g.field === 11) s.inputs.push(readValueInfo(g.bytes!));
        else if (g.field === 12) s.outputs.push(readValueInfo(g.bytes!));
        else if (g.field === 1) {
          for (const n of fields(g.bytes!)) if (n.field === 4) s.opTypes.push(text(n.bytes));
        }
      }
    }
  }
  return s;
}

/** Which variant a graph file is (attention, compute type, weight storage), from its metadata; for provenance. */
export interface GraphVariant {
  attention?: string;
  compute?: string;
  weights?: string;
}

export function graphVariant(path: string): GraphVariant {
  const m = inspectModel(path).metadata;
  const out: GraphVariant = {};
  if (m['reshoot.attention']) out.attention = m['reshoot.attention'];
  if (m['reshoot.compute']) out.compute = m['reshoot.compute'];
  if (m['reshoot.weights']) out.weights = m['reshoot.weights'];
  return out;
}
