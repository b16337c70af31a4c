/**
 * Jobs as the companion reports them to the panel: the record of one job and the events a
 * subscriber receives. Shared by panel and companion (no Node, no DOM).
 *
 * Every event carries the job's `seq`, a counter that increases by one per event of that job, so
 * a client that reconnects can ask for what it missed (`since`) and detect gaps. The one exception
 * is `preview`: ephemeral (never stored, never replayed), it does not advance the seq but carries
 * the seq of the latest event sent before it. A client shows a preview without moving its seq;
 * a preview whose seq is above the client's says that real events were missed.
 */
import { z } from 'zod';

export const JOB_STATES = ['queued', 'running', 'done', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const FINAL_STATES: readonly JobState[] = ['done', 'failed', 'cancelled'];

export const progressSchema = z.object({
  phase: z.enum(['loading', 'generating', 'done']),
  window: z.number().int(),
  windows: z.number().int(),
  step: z.number().int(),
  steps: z.number().int(),
  fraction: z.number(),
  etaSeconds: z.number().nullable(),
});
export type JobProgress = z.infer<typeof progressSchema>;

export const jobResultSchema = z.object({
  /** File name inside the job's result folder (served at /jobs/:id/result). */
  file: z.string(),
  /** Absolute path on the companion's machine, for Premiere's importFiles. */
  path: z.string(),
  frames: z.number().int(),
  bytes: z.number().int(),
  seed: z.number().int(),
  provider: z.string(),
});
export type JobResult = z.infer<typeof jobResultSchema>;

export const jobErrorSchema = z.object({ code: z.string(), message: z.string() });

export const jobRecordSchema = z.object({
  id: z.string(),
  /** The validated spec, serialized (rates as "num/den"). */
  spec: z.unknown(),
  state: z.enum(JOB_STATES),
  seq: z.number().int(),
  createdAt: z.string(),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  progress: progressSchema.optional(),
  result: jobResultSchema.optional(),
  error: jobErrorSchema.optional(),
  /** How many times the job was started (a restart after a crash starts it again). */
  attempts: z.number().int(),
  /** Set when a companion restart found the job unfinished. */
  recovered: z.enum(['resumed', 'failed']).optional(),
});
export type JobRecord = z.infer<typeof jobRecordSchema>;

const eventBase = { jobId: z.string(), seq: z.number().int() };
export const jobEventSchema = z.discriminatedUnion('event', [
  z.object({ event: z.literal('queued'), ...eventBase, position: z.number().int() }),
  z.object({ event: z.literal('started'), ...eventBase, attempt: z.number().int() }),
  z.object({ event: z.literal('progress'), ...eventBase, progress: progressSchema }),
  /** Optional low-res preview of the current window, PNG as base64. Does not advance `seq` (above). */
  z.object({ event: z.literal('preview'), ...eventBase, width: z.number().int(), height: z.number().int(), png: z.string() }),
  z.object({ event: z.literal('done'), ...eventBase, result: jobResultSchema }),
  z.object({ event: z.literal('failed'), ...eventBase, error: jobErrorSchema }),
  z.object({ event: z.literal('cancelled'), ...eventBase }),
  /** After a companion restart: the job will run again from the start. */
  z.object({ event: z.literal('resumed'), ...eventBase, reason: z.string() }),
]);
export type JobEvent = z.infer<typeof jobEventSchema>;
