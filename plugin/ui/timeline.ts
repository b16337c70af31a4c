/**
 * Timeline arithmetic and placement the panel needs for the Extend slice. Exact: ticks are
 * converted with BigInt (254016000000 ticks per second times a 24000 numerator overflows 2^53).
 * Minimal local versions; plugin/time.ts and plugin/placement.ts are the shared ones once
 * they exist.
 */
import { formatRational, type JobRecord, type JobSpecInput, type OutputFormat, type Rational, type Time, timeToFrames } from '../../protocol/index.ts';
import { TICKS_PER_SECOND, type Host, type SequenceInfo, type TrackItemInfo } from '../host/types.ts';

const TPS = BigInt(TICKS_PER_SECOND);

/** The frame containing tick `ticks` at `fps` (floor; exact for frame boundaries). */
export function ticksToFrames(ticks: number, fps: Rational): number {
  const t = BigInt(Math.round(ticks));
  return Number((t * BigInt(fps.num)) / (TPS * BigInt(fps.den)));
}

/** Where frame `frames` starts, in ticks (rounded to the nearest tick when not exact). */
export function framesToTicks(frames: number, fps: Rational): number {
  const n = BigInt(frames) * TPS * BigInt(fps.den);
  const d = BigInt(fps.num);
  return Number((n * 2n + d) / (2n * d));
}

export interface ExtendOptions {
  direction: 'head' | 'tail';
  duration: Time;
  prompt: string;
  /** Absent: a new seed chosen by the companion. */
  seed?: number;
  steps?: number;
  guidance?: number;
  model?: string;
  format: OutputFormat;
}

/** The source range of a track item: in/out in frames of its media, seen at the sequence rate. */
export function itemSourceRange(item: TrackItemInfo, seq: SequenceInfo): { in: number; out: number } {
  const first = ticksToFrames(item.inPointTicks, seq.fps);
  const length = ticksToFrames(item.endTicks - item.startTicks, seq.fps);
  return { in: first, out: first + length };
}

/** The extend job for the selected item (frames by reference: the media path). */
export function extendSpec(item: TrackItemInfo, seq: SequenceInfo, o: ExtendOptions): JobSpecInput {
  if (!item.mediaPath) throw new Error(`"${item.name}" has no media file (a title or an adjustment layer cannot be extended)`);
  const range = itemSourceRange(item, seq);
  if (range.out <= range.in) throw new Error(`"${item.name}" is shorter than one frame`);
  return {
    kind: 'extend',
    prompt: o.prompt,
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
    ...(o.steps !== undefined ? { steps: o.steps } : {}),
    ...(o.guidance !== undefined ? { guidance: o.guidance } : {}),
    ...(o.model ? { model: o.model } : {}),
    sequence: { fps: formatRational(seq.fps), width: seq.width, height: seq.height, pixelAspect: formatRational(seq.pixelAspect) },
    output: { format: o.format },
    source: { path: item.mediaPath, in: { frames: range.in }, out: { frames: range.out } },
    extend: { direction: o.direction, duration: o.duration },
  };
}

/** What the panel remembers about a job to place its result later. */
export interface PlacementContext {
  kind: 'extend';
  direction: 'head' | 'tail';
  sequenceId: string;
  fps: Rational;
  item: TrackItemInfo;
  durationFrames: number;
}

export function placementContext(item: TrackItemInfo, seq: SequenceInfo, o: ExtendOptions): PlacementContext {
  return { kind: 'extend', direction: o.direction, sequenceId: seq.id, fps: seq.fps, item, durationFrames: timeToFrames(o.duration, seq.fps) };
}

/** The first video track above `from` with nothing in [start, end); the track count if none is free. */
export async function firstFreeTrackAbove(host: Host, from: number, start: number, end: number): Promise<number> {
  const count = await host.videoTrackCount();
  for (let t = from + 1; t < count; t++) {
    const items = await host.videoTrackItems(t);
    if (!items.some((i) => i.startTicks < end && i.endTicks > start)) return t;
  }
  return count;
}

export const RESULTS_BIN = 'Reshoot';

export interface Placed {
  item: TrackItemInfo;
  trackIndex: number;
  startTicks: number;
}

/**
 * Imports a finished job's result into the "Reshoot" bin and places it next to its source:
 * extend tail at the item's end, head so that it ends where the item starts; on the first free
 * track above the source. Writes prompt/seed/model/job id as metadata and adds a marker.
 */
export async function placeResult(host: Host, job: JobRecord, ctx: PlacementContext): Promise<Placed> {
  if (job.state !== 'done' || !job.result) throw new Error(`job ${job.id} has no result to place (${job.state})`);
  const result = job.result;
  const spec = (job.spec ?? {}) as { prompt?: string; model?: string; kind?: string };
  const frames = result.frames || ctx.durationFrames;
  const duration = framesToTicks(frames, ctx.fps);
  const startTicks = ctx.direction === 'tail' ? ctx.item.endTicks : ctx.item.startTicks - duration;
  if (startTicks < 0) {
    const before = ticksToFrames(ctx.item.startTicks, ctx.fps);
    throw new Error(`the ${frames}-frame head extension does not fit: "${ctx.item.name}" starts at frame ${before}; move the clip later or extend by fewer frames`);
  }
  const imported = await host.importFile(result.path, RESULTS_BIN);
  // Placing the same result again finds it where it already is instead of adding a copy.
  const existing = await findPlaced(host, imported.projectItemId, startTicks);
  if (existing) return { item: existing, trackIndex: existing.trackIndex, startTicks };
  const trackIndex = await firstFreeTrackAbove(host, ctx.item.trackIndex, startTicks, startTicks + duration);
  const placed = await host.placeItem(imported.projectItemId, trackIndex, startTicks);
  await host.setMetadata(imported.projectItemId, {
    'reshoot.prompt': spec.prompt ?? '',
    'reshoot.seed': String(result.seed),
    'reshoot.model': spec.model ?? '',
    'reshoot.jobId': job.id,
    'reshoot.kind': spec.kind ?? ctx.kind,
  });
  await host.addMarker({
    name: `Reshoot ${ctx.kind} ${ctx.direction}`,
    comment: `job ${job.id} · seed ${result.seed} · ${spec.model ?? ''}${spec.prompt ? ` · ${spec.prompt}` : ''}`,
    startTicks,
    durationTicks: duration,
  });
  return { item: placed, trackIndex, startTicks };
}

async function findPlaced(host: Host, projectItemId: string, startTicks: number): Promise<TrackItemInfo | null> {
  const count = await host.videoTrackCount();
  for (let t = 0; t < count; t++) {
    const hit = (await host.videoTrackItems(t)).find((i) => i.projectItemId === projectItemId && i.startTicks === startTicks);
    if (hit) return hit;
  }
  return null;
}
