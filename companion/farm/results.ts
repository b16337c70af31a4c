/**
 * Results on shared storage, written once per job id. A worker renders into its own hidden
 * folder `<results>/.<jobId>.partial-<worker>` and renames it to `<results>/<jobId>` when the clip
 * and its provenance are complete. The rename is atomic and fails if another worker got there
 * first (a job taken over after a stall whose first worker was only slow): the loser discards its
 * copy, so a job has exactly one result folder, complete, whoever rendered it.
 */
import { readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';

export function finalFolder(results: string, jobId: string): string {
  return path.join(results, jobId);
}

export function partialFolder(results: string, jobId: string, workerId: string): string {
  return path.join(results, `.${jobId}.partial-${workerId.replace(/[^A-Za-z0-9._-]/g, '_')}`);
}

/** Moves `partial` into place; false (and `partial` removed) when the job already has its result. */
export async function publish(partial: string, final: string): Promise<boolean> {
  try {
    await rename(partial, final);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST' && code !== 'ENOTEMPTY' && code !== 'EPERM') throw e;
    await rm(partial, { recursive: true, force: true });
    return false;
  }
}

/** Removes every unfinished copy of a job (its workers died, or it ended without a result). */
export async function removePartials(results: string, jobId: string): Promise<void> {
  const prefix = `.${jobId}.partial-`;
  const names = await readdir(results).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => n.startsWith(prefix)).map((n) => rm(path.join(results, n), { recursive: true, force: true }).catch(() => undefined)));
}

export async function sizeOf(p: string): Promise<number> {
  const s = await stat(p);
  if (!s.isDirectory()) return s.size;
  let total = 0;
  for (const name of await readdir(p)) total += await sizeOf(path.join(p, name));
  return total;
}

export async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}
