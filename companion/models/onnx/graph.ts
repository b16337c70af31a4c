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
 *
 * `save` can store chosen weights as fp16 (see ../precision.ts for who chooses): such a weight is
 * written as a FLOAT16 initializer under its state-dict name and a Cast to float32 is placed in
 * front of its consumers, so the graph computes, takes and returns float32 exactly as before and
 * any execution provider (the CPU one included) runs it. Linear weights can be stored int8/int4
 * for com.microsoft.MatMulNBits (see StorageDecision). A builder made with compute 'fp16' computes
 * in half precision (see ComputeType). The variant is written into the file's metadata_props.
 * `saveOver` writes the graph over weights another graph file already stores (a compute variant
 * of an installed model without a second copy of its weights; ../computeVariant.ts).
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { basename, join } from 'node:path';
import { FP16_MAX, floatToHalf, maxAbs } from '../precision.ts';
import { BLOCK_SIZE, quantizeBlocks, type QuantBits } from '../quantize.ts';
import type { InitializerInfo } from './inspect.ts';
import { DataType, encodeModel, type AttributeValue, type DataTypeCode, type ExternalData, type NodeDef, type TensorDef, type ValueInfoDef } from './proto.ts';

/** A weight as another graph file stores it (what `saveOver` points at). */
export type ExistingInitializer = InitializerInfo;

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
  /** Names of the weights stored as fp16 (empty unless `SaveOptions.storage` chose some). */
  fp16: string[];
  /** Names of the Linear weights stored as int8/int4 blocks for MatMulNBits. */
  quantized: string[];
  /** sha256 (hex) of the two files, computed as they were written (no second pass over GBs). */
  onnxSha256: string;
  dataSha256: string;
}

/**
 * How one weight is stored in `<file>.data`. `int8` / `int4` (Linear weights only): block-quantized
 * codes under the weight's own name plus `<name>::scales`, multiplied by `com.microsoft.MatMulNBits`
 * in place of the Linear's Transpose → MatMul (see ../quantize.ts).
 */
export type StorageDecision = 'fp32' | 'fp16' | 'int8' | 'int4';

export interface SaveOptions {
  /** Chooses each weight's storage after its values are fetched; default: all fp32. */
  storage?: (p: ParamDecl, values: Float32Array) => StorageDecision;
  /** Called after each weight is written (for progress reports). */
  onParam?: (p: ParamDecl, index: number, total: number) => void;
}

type Attrs = Record<string, AttributeValue>;

/**
 * The float type a graph computes in. `fp16` (for GPU providers): weights, activations and
 * constants are half precision; the builder's layers keep what needs fp32 in fp32 — RMSNorm
 * statistics, LayerNormalization's (stash_type = float), softmax in the plain attention — and a
 * model file casts its fp32 inputs in and its outputs back (`toCompute` / `toFloat`), so the graph's
 * I/O stays float32 either way.
 */
export type ComputeType = 'fp32' | 'fp16';

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
  /** Written as the model's metadata_props (see `meta`). */
  private readonly metadata = new Map<string, string>();
  /** Per Linear weight, the nodes that multiply by it (what quantized storage replaces). */
  private readonly linears = new Map<string, { x: string; transposed: string; product: string; k: number; n: number }>();
  private readonly scopes: string[] = [];
  private counter = 0;

  /** The ONNX element type of activations, constants and parameters as the graph uses them. */
  readonly floatType: DataTypeCode;

  constructor(
    readonly name: string,
    private readonly weights: WeightSource,
    readonly compute: ComputeType = 'fp32',
  ) {
    this.floatType = compute === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT;
  }

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

  /**
   * Records a fact about this graph in the file (ONNX metadata_props), e.g. which attention
   * variant it uses; `save` adds `reshoot.compute` and `reshoot.weights` itself.
   */
  meta(key: string, value: string): void {
    this.metadata.set(key, value);
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

  /**
   * Adds an ONNX Runtime contrib op (domain `com.microsoft`, opset 1). Only ONNX Runtime runs
   * these; an empty string in `inputs` leaves an optional input out.
   */
  msOp(opType: string, inputs: readonly string[], attributes: Attrs = {}): string {
    const name = this.fresh(opType);
    this.nodes.push({ opType, name, inputs, outputs: [name], attributes, domain: 'com.microsoft' });
    return name;
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

  /** Float constant in the compute type (or `type`); a scalar by default. */
  floats(values: ArrayLike<number>, dims: readonly number[] = [], type: DataTypeCode = this.floatType): string {
    const data = Float32Array.from(values);
    if (data.length !== product(dims)) throw new Error(`constant of ${data.length} values does not fit dims [${dims}]`);
    if (type === DataType.FLOAT16) return this.constant(type, dims, new Uint8Array(floatToHalf(data).buffer), `f16:${dims}:${data.join(',')}`);
    return this.constant(DataType.FLOAT, dims, new Uint8Array(data.buffer), `f32:${dims}:${data.join(',')}`);
  }

  /** A scalar constant in the compute type (or `type`). */
  scalar(value: number, type: DataTypeCode = this.floatType): string {
    return this.floats([value], [], type);
  }

  /** A float32 value (a graph input) in the compute type. */
  toCompute = (x: string): string => (this.floatType === DataType.FLOAT ? x : this.cast(x, this.floatType));
  /** A compute-type value as float32 (for a graph output, or a statistic that needs the range). */
  toFloat = (x: string): string => (this.floatType === DataType.FLOAT ? x : this.cast(x, DataType.FLOAT));

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
  /** Softmax, accumulated in fp32 when the graph computes in fp16. */
  softmax = (x: string, axis = -1): string =>
    this.floatType === DataType.FLOAT ? this.op('Softmax', [x], { axis: attr.i(axis) }) : this.toCompute(this.op('Softmax', [this.toFloat(x)], { axis: attr.i(axis) }));

  // ---- layers ---------------------------------------------------------------------------------

  /**
   * torch.nn.Linear: y = x W^T + b with W stored [out, in] under `${prefix}.weight`, exactly as in
   * the state dict. The Transpose of a constant is folded by ORT when the session is created.
   */
  linear(x: string, prefix: string, inFeatures: number, outFeatures: number, bias = true): string {
    const w = this.param(`${prefix}.weight`, [outFeatures, inFeatures], { kind: 'linear', fanIn: inFeatures });
    const y = this.scope(prefix, () => {
      const transposed = this.transpose(w, [1, 0]);
      const product = this.matmul(x, transposed);
      if (this.linears.has(w)) throw new Error(`linear weight ${w} used twice`);
      this.linears.set(w, { x, transposed, product, k: inFeatures, n: outFeatures });
      return product;
    });
    if (!bias) return y;
    return this.add(y, this.param(`${prefix}.bias`, [outFeatures], { kind: 'bias' }));
  }

  /**
   * RMSNorm over the last axis: x / sqrt(mean(x²) + eps), times `${weight}` when given. In fp16
   * graphs the statistics are fp32: x² overflows fp16 beyond |x| = 256, which the residual stream
   * of a large transformer reaches.
   */
  rmsNorm(x: string, eps: number, weight?: { name: string; dim: number }): string {
    const x32 = this.toFloat(x);
    const variance = this.reduceMean(this.mul(x32, x32), [-1]);
    const y = this.toCompute(this.div(x32, this.sqrt(this.add(variance, this.scalar(eps, DataType.FLOAT)))));
    return weight ? this.mul(y, this.param(weight.name, [weight.dim], { kind: 'norm' })) : y;
  }

  /** LayerNorm without affine parameters (LayerNormalization-17 requires a scale: ones); statistics in fp32 (stash_type). */
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
  /** The model bytes of a graph without weights (small helper graphs opened from memory). */
  toBytes(): Uint8Array {
    if (this.params.size) throw new Error(`internal: ${this.name} has weights; save() it beside its data`);
    return this.encode([], new Map(), new Map());
  }

  save(dir: string, fileName: string, opts: SaveOptions = {}): SavedGraph {
    if (endianness() !== 'LE') throw new Error('ONNX raw data is little-endian; this machine is not');
    const onnxPath = join(dir, fileName);
    const dataPath = `${onnxPath}.data`;
    const location = basename(dataPath);
    const initializers: TensorDef[] = [];
    const fp16: string[] = [];
    const quantized = new Map<string, QuantBits>();
    const casts = new Map<string, DataTypeCode>(); // weights stored in another type than the graph computes in
    const total = this.params.size;
    const dataHash = createHash('sha256');
    const fd = openSync(dataPath, 'w');
    let offset = 0;
    const put = (name: string, dataType: DataTypeCode, dims: readonly number[], bytes: ArrayBufferView): void => {
      const length = bytes.byteLength;
      const align = alignFor(length);
      const padded = Math.ceil(offset / align) * align;
      if (padded > offset) {
        const zeros = new Uint8Array(padded - offset);
        writeSync(fd, zeros, 0, zeros.length, offset);
        dataHash.update(zeros);
      }
      const view = new Uint8Array(bytes.buffer, bytes.byteOffset, length);
      writeSync(fd, view, 0, length, padded);
      dataHash.update(view);
      initializers.push({ name, dataType, dims, external: { location, offset: padded, length } });
      offset = padded + length;
    };
    try {
      let index = 0;
      for (const p of this.params.values()) {
        const values = this.weights(p.name, p.dims, p.init);
        if (values.length !== product(p.dims)) {
          throw new Error(`weight ${p.name}: got ${values.length} values for shape [${p.dims}]`);
        }
        const decision = opts.storage?.(p, values) ?? this.compute;
        if (decision === 'int8' || decision === 'int4') {
          const use = this.linears.get(p.name);
          if (!use) throw new Error(`weight ${p.name} is not a Linear weight and cannot be stored ${decision}`);
          const q = quantizeBlocks(values, use.n, use.k, decision === 'int8' ? 8 : 4);
          put(p.name, DataType.UINT8, [q.n, q.packed.length / q.n / ((q.blockSize * q.bits) / 8), (q.blockSize * q.bits) / 8], q.packed);
          // MatMulNBits takes its scales in the activations' type.
          put(`${p.name}::scales`, this.floatType, [q.scales.length], this.compute === 'fp16' ? floatToHalf(q.scales) : q.scales);
          quantized.set(p.name, q.bits);
        } else if (decision === 'fp16') {
          if (this.compute === 'fp16' && maxAbs(values) > FP16_MAX) throw new Error(`weight ${p.name} holds values beyond fp16's ±${FP16_MAX}: this graph cannot compute in fp16`);
          put(p.name, DataType.FLOAT16, p.dims, floatToHalf(values));
          fp16.push(p.name);
          if (this.compute === 'fp32') casts.set(p.name, DataType.FLOAT);
        } else {
          put(p.name, DataType.FLOAT, p.dims, values);
          if (this.compute === 'fp16') casts.set(p.name, DataType.FLOAT16);
        }
        opts.onParam?.(p, index++, total);
      }
    } finally {
      closeSync(fd);
    }
    const bytes = this.encode(initializers, casts, quantized);
    writeFileSync(onnxPath, bytes);
    const onnxSha256 = createHash('sha256').update(bytes).digest('hex');
    return { onnxPath, dataPath, onnxBytes: bytes.length, dataBytes: offset, fp16, quantized: [...quantized.keys()], onnxSha256, dataSha256: dataHash.digest('hex') };
  }

  /**
   * Writes `<dir>/<fileName>` as this graph over weights another graph file already stores: every
   * initializer points at the same bytes of the same external data file (`existing`, read from
   * that graph with inspectModel), so no weight is fetched, copied or converted. What differs is
   * only the nodes: e.g. the fp16-compute variant of an fp32-compute transformer reads fp32-stored
   * weights through Casts that ORT folds at load, and quantized weights' scales through a Cast to
   * the compute type. `dir` must be the other graph's folder (external data paths are relative).
   * Throws if the weights do not match this graph's parameters one to one (name, shape, storage).
   */
  saveOver(dir: string, fileName: string, existing: readonly ExistingInitializer[], meta: Record<string, string> = {}): { onnxPath: string; onnxBytes: number } {
    const byName = new Map(existing.map((t) => [t.name, t]));
    const initializers: TensorDef[] = [];
    const casts = new Map<string, DataTypeCode>();
    const quantized = new Map<string, QuantBits>();
    const used = new Set<string>();
    const take = (name: string): ExistingInitializer & { external: ExternalData } => {
      const t = byName.get(name);
      if (!t) throw new Error(`the stored graph has no weight ${name}`);
      if (!t.external) throw new Error(`weight ${name} is not stored as external data`);
      used.add(name);
      initializers.push({ name, dataType: t.dataType as DataTypeCode, dims: t.dims, external: t.external });
      return t as ExistingInitializer & { external: ExternalData };
    };
    for (const p of this.params.values()) {
      const t = take(p.name);
      if (t.dataType === DataType.UINT8) {
        // Block-quantized [N, blocks, blob]: blob bytes = block size × bits / 8 tells the bits apart.
        const bits = ([8, 4] as const).find((b) => (BLOCK_SIZE[b] * b) / 8 === t.dims[2]);
        const use = this.linears.get(p.name);
        if (!bits || !use || t.dims[0] !== use.n) throw new Error(`weight ${p.name}: stored codes [${t.dims}] do not fit a quantized [${p.dims}] Linear`);
        quantized.set(p.name, bits);
        const scales = take(`${p.name}::scales`);
        if (scales.dataType !== this.floatType) casts.set(scales.name, this.floatType);
        continue;
      }
      if (t.dims.join() !== p.dims.join()) throw new Error(`weight ${p.name}: stored as [${t.dims}], this graph needs [${p.dims}]`);
      if (t.dataType !== DataType.FLOAT && t.dataType !== DataType.FLOAT16) throw new Error(`weight ${p.name}: stored type ${t.dataType} is not a float`);
      if (t.dataType !== this.floatType) casts.set(p.name, this.floatType);
    }
    const extra = existing.filter((t) => !used.has(t.name)).map((t) => t.name);
    if (extra.length) throw new Error(`the stored graph has weights this graph does not use: ${extra.slice(0, 3).join(', ')}${extra.length > 3 ? ', …' : ''}`);
    const bytes = this.encode(initializers, casts, quantized, meta);
    const onnxPath = join(dir, fileName);
    writeFileSync(onnxPath, bytes);
    return { onnxPath, onnxBytes: bytes.length };
  }

  /** The model proto: nodes as stored (casts, MatMulNBits), initializers, I/O and the variant's metadata. */
  private encode(initializers: TensorDef[], casts: ReadonlyMap<string, DataTypeCode>, quantized: ReadonlyMap<string, QuantBits>, meta: Record<string, string> = {}): Uint8Array {
    const stored = new Set([...quantized.values()].map((b) => `int${b}`));
    if (initializers.some((t) => t.dataType === DataType.FLOAT16 && !t.name.endsWith('::scales'))) stored.add('fp16');
    if (initializers.some((t) => t.dataType === DataType.FLOAT && !t.name.endsWith('::scales'))) stored.add('fp32');
    const metadata = { ...Object.fromEntries(this.metadata), ...meta, 'reshoot.compute': this.compute, 'reshoot.weights': [...stored].sort().join('+') || 'none' };
    return encodeModel({
      graph: { name: this.name, nodes: this.storedNodes(casts, quantized), initializers, inputs: this.inputs, outputs: this.outputs },
      metadata,
    });
  }

  /**
   * The nodes as stored: each weight stored in another float type than the graph computes in read
   * through a Cast (fp16 storage in an fp32 graph: `<name>::fp32`; fp32 storage in an fp16 graph:
   * `<name>::fp16`; Casts first: topological order), and each quantized Linear's Transpose → MatMul
   * replaced by one MatMulNBits that writes the MatMul's output. Without either, the nodes as built.
   */
  private storedNodes(castTo: ReadonlyMap<string, DataTypeCode>, quantized: ReadonlyMap<string, QuantBits>): NodeDef[] {
    if (castTo.size === 0 && quantized.size === 0) return this.nodes;
    const renamed = new Map([...castTo].map(([name, to]) => [name, `${name}::${to === DataType.FLOAT ? 'fp32' : 'fp16'}`]));
    const casts: NodeDef[] = [...castTo].map(([name, to]) => ({
      opType: 'Cast',
      name: `${name}::cast`,
      inputs: [name],
      outputs: [renamed.get(name)!],
      attributes: { to: attr.i(to) },
    }));
    const replaced = new Map<string, NodeDef>(); // MatMul output → its MatMulNBits
    const dropped = new Set<string>(); // Transpose outputs of quantized weights
    for (const [name, bits] of quantized) {
      const use = this.linears.get(name)!;
      dropped.add(use.transposed);
      replaced.set(use.product, {
        opType: 'MatMulNBits',
        domain: 'com.microsoft',
        name: `${name}::matmul`,
        inputs: [use.x, name, renamed.get(`${name}::scales`) ?? `${name}::scales`],
        outputs: [use.product],
        attributes: { K: attr.i(use.k), N: attr.i(use.n), bits: attr.i(bits), block_size: attr.i(BLOCK_SIZE[bits]) },
      });
    }
    const rest: NodeDef[] = [];
    for (const n of this.nodes) {
      if (dropped.has(n.outputs[0]!)) continue;
      const q = replaced.get(n.outputs[0]!);
      if (q) rest.push(q);
      else rest.push(n.inputs.some((i) => renamed.has(i)) ? { ...n, inputs: n.inputs.map((i) => renamed.get(i) ?? i) } : n);
    }
    return [...casts, ...rest];
  }
}
