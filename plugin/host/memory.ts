/**
 * An in-memory Premiere project behind the Host interface, for the tests and the browser harness.
 * One sequence (frame rate, size), video tracks of items, sequence markers, a project of imported
 * files in named bins with project metadata.
 *
 * It is strict where Premiere would silently do damage, so placement bugs show up in tests:
 * placeItem refuses to overlap an item already on the track (Reshoot only ever places into free
 * space; an overwrite there would destroy the editor's clip), refuses times off the sequence's
 * frame grid, and refuses a track index more than one past the top track (Premiere adds at most
 * the one track an edit targets).
 *
 * exportFrame writes a real PNG into the host's in-memory file system (`binaryFiles`, read with
 * readBinaryFile): a synthetic picture of what the timeline shows at that frame (the topmost clip
 * with media, its colour from its media path, a pattern that moves with its source frame), so
 * frames by value are decoded and uploaded for real. What a browser or a test must provide
 * differently is injectable: exportFrame, readTextFile and the connection file's path.
 */
import type { Host, ImportedItem, MarkerInfo, SequenceInfo, TrackItemInfo } from './types.ts';
import { parseRational, type Rational } from '../../protocol/rational.ts';
import { frameToTicks, isFrameBoundary, ticksToFrame } from '../time.ts';
import { encodePng } from '../connection/png.ts';

/** A clip in a description, in frames of the sequence rate. */
export interface ClipDescription {
  /** Video track index, 0 = V1. */
  track: number;
  /** Timeline frame the clip starts at. */
  at: number;
  /** Length on the timeline, frames. */
  frames: number;
  /** Source frame of its first frame (the in point), default 0. */
  in?: number;
  /** Null for an item without media (a title, an adjustment layer). */
  media: string | null;
  name?: string;
  selected?: boolean;
}

export interface ProjectDescription {
  /** Null: no active sequence. */
  sequence: {
    id?: string;
    name?: string;
    /** A Rational or anything parseRational reads ("24000/1001", "25", 29.97). */
    fps: Rational | string | number;
    width: number;
    height: number;
    pixelAspect?: Rational;
    /** Video tracks that exist even when empty (default: 3, or as many as the clips need). */
    videoTracks?: number;
  } | null;
  clips?: ClipDescription[];
  markers?: MarkerInfo[];
  /** Playhead, frames. */
  playhead?: number;
  /** Text files readTextFile sees (when no readTextFile option is given). */
  files?: Record<string, string>;
}

export interface ExportFrameRequest {
  ticks: number;
  frame: number;
  folder: string;
  width: number;
  height: number;
}

export interface MemoryHostOptions {
  name?: string;
  /** Renders a frame and resolves to its path. Default: a synthetic PNG in `binaryFiles` at `${folder}/frame-${frame}-${n}.png`. */
  exportFrame?: (req: ExportFrameRequest) => Promise<string> | string;
  readTextFile?: (path: string) => Promise<string | null> | string | null;
  connectionFilePath?: string;
  tempFolder?: string;
  /** Length of a newly imported file, ticks (the host cannot probe media). Default: one second. */
  mediaDurationTicks?: (path: string) => number;
}

export interface MemoryProjectItem {
  id: string;
  mediaPath: string | null;
  bin: string;
  durationTicks: number;
  metadata: Record<string, string>;
}

const basename = (p: string) => p.split(/[\\/]/).pop() || p;

export class MemoryHost implements Host {
  readonly name: string;
  sequence: SequenceInfo | null;
  /** tracks[i] = items on video track i, in time order. */
  tracks: TrackItemInfo[][] = [];
  project = new Map<string, MemoryProjectItem>();
  bins = new Set<string>();
  markerList: MarkerInfo[] = [];
  selectedIds = new Set<string>();
  playheadTicks = 0;
  files = new Map<string, string>();
  /** Binary files (exported frames), by path. */
  binaryFiles = new Map<string, Uint8Array>();
  /** Every exportFrame call, in order. */
  exportedFrames: ExportFrameRequest[] = [];
  mediaDurationTicks: (path: string) => number;
  private readonly opts: MemoryHostOptions;
  private nextId = 1;
  private listeners = new Set<() => void>();

  constructor(description: ProjectDescription, options: MemoryHostOptions = {}) {
    this.opts = options;
    this.name = options.name ?? 'in-memory host';
    this.mediaDurationTicks = options.mediaDurationTicks ?? (() => 254016000000);
    const s = description.sequence;
    if (s) {
      this.sequence = {
        id: s.id ?? 'sequence-1',
        name: s.name ?? 'Sequence 01',
        fps: typeof s.fps === 'object' ? s.fps : parseRational(s.fps),
        width: s.width,
        height: s.height,
        pixelAspect: s.pixelAspect ?? { num: 1, den: 1 },
        endTicks: 0,
      };
      const needed = Math.max(s.videoTracks ?? 3, ...(description.clips ?? []).map((c) => c.track + 1));
      for (let t = 0; t < needed; t++) this.tracks.push([]);
      for (const c of description.clips ?? []) {
        const fps = this.sequence.fps;
        const item = this.addClip(
          c.track,
          c.media,
          frameToTicks(c.at, fps),
          frameToTicks(c.frames, fps),
          frameToTicks(c.in ?? 0, fps),
          c.name,
        );
        if (c.selected) this.selectedIds.add(item.id);
      }
      this.playheadTicks = frameToTicks(description.playhead ?? 0, this.sequence.fps);
    } else {
      this.sequence = null;
    }
    for (const m of description.markers ?? []) this.markerList.push({ ...m });
    for (const [p, text] of Object.entries(description.files ?? {})) this.files.set(p, text);
  }

  // --- editing the simulated project (tests, harness) -----------------------------------------

  /** Adds a clip of `mediaPath` (its own project item) to a track; same overlap rules as placeItem. */
  addClip(trackIndex: number, mediaPath: string | null, startTicks: number, durationTicks: number, inPointTicks = 0, name?: string): TrackItemInfo {
    const id = `p${this.nextId++}`;
    this.project.set(id, { id, mediaPath, bin: '', durationTicks, metadata: {} });
    return this.insert(id, trackIndex, startTicks, durationTicks, inPointTicks, name);
  }

  select(ids: string[]): void {
    this.selectedIds = new Set(ids);
    this.changed();
  }

  setPlayhead(ticks: number): void {
    this.playheadTicks = ticks;
    this.changed();
  }

  /** Called after every change (the harness redraws its timeline). Returns an unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every item on every video track. */
  allItems(): TrackItemInfo[] {
    return this.tracks.flat();
  }

  private requireSequence(): SequenceInfo {
    if (!this.sequence) throw new Error('no active sequence');
    return this.sequence;
  }

  private changed(): void {
    if (this.sequence) {
      this.sequence = { ...this.sequence, endTicks: Math.max(0, ...this.allItems().map((i) => i.endTicks)) };
    }
    for (const l of this.listeners) l();
  }

  private insert(projectItemId: string, trackIndex: number, startTicks: number, durationTicks: number, inPointTicks: number, name?: string): TrackItemInfo {
    const seq = this.requireSequence();
    const p = this.project.get(projectItemId);
    if (!p) throw new Error(`no project item ${projectItemId}`);
    if (!Number.isInteger(trackIndex) || trackIndex < 0 || trackIndex > this.tracks.length) {
      throw new Error(`video track ${trackIndex} does not exist and is not the next new one (the sequence has ${this.tracks.length})`);
    }
    for (const [what, t] of [['start', startTicks], ['in point', inPointTicks]] as const) {
      if (!Number.isSafeInteger(t) || t < 0) throw new Error(`${what} must be a whole number of ticks ≥ 0, got ${t}`);
    }
    if (!isFrameBoundary(startTicks, seq.fps)) {
      throw new Error(`start ${startTicks} ticks is not on a frame boundary at ${seq.fps.num}/${seq.fps.den} fps`);
    }
    if (!Number.isSafeInteger(durationTicks) || durationTicks <= 0) throw new Error(`an item needs a duration > 0, got ${durationTicks}`);
    if (trackIndex === this.tracks.length) this.tracks.push([]);
    const endTicks = startTicks + durationTicks;
    const track = this.tracks[trackIndex]!;
    const clash = track.find((i) => i.startTicks < endTicks && i.endTicks > startTicks);
    if (clash) {
      throw new Error(
        `V${trackIndex + 1} is not free over frames ${ticksToFrame(startTicks, seq.fps)}–${ticksToFrame(endTicks, seq.fps)}: ` +
          `"${clash.name}" is there (frames ${ticksToFrame(clash.startTicks, seq.fps)}–${ticksToFrame(clash.endTicks, seq.fps)})`,
      );
    }
    const item: TrackItemInfo = {
      id: `${trackIndex}:${startTicks}`,
      name: name ?? (p.mediaPath ? basename(p.mediaPath) : 'Graphic'),
      trackIndex,
      startTicks,
      endTicks,
      inPointTicks,
      mediaPath: p.mediaPath,
      projectItemId,
    };
    track.push(item);
    track.sort((a, b) => a.startTicks - b.startTicks);
    this.changed();
    return item;
  }

  // --- Host -----------------------------------------------------------------------------------

  async activeSequence(): Promise<SequenceInfo | null> {
    return this.sequence ? { ...this.sequence } : null;
  }

  async selection(): Promise<TrackItemInfo[]> {
    return this.allItems()
      .filter((i) => this.selectedIds.has(i.id))
      .sort((a, b) => a.startTicks - b.startTicks || a.trackIndex - b.trackIndex)
      .map((i) => ({ ...i }));
  }

  async playhead(): Promise<number> {
    return this.playheadTicks;
  }

  async markers(): Promise<MarkerInfo[]> {
    return [...this.markerList].sort((a, b) => a.startTicks - b.startTicks).map((m) => ({ ...m }));
  }

  async videoTrackCount(): Promise<number> {
    return this.tracks.length;
  }

  async videoTrackItems(trackIndex: number): Promise<TrackItemInfo[]> {
    return (this.tracks[trackIndex] ?? []).map((i) => ({ ...i }));
  }

  async exportFrame(ticks: number, folder: string, width: number, height: number): Promise<string> {
    const seq = this.requireSequence();
    if (!Number.isSafeInteger(ticks) || ticks < 0) throw new Error(`cannot export a frame at ${ticks} ticks`);
    if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
      throw new Error(`cannot export a ${width}x${height} frame`);
    }
    const req: ExportFrameRequest = { ticks, frame: ticksToFrame(ticks, seq.fps), folder, width, height };
    this.exportedFrames.push(req);
    if (this.opts.exportFrame) return await this.opts.exportFrame(req);
    const path = `${folder.replace(/[\\/]+$/, '')}/frame-${req.frame}-${width}x${height}-${this.exportedFrames.length}.png`;
    this.binaryFiles.set(path, encodePng(this.renderFrame(ticks, width, height)));
    return path;
  }

  /**
   * What the simulated timeline shows at `ticks`: the topmost item with media, as a colour from
   * its media path with bands that move one pixel per source frame; black where nothing is.
   */
  renderFrame(ticks: number, width: number, height: number): { width: number; height: number; channels: 3; pixels: Uint8Array } {
    const seq = this.requireSequence();
    const pixels = new Uint8Array(width * height * 3);
    let top: TrackItemInfo | undefined;
    for (let t = this.tracks.length - 1; t >= 0 && !top; t--) {
      top = this.tracks[t]!.find((i) => i.mediaPath && i.startTicks <= ticks && ticks < i.endTicks);
    }
    if (top) {
      let h = 2166136261;
      for (const c of top.mediaPath!) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
      const base = [64 + (h & 127), 64 + ((h >>> 8) & 127), 64 + ((h >>> 16) & 127)];
      const frame = ticksToFrame(top.inPointTicks + ticks - top.startTicks, seq.fps);
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const band = ((x + frame) >> 2) & 1 ? 48 : 0;
          const p = (y * width + x) * 3;
          pixels[p] = base[0]! + band;
          pixels[p + 1] = base[1]! + (y & 8 ? 16 : 0);
          pixels[p + 2] = base[2]!;
        }
      }
    }
    return { width, height, channels: 3, pixels };
  }

  /** A binary file exportFrame wrote (the panel reads exported frames through this). */
  async readBinaryFile(path: string): Promise<Uint8Array> {
    const bytes = this.binaryFiles.get(path);
    if (!bytes) throw new Error(`no such file: ${path}`);
    return bytes;
  }

  async removeFile(path: string): Promise<void> {
    this.binaryFiles.delete(path);
  }

  async importFile(path: string, binName: string): Promise<ImportedItem> {
    for (const p of this.project.values()) {
      if (p.mediaPath === path) return { projectItemId: p.id, mediaPath: path };
    }
    const duration = this.mediaDurationTicks(path);
    if (!Number.isSafeInteger(duration) || duration <= 0) throw new Error(`cannot import ${path}: no media length`);
    this.bins.add(binName);
    const id = `p${this.nextId++}`;
    this.project.set(id, { id, mediaPath: path, bin: binName, durationTicks: duration, metadata: {} });
    this.changed();
    return { projectItemId: id, mediaPath: path };
  }

  async placeItem(projectItemId: string, trackIndex: number, startTicks: number): Promise<TrackItemInfo> {
    const p = this.project.get(projectItemId);
    if (!p) throw new Error(`no project item ${projectItemId}`);
    return { ...this.insert(projectItemId, trackIndex, startTicks, p.durationTicks, 0) };
  }

  async setMetadata(projectItemId: string, fields: Record<string, string>): Promise<void> {
    const p = this.project.get(projectItemId);
    if (!p) throw new Error(`no project item ${projectItemId}`);
    for (const [k, v] of Object.entries(fields)) {
      if (typeof v !== 'string') throw new Error(`metadata ${k} must be a string`);
    }
    p.metadata = { ...p.metadata, ...fields };
    this.changed();
  }

  async addMarker(marker: MarkerInfo): Promise<void> {
    if (!Number.isSafeInteger(marker.startTicks) || marker.startTicks < 0) throw new Error(`a marker cannot start at ${marker.startTicks} ticks`);
    if (!Number.isSafeInteger(marker.durationTicks) || marker.durationTicks < 0) throw new Error(`a marker cannot last ${marker.durationTicks} ticks`);
    this.markerList.push({ ...marker });
    this.changed();
  }

  async readTextFile(path: string): Promise<string | null> {
    if (this.opts.readTextFile) return await this.opts.readTextFile(path);
    return this.files.get(path) ?? null;
  }

  async connectionFilePath(): Promise<string> {
    return this.opts.connectionFilePath ?? '/memory/reshoot/companion.json';
  }

  async tempFolder(): Promise<string> {
    return this.opts.tempFolder ?? '/memory/tmp';
  }
}
