/** The jobs: state, progress bar and ETA, cancel, retry, and Place for finished results. */
import { useState } from 'react';
import { FINAL_STATES, type JobRecord } from '../../protocol/index.ts';
import type { JobView } from '../connection/client.ts';

export interface JobQueueProps {
  jobs: JobView[];
  connected: boolean;
  canPlace: (jobId: string) => boolean;
  placed: (jobId: string) => string | null;
  onCancel: (jobId: string) => Promise<void>;
  onRetry: (job: JobRecord) => Promise<void>;
  onPlace: (job: JobRecord) => Promise<void>;
}

export function formatEta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s left`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s left`;
  return `${Math.floor(m / 60)} h ${m % 60} min left`;
}

function describeJob(r: JobRecord): string {
  const spec = (r.spec ?? {}) as { kind?: string; extend?: { direction?: string }; prompt?: string };
  const what = spec.kind === 'extend' ? `extend ${spec.extend?.direction ?? ''}` : (spec.kind ?? 'job');
  return spec.prompt ? `${what} · “${spec.prompt.slice(0, 40)}”` : what;
}

function JobRow({ view, ...p }: { view: JobView } & Omit<JobQueueProps, 'jobs'>) {
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
    <li className="rs-job" data-testid="job" data-job-id={r.id} data-state={r.state}>
      <div className="rs-row rs-between">
        <span>
          <strong data-testid="job-state">{r.state}</strong> {describeJob(r)}
        </span>
        <span className="rs-muted rs-small">{r.id.slice(0, 8)}</span>
      </div>
      <div className="rs-bar" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(fraction * 100)}>
        <div className={`rs-fill rs-${r.state}`} data-testid="job-progress" style={{ width: `${(fraction * 100).toFixed(1)}%` }} />
      </div>
      <div className="rs-small rs-muted" data-testid="job-detail">
        {progressText}
      </div>
      <div className="rs-row">
        {!final ? (
          <button data-testid="job-cancel" disabled={busy || !p.connected} onClick={run(() => p.onCancel(r.id))}>
            Cancel
          </button>
        ) : null}
        {r.state === 'failed' || r.state === 'cancelled' ? (
          <button data-testid="job-retry" disabled={busy || !p.connected} onClick={run(() => p.onRetry(r))}>
            Retry
          </button>
        ) : null}
        {r.state === 'done' ? (
          <button data-testid="job-place" disabled={busy || !p.canPlace(r.id)} title={p.canPlace(r.id) ? '' : 'submitted from another panel: the source clip is unknown'} onClick={run(() => p.onPlace(r))}>
            {placedAt ? 'Place again' : 'Place'}
          </button>
        ) : null}
      </div>
      {placedAt ? (
        <div className="rs-small" data-testid="job-placed">
          {placedAt}
        </div>
      ) : null}
      {error ? (
        <div className="rs-error rs-small" data-testid="job-error">
          {error}
        </div>
      ) : null}
    </li>
  );
}

export function JobQueue(props: JobQueueProps) {
  if (props.jobs.length === 0) return <div className="rs-muted rs-small">No jobs yet.</div>;
  return (
    <ul className="rs-jobs" data-testid="jobs">
      {[...props.jobs].reverse().map((v) => (
        <JobRow key={v.record.id} view={v} {...props} />
      ))}
    </ul>
  );
}
