/**
 * Renders one job spec to a finished clip: the companion's data flow (DESIGN.md §1)
 * `spec → media in → engine → composite → media out → provenance`, for every kind.
 *
 * Two strategies cover the five kinds:
 *  - masked (fill, replace): the range is cut into windows; each window's masked pixels are
 *    generated on a crop around the mask and composited back at full resolution.
 *  - chain (extend, generate, bridge): new frames are generated window after window, each
 *    starting from the last known frames (source, then what came before).
 *
 * Everything that can be checked before work starts is checked in `prepare` (resolve.ts), so bad
 * input fails fast and leaves nothing behind; the output is written to a temporary name and
 * renamed into place only when complete.
 */
import { timeToFrames, toNumber } from '../../protocol/index.ts';
import type { BridgeJob, ExtendJob, GenerateJob, JobSpec } from '../../protocol/index.ts';
import { Engine } from '../engine/engine.ts';
import type { AppendedConditioning } from '../engine/appended.ts';
import type { Conditioning, PassRecord, PreviewRequest, WindowRequest } from '../engine/generate.ts';
import { resize, type Rect } from '../engine/image.ts';
import { cropAround, growTo, maskBounds, padToWindow, planChain, snapToGrid, splitRange, unionRect, workingSize } from '../engine/plan.ts';
import { leastWorkingSide } from '../engine/multiScale.ts';
import { decodeFrames, READ_AHEAD } from '../media/decode.ts';
import { WRITE_AHEAD, type Encoder } from '../media/encode.ts';
import { FramePool } from '../media/frame-pool.ts';
import { toModelRgb, widen, type AnyFrame, type Frame } from '../media/frame.ts';
import { toHalfFrame } from '../media/linear.ts';
import { compositeYuv, isYuvFrame, yuvFramePool, type YuvFrame } from '../media/yuv.ts';
import { sourceMatrix } from '../media/colour.ts';
import { compositeInPlace } from '../masks/composite.ts';
import type { MaskAlpha } from '../masks/alpha.ts';
import type { ModelManifest } from '../models/types.ts';
import { openMaskFrames } from './mask-frames.ts';
import { ModelCrops } from './model-crops.ts';
import { type Prepared, type SourceRange } from './resolve.ts';

export interface Progress {
  phase: 'loading' | 'generating' | 'done';
  window: number;
  windows: number;
  step: number;
  steps: number;
  /** 0..1 over the whole job. */
  fraction: number;
  etaSeconds: number | null;
}

/** A live low-res look at the window being generated (an x0 estimate; see engine/previewMap.ts). */
export interface Preview {
  width: number;
  height: number;
  png: Uint8Array;
  window: number;
  windows: number;
  step: number;
  steps: number;
}

/**
 * Previews: at most one per PREVIEW_EVERY_MS of wall time per window (the sampler also keeps them
 * under 1/20 of its time), longer side PREVIEW_MAX_SIZE px. The first comes PREVIEW_EVERY_MS into
 * a window, so short windows (fast models, small jobs) send none: their progress bar is enough.
 */
export const PREVIEW_EVERY_MS = 750;
export const PREVIEW_MAX_SIZE = 192;

export interface RenderStats {
  windows: number;
  tokens: number[];
  stepMs: number[];
  /** Per window, the denoising passes that ran (sizes, steps). */
  passes: PassRecord[][];
  /** Why windows ran otherwise than the model's recipe says, once each. */
  notes: string[];
  framesWritten: number;
}

interface Ctx {
  spec: JobSpec;
  prepared: Prepared;
  engine: Engine;
  manifest: ModelManifest;
  encoder: Encoder;
  onProgress: (p: Progress) => void;
  /** Absent: no previews are asked for (the CLI), so they cost nothing. */
  onPreview?: (p: Preview) => void;
  stats: RenderStats;
  tracker: EtaTracker;
}

/** Runs a prepared job on an open engine, writing frames into `encoder` in time order. */
export async function renderFrames(
  spec: JobSpec,
  prepared: Prepared,
  engine: Engine,
  encoder: Encoder,
  onProgress: (p: Progress) => void,
  onPreview?: (p: Preview) => void,
): Promise<RenderStats> {
  const manifest = engine.manifest!;
  const stats: RenderStats = { windows: 0, tokens: [], stepMs: [], passes: [], notes: [], framesWritten: 0 };
  const ctx: Ctx = { spec, prepared, engine, manifest, encoder, onProgress, onPreview, stats, tracker: new EtaTracker() };
  switch (spec.kind) {
    case 'fill':
    case 'replace':
      await renderMasked(ctx, spec);
      break;
    case 'extend':
      await renderExtend(ctx, spec);
      break;
    case 'generate':
      await renderGenerate(ctx, spec);
      break;
    case 'bridge':
      await renderBridge(ctx, spec);
      break;
  }
  onProgress({ phase: 'done', window: stats.windows, windows: stats.windows, step: 0, steps: 0, fraction: 1, etaSeconds: 0 });
  return stats;
}

// ---------------------------------------------------------------- shared window plumbing

function baseRequest(ctx: Ctx, width: number, height: number, windowIndex: number): Omit<WindowRequest, 'frames' | 'masks'> {
  const { spec, manifest, prepared } = ctx;
  return {
    width,
    height,
    prompt: spec.prompt,
    negativePrompt: spec.negativePrompt,
    seed: prepared.seed,
    stream: windowIndex,
    steps: spec.steps ?? manifest.scheduler.steps,
    guidance: spec.guidance ?? manifest.scheduler.guidance,
    strength: spec.strength === 0 ? 1e-3 : spec.strength,
    conditioning: (spec.conditioning ?? manifest.conditioning) as Conditioning,
    fps: toNumber(spec.sequence.fps),
  };
}

/**
 * The preview part of a window's request, when the job wants previews: `frame` is the pixel frame
 * (time order in the window) the preview shows. Callers name the middle of the frames the window
 * generates for the editor: the middle of a fill's range, the middle of an extension's new frames.
 * Not the first new frame of an extension: it still looks like the source's last frame; the middle
 * is where the model's own motion and content show, and where it lands on the timeline.
 */
function previewFor(ctx: Ctx, frame: number): { preview?: PreviewRequest } {
  return ctx.onPreview ? { preview: { everyMs: PREVIEW_EVERY_MS, maxSize: PREVIEW_MAX_SIZE, frame } } : {};
}

async function runWindow(ctx: Ctx, req: WindowRequest, index: number, total: number): Promise<Frame[]> {
  const { tracker, onProgress, stats, onPreview } = ctx;
  const preview = onPreview
    ? (p: { width: number; height: number; png: Uint8Array; step: number; steps: number }) =>
        onPreview({ width: p.width, height: p.height, png: p.png, window: index + 1, windows: total, step: p.step, steps: p.steps })
    : undefined;
  const out = await ctx.engine.generate(req, (s) => {
    tracker.step();
    // s.steps counts every pass of the window (a multi-scale recipe runs two).
    const done = index * s.steps + s.step;
    onProgress({
      phase: 'generating',
      window: index + 1,
      windows: total,
      step: s.step,
      steps: s.steps,
      fraction: done / (total * s.steps),
      etaSeconds: tracker.eta(total * s.steps - done),
    });
  }, preview);
  stats.windows++;
  stats.tokens.push(out.tokens);
  stats.stepMs.push(...out.stepMs);
  stats.passes.push(out.passes);
  if (out.note && !stats.notes.includes(out.note)) stats.notes.push(out.note);
  return out.frames;
}

/** `onWritten`: the encoder no longer needs the frame's bytes (Encoder.write). */
async function write(ctx: Ctx, frame: AnyFrame | YuvFrame, onWritten?: () => void): Promise<void> {
  await ctx.encoder.write(frame, onWritten);
  ctx.stats.framesWritten++;
}

// ---------------------------------------------------------------- masked: fill and replace

async function renderMasked(ctx: Ctx, spec: Extract<JobSpec, { kind: 'fill' | 'replace' }>): Promise<void> {
  const { width: W, height: H, fps } = spec.sequence;
  const range = ctx.prepared.ranges[0]!;
  const windows = splitRange(range.count, ctx.manifest.sizeRules, ctx.manifest.latent);
  const masks = await openMaskFrames(spec.mask, W, H, fps, range.count);
  // Decoded at the source's precision and with its alpha when the output keeps them, or in its
  // own Y'CbCr when the output stores that (Pipeline).
  const { depth, channels, alphaInside, linear, yuv } = ctx.prepared.pipeline;
  const matrix = sourceMatrix(range.info);
  // Each frame is composited in place and handed back to the decoder once the encoder's pipe
  // has its bytes: a steady run recycles a window's worth of buffers instead of allocating.
  const keep = Math.max(...windows) + READ_AHEAD + WRITE_AHEAD + 1;
  const rgbPool = yuv ? undefined : new FramePool({ width: W, height: H, channels, depth }, keep);
  const yuvPool = yuv ? yuvFramePool(W, H, yuv, keep) : undefined;
  const recycle = (f: AnyFrame | YuvFrame) => () => (isYuvFrame(f) ? yuvPool?.release(f) : rgbPool?.release(f));
  // The model's crops, masks and scaled-back pictures, in buffers kept across frames and windows.
  const crops = new ModelCrops();
  const read = { path: range.path, info: range.info, fps, startFrame: range.start, frameCount: range.count };
  const source: AsyncIterator<AnyFrame | YuvFrame> = (yuv
    ? decodeFrames({ ...read, yuv, yuvPool })
    : decodeFrames({ ...read, width: W, height: H, channels, depth, linear, pool: rgbPool, ...placement(ctx.spec) }))[Symbol.asyncIterator]();
  try {
    for (let w = 0; w < windows.length; w++) {
      // This window's frames and masks at full size: bounded by the model window, not the clip.
      const frames: (AnyFrame | YuvFrame)[] = [];
      const alphas: MaskAlpha[] = [];
      let bbox: Rect | null = null;
      for (let i = 0; i < windows[w]!; i++) {
        const r = await source.next();
        if (r.done) throw new Error('source ended early');
        frames.push(r.value);
        const a = await masks.next();
        alphas.push(a);
        bbox = unionRect(bbox, a.bounds);
      }
      if (!bbox) {
        // Nothing masked in this window: the source passes through untouched.
        for (const f of frames) await write(ctx, f, recycle(f));
        masks.release(alphas);
        continue;
      }
      // A multi-scale model needs room for its first pass at a fraction of the working size; a
      // crop that fits the model at its own pixels is taken so.
      const region = snapToGrid(growTo(cropAround(bbox, W, H), leastWorkingSide(ctx.manifest), W, H), ctx.manifest.sizeRules, W, H);
      const size = workingSize(region.width, region.height, ctx.manifest.sizeRules);
      const small = frames.map((f, i) => crops.modelFrame(i, f, region, size, { linear, matrix }));
      const smallMasks = alphas.map((a, i) => crops.modelMask(i, a, W, H, region, size));
      // Pad to 1 + T·k by repeating the last frame; the extra frames are dropped.
      const padded = padToWindow(small.length, ctx.manifest.latent);
      while (small.length < padded) {
        small.push(small[small.length - 1]!);
        smallMasks.push(smallMasks[smallMasks.length - 1]!);
      }
      const req = { ...baseRequest(ctx, size.width, size.height, w), frames: small, masks: smallMasks, ...previewFor(ctx, (frames.length - 1) >> 1) };
      const gen = await runWindow(ctx, req, w, windows.length);
      for (let i = 0; i < frames.length; i++) {
        const back = crops.scaledBack(gen[i]!, region, alphas[i]!);
        // Into the decoded frame itself (this loop owns it), over the mask's box only.
        const f = frames[i]!;
        const out = isYuvFrame(f) ? compositeYuv(f, back, region, alphas[i]!, matrix, alphaInside) : compositeInPlace(f, back, region, alphas[i]!, alphaInside, linear);
        await write(ctx, out, recycle(f));
      }
      masks.release(alphas);
    }
  } finally {
    await source.return?.();
    await masks.close();
  }
}

// ---------------------------------------------------------------- chain: extend, generate, bridge

interface ChainInput {
  /** Known frames the chain grows from, in chain order (the last is next to the new ones). */
  known: Frame[];
  /** Frames to generate. */
  count: number;
  /** Known frames after the new ones, in chain order (bridge: the head of clip B). */
  suffix: Frame[];
  /** Chain order runs backwards in time (extend at the head). */
  reversed: boolean;
  width: number;
  height: number;
  contextWanted?: number;
}

/**
 * Generates `count` frames at working size, in chain order. Each window is laid out in chain
 * order as [context | new | suffix? | padding], padding being unknown frames that round the
 * window up to 1 + T·k and are thrown away; the model always sees it in true time order.
 */
async function chain(ctx: Ctx, input: ChainInput): Promise<Frame[]> {
  const { latent, sizeRules } = ctx.manifest;
  // Later windows take their context from what earlier ones made, so all of it counts as available.
  const plan = planChain(input.count, input.known.length + input.count, sizeRules, latent, input.contextWanted);
  const made: Frame[] = [];
  const maxFrames = sizeRules.maxFrames;
  let remaining = input.count;
  let index = 0;
  // The number of windows is only known exactly as we go (a suffix takes room); estimate for ETA.
  const estimate = Math.max(plan.windows.length, 1) + (input.suffix.length ? 1 : 0);
  while (remaining > 0) {
    const history = [...input.known, ...made];
    const context = history.slice(Math.max(0, history.length - plan.context));
    const room = maxFrames - context.length;
    let take: number;
    let suffix: Frame[] = [];
    if (input.suffix.length && remaining <= room - input.suffix.length) {
      take = remaining;
      suffix = input.suffix;
    } else {
      take = Math.min(room, input.suffix.length ? remaining - 1 : remaining);
    }
    const real = context.length + take + suffix.length;
    const pad = padToWindow(real, latent) - real;
    const base = baseRequest(ctx, input.width, input.height, index);
    // The suffix (clip B's head): with per-token conditioning it goes in as the authors condition
    // frames that do not start a clip, appended tokens placed where it sits (engine/appended.ts),
    // its slots in the grid generated and thrown away; with blending it is held in the grid.
    const appendSuffix = suffix.length > 0 && base.conditioning === 'per-token';
    const frames: (Frame | null)[] = [...context, ...Array<null>(take + pad + (appendSuffix ? suffix.length : 0)).fill(null)];
    if (suffix.length && !appendSuffix) frames.splice(context.length + take, 0, ...suffix);
    if (appendSuffix && input.reversed) throw new Error('a suffix is only conditioned on in forward chains');
    const appended = appendSuffix ? [suffixConditioning(suffix, context.length + take, latent.temporal)] : undefined;
    // Padding must sit after everything known so it never sits between known frames in time.
    const ordered = input.reversed ? [...frames].reverse() : frames;
    // Preview the middle new frame, in the window's true time order.
    const middle = context.length + ((take - 1) >> 1);
    const shown = input.reversed ? ordered.length - 1 - middle : middle;
    const req = { ...base, frames: ordered, masks: ordered.map(() => null), ...(appended ? { appended } : {}), ...previewFor(ctx, shown) };
    const gen = await runWindow(ctx, req, index, Math.max(estimate, index + 1));
    const inChainOrder = input.reversed ? [...gen].reverse() : gen;
    made.push(...inChainOrder.slice(context.length, context.length + take));
    remaining -= take;
    index++;
  }
  return made;
}

/**
 * The part of a suffix the authors' pipeline can take at pixel frame `at`: a sequence of 1 + T·k
 * frames when it starts on a multiple of T, else its first frame alone (a keyframe, which may sit
 * anywhere).
 */
export function suffixConditioning(suffix: Frame[], at: number, T: number): AppendedConditioning {
  const sequence = at % T === 0 && suffix.length >= 1 + T;
  return { at, frames: sequence ? suffix.slice(0, 1 + T * Math.floor((suffix.length - 1) / T)) : suffix.slice(0, 1) };
}

async function readRange(ctx: Ctx, range: SourceRange, start: number, count: number, size: { width: number; height: number }): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of decodeFrames({ path: range.path, info: range.info, fps: ctx.spec.sequence.fps, startFrame: start, frameCount: count, width: size.width, height: size.height, channels: 3, ...placement(ctx.spec) })) {
    out.push(f);
  }
  return out;
}

/** How sources of another shape are placed in the sequence frame (media/fit.ts). */
function placement(spec: JobSpec): { fit: 'fit' | 'fill' | 'stretch'; pixelAspect: JobSpec['sequence']['pixelAspect'] } {
  return { fit: spec.sequence.fit ?? 'fit', pixelAspect: spec.sequence.pixelAspect };
}

function seqSize(spec: JobSpec): { width: number; height: number } {
  return { width: spec.sequence.width, height: spec.sequence.height };
}

/**
 * Generated frames, scaled to the sequence and written at the output's depth (16: 8-bit levels
 * widened, k → 257·k; an EXR plate's half bits: levels linearized, media/linear.ts).
 */
async function writeUp(ctx: Ctx, frames: Frame[]): Promise<void> {
  const { width, height } = seqSize(ctx.spec);
  const { depth, linear } = ctx.prepared.pipeline;
  const deepen = linear ? toHalfFrame : widen;
  for (const f of frames) await write(ctx, depth === 16 ? deepen(resize(f, width, height)) : resize(f, width, height));
}

async function renderExtend(ctx: Ctx, spec: ExtendJob): Promise<void> {
  const fps = spec.sequence.fps;
  const range = ctx.prepared.ranges[0]!;
  const count = timeToFrames(spec.extend.duration, fps);
  const size = workingSize(spec.sequence.width, spec.sequence.height, ctx.manifest.sizeRules);
  const contextWanted = spec.extend.context ? timeToFrames(spec.extend.context, fps) : ctx.manifest.extendContext;
  const plan = planChain(count, range.count, ctx.manifest.sizeRules, ctx.manifest.latent, contextWanted);
  const tail = spec.extend.direction === 'tail';
  const start = tail ? range.start + range.count - plan.context : range.start;
  // Decode at sequence size (what the editor sees on the timeline), then shrink to working size.
  const known = (await readRange(ctx, range, start, plan.context, seqSize(spec))).map((f) => resize(f, size.width, size.height));
  const made = await chain(ctx, { known: tail ? known : known.reverse(), count, suffix: [], reversed: !tail, ...size, contextWanted: plan.context });
  await writeUp(ctx, tail ? made : made.reverse());
}

async function renderGenerate(ctx: Ctx, spec: GenerateJob): Promise<void> {
  const size = workingSize(spec.sequence.width, spec.sequence.height, ctx.manifest.sizeRules);
  const count = timeToFrames(spec.duration, spec.sequence.fps);
  const range = ctx.prepared.ranges[0];
  // The optional still is the first frame of the shot: known, and part of the output, written at
  // the output's depth (a deep source's still keeps its own 16-bit values).
  const { depth, linear } = ctx.prepared.pipeline;
  const first: AnyFrame[] = [];
  if (range) {
    const args = { path: range.path, info: range.info, fps: spec.sequence.fps, startFrame: range.start, frameCount: 1, ...seqSize(spec), channels: 3 as const, depth, linear, ...placement(spec) };
    for await (const f of decodeFrames(args)) first.push(f);
  }
  for (const f of first) await write(ctx, f);
  const still = first.map((f) => resize(toModelRgb(f, undefined, linear), size.width, size.height));
  const made = await chain(ctx, { known: still, count: count - still.length, suffix: [], reversed: false, ...size });
  await writeUp(ctx, made);
}

async function renderBridge(ctx: Ctx, spec: BridgeJob): Promise<void> {
  const size = workingSize(spec.sequence.width, spec.sequence.height, ctx.manifest.sizeRules);
  const count = timeToFrames(spec.gap, spec.sequence.fps);
  const [a, b] = ctx.prepared.ranges as [SourceRange, SourceRange];
  const plan = planChain(count, Math.min(a.count, b.count), ctx.manifest.sizeRules, ctx.manifest.latent);
  const tailA = await readRange(ctx, a, a.start + a.count - plan.context, plan.context, seqSize(spec));
  const headB = await readRange(ctx, b, b.start, Math.min(plan.context, b.count), seqSize(spec));
  const shrink = (fs: Frame[]) => fs.map((f) => resize(f, size.width, size.height));
  const made = await chain(ctx, { known: shrink(tailA), count, suffix: shrink(headB), reversed: false, ...size });
  await writeUp(ctx, made);
}

// ---------------------------------------------------------------- progress

/** ETA from the mean step time so far; null until a step has finished. */
class EtaTracker {
  private readonly started = performance.now();
  private steps = 0;
  step(): void {
    this.steps++;
  }
  eta(remainingSteps: number): number | null {
    if (this.steps === 0) return null;
    return (((performance.now() - this.started) / this.steps) * remainingSteps) / 1000;
  }
}
