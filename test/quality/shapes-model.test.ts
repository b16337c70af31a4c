/**
 * builtin:shapes as shipped: it builds from models/shapes/ through the checkpoint import path,
 * and the graph the engine runs computes what the training code computed (same token layout,
 * RoPE coordinates, per-token timesteps), checked against numbers from
 * tools/train-shapes/reference.py. A model that trained on one layout and ran on another would
 * still "work" and make garbage; this is the test that would say so.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendConditioning } from '../../companion/engine/appended.ts';
import { generatedAlone, windowLayout } from '../../companion/engine/generate.ts';
import { concatTokens, framesToVideoTensor, latentFrames, latentToTokens, videoTensorToFrames } from '../../companion/engine/latents.ts';
import { suffixConditioning } from '../../companion/jobs/render.ts';
import { loadRuntime, type ModelRuntime } from '../../companion/engine/runtime.ts';
import { renderShapes, shapesClip } from '../../companion/media/shapes.ts';
import { ltxRope } from '../../companion/models/ltxv/rope.ts';
import { loadModel } from '../../companion/models/registry.ts';
import { buildShapesModel, SHAPES_ID, SHAPES_WEIGHTS_DIR, shapesSampling } from '../../companion/models/shapes.ts';
import { tempDir, useTestModelCache } from '../helpers/fixtures.ts';

useTestModelCache();

const reference = JSON.parse(readFileSync(new URL('./fixtures/shapes-reference.json', import.meta.url), 'utf8')) as {
  clip: { seed: number; frames: number; fps: number };
  patch: { spatial: number; temporal: number };
  rope: { grid: [number, number, number]; dim: number; byTemporal: Record<string, [number, number, number, number][]> };
  sigma: number;
  knownLatentFrames: number;
  latent: { sumAbs: number; samples: [number, number, number][] };
  velocity: { sumAbs: number; mean: number; samples: [number, number, number][] };
  contextFree: { tokens: number; sumAbs: number; samples: [number, number, number][] };
  appended: {
    window: { clipStart: number; frames: number; knownFrames: number; suffixAt: number; suffixFrames: number };
    generatedPerLatentFrame: number[];
    tokens: { count: number; sumAbs: number; samples: [number, number, number][] };
    rope: [number, number, number, number][];
    velocity: { sumAbs: number; samples: [number, number, number][] };
  };
};

let rt: ModelRuntime;
const tmp = tempDir();

beforeAll(async () => {
  rt = await loadRuntime(await loadModel(SHAPES_ID), 'cpu');
});
afterAll(async () => {
  await rt?.release();
  tmp.cleanup();
});

describe('builtin:shapes', () => {
  it('is a real model, not a test model, and says what it is', () => {
    const m = rt.manifest;
    expect(m.testModel).toBe(false);
    expect(m.description).toMatch(/synthetic shapes/);
    expect(m.description).toMatch(/not a general video model/);
    expect(m.transformer).toMatchObject({ numLayers: 6, numAttentionHeads: 4, attentionHeadDim: 64, inChannels: 64 });
    expect(m.latent).toEqual({ channels: 64, spatial: 8, temporal: 2, decoderReach: 0 });
    expect(m.extendContext).toBe(13);
    expect(m.scheduler.contextGuidance).toEqual(shapesSampling().contextGuidance);
    expect(m.transformer.rope.causalFix).toBe(true);
  });

  it('its ONNX VAE encoder and transformer compute what the training code computed on the same window', async () => {
    const { seed, frames, fps } = reference.clip;
    // The fixture was made over the shipped VAE's patch; both sides lay tokens and RoPE out from it.
    expect(rt.manifest.latent).toMatchObject(reference.patch);
    const video = framesToVideoTensor(renderShapes(shapesClip(seed), frames));
    const grid = { frames: latentFrames(frames, reference.patch.temporal), height: 8, width: 8 };
    const S = grid.frames * grid.height * grid.width;
    const C = rt.manifest.latent.channels;
    const x0 = latentToTokens(await rt.encodeVideo(video, frames, 64, 64), C, S);
    for (const [tok, ch, want] of reference.latent.samples) expect(x0[tok * C + ch], `latent token ${tok} channel ${ch}`).toBeCloseTo(want, 3);
    const cells = grid.height * grid.width;
    const x = new Float32Array(S * C);
    const timestep = new Float32Array(S);
    const s = reference.sigma;
    for (let t = 0; t < S; t++) {
      const known = t < reference.knownLatentFrames * cells;
      timestep[t] = known ? 0 : 1000 * s;
      for (let c = 0; c < C; c++) {
        const i = t * C + c;
        x[i] = known ? x0[i]! : (1 - s) * x0[i]! + s * Math.fround(Math.sin(1.3 * t + 0.37 * c));
      }
    }
    const rope = rt.rope(grid, fps);
    const v = await rt.velocity(x, 1, timestep, await rt.encodeText(''), rope);
    for (const [tok, ch, want] of reference.velocity.samples) expect(v[tok * C + ch], `token ${tok} channel ${ch}`).toBeCloseTo(want, 3);
    let sumAbs = 0;
    for (const a of v) sumAbs += Math.abs(a);
    expect(sumAbs / reference.velocity.sumAbs).toBeCloseTo(1, 4);

    // Context guidance's second pass: the generated tokens alone, as the sampler picks them.
    const mask = Float32Array.from(timestep, (t) => (t > 0 ? 1 : 0));
    const alone = generatedAlone(mask, rope)!;
    expect(alone.index.length).toBe(reference.contextFree.tokens);
    const sub = new Float32Array(alone.index.length * C);
    alone.index.forEach((t, k) => sub.set(x.subarray(t * C, (t + 1) * C), k * C));
    const vnc = await rt.velocity(sub, 1, new Float32Array(alone.index.length).fill(1000 * s), await rt.encodeText(''), alone.rope);
    for (const [tok, ch, want] of reference.contextFree.samples) expect(vnc[tok * C + ch], `context-free token ${tok} channel ${ch}`).toBeCloseTo(want, 3);
    let sumAbsNc = 0;
    for (const a of vnc) sumAbsNc += Math.abs(a);
    expect(sumAbsNc / reference.contextFree.sumAbs).toBeCloseTo(1, 4);
  });

  it('its RoPE tables are those of the training code for cells of 1, 2 and 4 frames (the time of a latent frame depends on it)', () => {
    const t = rt.manifest.transformer;
    const [frames, height, width] = reference.rope.grid;
    expect(Object.keys(reference.rope.byTemporal).sort()).toEqual(['1', '2', '4']);
    for (const [temporal, samples] of Object.entries(reference.rope.byTemporal)) {
      const { cos, sin } = ltxRope({
        dim: reference.rope.dim,
        frames,
        height,
        width,
        frameRate: reference.clip.fps,
        spatial: reference.patch.spatial,
        temporal: Number(temporal),
        ...t.rope,
        causalFix: true,
      });
      for (const [tok, ch, c, s] of samples) {
        expect(cos[tok * reference.rope.dim + ch], `temporal ${temporal}: cos of token ${tok} channel ${ch}`).toBeCloseTo(c, 5);
        expect(sin[tok * reference.rope.dim + ch], `temporal ${temporal}: sin of token ${tok} channel ${ch}`).toBeCloseTo(s, 5);
      }
    }
  });

  it("lays out a bridge with clip B appended (per-token conditioning) as the training code's bridge-append windows do", async () => {
    // tasks.ts's bridge window as render.ts's chain builds it: [A's last 5 frames | 7 gap + 5 slots of B, generated],
    // B's head appended at window frame 12 (engine/appended.ts). train.appended_window made the fixture.
    const { window: w, generatedPerLatentFrame, tokens, rope, velocity } = reference.appended;
    const { seed, fps } = reference.clip;
    const C = rt.manifest.latent.channels;
    const video = renderShapes(shapesClip(seed), w.clipStart + w.frames).slice(w.clipStart);
    const slots = [...video.slice(0, w.knownFrames), ...Array<null>(w.frames - w.knownFrames).fill(null)];
    const layout = windowLayout(rt.manifest, slots, slots.map(() => null), 64, 64);
    const cells = layout.grid.height * layout.grid.width;
    const truth = latentToTokens(await rt.encodeVideo(framesToVideoTensor(video), w.frames, 64, 64), C, layout.tokens);
    const x0 = new Float32Array(truth.length);
    const suffix = suffixConditioning(video.slice(w.suffixAt, w.suffixAt + w.suffixFrames), w.suffixAt, rt.manifest.latent.temporal);
    const appended = await appendConditioning(rt, [suffix], { frames: w.frames, width: 64, height: 64, fps }, layout.grid, x0, layout.tokenMask);
    // Which grid tokens are generated: A's latent frames known, B's latent frames past the appended two known.
    const perLatent = Array.from({ length: layout.grid.frames }, (_, f) => layout.tokenMask.subarray(f * cells, (f + 1) * cells).reduce((a, b) => a + b, 0));
    expect(perLatent).toEqual(generatedPerLatentFrame);
    // B's latent frames in the grid, encoded as a clip of their own, are the grid's own values (the groups line up).
    for (let t = 0; t < layout.tokens; t++) {
      if (layout.tokenMask[t] === 0 && t >= 3 * cells) for (const c of [0, 1, C - 1]) expect(x0[t * C + c], `B in the grid, token ${t}`).toBeCloseTo(truth[t * C + c]!, 3);
    }
    expect(appended.count).toBe(tokens.count);
    for (const [tok, ch, want] of tokens.samples) expect(appended.tokens[tok * C + ch], `appended token ${tok} channel ${ch}`).toBeCloseTo(want, 3);
    const D = reference.rope.dim;
    for (const [tok, ch, c, s] of rope) {
      expect(appended.rope.cos[tok * D + ch], `appended RoPE cos ${tok}/${ch}`).toBeCloseTo(c, 5);
      expect(appended.rope.sin[tok * D + ch], `appended RoPE sin ${tok}/${ch}`).toBeCloseTo(s, 5);
    }
    // The velocity of [appended | grid] with the generated grid tokens noised at σ, appended ones at t = 0.
    const sigma = reference.sigma;
    const A = appended.count;
    const x = new Float32Array((A + layout.tokens) * C);
    const timestep = new Float32Array(A + layout.tokens);
    x.set(appended.tokens);
    for (let t = 0; t < layout.tokens; t++) {
      const g = layout.tokenMask[t]!;
      timestep[A + t] = 1000 * sigma * g;
      for (let c = 0; c < C; c++) {
        const i = t * C + c;
        x[A * C + i] = g ? (1 - sigma) * truth[i]! + sigma * Math.fround(Math.sin(1.3 * t + 0.37 * c)) : truth[i]!;
      }
    }
    const grid = rt.rope(layout.grid, fps);
    const v = await rt.velocity(x, 1, timestep, await rt.encodeText(''), { cos: concatTokens(appended.rope.cos, grid.cos), sin: concatTokens(appended.rope.sin, grid.sin) });
    const vGrid = v.subarray(A * C);
    for (const [tok, ch, want] of velocity.samples) expect(vGrid[tok * C + ch], `grid token ${tok} channel ${ch}`).toBeCloseTo(want, 3);
    let sumAbs = 0;
    for (const a of vGrid) sumAbs += Math.abs(a);
    expect(sumAbs / velocity.sumAbs).toBeCloseTo(1, 4);
  });

  it('its VAE gives the family back at over 30 dB (a linear autoencoder: lossy, but only a little)', async () => {
    const frames = renderShapes(shapesClip(11), 17);
    const grid = { frames: latentFrames(17, rt.manifest.latent.temporal), height: 8, width: 8 };
    const decoded = await rt.decodeVideo(await rt.encodeVideo(framesToVideoTensor(frames), 17, 64, 64), grid.frames, grid.height, grid.width);
    const back = videoTensorToFrames(decoded, 17, 64, 64);
    let se = 0;
    frames.forEach((f, i) => f.data.forEach((v, k) => (se += (v - back[i]!.data[k]!) ** 2)));
    const psnr = 10 * Math.log10((255 * 255) / (se / (17 * 64 * 64 * 3)));
    expect(psnr).toBeGreaterThan(30);
  });

  it('ignores the prompt: it was trained without text, and cross-attention is zero', async () => {
    const grid = { frames: 2, height: 2, width: 2 };
    const C = rt.manifest.latent.channels;
    const x = Float32Array.from({ length: 8 * C }, (_, i) => Math.sin(i));
    const t = new Float32Array(8).fill(500);
    const a = await rt.velocity(x, 1, t, await rt.encodeText('a red circle'), rt.rope(grid, 24));
    const b = await rt.velocity(x, 1, t, await rt.encodeText('something else entirely'), rt.rope(grid, 24));
    expect(Array.from(a)).toEqual(Array.from(b));
  });

  /**
   * A copy of the shipped weights in `name`, with `file`'s safetensors header changed by `edit`
   * (a same-length rename, so the offsets stay valid).
   */
  function weightsWithHeader(name: string, file: string, edit: (header: string) => string): string {
    const dir = join(tmp.dir, name);
    mkdirSync(dir);
    for (const f of ['config.json', 'transformer.safetensors', 'vae.safetensors', 'sampling.json']) if (f !== file) copyFileSync(join(SHAPES_WEIGHTS_DIR, f), join(dir, f));
    const bytes = readFileSync(join(SHAPES_WEIGHTS_DIR, file));
    const header = bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8');
    const edited = edit(header);
    expect(edited).not.toBe(header);
    expect(edited.length).toBe(header.length);
    bytes.write(edited, 8, 'utf8');
    writeFileSync(join(dir, file), bytes);
    return dir;
  }

  it('a weights file with a missing tensor is refused, naming the tensor, before any graph is written', () => {
    const dir = weightsWithHeader('weights', 'transformer.safetensors', (h) => h.replace('"proj_in.weight"', '"proj_XX.weight"'));
    const out = join(tmp.dir, 'out');
    mkdirSync(out);
    expect(() => buildShapesModel(out, { weightsDir: dir })).toThrow(/lack tensor "proj_in\.weight"/);
    expect(() => readFileSync(join(out, 'transformer.onnx'))).toThrow();
  });

  it('a VAE file that does not say its patch is refused, naming the metadata, before any graph is written', () => {
    const dir = weightsWithHeader('no-patch', 'vae.safetensors', (h) => h.replace('"temporal":', '"temporXX":'));
    const out = join(tmp.dir, 'out-no-patch');
    mkdirSync(out);
    expect(() => buildShapesModel(out, { weightsDir: dir })).toThrow(/vae\.safetensors: metadata "temporal" \(the VAE's patch\) is missing/);
    expect(readdirSync(out)).toEqual([]);
  });
});
