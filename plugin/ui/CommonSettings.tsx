/**
 * The settings every kind shares: prompt, negative prompt, seed (new or locked), steps, guidance,
 * model (the companion's list), output codec, and frames by reference or by value. One state
 * object kept by the App, so switching kinds keeps what the editor typed.
 */
import { LIMITS, OUTPUT_FORMATS, type OutputFormat } from '../../protocol/index.ts';
import { ALPHA_FORMATS } from '../../protocol/jobspec.ts';
import type { JobSettings } from '../batch.ts';
import { FieldProblem, Select, TextArea, TextField } from './controls.tsx';
import { Button, RadioGroup } from './spectrum.tsx';

export interface CommonValues {
  prompt: string;
  negativePrompt: string;
  seedMode: 'new' | 'lock';
  seed: string;
  steps: string;
  guidance: string;
  model: string;
  format: OutputFormat;
  /** A source of another shape in the sequence frame (spec `sequence.fit`). */
  fit: 'fit' | 'fill' | 'stretch';
  /** Output alpha where the format stores it (spec `output.alpha`). */
  alpha: 'opaque' | 'source' | 'none';
  /** Frames by value: exported timeline frames (effects, grading) instead of the source media. */
  byValue: boolean;
}

export function newSeed(): number {
  return Math.floor(Math.random() * LIMITS.maxSeed);
}

export function defaultCommon(): CommonValues {
  return { prompt: '', negativePrompt: '', seedMode: 'new', seed: String(newSeed()), steps: '', guidance: '', model: '', format: 'prores422hq', fit: 'fit', alpha: 'opaque', byValue: false };
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
  exr: 'OpenEXR sequence (folder, half float)',
};

/** Sequence fit as an editor reads it (Premiere's "scale to frame size" is fit). */
export const FIT_LABELS: Record<CommonValues['fit'], string> = {
  fit: 'Fit: whole picture, bars',
  fill: 'Fill: cover the frame, crop',
  stretch: 'Stretch to the frame',
};

/** Output alpha choices, for formats that store alpha. */
export const ALPHA_LABELS: Record<CommonValues['alpha'], string> = {
  opaque: 'Opaque where generated',
  source: "Keep the source's alpha",
  none: 'No alpha channel',
};

/** Each field's problem in an editor's words (empty when the form is fine): shown beside the fields, all at once. */
export function commonProblems(v: CommonValues): Partial<Record<'prompt' | 'seed' | 'steps' | 'guidance', string>> {
  const out: Partial<Record<'prompt' | 'seed' | 'steps' | 'guidance', string>> = {};
  const whole = (s: string, min: number, max: number) => /^\d+$/.test(s.trim()) && Number(s) >= min && Number(s) <= max;
  if (v.seedMode === 'lock' && !whole(v.seed, 0, LIMITS.maxSeed)) out.seed = `Seed must be a whole number from 0 to ${LIMITS.maxSeed}.`;
  if (v.steps.trim() && !whole(v.steps, 1, LIMITS.maxSteps)) out.steps = `Steps must be a whole number from 1 to ${LIMITS.maxSteps}, or empty for the model's default.`;
  const g = Number(v.guidance.trim());
  if (v.guidance.trim() && !(Number.isFinite(g) && g >= 0 && g <= LIMITS.maxGuidance)) out.guidance = `Guidance must be a number from 0 to ${LIMITS.maxGuidance}, or empty for the model's default.`;
  return out;
}

/**
 * The job settings for the batch/job builders. A field with a problem stops here with every
 * problem in one message (they are also shown beside their fields), so no NaN reaches a spec.
 */
export function toJobSettings(v: CommonValues): JobSettings {
  const problems = Object.values(commonProblems(v));
  if (problems.length) throw new Error(problems.join('; '));
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
    // Defaults are left out, so a spec says only what the editor changed.
    ...(v.fit !== 'fit' ? { fit: v.fit } : {}),
    ...(v.alpha !== 'opaque' && ALPHA_FORMATS.includes(v.format) ? { alpha: v.alpha } : {}),
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
  const problems = commonProblems(v);
  return (
    <div className="rs-common" data-testid="common-settings">
      <label className="rs-block">
        <span className="rs-label">Prompt</span>
        <TextArea testId="prompt" lines={3} value={v.prompt} placeholder="What should appear" onChange={(x) => set('prompt', x)} />
      </label>
      <label className="rs-block">
        <span className="rs-label">Avoid (negative prompt)</span>
        <TextArea testId="negative-prompt" lines={1} value={v.negativePrompt} onChange={(x) => set('negativePrompt', x)} />
      </label>
      <div className="rs-row">
        <span className="rs-label">Seed</span>
        <RadioGroup
          testId="seed-mode"
          value={v.seedMode}
          options={[
            { value: 'new', label: 'New each time', testId: 'seed-new' },
            { value: 'lock', label: 'Fixed', testId: 'seed-lock' },
          ]}
          onChange={(x) => set('seedMode', x)}
        />
        <TextField testId="seed" className="rs-num" invalid={!!problems.seed} disabled={v.seedMode !== 'lock'} value={v.seed} onChange={(x) => set('seed', x)} />
        <Button action title="Pick another seed" onClick={() => set('seed', String(newSeed()))}>
          New
        </Button>
      </div>
      <FieldProblem problem={problems.seed} testId="seed" />
      <div className="rs-row">
        <label>
          Steps <TextField testId="steps" className="rs-num" invalid={!!problems.steps} placeholder="Model default" value={v.steps} onChange={(x) => set('steps', x)} />
        </label>
        <label>
          Guidance <TextField testId="guidance" className="rs-num" invalid={!!problems.guidance} placeholder="Model default" value={v.guidance} onChange={(x) => set('guidance', x)} />
        </label>
      </div>
      <FieldProblem problem={problems.steps} testId="steps" />
      <FieldProblem problem={problems.guidance} testId="guidance" />
      <div className="rs-row">
        <label>
          Model <Select testId="model" value={v.model} options={[{ value: '', label: 'Default' }, ...models.map((m) => ({ value: m, label: m }))]} onChange={(x) => set('model', x)} />
        </label>
        <label>
          Format <Select testId="format" value={v.format} options={OUTPUT_FORMATS.map((f) => ({ value: f, label: FORMAT_LABELS[f] }))} onChange={(x) => set('format', x)} />
        </label>
      </div>
      <div className="rs-row">
        <label title="A source whose shape differs from the sequence's (anamorphic, phone, another aspect)">
          Frame <Select testId="fit" value={v.fit} options={(['fit', 'fill', 'stretch'] as const).map((f) => ({ value: f, label: FIT_LABELS[f] }))} onChange={(x) => set('fit', x)} />
        </label>
        {ALPHA_FORMATS.includes(v.format) ? (
          <label title="Outside the mask the source's alpha is always kept">
            Alpha <Select testId="alpha" value={v.alpha} options={(['opaque', 'source', 'none'] as const).map((a) => ({ value: a, label: ALPHA_LABELS[a] }))} onChange={(x) => set('alpha', x)} />
          </label>
        ) : null}
      </div>
      {frames ? (
        <div className="rs-block rs-choices" data-testid="frames-mode">
          <RadioGroup
            value={v.byValue ? 'value' : 'reference'}
            options={[
              {
                value: 'reference',
                label: 'Use the source media',
                testId: 'frames-by-reference',
                title: "Reshoot Companion reads the clip's media file: fastest, without effects or grading",
              },
              {
                value: 'value',
                label: "Use the timeline's look: effects and grading",
                testId: 'frames-by-value',
                title: 'Premiere renders the timeline frames, effects and grading included, for Reshoot to work from',
              },
            ]}
            onChange={(x) => set('byValue', x === 'value')}
          />
        </div>
      ) : null}
    </div>
  );
}
