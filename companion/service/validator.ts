/**
 * What clients send is parsed and validated in a worker thread. Both are synchronous and their
 * cost grows with the input: JSON.parse of a 900 KB object of 60,000 keys, or zod on a spec of
 * thousands of bad items, would stall every other client (progress, cancel, /health) on the
 * event loop. The worker takes requests in order; the event loop only hands text over and gets
 * a checked spec (or a short error) back.
 */
import { Worker } from 'node:worker_threads';
import type { ClientParseResult, JobSpec } from '../../protocol/index.ts';

/** A spec or message refused by validation: `bad_spec` or `bad_message`, with one bounded message. */
export class Refused extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly requestId?: string,
  ) {
    super(message);
    this.name = 'Refused';
  }
}

/** A parsed client message; a submit's spec has been checked already when `specChecked`. */
export type CheckedMessage = ClientParseResult & { specChecked?: boolean };

type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; code: string; message: string; requestId?: string };

export class SpecValidator {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  /** A job spec as JSON text (an HTTP body) or already parsed: the validated, normalized spec. */
  spec(input: { text: string } | { json: unknown }): Promise<JobSpec> {
    return this.request({ op: 'spec', ...input }) as Promise<JobSpec>;
  }

  /** A WebSocket text message, parsed and (for a submit) its spec checked, off the event loop. */
  message(text: string): Promise<CheckedMessage> {
    return this.request({ op: 'message', text }) as Promise<CheckedMessage>;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.failAll(new Error('the companion is shutting down'));
    await w?.terminate();
  }

  private request(body: Record<string, unknown>): Promise<unknown> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      try {
        worker.postMessage({ id, ...body });
      } catch (e) {
        // Only in-process callers can pass what cannot be cloned; it cannot be JSON either.
        this.pending.delete(id);
        reject(new Refused('bad_spec', `invalid job spec: ${(e as Error).message}`));
      }
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./spec-worker-entry.mjs', import.meta.url));
    worker.unref(); // idle, it must not keep the process alive
    worker.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else if (m.code === 'internal') p.reject(new Error(`validation failed: ${m.message}`));
      else p.reject(new Refused(m.code, m.message, m.requestId));
    });
    const lost = (why: string) => {
      if (this.worker === worker) this.worker = null; // the next request starts a fresh one
      this.failAll(new Error(`the validation worker ${why}`));
    };
    worker.on('error', (e) => lost(`crashed: ${e.message}`));
    worker.on('exit', (code) => lost(`exited with code ${code}`));
    this.worker = worker;
    return worker;
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}
