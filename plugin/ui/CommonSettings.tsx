/**
 * The settings every kind shares: prompt, negative prompt, seed (new or locked), steps, guidance,
 * model (the companion's list), output codec, and frames by reference or by value. One state
 * object kept by the App, so switching kinds keeps what the editor typed.
 */
import { LIMITS, OUTPUT_FORMATS, type OutputFormat } from '../../protocol/index.ts';
import type { JobSettings } from '../batch.ts';

export interface CommonValues {
  prompt: string;
  negativePrompt: string;
  seedMode: 'new' | 'lock';
  seed: string;
  steps: string;
  guidance: string;
  model: string;
  format: OutputFormat;
  /** Frames by value: exported timeline frames (effects, grading) instead of the source media. */
  byValue: boolean;
}

export function newSeed(): number {
  return Math.floor(Math.random() * LIMITS.maxSeed);
}

export function defaultCommon(): CommonValues {
  return { prompt: '', negativePrompt: '', seedMode: 'new', seed: String(newSeed()), steps: '', guidance: '', model: '', format: 'prores422hq', byValue: false };
}

/** Output formats as an editor reads them; the value is the job spec's name. */
export const FORMAT_LABELS: Record<OutputFormat, string> = {
  prores422hq: 'ProRes 422 HQ (.mov)',
  prores4444: 'ProRes 4444 with alpha (.mov)',
  h264: 'H.264 (.mp4)',
  png: 'PNG sequence (folder)',
  ffv1: 'FFV1 lossless (.mkv)',
  tiff: 'TIFF sequence (folder)',
  dpx: 'DPX sequence (folder)',
};

/**
 * The job settings for the batch/job builders. Numbers are passed as typed (a stray letter
 * becomes NaN, which the job spec schema reports by field name, inline).
 */
export function toJobSettings(v: CommonValues): JobSettings {
  const num = (s: string) => (s.trim() === '' ? undefined : Number(s.trim()));
  const steps = num(v.steps);
  const guidance = num(v.guidance);
  return {
    prompt: v.prompt,
    ...(v.negativePrompt.trim() ? { negativePrompt: v.negativePrompt } : {}),
    ...(v.seedMode === 'lock' ? { seed: Number(v.seed) } : {}),
    ...(steps !== undefined ? { steps } : {}),
    ...(guidance !== undefined ? { guidance } : {}),
    ...(v.model ? { model: v.model } : {}),
    format: v.format,
  };
}

export interface CommonSettingsProps {
  value: CommonValues;
  onChange: (v: CommonValues) => void;
  models: string[];
  /** Whether the kind reads frames from the timeline (every kind but generate). */
  frames?: boolean;
}

export function CommonSettings({ value: v, onChange, models, frames = true }: CommonSettingsProps) {
  const set = <K extends keyof CommonValues>(k: K, x: CommonValues[K]) => onChange({ ...v, [k]: x });
  return (
    <div className="rs-common" data-testid="common-settings">
      <label className="rs-block">
        Prompt
        <textarea data-testid="prompt" rows={3} value={v.prompt} onChange={(e) => set('prompt', e.target.value)} />
      </label>
      <label className="rs-block">
        Negative prompt
        <textarea data-testid="negative-prompt" rows={1} value={v.negativePrompt} onChange={(e) => set('negativePrompt', e.target.value)} />
      </label>
      <div className="rs-row">
        <label>
          <input type="radio" name="seed" data-testid="seed-new" checked={v.seedMode === 'new'} onChange={() => set('seedMode', 'new')} /> New seed
        </label>
        <label>
          <input type="radio" name="seed" data-testid="seed-lock" checked={v.seedMode === 'lock'} onChange={() => set('seedMode', 'lock')} /> Lock
        </label>
        <input data-testid="seed" className="rs-num" disabled={v.seedMode !== 'lock'} value={v.seed} onChange={(e) => set('seed', e.target.value)} />
        <button type="button" title="another seed" onClick={() => set('seed', String(newSeed()))}>
          ↻
        </button>
      </div>
      <div className="rs-row">
        <label>
          Steps <input data-testid="steps" className="rs-num" placeholder="model" value={v.steps} onChange={(e) => set('steps', e.target.value)} />
        </label>
        <label>
          Guidance <input data-testid="guidance" className="rs-num" placeholder="model" value={v.guidance} onChange={(e) => set('guidance', e.target.value)} />
        </label>
      </div>
      <div className="rs-row">
        <label>
          Model{' '}
          <select data-testid="model" value={v.model} onChange={(e) => set('model', e.target.value)}>
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
          <select data-testid="format" value={v.format} onChange={(e) => set('format', e.target.value as OutputFormat)}>
            {OUTPUT_FORMATS.map((f) => (
              <option key={f} value={f}>
                {FORMAT_LABELS[f]}
              </option>
            ))}
          </select>
        </label>
      </div>
      {frames ? (
        <div className="rs-row" data-testid="frames-mode">
          <label title="The companion reads the source media file (fast; without effects or grading)">
            <input type="radio" name="frames" data-testid="frames-by-reference" checked={!v.byValue} onChange={() => set('byValue', false)} /> Frames by reference
          </label>
          <label title="The panel exports the timeline frames (effects and grading included) and uploads them">
            <input type="radio" name="frames" data-testid="frames-by-value" checked={v.byValue} onChange={() => set('byValue', true)} /> By value
          </label>
        </div>
      ) : null}
    </div>
  );
}
