import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as ort from 'onnxruntime-node';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTinyModel, tinyTransformerConfig } from '../../companion/models/tiny.ts';
import { ltxRope } from '../../companion/models/ltxv/rope.ts';
import { tokenizeBytes } from '../../companion/models/tokenizer.ts';
import { seededNormals } from '../../companion/models/weights.ts';

let dir: string;
const sessions: ort.InferenceSession[] = [];
async function open(file: string): Promise<ort.InferenceSession> {
  const s = await ort.InferenceSession.create(join(dir, file), { executionProviders: ['cpu'] });
  sessions.push(s);
  return s;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'reshoot-tiny-'));
  buildTinyModel(dir);
});
afterAll(async () => {
  for (const s of sessions) await s.release();
  rmSync(dir, { recursive: true, force: true });
});

describe('builtin:tiny graphs', () => {
  it('text encoder: embeds byte tokens and zeroes padding → [B, L, 32]', async () => {
    const s = await open('text_encoder.onnx');
    const a = tokenizeBytes('a red car', 32);
    const b = tokenizeBytes('', 32);
    const ids = new BigInt64Array(64);
    const mask = new BigInt64Array(64);
    ids.set(a.ids, 0);
    ids.set(b.ids, 32);
    mask.set(a.mask, 0);
    mask.set(b.mask, 32);
    const out = (await s.run({ input_ids: new ort.Tensor('int64', ids, [2, 32]), attention_mask: new ort.Tensor('int64', mask, [2, 32]) })).last_hidden_state;
    expect(out.dims).toEqual([2, 32, 32]);
    const data = out.data as Float32Array;
    const token = (b: number, l: number): number[] => Array.from(data.subarray((b * 32 + l) * 32, (b * 32 + l + 1) * 32));
    expect(token(0, 0).some((v) => v !== 0)).toBe(true);
    expect(token(0, 9).every((v) => v === 0)).toBe(true); // 'a red car' is 9 bytes
    expect(token(1, 0).every((v) => v === 0)).toBe(true);
    expect(token(0, 1)).toEqual(token(0, 5)); // both ' '
  });

  it('transformer: velocity [B, S, 384] for per-token timesteps', async () => {
    const s = await open('transformer.onnx');
    const c = tinyTransformerConfig;
    const [B, S, L, D] = [2, 2 * 2 * 3, 32, 64];
    const rope = ltxRope({ dim: D, frames: 2, height: 2, width: 3, frameRate: 24, spatial: 8, temporal: 2, ...c.rope });
    const tile = (t: Float32Array): Float32Array => Float32Array.from({ length: B * t.length }, (_, i) => t[i % t.length]);
    const out = (
      await s.run({
        hidden_states: new ort.Tensor('float32', seededNormals(1, B * S * 384), [B, S, 384]),
        encoder_hidden_states: new ort.Tensor('float32', seededNormals(2, B * L * 32), [B, L, 32]),
        encoder_attention_mask: new ort.Tensor('float32', new Float32Array(B * L).fill(1), [B, L]),
        timestep: new ort.Tensor('float32', new Float32Array(B * S).fill(500), [B, S]),
        rope_cos: new ort.Tensor('float32', tile(rope.cos), [B, S, D]),
        rope_sin: new ort.Tensor('float32', tile(rope.sin), [B, S, D]),
      })
    ).velocity;
    expect(out.dims).toEqual([B, S, 384]);
    const v = out.data as Float32Array;
    expect(v.every(Number.isFinite)).toBe(true);
    const rms = Math.sqrt(v.reduce((a, x) => a + x * x, 0) / v.length);
    expect(rms).toBeGreaterThan(0.05); // a non-trivial output, not ~0
  });

  describe('patch VAE', () => {
    const roundTrip = async (B: number, F: number, H: number, W: number): Promise<void> => {
      const enc = await open('vae_encoder.onnx');
      const dec = await open('vae_decoder.onnx');
      // Arbitrary float bits, including values outside [-1, 1], so any arithmetic would show.
      const sample = seededNormals(F * 100 + H, B * 3 * F * H * W);
      const latent = (await enc.run({ sample: new ort.Tensor('float32', sample, [B, 3, F, H, W]) })).latent;
      const f = 1 + (F - 1) / 2;
      expect(latent.dims).toEqual([B, 384, f, H / 8, W / 8]);
      const back = (await dec.run({ latent })).sample;
      expect(back.dims).toEqual([B, 3, F, H, W]);
      expect(Buffer.from((back.data as Float32Array).buffer).equals(Buffer.from(sample.buffer))).toBe(true);
    };
    it('round-trips 1 frame bit-exactly', () => roundTrip(1, 1, 16, 24));
    it('round-trips 3 frames bit-exactly', () => roundTrip(1, 3, 16, 24));
    it('round-trips 9 frames, batch 2, bit-exactly', () => roundTrip(2, 9, 16, 24));

    it('lays channels out as (rgb, dt, dy, dx) with the first frame coded alone', async () => {
      const enc = await open('vae_encoder.onnx');
      const [F, H, W] = [3, 16, 24];
      const sample = seededNormals(5, 3 * F * H * W);
      const latent = (await enc.run({ sample: new ort.Tensor('float32', sample, [1, 3, F, H, W]) })).latent.data as Float32Array;
      const [h, w] = [H / 8, W / 8];
      const px = (rgb: number, fr: number, y: number, x: number): number => sample[((rgb * F + fr) * H + y) * W + x];
      const lat = (c: number, f: number, y: number, x: number): number => latent[((c * 2 + f) * h + y) * w + x];
      for (const [rgb, dt, dy, dx, f, y, x] of [[0, 0, 0, 0, 0, 0, 0], [2, 1, 7, 3, 0, 1, 2], [1, 0, 5, 6, 1, 1, 0], [2, 1, 0, 7, 1, 0, 2]]) {
        const c = ((rgb * 2 + dt) * 8 + dy) * 8 + dx;
        const frame = f === 0 ? 0 : 2 * f + dt - 1; // group 0 = frame 0 twice; group f = frames 2f-1, 2f
        expect(lat(c, f, y, x)).toBe(px(rgb, frame, y * 8 + dy, x * 8 + dx));
      }
    });
  });
});

describe('building builtin:tiny', () => {
  it('is deterministic and fast: two builds give byte-identical files', () => {
    const other = mkdtempSync(join(tmpdir(), 'reshoot-tiny-again-'));
    try {
      buildTinyModel(other);
      const files = readdirSync(dir).sort();
      expect(readdirSync(other).sort()).toEqual(files);
      expect(files).toContain('transformer.onnx.data');
      for (const f of files) expect(readFileSync(join(other, f)).equals(readFileSync(join(dir, f))), f).toBe(true);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
