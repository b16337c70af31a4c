/**
 * A minimal protobuf wire-format writer for the subset of ONNX's ModelProto that Reshoot emits.
 *
 * Why hand-written: the graphs we write use a dozen message types and a handful of field kinds
 * (varint, fixed32, length-delimited), which is less code than wiring up a protobuf library and
 * keeps the companion dependency-free. Field numbers follow onnx/onnx.in.proto (proto2 syntax);
 * repeated scalars are written unpacked, which is the proto2 default and what every parser
 * accepts.
 */

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, UINT8: 2, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType values used here. */
const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

export interface ExternalData {
  /** File name relative to the .onnx file. */
  location: string;
  offset: number;
  length: number;
}

export interface TensorDef {
  name: string;
  dataType: DataTypeCode;
  dims: readonly number[];
  /** Inline bytes (little-endian), for small constants. */
  raw?: Uint8Array;
  /** Where the bytes live outside the .onnx file (data_location = EXTERNAL). */
  external?: ExternalData;
}

export type AttributeValue =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: TensorDef }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'ints'; value: readonly number[] };

export interface NodeDef {
  opType: string;
  name: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes: Readonly<Record<string, AttributeValue>>;
  domain?: string;
}

/** A tensor-typed graph input or output. Dims are sizes or symbolic names ("batch"). */
export interface ValueInfoDef {
  name: string;
  elemType: DataTypeCode;
  shape: readonly (number | string)[];
}

export interface GraphDef {
  name: string;
  nodes: readonly NodeDef[];
  initializers: readonly TensorDef[];
  inputs: readonly ValueInfoDef[];
  outputs: readonly ValueInfoDef[];
}

export interface ModelDef {
  graph: GraphDef;
  /**
   * Defaults: IR version 8, default-domain opset 17, producer "reshoot". Nodes in the
   * `com.microsoft` domain (ONNX Runtime's contrib ops: MultiHeadAttention, MatMulNBits) add that
   * domain's opset 1 import by themselves.
   */
  irVersion?: number;
  opset?: number;
  producerName?: string;
  /** ModelProto.metadata_props: what variant of a graph this is (see graph.ts `meta`). */
  metadata?: Readonly<Record<string, string>>;
}

// Wire types.
const VARINT = 0;
const FIXED32 = 5;
const LEN = 2;

const utf8 = new TextEncoder();

/** Appends protobuf fields to a growable byte buffer. */
class Writer {
  private buf = new Uint8Array(256);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private byte(b: number): void {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  /** Varint of a safe integer. Negative values become 10-byte two's-complement int64, as protobuf requires. */
  varint(value: number): void {
    if (!Number.isSafeInteger(value)) throw new RangeError(`varint: ${value} is not a safe integer`);
    if (value >= 0) {
      let v = value;
      while (v >= 0x80) {
        this.byte((v % 0x80) | 0x80);
        v = Math.floor(v / 0x80);
      }
      this.byte(v);
      return;
    }
    let v = BigInt.asUintN(64, BigInt(value));
    for (let i = 0; i < 10; i++) {
      const low = Number(v & 0x7fn);
      v >>= 7n;
      this.byte(v === 0n ? low : low | 0x80);
      if (v === 0n) break;
    }
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  int(field: number, value: number): void {
    this.tag(field, VARINT);
    this.varint(value);
  }

  float(field: number, value: number): void {
    this.tag(field, FIXED32);
    this.reserve(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 4).setFloat32(0, value, true);
    this.len += 4;
  }

  bytes(field: number, value: Uint8Array): void {
    this.tag(field, LEN);
    this.varint(value.length);
    this.reserve(value.length);
    this.buf.set(value, this.len);
    this.len += value.length;
  }

  string(field: number, value: string): void {
    this.bytes(field, utf8.encode(value));
  }

  /** An embedded message, encoded by `write` into its own writer. */
  message(field: number, write: (w: Writer) => void): void {
    const inner = new Writer();
    write(inner);
    this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function writeStringEntry(w: Writer, key: string, value: string): void {
  // StringStringEntryProto: key = 1, value = 2
  w.string(1, key);
  w.string(2, value);
}

function writeTensor(w: Writer, t: TensorDef): void {
  // TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9, external_data = 13, data_location = 14
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.dataType);
  w.string(8, t.name);
  if (t.raw && t.external) throw new Error(`tensor ${t.name}: both inline and external data`);
  if (t.raw) w.bytes(9, t.raw);
  if (t.external) {
    const ext = t.external;
    w.message(13, (e) => writeStringEntry(e, 'location', ext.location));
    w.message(13, (e) => writeStringEntry(e, 'offset', String(ext.offset)));
    w.message(13, (e) => writeStringEntry(e, 'length', String(ext.length)));
    w.int(14, 1); // DataLocation.EXTERNAL
  }
}

function writeAttribute(w: Writer, name: string, a: AttributeValue): void {
  // AttributeProto: name = 1, f = 2, i = 3, s = 4, t = 5, floats = 7, ints = 8, type = 20
  w.string(1, name);
  switch (a.kind) {
    case 'float':
      w.float(2, a.value);
      w.int(20, AttrType.FLOAT);
      break;
    case 'int':
      w.int(3, a.value);
      w.int(20, AttrType.INT);
      break;
    case 'string':
      w.string(4, a.value);
      w.int(20, AttrType.STRING);
      break;
    case 'tensor':
      w.message(5, (t) => writeTensor(t, a.value));
      w.int(20, AttrType.TENSOR);
      break;
    case 'floats':
      for (const f of a.value) w.float(7, f);
      w.int(20, AttrType.FLOATS);
      break;
    case 'ints':
      for (const i of a.value) w.int(8, i);
      w.int(20, AttrType.INTS);
      break;
  }
}

function writeNode(w: Writer, n: NodeDef): void {
  // NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5, domain = 7
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.opType);
  for (const [name, value] of Object.entries(n.attributes)) w.message(5, (a) => writeAttribute(a, name, value));
  if (n.domain) w.string(7, n.domain);
}

function writeValueInfo(w: Writer, v: ValueInfoDef): void {
  // ValueInfoProto: name = 1, type = 2 → TypeProto.tensor_type = 1 → Tensor: elem_type = 1, shape = 2
  //   → TensorShapeProto.dim = 1 → Dimension: dim_value = 1, dim_param = 2
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, v.elemType);
      tensor.message(2, (shape) => {
        for (const d of v.shape) {
          shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
        }
      });
    }),
  );
}

function writeGraph(w: Writer, g: GraphDef): void {
  // GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12
  for (const n of g.nodes) w.message(1, (m) => writeNode(m, n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, (m) => writeTensor(m, t));
  for (const v of g.inputs) w.message(11, (m) => writeValueInfo(m, v));
  for (const v of g.outputs) w.message(12, (m) => writeValueInfo(m, v));
}

/** Serialises a ModelProto. */
export function encodeModel(model: ModelDef): Uint8Array {
  const w = new Writer();
  // ModelProto: ir_version = 1, producer_name = 2, graph = 7, opset_import = 8
  w.int(1, model.irVersion ?? 8);
  w.string(2, model.producerName ?? 'reshoot');
  w.message(7, (g) => writeGraph(g, model.graph));
  // OperatorSetIdProto: domain = 1 (empty = default ONNX domain, so omitted), version = 2
  w.message(8, (o) => o.int(2, model.opset ?? 17));
  // metadata_props = 14, StringStringEntryProto: key = 1, value = 2
  for (const [key, value] of Object.entries(model.metadata ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    w.message(14, (e) => {
      e.string(1, key);
      e.string(2, value);
    });
  }
  const domains = new Set(model.graph.nodes.map((n) => n.domain).filter((d): d is string => !!d));
  for (const domain of [...domains].sort()) {
    w.message(8, (o) => {
      o.string(1, domain);
      o.int(2, 1);
    });
  }
  return w.finish();
}
