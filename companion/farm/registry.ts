/**
 * Who is on the farm: each worker writes what it is and can run under an expiring key, renewed
 * every heartbeat; a worker that stops (killed, powered off, cut off) disappears after 3 missed
 * beats. `reshoot workers` lists them; the serving companion uses the list to tell at once that
 * no worker can run a job instead of letting it wait forever.
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { WORKERS_SET, workerKey } from './names.ts';

export const workerInfoSchema = z.object({
  id: z.string(),
  machine: z.string(),
  pid: z.number().int(),
  models: z.array(z.string()),
  providers: z.array(z.string()),
  gpuMemoryGB: z.number().nullable(),
  startedAt: z.string(),
  seenAt: z.string(),
  /** The job it is rendering now, if any. */
  job: z.string().nullable(),
  done: z.number().int(),
  failed: z.number().int(),
});
export type WorkerInfo = z.infer<typeof workerInfoSchema>;

export const BEATS_TO_EXPIRE = 3;

export async function announce(redis: Redis, info: WorkerInfo, heartbeatMs: number): Promise<void> {
  await redis.multi().sadd(WORKERS_SET, info.id).set(workerKey(info.id), JSON.stringify(info), 'PX', heartbeatMs * BEATS_TO_EXPIRE).exec();
}

export async function withdraw(redis: Redis, id: string): Promise<void> {
  await redis.multi().srem(WORKERS_SET, id).del(workerKey(id)).exec();
}

/** The live workers, by machine then id; ids whose key expired are dropped from the set. */
export async function listWorkers(redis: Redis): Promise<WorkerInfo[]> {
  const ids = await redis.smembers(WORKERS_SET);
  if (ids.length === 0) return [];
  const values = await redis.mget(ids.map(workerKey));
  const live: WorkerInfo[] = [];
  const gone: string[] = [];
  ids.forEach((id, i) => {
    const v = values[i];
    const parsed = v ? workerInfoSchema.safeParse(JSON.parse(v)) : null;
    if (parsed?.success) live.push(parsed.data);
    else gone.push(id);
  });
  if (gone.length > 0) await redis.srem(WORKERS_SET, ...gone);
  return live.sort((a, b) => a.machine.localeCompare(b.machine) || a.id.localeCompare(b.id));
}
