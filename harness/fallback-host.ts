/**
 * A small in-memory Host for the harness while plugin/host/memory.ts (the shared MemoryHost)
 * is not there. Same contract as plugin/host/types.ts: one sequence, video tracks of items,
 * a project of imported files in bins, metadata and markers.
 */
import type { Host, ImportedItem, MarkerInfo, SequenceInfo, TrackItemInfo } from '../plugin/host/types.ts';
import { TICKS_PER_SECOND } from '../plugin/host/types.ts';

export interface ProjectItem {
  id: string;
  mediaPath: string;
  bin: string;
  /** Length of the media in ticks. */
  durationTicks: number;
  metadata: Record<string, string>;
}

export class FallbackMemoryHost implements Host {
  readonly name = 'in-memory host';
  tracks: TrackItemInfo[][] = [[], [], []];
  project = new Map<string, ProjectItem>();
  markerList: MarkerInfo[] = [];
  selectedIds = new Set<string>();
  files = new Map<string, string>();
  playheadTicks = 0;
  private nextId = 1;
  private listeners = new Set<() => void>();
  /** Length assumed for imported media (the harness cannot probe files). */
  mediaDurationTicks: (path: string) => number = () => TICKS_PER_SECOND;

  constructor(public sequence: SequenceInfo) {}

  onChange(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  private changed(): void {
    this.sequence = { ...this.sequence, endTicks: Math.max(0, ...this.tracks.flat().map((i) => i.endTicks)) };
    for (const l of this.listeners) l();
  }

  addClip(trackIndex: number, mediaPath: string, startTicks: number, durationTicks: number, inPointTicks = 0): TrackItemInfo {
    const projectItemId = `p${this.nextId++}`;
    this.project.set(projectItemId, { id: projectItemId, mediaPath, bin: '', durationTicks, metadata: {} });
    return this.insert(projectItemId, trackIndex, startTicks, durationTicks, inPointTicks);
  }

  private insert(projectItemId: string, trackIndex: number, startTicks: number, durationTicks: number, inPointTicks: number): TrackItemInfo {
    while (this.tracks.length <= trackIndex) this.tracks.push([]);
    const p = this.project.get(projectItemId)!;
    const item: TrackItemInfo = {
      id: `${trackIndex}:${startTicks}`,
      name: p.mediaPath.split(/[\\/]/).pop() ?? p.mediaPath,
      trackIndex,
      startTicks,
      endTicks: startTicks + durationTicks,
      inPointTicks,
      mediaPath: p.mediaPath,
      projectItemId,
    };
    // Overwrite edit: whatever overlaps on that track is removed (the harness does not trim).
    const track = this.tracks[trackIndex]!.filter((i) => i.endTicks <= item.startTicks || i.startTicks >= item.endTicks);
    track.push(item);
    track.sort((a, b) => a.startTicks - b.startTicks);
    this.tracks[trackIndex] = track;
    this.changed();
    return item;
  }

  select(ids: string[]): void {
    this.selectedIds = new Set(ids);
    this.changed();
  }

  async activeSequence() {
    return this.sequence;
  }
  async selection() {
    return this.tracks.flat().filter((i) => this.selectedIds.has(i.id)).sort((a, b) => a.startTicks - b.startTicks);
  }
  async playhead() {
    return this.playheadTicks;
  }
  async markers() {
    return [...this.markerList].sort((a, b) => a.startTicks - b.startTicks);
  }
  async videoTrackCount() {
    return this.tracks.length;
  }
  async videoTrackItems(trackIndex: number) {
    return [...(this.tracks[trackIndex] ?? [])];
  }
  async exportFrame(ticks: number, folder: string): Promise<string> {
    return `${folder}/frame-${ticks}.png`;
  }
  async importFile(path: string, binName: string): Promise<ImportedItem> {
    for (const p of this.project.values()) if (p.mediaPath === path) return { projectItemId: p.id, mediaPath: path };
    const id = `p${this.nextId++}`;
    this.project.set(id, { id, mediaPath: path, bin: binName, durationTicks: this.mediaDurationTicks(path), metadata: {} });
    this.changed();
    return { projectItemId: id, mediaPath: path };
  }
  async placeItem(projectItemId: string, trackIndex: number, startTicks: number) {
    const p = this.project.get(projectItemId);
    if (!p) throw new Error(`no project item ${projectItemId}`);
    return this.insert(projectItemId, trackIndex, startTicks, p.durationTicks, 0);
  }
  async setMetadata(projectItemId: string, fields: Record<string, string>) {
    const p = this.project.get(projectItemId);
    if (!p) throw new Error(`no project item ${projectItemId}`);
    p.metadata = { ...p.metadata, ...fields };
    this.changed();
  }
  async addMarker(marker: MarkerInfo) {
    this.markerList.push(marker);
    this.changed();
  }
  async readTextFile(path: string) {
    return this.files.get(path) ?? null;
  }
  async connectionFilePath() {
    return '/memory/reshoot/companion.json';
  }
  async tempFolder() {
    return '/memory/tmp';
  }
}
