/**
 * A small graph-builder DSL over ONNX opset 17. Model files read like the PyTorch module they
 * reimplement: `g.linear(x, 'proj_in', 128, 2048)`, `g.rmsNorm(x, 1e-6)`, `g.geluTanh(x)`.
 *
 * Values are named strings. Weights ("params") are declared with their state-dict name, shape and
 * an init hint; their bytes are only requested from the WeightSource when the graph is saved, one
 * tensor at a time, and streamed into `<file>.data` beside the graph as ONNX external data. That
 * is what lets the same code write a seeded test model or convert a multi-GB checkpoint without
 * holding it all in memory. Small constants (shapes, axes, epsilons) are Constant nodes, so the
 * graph's initializers are exactly the model's parameters.
 */
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { basename, join } from 'node:path';
import { DataType, encodeModel, type AttributeValue, type DataTypeCode, type NodeDef, type TensorDef, type ValueInfoDef } from './proto.ts';

/** How a parameter would be initialised from scratch; sources that load checkpoints ignore it. */
export type Init =
  | { kind: 'linear'; fanIn: number } // a Linear weight [out, in]
  | { kind: 'bias' }
  | { kind: 'norm' } // a norm's elementwise scale (ones in PyTorch)
  | { kind: 'table'; dim: number } // diffusers' scale_shift_table: randn / sqrt(dim)
  | { kind: 'embedding' };

/** Supplies a parameter's values (row-major, PyTorch layout) when the graph is saved. */
export type WeightSource = (name: string, dims: readonly number[], init: Init) => Float32Array;

export interface ParamDecl {
  name: string;
  dims: readonly number[];
  init: Init;
}

export interface SavedGraph {
  onnxPath: string;
  dataPath: string;
  onnxBytes: number;
  dataBytes: number;
}

type Attrs = Record<string, AttributeValue>;

/** Attribute constructors, so call sites say which ONNX attribute type they mean. */
export const attr = {
  f: (value: number): AttributeValue => ({ kind: 'float', value }),
  i: (value: number): AttributeValue => ({ kind: 'int', value }),
  s: (value: string): AttributeValue => ({ kind: 'string', value }),
  ints: (value: readonly number[]): AttributeValue => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): AttributeValue => ({ kind: 'floats', value }),
  t: (value: TensorDef): AttributeValue => ({ kind: 'tensor', value }),
};

const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/** Big tensors start on a page boundary so a runtime can map them; small ones on 64 bytes. */
function alignFor(bytes: number): number {
  return bytes >= 1 << 20 ? 4096 : 64;
}

export class GraphBuilder {
  private readonly nodes: NodeDef[] = [];
  private readonly inputs: ValueInfoDef[] = [];
  private readonly outputs: ValueInfoDef[] = [];
  private readonly params = new Map<string, ParamDecl>();
  private readonly constants = new Map<string, string>();
  private readonly scopes: string[] = [];
  private counter = 0;

  constructor(
    readonly name: string,
    private readonly weights: WeightSource,
  ) {}

  // ---- structure ----------------------------------------------------------------------------

  /** Declares a graph input. Shape entries are sizes or symbolic names ("batch"). */
  input(name: string, elemType: DataTypeCode, shape: readonly (number | string)[]): string {
    this.inputs.push({ name, elemType, shape });
    return name;
  }

  /** Declares `value` as the graph output `name`. */
  output(value: string, name: string, elemType: DataTypeCode, shape: readonly (number | string)[]): void {
    if (value !== name) this.op('Identity', [value], {}, name);
    this.outputs.push({ name, elemType, shape });
  }

  /** Declares a float32 parameter under its state-dict name. */
  param(name: string, dims: readonly number[], init: Init): string {
    const existing = this.params.get(name);
    if (existing) {
      if (existing.dims.join() !== dims.join()) throw new Error(`param ${name} redeclared with another shape`);
      return name;
    }
    this.params.set(name, { name, dims: [...dims], init });
    return name;
  }

  /** Parameters in declaration order (what `save` writes). */
  paramList(): ParamDecl[] {
    return [...this.params.values()];
  }

  /** Runs `body` with node names prefixed by `name`, so a graph viewer shows the module tree. */
  scope<T>(name: string, body: () => T): T {
    this.scopes.push(name);
    try {
      return body();
    } finally {
      this.scopes.pop();
    }
  }

  private fresh(opType: string): string {
    const prefix = this.scopes.length ? `${this.scopes.join('.')}/` : '';
    return `${prefix}${opType}_${this.counter++}`;
  }

  /** Adds a node with one output and returns the output's name. */
  op(opType: string, inputs: readonly string[], attributes: Attrs = {}, outputName?: string): string {
    const name = this.fresh(opType);
    const out = outputName ?? name;
    this.nodes.push({ opType, name, inputs, outputs: [out], attributes });
    return out;
  }

  /** Adds a node with several outputs. */
  opN(opType: string, inputs: readonly string[], outputs: number, attributes: Attrs = {}): string[] {
    const name = this.fresh(opType);
    const outs = Array.from({ length: outputs }, (_, i) => `${name}:${i}`);
    this.nodes.push({ opType, name, inputs, outputs: outs, attributes });
    return outs;
  }

  // ---- constants (Constant nodes, deduplicated) ---------------------------------------------

  private constant(dataType: DataTypeCode, dims: readonly number[], raw: Uint8Array, key: string): string {
    const cached = this.constants.get(key);
    if (cached) return cached;
    const name = `const_${this.constants.size}`;
    this.nodes.push({
      opType: 'Constant',
      name,
      inputs: [],
      outputs: [name],
      attributes: { value: attr.t({ name, dataType, dims, raw }) },
    });
    this.constants.set(key, name);
    return name;
  }

  /** int64 constant; 1-D by default, `dims = []` for a scalar. */
  ints(values: readonly number[], dims: readonly number[] = [values.length]): string {
    const data = BigInt64Array.from(values, (v) => BigInt(v));
    return this.constant(DataType.INT64, dims, new Uint8Array(data.buffer), `i64:${dims}:${values}`);
  }

  /** float32 constant; a scalar by default. */
  floats(values: ArrayLike<number>, dims: readonly number[] = []): string {
    const data = Float32Array.from(values);
    if (data.length !== product(dims)) throw new Error(`constant of ${data.length} values does not fit dims [${dims}]`);
    return this.constant(DataType.FLOAT, dims, new Uint8Array(data.buffer), `f32:${dims}:${data.join(',')}`);
  }

  scalar(value: number): string {
    return this.floats([value]);
  }

  // ---- elementwise ---------------------------------------------------------------------------

  add = (a: string, b: string): string => this.op('Add', [a, b]);
  sub = (a: string, b: string): string => this.op('Sub', [a, b]);
  mul = (a: string, b: string): string => this.op('Mul', [a, b]);
  div = (a: string, b: string): string => this.op('Div', [a, b]);
  neg = (x: string): string => this.op('Neg', [x]);
  sqrt = (x: string): string => this.op('Sqrt', [x]);
  tanh = (x: string): string => this.op('Tanh', [x]);
  sigmoid = (x: string): string => this.op('Sigmoid', [x]);
  sin = (x: string): string => this.op('Sin', [x]);
  cos = (x: string): string => this.op('Cos', [x]);
  cast = (x: string, to: DataTypeCode): string => this.op('Cast', [x], { to: attr.i(to) });

  // ---- shapes ---------------------------------------------------------------------------------

  matmul = (a: string, b: string): string => this.op('MatMul', [a, b]);
  /** Reshape; 0 copies the input's size at that position, -1 is inferred (ONNX semantics). */
  reshape = (x: string, shape: readonly number[] | string): string =>
    this.op('Reshape', [x, typeof shape === 'string' ? shape : this.ints(shape)]);
  transpose = (x: string, perm: readonly number[]): string => this.op('Transpose', [x], { perm: attr.ints(perm) });
  concat = (xs: readonly string[], axis: number): string => this.op('Concat', xs, { axis: attr.i(axis) });
  slice = (x: string, starts: readonly number[], ends: readonly number[], axes: readonly number[]): string =>
    this.op('Slice', [x, this.ints(starts), this.ints(ends), this.ints(axes)]);
  /** Gather with constant indices; a number drops the axis, an array keeps it. */
  gather = (x: string, indices: number | readonly number[], axis: number): string =>
    this.op('Gather', [x, typeof indices === 'number' ? this.ints([indices], []) : this.ints(indices)], { axis: attr.i(axis) });
  unsqueeze = (x: string, axes: readonly number[]): string => this.op('Unsqueeze', [x, this.ints(axes)]);
  shape = (x: string): string => this.op('Shape', [x]);
  reduceMean = (x: string, axes: readonly number[]): string =>
    this.op('ReduceMean', [x], { axes: attr.ints(axes), keepdims: attr.i(1) }); // opset 17: axes is an attribute
  softmax = (x: string, axis = -1): string => this.op('Softmax', [x], { axis: attr.i(axis) });

  // ---- layers ---------------------------------------------------------------------------------

  /**
   * torch.nn.Linear: y = x W^T + b with W stored [out, in] under `${prefix}.weight`, exactly as in
   * the state dict. The Transpose of a constant is folded by ORT when the session is created.
   */
  linear(x: string, prefix: string, inFeatures: number, outFeatures: number, bias = true): string {
    const w = this.param(`${prefix}.weight`, [outFeatures, inFeatures], { kind: 'linear', fanIn: inFeatures });
    const y = this.scope(prefix, () => this.matmul(x, this.transpose(w, [1, 0])));
    if (!bias) return y;
    return this.add(y, this.param(`${prefix}.bias`, [outFeatures], { kind: 'bias' }));
  }

  /** RMSNorm over the last axis: x / sqrt(mean(x²) + eps), times `${weight}` when given. */
  rmsNorm(x: string, eps: number, weight?: { name: string; dim: number }): string {
    const variance = this.reduceMean(this.mul(x, x), [-1]);
    const y = this.div(x, this.sqrt(this.add(variance, this.scalar(eps))));
    return weight ? this.mul(y, this.param(weight.name, [weight.dim], { kind: 'norm' })) : y;
  }

  /** LayerNorm without affine parameters (LayerNormalization-17 requires a scale: ones). */
  layerNorm(x: string, dim: number, eps: number): string {
    const ones = this.floats(new Float32Array(dim).fill(1), [dim]);
    return this.op('LayerNormalization', [x, ones], { axis: attr.i(-1), epsilon: attr.f(eps) });
  }

  /** GELU, tanh approximation: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
  geluTanh(x: string): string {
    const x3 = this.mul(this.mul(x, x), x);
    const inner = this.mul(this.add(x, this.mul(x3, this.scalar(0.044715))), this.scalar(Math.sqrt(2 / Math.PI)));
    return this.mul(this.mul(x, this.scalar(0.5)), this.add(this.tanh(inner), this.scalar(1)));
  }

  /** SiLU: x·sigmoid(x). */
  silu(x: string): string {
    return this.mul(x, this.sigmoid(x));
  }

  // ---- output ---------------------------------------------------------------------------------

  /**
   * Writes `<dir>/<fileName>` and its weights `<dir>/<fileName>.data`. Tensors are streamed in
   * declaration order at aligned offsets, so the same inputs give byte-identical files.
   */
  save(dir: string, fileName: string): SavedGraph {
    if (endianness() !== 'LE') throw new Error('ONNX raw data is little-endian; this machine is not');
    const onnxPath = join(dir, fileName);
    const dataPath = `${onnxPath}.data`;
    const location = basename(dataPath);
    const initializers: TensorDef[] = [];
    const fd = openSync(dataPath, 'w');
    let offset = 0;
    try {
      for (const p of this.params.values()) {
        const values = this.weights(p.name, p.dims, p.init);
        if (values.length !== product(p.dims)) {
          throw new Error(`weight ${p.name}: got ${values.length} values for shape [${p.dims}]`);
        }
        const length = values.byteLength;
        const align = alignFor(length);
        const padded = Math.ceil(offset / align) * align;
        if (padded > offset) writeSync(fd, new Uint8Array(padded - offset), 0, padded - offset, offset);
        writeSync(fd, new Uint8Array(values.buffer, values.byteOffset, length), 0, length, padded);
        initializers.push({ name: p.name, dataType: DataType.FLOAT, dims: p.dims, external: { location, offset: padded, length } });
        offset = padded + length;
      }
    } finally {
      closeSync(fd);
    }
    const bytes = encodeModel({
      graph: { name: this.name, nodes: this.nodes, initializers, inputs: this.inputs, outputs: this.outputs },
    });
    writeFileSync(onnxPath, bytes);
    return { onnxPath, dataPath, onnxBytes: bytes.length, dataBytes: offset };
  }
}
