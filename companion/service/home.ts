/**
 * Where the companion keeps its state: the connection file the panel reads, persisted jobs,
 * results and uploads. One folder per user (RESHOOT_HOME overrides it, e.g. for tests):
 *   Linux   ~/.local/share/reshoot          macOS  ~/Library/Application Support/Reshoot
 *   Windows %APPDATA%\Reshoot
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export function reshootHome(): string {
  if (process.env.RESHOOT_HOME) return path.resolve(process.env.RESHOOT_HOME);
  const home = os.homedir();
  if (process.platform === 'win32') return path.join(process.env.APPDATA ?? path.join(home, 'AppData', 'Roaming'), 'Reshoot');
  if (process.platform === 'darwin') return path.join(home, 'Library', 'Application Support', 'Reshoot');
  return path.join(process.env.XDG_DATA_HOME ?? path.join(home, '.local', 'share'), 'reshoot');
}

/** Creates the folder readable by this user only: it holds the token and the user's media. */
export function ensureHome(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
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
  await writeFile(tmp, JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, file);
  return file;
}

export async function removeConnectionFile(home: string): Promise<void> {
  await rm(connectionFile(home), { force: true });
}
