/** Temp folders for media tests, removed after each suite. */
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { isReshootError, type ErrorCode } from '../../companion/errors.ts';
import type { Frame } from '../../companion/media/frame.ts';

/** A fresh temp folder for this test file, removed when the file's tests are done. */
export function useTempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'reshoot-media-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Awaits `p` and returns the ReshootError it rejects with (fails if it resolves). */
export async function reshootErrorOf(p: Promise<unknown>, code: ErrorCode): Promise<Error> {
  try {
    await p;
  } catch (e) {
    if (!isReshootError(e)) throw e;
    if (e.code !== code) throw new Error(`expected ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  throw new Error(`expected a ReshootError ${code}, but it succeeded`);
}

export async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Mean absolute difference over all bytes (for lossy round trips). */
export function meanAbsDiff(a: Frame, b: Frame): number {
  if (a.data.length !== b.data.length) throw new Error('size mismatch');
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i]! - b.data[i]!);
  return sum / a.data.length;
}
