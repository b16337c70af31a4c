/**
 * Extend: generate frames before the head or after the tail of the selected clip. The selected
 * track item (Host.selection + activeSequence) becomes the job's source: its media path and
 * in/out at the sequence rate.
 */
import { useState } from 'react';
import { OUTPUT_FORMATS, LIMITS, safeParseJobSpec, type OutputFormat, type Time } from '../../protocol/index.ts';
import type { Host } from '../host/types.ts';
import { extendSpec, placementContext, type ExtendOptions, type PlacementContext } from './timeline.ts';
import type { CompanionClient } from '../connection/client.ts';

export interface ExtendFormProps {
  host: Host;
  client: CompanionClient;
  models: string[];
  connected: boolean;
  onSubmitted: (jobId: string, ctx: PlacementContext) => void;
}

function newSeed(): number {
  return Math.floor(Math.random() * LIMITS.maxSeed);
}

export function ExtendForm({ host, client, models, connected, onSubmitted }: ExtendFormProps) {
  const [direction, setDirection] = useState<'head' | 'tail'>('tail');
  const [amount, setAmount] = useState('1');
  const [unit, setUnit] = useState<'seconds' | 'frames'>('seconds');
  const [prompt, setPrompt] = useState('');
  const [seedMode, setSeedMode] = useState<'new' | 'lock'>('new');
  const [seed, setSeed] = useState(() => String(newSeed()));
  const [steps, setSteps] = useState('');
  const [guidance, setGuidance] = useState('');
  const [model, setModel] = useState('');
  const [format, setFormat] = useState<OutputFormat>('prores422hq');
  const [byReference, setByReference] = useState(true);
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ error: boolean; text: string } | null>(null);

  const submit = async () => {
    setBusy(true);
    setMessage(null);
    try {
      const seq = await host.activeSequence();
      if (!seq) throw new Error('no active sequence: open one in the timeline');
      const selected = (await host.selection()).filter((i) => i.mediaPath);
      if (selected.length === 0) throw new Error('select a clip on the timeline first');
      const item = direction === 'tail' ? selected[selected.length - 1]! : selected[0]!;
      if (!byReference) throw new Error('frames by value (uploading the rendered timeline) is not available yet; use frames by reference');
      const n = Number(amount);
      const duration: Time = unit === 'frames' ? { frames: Math.round(n) } : { seconds: n };
      const opts: ExtendOptions = {
        direction,
        duration,
        prompt,
        ...(seedMode === 'lock' ? { seed: Number(seed) } : {}),
        ...(steps.trim() ? { steps: Number(steps) } : {}),
        ...(guidance.trim() ? { guidance: Number(guidance) } : {}),
        ...(model ? { model } : {}),
        format,
      };
      const spec = extendSpec(item, seq, opts);
      // The panel validates with the companion's own schema: a bad field is reported here.
      const checked = safeParseJobSpec(spec);
      if (!checked.ok) throw checked.error;
      const job = await client.submit(spec);
      onSubmitted(job.id, placementContext(item, seq, opts));
      setMessage({ error: false, text: `submitted ${job.id}: extend ${item.name} ${direction} by ${amount} ${unit}` });
    } catch (e) {
      setMessage({ error: true, text: (e as Error).message });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      className="rs-form"
      data-testid="extend-form"
      onSubmit={(e) => {
        e.preventDefault();
        void submit();
      }}
    >
      <div className="rs-row">
        <label>
          <input type="radio" name="direction" checked={direction === 'head'} onChange={() => setDirection('head')} /> Head
        </label>
        <label>
          <input type="radio" name="direction" data-testid="direction-tail" checked={direction === 'tail'} onChange={() => setDirection('tail')} /> Tail
        </label>
      </div>
      <div className="rs-row">
        <label>
          Duration <input data-testid="duration" className="rs-num" value={amount} onChange={(e) => setAmount(e.target.value)} />
        </label>
        <select data-testid="duration-unit" value={unit} onChange={(e) => setUnit(e.target.value as 'seconds' | 'frames')}>
          <option value="seconds">seconds</option>
          <option value="frames">frames</option>
        </select>
      </div>
      <label className="rs-block">
        Prompt
        <textarea data-testid="prompt" rows={3} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
      </label>
      <div className="rs-row">
        <label>
          <input type="radio" name="seed" checked={seedMode === 'new'} onChange={() => setSeedMode('new')} /> New seed
        </label>
        <label>
          <input type="radio" name="seed" data-testid="seed-lock" checked={seedMode === 'lock'} onChange={() => setSeedMode('lock')} /> Lock
        </label>
        <input data-testid="seed" className="rs-num" disabled={seedMode !== 'lock'} value={seed} onChange={(e) => setSeed(e.target.value)} />
        <button type="button" onClick={() => setSeed(String(newSeed()))}>
          ↻
        </button>
      </div>
      <div className="rs-row">
        <label>
          Steps <input data-testid="steps" className="rs-num" placeholder="model" value={steps} onChange={(e) => setSteps(e.target.value)} />
        </label>
        <label>
          Guidance <input data-testid="guidance" className="rs-num" placeholder="model" value={guidance} onChange={(e) => setGuidance(e.target.value)} />
        </label>
      </div>
      <div className="rs-row">
        <label>
          Model{' '}
          <select data-testid="model" value={model} onChange={(e) => setModel(e.target.value)}>
            <option value="">default</option>
            {models.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
        <label>
          Codec{' '}
          <select data-testid="format" value={format} onChange={(e) => setFormat(e.target.value as OutputFormat)}>
            {OUTPUT_FORMATS.map((f) => (
              <option key={f} value={f}>
                {f}
              </option>
            ))}
          </select>
        </label>
      </div>
      <label className="rs-block">
        <input type="checkbox" checked={byReference} onChange={(e) => setByReference(e.target.checked)} /> Frames by reference (the companion reads the source media)
      </label>
      <button type="submit" data-testid="submit" disabled={busy || !connected}>
        {busy ? 'Submitting…' : 'Extend'}
      </button>
      {message ? (
        <div data-testid="form-message" className={message.error ? 'rs-error' : 'rs-muted'}>
          {message.text}
        </div>
      ) : null}
    </form>
  );
}
