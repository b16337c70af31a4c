/**
 * Can an output be written where the user asked? Checked before any work starts, so a render
 * never runs for minutes and then fails on a read-only folder, and the message names the
 * user's path, not the hidden partial file ffmpeg would have been writing.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { open, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ReshootError } from '../errors.ts';

/** Probes being written: removed if the process exits first (Ctrl-C in the CLI exits through process.exit). */
const liveProbes = new Set<string>();
process.once('exit', () => {
  for (const p of liveProbes) rmSync(p, { force: true });
});

/**
 * Proves that `output`'s folder (or, when it does not exist yet, its nearest existing ancestor,
 * where the folders would be created) takes a new file, by creating and removing one. A real
 * write is the only test that holds everywhere: permission bits say nothing about read-only
 * mounts, Windows ACLs or a root user.
 */
export async function checkOutputWritable(output: string): Promise<void> {
  const wanted = path.dirname(output);
  let dir = wanted;
  for (;;) {
    try {
      const s = await stat(dir);
      if (!s.isDirectory()) {
        throw new ReshootError('write_failed', `Cannot write the output "${output}": "${dir}" is a file, not a folder.`);
      }
      break;
    } catch (e) {
      if (e instanceof ReshootError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      const parent = path.dirname(dir);
      if ((code === 'ENOENT' || code === 'ENOTDIR') && parent !== dir) {
        dir = parent;
        continue;
      }
      throw new ReshootError('write_failed', `Cannot write the output "${output}": cannot open the folder "${dir}" (${code ?? String(e)}).`, { cause: e });
    }
  }
  const probe = path.join(dir, writeCheckName());
  liveProbes.add(probe);
  try {
    const fh = await open(probe, 'wx');
    await fh.close();
  } catch (e) {
    liveProbes.delete(probe);
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    const where = dir === wanted ? `the folder "${dir}"` : `the folder "${wanted}" cannot be created in "${dir}", which`;
    throw new ReshootError('write_failed', `Cannot write the output "${output}": ${where} is not writable (${code}). Choose another output folder.`, { cause: e });
  }
  await rm(probe, { force: true });
  liveProbes.delete(probe);
}

/**
 * The probe's name: hidden, and shaped like every other unfinished write (".name.partial-<pid>-…"),
 * so a process killed between creating and removing it leaves a file the service's start-up
 * sweep of partial outputs (jobs/queue.ts removePartials) removes with the rest.
 */
export function writeCheckName(): string {
  return `.reshoot-write-check.partial-${process.pid}-${randomBytes(4).toString('hex')}`;
}
