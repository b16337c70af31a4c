/**
 * Everything the panel needs from Premiere Pro, behind one interface (DESIGN.md §6). The
 * Premiere implementation (premiere.ts) is the only code that touches `premierepro`; the
 * in-memory one (memory.ts) backs the tests and the browser harness.
 *
 * Times are Premiere ticks (254016000000 per second) as plain numbers: exact integers up to
 * 2^53 ticks, about 9.8 hours of timeline, enough for any sequence an editor generates into.
 */
import type { Rational } from '../../protocol/rational.ts';

export const TICKS_PER_SECOND = 254016000000;

export interface SequenceInfo {
  id: string;
  name: string;
  /** Exact timebase, e.g. {num: 24000, den: 1001}. */
  fps: Rational;
  width: number;
  height: number;
  pixelAspect: Rational;
  /** End of the last item, in ticks. */
  endTicks: number;
}

export interface TrackItemInfo {
  /** Stable within a session: `${trackIndex}:${startTicks}` style ids are fine for the host. */
  id: string;
  name: string;
  /** Video track index, 0 = V1 (bottom). */
  trackIndex: number;
  /** Where the item sits on the timeline [start, end), ticks. */
  startTicks: number;
  endTicks: number;
  /** Which part of the source media it shows: source time of its first frame (ticks). */
  inPointTicks: number;
  /** Source media file; null for items without one (titles, adjustment layers). */
  mediaPath: string | null;
  projectItemId: string;
}

export interface MarkerInfo {
  name: string;
  comment: string;
  startTicks: number;
  durationTicks: number;
}

export interface ImportedItem {
  projectItemId: string;
  mediaPath: string;
}

export interface Host {
  /** What the host is ("Premiere Pro 26.3", "in-memory"), for the status line. */
  readonly name: string;
  activeSequence(): Promise<SequenceInfo | null>;
  /** Selected video track items of the active sequence, in time order. */
  selection(): Promise<TrackItemInfo[]>;
  /** Playhead of the active sequence, ticks. */
  playhead(): Promise<number>;
  /** Sequence markers, in time order. */
  markers(): Promise<MarkerInfo[]>;
  videoTrackCount(): Promise<number>;
  /** Items on one video track, in time order. */
  videoTrackItems(trackIndex: number): Promise<TrackItemInfo[]>;
  /**
   * Renders the sequence frame at `ticks` (effects and grading included) to a PNG file in
   * `folder` (created first when missing) and returns its path once the file is complete.
   */
  exportFrame(ticks: number, folder: string, width: number, height: number): Promise<string>;
  /** Deletes a file the panel made (an exported frame once read); a missing file is not an error. */
  removeFile(path: string): Promise<void>;
  /** Imports a file into the bin named `binName` (created if missing). Importing the same path
   * again returns the existing item. */
  importFile(path: string, binName: string): Promise<ImportedItem>;
  /** Places a project item on a video track at `startTicks` (overwrite edit, no ripple). */
  placeItem(projectItemId: string, trackIndex: number, startTicks: number): Promise<TrackItemInfo>;
  /** Writes project metadata fields on a project item. */
  setMetadata(projectItemId: string, fields: Record<string, string>): Promise<void>;
  addMarker(marker: MarkerInfo): Promise<void>;
  /** Reads a UTF-8 text file (the companion's connection file); null when it does not exist. */
  readTextFile(path: string): Promise<string | null>;
  /** Where the companion's connection file is on this machine. */
  connectionFilePath(): Promise<string>;
  /** A folder the panel may write exported frames to. */
  tempFolder(): Promise<string>;
}
