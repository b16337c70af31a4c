/**
 * The multi-scale pipeline (LTX-Video 0.9.7/0.9.8) end to end with a reduced fixture: a
 * converted checkpoint named as the 2B 0.9.8 distilled release (recipe ltxv-2b-0.9.8-distilled:
 * first pass at ×2/3, latent upsampler ×2, a 3-step second pass), given a seeded random-weight
 * upsampler, renders every kind through the same engine and job runner as any model. A copy of
 * the same model without the upsampler runs the recipe's first pass at full size and says so.
 *
 * Checked as an editor would: frame counts and sizes, pixels outside the mask bit-exact, same
 * seed same bytes, the provenance naming both passes (sizes and steps), the upsampler's output
 * differing from the single-pass one, and one clear error for a size too small to halve.
 */
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobSpec, type JobSpecInput } from '../../protocol/index.ts';
import { Engine } from '../../companion/engine/engine.ts';
import { runJob } from '../../companion/jobs/run.ts';
import type { Progress } from '../../companion/jobs/render.ts';
import { rasterizeShapes } from '../../companion/masks/index.ts';
import { probe } from '../../companion/media/probe.ts';
import { importCheckpoint } from '../../companion/models/convert/index.ts';
import { modelDir } from '../../companion/models/registry.ts';
import { writeLtxvCheckpointFixture } from '../helpers/checkpoint.ts';
import { FPS, losslessClip, maskedChanges, readAll, tempDir } from '../helpers/fixtures.ts';
import { addUpsamplerFixture } from '../helpers/upsamplerFixture.ts';

const tmp = tempDir('reshoot-multiscale-');
process.env.RESHOOT_MODELS = path.join(tmp.dir, 'models');

const W = 192;
const H = 128;
const SRC = 12;
const sequence = { fps: '24000/1001', width: W, height: H };
const MS = 'fixture-098-distilled';
const SINGLE = 'fixture-098-distilled-no-upsampler';
let source = '';
const engines = new Map<string, Engine>();

beforeAll(async () => {
  source = await losslessClip(tmp.dir, 'source.mkv', W, H, SRC);
  const f = writeLtxvCheckpointFixture(path.join(tmp.dir, 'ckpt'), { version: '0.9.5', name: 'Lightricks/LTX-Video-0.9.8-2B-distilled' });
  const m = await importCheckpoint(f.folder, { id: MS });
  expect(m.recipe?.name).toBe('ltxv-2b-0.9.8-distilled');
  // The same model without an upsampler: a copy of the folder under another id.
  cpSync(modelDir(MS), modelDir(SINGLE), { recursive: true });
  const single = path.join(modelDir(SINGLE), 'model.json');
  writeFileSync(single, JSON.stringify({ ...JSON.parse(readFileSync(single, 'utf8')), id: SINGLE }, null, 2));
  addUpsamplerFixture(modelDir(MS), { vae: f.weights.vae });
  for (const id of [MS, SINGLE]) engines.set(id, await Engine.open(id, ['cpu']));
}, 300_000);
afterAll(async () => {
  for (const e of engines.values()) await e.close();
  tmp.cleanup();
});

const out = (name: string) => path.join(tmp.dir, name);
const sidecarOf = (r: { sidecar: string }) => JSON.parse(readFileSync(r.sidecar, 'utf8'));
const bytes = (fs: { data: Uint8Array }[]) => Buffer.concat(fs.map((f) => Buffer.from(f.data)));
const rect = { type: 'shapes' as const, shapes: [{ kind: 'rectangle' as const, feather: 0, keyframes: [{ frame: 0, x: 60, y: 40, width: 60, height: 40 }] }] };

/**
 * Both passes of a 192×128 window: ×0.6666666 truncated, then down to multiples of 32 → 96×64
 * (int(127.99) = 127 → 96, as the authors' int() does), then ×2 → 192×128; 2 steps asked, then
 * the recipe's 3.
 */
const TWO_PASSES = [
  { width: 96, height: 64, steps: 2 },
  { width: 192, height: 128, steps: 3 },
];

function extend(model: string, file: string, seed: number): JobSpecInput {
  return { kind: 'extend', model, prompt: 'more', seed, steps: 2, sequence, source: { path: source }, extend: { direction: 'tail', duration: { frames: 10 } }, output: { format: 'ffv1', path: out(file) } };
}

function fill(file: string, seed: number): JobSpecInput {
  return { kind: 'fill', model: MS, prompt: 'a red door', seed, steps: 2, sequence, source: { path: source }, mask: rect, output: { format: 'ffv1', path: out(file) } };
}

describe('multi-scale render (LTX-Video 0.9.8 distilled recipe, reduced fixture with an upsampler)', () => {
  it('extends by exactly the asked frames at the sequence size; provenance lists both passes; progress counts both', async () => {
    const progress: Progress[] = [];
    const r = await runJob(parseJobSpec(extend(MS, 'ext.mkv', 3)), { engine: engines.get(MS)!, onProgress: (p) => progress.push(p) });
    const info = await probe(r.output);
    expect(info.frameCount).toBe(10);
    expect([info.width, info.height]).toEqual([W, H]);
    expect(info.fps).toEqual({ num: 24000, den: 1001 });
    const sidecar = sidecarOf(r);
    expect(sidecar.sampling.passes).toEqual([TWO_PASSES]);
    expect(sidecar.sampling.notes).toEqual([]);
    expect(sidecar.model.recipe.pipeline).toBe('multi-scale');
    const steps = progress.filter((p) => p.phase === 'generating');
    expect(steps.map((p) => p.step)).toEqual([1, 2, 3, 4, 5]);
    expect(steps.every((p) => p.steps === 5 && p.fraction <= 1)).toBe(true);
  });

  it('same seed same bytes, another seed other bytes; the upsampled two-pass output differs from the one-pass render', async () => {
    const a = await runJob(parseJobSpec(extend(MS, 'ext-a.mkv', 3)), { engine: engines.get(MS)! });
    const b = await runJob(parseJobSpec(extend(MS, 'ext-b.mkv', 3)), { engine: engines.get(MS)! });
    const c = await runJob(parseJobSpec(extend(MS, 'ext-c.mkv', 4)), { engine: engines.get(MS)! });
    const one = await runJob(parseJobSpec(extend(SINGLE, 'ext-single.mkv', 3)), { engine: engines.get(SINGLE)! });
    const [fa, fb, fc, f1] = await Promise.all([a, b, c, one].map((r) => readAll(r.output, FPS, 10)));
    expect(bytes(fa!).equals(bytes(fb!))).toBe(true);
    expect(bytes(fa!).equals(bytes(fc!))).toBe(false);
    expect(bytes(fa!).equals(bytes(f1!))).toBe(false);
  });

  it('without the upsampler: the first pass only, at full size, and the provenance says why', async () => {
    const r = await runJob(parseJobSpec(extend(SINGLE, 'single.mkv', 3)), { engine: engines.get(SINGLE)! });
    expect((await probe(r.output)).frameCount).toBe(10);
    const sidecar = sidecarOf(r);
    expect(sidecar.sampling.passes).toEqual([[{ width: W, height: H, steps: 2 }]]);
    expect(sidecar.sampling.notes).toEqual([
      `recipe ltxv-2b-0.9.8-distilled is multi-scale, but model ${SINGLE} has no latent upsampler (ltxv-spatial-upscaler-0.9.8.safetensors): ran its first pass only, at full size`,
    ]);
  });

  it('fills: pixels outside the mask bit-exact on every frame, inside changed; same seed same bytes', async () => {
    const a = await runJob(parseJobSpec(fill('fa.mkv', 5)), { engine: engines.get(MS)! });
    const b = await runJob(parseJobSpec(fill('fb.mkv', 5)), { engine: engines.get(MS)! });
    expect(sidecarOf(a).sampling.passes).toHaveLength(1);
    expect(sidecarOf(a).sampling.passes[0]).toHaveLength(2);
    const src = await readAll(source, FPS, SRC);
    const [fa, fb] = await Promise.all([a, b].map((r) => readAll(r.output, FPS, SRC)));
    expect(fa).toHaveLength(SRC);
    const spec = parseJobSpec(fill('x.mkv', 5));
    if (spec.kind !== 'fill' || spec.mask.type !== 'shapes') throw new Error('unreachable');
    for (let f = 0; f < SRC; f++) {
      const { outside, changedInside } = maskedChanges(src[f]!, fa![f]!, rasterizeShapes(spec.mask, f, W, H));
      expect(outside, `frame ${f}`).toBe(0);
      expect(changedInside, `frame ${f}`).toBeGreaterThan(0);
    }
    expect(bytes(fa!).equals(bytes(fb!))).toBe(true);
  });

  it('fills (and replaces) around a small mask: the crop grows to the least size the first pass can take', async () => {
    const dot = { type: 'shapes' as const, shapes: [{ kind: 'rectangle' as const, feather: 0, keyframes: [{ frame: 0, x: 90, y: 60, width: 10, height: 10 }] }] };
    for (const kind of ['fill', 'replace'] as const) {
      const r = await runJob(parseJobSpec({ ...fill(`dot-${kind}.mkv`, 7), kind, mask: dot }), { engine: engines.get(MS)! });
      // 10×10 + 16 px margin = 42×42, grown to 64×64 (least for ×2/3 in 32 px cells): passes 32×32 then 64×64.
      expect(sidecarOf(r).sampling.passes).toEqual([
        [
          { width: 32, height: 32, steps: 2 },
          { width: 64, height: 64, steps: 3 },
        ],
      ]);
      const [src, got] = await Promise.all([readAll(source, FPS, SRC), readAll(r.output, FPS, SRC)]);
      const spec = parseJobSpec({ ...fill('x.mkv', 7), kind, mask: dot });
      if (spec.kind !== kind || spec.mask.type !== 'shapes') throw new Error('unreachable');
      for (let f = 0; f < SRC; f++) {
        const alpha = rasterizeShapes(spec.mask, f, W, H);
        for (let p = 0; p < W * H; p++) {
          if (alpha[p] !== 0) continue;
          if ([0, 1, 2].some((k) => src[f]!.data[p * 3 + k] !== got![f]!.data[p * 3 + k])) throw new Error(`${kind}: frame ${f} pixel ${p} outside the mask changed`);
        }
      }
    }
  });

  it('generates a shot from a still and bridges two clips, each window in two passes', async () => {
    const gen = await runJob(
      parseJobSpec({ kind: 'generate', model: MS, prompt: 'a shot', seed: 2, steps: 2, sequence, source: { path: source }, duration: { frames: 9 }, output: { format: 'ffv1', path: out('gen.mkv') } }),
      { engine: engines.get(MS)! },
    );
    const genFrames = await readAll(gen.output, FPS, 9);
    expect(genFrames).toHaveLength(9);
    // The still is the shot's first frame, as decoded: untouched.
    const [still] = await readAll(source, FPS, 1);
    expect(Buffer.from(genFrames[0]!.data).equals(Buffer.from(still!.data))).toBe(true);
    expect(sidecarOf(gen).sampling.passes.every((w: unknown[]) => w.length === 2)).toBe(true);

    const bridge = await runJob(
      parseJobSpec({ kind: 'bridge', model: MS, prompt: 'between', seed: 2, steps: 2, sequence, sources: { a: { path: source }, b: { path: source } }, gap: { frames: 6 }, output: { format: 'ffv1', path: out('bridge.mkv') } }),
      { engine: engines.get(MS)! },
    );
    expect((await probe(bridge.output)).frameCount).toBe(6);
    expect(sidecarOf(bridge).sampling.passes.every((w: unknown[]) => w.length === 2)).toBe(true);
  });

  it('refuses a size too small for the first pass in one clear error, leaving no output', async () => {
    const small = { fps: '24000/1001', width: 64, height: 32 };
    const clip = await losslessClip(tmp.dir, 'small.mkv', 64, 32, 4);
    const spec = parseJobSpec({ ...extend(MS, 'small-out.mkv', 1), sequence: small, source: { path: clip } });
    await expect(runJob(spec, { engine: engines.get(MS)! })).rejects.toMatchObject({
      code: 'bad_spec',
      message: expect.stringMatching(/working size 64×32 is too small for ltxv-2b-0\.9\.8-distilled's multi-scale pipeline.*at least 64 px/),
    });
    expect(existsSync(out('small-out.mkv'))).toBe(false);
    expect(readdirSync(tmp.dir).filter((n) => n.includes('small-out'))).toEqual([]);
  });
});
