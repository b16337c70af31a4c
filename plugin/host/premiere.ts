/**
 * The Host on Premiere Pro's UXP API (`premierepro`, types from @adobe/premierepro 26.3). The
 * only code that touches Premiere. The `premierepro`, `uxp` and `os` modules are passed in, so
 * tests and the browser never load them; `createPremiereHost()` fetches them with UXP's own
 * require at run time.
 *
 * API notes (the .d.ts wins over DESIGN.md where they differ):
 *  - Every getter is async except Markers.getMarkers() / Marker getters / VideoTrack.getTrackItems(),
 *    which the types declare synchronous.
 *  - Times are TickTime; `.ticks` is the exact count as a string, used here instead of the float
 *    `.seconds`. TickTime.createWithTicks takes a string.
 *  - The sequence rate is its ticks per frame, an exact integer, so 254016000000/ticksPerFrame
 *    reduces to the exact rational (24000/1001, not 23.976): SequenceSettings.getVideoFrameRate()
 *    from Premiere 26.2, Sequence.getTimebase() (the same number as a string) before. Every call's
 *    "since" version is in versions.ts; newer ones are gated on the running version.
 *  - Files are reached through UXP's localFileSystem with the documented URL form (fileUrl.ts).
 *    Exported frames go to folders this host creates first (Premiere does not create them).
 *  - The selection can hold audio items; the types offer no video/audio test on an item, so a
 *    selected item counts when the video track at its index holds a selected clip at its start.
 *  - importFiles returns a boolean only: the new item is found in the bin by media path.
 *  - Project metadata is an XMP packet (string); createSetProjectMetadataAction takes the whole
 *    packet plus the names of the changed fields, and a field must first be added to the project
 *    metadata schema (addPropertyToProjectMetadataSchema).
 *  - Exporter.exportSequenceFrame resolves before the file is complete and may write
 *    "name.png.png": both names are polled until one holds a complete PNG (ends with IEND).
 *  - Edits (overwrite, markers, metadata, bins) are actions, created and committed inside
 *    project.lockedAccess(() => project.executeTransaction(...)); both are synchronous.
 *  - createOverwriteItemAction at an index one past the top video track: the types document
 *    track creation for createInsertProjectItemAction only; placeItem verifies the item landed.
 *  - @adobe/cc-ext-uxp-types declares no `storage.localFileSystem` value and its ambient "fs"/"os"
 *    modules clash with @types/node in this one-program repo, so the few UXP members used are
 *    described structurally below (UxpModule, OsModule).
 */
import type {
  Action,
  ClipProjectItem,
  FolderItem,
  Project,
  ProjectItem,
  Sequence,
  TickTime,
  VideoClipTrackItem,
  premierepro,
} from '@adobe/premierepro';
import type { Host, ImportedItem, MarkerInfo, SequenceInfo, TrackItemInfo } from './types.ts';
import { TICKS_PER_SECOND } from './types.ts';
import { parseRational, rational, type Rational } from '../../protocol/rational.ts';
import { decodeUtf8 } from '../connection/utf8.ts';
import { fileUrl } from './fileUrl.ts';
import { hostHas } from './versions.ts';

/** The members of UXP's `require('uxp')` this host uses. */
export interface UxpModule {
  storage: {
    localFileSystem: {
      getEntryWithUrl(url: string): Promise<UxpEntry>;
      createEntryWithUrl(url: string, options?: { type?: symbol; overwrite?: boolean }): Promise<UxpEntry>;
      getTemporaryFolder(): Promise<{ nativePath: string }>;
    };
    formats: { utf8: symbol; binary: symbol };
    types: { file: symbol; folder: symbol };
  };
  host?: { name?: string; version?: string };
}

export interface UxpEntry {
  nativePath: string;
  isFile?: boolean;
  isFolder?: boolean;
  read(options?: { format?: symbol }): Promise<string | ArrayBuffer>;
  delete(): Promise<unknown>;
}

/** UXP's `require('os')`. */
export interface OsModule {
  platform(): string;
  homedir(): string;
}

export interface PremiereHostOptions {
  /** Overrides where the companion's connection file is looked for. */
  connectionFile?: string;
  /** How long exportFrame waits for the image file (default 15 s). */
  exportTimeoutMs?: number;
}

const PRIVATE_NS = 'http://ns.adobe.com/premierePrivateProjectMetaData/1.0/';

const ticksOf = (t: TickTime): number => Number(t.ticks);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class PremiereHost implements Host {
  readonly name: string;
  /** Premiere's version as UXP reports it ("25.6.0"), or null when it does not say. */
  readonly version: string | null;
  /** Project items met so far by id: the API has no lookup by id. */
  private readonly known = new Map<string, ProjectItem>();

  constructor(
    private readonly ppro: premierepro,
    private readonly uxp: UxpModule,
    private readonly os: OsModule,
    private readonly options: PremiereHostOptions = {},
  ) {
    const h = uxp.host;
    this.name = h?.version ? `${h.name ?? 'Premiere Pro'} ${h.version}` : 'Premiere Pro';
    this.version = h?.version ?? null;
  }

  private async project(): Promise<Project> {
    const project = await this.ppro.Project.getActiveProject();
    if (!project) throw new Error('no project is open in Premiere Pro');
    return project;
  }

  private async sequence(): Promise<{ project: Project; seq: Sequence }> {
    const project = await this.project();
    const seq = await project.getActiveSequence();
    if (!seq) throw new Error('no sequence is active: open one in the timeline');
    return { project, seq };
  }

  /** Runs one undoable edit: actions are created and committed under the project lock. */
  private edit(project: Project, undo: string, actions: () => Action[]): void {
    let ok = false;
    project.lockedAccess(() => {
      ok = project.executeTransaction((compound) => {
        for (const a of actions()) compound.addAction(a);
      }, undo);
    });
    if (!ok) throw new Error(`Premiere Pro refused the edit "${undo}"`);
  }

  private async fps(seq: Sequence): Promise<Rational> {
    const tpf = hostHas('SequenceSettings.getVideoFrameRate', this.version)
      ? (await seq.getSettings()).getVideoFrameRate().ticksPerFrame
      : Number(await seq.getTimebase());
    if (!(tpf > 0) || !Number.isFinite(tpf)) throw new Error(`Premiere Pro reported no frame rate for the sequence "${seq.name}"`);
    return rational(TICKS_PER_SECOND, Math.round(tpf));
  }

  private async info(item: VideoClipTrackItem): Promise<TrackItemInfo> {
    const [name, trackIndex, start, end, inPoint, pi, adjustment] = await Promise.all([
      item.getName(),
      item.getTrackIndex(),
      item.getStartTime(),
      item.getEndTime(),
      item.getInPoint(),
      item.getProjectItem(),
      item.isAdjustmentLayer(),
    ]);
    this.known.set(pi.getId(), pi);
    let mediaPath: string | null = null;
    if (!adjustment) {
      try {
        mediaPath = (await this.ppro.ClipProjectItem.cast(pi).getMediaFilePath()) || null;
      } catch {
        mediaPath = null; // graphics and nested sequences have no media file
      }
    }
    const startTicks = ticksOf(start);
    return {
      id: `${trackIndex}:${startTicks}`,
      name,
      trackIndex,
      startTicks,
      endTicks: ticksOf(end),
      inPointTicks: ticksOf(inPoint),
      mediaPath,
      projectItemId: pi.getId(),
    };
  }

  private async clips(seq: Sequence, trackIndex: number): Promise<VideoClipTrackItem[]> {
    const track = await seq.getVideoTrack(trackIndex);
    return track ? track.getTrackItems(this.ppro.Constants.TrackItemType.CLIP, false) : [];
  }

  async activeSequence(): Promise<SequenceInfo | null> {
    const project = await this.ppro.Project.getActiveProject();
    const seq = project ? await project.getActiveSequence() : null;
    if (!seq) return null;
    const [fps, size, settings, end] = await Promise.all([this.fps(seq), seq.getFrameSize(), seq.getSettings(), seq.getEndTime()]);
    return {
      id: seq.guid.toString(),
      name: seq.name,
      fps,
      width: size.width,
      height: size.height,
      pixelAspect: parsePixelAspect(await settings.getVideoPixelAspectRatio()),
      endTicks: ticksOf(end),
    };
  }

  async selection(): Promise<TrackItemInfo[]> {
    const { seq } = await this.sequence();
    const selected = await (await seq.getSelection()).getTrackItems();
    const videoCount = await seq.getVideoTrackCount();
    const out = new Map<string, TrackItemInfo>();
    for (const s of selected) {
      const [trackIndex, start] = await Promise.all([s.getTrackIndex(), s.getStartTime()]);
      if (trackIndex >= videoCount) continue;
      for (const clip of await this.clips(seq, trackIndex)) {
        if ((await clip.getStartTime()).equals(start) && (await clip.getIsSelected())) {
          const info = await this.info(clip);
          out.set(info.id, info);
        }
      }
    }
    return [...out.values()].sort((a, b) => a.startTicks - b.startTicks || a.trackIndex - b.trackIndex);
  }

  async playhead(): Promise<number> {
    const { seq } = await this.sequence();
    return ticksOf(await seq.getPlayerPosition());
  }

  async markers(): Promise<MarkerInfo[]> {
    const { seq } = await this.sequence();
    const markers = (await this.ppro.Markers.getMarkers(seq)).getMarkers();
    return markers
      .map((m) => ({ name: m.getName(), comment: m.getComments(), startTicks: ticksOf(m.getStart()), durationTicks: ticksOf(m.getDuration()) }))
      .sort((a, b) => a.startTicks - b.startTicks);
  }

  async videoTrackCount(): Promise<number> {
    const { seq } = await this.sequence();
    return seq.getVideoTrackCount();
  }

  async videoTrackItems(trackIndex: number): Promise<TrackItemInfo[]> {
    const { seq } = await this.sequence();
    const items = await Promise.all((await this.clips(seq, trackIndex)).map((c) => this.info(c)));
    return items.sort((a, b) => a.startTicks - b.startTicks);
  }

  async exportFrame(ticks: number, folder: string, width: number, height: number): Promise<string> {
    const { seq } = await this.sequence();
    await this.ensureFolder(folder);
    const name = `reshoot-frame-${ticks}-${width}x${height}-${Date.now()}.png`;
    const ok = await this.ppro.Exporter.exportSequenceFrame(seq, this.ppro.TickTime.createWithTicks(String(ticks)), name, folder, width, height);
    if (!ok) throw new Error(`Premiere Pro could not export the frame at ${ticks} ticks`);
    const path = joinPath(folder, name);
    const candidates = [path, `${path}.png`];
    const deadline = Date.now() + (this.options.exportTimeoutMs ?? 15_000);
    while (Date.now() < deadline) {
      for (const p of candidates) {
        const bytes = await this.readBytes(p);
        if (bytes && isCompletePng(bytes)) return p;
      }
      await sleep(50);
    }
    throw new Error(`the exported frame did not appear as ${path} within ${Math.round((this.options.exportTimeoutMs ?? 15_000) / 1000)} s`);
  }

  /** Creates `folder` (and its parents) unless it exists: exportSequenceFrame does not. */
  private async ensureFolder(folder: string): Promise<void> {
    const fs = this.uxp.storage.localFileSystem;
    const existing = await fs.getEntryWithUrl(fileUrl(folder)).catch(() => null);
    if (existing) {
      if (existing.isFolder === false) throw new Error(`cannot export frames to ${folder}: it is a file, not a folder`);
      return;
    }
    const parent = folder.replace(/[\\/]+$/, '').replace(/[\\/][^\\/]*$/, '');
    if (parent && parent !== folder && !/^[a-z]:$/i.test(parent)) await this.ensureFolder(parent);
    try {
      await fs.createEntryWithUrl(fileUrl(folder), { type: this.uxp.storage.types.folder });
    } catch (e) {
      throw new Error(`cannot create the folder ${folder} for exported frames: ${(e as Error).message}`);
    }
  }

  async removeFile(path: string): Promise<void> {
    try {
      const entry = await this.uxp.storage.localFileSystem.getEntryWithUrl(fileUrl(path));
      await entry.delete();
    } catch {
      // already gone
    }
  }

  private async readBytes(path: string): Promise<Uint8Array | null> {
    try {
      const entry = await this.uxp.storage.localFileSystem.getEntryWithUrl(fileUrl(path));
      const data = await entry.read({ format: this.uxp.storage.formats.binary });
      return typeof data === 'string' ? null : new Uint8Array(data);
    } catch {
      return null;
    }
  }

  private async findBin(project: Project, binName: string): Promise<FolderItem> {
    const root = await project.getRootItem();
    const find = async () => {
      for (const item of await root.getItems()) {
        if (item.type === this.ppro.ProjectItem.TYPE_BIN && item.name === binName) return this.ppro.FolderItem.cast(item);
      }
      return null;
    };
    const found = await find();
    if (found) return found;
    this.edit(project, `Reshoot: create bin ${binName}`, () => [root.createBinAction(binName, false)]);
    const created = await find();
    if (!created) throw new Error(`could not create the bin "${binName}"`);
    return created;
  }

  private async findByPath(bin: FolderItem, path: string): Promise<ProjectItem | null> {
    for (const item of await bin.getItems()) {
      if (item.type !== this.ppro.ProjectItem.TYPE_CLIP) continue;
      const clip: ClipProjectItem = this.ppro.ClipProjectItem.cast(item);
      if (samePath(await clip.getMediaFilePath(), path)) return item;
    }
    return null;
  }

  async importFile(path: string, binName: string): Promise<ImportedItem> {
    const project = await this.project();
    const bin = await this.findBin(project, binName);
    let item = await this.findByPath(bin, path);
    if (!item) {
      const ok = await project.importFiles([path], true, this.ppro.ProjectItem.cast(bin), false);
      if (!ok) throw new Error(`Premiere Pro could not import ${path}`);
      item = await this.findByPath(bin, path);
      if (!item) throw new Error(`imported ${path}, but it is not in the bin "${binName}"`);
    }
    this.known.set(item.getId(), item);
    return { projectItemId: item.getId(), mediaPath: path };
  }

  private async projectItem(project: Project, id: string): Promise<ProjectItem> {
    const cached = this.known.get(id);
    if (cached) return cached;
    const walk = async (folder: FolderItem): Promise<ProjectItem | null> => {
      for (const item of await folder.getItems()) {
        if (item.getId() === id) return item;
        if (item.type === this.ppro.ProjectItem.TYPE_BIN) {
          const hit = await walk(this.ppro.FolderItem.cast(item));
          if (hit) return hit;
        }
      }
      return null;
    };
    const found = await walk(await project.getRootItem());
    if (!found) throw new Error(`no project item ${id}`);
    this.known.set(id, found);
    return found;
  }

  async placeItem(projectItemId: string, trackIndex: number, startTicks: number): Promise<TrackItemInfo> {
    const { project, seq } = await this.sequence();
    const item = await this.projectItem(project, projectItemId);
    const editor = this.ppro.SequenceEditor.getEditor(seq);
    const time = this.ppro.TickTime.createWithTicks(String(startTicks));
    // Results carry no audio stream, so the audio track index is not used.
    this.edit(project, 'Reshoot: place result', () => [editor.createOverwriteItemAction(item, time, trackIndex, 0)]);
    const placed = (await this.videoTrackItems(trackIndex)).find((i) => i.startTicks === startTicks && i.projectItemId === projectItemId);
    if (!placed) throw new Error(`Premiere Pro did not place the result on V${trackIndex + 1} (add a video track and try again)`);
    return placed;
  }

  async setMetadata(projectItemId: string, fields: Record<string, string>): Promise<void> {
    const project = await this.project();
    const item = await this.projectItem(project, projectItemId);
    const Metadata = this.ppro.Metadata;
    for (const name of Object.keys(fields)) {
      // Adding a property already in the schema is harmless (it answers false).
      await Metadata.addPropertyToProjectMetadataSchema(name, name, Metadata.METADATA_TYPE_TEXT);
    }
    const xmp = setProjectMetadataFields(await Metadata.getProjectMetadata(item), fields);
    this.edit(project, 'Reshoot: metadata', () => [Metadata.createSetProjectMetadataAction(item, xmp, Object.keys(fields))]);
  }

  async addMarker(marker: MarkerInfo): Promise<void> {
    const { project, seq } = await this.sequence();
    const markers = await this.ppro.Markers.getMarkers(seq);
    const T = this.ppro.TickTime;
    this.edit(project, 'Reshoot: marker', () => [
      markers.createAddMarkerAction(marker.name, 'Comment', T.createWithTicks(String(marker.startTicks)), T.createWithTicks(String(marker.durationTicks)), marker.comment),
    ]);
  }

  async readTextFile(path: string): Promise<string | null> {
    let entry: UxpEntry;
    try {
      entry = await this.uxp.storage.localFileSystem.getEntryWithUrl(fileUrl(path));
    } catch {
      return null; // no such file
    }
    const text = await entry.read({ format: this.uxp.storage.formats.utf8 });
    return typeof text === 'string' ? text : decodeUtf8(new Uint8Array(text));
  }

  async connectionFilePath(): Promise<string> {
    return this.options.connectionFile ?? companionConnectionFile(this.os.platform(), this.os.homedir());
  }

  async tempFolder(): Promise<string> {
    return (await this.uxp.storage.localFileSystem.getTemporaryFolder()).nativePath;
  }
}

// --- pure helpers (tested without Premiere) --------------------------------------------------

/**
 * Where the companion writes its connection file (companion/service/home.ts, without the
 * RESHOOT_HOME override the panel cannot see): Windows %APPDATA%\Reshoot (the default APPDATA,
 * UXP has no environment), macOS ~/Library/Application Support/Reshoot, else ~/.local/share/reshoot.
 */
export function companionConnectionFile(platform: string, home: string): string {
  const h = home.replace(/[\\/]+$/, '');
  if (platform.startsWith('win')) return `${h}\\AppData\\Roaming\\Reshoot\\companion.json`;
  if (platform === 'darwin') return `${h}/Library/Application Support/Reshoot/companion.json`;
  return `${h}/.local/share/reshoot/companion.json`;
}

export function joinPath(folder: string, name: string): string {
  const sep = folder.includes('\\') && !folder.includes('/') ? '\\' : '/';
  return folder.replace(/[\\/]+$/, '') + sep + name;
}

/** Paths equal as Premiere may report them (separators and, on Windows, case may differ). */
export function samePath(a: string, b: string): boolean {
  const norm = (p: string) => p.replace(/\\/g, '/');
  const [x, y] = [norm(a), norm(b)];
  return x === y || (/^[a-z]:\//i.test(x) && x.toLowerCase() === y.toLowerCase());
}

/** "1:1", "10/11", "0.9091" or "" → a rational (square pixels when unreadable). */
export function parsePixelAspect(text: string): Rational {
  const m = /^\s*(\d+)\s*[:/]\s*(\d+)\s*$/.exec(text);
  try {
    if (m && Number(m[2]) > 0) return rational(Number(m[1]), Number(m[2]));
    if (text.trim()) return parseRational(text);
  } catch {
    // fall through
  }
  return { num: 1, den: 1 };
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const PNG_IEND = [0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82];

/** True when the bytes are a whole PNG: signature at the start, the IEND chunk at the very end. */
export function isCompletePng(bytes: Uint8Array): boolean {
  if (bytes.length < PNG_SIGNATURE.length + 12) return false;
  if (!PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return false;
  const tail = bytes.length - PNG_IEND.length;
  return PNG_IEND.every((b, i) => bytes[tail + i] === b);
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Sets text fields in Premiere's project metadata packet (the premierePrivateProjectMetaData
 * namespace), keeping everything else as it is. Field names must be XML names (letters, digits,
 * ".", "_", "-"). An empty or unreadable packet is replaced by a minimal one.
 */
export function setProjectMetadataFields(xmp: string, fields: Record<string, string>): string {
  for (const name of Object.keys(fields)) {
    if (!/^[A-Za-z_][\w.-]*$/.test(name)) throw new Error(`"${name}" is not a valid metadata field name`);
  }
  let doc = xmp;
  if (!/<rdf:Description\b/.test(doc)) {
    doc =
      '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">' +
      `<rdf:Description rdf:about="" xmlns:premierePrivateProjectMetaData="${PRIVATE_NS}"></rdf:Description></rdf:RDF></x:xmpmeta>`;
  }
  let prefix = new RegExp(`xmlns:([\\w.-]+)="${escapeRegExp(PRIVATE_NS)}"`).exec(doc)?.[1];
  if (!prefix) {
    prefix = 'premierePrivateProjectMetaData';
    doc = doc.replace(/<rdf:Description\b/, `<rdf:Description xmlns:${prefix}="${PRIVATE_NS}"`);
  }
  // A self-closing <rdf:Description .../> gets a body to put fields in.
  doc = doc.replace(/<rdf:Description\b([^>]*?)\/>/, '<rdf:Description$1></rdf:Description>');
  for (const [name, value] of Object.entries(fields)) {
    const tag = `${prefix}:${name}`;
    const element = `<${tag}>${escapeXml(value)}</${tag}>`;
    const existing = new RegExp(`<${escapeRegExp(tag)}(\\s[^>]*)?(/>|>[\\s\\S]*?</${escapeRegExp(tag)}>)`);
    doc = existing.test(doc) ? doc.replace(existing, () => element) : doc.replace('</rdf:Description>', `${element}</rdf:Description>`);
  }
  return doc;
}

// UXP's own require: webpack leaves `__non_webpack_require__` as a plain require() call, so the
// host modules are neither bundled nor need an externals entry.
declare const __non_webpack_require__: (id: string) => unknown;

/** The PremiereHost of the running panel (plugin/index.tsx calls this). */
export function createPremiereHost(options?: PremiereHostOptions): PremiereHost {
  const ppro = __non_webpack_require__('premierepro') as premierepro;
  const uxp = __non_webpack_require__('uxp') as UxpModule;
  const os = __non_webpack_require__('os') as OsModule;
  return new PremiereHost(ppro, uxp, os, options);
}
