/**
 * A converted checkpoint renders end to end: the reduced-size LTX-Video fixture (real layout,
 * real tensor names, T5 + tokenizer + causal VAE) is imported, then jobs run through the same
 * engine and job runner as any model. The pictures are noise (random weights); what is checked
 * is what an editor checks: frame counts, untouched pixels bit-exact, determinism by seed, and
 * that the model's own rules (T5 tokens, timestep-conditioned decoding with its noise, the
 * prompt cache beside the model) are followed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobSpec, type JobSpecInput } from '../../protocol/index.ts';
import { Engine } from '../../companion/engine/engine.ts';
import { runJob } from '../../companion/jobs/run.ts';
import { rasterizeShapes } from '../../companion/masks/index.ts';
import { probe } from '../../companion/media/probe.ts';
import { importCheckpoint } from '../../companion/models/convert/index.ts';
import { modelDir } from '../../companion/models/registry.ts';
import { writeLtxvCheckpointFixture } from '../helpers/checkpoint.ts';
import { FPS, losslessClip, maskedChanges, readAll, tempDir } from '../helpers/fixtures.ts';

const tmp = tempDir('reshoot-converted-');
// Converted models go into this test's own cache (imports are per checkpoint folder).
process.env.RESHOOT_MODELS = path.join(tmp.dir, 'models');

const W = 96;
const H = 64;
const SRC = 12;
const sequence = { fps: '24000/1001', width: W, height: H };
let source = '';
const engines = new Map<string, Engine>();

beforeAll(async () => {
  source = await losslessClip(tmp.dir, 'source.mkv', W, H, SRC);
  for (const version of ['0.9.1', '0.9.5'] as const) {
    const f = writeLtxvCheckpointFixture(path.join(tmp.dir, `ckpt-${version}`), { version });
    const m = await importCheckpoint(f.folder, { id: `fixture-${version}` });
    engines.set(version, await Engine.open(m.id, ['cpu']));
  }
}, 300_000);
afterAll(async () => {
  for (const e of engines.values()) await e.close();
  tmp.cleanup();
});

const rect = { type: 'shapes' as const, shapes: [{ kind: 'rectangle' as const, feather: 0, keyframes: [{ frame: 0, x: 30, y: 16, width: 36, height: 28 }] }] };

function fill(version: string, out: string, seed: number): JobSpecInput {
  return { kind: 'fill', model: `fixture-${version}`, prompt: 'a red door', seed, steps: 2, sequence, source: { path: source }, mask: rect, output: { format: 'ffv1', path: out } };
}

describe.each(['0.9.1', '0.9.5'] as const)('LTX-Video %s fixture, converted', (version) => {
  it('extends a clip by exactly the asked frames at the sequence size, and records model and provider', async () => {
    const out = path.join(tmp.dir, `tail-${version}.mkv`);
    const spec = parseJobSpec({ kind: 'extend', model: `fixture-${version}`, prompt: 'more', seed: 1, steps: 2, sequence, source: { path: source }, extend: { direction: 'tail', duration: { frames: 10 } }, output: { format: 'ffv1', path: out } });
    const r = await runJob(spec, { engine: engines.get(version)! });
    const info = await probe(r.output);
    expect(info.frameCount).toBe(10);
    expect([info.width, info.height]).toEqual([W, H]);
    const sidecar = JSON.parse(readFileSync(r.sidecar, 'utf8'));
    expect(sidecar.model).toMatchObject({ id: `fixture-${version}`, testModel: false });
    expect(sidecar.provider).toBe('cpu');
    expect(sidecar.providerFallbacks).toEqual([]);
    // Which graph variant ran: converted at the default precision, fused attention, fp32 throughout.
    expect(sidecar.transformer).toEqual({ attention: 'fused', compute: 'fp32', weights: 'fp32' });
  });

  it('fills: pixels outside the mask bit-exact on every frame, inside changed; same seed same bytes', async () => {
    const a = await runJob(parseJobSpec(fill(version, path.join(tmp.dir, `fa-${version}.mkv`), 5)), { engine: engines.get(version)! });
    const b = await runJob(parseJobSpec(fill(version, path.join(tmp.dir, `fb-${version}.mkv`), 5)), { engine: engines.get(version)! });
    const c = await runJob(parseJobSpec(fill(version, path.join(tmp.dir, `fc-${version}.mkv`), 6)), { engine: engines.get(version)! });
    const src = await readAll(source, FPS, SRC);
    const [fa, fb, fc] = await Promise.all([a, b, c].map((r) => readAll(r.output, FPS, SRC)));
    const spec = parseJobSpec(fill(version, 'x.mkv', 5));
    if (spec.kind !== 'fill' || spec.mask.type !== 'shapes') throw new Error('unreachable');
    for (let f = 0; f < SRC; f++) {
      const { outside, changedInside } = maskedChanges(src[f]!, fa![f]!, rasterizeShapes(spec.mask, f, W, H));
      expect(outside, `frame ${f}`).toBe(0);
      expect(changedInside, `frame ${f}`).toBeGreaterThan(0);
    }
    const bytes = (fs: typeof fa) => Buffer.concat(fs!.map((f) => Buffer.from(f.data)));
    expect(bytes(fa).equals(bytes(fb))).toBe(true);
    expect(bytes(fa).equals(bytes(fc))).toBe(false);
  });

  it('keeps prompt embeddings beside the model, so the text encoder is not run again for them', () => {
    const cache = path.join(modelDir(`fixture-${version}`), '.prompt-cache');
    expect(existsSync(cache)).toBe(true);
    // 'more', 'a red door' and the empty negative prompt.
    expect(readdirSync(cache).filter((f) => f.endsWith('.f32')).length).toBe(3);
  });
});
