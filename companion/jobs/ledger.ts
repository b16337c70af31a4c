/**
 * The bookkeeping every job backend shares (the local JobQueue and the farm's FarmQueue): job
 * records on a JobStore, each change written with the next seq before its event goes out, the
 * last `historySize` events of each job kept for catch-up, and waiters for a job's final record.
 * What runs the jobs (this machine's engine, or workers on Redis) is the backend's own business.
 */
import { FINAL_STATES, type JobEvent, type JobRecord } from '../../protocol/jobs.ts';
import type { CatchUp } from './queue.ts';
import type { JobPatch, JobStore } from './store.ts';

export interface JobLedgerOptions {
  /** The store, once the backend has opened it. */
  store: () => JobStore | null;
  historySize: number;
  /** Hands an event to the backend's listeners. */
  emit: (e: JobEvent) => void;
  log: (message: string) => void;
}

export class JobLedger {
  private readonly history = new Map<string, JobEvent[]>();
  private readonly waiters = new Map<string, ((r: JobRecord) => void)[]>();

  constructor(private readonly opts: JobLedgerOptions) {}

  get(id: string): JobRecord | undefined {
    return this.opts.store()?.get(id);
  }

  /** Every job on record, oldest first. */
  list(): JobRecord[] {
    return this.opts.store()?.list() ?? [];
  }

  /**
   * The kept events of job `id` with seq > `since`, oldest first. [] when there are none newer,
   * and also when the kept events no longer reach back to `since`: compare with the record's
   * seq, and send the record as a snapshot if it is newer (see `catchUp`).
   */
  events(id: string, since: number): JobEvent[] {
    const record = this.get(id);
    if (!record || since >= record.seq) return [];
    const kept = this.history.get(id);
    if (!kept || kept.length === 0 || kept[0]!.seq > since + 1) return [];
    return kept.filter((e) => e.seq > since).map((e) => structuredClone(e));
  }

  /** What a client that last saw `since` needs: the missed events, or a snapshot. */
  catchUp(id: string, since: number): CatchUp | undefined {
    const record = this.get(id);
    if (!record) return undefined;
    if (since >= record.seq) return { events: [] };
    const events = this.events(id, since);
    return events.length > 0 ? { events } : { snapshot: record };
  }

  /**
   * Resolves with the job's record once it is done, failed or cancelled (at once if it is, or if
   * the backend is `closed`). Rejects for an unknown id.
   */
  settled(id: string, closed: boolean): Promise<JobRecord> {
    const record = this.get(id);
    if (!record) return Promise.reject(new Error(`no job ${id}`));
    if (FINAL_STATES.includes(record.state) || closed) return Promise.resolve(record);
    return new Promise((resolve) => {
      const list = this.waiters.get(id) ?? [];
      list.push(resolve);
      this.waiters.set(id, list);
    });
  }

  /** The seq of the latest event sent for `id` (what a preview carries). */
  lastSeq(id: string): number | undefined {
    return this.history.get(id)?.at(-1)?.seq ?? this.get(id)?.seq;
  }

  /**
   * Applies a change with the next seq, waits until it is on disk, then emits its event.
   * Everything before the first await is synchronous, so changes get their seq in call order.
   */
  async transition(id: string, patch: JobPatch, make: (seq: number) => JobEvent): Promise<JobRecord> {
    const store = this.opts.store()!;
    const seq = store.get(id)!.seq + 1;
    const record = store.update(id, { ...patch, seq });
    await store.flush(id).catch(() => undefined); // the store has logged it; memory stays right
    this.emitEvent(make(seq));
    if (FINAL_STATES.includes(record.state)) {
      const list = this.waiters.get(id);
      this.waiters.delete(id);
      for (const w of list ?? []) w(store.get(id)!);
    }
    return record;
  }

  /** Keeps the event for catch-up and hands it on; a listener that throws is logged, not fatal. */
  emitEvent(e: JobEvent): void {
    let kept = this.history.get(e.jobId);
    if (!kept) this.history.set(e.jobId, (kept = []));
    kept.push(e);
    if (kept.length > this.opts.historySize) kept.splice(0, kept.length - this.opts.historySize);
    try {
      this.opts.emit(e);
    } catch (err) {
      this.opts.log(`reshoot: a job event listener threw: ${(err as Error)?.stack ?? err}`);
    }
  }

  /** On close: every waiter gets the record as it stands. */
  releaseWaiters(): void {
    for (const [id, list] of this.waiters) {
      const r = this.get(id);
      if (r) for (const w of list) w(r);
    }
    this.waiters.clear();
  }
}
