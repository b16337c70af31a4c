/**
 * Child process of bench/engine.ts (part b): a 2-second 1080p fill through runJob, alone in its
 * process so its peak RSS is the job's. Not meant to be run by hand, but it works:
 *
 *   node --import tsx bench/fill-rss-child.ts <work folder>
 *
 * Writes a synthetic 1920x1080 ProRes 422 HQ source (BENCH_FILL_FRAMES, default 48 frames at
 * 24000/1001), then runs a fill with a moving feathered ellipse mask (builtin:tiny, the model's
 * default steps and guidance) into ProRes 422 HQ. Prints "PHASE job" when the job starts (the
 * parent splits its memory samples there) and one "RESULT {json}" line at the end.
 */
import path from 'node:path';
import { parseJobSpec } from '../protocol/index.ts';
import { runJob } from '../companion/jobs/run.ts';
import { probe, writeSyntheticClip } from '../companion/media/index.ts';
import { envInt } from './common.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: fill-rss-child.ts <work folder>');
const FRAMES = envInt('BENCH_FILL_FRAMES', 48);
const W = 1920;
const H = 1080;

const t0 = performance.now();
const src = path.join(dir, 'source.mov');
await writeSyntheticClip({ path: src, format: 'prores422hq', width: W, height: H, fps: { num: 24000, den: 1001 }, frames: FRAMES });
const sourceSeconds = (performance.now() - t0) / 1000;
const maxRssSourceKB = process.resourceUsage().maxRSS;

const spec = parseJobSpec({
  kind: 'fill',
  prompt: 'clean plate, empty street',
  seed: 7,
  sequence: { fps: '24000/1001', width: W, height: H },
  source: { path: src },
  mask: {
    type: 'shapes',
    shapes: [{
      kind: 'ellipse',
      feather: 40,
      keyframes: [
        { frame: 0, cx: 640, cy: 480, rx: 260, ry: 180 },
        { frame: FRAMES - 1, cx: 1200, cy: 620, rx: 340, ry: 230 },
      ],
    }],
  },
  output: { format: 'prores422hq', path: path.join(dir, 'fill.mov') },
});

console.log('PHASE job');
const t1 = performance.now();
const result = await runJob(spec, { force: true });
const jobSeconds = (performance.now() - t1) / 1000;
const out = await probe(result.output);

console.log(
  'RESULT ' +
    JSON.stringify({
      frames: out.frameCount,
      size: `${out.width}x${out.height}`,
      codec: `${out.codec} ${out.profile ?? ''}`.trim(),
      sourceSeconds,
      jobSeconds,
      maxRssSourceKB,
      maxRssKB: process.resourceUsage().maxRSS,
      model: result.provenance.model.id,
      steps: spec.steps ?? null,
      timings: result.provenance.timings,
      stepMsCount: result.stats.stepMs.length,
    }),
);
