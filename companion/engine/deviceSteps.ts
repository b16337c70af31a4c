/**
 * The denoising step kept on the GPU, for WebGPU: the one provider where onnxruntime-node 1.30
 * can leave a result in device memory (`preferredOutputLocation: 'gpu-buffer'`) and take it as
 * the input of another session on the same device. CUDA, DirectML and CoreML copy every input
 * and output of every run in this binding, so they keep the copying step (generate.ts).
 *
 * What stays on the GPU across a window's steps: the latents x, the transformer's input (x
 * repeated per guidance pass), its velocity, the RoPE tables, the text embeddings and mask, and
 * the per-token step mask. Per step only the timesteps ([B, S]: known tokens at t = 0) and two
 * scalars go up, and one float (the non-finite check) comes back.
 *
 * The guidance combine and the Euler update run as a small ONNX graph ("step graph") rather than
 * in JavaScript, which would need the velocity on the host:
 *   v = B = 2 ? v_u + g·(v_c − v_u) : v_c;   x' = x + dt·m·v  (m = 1 generated, 0 known token)
 * and it also returns x' repeated B times, the transformer's next hidden_states.
 *
 * Moving data: onnxruntime-node has no API that creates a gpu-buffer tensor from host memory, and
 * its gpu-buffer download, Tensor.getData(), aborts the process in 1.30 ("terminate called after
 * throwing an instance of 'char const*'", Linux, lavapipe). So an Identity graph whose output is
 * kept on the GPU uploads, and the same graph with host outputs downloads.
 */
import * as ort from 'onnxruntime-node';
import { attr, GraphBuilder } from '../models/onnx/graph.ts';
import { DataType } from '../models/onnx/proto.ts';
import { sessionOptions } from './providers.ts';

/** Bytes that crossed between the host and the device, counted by what was fed and fetched. */
export interface IoCount {
  toDevice: number;
  toHost: number;
  /** Steps whose result was kept on the device (the rest copied). */
  deviceSteps: number;
}

const F32 = DataType.FLOAT;
const noWeights = () => {
  throw new Error('internal: helper graphs have no weights');
};

/** x [1, S, C] + velocity [B, S, C] → x' [1, S, C], hidden_states [B, S, C], nonfinite []. */
export function stepGraph(batch: 1 | 2): Uint8Array {
  const g = new GraphBuilder(`euler_step_b${batch}`, noWeights);
  const x = g.input('x', F32, [1, 'tokens', 'channels']);
  const velocity = g.input('velocity', F32, [batch, 'tokens', 'channels']);
  const scale = g.input('token_scale', F32, [1, 'tokens', 1]);
  const dt = g.input('dt', F32, [1]);
  let v = velocity;
  if (batch === 2) {
    const cond = g.slice(velocity, [0], [1], [0]);
    const uncond = g.slice(velocity, [1], [2], [0]);
    v = g.add(uncond, g.mul(g.input('guidance', F32, [1]), g.sub(cond, uncond)));
  }
  const next = g.add(x, g.mul(g.mul(scale, dt), v));
  g.output(next, 'x_next', F32, [1, 'tokens', 'channels']);
  if (batch === 2) g.output(g.concat([next, next], 0), 'hidden_states', F32, [batch, 'tokens', 'channels']);
  // v·0 is NaN exactly where v is not finite: the sum says whether any value overflowed.
  g.output(g.op('ReduceSum', [g.mul(v, g.scalar(0))], { keepdims: attr.i(0) }), 'nonfinite', F32, []);
  return g.toBytes();
}

/** in → out at one rank: with the output kept on the device it uploads, else it downloads. */
function identityGraph(rank: number): Uint8Array {
  const g = new GraphBuilder(`copy${rank}`, noWeights);
  const dims = Array.from({ length: rank }, (_, i) => `d${i}`);
  g.output(g.op('Identity', [g.input('in', F32, dims)]), 'out', F32, dims);
  return g.toBytes();
}

export interface StepResult {
  x: ort.Tensor;
  /** The transformer's next hidden_states (x itself at batch 1). */
  hidden: ort.Tensor;
  /** Whether the velocity had a non-finite value (an fp16 overflow): x is then not usable. */
  nonFinite: boolean;
}

/** The helper sessions on the WebGPU device, opened once per runtime on first use. */
export class DeviceSteps {
  readonly io: IoCount;
  /** Upload and download sessions by rank (a gpu-buffer tensor is fed with the dims it came out with). */
  private readonly copies = new Map<string, Promise<ort.InferenceSession>>();

  private constructor(
    private readonly steps: Record<1 | 2, ort.InferenceSession>,
    io: IoCount,
  ) {
    this.io = io;
  }

  static async open(io: IoCount): Promise<DeviceSteps> {
    const options = sessionOptions('webgpu');
    const keep = (outputs: Record<string, 'gpu-buffer' | 'cpu'>) => ({ ...options, preferredOutputLocation: outputs }) as ort.InferenceSession.SessionOptions;
    const [one, two] = await Promise.all([
      ort.InferenceSession.create(stepGraph(1), keep({ x_next: 'gpu-buffer', nonfinite: 'cpu' })),
      ort.InferenceSession.create(stepGraph(2), keep({ x_next: 'gpu-buffer', hidden_states: 'gpu-buffer', nonfinite: 'cpu' })),
    ]);
    return new DeviceSteps({ 1: one, 2: two }, io);
  }

  private copy(rank: number, to: 'device' | 'host'): Promise<ort.InferenceSession> {
    const key = `${to}${rank}`;
    let s = this.copies.get(key);
    if (!s) {
      const options = sessionOptions('webgpu');
      s = ort.InferenceSession.create(identityGraph(rank), to === 'device' ? ({ ...options, preferredOutputLocation: 'gpu-buffer' } as ort.InferenceSession.SessionOptions) : options);
      this.copies.set(key, s);
    }
    return s;
  }

  /** A host array as a device tensor of `dims`. */
  async upload(data: Float32Array, dims: readonly number[]): Promise<ort.Tensor> {
    this.io.toDevice += data.byteLength;
    return (await (await this.copy(dims.length, 'device')).run({ in: new ort.Tensor('float32', data, dims) })).out!;
  }

  /** A device tensor's values on the host; the device copy is released. */
  async download(t: ort.Tensor): Promise<Float32Array> {
    const out = (await (await this.copy(t.dims.length, 'host')).run({ in: t })).out!.data as Float32Array;
    this.io.toHost += out.byteLength;
    t.dispose();
    return out;
  }

  /** One guided Euler step on the device; the velocity is released, x is the caller's (kept for a rerun). */
  async step(x: ort.Tensor, velocity: ort.Tensor, tokenScale: ort.Tensor, dt: number, guidance: number): Promise<StepResult> {
    const batch = velocity.dims[0] as 1 | 2;
    const feeds: Record<string, ort.Tensor> = { x, velocity, token_scale: tokenScale, dt: new ort.Tensor('float32', Float32Array.of(dt), [1]) };
    if (batch === 2) feeds.guidance = new ort.Tensor('float32', Float32Array.of(guidance), [1]);
    this.io.toDevice += 4 * (batch === 2 ? 2 : 1);
    const out = await this.steps[batch].run(feeds);
    this.io.toHost += 4;
    velocity.dispose();
    const next = out.x_next!;
    const nonFinite = !Number.isFinite((out.nonfinite!.data as Float32Array)[0]!);
    if (!nonFinite) this.io.deviceSteps++;
    return { x: next, hidden: batch === 2 ? out.hidden_states! : next, nonFinite };
  }

  async release(): Promise<void> {
    const copies = await Promise.all(this.copies.values());
    this.copies.clear();
    await Promise.all([...copies, this.steps[1], this.steps[2]].map((s) => s.release()));
  }
}
