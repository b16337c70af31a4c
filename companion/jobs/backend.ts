/**
 * What the service needs from whatever runs its jobs: the local JobQueue (the default, one job
 * at a time on this machine's device) or the farm's FarmQueue (companion/farm/farmQueue.ts: jobs
 * go into a BullMQ queue on Redis and `reshoot worker`s on other machines render them). Both
 * report the same JobEvents with the same per-job seq and catch-up, so the panel cannot tell
 * them apart.
 */
import type { JobQueue, JobQueueEvents } from './queue.ts';

type Listener<K extends keyof JobQueueEvents> = (...args: JobQueueEvents[K]) => void;

export interface JobBackend
  extends Pick<JobQueue, 'start' | 'submit' | 'cancel' | 'settled' | 'get' | 'list' | 'events' | 'catchUp' | 'close' | 'listenerCount'> {
  on<K extends keyof JobQueueEvents>(event: K, listener: Listener<K>): unknown;
  off<K extends keyof JobQueueEvents>(event: K, listener: Listener<K>): unknown;
  once<K extends keyof JobQueueEvents>(event: K, listener: Listener<K>): unknown;
}
