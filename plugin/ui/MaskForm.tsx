/**
 * Fill and Replace: regenerate the masked pixels of the selected clip over its whole range
 * (fill: remove or repaint something; replace: the mask covers the plate to regenerate behind a
 * kept foreground). The mask comes from the mask editor (plugin/ui/MaskEditor.tsx: shapes drawn
 * over the clip's frames, keyframed) or is a matte: the clip on the track above the selection,
 * by reference to its media path.
 */
import { useEffect, useRef, useState } from 'react';
import { batchOverSelection, maskJob } from '../batch.ts';
import { fileUrl } from '../host/fileUrl.ts';
import type { Host, SequenceInfo, TrackItemInfo } from '../host/types.ts';
import { draftProblem, draftToMaskSpec, emptyDraft, type DraftMatte, type MaskDraft } from '../mask/draft.ts';
import { durationFrames, snapToFrame, ticksPerFrame, ticksToFrame } from '../time.ts';
import { toJobSettings } from './CommonSettings.tsx';
import { FormShell } from './FormShell.tsx';
import { activeSequence, build, runBatch, selectedClips, type KindFormProps } from './forms.ts';
import { MaskEditor } from './MaskEditor.tsx';
import { Button, Checkbox } from './controls.tsx';

/**
 * The matte for `item`: the lowest clip with media on a track above it that covers the item's
 * first frame. `in` is the matte's own frame shown at the item's first frame.
 */
export async function matteAbove(host: Host, item: TrackItemInfo, seq: SequenceInfo): Promise<DraftMatte> {
  const count = await host.videoTrackCount();
  const start = snapToFrame(item.startTicks, seq.fps);
  for (let t = item.trackIndex + 1; t < count; t++) {
    const hit = (await host.videoTrackItems(t)).find((i) => i.mediaPath && i.startTicks <= start && start < i.endTicks);
    if (!hit) continue;
    if (hit.endTicks < item.endTicks) {
      throw new Error(`the matte "${hit.name}" on V${t + 1} ends before "${item.name}" does: extend the matte to cover the whole clip`);
    }
    const inFrame = ticksToFrame(hit.inPointTicks, seq.fps) + (start - snapToFrame(hit.startTicks, seq.fps)) / ticksPerFrame(seq.fps);
    return { path: hit.mediaPath!, in: { frames: inFrame }, channel: 'luma', label: `${hit.name} (V${t + 1})` };
  }
  throw new Error(`no clip on a track above "${item.name}" (V${item.trackIndex + 1}) covers its first frame: put the matte on V${item.trackIndex + 2}`);
}

/** A URL an <img> can show for an exported frame file: file: in UXP, a blob for in-memory files. */
async function frameUrl(host: Host, path: string): Promise<string> {
  const own = (host as Host & { readBinaryFile?: (p: string) => Promise<Uint8Array> }).readBinaryFile;
  if (typeof own === 'function' && typeof URL.createObjectURL === 'function') {
    const bytes = await own.call(host, path);
    return URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'image/png' }));
  }
  return fileUrl(path);
}

interface Target {
  item: TrackItemInfo;
  seq: SequenceInfo;
  frames: number;
}

export interface MaskFormProps extends KindFormProps {
  kind: 'fill' | 'replace';
  /** The mask being edited, kept by the App (marker batches use it for fill/replace commands). */
  draft?: MaskDraft;
  onDraft?: (d: MaskDraft) => void;
}

export function MaskForm({ kind, host, runner, common, connected, autoPlace, settings, draft: given, onDraft }: MaskFormProps) {
  const [own, setOwn] = useState<MaskDraft>(emptyDraft);
  const draft = given ?? own;
  const setDraft = onDraft ?? setOwn;
  const [target, setTarget] = useState<Target | null>(null);
  const [targetError, setTargetError] = useState<string | null>(null);
  const [url, setUrl] = useState<string | undefined>(undefined);
  const [all, setAll] = useState(false);
  const lastUrl = useRef<string | undefined>(undefined);
  /** The exported preview frame on screen: deleted when the next one replaces it, or on close. */
  const lastPath = useRef<string | null>(null);

  const readTarget = async () => {
    try {
      const seq = await activeSequence(host);
      const clips = await selectedClips(host, 1, `select the clip to ${kind} on the timeline`);
      const item = clips[clips.length - 1]!;
      const frames = durationFrames(snapToFrame(item.startTicks, seq.fps), snapToFrame(item.endTicks, seq.fps), seq.fps);
      setTarget({ item, seq, frames });
      setTargetError(null);
    } catch (e) {
      setTarget(null);
      setTargetError((e as Error).message);
    }
  };
  useEffect(() => {
    void readTarget();
    return () => {
      if (lastUrl.current?.startsWith('blob:')) URL.revokeObjectURL(lastUrl.current);
      if (lastPath.current) void host.removeFile(lastPath.current);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const requestFrame = async (frame: number) => {
    if (!target) return;
    try {
      const folder = `${(await host.tempFolder()).replace(/[\\/]+$/, '')}/reshoot-preview`;
      const ticks = snapToFrame(target.item.startTicks, target.seq.fps) + frame * ticksPerFrame(target.seq.fps);
      const path = await host.exportFrame(ticks, folder, target.seq.width, target.seq.height);
      const next = await frameUrl(host, path);
      if (lastUrl.current?.startsWith('blob:')) URL.revokeObjectURL(lastUrl.current);
      if (lastPath.current) void host.removeFile(lastPath.current);
      lastUrl.current = next;
      lastPath.current = path;
      setUrl(next);
    } catch {
      /* no frame: the editor shows a plain backdrop */
    }
  };

  const pickMatte = async (): Promise<DraftMatte> => {
    const seq = await activeSequence(host);
    const clips = await selectedClips(host, 1, 'select the clip whose matte is on the track above');
    return matteAbove(host, clips[clips.length - 1]!, seq);
  };

  const submit = async () => {
    const seq = await activeSequence(host);
    const clips = await selectedClips(host, 1, `select the clip to ${kind} on the timeline`);
    const problem = draftProblem(draft);
    if (problem) throw new Error(problem);
    const settings = toJobSettings(common);
    if (all) {
      if (draft.source === 'matte') throw new Error('a matte belongs to one clip: use shapes to apply one mask to every selected clip');
      const batch = batchOverSelection(clips, seq, { kind, mask: draftToMaskSpec(draft), ...settings });
      return runBatch(runner, batch, seq, common.byValue);
    }
    const item = clips[clips.length - 1]!;
    const job = build(() => maskJob(item, seq, settings, kind, draftToMaskSpec(draft)));
    await runner.run(job, seq, { byValue: common.byValue, autoPlace });
    return `Submitted ${job.label}. Follow it under Jobs.`;
  };

  return (
    <FormShell testId={`${kind}-form`} action={kind === 'fill' ? 'Fill' : 'Replace'} connected={connected} onSubmit={submit} settings={settings}>
      <div className="rs-small rs-muted">
        {kind === 'fill'
          ? 'Regenerates the masked pixels on every frame of the selected clip; everything outside the mask stays the source, bit for bit.'
          : 'The mask covers the plate to regenerate from the prompt; the foreground outside it is kept.'}
      </div>
      <div className="rs-row">
        <span data-testid="mask-target" className={target ? '' : 'rs-error'}>
          {target ? `${target.item.name} · V${target.item.trackIndex + 1} · ${target.frames} frames` : (targetError ?? 'reading the selection…')}
        </span>
        <Button action testId="mask-use-selection" onClick={() => void readTarget()}>
          Use selection
        </Button>
      </div>
      {target ? (
        <MaskEditor
          key={target.item.id}
          frameUrl={url}
          width={target.seq.width}
          height={target.seq.height}
          fps={target.seq.fps}
          durationFrames={target.frames}
          value={draft}
          onChange={setDraft}
          onRequestFrame={(f) => void requestFrame(f)}
          onPickMatte={pickMatte}
        />
      ) : null}
      {common.byValue && draft.source === 'matte' ? (
        <div className="rs-small rs-muted">“Use the timeline's look” exports what the timeline shows, the matte track too: switch the matte track's output off first.</div>
      ) : null}
      <div className="rs-block">
        <Checkbox testId="apply-all" checked={all} onChange={setAll}>
          Apply this mask to every selected clip
        </Checkbox>
      </div>
    </FormShell>
  );
}
