/**
 * A plain, slow TypeScript forward of diffusers' AutoencoderKLLTXVideo (encoder + decoder), written
 * from the upstream module semantics with loops over Float32Arrays, to check the ONNX graphs against.
 * It shares nothing with the graph builder but the parsed config and the weights (looked up by
 * state-dict name): the block walk, index arithmetic of every reshape/permute, the timestep
 * frequencies and the convolution are all its own.
 */
import type { LtxvVaeConfig } from '../../companion/models/ltxv/vae-config.ts';

export type Weights = (name: string) => Float32Array;

/** A dense row-major tensor. */
export interface Tensor {
  data: Float32Array;
  shape: number[];
}

const size = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const tensor = (shape: number[]): Tensor => ({ data: new Float32Array(size(shape)), shape });

// ---- elementwise / norms ------------------------------------------------------------------------

function map(x: Tensor, fn: (v: number, i: number) => number): Tensor {
  const out = tensor([...x.shape]);
  for (let i = 0; i < x.data.length; i++) out.data[i] = fn(x.data[i], i);
  return out;
}

function add(a: Tensor, b: Tensor): Tensor {
  if (a.shape.join() !== b.shape.join()) throw new Error(`add: shapes ${a.shape} and ${b.shape} differ`);
  return map(a, (v, i) => v + b.data[i]);
}

const silu = (x: Tensor): Tensor => map(x, (v) => v / (1 + Math.exp(-v)));

/** For each (b, c) of a [B, C, ...] tensor: fn(b, c, offset, count). */
function perBC(x: Tensor, fn: (b: number, c: number, offset: number, count: number) => void): void {
  const [B, C] = x.shape;
  const n = size(x.shape.slice(2));
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) fn(b, c, (b * C + c) * n, n);
}

/** RMS over the channel axis at every position: x / sqrt(mean_c x² + eps). */
function pixelNorm(x: Tensor, eps = 1e-8): Tensor {
  const [B, C] = x.shape;
  const n = size(x.shape.slice(2));
  const out = tensor([...x.shape]);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < n; s++) {
      let ss = 0;
      for (let c = 0; c < C; c++) ss += x.data[(b * C + c) * n + s] ** 2;
      const inv = 1 / Math.sqrt(ss / C + eps);
      for (let c = 0; c < C; c++) out.data[(b * C + c) * n + s] = x.data[(b * C + c) * n + s] * inv;
    }
  }
  return out;
}

/** nn.LayerNorm over channels with weight and bias. */
function layerNormChannels(x: Tensor, weight: Float32Array, bias: Float32Array, eps: number): Tensor {
  const [B, C] = x.shape;
  const n = size(x.shape.slice(2));
  const out = tensor([...x.shape]);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < n; s++) {
      let mean = 0;
      for (let c = 0; c < C; c++) mean += x.data[(b * C + c) * n + s];
      mean /= C;
      let v = 0;
      for (let c = 0; c < C; c++) v += (x.data[(b * C + c) * n + s] - mean) ** 2;
      const inv = 1 / Math.sqrt(v / C + eps);
      for (let c = 0; c < C; c++) {
        const i = (b * C + c) * n + s;
        out.data[i] = (x.data[i] - mean) * inv * weight[c] + bias[c];
      }
    }
  }
  return out;
}

// ---- convolution ----------------------------------------------------------------------------------

/** Frames [lo, hi) of x along axis 2, with indices clamped to the ends (replicate padding in time). */
function padTimeReplicate(x: Tensor, before: number, after: number): Tensor {
  const [B, C, F, H, W] = x.shape;
  const out = tensor([B, C, F + before + after, H, W]);
  const plane = H * W;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      for (let t = 0; t < F + before + after; t++) {
        const src = Math.min(F - 1, Math.max(0, t - before));
        const from = ((b * C + c) * F + src) * plane;
        out.data.set(x.data.subarray(from, from + plane), ((b * C + c) * (F + before + after) + t) * plane);
      }
    }
  }
  return out;
}

/** nn.Conv3d with zero padding (0, p, p), given weight [out, in, k, k, k] and bias. */
function conv3d(x: Tensor, weight: Float32Array, bias: Float32Array, outC: number, k: number, stride: number[]): Tensor {
  const [B, inC, F, H, W] = x.shape;
  if (weight.length !== outC * inC * k * k * k) throw new Error(`conv3d: weight has ${weight.length} values, expected [${outC}, ${inC}, ${k}, ${k}, ${k}]`);
  const p = Math.floor(k / 2);
  const [st, sh, sw] = stride;
  const Fo = Math.floor((F - k) / st) + 1;
  const Ho = Math.floor((H + 2 * p - k) / sh) + 1;
  const Wo = Math.floor((W + 2 * p - k) / sw) + 1;
  const out = tensor([B, outC, Fo, Ho, Wo]);
  const acc = new Float64Array(Fo * Ho * Wo);
  for (let b = 0; b < B; b++) {
    for (let o = 0; o < outC; o++) {
      acc.fill(bias[o]);
      for (let i = 0; i < inC; i++) {
        const xBase = (b * inC + i) * F * H * W;
        for (let kt = 0; kt < k; kt++) {
          for (let kh = 0; kh < k; kh++) {
            for (let kw = 0; kw < k; kw++) {
              const w = weight[(((o * inC + i) * k + kt) * k + kh) * k + kw];
              for (let t = 0; t < Fo; t++) {
                const ti = t * st + kt;
                for (let y = 0; y < Ho; y++) {
                  const yi = y * sh + kh - p;
                  if (yi < 0 || yi >= H) continue;
                  const row = xBase + (ti * H + yi) * W;
                  const accRow = (t * Ho + y) * Wo;
                  for (let xo = 0; xo < Wo; xo++) {
                    const xi = xo * sw + kw - p;
                    if (xi < 0 || xi >= W) continue;
                    acc[accRow + xo] += w * x.data[row + xi];
                  }
                }
              }
            }
          }
        }
      }
      out.data.set(acc, (b * outC + o) * Fo * Ho * Wo);
    }
  }
  return out;
}

// ---- rearrangements (index arithmetic written out) ------------------------------------------------

/** x[b, c, t·s0 + a, y·s1 + d, x·s2 + e] → out[b, ((c·s0 + a)·s1 + d)·s2 + e, t, y, x]. */
function foldSpace(x: Tensor, s: number[]): Tensor {
  const [B, C, F, H, W] = x.shape;
  const [s0, s1, s2] = s;
  const [f, h, w] = [F / s0, H / s1, W / s2];
  const out = tensor([B, C * s0 * s1 * s2, f, h, w]);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let t = 0; t < F; t++)
        for (let y = 0; y < H; y++)
          for (let xx = 0; xx < W; xx++) {
            const ch = ((c * s0 + (t % s0)) * s1 + (y % s1)) * s2 + (xx % s2);
            const dst = (((b * C * s0 * s1 * s2 + ch) * f + Math.floor(t / s0)) * h + Math.floor(y / s1)) * w + Math.floor(xx / s2);
            out.data[dst] = x.data[(((b * C + c) * F + t) * H + y) * W + xx];
          }
  return out;
}

/** Inverse of foldSpace. */
function unfoldSpace(x: Tensor, s: number[]): Tensor {
  const [B, Cs, f, h, w] = x.shape;
  const [s0, s1, s2] = s;
  const C = Cs / (s0 * s1 * s2);
  const out = tensor([B, C, f * s0, h * s1, w * s2]);
  const [F, H, W] = [f * s0, h * s1, w * s2];
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let t = 0; t < F; t++)
        for (let y = 0; y < H; y++)
          for (let xx = 0; xx < W; xx++) {
            const ch = ((c * s0 + (t % s0)) * s1 + (y % s1)) * s2 + (xx % s2);
            const src = (((b * Cs + ch) * f + Math.floor(t / s0)) * h + Math.floor(y / s1)) * w + Math.floor(xx / s2);
            out.data[(((b * C + c) * F + t) * H + y) * W + xx] = x.data[src];
          }
  return out;
}

/** Patchify: channel (c·p + dx)·p + dy — the width offset is the slower one. */
function patchify(x: Tensor, p: number): Tensor {
  const [B, C, F, H, W] = x.shape;
  const [h, w] = [H / p, W / p];
  const out = tensor([B, C * p * p, F, h, w]);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let t = 0; t < F; t++)
        for (let y = 0; y < H; y++)
          for (let xx = 0; xx < W; xx++) {
            const ch = (c * p + (xx % p)) * p + (y % p);
            out.data[(((b * C * p * p + ch) * F + t) * h + Math.floor(y / p)) * w + Math.floor(xx / p)] = x.data[(((b * C + c) * F + t) * H + y) * W + xx];
          }
  return out;
}

function unpatchify(x: Tensor, p: number): Tensor {
  const [B, Cp, F, h, w] = x.shape;
  const C = Cp / (p * p);
  const [H, W] = [h * p, w * p];
  const out = tensor([B, C, F, H, W]);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let t = 0; t < F; t++)
        for (let y = 0; y < H; y++)
          for (let xx = 0; xx < W; xx++) {
            const ch = (c * p + (xx % p)) * p + (y % p);
            out.data[(((b * C + c) * F + t) * H + y) * W + xx] = x.data[(((b * Cp + ch) * F + t) * h + Math.floor(y / p)) * w + Math.floor(xx / p)];
          }
  return out;
}

function dropFirstFrames(x: Tensor, n: number): Tensor {
  const [B, C, F, H, W] = x.shape;
  const out = tensor([B, C, F - n, H, W]);
  const plane = H * W;
  for (let bc = 0; bc < B * C; bc++) out.data.set(x.data.subarray((bc * F + n) * plane, (bc + 1) * F * plane), bc * (F - n) * plane);
  return out;
}

// ---- the model ------------------------------------------------------------------------------------

export interface DecoderExtras {
  /** decode_timestep per batch row (timestep-conditioned decoders). */
  timestep?: Float32Array;
  /** Noise planes [sites, height, width]; site k uses the top-left of plane k. */
  noise?: { planes: Float32Array; height: number; width: number };
}

class Model {
  private site = 0;
  constructor(
    private readonly cfg: LtxvVaeConfig,
    private readonly W: Weights,
    private readonly extras: DecoderExtras = {},
  ) {}

  conv(x: Tensor, prefix: string, inC: number, outC: number, causal: boolean, k = 3, stride = [1, 1, 1]): Tensor {
    if (x.shape[1] !== inC) throw new Error(`${prefix}: got ${x.shape[1]} channels, expected ${inC}`);
    const padded = k === 1 ? x : causal ? padTimeReplicate(x, k - 1, 0) : padTimeReplicate(x, (k - 1) / 2, (k - 1) / 2);
    return conv3d(padded, this.W(`${prefix}.conv.weight`), this.W(`${prefix}.conv.bias`), outC, k, stride);
  }

  /** Sinusoidal embedding of t (flip_sin_to_cos) → linear_1 → SiLU → linear_2, per batch row: [B][dim]. */
  timeEmbed(t: number[], prefix: string, dim: number): Float64Array[] {
    const half = 128;
    const lin = (v: Float64Array, name: string, inF: number, outF: number): Float64Array => {
      const w = this.W(`${name}.weight`);
      const b = this.W(`${name}.bias`);
      const y = new Float64Array(outF);
      for (let o = 0; o < outF; o++) {
        let acc = b[o];
        for (let i = 0; i < inF; i++) acc += w[o * inF + i] * v[i];
        y[o] = acc;
      }
      return y;
    };
    return t.map((value) => {
      const proj = new Float64Array(2 * half);
      for (let i = 0; i < half; i++) {
        const arg = value * Math.exp((-Math.log(10000) * i) / half);
        proj[i] = Math.cos(arg);
        proj[half + i] = Math.sin(arg);
      }
      const h = lin(proj, `${prefix}.timestep_embedder.linear_1`, 2 * half, dim).map((v) => v / (1 + Math.exp(-v)));
      return lin(h, `${prefix}.timestep_embedder.linear_2`, dim, dim);
    });
  }

  /** x·(1 + scale) + shift with shift = emb[j·C + c] + table[j, c], scale the same at j + 1. */
  modulate(x: Tensor, emb: Float64Array[], table: Float32Array, j: number): Tensor {
    const C = x.shape[1];
    const out = tensor([...x.shape]);
    perBC(x, (b, c, off, n) => {
      const shift = emb[b][j * C + c] + table[j * C + c];
      const scale = emb[b][(j + 1) * C + c] + table[(j + 1) * C + c];
      for (let s = 0; s < n; s++) out.data[off + s] = x.data[off + s] * (1 + scale) + shift;
    });
    return out;
  }

  noise(x: Tensor, scaleName: string): Tensor {
    const plan = this.extras.noise;
    const scale = this.W(scaleName);
    if (!plan) throw new Error('reference: this decoder injects noise; pass extras.noise');
    const k = this.site++;
    const [, , F, H, Wd] = x.shape;
    const out = tensor([...x.shape]);
    perBC(x, (_b, c, off) => {
      for (let t = 0; t < F; t++)
        for (let y = 0; y < H; y++)
          for (let xx = 0; xx < Wd; xx++) {
            const i = off + (t * H + y) * Wd + xx;
            out.data[i] = x.data[i] + plan.planes[(k * plan.height + y) * plan.width + xx] * scale[c];
          }
    });
    return out;
  }

  resnet(x: Tensor, prefix: string, inC: number, outC: number, causal: boolean, emb?: Float64Array[], injectNoise = false): Tensor {
    let h = pixelNorm(x);
    const table = emb ? this.W(`${prefix}.scale_shift_table`) : undefined;
    if (emb && table) h = this.modulate(h, emb, table, 0);
    h = this.conv(silu(h), `${prefix}.conv1`, inC, outC, causal);
    if (injectNoise) h = this.noise(h, `${prefix}.per_channel_scale1`);
    h = pixelNorm(h);
    if (emb && table) h = this.modulate(h, emb, table, 2);
    h = this.conv(silu(h), `${prefix}.conv2`, outC, outC, causal);
    if (injectNoise) h = this.noise(h, `${prefix}.per_channel_scale2`);
    let skip = x;
    if (inC !== outC) {
      skip = layerNormChannels(skip, this.W(`${prefix}.norm3.weight`), this.W(`${prefix}.norm3.bias`), this.cfg.resnetNormEps);
      skip = this.conv(skip, `${prefix}.conv_shortcut`, inC, outC, causal, 1);
    }
    return add(h, skip);
  }

  encode(sample: Tensor): Tensor {
    const cfg = this.cfg;
    const e = cfg.encoder;
    const causal = e.causal;
    const boc = e.blockOutChannels;
    const modern = e.blockTypes[e.blockTypes.length - 1] === 'LTXVideo095DownBlock3D';
    const p = cfg.patchSize;
    let x = this.conv(patchify(sample, p), 'encoder.conv_in', 3 * p * p, boc[0], causal);
    const n = boc.length - (modern ? 1 : 0);
    let ch = boc[0];
    for (let i = 0; i < n; i++) {
      const inC = ch;
      const outC = modern ? boc[i + 1] : i + 1 < n ? boc[i + 1] : boc[i];
      const pre = `encoder.down_blocks.${i}`;
      for (let j = 0; j < e.layersPerBlock[i]; j++) x = this.resnet(x, `${pre}.resnets.${j}`, inC, inC, causal);
      if (e.spatioTemporalScaling[i]) {
        const type = modern ? e.downsampleType[i] : 'conv';
        if (type === 'conv') {
          x = this.conv(x, `${pre}.downsamplers.0`, inC, inC, causal, 3, [2, 2, 2]);
        } else {
          const s = type === 'spatial' ? [1, 2, 2] : type === 'temporal' ? [2, 1, 1] : [2, 2, 2];
          const prod = s[0] * s[1] * s[2];
          const group = (inC * prod) / outC;
          // cat([x[:, :, :s0-1], x]) along time
          const padded = s[0] > 1 ? padTimeReplicate(x, s[0] - 1, 0) : x;
          const folded = foldSpace(padded, s);
          const residual = tensor([folded.shape[0], outC, ...folded.shape.slice(2)]);
          const plane = size(folded.shape.slice(2));
          for (let b = 0; b < folded.shape[0]; b++)
            for (let c = 0; c < outC; c++)
              for (let s2 = 0; s2 < plane; s2++) {
                let acc = 0;
                for (let q = 0; q < group; q++) acc += folded.data[(b * inC * prod + c * group + q) * plane + s2];
                residual.data[(b * outC + c) * plane + s2] = acc / group;
              }
          x = add(foldSpace(this.conv(padded, `${pre}.downsamplers.0.conv`, inC, outC / prod, causal), s), residual);
        }
      }
      if (!modern && inC !== outC) x = this.resnet(x, `${pre}.conv_out`, inC, outC, causal);
      ch = outC;
    }
    for (let j = 0; j < e.layersPerBlock[n]; j++) x = this.resnet(x, `encoder.mid_block.resnets.${j}`, ch, ch, causal);
    const C = cfg.latentChannels;
    x = this.conv(silu(pixelNorm(x)), 'encoder.conv_out', ch, C + 1, causal);
    // posterior mean = the first C channels; normalise with the latent statistics
    const [B, , f, h, w] = x.shape;
    const n3 = f * h * w;
    const mean = this.W('latents_mean');
    const std = this.W('latents_std');
    const out = tensor([B, C, f, h, w]);
    for (let b = 0; b < B; b++)
      for (let c = 0; c < C; c++)
        for (let s = 0; s < n3; s++) out.data[(b * C + c) * n3 + s] = ((x.data[(b * (C + 1) + c) * n3 + s] - mean[c]) * cfg.scalingFactor) / std[c];
    return out;
  }

  decode(latent: Tensor): Tensor {
    const cfg = this.cfg;
    const d = cfg.decoder;
    const causal = d.causal;
    const r = <T>(xs: readonly T[]): T[] => [...xs].reverse();
    const boc = r(d.blockOutChannels);
    const sts = r(d.spatioTemporalScaling);
    const layers = r(d.layersPerBlock);
    const noise = r(d.injectNoise);
    const residual = r(d.upsampleResidual);
    const factor = r(d.upsampleFactor);
    const mean = this.W('latents_mean');
    const std = this.W('latents_std');
    const z = map(latent, (v, i) => {
      const c = Math.floor(i / size(latent.shape.slice(2))) % latent.shape[1];
      return (v * std[c]) / cfg.scalingFactor + mean[c];
    });
    let ch = boc[0];
    let x = this.conv(z, 'decoder.conv_in', cfg.latentChannels, ch, causal);
    let t: number[] | undefined;
    if (cfg.timestepConditioning) {
      const ts = this.extras.timestep;
      if (!ts) throw new Error('reference: timestep-conditioned decoder needs extras.timestep');
      const mult = this.W('decoder.timestep_scale_multiplier')[0];
      t = Array.from(ts, (v) => Math.fround(v * mult));
    }
    let emb = t ? this.timeEmbed(t, 'decoder.mid_block.time_embedder', 4 * ch) : undefined;
    for (let j = 0; j < layers[0]; j++) x = this.resnet(x, `decoder.mid_block.resnets.${j}`, ch, ch, causal, emb, noise[0]);
    let prev = ch;
    for (let i = 0; i < boc.length; i++) {
      const inC = prev / factor[i];
      const outC = boc[i] / factor[i];
      const pre = `decoder.up_blocks.${i}`;
      if (inC !== outC) x = this.resnet(x, `${pre}.conv_in`, inC, outC, causal);
      emb = t ? this.timeEmbed(t, `${pre}.time_embedder`, 4 * inC) : undefined;
      if (sts[i]) {
        const upIn = outC * factor[i];
        const conv = this.conv(x, `${pre}.upsamplers.0.conv`, upIn, (upIn * 8) / factor[i], causal);
        let y = dropFirstFrames(unfoldSpace(conv, [2, 2, 2]), 1);
        if (residual[i]) {
          const spread = unfoldSpace(x, [2, 2, 2]); // upIn / 8 channels
          const copies = 8 / factor[i];
          const C8 = upIn / 8;
          const tiled = tensor([spread.shape[0], C8 * copies, ...spread.shape.slice(2)]);
          const plane = size(spread.shape.slice(2));
          for (let b = 0; b < spread.shape[0]; b++)
            for (let k = 0; k < copies; k++)
              for (let c = 0; c < C8; c++)
                tiled.data.set(spread.data.subarray((b * C8 + c) * plane, (b * C8 + c + 1) * plane), (b * C8 * copies + k * C8 + c) * plane);
          y = add(y, dropFirstFrames(tiled, 1));
        }
        x = y;
      }
      for (let j = 0; j < layers[i + 1]; j++) x = this.resnet(x, `${pre}.resnets.${j}`, outC, outC, causal, emb, noise[i + 1]);
      prev = outC;
      ch = outC;
    }
    x = pixelNorm(x);
    if (t) x = this.modulate(x, this.timeEmbed(t, 'decoder.time_embedder', 2 * ch), this.W('decoder.scale_shift_table'), 0);
    const p = cfg.patchSize;
    x = this.conv(silu(x), 'decoder.conv_out', ch, 3 * p * p, causal);
    return unpatchify(x, p);
  }
}

/** Encoder: sample [B, 3, F, H, W] → normalised latent [B, C, f, h, w]. */
export function referenceEncode(cfg: LtxvVaeConfig, weights: Weights, sample: Tensor): Tensor {
  return new Model(cfg, weights).encode(sample);
}

/** Decoder: normalised latent [B, C, f, h, w] → sample [B, 3, F, H, W]. */
export function referenceDecode(cfg: LtxvVaeConfig, weights: Weights, latent: Tensor, extras: DecoderExtras = {}): Tensor {
  return new Model(cfg, weights, extras).decode(latent);
}
