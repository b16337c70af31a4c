/**
 * Stopping a render and refusing one that cannot be written, as a user meets them: Ctrl-C or
 * SIGTERM on `reshoot render` leaves no `.partial-…` file and says what happened; an output folder
 * that cannot be written is refused before any work, naming the user's path.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobSpec } from '../../protocol/index.ts';
import { runJob } from '../../companion/jobs/run.ts';
import { losslessClip, tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { reshootErrorOf } from '../media/helpers.ts';

useTestModelCache();
const bin = path.resolve('bin/reshoot.mjs');
const tmp = tempDir();
let source = '';

beforeAll(async () => {
  source = await losslessClip(tmp.dir, 'src.mkv', 64, 48, 9);
});
afterAll(() => tmp.cleanup());

/**
 * A job long enough (20 s of extension) that it is still rendering when the signal comes. A PNG
 * sequence's partial folder exists from the moment the encoder opens, so the signal lands while
 * the model is still generating.
 */
function longJob(): string {
  const p = path.join(tmp.dir, 'long.json');
  const spec = {
    kind: 'extend', seed: 5, steps: 10, sequence: { fps: '25', width: 64, height: 48 }, source: { path: source },
    extend: { direction: 'tail', duration: { seconds: 20 } }, output: { format: 'png' },
  };
  writeFileSync(p, JSON.stringify(spec));
  return p;
}

// The encoder's partial output (".shot.partial-…"), not the output check's brief probe.
const partialsIn = (dir: string) => readdirSync(dir).filter((f) => f.startsWith('.shot.partial-'));

async function renderAndSignal(signal: NodeJS.Signals, outDir: string) {
  const out = path.join(outDir, 'shot');
  const child = spawn(process.execPath, [bin, 'render', longJob(), '--out', out], { cwd: tmp.dir, env: process.env });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  // Wait until the encoder is writing: its hidden partial file exists beside the output.
  for (let i = 0; i < 3000 && partialsIn(outDir).length === 0 && child.exitCode === null; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(partialsIn(outDir)).toHaveLength(1);
  child.kill(signal);
  const code = await exit;
  return { code, stderr, out };
}

describe('reshoot render interrupted', () => {
  it.runIf(process.platform !== 'win32')('SIGTERM removes the partial file, writes nothing, exits 143 with a message naming the output', async () => {
    const dir = path.join(tmp.dir, 'term');
    mkdirSync(dir, { recursive: true });
    const { code, stderr, out } = await renderAndSignal('SIGTERM', dir);
    expect(code).toBe(143);
    expect(stderr).toContain(`reshoot: interrupted (SIGTERM): stopped; "${out}" was not written and its unfinished file was removed.`);
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(out)).toBe(false);
  });

  it.runIf(process.platform !== 'win32')('Ctrl-C (SIGINT) does the same and exits 130', async () => {
    const dir = path.join(tmp.dir, 'int');
    mkdirSync(dir, { recursive: true });
    const { code, stderr } = await renderAndSignal('SIGINT', dir);
    expect(code).toBe(130);
    expect(stderr).toMatch(/reshoot: interrupted \(SIGINT\)/);
    expect(stderr).not.toMatch(/internal error|\.ts:\d+/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('output checked writable before any work', () => {
  const spec = (out: string) =>
    parseJobSpec({
      kind: 'extend', seed: 1, steps: 2, sequence: { fps: '25', width: 64, height: 48 }, source: { path: source },
      extend: { direction: 'tail', duration: { frames: 4 } }, output: { format: 'ffv1', path: out },
    });

  it('a folder path through a file is refused, naming the user\'s path and the file in the way', async () => {
    const blocker = path.join(tmp.dir, 'not-a-folder.txt');
    writeFileSync(blocker, 'x');
    const out = path.join(blocker, 'renders', 'shot.mkv');
    let loads = 0;
    const err = await reshootErrorOf(runJob(spec(out), { onProgress: (p) => p.phase === 'generating' && loads++ }), 'write_failed');
    expect(err.message).toBe(`Cannot write the output "${out}": "${blocker}" is a file, not a folder.`);
    expect(err.message).not.toMatch(/partial/);
    expect(loads).toBe(0); // refused before generating anything
  });

  it.runIf(process.platform === 'linux')('a read-only location is refused before rendering, naming the user\'s path', async () => {
    // /proc takes no new files, even for root (permission bits would not stop root).
    const out = '/proc/reshoot-renders/shot.mkv';
    const err = await reshootErrorOf(runJob(spec(out)), 'write_failed');
    expect(err.message).toMatch(/^Cannot write the output "\/proc\/reshoot-renders\/shot\.mkv": the folder "\/proc\/reshoot-renders" cannot be created in "\/proc", which is not writable \(E[A-Z]+\)/);
    expect(err.message).not.toMatch(/partial/);
  });
});
