/**
 * Bridge: generate the frames of the gap between two selected clips on one track, from the tail
 * of the first and the head of the second. With more clips selected, every gap between
 * neighbouring selected clips on a track is bridged (one job each, placed when done).
 */
import { batchOverSelection, bridgeJob } from '../batch.ts';
import type { TrackItemInfo } from '../host/types.ts';
import { toJobSettings } from './CommonSettings.tsx';
import { FormShell } from './FormShell.tsx';
import { activeSequence, build, runBatch, selectedClips, type KindFormProps } from './forms.ts';

/** The two clips to bridge: neighbours on one track with a gap between them. */
export function bridgePair(clips: readonly TrackItemInfo[]): [TrackItemInfo, TrackItemInfo] {
  const [a, b] = [...clips].sort((x, y) => x.startTicks - y.startTicks);
  if (!a || !b) throw new Error('select two clips on the same track with a gap between them');
  if (a.trackIndex !== b.trackIndex) throw new Error(`"${a.name}" is on V${a.trackIndex + 1} and "${b.name}" on V${b.trackIndex + 1}: select two clips on the same track`);
  if (b.startTicks <= a.endTicks) throw new Error(`there is no gap between "${a.name}" and "${b.name}"`);
  return [a, b];
}

export function BridgeForm({ host, runner, common, connected, autoPlace, settings }: KindFormProps) {
  const submit = async () => {
    const seq = await activeSequence(host);
    const clips = await selectedClips(host, 2, 'select two clips on the same track with a gap between them');
    const s = toJobSettings(common);
    if (clips.length > 2) return runBatch(runner, batchOverSelection(clips, seq, { kind: 'bridge', ...s }), seq, common.byValue);
    const [a, b] = bridgePair(clips);
    const job = build(() => bridgeJob(a, b, seq, s));
    await runner.run(job, seq, { byValue: common.byValue, autoPlace });
    return `Submitted ${job.label}. Follow it under Jobs.`;
  };
  return (
    <FormShell testId="bridge-form" action="Bridge" connected={connected} onSubmit={submit} settings={settings}>
      <div className="rs-small rs-muted">Select two clips on one track: the gap between them is generated from the end of the first and the start of the second, and placed into the gap.</div>
    </FormShell>
  );
}
