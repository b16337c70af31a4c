import { base64Floats as floats } from '../helpers/golden.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as ort from 'onnxruntime-node';
import { ltxvTransformerGraph } from '../../companion/models/ltxv/transformer.ts';
import { ltxRope } from '../../companion/models/ltxv/rope.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { caseInputs, caseRope, caseWeights, TRANSFORMER_CASES } from '../helpers/upstreamTransformer.ts';

/*
 * The LTX-Video transformer graph and its TypeScript RoPE against golden numbers from the authors' own
 * Transformer3DModel (every output) and from diffusers' LTXVideoRotaryPosEmbed (RoPE tables).
 *
 * fixtures/ltxv-transformer-authors.json (throwaway script; nothing of upstream is in this repository):
 *   - Lightricks/LTX-Video at 5260738e171955b66c0827f9af7e84d68fd1d919, ltx_video/models/transformers/
 *     (transformer3d.py, attention.py) imported unmodified, with the diffusers helpers they import copied
 *     verbatim from huggingface/diffusers 58eb52c0 and the framework mixins stubbed (the same setup as
 *     test/engine/upstream-pipeline.test.ts); PyTorch 1.13.1 CPU float32, F.scaled_dot_product_attention
 *     polyfilled with the reference formula in PyTorch's docs, torch.linspace as its CUDA kernel computes it.
 *   - config: the authors' OURS_TRANSFORMER_CONFIG with the sizes of each case in
 *     test/helpers/upstreamTransformer.ts (tA inner dim 16, tB 24, two layers; w2048 the real 2B width
 *     32 × 64, 128 latent channels, one layer), timestep_scale_multiplier off (inputs are already σ·1000);
 *     weights from the same WeightSource renamed by their TRANSFORMER_KEYS_RENAME_DICT, strict load.
 *   - inputs: caseInputs() (seeded), indices_grid from their SymmetricPatchifier coordinates and
 *     latent_to_pixel_coords_from_factors((8, 32, 32), causal_fix), time · 1/24, as the pipeline does;
 *     both frame positionings (plain: 0.9.0/0.9.1, causal: 0.9.5+).
 *   - recorded: every output (float32, base64), the whole RoPE tables of tA/tB, and 1024 entries of the
 *     tables at the real widths 2048 and 4096.
 * Measured: tA 1.8e-5, tB 2.1e-5 (max |out| 3.7, 4.5), w2048 5.2e-6 (max |out| 1.45), all outputs.
 * (w2048 uses formula weights: 10⁸ seeded normals would take half a minute on their own. Its RoPE
 * tables at that width are checked directly by the real-width tables test below.)
 *
 * The diffusers numbers below (RoPE tables only) were made with diffusers at 58eb52c0,
 * src/diffusers/models/transformers/transformer_ltx.py imported unmodified (PyTorch 1.13.1 CPU):
 *   - `plain`: rope_interpolation_scale = (8 / 24, 32, 32) (LTXPipeline); `causal`: video_coords from
 *     LTXConditionPipeline's _prepare_video_ids / _scale_video_ids (frame coordinate (f·8 + 1 − 8).clamp(0)),
 *     [:, 0] *= 1 / 24; grid 3 × 4 × 5.
 *   - recorded: `cos0`/`sin0` = token 0's whole RoPE row (grid (0,0,0): angle −freq_k, so it lays out every
 *     frequency); `cosAt`/`sinAt` = RoPE tables [60, D] at (37·k) mod (60·D), k < 24.
 */

/** Output bound: max |Δ| < 1e-4 · max(1, max |output|), as the VAE's parity tests. */
const TOLERANCE = 1e-4;
/** RoPE tables are cos/sin of float32 angles: a faithful port agrees to float32 rounding. */
const ROPE_TOLERANCE = 1e-6;
/** At the real widths: two float32 steps of the largest angle (see the test). */
const REAL_WIDTH_ROPE_TOLERANCE = 2e-3;

interface Golden {
  cos0: number[];
  sin0: number[];
  cosAt: number[];
  sinAt: number[];
}

const UPSTREAM: Record<'tA' | 'tB', Record<'plain' | 'causal', Golden>> = {
  tA: {
    plain: {
      cos0: [1.0, 1.0, 1.0, 1.0, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, 0.99999982, 0.99999982, 0.99999982, 0.99999982, 0.99999982, 0.99999982],
      sin0: [0.0, 0.0, 0.0, 0.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385],
      cosAt: [1.0, -4.371139e-08, 0.9999998, 0.7074093, -4.371139e-08, 0.04906765, -0.7070464, 1.0, 0.1467305, 0.9999998, 1.0, 0.04906765, 0.7074093, 1.0, 0.09801713, -0.5002031, 1.0, 0.05233597, -0.5007661, -0.7070464, 0.1045284, 0.1467305, 0.9999998, 1.0],
      sinAt: [0.0, -1.0, -0.0005992385, 0.7068042, -1.0, -0.9987954, 0.7071671, 0.0, -0.9891765, -0.0005992385, 0.0, -0.9987954, 0.7068042, 0.0, -0.9951847, 0.8659081, 0.0, -0.9986295, -0.8655826, 0.7071671, -0.9945219, -0.9891765, -0.0005992385, 0.0],
    },
    causal: {
      cos0: [1.0, 1.0, 1.0, 1.0, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, 0.99999982, 0.99999982, 0.99999982, 0.99999982, 0.99999982, 0.99999982],
      sin0: [0.0, 0.0, 0.0, 0.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385],
      cosAt: [1.0, -4.371139e-08, 0.9999998, 0.7074093, -4.371139e-08, 0.04906765, -0.7070464, 1.0, 0.1467305, 0.9999998, 1.0, 0.04906765, 0.7074093, 1.0, 0.09801713, -0.8658999, 1.0, 0.006544857, -0.0003936616, -0.7070464, 0.05887078, 0.1467305, 0.9999998, 1.0],
      sinAt: [0.0, -1.0, -0.0005992385, 0.7068042, -1.0, -0.9987954, 0.7071671, 0.0, -0.9891765, -0.0005992385, 0.0, -0.9987954, 0.7068042, 0.0, -0.9951847, 0.5002173, 0.0, -0.9999786, -0.9999999, 0.7071671, -0.9982656, -0.9891765, -0.0005992385, 0.0],
    },
  },
  tB: {
    plain: {
      cos0: [-4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -0.75461197, -0.75461197, -0.75461197, -0.75461197, -0.75461197, -0.75461197, 0.96908039, 0.96908039, 0.96908039, 0.96908039, 0.96908039, 0.96908039, 0.99999982, 0.99999982, 0.99999982, 0.99999982, 0.99999982, 0.99999982],
      sin0: [-1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -0.65617132, -0.65617132, -0.65617132, -0.65617132, -0.65617132, -0.65617132, -0.24674532, -0.24674532, -0.24674532, -0.24674532, -0.24674532, -0.24674532, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385],
      cosAt: [-4.371139e-08, 0.9690804, -4.371139e-08, 0.9690804, 0.04906765, 0.2316264, -0.754612, 0.9999998, 0.9521056, 0.0002566103, -0.754612, 0.7074093, 0.9690804, 0.05233597, 0.9690804, -4.371139e-08, -0.9762934, 0.04906765, -0.5002031, 0.2696185, 0.0002566103, 0.9521056, -0.7070464, -0.754612],
      sinAt: [-1.0, -0.2467453, -1.0, -0.2467453, -0.9987954, 0.9728048, -0.6561713, -0.0005992385, -0.3057696, 1.0, -0.6561713, 0.7068042, -0.2467453, -0.9986295, -0.2467453, -1.0, 0.2164513, -0.9987954, 0.8659081, -0.9629672, 1.0, -0.3057696, 0.7071671, -0.6561713],
    },
    causal: {
      cos0: [-4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -0.75461197, -0.75461197, -0.75461197, -0.75461197, -0.75461197, -0.75461197, 0.96908039, 0.96908039, 0.96908039, 0.96908039, 0.96908039, 0.96908039, 0.99999982, 0.99999982, 0.99999982, 0.99999982, 0.99999982, 0.99999982],
      sin0: [-1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -0.65617132, -0.65617132, -0.65617132, -0.65617132, -0.65617132, -0.65617132, -0.24674532, -0.24674532, -0.24674532, -0.24674532, -0.24674532, -0.24674532, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385],
      cosAt: [-4.371139e-08, 0.9690804, -4.371139e-08, 0.9690804, 0.04906765, 0.2316264, -0.754612, 0.9999998, 0.9521056, 0.0002566103, -0.754612, 0.7074093, 0.9690804, 0.006544857, 0.9690804, -4.371139e-08, -0.9762934, 0.04906765, -0.8658999, -0.6549044, 0.0002566103, 0.9521056, -0.7070464, -0.754612],
      sinAt: [-1.0, -0.2467453, -1.0, -0.2467453, -0.9987954, 0.9728048, -0.6561713, -0.0005992385, -0.3057696, 1.0, -0.6561713, 0.7068042, -0.2467453, -0.9999786, -0.2467453, -1.0, 0.2164513, -0.9987954, 0.5002173, -0.7557117, 1.0, -0.3057696, 0.7071671, -0.6561713],
    },
  },
};

const rope = { baseNumFrames: 20, baseHeight: 2048, baseWidth: 2048, theta: 10000 };
const grid = { frames: 3, height: 4, width: 5 };
const tables = (D: number, causalFix: boolean) => ltxRope({ dim: D, ...grid, frameRate: 24, spatial: 32, temporal: 8, ...rope, causalFix });

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('reshoot-upstream-transformer-');
});
afterAll(() => tmp.cleanup());

function maxDiffAt(got: ArrayLike<number>, at: (k: number) => number, want: readonly number[]): number {
  let m = 0;
  want.forEach((v, k) => (m = Math.max(m, Math.abs(got[at(k)] - v))));
  return m;
}

function maxDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i]! - want[i]!));
  return m;
}

interface AuthorsGolden {
  cases: Record<string, Record<'plain' | 'causal', { out: string; cos?: string; sin?: string }>>;
  rope: Record<string, { cosAt: string; sinAt: string }>;
}
const AUTHORS = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'ltxv-transformer-authors.json'), 'utf8')) as AuthorsGolden;

describe('LTX-Video transformer vs the authors’ Transformer3DModel (every output)', () => {
  for (const c of TRANSFORMER_CASES) {
    const D = c.config.numAttentionHeads * c.config.attentionHeadDim;
    it(`${c.tag} (inner dim ${D}, ${c.config.numLayers} layer${c.config.numLayers > 1 ? 's' : ''}): every output equals the authors' for plain and causal frame coordinates`, async () => {
      const saved = ltxvTransformerGraph(c.config, caseWeights(c)).save(tmp.dir, `${c.tag}.onnx`);
      const session = await ort.InferenceSession.create(saved.onnxPath, { executionProviders: ['cpu'] });
      const inp = caseInputs(c);
      const B = c.batch;
      const S = c.grid.frames * c.grid.height * c.grid.width;
      const L = c.textTokens;
      try {
        for (const variant of ['plain', 'causal'] as const) {
          const golden = AUTHORS.cases[c.tag]![variant];
          const t = caseRope(c, variant === 'causal');
          if (golden.cos) {
            expect(maxDiff(t.cos, floats(golden.cos))).toBeLessThan(ROPE_TOLERANCE);
            expect(maxDiff(t.sin, floats(golden.sin!))).toBeLessThan(ROPE_TOLERANCE);
          }
          const perBatch = (x: Float32Array): Float32Array => {
            const out = new Float32Array(B * x.length);
            for (let b = 0; b < B; b++) out.set(x, b * x.length);
            return out;
          };
          const result = await session.run({
            hidden_states: new ort.Tensor('float32', inp.hidden, [B, S, c.config.inChannels]),
            encoder_hidden_states: new ort.Tensor('float32', inp.text, [B, L, c.config.captionChannels]),
            encoder_attention_mask: new ort.Tensor('float32', inp.mask, [B, L]),
            timestep: new ort.Tensor('float32', inp.timestep, [B, S]),
            rope_cos: new ort.Tensor('float32', perBatch(t.cos), [B, S, D]),
            rope_sin: new ort.Tensor('float32', perBatch(t.sin), [B, S, D]),
          });
          const v = result.velocity.data as Float32Array;
          const want = floats(golden.out);
          expect(result.velocity.dims).toEqual([B, S, c.config.outChannels]);
          expect(v.length).toBe(want.length);
          const maxAbs = want.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
          const err = maxDiff(v, want);
          console.log(`transformer ${c.tag} ${variant}: max abs error vs the authors' ${err.toExponential(2)} (all ${v.length} outputs), max |out| ${maxAbs.toFixed(3)}`);
          expect(maxAbs).toBeGreaterThan(0.5);
          expect(err).toBeLessThan(TOLERANCE * Math.max(1, maxAbs));
        }
      } finally {
        await session.release();
      }
    }, 300_000);
  }

  /*
   * Where RoPE rounding matters: 341 (2B) and 682 (13B) frequencies, the top ones near π/2·10⁴ ≈ 15708
   * rad, where one float32 step of the angle is 9.8e-4. The authors' θ^e is torch's float32 pow,
   * accurate to 1–2 ulp but not correctly rounded (SLEEF on CPU, powf on CUDA), rope.ts rounds the
   * exact power: the two agree on most frequencies and differ by a float32 step on some, which moves
   * a top-frequency entry by up to ~1e-3 — as much as the authors' own code moves between devices.
   * Bound: 2e-3 per entry (two float32 steps of the largest angle), and 90% of entries within 1e-6.
 * Whole tables are 49k / 98k values each: the golden holds 1024 entries at 7919·k mod size (7919 is
 * prime, so they spread over every token and frequency).
   * The golden took torch.linspace as its CUDA kernel computes it (see linspace01 in rope.ts); on CPU
   * PyTorch rounds 76 of 341 / 163 of 682 exponents differently and the tables move by up to 5.8e-3.
   */
  it.each([2048, 4096])('RoPE tables at the real width %i agree with the authors’ precompute_freqs_cis to float32 resolution of the angles', (D) => {
    const c = TRANSFORMER_CASES.find((x) => x.tag === 'w2048')!;
    for (const variant of ['plain', 'causal'] as const) {
      const golden = AUTHORS.rope[`${D}-${variant}`]!;
      const t = caseRope(c, variant === 'causal', D);
      const at = (k: number) => (7919 * k) % t.cos.length;
      const cosAt = floats(golden.cosAt);
      const sinAt = floats(golden.sinAt);
      const gotCos = Float32Array.from(cosAt, (_, k) => t.cos[at(k)]!);
      const gotSin = Float32Array.from(sinAt, (_, k) => t.sin[at(k)]!);
      const exact = cosAt.filter((v, k) => Math.abs(gotCos[k]! - v) <= ROPE_TOLERANCE).length;
      console.log(`rope ${D} ${variant}: max |Δ| cos ${maxDiff(gotCos, cosAt).toExponential(2)}, sin ${maxDiff(gotSin, sinAt).toExponential(2)}; ${exact} of ${cosAt.length} within 1e-6`);
      expect(maxDiff(gotCos, cosAt)).toBeLessThan(REAL_WIDTH_ROPE_TOLERANCE);
      expect(maxDiff(gotSin, sinAt)).toBeLessThan(REAL_WIDTH_ROPE_TOLERANCE);
      expect(exact).toBeGreaterThan(0.9 * cosAt.length);
    }
  });
});

describe('LTX-Video RoPE vs diffusers (golden numbers)', () => {
  // Inner dim 16: D // 6 = 2 frequencies, linspace(0, 1, 2) = [0, 1] — nothing to round differently.
  it('tA: ltxRope tables equal diffusers’ LTXVideoRotaryPosEmbed (plain and causal coords) to float32 rounding', () => {
    for (const variant of ['plain', 'causal'] as const) {
      const golden = UPSTREAM.tA[variant];
      const t = tables(16, variant === 'causal');
      const n = t.cos.length;
      expect(maxDiffAt(t.cos, (k) => k, golden.cos0)).toBeLessThan(ROPE_TOLERANCE);
      expect(maxDiffAt(t.sin, (k) => k, golden.sin0)).toBeLessThan(ROPE_TOLERANCE);
      expect(maxDiffAt(t.cos, (k) => (37 * k) % n, golden.cosAt)).toBeLessThan(ROPE_TOLERANCE);
      expect(maxDiffAt(t.sin, (k) => (37 * k) % n, golden.sinAt)).toBeLessThan(ROPE_TOLERANCE);
    }
  });

  /*
   * Found by these goldens: diffusers computes the frequency exponents with torch.linspace(0, 1, D // 6)
   * in float32, whose kernel takes step = f32(1 / (n − 1)) and returns k·step for the lower half but
   * 1 − (n − 1 − k)·step for the upper half. rope.ts used to round k / (n − 1) directly: at D = 24 the
   * exponent 2/3 was one ulp off (tables off by 4.1e-4); at the real D = 2048, 101 of 341 exponents
   * (tables off by up to 7.7e-3). rope.ts now follows torch's formula (linspace01).
   */
  it('tB: ltxRope tables equal diffusers’ (exponents rounded as torch.linspace does)', () => {
    for (const variant of ['plain', 'causal'] as const) {
      const golden = UPSTREAM.tB[variant];
      const t = tables(24, variant === 'causal');
      expect(maxDiffAt(t.cos, (k) => k, golden.cos0)).toBeLessThan(ROPE_TOLERANCE);
      expect(maxDiffAt(t.sin, (k) => k, golden.sin0)).toBeLessThan(ROPE_TOLERANCE);
    }
  });

  it('tB: ltxRope tables equal diffusers’ at strided positions too', () => {
    for (const variant of ['plain', 'causal'] as const) {
      const golden = UPSTREAM.tB[variant];
      const t = tables(24, variant === 'causal');
      const n = t.cos.length;
      for (const [got, want, at] of [
        [t.cos, golden.cos0, (k: number) => k],
        [t.sin, golden.sin0, (k: number) => k],
        [t.cos, golden.cosAt, (k: number) => (37 * k) % n],
        [t.sin, golden.sinAt, (k: number) => (37 * k) % n],
      ] as const) {
        expect(maxDiffAt(got, at, want)).toBeLessThan(ROPE_TOLERANCE);
      }
    }
  });
});
