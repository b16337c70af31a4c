/**
 * bench/gpu's end-to-end case: a whole 5-second extension at 768×512 — one 121-frame window
 * (5.04 s at 24 fps; latent 16×16×24 = 6,144 tokens) whose first frame is the clip's last frame
 * and whose 120 others are generated — through the engine itself (`loadRuntime` +
 * `generateWindow`: text encoding, VAE encoding of the known frame, every denoising step with
 * guidance, VAE decoding of all 121 frames), on one provider with the engine's `auto` compute
 * (fp16 on GPU providers: the variant made from the stored graph, as for an installed model).
 *
 * The model folder is written here with random weights at the real sizes: the LTX-Video 2B
 * transformer (28 layers, fp16 storage, synthesized straight into its data file, ./weights.ts)
 * and a 0.9.5-layout VAE (the test fixture's layout) at widths 128…2048 (decoder 256…1024) and
 * depths 4,6,6,2,2 / 5,5,5,5 — the values of LTX-2's published diffusers VAE config, which has
 * this layout; not checked against a 0.9.5 checkpoint — 1.25 B parameters, stored fp32 (4.65 GiB). The text encoder is the byte-embedding one
 * of the test model at caption width 4096 instead of T5-XXL: T5 runs once per prompt (2 prompts
 * per job), not per step, and its 9.5 GB would not change the per-step figures this measures.
 * Media I/O (ffmpeg decode/encode) is not in it.
 *
 * Smoke (no GPU): the same code at 1 transformer layer, the VAE at its fixture widths (÷16, one
 * layer per block), 256×160 and 17 frames, 2 steps, on the CPU provider.
 *
 * Child process of ./ort.ts (its peak GPU memory is measured from outside):
 *   node --import tsx bench/gpu/extension.ts '<json ExtensionJob>'
 * Prints one "RESULT {json}" line.
 */
import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { generateWindow, type WindowRequest } from '../../companion/engine/generate.ts';
import type { Provider } from '../../companion/engine/providers.ts';
import { loadRuntime } from '../../companion/engine/runtime.ts';
import { byteTextEncoderGraph } from '../../companion/models/byteTextEncoder.ts';
import { ltxvTransformerGraph } from '../../companion/models/ltxv/transformer.ts';
import { latentSpecOf, ltxvVaeDecoderGraph, ltxvVaeEncoderGraph, parseLtxvVaeConfig } from '../../companion/models/ltxv/vae.ts';
import type { WeightSource } from '../../companion/models/onnx/graph.ts';
import { GRAPH_FILES } from '../../companion/models/tiny.ts';
import { BYTE_PAD_ID } from '../../companion/models/tokenizer.ts';
import type { ModelHandle, ModelManifest } from '../../companion/models/types.ts';
import { fixtureVaeConfigJson } from '../../test/helpers/checkpoint.ts';
import { ltx2bConfig } from '../common.ts';
import { pooledWeights, writeSynthWeights } from './weights.ts';

export interface ExtensionJob {
  dir: string;
  provider: Provider;
  smoke: boolean;
  steps: number;
}

export interface ExtensionResult {
  frames: number;
  width: number;
  height: number;
  tokens: number;
  compute: string;
  provider: string;
  fallbacks: string[];
  /** Bytes the model folder takes on disk. */
  modelBytes: number;
  buildMs: number;
  loadMs: number;
  /** The window from request to decoded frames (text, encode, steps, decode). */
  windowMs: number;
  stepMs: number[];
  peakRssMiB: number;
}

/** The 0.9.5-layout VAE: the fixture's layout at the published widths and depths (or the fixture itself when smoke). */
export function extensionVaeConfig(smoke: boolean) {
  const json = fixtureVaeConfigJson('0.9.5');
  return parseLtxvVaeConfig(
    smoke
      ? json
      : {
          ...json,
          latent_channels: 128,
          block_out_channels: [128, 256, 512, 1024, 2048],
          decoder_block_out_channels: [256, 512, 1024],
          layers_per_block: [4, 6, 6, 2, 2],
          decoder_layers_per_block: [5, 5, 5, 5],
        },
  );
}

/** Writes the model folder; returns its handle. */
export function writeExtensionModel(dir: string, smoke: boolean): ModelHandle {
  const transformer = { ...ltx2bConfig(smoke ? 1 : 28), inChannels: 0, outChannels: 0 };
  const vae = extensionVaeConfig(smoke);
  const latent = latentSpecOf(vae);
  transformer.inChannels = latent.channels;
  transformer.outChannels = latent.channels;
  const weights: WeightSource = pooledWeights(3);
  const noWeights: WeightSource = () => {
    throw new Error('internal: synthesized weights only');
  };
  const graph = ltxvTransformerGraph(transformer, noWeights);
  const data = join(dir, `${GRAPH_FILES.transformer}.data`);
  const { initializers } = writeSynthWeights(data, graph.paramList(), null, 3);
  graph.saveOver(dir, GRAPH_FILES.transformer, initializers);
  byteTextEncoderGraph(transformer.captionChannels, weights).save(dir, GRAPH_FILES.textEncoder);
  ltxvVaeEncoderGraph(vae, weights).save(dir, GRAPH_FILES.vaeEncoder);
  ltxvVaeDecoderGraph(vae, weights).save(dir, GRAPH_FILES.vaeDecoder);
  const manifest: ModelManifest = {
    id: 'bench:ltx2b-random',
    family: 'ltxv',
    license: 'none: random weights',
    testModel: false,
    description: 'LTX-Video 2B shapes with random weights (bench/gpu)',
    latent,
    sizeRules: { multiple: 32, maxPixels: 768 * 512, maxFrames: 121 },
    scheduler: { steps: 8, guidance: 3, shift: { kind: 'dynamic', baseShift: 0.95, maxShift: 2.05, baseTokens: 1024, maxTokens: 4096 } },
    transformer,
    text: { tokenizer: 'bytes', maxTokens: 128, padId: BYTE_PAD_ID },
    vae: { timestepConditioned: vae.timestepConditioning, decodeTimestep: 0.05, decodeNoiseScale: 0.025 },
    conditioning: 'per-token',
    files: [],
  };
  const graphs = Object.fromEntries(Object.entries(GRAPH_FILES).map(([k, f]) => [k, join(dir, f)])) as ModelHandle['graphs'];
  return { dir, manifest, graphs };
}

export function folderBytes(handle: ModelHandle): number {
  let sum = 0;
  for (const p of Object.values(handle.graphs)) {
    for (const f of [p, `${p}.data`]) {
      try {
        sum += statSync(f).size;
      } catch {
        // no such file
      }
    }
  }
  return sum;
}

if (process.argv[2]) {
  const job = JSON.parse(process.argv[2]) as ExtensionJob;
  let t = performance.now();
  const handle = writeExtensionModel(job.dir, job.smoke);
  const buildMs = performance.now() - t;
  const modelBytes = folderBytes(handle);
  t = performance.now();
  const rt = await loadRuntime(handle, { providers: [job.provider], compute: 'auto' });
  const loadMs = performance.now() - t;
  const [width, height, count] = job.smoke ? [256, 160, 17] : [768, 512, 121];
  // The clip's last frame, known; every other frame generated.
  const last = { width, height, channels: 3 as const, data: Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 7) % 251) };
  const req: WindowRequest = {
    width,
    height,
    frames: [last, ...Array<null>(count - 1).fill(null)],
    masks: Array(count).fill(null),
    prompt: 'the shot continues',
    negativePrompt: '',
    seed: 1,
    stream: 0,
    steps: job.steps,
    guidance: 3,
    strength: 1,
    conditioning: 'per-token',
    fps: 24,
  };
  t = performance.now();
  const r = await generateWindow(rt, req, () => {}, () => false);
  const windowMs = performance.now() - t;
  const result: ExtensionResult = {
    frames: r.frames.length,
    width,
    height,
    tokens: r.tokens,
    compute: rt.compute,
    provider: rt.provider,
    fallbacks: [...rt.fallbacks],
    modelBytes,
    buildMs,
    loadMs,
    windowMs,
    stepMs: r.stepMs,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
  await rt.release();
  rmSync(job.dir, { recursive: true, force: true });
  console.log(`RESULT ${JSON.stringify(result)}`);
}
