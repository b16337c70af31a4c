/**
 * Batches: one setting applied to many places, producing one job spec per place.
 *
 *  - over the selection: e.g. "extend every selected clip's tail by 1 s" → one extend job per clip;
 *    "bridge" pairs neighbouring selected clips on one track that have a gap between them.
 *  - over sequence markers whose NAME is a Reshoot command (grammar below), so an editor can
 *    mark up a whole timeline and render it in one go.
 *
 * Every place is checked before anything is rendered (media present, the placement possible, the
 * spec valid); a bad place becomes an entry in `errors` with a message naming it, and the rest
 * of the batch still goes.
 *
 * Marker command grammar (keywords case-insensitive, separated by spaces):
 *
 *   command   = "reshoot:" kind { argument }
 *   kind      = "extend" | "fill" | "replace" | "generate" | "bridge"
 *   argument  = direction | duration | option | prompt
 *   direction = "tail" | "head"                      extend only; default tail
 *   duration  = number "s" | integer "f"             extend and generate: "1s", "0.5s", "12f"
 *   option    = name "=" value                        seed=42 steps=30 guidance=3.5 strength=0.8
 *                                                     model=ltxv-2b  (no spaces around "=")
 *   prompt    = '"' text '"'                          at most one; \" and \\ escape; “curly” quotes too
 *
 *   reshoot: extend tail 1s "the car drives on into the dusk"
 *   reshoot: extend head 12f seed=7
 *   reshoot: fill "empty street"          (fill/replace use the batch's mask)
 *   reshoot: generate 3s "aerial shot of a harbour at dawn"
 *   reshoot: bridge
 *
 * Without a quoted prompt, the marker's comment (if any) is the prompt: marker names are short.
 * A marker whose name does not start with "reshoot:" is not a command and is skipped silently
 * (result markers are named "Reshoot · …", without the colon, so they are never re-read).
 *
 * What a marker applies to, at its start time t:
 *   extend/fill/replace  the topmost video clip with media under t
 *   generate             a new shot starting at t
 *   bridge               the gap containing t on the lowest track that has one (clip A ends at or
 *                        before t, clip B starts after t, nothing in between)
 */
import type { JobSpecInput, OutputFormat } from '../protocol/jobspec.ts';
import { ALPHA_FORMATS, safeParseJobSpec } from '../protocol/jobspec.ts';
import type { Time } from '../protocol/fields.ts';
import { timeToFrames } from '../protocol/fields.ts';
import { formatRational } from '../protocol/rational.ts';
import type { MarkerInfo, SequenceInfo, TrackItemInfo } from './host/types.ts';
import { PlacementError, placementFor, type PlacementRequest } from './placement.ts';
import { durationFrames, sourceInOut, ticksToFrame } from './time.ts';

type FillInput = Extract<JobSpecInput, { kind: 'fill' }>;
export type MaskInput = FillInput['mask'];

/** Settings shared by every job of a batch. */
export interface JobSettings {
  prompt?: string;
  negativePrompt?: string;
  seed?: number;
  steps?: number;
  guidance?: number;
  strength?: number;
  model?: string;
  format?: OutputFormat;
  /** How a source of another shape goes into the sequence frame (job spec `sequence.fit`); absent = fit. */
  fit?: 'fit' | 'fill' | 'stretch';
  /** Alpha of the output where the format stores it (job spec `output.alpha`); absent = opaque. */
  alpha?: 'opaque' | 'source' | 'none';
}

/** The one setting a batch over the selection applies to every clip. */
export type BatchSetting = JobSettings &
  (
    | { kind: 'extend'; direction: 'tail' | 'head'; duration: Time }
    | { kind: 'fill' | 'replace'; mask: MaskInput }
    | { kind: 'bridge' }
  );

export interface BatchJob {
  /** What the job is for, for the queue: "A001.mov · extend tail 24f". */
  label: string;
  spec: JobSpecInput;
  /** Where the result goes once done (placement.ts). */
  placement: PlacementRequest;
}

export interface BatchError {
  /** The clip or marker the error is about, as the editor sees it. */
  where: string;
  message: string;
}

export interface Batch {
  jobs: BatchJob[];
  errors: BatchError[];
}

// ---------------------------------------------------------------------------------------------
// Building one job spec (the panel's forms build single jobs with the same functions)

function common(seq: SequenceInfo, s: JobSettings) {
  return {
    prompt: s.prompt ?? '',
    ...(s.negativePrompt ? { negativePrompt: s.negativePrompt } : {}),
    ...(s.seed !== undefined ? { seed: s.seed } : {}),
    ...(s.steps !== undefined ? { steps: s.steps } : {}),
    ...(s.guidance !== undefined ? { guidance: s.guidance } : {}),
    ...(s.strength !== undefined ? { strength: s.strength } : {}),
    ...(s.model ? { model: s.model } : {}),
    ...(s.format ? { output: { format: s.format, ...(s.alpha && ALPHA_FORMATS.includes(s.format) ? { alpha: s.alpha } : {}) } } : {}),
    sequence: { fps: formatRational(seq.fps), width: seq.width, height: seq.height, pixelAspect: formatRational(seq.pixelAspect), ...(s.fit ? { fit: s.fit } : {}) },
  };
}

function clipSource(item: TrackItemInfo, seq: SequenceInfo) {
  if (!item.mediaPath) throw new BatchItemError(`"${item.name}" has no media file (titles and adjustment layers cannot be used)`);
  const range = sourceInOut(item, seq.fps);
  if (range.out.frames <= range.in.frames) throw new BatchItemError(`"${item.name}" is shorter than one frame`);
  return { path: item.mediaPath, ...range };
}

/** An error about one place of a batch (or one job the panel builds); the batch goes on without it. */
export class BatchItemError extends Error {}

function checked(spec: JobSpecInput): JobSpecInput {
  const r = safeParseJobSpec(spec);
  if (!r.ok) throw new BatchItemError(r.error.issues.map((i) => `${i.path || 'spec'}: ${i.message}`).join('; '));
  return spec;
}

function framesLabel(t: Time, seq: SequenceInfo): string {
  return `${timeToFrames(t, seq.fps)}f`;
}

export function extendJob(item: TrackItemInfo, seq: SequenceInfo, s: JobSettings, direction: 'tail' | 'head', duration: Time): BatchJob {
  const frames = timeToFrames(duration, seq.fps);
  const placement: PlacementRequest = { kind: 'extend', direction, item, frames };
  placementFor(placement, seq.fps); // refuses a head extension before 0:00 now, not after the render
  const spec = checked({ kind: 'extend', ...common(seq, s), source: clipSource(item, seq), extend: { direction, duration } });
  return { label: `${item.name} · extend ${direction} ${framesLabel(duration, seq)}`, spec, placement };
}

export function maskJob(item: TrackItemInfo, seq: SequenceInfo, s: JobSettings, kind: 'fill' | 'replace', mask: MaskInput | undefined): BatchJob {
  if (!mask) throw new BatchItemError(`${kind} needs a mask: draw one in the panel before running the batch`);
  const placement: PlacementRequest = { kind, item };
  placementFor(placement, seq.fps);
  const spec = checked({ kind, ...common(seq, s), source: clipSource(item, seq), mask });
  return { label: `${item.name} · ${kind}`, spec, placement };
}

export function bridgeJob(a: TrackItemInfo, b: TrackItemInfo, seq: SequenceInfo, s: JobSettings): BatchJob {
  const placement: PlacementRequest = { kind: 'bridge', a, b };
  placementFor(placement, seq.fps);
  const gap = durationFrames(a.endTicks, b.startTicks, seq.fps);
  const spec = checked({ kind: 'bridge', ...common(seq, s), sources: { a: clipSource(a, seq), b: clipSource(b, seq) }, gap: { frames: gap } });
  return { label: `${a.name} → ${b.name} · bridge ${gap}f`, spec, placement };
}

export function generateJob(startTicks: number, seq: SequenceInfo, s: JobSettings, duration: Time): BatchJob {
  const frames = timeToFrames(duration, seq.fps);
  const placement: PlacementRequest = { kind: 'generate', playheadTicks: startTicks, frames };
  placementFor(placement, seq.fps);
  const spec = checked({ kind: 'generate', ...common(seq, s), duration });
  return { label: `generate ${framesLabel(duration, seq)} at frame ${ticksToFrame(startTicks, seq.fps)}`, spec, placement };
}

function attempt(batch: Batch, where: string, make: () => BatchJob): void {
  try {
    batch.jobs.push(make());
  } catch (e) {
    if (e instanceof BatchItemError || e instanceof PlacementError || e instanceof RangeError) {
      batch.errors.push({ where, message: e.message });
    } else {
      throw e;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Over the selection

/** One job per selected clip (bridge: one per neighbouring pair with a gap on one track). */
export function batchOverSelection(items: readonly TrackItemInfo[], seq: SequenceInfo, setting: BatchSetting): Batch {
  const batch: Batch = { jobs: [], errors: [] };
  const sorted = [...items].sort((a, b) => a.startTicks - b.startTicks || a.trackIndex - b.trackIndex);
  if (sorted.length === 0) {
    batch.errors.push({ where: 'selection', message: 'no clips are selected' });
    return batch;
  }
  if (setting.kind === 'bridge') {
    const byTrack = new Map<number, TrackItemInfo[]>();
    for (const i of sorted) byTrack.set(i.trackIndex, [...(byTrack.get(i.trackIndex) ?? []), i]);
    for (const list of byTrack.values()) {
      for (let k = 1; k < list.length; k++) {
        const [a, b] = [list[k - 1]!, list[k]!];
        if (b.startTicks > a.endTicks) attempt(batch, `${a.name} → ${b.name}`, () => bridgeJob(a, b, seq, setting));
      }
    }
    if (batch.jobs.length === 0 && batch.errors.length === 0) {
      batch.errors.push({ where: 'selection', message: 'bridge needs at least two selected clips on one track with a gap between them' });
    }
    return batch;
  }
  for (const item of sorted) {
    attempt(batch, item.name, () =>
      setting.kind === 'extend'
        ? extendJob(item, seq, setting, setting.direction, setting.duration)
        : maskJob(item, seq, setting, setting.kind, setting.mask),
    );
  }
  return batch;
}

// ---------------------------------------------------------------------------------------------
// Marker commands

export const MARKER_PREFIX = 'reshoot:';
const KINDS = ['extend', 'fill', 'replace', 'generate', 'bridge'] as const;
type Kind = (typeof KINDS)[number];
const NUMBER_OPTIONS = ['seed', 'steps', 'guidance', 'strength'] as const;

export interface MarkerCommand {
  kind: Kind;
  direction?: 'tail' | 'head';
  duration?: Time;
  prompt?: string;
  settings: Omit<JobSettings, 'prompt' | 'negativePrompt' | 'format'>;
}

/** A marker name that starts "reshoot:" but is not a valid command; `column` counts from 1. */
export class MarkerSyntaxError extends Error {
  constructor(
    readonly text: string,
    readonly column: number,
    problem: string,
  ) {
    super(`${problem} (at column ${column} of '${text}')`);
    this.name = 'MarkerSyntaxError';
  }
}

export function isMarkerCommand(name: string): boolean {
  return name.trimStart().toLowerCase().startsWith(MARKER_PREFIX);
}

interface Token {
  text: string;
  column: number;
  quoted: boolean;
}

function tokenize(text: string, from: number): Token[] {
  const tokens: Token[] = [];
  let i = from;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const start = i;
    if (c === '"' || c === '“') {
      const close = c === '"' ? '"' : '”';
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new MarkerSyntaxError(text, start + 1, 'the prompt\'s closing quote is missing');
        const d = text[i]!;
        if (d === '\\' && close === '"' && i + 1 < text.length) {
          value += text[i + 1];
          i += 2;
        } else if (d === close) {
          i++;
          break;
        } else {
          value += d;
          i++;
        }
      }
      tokens.push({ text: value, column: start + 1, quoted: true });
    } else {
      while (i < text.length && !/\s/.test(text[i]!) && text[i] !== '"' && text[i] !== '“') i++;
      tokens.push({ text: text.slice(start, i), column: start + 1, quoted: false });
    }
  }
  return tokens;
}

/** Parses a marker name (see the grammar above); throws MarkerSyntaxError. */
export function parseMarkerCommand(text: string): MarkerCommand {
  const lead = text.length - text.trimStart().length;
  if (!isMarkerCommand(text)) throw new MarkerSyntaxError(text, lead + 1, `a Reshoot command starts with "${MARKER_PREFIX}"`);
  const tokens = tokenize(text, lead + MARKER_PREFIX.length);
  const first = tokens[0];
  if (!first || first.quoted) {
    throw new MarkerSyntaxError(text, first?.column ?? text.length + 1, `expected a kind after "${MARKER_PREFIX}": ${KINDS.join(', ')}`);
  }
  const kind = first.text.toLowerCase() as Kind;
  if (!KINDS.includes(kind)) throw new MarkerSyntaxError(text, first.column, `unknown kind "${first.text}"; expected one of ${KINDS.join(', ')}`);
  const cmd: MarkerCommand = { kind, settings: {} };

  for (const t of tokens.slice(1)) {
    const word = t.text.toLowerCase();
    if (t.quoted) {
      if (cmd.prompt !== undefined) throw new MarkerSyntaxError(text, t.column, 'only one quoted prompt is allowed');
      cmd.prompt = t.text;
    } else if (word === 'tail' || word === 'head') {
      if (kind !== 'extend') throw new MarkerSyntaxError(text, t.column, `"${t.text}" applies to extend only, not ${kind}`);
      if (cmd.direction) throw new MarkerSyntaxError(text, t.column, 'the direction is given twice');
      cmd.direction = word;
    } else if (/^\d+(\.\d+)?s$/.test(word) || /^\d+f$/.test(word)) {
      if (kind !== 'extend' && kind !== 'generate') {
        throw new MarkerSyntaxError(text, t.column, `a duration applies to extend and generate, not ${kind}`);
      }
      if (cmd.duration) throw new MarkerSyntaxError(text, t.column, 'the duration is given twice');
      const n = Number(word.slice(0, -1));
      if (n <= 0) throw new MarkerSyntaxError(text, t.column, 'the duration must be longer than zero');
      cmd.duration = word.endsWith('f') ? { frames: n } : { seconds: n };
    } else if (word.includes('=')) {
      const eq = t.text.indexOf('=');
      const name = t.text.slice(0, eq).toLowerCase();
      const value = t.text.slice(eq + 1);
      if (!value) throw new MarkerSyntaxError(text, t.column + eq + 1, `"${name}=" has no value`);
      if (name === 'model') {
        cmd.settings.model = value;
      } else if ((NUMBER_OPTIONS as readonly string[]).includes(name)) {
        const v = Number(value);
        if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(v)) {
          throw new MarkerSyntaxError(text, t.column + eq + 1, `${name} must be a number, got "${value}"`);
        }
        cmd.settings[name as (typeof NUMBER_OPTIONS)[number]] = v;
      } else {
        throw new MarkerSyntaxError(text, t.column, `unknown option "${name}"; expected ${[...NUMBER_OPTIONS, 'model'].join(', ')}`);
      }
    } else if (/^\d/.test(word)) {
      throw new MarkerSyntaxError(text, t.column, `"${t.text}" is not a duration; write seconds as "1.5s" or frames as "36f"`);
    } else {
      throw new MarkerSyntaxError(text, t.column, `unexpected "${t.text}" (prompts go in double quotes)`);
    }
  }
  if (kind === 'extend') cmd.direction ??= 'tail';
  return cmd;
}

/** Defaults a marker command may leave out. */
export interface MarkerDefaults extends JobSettings {
  /** extend/generate without a duration in the marker. */
  duration?: Time;
  /** fill/replace: markers cannot carry a mask. */
  mask?: MaskInput;
}

function topmostUnder(tracks: readonly (readonly TrackItemInfo[])[], t: number): TrackItemInfo | undefined {
  for (let k = tracks.length - 1; k >= 0; k--) {
    const hit = tracks[k]!.find((i) => i.mediaPath && i.startTicks <= t && t < i.endTicks);
    if (hit) return hit;
  }
  return undefined;
}

function gapAround(tracks: readonly (readonly TrackItemInfo[])[], t: number): [TrackItemInfo, TrackItemInfo] | undefined {
  for (const items of tracks) {
    const sorted = [...items].sort((x, y) => x.startTicks - y.startTicks);
    const a = sorted.filter((i) => i.endTicks <= t).pop();
    const b = sorted.find((i) => i.startTicks > t);
    if (a && b && !sorted.some((i) => i.startTicks < b.startTicks && i.endTicks > a.endTicks)) return [a, b];
  }
  return undefined;
}

/**
 * One job per marker command. `tracks[i]` = the items on video track i. Markers that are not
 * commands are skipped; bad commands and commands that cannot apply become errors.
 */
export function batchOverMarkers(
  markers: readonly MarkerInfo[],
  tracks: readonly (readonly TrackItemInfo[])[],
  seq: SequenceInfo,
  defaults: MarkerDefaults = {},
): Batch {
  const batch: Batch = { jobs: [], errors: [] };
  for (const m of [...markers].sort((a, b) => a.startTicks - b.startTicks)) {
    if (!isMarkerCommand(m.name)) continue;
    const where = `marker '${m.name}' at frame ${ticksToFrame(m.startTicks, seq.fps)}`;
    attempt(batch, where, () => {
      let cmd: MarkerCommand;
      try {
        cmd = parseMarkerCommand(m.name);
      } catch (e) {
        throw new BatchItemError((e as Error).message);
      }
      const { mask, duration: defaultDuration, ...defaultSettings } = defaults;
      const prompt = cmd.prompt ?? (m.comment.trim() || defaults.prompt);
      const s: JobSettings = { ...defaultSettings, ...cmd.settings, ...(prompt !== undefined ? { prompt } : {}) };
      const duration = cmd.duration ?? defaultDuration;
      if ((cmd.kind === 'extend' || cmd.kind === 'generate') && !duration) {
        throw new BatchItemError(`${cmd.kind} needs a duration, e.g. "1s" or "24f"`);
      }
      if (cmd.kind === 'generate') return generateJob(m.startTicks, seq, s, duration!);
      if (cmd.kind === 'bridge') {
        const pair = gapAround(tracks, m.startTicks);
        if (!pair) throw new BatchItemError('bridge: the marker is not in a gap between two clips on any video track');
        return bridgeJob(pair[0], pair[1], seq, s);
      }
      const item = topmostUnder(tracks, m.startTicks);
      if (!item) throw new BatchItemError(`${cmd.kind}: no video clip with media under the marker`);
      return cmd.kind === 'extend' ? extendJob(item, seq, s, cmd.direction!, duration!) : maskJob(item, seq, s, cmd.kind, mask);
    });
  }
  return batch;
}
