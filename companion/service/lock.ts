/**
 * One companion per home folder. Two servers on one home would both recover and run the same
 * persisted jobs, and the second would overwrite (and later delete) the connection file the
 * first one's panel reads. So a server takes `<home>/companion.lock` before it touches the job
 * store, and a second start is refused with the pid that holds it.
 *
 * The lock is a file created with O_EXCL holding `{ pid, started }`, where `started` identifies
 * the process beyond its pid (Linux: the start time in /proc/<pid>/stat), so a lock left by a
 * process that was killed is recognised as stale even after its pid was reused. A stale lock is
 * moved aside with an atomic rename, then taken anew; of two starts racing for a stale lock,
 * the O_EXCL create lets exactly one win.
 */
import { closeSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

export class HomeLockedError extends Error {
  readonly code = 'home_locked';
  constructor(
    readonly home: string,
    readonly pid: number,
  ) {
    super(`another reshoot companion (pid ${pid}) is already running on ${home}; stop it first (or point RESHOOT_HOME elsewhere)`);
    this.name = 'HomeLockedError';
  }
}

interface LockInfo {
  pid: number;
  started: string | null;
}

export interface HomeLock {
  readonly file: string;
  /** Removes the lock if it is still ours. */
  release(): void;
}

export function lockFile(home: string): string {
  return path.join(home, 'companion.lock');
}

/** Takes the home's lock or throws HomeLockedError naming the live holder. */
export function acquireHomeLock(home: string): HomeLock {
  const file = lockFile(home);
  const mine: LockInfo = { pid: process.pid, started: processStarted(process.pid) };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(file, mine)) {
      return {
        file,
        release() {
          const held = readLock(file);
          if (held && held.pid === mine.pid && held.started === mine.started) rmSync(file, { force: true });
        },
      };
    }
    const held = readLock(file);
    if (held && isAlive(held)) throw new HomeLockedError(home, held.pid);
    // Stale (its process is gone) or unreadable (a crash between create and write): move it
    // aside atomically; only one racer's rename finds it, and the create above decides the rest.
    const aside = `${file}.stale-${process.pid}`;
    try {
      renameSync(file, aside);
      rmSync(aside, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  const held = readLock(file);
  throw new HomeLockedError(home, held?.pid ?? 0);
}

function tryCreate(file: string, info: LockInfo): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    writeSync(fd, JSON.stringify(info) + '\n');
  } catch (e) {
    // A full disk: leave no empty lock behind.
    closeSync(fd);
    rmSync(file, { force: true });
    throw e;
  }
  closeSync(fd);
  return true;
}

function readLock(file: string): LockInfo | null {
  try {
    const j = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockInfo>;
    return typeof j.pid === 'number' && Number.isInteger(j.pid) && j.pid > 0 ? { pid: j.pid, started: typeof j.started === 'string' ? j.started : null } : null;
  } catch {
    return null;
  }
}

function isAlive(info: LockInfo): boolean {
  try {
    process.kill(info.pid, 0);
  } catch (e) {
    // EPERM: a process of another user has this pid; it is alive but cannot be ours unless the
    // start time says so, which we cannot read either: treat it as alive, the safe side.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const started = processStarted(info.pid);
  return started === null || info.started === null || started === info.started;
}

/** The start time of a process where the platform tells it (Linux), else null. */
function processStarted(pid: number): string | null {
  if (process.platform !== 'linux') return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22, counted after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}
