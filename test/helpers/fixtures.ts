/** Shared test fixtures: temp dirs, a model cache per test run, synthetic sources. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeFrames } from '../../companion/media/decode.ts';
import type { Frame } from '../../companion/media/frame.ts';
import { writeSyntheticClip } from '../../companion/media/synthetic.ts';
import { parseRational, type Rational } from '../../protocol/rational.ts';

export function tempDir(prefix = 'reshoot-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Points the model cache at a folder shared by the test run (the tiny model builds once). */
export function useTestModelCache(): void {
  process.env.RESHOOT_MODELS ??= path.join(tmpdir(), `reshoot-test-models-${process.ppid}`);
}

export const FPS: Rational = parseRational('24000/1001');

/** A lossless synthetic source clip (ffv1), so pixel comparisons are exact. */
export async function losslessClip(dir: string, name: string, width: number, height: number, frames: number, fps = FPS): Promise<string> {
  const p = path.join(dir, name);
  await writeSyntheticClip({ path: p, format: 'ffv1', width, height, fps, frames });
  return p;
}

export async function readAll(p: string, fps: Rational, count: number, start = 0): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of decodeFrames({ path: p, fps, startFrame: start, frameCount: count })) out.push(f);
  return out;
}
