/**
 * Does the whole sampling loop turn the trained denoiser into the right pictures? Each task runs
 * builtin:shapes through runJob on held-out clips of the shapes family (job spec → decode →
 * windows → sampler → decode → composite → encode) and scores the result against the ground
 * truth (tasks.ts), next to two references scored the same way:
 *   - its untrained twin (same graphs and VAE, seeded random transformer weights): the trained
 *     model must be measurably closer to the truth, or training did not reach the pictures;
 *   - a simple baseline per task (hold the last frame, ring-mean fill, cross-fade).
 * Thresholds come from measured numbers with margin (bench/RESULTS.md, `npm run bench:quality`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../companion/engine/engine.ts';
import { SHAPES_ID } from '../../companion/models/shapes.ts';
import { tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { bridgeTask, extendTask, fillTask, openShapesTwin } from './tasks.ts';

useTestModelCache();

/** Held-out clips (training seeds start at 1,000,000). */
const CLIPS = [101, 102, 103];
const CONTROL_ID = 'shapes-untrained';
const PLAIN_ID = 'shapes-no-context-guidance';

const tmp = tempDir();
let engine: Engine;
let control: Engine;
let plain: Engine;

type Result<T extends (...a: never[]) => Promise<unknown>> = Awaited<ReturnType<T>>;
const trained = { extend: [] as Result<typeof extendTask>[], fill: [] as Result<typeof fillTask>[], bridge: [] as Result<typeof bridgeTask>[] };
const untrained = { extend: [] as Result<typeof extendTask>[], fill: [] as Result<typeof fillTask>[], bridge: [] as Result<typeof bridgeTask>[] };

beforeAll(async () => {
  engine = await Engine.open(SHAPES_ID);
  control = await openShapesTwin(CONTROL_ID, { untrained: { id: CONTROL_ID, seed: 7 } });
  plain = await openShapesTwin(PLAIN_ID, { withoutContextGuidance: { id: PLAIN_ID } });
  for (const clip of CLIPS) {
    for (const [e, into, model] of [[engine, trained, SHAPES_ID], [control, untrained, CONTROL_ID]] as const) {
      const o = { engine: e, dir: tmp.dir, model };
      into.extend.push(await extendTask(clip, o));
      into.fill.push(await fillTask(clip, o));
      into.bridge.push(await bridgeTask(clip, o));
    }
  }
});
afterAll(async () => {
  await engine?.close();
  await control?.close();
  await plain?.close();
  tmp.cleanup();
});

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmt = (x: number) => x.toFixed(2);
const show = (name: string, xs: number[]) => `${name} ${xs.map(fmt).join(' ')} (mean ${fmt(mean(xs))})`;

describe('builtin:shapes against ground truth', () => {
  it('training reaches the pictures: on every task the trained model is closer to the truth than its untrained twin', () => {
    const rows = {
      'extend PSNR dB': [trained.extend.map((r) => r.modelPsnr), untrained.extend.map((r) => r.modelPsnr)],
      'fill PSNR dB in the mask': [trained.fill.map((r) => r.model), untrained.fill.map((r) => r.model)],
      'bridge PSNR dB': [trained.bridge.map((r) => r.model), untrained.bridge.map((r) => r.model)],
    };
    for (const [task, [t, u]] of Object.entries(rows)) console.log(`${task}: ${show('trained', t!)}; ${show('untrained', u!)}`);
    expect(mean(rows['extend PSNR dB'][0]!)).toBeGreaterThan(mean(rows['extend PSNR dB'][1]!) + MARGIN_VS_UNTRAINED_DB);
    expect(mean(rows['fill PSNR dB in the mask'][0]!)).toBeGreaterThan(mean(rows['fill PSNR dB in the mask'][1]!) + MARGIN_VS_UNTRAINED_DB);
    expect(mean(rows['bridge PSNR dB'][0]!)).toBeGreaterThan(mean(rows['bridge PSNR dB'][1]!) + MARGIN_VS_UNTRAINED_DB);
  });

  it('fill: pixels outside the mask are the source, bit for bit', () => {
    for (const r of [...trained.fill, ...untrained.fill]) expect(r.changedOutside).toBe(0);
  });

  it('is deterministic by seed: the same seed gives the same bytes, another seed other pictures', async () => {
    const first = trained.extend[0]!;
    const again = await extendTask(CLIPS[0]!, { engine, dir: tmp.dir });
    const other = await extendTask(CLIPS[0]!, { engine, dir: tmp.dir, seed: 2 });
    const b64 = (r: typeof first) => r.frames.map((f) => Buffer.from(f.data).toString('base64'));
    expect(b64(again)).toEqual(b64(first));
    expect(other.frames.some((f, i) => Buffer.compare(f.data, first.frames[i]!.data) !== 0)).toBe(true);
  });

  it('per-token timesteps vs latent blending on the same fills and extends (reported; per-token is the default)', async () => {
    const blendFill: number[] = [];
    const blendExtend: number[] = [];
    for (const clip of CLIPS) {
      blendFill.push((await fillTask(clip, { engine, dir: tmp.dir, conditioning: 'blend' })).model);
      blendExtend.push((await extendTask(clip, { engine, dir: tmp.dir, conditioning: 'blend' })).modelPsnr);
    }
    const fillP = mean(trained.fill.map((r) => r.model));
    const extP = mean(trained.extend.map((r) => r.modelPsnr));
    console.log(`fill PSNR dB: per-token ${fmt(fillP)}, blend ${fmt(mean(blendFill))}; extend PSNR dB: per-token ${fmt(extP)}, blend ${fmt(mean(blendExtend))}`);
    expect(fillP).toBeGreaterThan(mean(blendFill) + PER_TOKEN_VS_BLEND_FILL_DB);
  });

  // The targets of issue 13. Fill holds since session 8 (the engine stopped growing a patch VAE's
  // fill masks by a cell and takes fill crops at the model's own pixels), bridge since session 9
  // (a 4-head × 6-layer model trained on a GPU), extend since session 10 (context guidance,
  // below). Here: extend 4.61 px against hold-last 10.79 (0.43), fill 37.15 dB against the ring
  // mean's 26.43, bridge 26.26 against the cross-fade's 23.65. Over 24 clips through the engine
  // (bench/RESULTS.md): extend 5.75 against 9.40 (0.61, at the line), fill +9.98 dB, bridge +2.48 dB.
  it('extend: the shapes continue their trajectories, centroid error well below holding the last frame', () => {
    const model = trained.extend.map((r) => r.model);
    const hold = trained.extend.map((r) => r.holdLast);
    console.log(`extend centroid error px: ${show('model', model)}; ${show('hold-last', hold)}`);
    expect(mean(model)).toBeLessThan(0.6 * mean(hold));
  });

  it('context guidance is what keeps the shapes moving: the same weights sampled without it extend worse', async () => {
    const without: number[] = [];
    for (const clip of CLIPS) without.push((await extendTask(clip, { engine: plain, dir: tmp.dir, model: PLAIN_ID })).model);
    const withIt = trained.extend.map((r) => r.model);
    console.log(`extend centroid error px: ${show('with context guidance', withIt)}; ${show('without', without)}`);
    expect(mean(withIt)).toBeLessThan(mean(without) - CONTEXT_GUIDANCE_GAIN_PX);
  });

  it('fill: the masked region matches the clean background, PSNR well above the ring-mean fill', () => {
    const model = trained.fill.map((r) => r.model);
    const ring = trained.fill.map((r) => r.ringMean);
    console.log(`fill PSNR dB in the mask: ${show('model', model)}; ${show('ring-mean', ring)}`);
    expect(mean(model)).toBeGreaterThan(mean(ring) + 3);
  });

  it('bridge: the gap is closer to the true middle frames than a cross-fade', () => {
    const model = trained.bridge.map((r) => r.model);
    const fade = trained.bridge.map((r) => r.crossFade);
    console.log(`bridge PSNR dB: ${show('model', model)}; ${show('cross-fade', fade)}`);
    expect(mean(model)).toBeGreaterThan(mean(fade) + 1);
  });
});

// From the measured numbers (bench/RESULTS.md), with margin.
const MARGIN_VS_UNTRAINED_DB = 4; // measured +9.2 to +26.6 dB (3 clips, session-9 weights with context guidance; +8.8 to +10.2 with the 3,337-step weights)
const CONTEXT_GUIDANCE_GAIN_PX = 1; // measured 4.61 against 7.46 px (3 clips, session 10); 5.75 against 8.08 over 24 (bench:quality)
const PER_TOKEN_VS_BLEND_FILL_DB = 1; // measured +10.7 dB (3 clips, session-9 weights with context guidance; +1.3 with the 3,337-step weights)
