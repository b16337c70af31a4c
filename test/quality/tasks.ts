/**
 * The quality tasks on held-out clips of the shapes family, each run through the whole pipeline
 * (job spec → decode → windows → sampler → decode → composite → encode, runJob as the CLI runs
 * it) and scored against the ground truth next to a simple baseline computed the same way.
 * Shared by test/quality/quality.test.ts and bench/quality.ts.
 */
import path from 'node:path';
import { Engine } from '../../companion/engine/engine.ts';
import { runJob } from '../../companion/jobs/run.ts';
import { decodeFrames } from '../../companion/media/decode.ts';
import { openEncoder } from '../../companion/media/encode.ts';
import type { Frame } from '../../companion/media/frame.ts';
import { renderShapes, shapeFootprints, shapesClip, shapeTrack, type ShapesClip } from '../../companion/media/shapes.ts';
import { ensureBuilt } from '../../companion/models/registry.ts';
import { buildShapesModel, shapesBuildVersion, type ShapesBuildOptions } from '../../companion/models/shapes.ts';
import { parseJobSpec, type JobSpecInput } from '../../protocol/index.ts';
import { parseRational } from '../../protocol/rational.ts';
import { centroidError, crossFade, dilate, psnr, ringMeanFill } from './metrics.ts';

/**
 * An engine on a twin of builtin:shapes (buildShapesModel's options: untrained weights, or no
 * context guidance), built into the model cache under `id` on first use.
 */
export async function openShapesTwin(id: string, opts: Omit<ShapesBuildOptions, 'weightsDir'>): Promise<Engine> {
  // Versioned by the shipped files, as builtin:shapes is: new weights or settings rebuild the twin too.
  await ensureBuilt(id, { version: shapesBuildVersion(), build: (dir) => buildShapesModel(dir, opts) });
  return Engine.open(id);
}

export const SIZE = 64;
export const FPS = '24/1';
const fps = parseRational(FPS);
const sequence = { fps: FPS, width: SIZE, height: SIZE };

export interface TaskOptions {
  engine: Engine;
  dir: string;
  seed?: number;
  steps?: number;
  conditioning?: 'per-token' | 'blend';
  /** Extend: known frames each window starts from (the job's extend.context); default the model's. */
  context?: number;
  /** Extend: new frames (default EXTEND_NEW). */
  newFrames?: number;
  /** Extend: frames of the clip before the cut (default EXTEND_SOURCE). */
  sourceFrames?: number;
  /** Default builtin:shapes. */
  model?: string;
}

export async function writeClip(file: string, frames: Frame[]): Promise<string> {
  const enc = await openEncoder({ path: file, format: 'ffv1', width: SIZE, height: SIZE, fps, channels: 3, overwrite: true });
  for (const f of frames) await enc.write(f);
  await enc.finish();
  return file;
}

export async function readClip(file: string, count: number): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of decodeFrames({ path: file, fps, startFrame: 0, frameCount: count, channels: 3 })) out.push(f);
  return out;
}

/** Truth for clip frames start … start+count−1: each shape's centre and the clean background. */
function truthOf(clip: ShapesClip, start: number, count: number) {
  const centres = clip.shapes.map((s) => shapeTrack(s, start + count, SIZE, SIZE).slice(start));
  const clean = renderShapes(clip, count, { start, without: clip.shapes.map((_, i) => i) });
  return { centres, clean };
}

async function run(name: string, input: JobSpecInput, o: TaskOptions, count: number): Promise<Frame[]> {
  const output = path.join(o.dir, `${name}.mkv`);
  const spec = parseJobSpec({
    ...input,
    model: o.model ?? 'builtin:shapes',
    seed: o.seed ?? 1,
    ...(o.steps ? { steps: o.steps } : {}),
    ...(o.conditioning ? { conditioning: o.conditioning } : {}),
    sequence,
    output: { format: 'ffv1', path: output },
  } as JobSpecInput);
  const r = await runJob(spec, { engine: o.engine, force: true });
  return readClip(r.output, count);
}

export const EXTEND_SOURCE = 17;
export const EXTEND_NEW = 12;

/**
 * Extend: the clip's first 17 frames (sourceFrames) → 12 new ones (newFrames). Score: mean centroid
 * error (px) of every shape over the new frames, and PSNR against the true frames; baseline: hold the
 * last source frame.
 */
export async function extendTask(clipSeed: number, o: TaskOptions) {
  const clip = shapesClip(clipSeed);
  const known = o.sourceFrames ?? EXTEND_SOURCE;
  const source = await writeClip(path.join(o.dir, `extend-src-${clipSeed}-${known}.mkv`), renderShapes(clip, known));
  const count = o.newFrames ?? EXTEND_NEW;
  const made = await run(
    `extend-${clipSeed}-${o.seed ?? 1}-${o.conditioning ?? 'default'}-${o.model ?? 'shapes'}-${o.steps ?? 0}-${o.context ?? 0}-${known}-${count}`,
    { kind: 'extend', source: { path: source }, extend: { direction: 'tail', duration: { frames: count }, ...(o.context ? { context: { frames: o.context } } : {}) } } as JobSpecInput,
    o,
    count,
  );
  const truth = truthOf(clip, known, count);
  const truthFrames = renderShapes(clip, count, { start: known });
  const last = renderShapes(clip, 1, { start: known - 1 })[0]!;
  const held = Array<Frame>(count).fill(last);
  return {
    frames: made,
    model: centroidError(made, clip, truth),
    holdLast: centroidError(held, clip, truth),
    modelPsnr: psnr(made, truthFrames),
    holdLastPsnr: psnr(held, truthFrames),
  };
}

export const FILL_FRAMES = 17;

/**
 * Fill: a matte over shape 0's path (its footprint grown by 2 px, per frame). Score: PSNR inside
 * the matte against the clip rendered without that shape; baseline: the mean colour of the ring
 * around the matte. Also returns how many pixels outside the matte changed (must be 0).
 */
export async function fillTask(clipSeed: number, o: TaskOptions) {
  const clip = shapesClip(clipSeed);
  const frames = renderShapes(clip, FILL_FRAMES);
  const source = await writeClip(path.join(o.dir, `fill-src-${clipSeed}.mkv`), frames);
  const masks = shapeFootprints(clip, 0, FILL_FRAMES).map((m) => dilate(m, SIZE, SIZE, 2));
  const matte = await writeClip(
    path.join(o.dir, `fill-matte-${clipSeed}.mkv`),
    masks.map((m) => ({ width: SIZE, height: SIZE, channels: 3 as const, data: Uint8Array.from({ length: SIZE * SIZE * 3 }, (_, k) => (m[Math.floor(k / 3)]! > 0 ? 255 : 0)) })),
  );
  const made = await run(
    `fill-${clipSeed}-${o.seed ?? 1}-${o.conditioning ?? 'default'}-${o.model ?? 'shapes'}-${o.steps ?? 0}`,
    { kind: 'fill', source: { path: source }, mask: { type: 'matte', path: matte } } as JobSpecInput,
    o,
    FILL_FRAMES,
  );
  const truth = renderShapes(clip, FILL_FRAMES, { without: [0] });
  let changedOutside = 0;
  made.forEach((f, i) => {
    for (let p = 0; p < SIZE * SIZE; p++) {
      if (masks[i]![p]! > 0) continue;
      for (let c = 0; c < 3; c++) if (f.data[p * 3 + c] !== frames[i]!.data[p * 3 + c]) changedOutside++;
    }
  });
  return {
    frames: made,
    source: frames,
    model: psnr(made, truth, masks),
    ringMean: psnr(
      frames.map((f, i) => ringMeanFill(f, masks[i]!)),
      truth,
      masks,
    ),
    changedOutside,
  };
}

export const BRIDGE_A = 17;
export const BRIDGE_GAP = 7;

/**
 * Bridge: clip A = frames 0–16, clip B = frames 24 onwards, the 7 frames between generated.
 * Score: PSNR of the gap against the true frames 17–23, and the centroid error; baseline: a
 * cross-fade from A's last frame to B's first.
 */
export async function bridgeTask(clipSeed: number, o: TaskOptions) {
  const clip = shapesClip(clipSeed);
  const all = renderShapes(clip, BRIDGE_A + BRIDGE_GAP + 9);
  const a = await writeClip(path.join(o.dir, `bridge-a-${clipSeed}.mkv`), all.slice(0, BRIDGE_A));
  const b = await writeClip(path.join(o.dir, `bridge-b-${clipSeed}.mkv`), all.slice(BRIDGE_A + BRIDGE_GAP));
  const made = await run(
    `bridge-${clipSeed}-${o.seed ?? 1}-${o.conditioning ?? 'default'}-${o.model ?? 'shapes'}-${o.steps ?? 0}`,
    { kind: 'bridge', sources: { a: { path: a }, b: { path: b } }, gap: { frames: BRIDGE_GAP } } as JobSpecInput,
    o,
    BRIDGE_GAP,
  );
  const truthFrames = all.slice(BRIDGE_A, BRIDGE_A + BRIDGE_GAP);
  const fade = crossFade(all[BRIDGE_A - 1]!, all[BRIDGE_A + BRIDGE_GAP]!, BRIDGE_GAP);
  const truth = truthOf(clip, BRIDGE_A, BRIDGE_GAP);
  return {
    frames: made,
    model: psnr(made, truthFrames),
    crossFade: psnr(fade, truthFrames),
    modelCentroid: centroidError(made, clip, truth),
    crossFadeCentroid: centroidError(fade, clip, truth),
  };
}
