/**
 * Where the farm keeps things in Redis. One BullMQ queue per model, so that a worker takes only
 * jobs it can run by listening only to the queues of the models it has. Everything sits under
 * the `reshoot` prefix, so one Redis can hold other things too.
 */
export const PREFIX = 'reshoot';

/** The BullMQ queue of one model (queue names may not contain ':'; model ids may). */
export function modelQueueName(modelId: string): string {
  return 'model-' + modelId.replace(/[^A-Za-z0-9._-]/g, (c) => `_${c.charCodeAt(0).toString(16)}`);
}

/** The registry: a set of worker ids, and one expiring key per live worker. */
export const WORKERS_SET = `${PREFIX}:farm:workers`;
export const workerKey = (id: string) => `${PREFIX}:farm:worker:${id}`;

/** Cancels travel on a channel every worker listens to, and stay in a key for a worker that takes the job later. */
export const CANCEL_CHANNEL = `${PREFIX}:farm:cancel`;
export const cancelKey = (jobId: string) => `${PREFIX}:farm:cancelled:${jobId}`;
