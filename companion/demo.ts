/**
 * `npm run demo`: the whole pipeline on a synthetic clip, from job specs, through the same
 * runJob the CLI and the service use. Writes into `out/`:
 *   source.mov               2 s synthetic clip with motion (ProRes 422 HQ, 24000/1001 fps)
 *   extend.job.json / extend.mov     +1 s at the tail
 *   fill.job.json / fill.mov         a moving ellipse filled on every frame
 *   contact-sheet.png        source vs result frames
 * Re-running replaces the previous demo outputs.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseJobSpec, type JobSpecInput } from '../protocol/index.ts';
import { progressBar } from './cli.ts';
import { decodeFrames } from './media/decode.ts';
import { contactSheet, writePng } from './media/encode.ts';
import type { Frame } from './media/frame.ts';
import { writeSyntheticClip } from './media/synthetic.ts';
import { runJob } from './jobs/run.ts';
import { Engine } from './engine/engine.ts';
import { parseRational } from '../protocol/rational.ts';

const WIDTH = 640;
const HEIGHT = 360;
const FPS = '24000/1001';
const SOURCE_FRAMES = 48;

export async function demo(outDir: string): Promise<number> {
  const dir = path.resolve(outDir);
  await mkdir(dir, { recursive: true });
  const source = path.join(dir, 'source.mov');
  const fps = parseRational(FPS);
  console.log(`source: ${source} (${WIDTH}x${HEIGHT}, ${SOURCE_FRAMES} frames at ${FPS} fps)`);
  await writeSyntheticClip({ path: source, format: 'prores422hq', width: WIDTH, height: HEIGHT, fps, frames: SOURCE_FRAMES, overwrite: true });

  const sequence = { fps: FPS, width: WIDTH, height: HEIGHT };
  const jobs: Record<string, JobSpecInput> = {
    extend: {
      kind: 'extend',
      prompt: 'the disc keeps rolling to the right',
      seed: 1234,
      sequence,
      source: { path: source },
      extend: { direction: 'tail', duration: { seconds: 1 } },
      output: { format: 'prores422hq', path: path.join(dir, 'extend.mov') },
    },
    fill: {
      kind: 'fill',
      prompt: 'clean background plate',
      seed: 1234,
      sequence,
      source: { path: source },
      mask: {
        type: 'shapes',
        shapes: [
          {
            kind: 'ellipse',
            feather: 8,
            keyframes: [
              { frame: 0, cx: 200, cy: 180, rx: 70, ry: 50 },
              { frame: SOURCE_FRAMES - 1, cx: 440, cy: 200, rx: 90, ry: 60 },
            ],
          },
        ],
      },
      output: { format: 'prores422hq', path: path.join(dir, 'fill.mov') },
    },
  };

  // One engine for both jobs: the model loads once.
  const engine = await Engine.open('builtin:tiny');
  const outputs: Record<string, string> = {};
  try {
    for (const [name, input] of Object.entries(jobs)) {
      await writeFile(path.join(dir, `${name}.job.json`), JSON.stringify(input, null, 2) + '\n');
      const spec = parseJobSpec(input);
      const bar = progressBar(name);
      const result = await runJob(spec, { force: true, engine, onProgress: bar.update });
      bar.done();
      outputs[name] = result.output;
      console.log(`${name}: ${result.output} (${result.provenance.frames} frames, ${result.provenance.timings.totalSeconds.toFixed(1)} s)`);
    }
  } finally {
    await engine.close();
  }

  const read = async (p: string, start: number, count: number): Promise<Frame[]> => {
    const frames: Frame[] = [];
    for await (const f of decodeFrames({ path: p, fps, startFrame: start, frameCount: count })) frames.push(f);
    return frames;
  };
  const picks = [0, 12, 24, 36, 47];
  const src = await read(source, 0, SOURCE_FRAMES);
  const fill = await read(outputs.fill!, 0, SOURCE_FRAMES);
  const ext = await read(outputs.extend!, 0, 24);
  const sheet = contactSheet(
    [
      picks.map((i) => src[i]!), // source
      picks.map((i) => fill[i]!), // fill result, same frames
      [...src.slice(SOURCE_FRAMES - 2), ...[0, 6, 12].map((i) => ext[i]!)], // tail, then the extension
    ],
    192,
  );
  const sheetPath = path.join(dir, 'contact-sheet.png');
  await writePng(sheetPath, sheet, { overwrite: true });
  console.log(`contact sheet: ${sheetPath} (rows: source; fill; last 2 source frames then extension frames 1, 7, 13)`);
  console.log('note: builtin:tiny is a test model — it proves the pipeline end to end and makes no real pictures.');
  return 0;
}
