/**
 * Where the companion keeps its state: the connection file the panel reads, persisted jobs,
 * results and uploads. One folder per user (RESHOOT_HOME overrides it, e.g. for tests):
 *   Linux   ~/.local/share/reshoot          macOS  ~/Library/Application Support/Reshoot
 *   Windows %APPDATA%\Reshoot
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export function reshootHome(): string {
  if (process.env.RESHOOT_HOME) return path.resolve(process.env.RESHOOT_HOME);
  const home = os.homedir();
  if (process.platform === 'win32') return path.join(process.env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'Reshoot');
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Reshoot');
  // The XDG spec says to ignore an empty or relative XDG_DATA_HOME: either would put the token
  // under whatever the current folder happens to be.
  const xdg = process.env.XDG_DATA_HOME;
  const data = xdg && path.isAbsolute(xdg) ? xdg : path.join(home, '.local', 'share');
  return path.join(data, 'reshoot');
}

/**
 * Creates the folder readable by this user only: it holds the token and the user's media. An
 * existing folder is narrowed to 0700 too (mkdir's mode applies only to folders it creates).
 */
export function ensureHome(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (process.platform !== 'win32') chmodSync(dir, 0o700);
  return dir;
}

export interface ConnectionInfo {
  port: number;
  token: string;
  pid: number;
  version: string;
  host: string;
  /** Where a panel on this machine exports frames for a job to name (frames by path, localFrames.ts). */
  framesDir?: string;
}

export function connectionFile(home: string): string {
  return path.join(home, 'companion.json');
}

export function newToken(): string {
  return randomBytes(32).toString('hex');
}

/** Written atomically with owner-only permissions; the panel reads it to find and open the door. */
export async function writeConnectionFile(home: string, info: ConnectionInfo): Promise<string> {
  const file = connectionFile(home);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true }); // a full disk leaves no empty temp file behind
    throw e;
  }
  return file;
}

/** Removes the connection file only if it is this process's: it is never ours to delete otherwise. */
export async function removeConnectionFile(home: string, pid = process.pid): Promise<void> {
  const file = connectionFile(home);
  let info: Partial<ConnectionInfo>;
  try {
    info = JSON.parse(await readFile(file, 'utf8')) as Partial<ConnectionInfo>;
  } catch {
    return; // gone, or not a file we wrote
  }
  if (info.pid === pid) await rm(file, { force: true });
}
