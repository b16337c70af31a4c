/**
 * Generate: a new shot at the playhead from the prompt, optionally starting from the frame
 * under the playhead (exported from the timeline and uploaded as the first frame).
 */
import { useState } from 'react';
import { generateJob } from '../batch.ts';
import { toJobSettings } from './CommonSettings.tsx';
import { DurationInput, toTime } from './ExtendForm.tsx';
import { FormShell } from './FormShell.tsx';
import { activeSequence, build, type KindFormProps } from './forms.ts';
import { Checkbox } from './controls.tsx';

export function GenerateForm({ host, runner, common, connected, autoPlace, settings }: KindFormProps) {
  const [amount, setAmount] = useState('2');
  const [unit, setUnit] = useState<'seconds' | 'frames'>('seconds');
  const [still, setStill] = useState(false);

  const submit = async () => {
    const seq = await activeSequence(host);
    const playhead = await host.playhead();
    const job = build(() => generateJob(playhead, seq, toJobSettings(common), toTime(amount, unit)));
    await runner.run(job, seq, { still, autoPlace });
    return `Submitted ${job.label}. Follow it under Jobs.`;
  };

  return (
    <FormShell testId="generate-form" action="Generate" connected={connected} onSubmit={submit} settings={settings}>
      <div className="rs-small rs-muted">A new shot at the playhead, placed on the lowest free track above everything there.</div>
      <DurationInput amount={amount} unit={unit} onAmount={setAmount} onUnit={setUnit} />
      <div className="rs-block">
        <Checkbox testId="generate-still" checked={still} onChange={setStill}>
          Start from the frame under the playhead
        </Checkbox>
      </div>
    </FormShell>
  );
}
