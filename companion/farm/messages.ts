/**
 * What travels through Redis between the serving companion and the workers, validated on
 * arrival (a worker from another version, or anything else writing into the queue, gets a clear
 * failure rather than a crash).
 *
 * - job data: the spec as the serving companion accepted it (paths as its machine names them)
 *   and the shared results folder, also as that machine names it; workers map both.
 * - progress data (BullMQ's job progress, relayed by its queue events): `started` (which worker
 *   took it), `progress`, `preview`.
 * - return value: the result, as file name inside `<results>/<jobId>/`.
 * - a failure is the error message `[code] message`, so the code survives BullMQ.
 */
import { z } from 'zod';
import { progressSchema } from '../../protocol/jobs.ts';

export const farmJobDataSchema = z.object({
  spec: z.unknown(),
  /** The shared results folder as the serving companion names it. */
  results: z.string().min(1),
  /** The serving companion's machine, for messages. */
  from: z.string(),
});
export type FarmJobData = z.infer<typeof farmJobDataSchema>;

export const farmProgressSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('started'), worker: z.string(), machine: z.string() }),
  z.object({ type: z.literal('progress'), progress: progressSchema }),
  z.object({ type: z.literal('preview'), width: z.number().int(), height: z.number().int(), png: z.string() }),
]);
export type FarmProgress = z.infer<typeof farmProgressSchema>;

export const farmResultSchema = z.object({
  file: z.string(),
  frames: z.number().int(),
  bytes: z.number().int(),
  seed: z.number().int(),
  provider: z.string(),
  worker: z.string(),
  machine: z.string(),
  /** True when the result was already in the results folder (a job run again after a crash). */
  reused: z.boolean(),
});
export type FarmResult = z.infer<typeof farmResultSchema>;

export function failureMessage(code: string, message: string): string {
  return `[${code}] ${message}`;
}

export function parseFailure(reason: string): { code: string; message: string } {
  const m = /^\[([a-z_]+)\] ([\s\S]*)$/.exec(reason);
  return m ? { code: m[1]!, message: m[2]! } : { code: 'internal', message: reason };
}
