/** Shared test fixtures: temp dirs, a model cache per test run, synthetic sources. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeFrames } from '../../companion/media/decode.ts';
import type { Frame } from '../../companion/media/frame.ts';
import { ffmpegPath, runTool } from '../../companion/media/ffmpeg.ts';
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

/**
 * A source made by ffmpeg's own generator: testsrc2 (smooth enough to use every 10-bit code)
 * through `filter` (a pixel format, a geq ramp, …), written with `codecArgs` to `dir/name`.
 */
export async function testsrcClip(
  dir: string,
  name: string,
  clip: { width: number; height: number; rate: string; frames: number },
  filter: string,
  codecArgs: string[],
): Promise<string> {
  const out = path.join(dir, name);
  const input = `testsrc2=s=${clip.width}x${clip.height}:r=${clip.rate}:d=1,${filter}`;
  const args = ['-v', 'error', '-y', '-f', 'lavfi', '-i', input, '-frames:v', String(clip.frames), ...codecArgs, out];
  const r = await runTool(await ffmpegPath(), args, { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(r.stderr);
  return out;
}

export async function readAll(p: string, fps: Rational, count: number, start = 0): Promise<Frame[]> {
  const out: Frame[] = [];
  for await (const f of decodeFrames({ path: p, fps, startFrame: start, frameCount: count })) out.push(f);
  return out;
}

/**
 * What a fill did to one frame, counted in RGB pixels against the source: `outside` pixels where
 * the mask is 0 that differ (bit-exactness wants 0), `inside` pixels where it is 1 and how many
 * of them changed.
 */
export function maskedChanges(src: Frame, out: Frame, alpha: Float32Array): { outside: number; inside: number; changedInside: number } {
  let outside = 0;
  let inside = 0;
  let changedInside = 0;
  for (let p = 0; p < alpha.length; p++) {
    const same = src.data[p * 3] === out.data[p * 3] && src.data[p * 3 + 1] === out.data[p * 3 + 1] && src.data[p * 3 + 2] === out.data[p * 3 + 2];
    if (alpha[p] === 0) outside += same ? 0 : 1;
    else if (alpha[p] === 1) {
      inside++;
      changedInside += same ? 0 : 1;
    }
  }
  return { outside, inside, changedInside };
}
