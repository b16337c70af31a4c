/**
 * Extend: generate frames before the head or after the tail of the selected clip, or of every
 * selected clip ("apply to every selected clip": one job per clip, each placed when done).
 */
import { useState } from 'react';
import type { Time } from '../../protocol/index.ts';
import { batchOverSelection, extendJob } from '../batch.ts';
import { toJobSettings } from './CommonSettings.tsx';
import { Checkbox, RadioGroup, Select, TextField } from './controls.tsx';
import { FormShell } from './FormShell.tsx';
import { activeSequence, build, runBatch, selectedClips, type KindFormProps } from './forms.ts';

export function DurationInput({ amount, unit, onAmount, onUnit }: { amount: string; unit: 'seconds' | 'frames'; onAmount: (s: string) => void; onUnit: (u: 'seconds' | 'frames') => void }) {
  return (
    <div className="rs-row">
      <label>
        Duration <TextField testId="duration" className="rs-num" value={amount} onChange={onAmount} />
      </label>
      <Select<'seconds' | 'frames'>
        testId="duration-unit"
        value={unit}
        options={[
          { value: 'seconds', label: 'seconds' },
          { value: 'frames', label: 'frames' },
        ]}
        onChange={onUnit}
      />
    </div>
  );
}

export function toTime(amount: string, unit: 'seconds' | 'frames'): Time {
  const n = Number(amount.trim());
  return unit === 'frames' ? { frames: n } : { seconds: n };
}

export function ExtendForm({ host, runner, common, connected, autoPlace, settings }: KindFormProps) {
  const [direction, setDirection] = useState<'head' | 'tail'>('tail');
  const [amount, setAmount] = useState('1');
  const [unit, setUnit] = useState<'seconds' | 'frames'>('seconds');
  const [all, setAll] = useState(false);

  const submit = async () => {
    const seq = await activeSequence(host);
    const clips = await selectedClips(host);
    const duration = toTime(amount, unit);
    const settings = toJobSettings(common);
    if (all) {
      const batch = batchOverSelection(clips, seq, { kind: 'extend', direction, duration, ...settings });
      return runBatch(runner, batch, seq, common.byValue);
    }
    const item = direction === 'tail' ? clips[clips.length - 1]! : clips[0]!;
    const job = build(() => extendJob(item, seq, settings, direction, duration));
    await runner.run(job, seq, { byValue: common.byValue, autoPlace });
    return `Submitted ${job.label}. Follow it under Jobs.`;
  };

  return (
    <FormShell testId="extend-form" action="Extend" connected={connected} onSubmit={submit} settings={settings}>
      <div className="rs-row">
        <RadioGroup
          testId="direction"
          value={direction}
          options={[
            { value: 'head', label: 'Head', testId: 'direction-head' },
            { value: 'tail', label: 'Tail', testId: 'direction-tail' },
          ]}
          onChange={setDirection}
        />
      </div>
      <DurationInput amount={amount} unit={unit} onAmount={setAmount} onUnit={setUnit} />
      <div className="rs-block">
        <Checkbox testId="apply-all" checked={all} onChange={setAll}>
          Apply to every selected clip (each result placed when done)
        </Checkbox>
      </div>
    </FormShell>
  );
}
