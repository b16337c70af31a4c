import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as ort from 'onnxruntime-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  latentSpecOf,
  ltxvVaeDecoderGraph,
  ltxvVaeDecoderNoiseShape,
  ltxvVaeEncoderGraph,
  ltxvVaeParams,
  parseLtxvVaeConfig,
  type LtxvVaeConfig,
} from '../../companion/models/ltxv/vae.ts';
import { inspectModel } from '../../companion/models/onnx/inspect.ts';
import type { WeightSource } from '../../companion/models/onnx/graph.ts';
import { seededNormals, seededWeights } from '../../companion/models/weights.ts';
import { ReshootError } from '../../companion/errors.ts';
import { referenceDecode, referenceEncode, type Tensor } from '../helpers/vaeReference.ts';

// ---- configs --------------------------------------------------------------------------------------

/** Lightricks/LTX-Video vae/config.json (0.9.0) as published: only a dozen keys, the rest default. */
const REAL_090 = {
  _class_name: 'AutoencoderKLLTXVideo',
  _diffusers_version: '0.32.0.dev0',
  block_out_channels: [128, 256, 512, 512],
  decoder_causal: false,
  encoder_causal: true,
  in_channels: 3,
  latent_channels: 128,
  layers_per_block: [4, 3, 3, 3, 4],
  out_channels: 3,
  patch_size: 4,
  patch_size_t: 1,
  resnet_norm_eps: 1e-6,
  scaling_factor: 1.0,
  spatio_temporal_scaling: [true, true, true, false],
};

/** diffusers scripts/convert_ltx_to_diffusers.py get_vae_config("0.9.1"). */
const REAL_091 = {
  ...REAL_090,
  down_block_types: ['LTXVideoDownBlock3D', 'LTXVideoDownBlock3D', 'LTXVideoDownBlock3D', 'LTXVideoDownBlock3D'],
  decoder_block_out_channels: [256, 512, 1024],
  decoder_layers_per_block: [5, 6, 7, 8],
  decoder_spatio_temporal_scaling: [true, true, true],
  decoder_inject_noise: [true, true, true, false],
  downsample_type: ['conv', 'conv', 'conv', 'conv'],
  upsample_residual: [true, true, true],
  upsample_factor: [2, 2, 2],
  timestep_conditioning: true,
};

/** get_vae_config("0.9.5") (0.9.7 is the same). */
const REAL_095 = {
  ...REAL_091,
  block_out_channels: [128, 256, 512, 1024, 2048],
  down_block_types: ['LTXVideo095DownBlock3D', 'LTXVideo095DownBlock3D', 'LTXVideo095DownBlock3D', 'LTXVideo095DownBlock3D'],
  layers_per_block: [4, 6, 6, 2, 2],
  decoder_layers_per_block: [5, 5, 5, 5],
  spatio_temporal_scaling: [true, true, true, true],
  decoder_inject_noise: [false, false, false, false],
  downsample_type: ['spatial', 'temporal', 'spatiotemporal', 'spatiotemporal'],
  spatial_compression_ratio: 32,
  temporal_compression_ratio: 8,
};

// Tiny versions: same structure, few channels, one layer per block (two in one decoder block).
const TINY_090 = {
  ...REAL_090,
  latent_channels: 8,
  block_out_channels: [8, 12, 16, 16],
  layers_per_block: [1, 1, 1, 1, 1],
  decoder_block_out_channels: [8, 12, 16, 16],
  decoder_layers_per_block: [1, 1, 2, 1, 1],
};
const TINY_091 = {
  ...REAL_091,
  latent_channels: 8,
  block_out_channels: [8, 12, 16, 16],
  layers_per_block: [1, 1, 1, 1, 1],
  decoder_block_out_channels: [8, 16, 32],
  decoder_layers_per_block: [1, 2, 1, 1],
};
const TINY_095 = {
  ...REAL_095,
  latent_channels: 8,
  block_out_channels: [8, 16, 32, 32, 64],
  layers_per_block: [1, 1, 1, 1, 1],
  decoder_block_out_channels: [8, 16, 32],
  decoder_layers_per_block: [1, 1, 2, 1],
};

// ---- helpers --------------------------------------------------------------------------------------

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'reshoot-vae-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Seeded weights with the released checkpoints' scales where the seeded default would be odd. */
function testWeights(seed: number): { source: WeightSource; get: (name: string) => Float32Array } {
  const base = seededWeights(seed);
  const seen = new Map<string, Float32Array>();
  const source: WeightSource = (name, dims, init) => {
    let w = base(name, dims, init);
    if (name === 'decoder.timestep_scale_multiplier') w = Float32Array.of(1000);
    if (name.includes('per_channel_scale')) w = w.map((v) => v * 25); // ~N(0, 0.5²): the noise is visible
    seen.set(name, w);
    return w;
  };
  const get = (name: string): Float32Array => {
    const w = seen.get(name);
    if (!w) throw new Error(`reference asked for ${name}, which the graph does not have`);
    return w;
  };
  return { source, get };
}

interface Built {
  path: string;
  get: (name: string) => Float32Array;
}

function build(cfg: LtxvVaeConfig, which: 'encoder' | 'decoder', file: string, opts: { spatialNoise?: 'input' | 'off' } = {}): Built {
  const { source, get } = testWeights(11);
  const g = which === 'encoder' ? ltxvVaeEncoderGraph(cfg, source) : ltxvVaeDecoderGraph(cfg, source, opts);
  return { path: g.save(dir, file).onnxPath, get };
}

async function run(path: string, feeds: Record<string, Tensor>): Promise<Tensor> {
  const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'] });
  try {
    const inputs = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor('float32', t.data, t.shape)]));
    const out = await session.run(inputs);
    const result = out[session.outputNames[0]];
    return { data: result.data as Float32Array, shape: [...result.dims] };
  } finally {
    await session.release();
  }
}

function video(seed: number, shape: number[]): Tensor {
  const data = seededNormals(seed, shape.reduce((a, b) => a * b, 1)).map((v) => Math.tanh(v)); // in (-1, 1)
  return { data, shape };
}

function compare(got: Tensor, want: Tensor): { maxErr: number; maxAbs: number } {
  expect(got.shape).toEqual(want.shape);
  let maxErr = 0;
  let maxAbs = 0;
  for (let i = 0; i < want.data.length; i++) {
    maxErr = Math.max(maxErr, Math.abs(got.data[i] - want.data[i]));
    maxAbs = Math.max(maxAbs, Math.abs(want.data[i]));
  }
  return { maxErr, maxAbs };
}

/**
 * Parity bound: max abs error < 1e-4 · max(1, max |output|). Measured on this machine: encoders
 * ≤ 1e-6 (outputs ~1), decoders ≤ 6e-5 with outputs up to ~7 (the timestep embedding's cos/sin of
 * arguments up to 400 rad in float32 costs the most).
 */
const TOLERANCE = 1e-4;
const bound = (maxAbs: number): number => TOLERANCE * Math.max(1, maxAbs);

/**
 * Golden values from diffusers' own AutoencoderKLLTXVideo (its autoencoder_kl_ltx.py run under
 * PyTorch 1.13 on CPU, state dict loaded strictly from exactly these seeded weights), for the tiny
 * configs and inputs of the parity tests below: `latent` is the whole normalised posterior mode
 * [1, 8, 2, 2, 2] ((mode − latents_mean) · scaling_factor / latents_std), `sampleAt` the decoded
 * sample at flat indices 7919·k mod N (k < 32), with its mean and mean square. The 0.9.1 run fed
 * the same noise planes to upstream's torch.randn calls, in call order.
 */
const UPSTREAM: Record<string, { latent: number[]; sampleAt: number[]; sampleMean: number; sampleMeanSquare: number }> = {
  '0.9.0': {
    latent: [0.7686442, -0.2203111, 0.06249633, 0.1079812, 0.9343135, -0.0104456, 0.2167921, 0.05109789, 0.1877801, -0.1178868, 0.2227648, 0.2166317, 0.1841007, 0.09180085, 0.3022689, -0.2537435, -0.2057064, -0.2247881, -0.5377395, -0.4463887, -0.01479007, -0.3366323, -0.5398583, -0.5593608, 0.05174562, -0.4930733, 0.3571305, -0.03043777, 0.03366233, -0.3513031, 0.3966735, 0.2184029, 0.7219324, -0.06085103, -0.4671904, -0.4316523, 0.782751, 0.07849104, -0.3849489, -0.3867019, -0.08973523, 0.05351133, 0.2215859, 0.3975852, -0.186226, 0.4068939, 0.1973136, 0.4479932, 0.3686284, 0.6174957, 0.5802339, -0.1356592, 0.5080889, 0.4550269, 0.6304761, -0.162519, 0.3216907, -0.139403, 0.03654002, -0.5259721, 0.2168572, 0.02144984, -0.1546814, -0.4849466],
    sampleAt: [-0.8014495, 0.3957769, 0.04283094, -0.03724462, -0.5760448, 0.08459869, -0.7754089, -0.4403078, 0.07016274, 0.03184254, -0.02336827, -0.1545883, -0.02351684, 0.3318384, 0.504675, 0.50458, -0.04153959, -0.6208292, 0.6530853, -0.4220617, 0.4199813, 0.8119861, -0.5140241, 0.334208, 0.1360522, 0.4600574, -0.3864511, 0.02221381, 0.5794035, -0.1166214, -0.06160096, 0.5704314],
    sampleMean: 0.0402472633,
    sampleMeanSquare: 0.239048209,
  },
  '0.9.1': {
    latent: [0.7686442, -0.2203111, 0.06249633, 0.1079812, 0.9343135, -0.0104456, 0.2167921, 0.05109789, 0.1877801, -0.1178868, 0.2227648, 0.2166317, 0.1841007, 0.09180085, 0.3022689, -0.2537435, -0.2057064, -0.2247881, -0.5377395, -0.4463887, -0.01479007, -0.3366323, -0.5398583, -0.5593608, 0.05174562, -0.4930733, 0.3571305, -0.03043777, 0.03366233, -0.3513031, 0.3966735, 0.2184029, 0.7219324, -0.06085103, -0.4671904, -0.4316523, 0.782751, 0.07849104, -0.3849489, -0.3867019, -0.08973523, 0.05351133, 0.2215859, 0.3975852, -0.186226, 0.4068939, 0.1973136, 0.4479932, 0.3686284, 0.6174957, 0.5802339, -0.1356592, 0.5080889, 0.4550269, 0.6304761, -0.162519, 0.3216907, -0.139403, 0.03654002, -0.5259721, 0.2168572, 0.02144984, -0.1546814, -0.4849466],
    sampleAt: [-0.005450487, -0.2686675, -0.633425, -0.8325427, -0.9684483, -0.4834374, -0.6362123, 0.6265736, -0.1226138, -0.5706967, 0.1147669, 0.4245834, -1.562598, -0.8330861, 1.149706, -0.2604135, -0.1184207, -0.1241231, -0.9950579, -0.9171196, -0.4796036, -0.1639442, 0.8669738, -0.731801, 0.1229617, 0.8037574, 0.8255606, -0.2099541, -0.06627679, 0.01654435, 0.2085675, -0.2170189],
    sampleMean: 0.0461966494,
    sampleMeanSquare: 1.04951341,
  },
  '0.9.5+': {
    latent: [-0.1254579, 0.1231706, -0.07115372, -0.1807626, -0.441773, -0.1125964, -0.1201628, -0.1806604, 0.3330626, -0.2354567, 0.3179182, 0.05589571, 0.1363105, -0.4038787, 0.4969928, 0.07375824, 0.4694202, 0.4154124, -0.6275552, 0.07575394, 0.5432016, 0.3731422, -0.4311689, 0.1191051, -0.4477329, -0.5287479, 0.1268142, -0.8184921, -0.4884651, -0.6126504, 0.7271707, -0.8134091, 0.1416492, 0.7215376, 0.02297371, 0.4459836, -0.02113908, 0.7989752, -0.06525948, 0.489123, 0.223608, -0.05300628, -0.1246935, -0.3494506, 0.02694921, 0.068351, 0.08611968, -0.3605054, -0.05244266, -0.6195087, -0.2630844, -0.2456216, 0.1274298, -0.7343184, -0.1526943, -0.2161949, 0.03294593, -0.06821828, 0.07192323, 0.3145651, 0.116368, 0.04161865, -0.1380534, 0.2392135],
    sampleAt: [-0.1146796, -0.02849334, -0.4342141, -0.2254848, -1.154656, 0.4187412, -0.5053771, 0.4263534, 0.1571565, -0.303162, -0.1700088, 0.3465483, -1.406005, -0.5793098, 1.441182, -0.5181279, -0.1544436, 0.7740288, -1.772817, 0.2405915, 0.006595147, -0.5633349, 0.8947105, -1.329134, -0.8585337, 1.04147, 0.3998449, -0.3421589, 0.05944617, -0.5407538, 0.7169492, -0.5985745],
    sampleMean: 0.0490961797,
    sampleMeanSquare: 1.09997679,
  },
};

// ---- config ---------------------------------------------------------------------------------------

describe('LTX-Video VAE config', () => {
  it('detects the version and the 128 × 32 × 32 × 8 latent of every released VAE', () => {
    const cases: [object, string][] = [
      [REAL_090, '0.9.0'],
      [REAL_091, '0.9.1'],
      [REAL_095, '0.9.5+'],
    ];
    for (const [json, version] of cases) {
      const cfg = parseLtxvVaeConfig(json);
      expect(cfg.version).toBe(version);
      expect(latentSpecOf(cfg)).toEqual({ channels: 128, spatial: 32, temporal: 8 });
    }
    // The published 0.9.0 file leaves the decoder to the defaults, which mirror the encoder.
    const d = parseLtxvVaeConfig(REAL_090).decoder;
    expect([d.blockOutChannels, d.layersPerBlock, d.causal]).toEqual([[128, 256, 512, 512], [4, 3, 3, 3, 4], false]);
  });

  it('refuses what it does not support, naming the field', () => {
    const refused = (json: unknown, pattern: RegExp): void => {
      let err: unknown;
      try {
        parseLtxvVaeConfig(json);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ReshootError);
      expect((err as ReshootError).code).toBe('model');
      expect((err as Error).message).toMatch(pattern);
    };
    refused({ ...REAL_095, down_block_types: ['LTXVideo095DownBlock3D', 'LTXVideo095DownBlock3D', 'LTX2VideoDownBlock3D', 'LTXVideo095DownBlock3D'] }, /down_block_types\[2\] "LTX2VideoDownBlock3D" is not supported/);
    refused({ ...REAL_095, downsample_type: ['spatial', 'temporal', 'diagonal', 'spatiotemporal'] }, /downsample_type\[2\] "diagonal"/);
    refused({ ...REAL_090, decoder_spatial_padding_mode: 'reflect' }, /unsupported field "decoder_spatial_padding_mode"/);
    refused({ ...REAL_090, _class_name: 'AutoencoderKLLTX2Video' }, /_class_name "AutoencoderKLLTX2Video"/);
    refused({ ...REAL_090, patch_size_t: 2 }, /patch_size_t 2/);
    refused({ ...REAL_090, layers_per_block: [4, 3, 3, 3] }, /layers_per_block has 4 entries; 5 expected/);
    refused({ ...REAL_091, upsample_factor: [2, 2] }, /upsample_factor has 2 entries; 3 expected/);
    refused({ ...REAL_090, latent_channels: -4 }, /field "latent_channels" is invalid/);
    refused({ ...REAL_095, spatial_compression_ratio: 64 }, /spatial_compression_ratio 64 does not match the blocks \(32\)/);
    refused({ ...REAL_090, decoder_spatio_temporal_scaling: [true, true, false, false] }, /decoder_spatio_temporal_scaling upsamples 4×16 .* but the encoder downsamples 8×32/);
    refused({ ...REAL_091, decoder_spatio_temporal_scaling: [true, true, false] }, /up block 0: receives 1024 channels but its resnets expect 512/);
    refused({ ...REAL_091, decoder_block_out_channels: [256, 512, 1000] }, /up block/);
    refused('not json', /not a JSON object/);
  });
});

// ---- parameter names ---------------------------------------------------------------------------------

describe('LTX-Video VAE parameters', () => {
  const byName = (cfg: object): Map<string, readonly number[]> => new Map(ltxvVaeParams(parseLtxvVaeConfig(cfg)).map((p) => [p.name, p.dims]));

  it('0.9.0: diffusers names and shapes, and exactly the published file’s size', () => {
    const p = byName(REAL_090);
    const expected: [string, number[]][] = [
      ['encoder.conv_in.conv.weight', [128, 48, 3, 3, 3]],
      ['encoder.down_blocks.0.resnets.3.conv2.conv.weight', [128, 128, 3, 3, 3]],
      ['encoder.down_blocks.0.downsamplers.0.conv.weight', [128, 128, 3, 3, 3]],
      ['encoder.down_blocks.0.conv_out.norm3.weight', [128]],
      ['encoder.down_blocks.0.conv_out.norm3.bias', [128]],
      ['encoder.down_blocks.0.conv_out.conv_shortcut.conv.weight', [256, 128, 1, 1, 1]],
      ['encoder.down_blocks.3.resnets.2.conv1.conv.bias', [512]],
      ['encoder.mid_block.resnets.3.conv1.conv.weight', [512, 512, 3, 3, 3]],
      ['encoder.conv_out.conv.weight', [129, 512, 3, 3, 3]],
      ['decoder.conv_in.conv.weight', [512, 128, 3, 3, 3]],
      ['decoder.mid_block.resnets.3.conv2.conv.weight', [512, 512, 3, 3, 3]],
      ['decoder.up_blocks.0.resnets.2.conv1.conv.weight', [512, 512, 3, 3, 3]],
      ['decoder.up_blocks.1.upsamplers.0.conv.conv.weight', [4096, 512, 3, 3, 3]],
      ['decoder.up_blocks.2.conv_in.norm3.weight', [512]],
      ['decoder.up_blocks.2.conv_in.conv_shortcut.conv.weight', [256, 512, 1, 1, 1]],
      ['decoder.up_blocks.3.upsamplers.0.conv.conv.weight', [1024, 128, 3, 3, 3]],
      ['decoder.up_blocks.3.resnets.3.conv2.conv.weight', [128, 128, 3, 3, 3]],
      ['decoder.conv_out.conv.weight', [48, 128, 3, 3, 3]],
      ['latents_mean', [128]],
      ['latents_std', [128]],
    ];
    for (const [name, dims] of expected) expect([name, p.get(name)]).toEqual([name, dims]);
    expect(p.has('encoder.down_blocks.3.downsamplers.0.conv.weight')).toBe(false); // spatio_temporal_scaling[3] = false
    expect(p.has('decoder.up_blocks.0.upsamplers.0.conv.conv.weight')).toBe(false);
    expect([...p.keys()].some((n) => n.includes('time_embedder') || n.includes('scale_shift'))).toBe(false);
    // Lightricks/LTX-Video vae/diffusion_pytorch_model.safetensors (fp32) is 1,676,798,532 bytes:
    // 4 bytes per value plus an 8-byte length and a JSON header of ~120 bytes per tensor (190 here).
    const values = [...p.values()].reduce((a, d) => a + d.reduce((x, y) => x * y, 1), 0);
    expect(values).toBe(419_193_905);
    expect(1_676_798_532 - 4 * values).toBeGreaterThan(0);
    expect((1_676_798_532 - 4 * values) / p.size).toBeGreaterThan(60);
    expect((1_676_798_532 - 4 * values) / p.size).toBeLessThan(200);
  });

  it('0.9.1: timestep conditioning and noise-injection parameters', () => {
    const p = byName(REAL_091);
    const expected: [string, number[]][] = [
      ['decoder.conv_in.conv.weight', [1024, 128, 3, 3, 3]],
      ['decoder.timestep_scale_multiplier', []],
      ['decoder.mid_block.time_embedder.timestep_embedder.linear_1.weight', [4096, 256]],
      ['decoder.mid_block.time_embedder.timestep_embedder.linear_2.weight', [4096, 4096]],
      ['decoder.mid_block.resnets.7.scale_shift_table', [4, 1024]],
      ['decoder.up_blocks.0.time_embedder.timestep_embedder.linear_1.weight', [2048, 256]],
      ['decoder.up_blocks.0.upsamplers.0.conv.conv.weight', [4096, 1024, 3, 3, 3]],
      ['decoder.up_blocks.0.resnets.6.per_channel_scale1', [512, 1, 1]],
      ['decoder.up_blocks.0.resnets.6.per_channel_scale2', [512, 1, 1]],
      ['decoder.up_blocks.2.resnets.4.scale_shift_table', [4, 128]],
      ['decoder.time_embedder.timestep_embedder.linear_1.weight', [256, 256]],
      ['decoder.scale_shift_table', [2, 128]],
      ['decoder.conv_out.conv.weight', [48, 128, 3, 3, 3]],
    ];
    for (const [name, dims] of expected) expect([name, p.get(name)]).toEqual([name, dims]);
    expect(p.has('decoder.mid_block.resnets.0.per_channel_scale1')).toBe(false); // decoder_inject_noise[-1] = false
    expect([...p.keys()].some((n) => /decoder\.up_blocks\.\d\.conv_in/.test(n))).toBe(false);
    expect(ltxvVaeDecoderNoiseShape(parseLtxvVaeConfig(REAL_091), 16, 22)).toEqual({ sites: 2 * (7 + 6 + 5), height: 128, width: 176 });
  });

  it('0.9.5: space-to-depth downsamplers, one block fewer than block_out_channels', () => {
    const p = byName(REAL_095);
    const expected: [string, number[]][] = [
      ['encoder.down_blocks.0.downsamplers.0.conv.conv.weight', [64, 128, 3, 3, 3]],
      ['encoder.down_blocks.1.downsamplers.0.conv.conv.weight', [256, 256, 3, 3, 3]],
      ['encoder.down_blocks.2.downsamplers.0.conv.conv.weight', [128, 512, 3, 3, 3]],
      ['encoder.down_blocks.3.downsamplers.0.conv.conv.weight', [256, 1024, 3, 3, 3]],
      ['encoder.down_blocks.3.resnets.1.conv1.conv.weight', [1024, 1024, 3, 3, 3]],
      ['encoder.mid_block.resnets.1.conv2.conv.weight', [2048, 2048, 3, 3, 3]],
      ['encoder.conv_out.conv.weight', [129, 2048, 3, 3, 3]],
    ];
    for (const [name, dims] of expected) expect([name, p.get(name)]).toEqual([name, dims]);
    expect(p.has('encoder.down_blocks.4.resnets.0.conv1.conv.weight')).toBe(false);
    expect([...p.keys()].some((n) => /encoder\.down_blocks\.\d\.conv_out/.test(n) || n.includes('per_channel_scale'))).toBe(false);
    expect(ltxvVaeDecoderNoiseShape(parseLtxvVaeConfig(REAL_095), 16, 22)).toBeNull();
  });
});

// ---- graphs against the reference ----------------------------------------------------------------------

describe.each([
  ['0.9.0', TINY_090],
  ['0.9.1', TINY_091],
  ['0.9.5+', TINY_095],
])('LTX-Video %s VAE graphs (tiny)', (version, json) => {
  const cfg = parseLtxvVaeConfig(json);
  const tag = version.replace(/\W/g, '');

  it('detects the version', () => {
    expect(cfg.version).toBe(version);
    expect(latentSpecOf(cfg)).toEqual({ channels: 8, spatial: 32, temporal: 8 });
  });

  it(`encoder matches the reference forward (max abs error < ${TOLERANCE} · max(1, |output|))`, async () => {
    const enc = build(cfg, 'encoder', `enc_${tag}.onnx`);
    const sample = video(1, [1, 3, 9, 64, 64]);
    const got = await run(enc.path, { sample });
    expect(got.shape).toEqual([1, 8, 2, 2, 2]);
    const { maxErr, maxAbs } = compare(got, referenceEncode(cfg, enc.get, sample));
    const upstreamErr = Math.max(...UPSTREAM[version].latent.map((v, i) => Math.abs(got.data[i] - v)));
    console.log(`vae ${version} encoder: max abs error ${maxErr.toExponential(2)} (reference), ${upstreamErr.toExponential(2)} (diffusers), max |latent| ${maxAbs.toFixed(3)}`);
    expect(maxAbs).toBeGreaterThan(0.1);
    expect(maxErr).toBeLessThan(bound(maxAbs));
    expect(upstreamErr).toBeLessThan(bound(maxAbs));
  });

  it(`decoder matches the reference forward (max abs error < ${TOLERANCE} · max(1, |output|))`, async () => {
    const dec = build(cfg, 'decoder', `dec_${tag}.onnx`);
    const latent = video(2, [2, 8, 2, 2, 2]);
    latent.data = latent.data.map((v) => v * 2);
    const feeds: Record<string, Tensor> = { latent };
    const extras: Parameters<typeof referenceDecode>[3] = {};
    if (cfg.timestepConditioning) {
      feeds.timestep = { data: Float32Array.of(0.05, 0.4), shape: [2] };
      extras.timestep = feeds.timestep.data;
    }
    const noiseShape = ltxvVaeDecoderNoiseShape(cfg, 2, 2);
    if (noiseShape) {
      const { sites, height, width } = noiseShape;
      feeds.spatial_noise = { data: seededNormals(3, sites * height * width), shape: [sites, height, width] };
      extras.noise = { planes: feeds.spatial_noise.data, height, width };
    }
    expect(noiseShape !== null).toBe(version === '0.9.1');
    const got = await run(dec.path, feeds);
    expect(got.shape).toEqual([2, 3, 9, 64, 64]);
    const { maxErr, maxAbs } = compare(got, referenceDecode(cfg, dec.get, latent, extras));
    const golden = UPSTREAM[version];
    const upstreamErr = Math.max(...golden.sampleAt.map((v, k) => Math.abs(got.data[(7919 * k) % got.data.length] - v)));
    let sum = 0;
    let sumSquares = 0;
    for (const v of got.data) {
      sum += v;
      sumSquares += v * v;
    }
    console.log(`vae ${version} decoder: max abs error ${maxErr.toExponential(2)} (reference), ${upstreamErr.toExponential(2)} (diffusers, 32 samples), max |sample| ${maxAbs.toFixed(3)}`);
    expect(maxAbs).toBeGreaterThan(0.1);
    expect(maxErr).toBeLessThan(bound(maxAbs));
    expect(upstreamErr).toBeLessThan(bound(maxAbs));
    expect(Math.abs(sum / got.data.length - golden.sampleMean)).toBeLessThan(1e-5);
    expect(Math.abs(sumSquares / got.data.length - golden.sampleMeanSquare)).toBeLessThan(1e-5 * golden.sampleMeanSquare);
  });

  it('encodes F = 1 + 8k frames to 1 + k latent frames, the first frame alone (causal)', async () => {
    const { path } = build(cfg, 'encoder', `enc_shapes_${tag}.onnx`);
    expect((await run(path, { sample: video(4, [1, 3, 1, 32, 64]) })).shape).toEqual([1, 8, 1, 1, 2]);
    const sample = video(5, [1, 3, 17, 32, 32]);
    const before = await run(path, { sample });
    expect(before.shape).toEqual([1, 8, 3, 1, 1]);
    const changed = { ...sample, data: Float32Array.from(sample.data) };
    const plane = 32 * 32;
    for (let c = 0; c < 3; c++) for (let i = 0; i < plane; i++) changed.data[(c * 17 + 5) * plane + i] *= -1; // frame 5
    const after = await run(path, { sample: changed });
    // latent [1, 8, 3, 1, 1]: frame t of channel c at index c·3 + t
    const frameDiff = (t: number): number => Math.max(...Array.from({ length: 8 }, (_, c) => Math.abs(after.data[c * 3 + t] - before.data[c * 3 + t])));
    expect(frameDiff(0)).toBe(0);
    expect(frameDiff(1)).toBeGreaterThan(1e-4);
    // Graph output equals the shape a decoder expects back: 1 + 8·(3 − 1) = 17 frames.
    const dec = build(cfg, 'decoder', `dec_shapes_${tag}.onnx`, { spatialNoise: 'off' });
    const feeds: Record<string, Tensor> = { latent: before };
    if (cfg.timestepConditioning) feeds.timestep = { data: Float32Array.of(0.05), shape: [1] };
    expect((await run(dec.path, feeds)).shape).toEqual([1, 3, 17, 32, 32]);
  });
});

describe('LTX-Video 0.9.1 decoder inputs', () => {
  const cfg = parseLtxvVaeConfig(TINY_091);

  it('declares timestep and spatial_noise; zero noise equals a graph built without injection', async () => {
    const withNoise = build(cfg, 'decoder', 'dec_noise.onnx');
    const without = build(cfg, 'decoder', 'dec_nonoise.onnx', { spatialNoise: 'off' });
    const inputs = inspectModel(withNoise.path).inputs.map((i) => [i.name, i.shape]);
    expect(inputs).toEqual([
      ['latent', ['batch', 8, 'latent_frames', 'latent_height', 'latent_width']],
      ['timestep', ['batch']],
      ['spatial_noise', ['noise_sites', 'noise_height', 'noise_width']],
    ]);
    expect(inspectModel(without.path).inputs.map((i) => i.name)).toEqual(['latent', 'timestep']);

    const latent = video(6, [1, 8, 2, 2, 2]);
    const timestep = { data: Float32Array.of(0.05), shape: [1] };
    const { sites, height, width } = ltxvVaeDecoderNoiseShape(cfg, 2, 2)!;
    const zeros = { data: new Float32Array(sites * height * width), shape: [sites, height, width] };
    const random = { data: seededNormals(8, sites * height * width), shape: [sites, height, width] };
    const off = await run(without.path, { latent, timestep });
    const zero = await run(withNoise.path, { latent, timestep, spatial_noise: zeros });
    const noisy = await run(withNoise.path, { latent, timestep, spatial_noise: random });
    expect(compare(zero, off).maxErr).toBeLessThan(1e-6);
    expect(compare(noisy, off).maxErr).toBeGreaterThan(1e-3);
    // A larger plane than needed is fine (each site reads its top-left corner).
    const bigger = { data: seededNormals(9, sites * (height + 3) * (width + 5)), shape: [sites, height + 3, width + 5] };
    expect((await run(withNoise.path, { latent, timestep, spatial_noise: bigger })).shape).toEqual([1, 3, 9, 64, 64]);

    // The timestep conditions the output.
    const later = await run(without.path, { latent, timestep: { data: Float32Array.of(0.5), shape: [1] } });
    expect(compare(later, off).maxErr).toBeGreaterThan(1e-3);
  });
});
