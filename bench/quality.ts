/**
 * Quality of builtin:shapes against ground truth, on more held-out clips than the tests use,
 * each task next to its baseline in the same run (test/quality/tasks.ts does the work):
 *
 *   npm run bench:quality
 *
 *   extend   centroid error (px) over 12 new frames: per-token conditioning, blending, hold-last,
 *            windows of 5 known frames (a third of the window) next to the model's 13, and the
 *            model without its context guidance
 *   long     the same over 24 new frames (six windows, each continuing the last one's output; the
 *            demo's length): model, without context guidance, hold-last
 *   fill     PSNR (dB) inside a mask over a moving shape vs the clean background: model, ring mean,
 *            without context guidance
 *   bridge   PSNR (dB) of a 7-frame gap vs the true frames, and centroid error: model, cross-fade,
 *            without context guidance
 *   steps    extend and fill at 8, 16 (the model's default) and 32 steps
 *
 * Environment: BENCH_CLIPS (12) clips, seeds 101…; BENCH_SKIP=steps,long leaves the step sweep and/or
 * the long extension out.
 * RESHOOT_MODELS as usual (builtin:shapes builds on first use).
 */
import { Engine } from '../companion/engine/engine.ts';
import { SHAPES_ID } from '../companion/models/shapes.ts';
import { bridgeTask, extendTask, fillTask, openShapesTwin } from '../test/quality/tasks.ts';
import { envInt, envSkip, fmt, machine, printMachine, tempDir } from './common.ts';

/** The same weights sampled without context guidance (models/shapes/sampling.json), side by side. */
const PLAIN_ID = 'shapes-no-context-guidance';
/** New frames of the long extension: one second, as the demo extends. */
const LONG_NEW = 24;
const SKIP = envSkip(['steps', 'long']);
const CLIPS = Array.from({ length: envInt('BENCH_CLIPS', 12) }, (_, i) => 101 + i);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
const stat = (xs: number[], d = 2) => `${fmt(mean(xs), d)} ± ${fmt(sd(xs), d)}`;

async function main(): Promise<void> {
  printMachine(await machine());
  const tmp = tempDir('reshoot-bench-quality-');
  const engine = await Engine.open(SHAPES_ID);
  const plain = await openShapesTwin(PLAIN_ID, { withoutContextGuidance: { id: PLAIN_ID } });
  const started = performance.now();
  try {
    console.log(`model ${SHAPES_ID} (${engine.manifest!.description.slice(0, 60)}…), clips ${CLIPS[0]}–${CLIPS.at(-1)}`);
    const o = { engine, dir: tmp.dir };
    const cg = engine.manifest!.scheduler.contextGuidance;
    console.log(`context guidance: ${cg ? `scale ${cg.scale} at σ ≥ ${cg.minSigma}` : 'none'}; "without" = ${PLAIN_ID}, the same weights without it`);
    const p0 = { engine: plain, dir: tmp.dir, model: PLAIN_ID };

    const ext = { perToken: [] as number[], blend: [] as number[], hold: [] as number[], third: [] as number[], without: [] as number[] };
    for (const clip of CLIPS) {
      const p = await extendTask(clip, { ...o, conditioning: 'per-token' });
      const b = await extendTask(clip, { ...o, conditioning: 'blend' });
      const t = await extendTask(clip, { ...o, conditioning: 'per-token', context: 5 });
      ext.perToken.push(p.model);
      ext.blend.push(b.model);
      ext.hold.push(p.holdLast);
      ext.third.push(t.model);
      ext.without.push((await extendTask(clip, p0)).model);
    }
    console.log(`\nextend, centroid error px (mean ± sd over ${CLIPS.length} clips; lower is better)`);
    console.log(`  per-token ${stat(ext.perToken)}   blend ${stat(ext.blend)}   hold-last ${stat(ext.hold)}`);
    console.log(`  per-token / hold-last ${fmt(mean(ext.perToken) / mean(ext.hold), 2)}   blend / hold-last ${fmt(mean(ext.blend) / mean(ext.hold), 2)}`);
    console.log(`  without context guidance ${stat(ext.without)}   with / without ${fmt(mean(ext.perToken) / mean(ext.without), 2)}`);
    console.log(`  worst clip per-token / hold-last ${fmt(Math.max(...ext.perToken.map((v, i) => v / ext.hold[i]!)), 2)}`);
    console.log(`  context (per-token): ${engine.manifest!.extendContext ?? 'a third of the window'} known frames ${stat(ext.perToken)}   5 known frames ${stat(ext.third)}`);

    if (!SKIP.has('long')) {
      const long = { model: [] as number[], without: [] as number[], hold: [] as number[] };
      for (const clip of CLIPS) {
        const p = await extendTask(clip, { ...o, newFrames: LONG_NEW });
        long.model.push(p.model);
        long.hold.push(p.holdLast);
        long.without.push((await extendTask(clip, { ...p0, newFrames: LONG_NEW })).model);
      }
      console.log(`\nlong extend, centroid error px over ${LONG_NEW} new frames`);
      console.log(`  model ${stat(long.model)}   without context guidance ${stat(long.without)}   hold-last ${stat(long.hold)}`);
      console.log(`  model / hold-last ${fmt(mean(long.model) / mean(long.hold), 2)}   without / hold-last ${fmt(mean(long.without) / mean(long.hold), 2)}`);
    }

    const fill = { perToken: [] as number[], blend: [] as number[], ring: [] as number[], without: [] as number[] };
    for (const clip of CLIPS) {
      const p = await fillTask(clip, { ...o, conditioning: 'per-token' });
      const b = await fillTask(clip, { ...o, conditioning: 'blend' });
      fill.perToken.push(p.model);
      fill.blend.push(b.model);
      fill.ring.push(p.ringMean);
      fill.without.push((await fillTask(clip, p0)).model);
    }
    console.log(`\nfill, PSNR dB inside the mask vs the clean background (higher is better)`);
    console.log(`  per-token ${stat(fill.perToken)}   blend ${stat(fill.blend)}   ring-mean ${stat(fill.ring)}`);
    console.log(`  per-token − ring-mean ${fmt(mean(fill.perToken) - mean(fill.ring), 2)} dB   worst clip ${fmt(Math.min(...fill.perToken.map((v, i) => v - fill.ring[i]!)), 2)} dB`);
    console.log(`  without context guidance ${stat(fill.without)}   with − without ${fmt(mean(fill.perToken) - mean(fill.without), 2)} dB`);

    const br = { model: [] as number[], fade: [] as number[], modelC: [] as number[], fadeC: [] as number[], without: [] as number[], withoutC: [] as number[] };
    for (const clip of CLIPS) {
      const r = await bridgeTask(clip, o);
      br.model.push(r.model);
      br.fade.push(r.crossFade);
      br.modelC.push(r.modelCentroid);
      br.fadeC.push(r.crossFadeCentroid);
      const w = await bridgeTask(clip, p0);
      br.without.push(w.model);
      br.withoutC.push(w.modelCentroid);
    }
    console.log(`\nbridge, 7-frame gap`);
    console.log(`  PSNR dB: model ${stat(br.model)}   cross-fade ${stat(br.fade)}   difference ${fmt(mean(br.model) - mean(br.fade), 2)} dB, worst clip ${fmt(Math.min(...br.model.map((v, i) => v - br.fade[i]!)), 2)} dB`);
    console.log(`  centroid error px: model ${stat(br.modelC)}   cross-fade ${stat(br.fadeC)}`);
    console.log(`  without context guidance: ${stat(br.without)} dB, centroid ${stat(br.withoutC)} px`);

    if (!SKIP.has('steps')) {
      console.log(`\nsteps (first ${Math.min(6, CLIPS.length)} clips): extend centroid px / fill PSNR dB`);
      for (const steps of [8, 16, 32]) {
        const e: number[] = [];
        const f: number[] = [];
        for (const clip of CLIPS.slice(0, 6)) {
          e.push((await extendTask(clip, { ...o, steps })).model);
          f.push((await fillTask(clip, { ...o, steps })).model);
        }
        console.log(`  ${String(steps).padStart(2)} steps: extend ${fmt(mean(e), 2)} px   fill ${fmt(mean(f), 2)} dB`);
      }
    }
  } finally {
    await engine.close();
    await plain.close();
    tmp.cleanup();
  }
  console.log(`\ntotal ${fmt((performance.now() - started) / 1000)} s`);
}

await main();
