/** Shared by the queue tests: small job specs on a synthetic source, and event bookkeeping. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { JobEvent } from '../../protocol/jobs.ts';
import { parseJobSpec, type JobSpec, type JobSpecInput } from '../../protocol/jobspec.ts';
import type { JobQueue } from '../../companion/jobs/queue.ts';

export const W = 64;
export const H = 48;
export const SRC_FRAMES = 12;
const sequence = { fps: '24000/1001', width: W, height: H };

/** ~1 s on a small CPU: one window, two steps. */
export function quickExtend(source: string, extra: Partial<JobSpecInput> = {}): JobSpecInput {
  return { kind: 'extend', seed: 1, steps: 2, sequence, source: { path: source }, extend: { direction: 'tail', duration: { frames: 9 } }, output: { format: 'ffv1' }, ...extra } as JobSpecInput;
}

/** Several seconds: many windows of many steps, so there is time to cancel or kill it mid-run. */
export function longExtend(source: string): JobSpecInput {
  return { kind: 'extend', seed: 2, steps: 10, sequence, source: { path: source }, extend: { direction: 'tail', duration: { frames: 120 } }, output: { format: 'ffv1' } };
}

export function quickFill(source: string): JobSpecInput {
  return {
    kind: 'fill',
    seed: 3,
    steps: 2,
    sequence,
    source: { path: source },
    mask: { type: 'shapes', shapes: [{ kind: 'ellipse', feather: 2, keyframes: [{ frame: 0, cx: 30, cy: 20, rx: 10, ry: 8 }] }] },
    output: { format: 'png' },
  };
}

export function spec(input: JobSpecInput): JobSpec {
  return parseJobSpec(input);
}

/** Records a queue's events; `until` waits for one that matches. */
export class EventLog {
  readonly all: JobEvent[] = [];
  private waiters: { pred: (e: JobEvent) => boolean; resolve: (e: JobEvent) => void }[] = [];

  constructor(queue: JobQueue) {
    queue.on('event', (e) => this.push(e));
  }

  push(e: JobEvent): void {
    this.all.push(e);
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred(e)) return true;
      w.resolve(e);
      return false;
    });
  }

  of(jobId: string): JobEvent[] {
    return this.all.filter((e) => e.jobId === jobId);
  }

  until(pred: (e: JobEvent) => boolean, timeoutMs = 60_000): Promise<JobEvent> {
    const seen = this.all.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching event within ${timeoutMs} ms; saw ${this.all.map((e) => `${e.jobId}:${e.event}`).join(' ')}`)), timeoutMs);
      this.waiters.push({ pred, resolve: (e) => (clearTimeout(timer), resolve(e)) });
    });
  }
}

export const isGenerating = (id: string) => (e: JobEvent) => e.jobId === id && e.event === 'progress' && e.progress.phase === 'generating';
export const isFinal = (id: string) => (e: JobEvent) => e.jobId === id && (e.event === 'done' || e.event === 'failed' || e.event === 'cancelled');

/** Checks the queue ran one job at a time: no `started` while another job is unfinished. */
export function assertOneAtATime(events: JobEvent[]): string[] {
  const order: string[] = [];
  let active: string | null = null;
  for (const e of events) {
    if (e.event === 'started') {
      if (active !== null) throw new Error(`${e.jobId} started while ${active} was running`);
      active = e.jobId;
      order.push(e.jobId);
    } else if ((e.event === 'done' || e.event === 'failed' || e.event === 'cancelled') && e.jobId === active) {
      active = null;
    }
  }
  return order;
}

/** Seqs of each job's events increase by exactly one. */
export function assertSeqs(events: JobEvent[]): void {
  const last = new Map<string, number>();
  for (const e of events) {
    const prev = last.get(e.jobId);
    if (prev !== undefined && e.seq !== prev + 1) throw new Error(`${e.jobId}: seq ${e.seq} after ${prev} (${e.event})`);
    last.set(e.jobId, e.seq);
  }
}

export function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}
