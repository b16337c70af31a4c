/**
 * A small tmpfs to run the companion on a disk that fills up (Linux, as root). Without the
 * rights to mount, `mountTmpfs` says why and callers skip with that message.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmdirSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Tmpfs {
  dir: string;
  /** Writes a filler file until the disk is full (ENOSPC). */
  fill(): void;
  /** Removes the filler. */
  unfill(): void;
  unmount(): void;
}

export function mountTmpfs(sizeKiB: number): Tmpfs | { skip: string } {
  if (process.platform !== 'linux') return { skip: 'full-disk checks need Linux (a tmpfs)' };
  if (process.getuid?.() !== 0) return { skip: 'full-disk checks need root to mount a small tmpfs; run as root to include them' };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'reshoot-fulldisk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    rmdirSync(dir);
    return { skip: `could not mount a tmpfs (${String((e as { stderr?: Buffer }).stderr ?? e).trim()}); full-disk checks skipped` };
  }
  const filler = path.join(dir, 'filler');
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(16 * 1024, 7);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      }
      // The last partial page, byte by byte, so not even a small record fits.
      try {
        for (;;) writeSync(fd, chunk, 0, 1);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      } finally {
        closeSync(fd);
      }
    },
    unfill() {
      rmSync(filler, { force: true });
    },
    unmount() {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      rmdirSync(dir);
    },
  };
}
