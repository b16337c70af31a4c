/**
 * One job from spec to finished files: prepare (all checks), open the engine, render through an
 * atomic encoder, then write the provenance sidecar `<output>.json`. The clip appears complete
 * or not at all; on any failure the partial output is removed.
 */
import { rename, writeFile } from 'node:fs/promises';
import { serializeJobSpec, type JobSpec } from '../../protocol/index.ts';
import { Engine } from '../engine/engine.ts';
import type { Provider } from '../engine/providers.ts';
import { ReshootError } from '../errors.ts';
import { openEncoder } from '../media/encode.ts';
import { outputColour, type Colour } from '../media/colour.ts';
import type { Recipe } from '../models/recipe.ts';
import { loadModel } from '../models/registry.ts';
import type { ComputeChoice } from '../models/computeVariant.ts';
import { graphVariant, type GraphVariant } from '../models/onnx/inspect.ts';
import type { PassRecord } from '../engine/generate.ts';
import { renderFrames, type Preview, type Progress, type RenderStats } from './render.ts';
import { prepare } from './resolve.ts';

export interface RunOptions {
  out?: string;
  force?: boolean;
  defaultDir?: string;
  /** Providers to try in order (default: RESHOOT_PROVIDER, else every bundled one; see providers.ts). */
  providers?: Provider[];
  /** Transformer compute precision (default: RESHOOT_COMPUTE, else auto; see models/computeVariant.ts). */
  compute?: ComputeChoice;
  /** Reuse an engine that already has the spec's model loaded (the service keeps one). */
  engine?: Engine;
  onProgress?: (p: Progress) => void;
  /** Live previews while windows generate (render.ts Preview); absent = none asked for. */
  onPreview?: (p: Preview) => void;
}

export interface Provenance {
  reshoot: string;
  createdAt: string;
  output: string;
  frames: number;
  seed: number;
  /**
   * `recipe`: how the model was sampled (models/recipe.ts), for models that have one;
   * `contextGuidance`: the model's context guidance (models/types.ts), for models that run it.
   */
  model: { id: string; testModel: boolean; description: string; recipe?: Recipe; contextGuidance?: { scale: number; minSigma: number } };
  provider: string;
  /** Providers that failed before `provider` took over, with why (empty when none did). */
  providerFallbacks: string[];
  /**
   * The transformer graph variant that ran: attention and weight storage from the graph file,
   * compute the float type it ran in (fp16 on GPU providers under auto; after any fallback),
   * attention the one that ran and `attentionReason` why, when an adapter check or RESHOOT_ATTENTION decided it.
   */
  transformer: GraphVariant & { attentionReason?: string };
  spec: unknown;
  /** Bits per channel and alpha of the written frames (16 = the source's precision kept). */
  /** `colour`: the Y'CbCr matrix/primaries/transfer tags written (colour.ts; unused by RGB formats). */
  /** `notes`: what the output leaves out of the source (an EXR plate's channels other than R, G, B, A). */
  /** `yuv`: the Y'CbCr the job composited in, the one the output stores (resolve.ts pickYuv; null: RGB at `depth` bits). */
  media: { depth: number; alpha: boolean; yuv: string | null; timecode: string | null; reelName: string | null; audio: string | null; colour: Colour; notes: string[] };
  /** The denoising passes each window ran (width, height, steps; two for multi-scale), and why they differ from the recipe when they do. */
  sampling: { passes: PassRecord[][]; notes: string[] };
  timings: { totalSeconds: number; loadSeconds: number; renderSeconds: number; windows: number; meanStepMs: number; tokensPerWindow: number[] };
}

export interface RunResult {
  output: string;
  sidecar: string;
  provenance: Provenance;
  stats: RenderStats;
}

export const RESHOOT_VERSION = '0.1.0';

export async function runJob(spec: JobSpec, opts: RunOptions = {}): Promise<RunResult> {
  const t0 = performance.now();
  const onProgress = opts.onProgress ?? (() => {});
  // Tell the client at once that the job is under way: the checks below probe media files.
  onProgress({ phase: 'loading', window: 0, windows: 0, step: 0, steps: 0, fraction: 0, etaSeconds: null });
  // The model's manifest sizes the memory check, so load it (cheap: it is a folder) first.
  const model = await loadModel(spec.model);
  const prepared = await prepare(spec, {
    out: opts.out,
    force: opts.force ?? false,
    defaultDir: opts.defaultDir ?? 'out',
    maxWindowFrames: model.manifest.sizeRules.maxFrames,
  });

  const engine = opts.engine ?? (await Engine.open(spec.model, opts.providers, opts.compute));
  const t1 = performance.now();
  const colour = outputColour(prepared.ranges[0]?.info, spec.sequence.height);
  const encoder = await openEncoder({
    path: prepared.outputPath,
    format: spec.output.format,
    width: spec.sequence.width,
    height: spec.sequence.height,
    fps: spec.sequence.fps,
    channels: prepared.pipeline.channels,
    depth: prepared.pipeline.depth,
    ...(prepared.pipeline.yuv ? { yuv: prepared.pipeline.yuv } : {}),
    overwrite: opts.force ?? false,
    ...prepared.tags,
    sar: spec.sequence.pixelAspect,
    transfer: prepared.pipeline.linear ? 'half' : 'srgb',
    ...(prepared.exrPlate ? { exrPlate: prepared.exrPlate } : {}),
    colour,
  });
  let stats: RenderStats;
  try {
    stats = await renderFrames({ ...spec, seed: prepared.seed }, prepared, engine, encoder, onProgress, opts.onPreview);
    if (stats.framesWritten !== prepared.outputFrames) {
      throw new ReshootError('internal', `rendered ${stats.framesWritten} frames, expected ${prepared.outputFrames}`);
    }
    await encoder.finish();
  } catch (e) {
    await encoder.abort();
    throw e;
  } finally {
    if (!opts.engine) await engine.close();
  }
  const t2 = performance.now();

  const m = model.manifest;
  const provenance: Provenance = {
    reshoot: RESHOOT_VERSION,
    createdAt: new Date().toISOString(),
    output: encoder.path,
    frames: stats.framesWritten,
    seed: prepared.seed,
    model: {
      id: m.id,
      testModel: m.testModel,
      description: m.description,
      ...(m.recipe ? { recipe: m.recipe } : {}),
      ...(m.scheduler.contextGuidance ? { contextGuidance: m.scheduler.contextGuidance } : {}),
    },
    provider: engine.provider ?? 'unknown',
    providerFallbacks: [...engine.fallbacks],
    transformer: {
      ...graphVariant(model.graphs.transformer),
      ...(engine.compute ? { compute: engine.compute } : {}),
      // The attention that ran (a WebGPU adapter whose fused kernel fails its check runs plain; attentionProbe.ts).
      ...(engine.attention ? { attention: engine.attention.impl, ...(engine.attention.reason ? { attentionReason: engine.attention.reason } : {}) } : {}),
    },
    spec: JSON.parse(serializeJobSpec({ ...spec, seed: prepared.seed })),
    media: {
      depth: prepared.pipeline.depth,
      alpha: prepared.pipeline.channels === 4,
      yuv: prepared.pipeline.yuv?.pixFmt ?? null,
      timecode: prepared.tags.timecode ?? null,
      reelName: prepared.tags.reelName ?? null,
      audio: prepared.tags.audio?.codec ?? null,
      colour,
      notes: prepared.notes,
    },
    sampling: { passes: stats.passes, notes: stats.notes },
    timings: {
      totalSeconds: round((t2 - t0) / 1000),
      loadSeconds: round((t1 - t0) / 1000),
      renderSeconds: round((t2 - t1) / 1000),
      windows: stats.windows,
      meanStepMs: round(stats.stepMs.reduce((a, b) => a + b, 0) / Math.max(stats.stepMs.length, 1)),
      tokensPerWindow: stats.tokens,
    },
  };
  const sidecar = `${encoder.path}.json`;
  const tmp = `${sidecar}.partial-${process.pid}`;
  await writeFile(tmp, JSON.stringify(provenance, null, 2) + '\n');
  await rename(tmp, sidecar);
  return { output: encoder.path, sidecar, provenance, stats };
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
