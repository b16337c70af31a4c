/**
 * Where a finished result goes on the timeline. The decisions are pure functions of track items
 * (tested without a host); `placeResult` runs them against a Host.
 *
 * Time — by job kind, always on frame boundaries of the sequence rate:
 *   extend tail   starts where the source item ends
 *   extend head   ends where the source item starts (refused if that is before 0:00)
 *   fill/replace  over the source item's own range (the result carries the untouched pixels too)
 *   bridge        in the gap between clip A's end and clip B's start
 *   generate      at the playhead (snapped to the nearest frame)
 *
 * Track — never over the editor's own clips (an overwrite edit would destroy them):
 *   extend/fill/replace: the first video track above the source item's track that is empty over
 *     [start, end); bridge: the same search starting at clip A's own track, so a gap on one track
 *     is filled right where it is; generate: the lowest track above everything under the range,
 *     so the new shot is the one seen.
 *   When no existing track is free the answer is index = track count, one past the top track.
 *   Premiere creates that track on the overwrite edit (SequenceEditor documents it for an index
 *   past the last track); MemoryHost does the same, and refuses any index further up.
 *
 * Idempotence: a result is imported once per file path (Host.importFile returns the existing
 * item), and placing it again where it already sits returns the item that is there instead of
 * stacking a copy on the next free track.
 */
import type { Host, MarkerInfo, TrackItemInfo } from './host/types.ts';
import type { Rational } from '../protocol/rational.ts';
import { durationFrames, frameToTicks, snapToFrame, ticksToFrame, ticksToSeconds } from './time.ts';

/** A placement that cannot be made as asked; the message is meant for the editor. */
export class PlacementError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlacementError';
  }
}

export type PlacementRequest =
  /** `frames`: the generated length (the result's frame count). */
  | { kind: 'extend'; direction: 'tail' | 'head'; item: TrackItemInfo; frames: number }
  /** `frames`: defaults to the item's length on the timeline. */
  | { kind: 'fill' | 'replace'; item: TrackItemInfo; frames?: number }
  | { kind: 'bridge'; a: TrackItemInfo; b: TrackItemInfo }
  | { kind: 'generate'; playheadTicks: number; frames: number };

/** Where, in time, a result goes, and from which track the search for a free one starts. */
export interface PlacementSpan {
  startTicks: number;
  endTicks: number;
  /** A track index to search upward from (inclusive), or 'above-all' (see the header). */
  fromTrack: number | 'above-all';
}

export interface Placement {
  trackIndex: number;
  startTicks: number;
  endTicks: number;
  /** True when trackIndex is one past the top track: the edit creates the track. */
  newTrack: boolean;
}

function at(ticks: number, fps: Rational): string {
  return `${ticksToSeconds(ticks).toFixed(3)} s (frame ${ticksToFrame(ticks, fps)})`;
}

function positiveFrames(frames: number, what: string): number {
  if (!Number.isSafeInteger(frames) || frames < 1) throw new PlacementError(`${what} must be at least one whole frame, got ${frames}`);
  return frames;
}

/** The time span of a result, by job kind (see the header). Pure; throws PlacementError. */
export function placementFor(req: PlacementRequest, fps: Rational): PlacementSpan {
  switch (req.kind) {
    case 'extend': {
      const length = frameToTicks(positiveFrames(req.frames, 'an extension'), fps);
      if (req.direction === 'tail') {
        const start = snapToFrame(req.item.endTicks, fps);
        return { startTicks: start, endTicks: start + length, fromTrack: req.item.trackIndex + 1 };
      }
      const end = snapToFrame(req.item.startTicks, fps);
      if (end - length < 0) {
        throw new PlacementError(
          `cannot extend the head of "${req.item.name}" by ${req.frames} frames: it starts at ${at(end, fps)}, ` +
            `only ${ticksToFrame(end, fps)} frames after the start of the sequence. Move the clip later or extend by less.`,
        );
      }
      return { startTicks: end - length, endTicks: end, fromTrack: req.item.trackIndex + 1 };
    }
    case 'fill':
    case 'replace': {
      const start = snapToFrame(req.item.startTicks, fps);
      const frames = req.frames ?? durationFrames(start, snapToFrame(req.item.endTicks, fps), fps);
      positiveFrames(frames, `"${req.item.name}"`);
      return { startTicks: start, endTicks: start + frameToTicks(frames, fps), fromTrack: req.item.trackIndex + 1 };
    }
    case 'bridge': {
      const [a, b] = req.a.startTicks <= req.b.startTicks ? [req.a, req.b] : [req.b, req.a];
      const start = snapToFrame(a.endTicks, fps);
      const end = snapToFrame(b.startTicks, fps);
      if (end <= start) {
        throw new PlacementError(
          `no gap to bridge: "${a.name}" ends at ${at(start, fps)} and "${b.name}" starts at ${at(end, fps)}`,
        );
      }
      return { startTicks: start, endTicks: end, fromTrack: Math.min(a.trackIndex, b.trackIndex) };
    }
    case 'generate': {
      if (req.playheadTicks < 0) throw new PlacementError(`the playhead is before the start of the sequence (${req.playheadTicks} ticks)`);
      const start = snapToFrame(req.playheadTicks, fps);
      return { startTicks: start, endTicks: start + frameToTicks(positiveFrames(req.frames, 'a generated shot'), fps), fromTrack: 'above-all' };
    }
  }
}

export function overlaps(item: Pick<TrackItemInfo, 'startTicks' | 'endTicks'>, startTicks: number, endTicks: number): boolean {
  return item.startTicks < endTicks && item.endTicks > startTicks;
}

/** True when no item on the track overlaps [startTicks, endTicks). Touching ends do not overlap. */
export function isFree(items: readonly TrackItemInfo[], startTicks: number, endTicks: number): boolean {
  return !items.some((i) => overlaps(i, startTicks, endTicks));
}

/** `tracks[i]` = the items on video track i. Picks the track for a span (see the header). */
export function chooseTrack(tracks: readonly (readonly TrackItemInfo[])[], span: PlacementSpan): Placement {
  const { startTicks, endTicks } = span;
  let from: number;
  if (span.fromTrack === 'above-all') {
    from = 0;
    tracks.forEach((items, i) => {
      if (!isFree(items, startTicks, endTicks)) from = i + 1;
    });
  } else {
    from = Math.max(0, span.fromTrack);
  }
  for (let t = from; t < tracks.length; t++) {
    if (isFree(tracks[t]!, startTicks, endTicks)) return { trackIndex: t, startTicks, endTicks, newTrack: false };
  }
  return { trackIndex: Math.max(from, tracks.length), startTicks, endTicks, newTrack: true };
}

/** The item already showing `projectItemId` at `startTicks`, if any: placing it again is a no-op. */
export function alreadyPlaced(items: readonly TrackItemInfo[], projectItemId: string, startTicks: number): TrackItemInfo | undefined {
  return items.find((i) => i.projectItemId === projectItemId && i.startTicks === startTicks);
}

export async function allVideoTracks(host: Host): Promise<TrackItemInfo[][]> {
  const count = await host.videoTrackCount();
  const tracks: TrackItemInfo[][] = [];
  for (let t = 0; t < count; t++) tracks.push(await host.videoTrackItems(t));
  return tracks;
}

/** What a placed result records about itself: project metadata and a sequence marker. */
export interface ResultInfo {
  jobId: string;
  kind: string;
  prompt: string;
  seed: number;
  model: string;
  /** extend only. */
  direction?: 'tail' | 'head';
}

/** Project metadata field names written on a result's project item. */
export const METADATA_FIELDS = {
  prompt: 'reshoot.prompt',
  seed: 'reshoot.seed',
  model: 'reshoot.model',
  jobId: 'reshoot.jobId',
  kind: 'reshoot.kind',
} as const;

export function resultMetadata(r: ResultInfo): Record<string, string> {
  return {
    [METADATA_FIELDS.prompt]: r.prompt,
    [METADATA_FIELDS.seed]: String(r.seed),
    [METADATA_FIELDS.model]: r.model,
    [METADATA_FIELDS.jobId]: r.jobId,
    [METADATA_FIELDS.kind]: r.direction ? `${r.kind} ${r.direction}` : r.kind,
  };
}

/**
 * The marker over a placed result. Its name starts "Reshoot ·" (no colon), so the batch marker
 * grammar (batch.ts, "reshoot:") never reads a result marker as a new command.
 */
export function resultMarker(r: ResultInfo, p: Pick<Placement, 'startTicks' | 'endTicks'>): MarkerInfo {
  const what = r.direction ? `${r.kind} ${r.direction}` : r.kind;
  const parts = [`job ${r.jobId}`, `seed ${r.seed}`, r.model];
  if (r.prompt) parts.push(`"${r.prompt}"`);
  return { name: `Reshoot · ${what}`, comment: parts.join(' · '), startTicks: p.startTicks, durationTicks: p.endTicks - p.startTicks };
}

/** The bin results are imported into. */
export const RESULTS_BIN = 'Reshoot';

export interface PlacedResult {
  item: TrackItemInfo;
  placement: Placement;
  /** True when the result was already on the timeline there: nothing was added. */
  duplicate: boolean;
}

/**
 * Imports a result file and places it: the time from `req`, the track from the timeline as it is
 * now. Placing the same result again returns the existing item (no second copy, no second marker).
 */
export async function placeResult(
  host: Host,
  req: PlacementRequest,
  fps: Rational,
  result: ResultInfo & { path: string },
): Promise<PlacedResult> {
  const span = placementFor(req, fps);
  const imported = await host.importFile(result.path, RESULTS_BIN);
  const tracks = await allVideoTracks(host);
  const existing = alreadyPlaced(tracks.flat(), imported.projectItemId, span.startTicks);
  if (existing) {
    const placement = { trackIndex: existing.trackIndex, startTicks: existing.startTicks, endTicks: existing.endTicks, newTrack: false };
    return { item: existing, placement, duplicate: true };
  }
  const placement = chooseTrack(tracks, span);
  const item = await host.placeItem(imported.projectItemId, placement.trackIndex, placement.startTicks);
  await host.setMetadata(imported.projectItemId, resultMetadata(result));
  await host.addMarker(resultMarker(result, placement));
  return { item, placement, duplicate: false };
}
