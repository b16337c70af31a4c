/**
 * The jobs: first what is still on its way to the companion (frames exporting and uploading),
 * then every job with its kind, state, progress bar and ETA, the latest preview image when the
 * companion sends one, cancel, retry, and Place for finished results (or where auto-place put
 * them).
 */
import { useState } from 'react';
import { FINAL_STATES, type JobRecord } from '../../protocol/index.ts';
import type { JobPreview, JobView } from '../connection/client.ts';
import type { Task } from './runner.ts';
import { Button } from './spectrum.tsx';

export interface JobQueueProps {
  jobs: JobView[];
  tasks: Task[];
  previews: Record<string, JobPreview>;
  connected: boolean;
  /** The panel's label for a job it submitted ("A001.mov · extend tail 24f"). */
  label: (jobId: string) => string | null;
  canPlace: (jobId: string) => boolean;
  autoPlaced: (jobId: string) => boolean;
  placed: (jobId: string) => string | null;
  placeError: (jobId: string) => string | null;
  onCancel: (jobId: string) => Promise<void>;
  onRetry: (job: JobRecord) => Promise<void>;
  onPlace: (job: JobRecord) => Promise<void>;
  onDismissTask: (taskId: string) => void;
}

export function formatEta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s left`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s left`;
  return `${Math.floor(m / 60)} h ${m % 60} min left`;
}

const KIND_LABEL: Record<string, string> = { extend: 'Extend', fill: 'Fill', replace: 'Replace', generate: 'Generate', bridge: 'Bridge' };

/** Job states as the queue says them. */
export const STATE_WORDS: Record<JobRecord['state'], string> = {
  queued: 'Waiting',
  running: 'Generating',
  done: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/** "Extend tail", "Fill", ... from the spec the companion holds. */
export function kindLabel(spec: unknown): string {
  const s = (spec ?? {}) as { kind?: string; extend?: { direction?: string } };
  const k = KIND_LABEL[s.kind ?? ''] ?? 'Job';
  return s.kind === 'extend' && s.extend?.direction ? `${k} ${s.extend.direction}` : k;
}

/** The panel's label for the job (the kind is shown beside it), and its prompt. */
function describeJob(r: JobRecord, label: string | null): string {
  const spec = (r.spec ?? {}) as { prompt?: string };
  const prompt = spec.prompt ? `“${spec.prompt.slice(0, 40)}”` : '';
  return [label, prompt].filter(Boolean).join(' · ');
}

function TaskRow({ task, onDismiss }: { task: Task; onDismiss: (id: string) => void }) {
  const fraction = task.total > 0 ? task.done / task.total : 0;
  const what =
    task.phase === 'exporting' ? `Exporting frame ${Math.min(task.done + 1, task.total)} of ${task.total} from the timeline` :
    task.phase === 'uploading' ? `Sending ${task.done} of ${task.total} frames to Reshoot Companion` :
    task.phase === 'submitting' ? 'Starting the job' : (task.error ?? 'Failed');
  return (
    <li className="rs-job" data-testid="task" data-phase={task.phase}>
      <div className="rs-row rs-between">
        <span>
          <strong>{task.phase === 'failed' ? 'Failed' : 'Preparing'}</strong> <span className="rs-kind">{KIND_LABEL[task.kind]}</span> {task.label}
        </span>
      </div>
      <div className="rs-bar" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(fraction * 100)}>
        <div className={`rs-fill rs-upload${task.phase === 'failed' ? ' rs-failed' : ''}`} data-testid="task-progress" style={{ width: `${(fraction * 100).toFixed(1)}%` }} />
      </div>
      <div className={`rs-small ${task.phase === 'failed' ? 'rs-error' : 'rs-muted'}`} data-testid="task-detail">
        {what}
      </div>
      {task.phase === 'failed' ? (
        <Button testId="task-dismiss" onClick={() => onDismiss(task.id)}>
          Dismiss
        </Button>
      ) : null}
    </li>
  );
}

function JobRow({ view, ...p }: { view: JobView } & Omit<JobQueueProps, 'jobs' | 'tasks' | 'onDismissTask'>) {
  const r = view.record;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = (f: () => Promise<void>) => async () => {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const fraction = r.state === 'done' ? 1 : (r.progress?.fraction ?? 0);
  const final = FINAL_STATES.includes(r.state);
  const placedAt = p.placed(r.id);
  const placeError = error ?? p.placeError(r.id);
  const preview = p.previews[r.id];
  const progressText =
    r.state === 'running' && r.progress
      ? `${r.progress.phase} · window ${r.progress.window + 1}/${r.progress.windows} · step ${r.progress.step}/${r.progress.steps} · ${formatEta(r.progress.etaSeconds)}`
      : r.state === 'done' && r.result
        ? `${r.result.frames} frames · seed ${r.result.seed} · ${r.result.provider}`
        : r.state === 'failed' && r.error
          ? `${r.error.code}: ${r.error.message}`
          : r.recovered === 'resumed' && r.state === 'queued'
            ? 'resumed after a companion restart'
            : '';
  return (
    <li className="rs-job" data-testid="job" title={`job ${r.id}`} data-job-id={r.id} data-state={r.state} data-kind={(r.spec as { kind?: string } | null)?.kind ?? ''}>
      <div className="rs-row rs-between">
        <span>
          <strong data-testid="job-state">{STATE_WORDS[r.state]}</strong> <span className="rs-kind" data-testid="job-kind">{kindLabel(r.spec)}</span>{' '}
          <span data-testid="job-label">{describeJob(r, p.label(r.id))}</span>
        </span>
      </div>
      <div className="rs-bar" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(fraction * 100)}>
        <div className={`rs-fill rs-${r.state}`} data-testid="job-progress" style={{ width: `${(fraction * 100).toFixed(1)}%` }} />
      </div>
      <div className="rs-small rs-muted" data-testid="job-detail">
        {progressText}
      </div>
      {preview && !final ? (
        <img className="rs-preview" data-testid="job-preview" alt="preview" width={preview.width} height={preview.height} src={`data:image/png;base64,${preview.png}`} />
      ) : null}
      <div className="rs-row">
        {!final ? (
          <Button testId="job-cancel" disabled={busy || !p.connected} onClick={run(() => p.onCancel(r.id))}>
            Cancel
          </Button>
        ) : null}
        {final ? (
          <Button testId="job-retry" disabled={busy || !p.connected} title="submit the same job again" onClick={run(() => p.onRetry(r))}>
            {r.state === 'done' ? 'Run again' : 'Retry'}
          </Button>
        ) : null}
        {r.state === 'done' ? (
          <Button testId="job-place" disabled={busy || !p.canPlace(r.id)} title={p.canPlace(r.id) ? '' : 'submitted from another panel: the source clip is unknown'} onClick={run(() => p.onPlace(r))}>
            {placedAt ? 'Place again' : 'Place'}
          </Button>
        ) : p.autoPlaced(r.id) && !final ? (
          <span className="rs-small rs-muted" data-testid="job-autoplace">placed when done</span>
        ) : null}
      </div>
      {placedAt ? (
        <div className="rs-small" data-testid="job-placed">
          {placedAt}
        </div>
      ) : null}
      {placeError ? (
        <div className="rs-error rs-small" data-testid="job-error">
          {placeError}
        </div>
      ) : null}
    </li>
  );
}

export function JobQueue({ tasks, onDismissTask, ...props }: JobQueueProps) {
  if (props.jobs.length === 0 && tasks.length === 0) return <div className="rs-muted rs-small">No jobs yet.</div>;
  return (
    <ul className="rs-jobs" data-testid="jobs">
      {[...tasks].reverse().map((t) => (
        <TaskRow key={t.id} task={t} onDismiss={onDismissTask} />
      ))}
      {[...props.jobs].reverse().map((v) => (
        <JobRow key={v.record.id} view={v} {...props} />
      ))}
    </ul>
  );
}
