/**
 * What the Extend slice needs between the UI and the timeline: the job spec for the selected
 * clip and placing its result. Tick math is plugin/time.ts, track choice plugin/placement.ts.
 */
import { formatRational, type JobRecord, type JobSpecInput, type OutputFormat, type Rational, type Time, timeToFrames } from '../../protocol/index.ts';
import type { Host, SequenceInfo, TrackItemInfo } from '../host/types.ts';
import { allVideoTracks, alreadyPlaced, isFree } from '../placement.ts';
import { frameToTicks, sourceRange, ticksToFrame } from '../time.ts';

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

/** The extend job for the selected item (frames by reference: the media path). */
export function extendSpec(item: TrackItemInfo, seq: SequenceInfo, o: ExtendOptions): JobSpecInput {
  if (!item.mediaPath) throw new Error(`"${item.name}" has no media file (a title or an adjustment layer cannot be extended)`);
  const range = sourceRange(item, seq.fps);
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
function firstFreeTrackAbove(tracks: TrackItemInfo[][], from: number, start: number, end: number): number {
  for (let t = from + 1; t < tracks.length; t++) if (isFree(tracks[t]!, start, end)) return t;
  return tracks.length;
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
  const duration = frameToTicks(frames, ctx.fps);
  const startTicks = ctx.direction === 'tail' ? ctx.item.endTicks : ctx.item.startTicks - duration;
  if (startTicks < 0) {
    const before = ticksToFrame(ctx.item.startTicks, ctx.fps);
    throw new Error(`the ${frames}-frame head extension does not fit: "${ctx.item.name}" starts at frame ${before}; move the clip later or extend by fewer frames`);
  }
  const imported = await host.importFile(result.path, RESULTS_BIN);
  // Placing the same result again finds it where it already is instead of adding a copy.
  const tracks = await allVideoTracks(host);
  const existing = alreadyPlaced(tracks.flat(), imported.projectItemId, startTicks);
  if (existing) return { item: existing, trackIndex: existing.trackIndex, startTicks };
  const trackIndex = firstFreeTrackAbove(tracks, ctx.item.trackIndex, startTicks, startTicks + duration);
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

