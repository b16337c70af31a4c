import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as ort from 'onnxruntime-node';
import { ltxvTransformerGraph } from '../../companion/models/ltxv/transformer.ts';
import { ltxRope } from '../../companion/models/ltxv/rope.ts';
import { seededNormals, seededWeights } from '../../companion/models/weights.ts';
import type { TransformerConfig } from '../../companion/models/types.ts';
import { tempDir } from '../helpers/fixtures.ts';

/*
 * The LTX-Video transformer graph and its TypeScript RoPE against golden numbers from diffusers' own
 * LTXVideoTransformer3DModel.
 *
 * How the numbers below were made (throwaway scripts, nothing of upstream is in this repository):
 *   - upstream: huggingface/diffusers at commit 58eb52c0803ea9af3abec60841c2a093bdf1f951,
 *     src/diffusers/models/transformers/transformer_ltx.py (blob c33e0f61) imported UNMODIFIED; the helpers it
 *     imports (AdaLayerNormSingle, RMSNorm, PixArtAlphaCombinedTimestepSizeEmbeddings, Timesteps,
 *     TimestepEmbedding, get_timestep_embedding, PixArtAlphaTextProjection, FeedForward, GELU,
 *     AttentionModuleMixin.prepare_attention_mask/set_processor, and the NATIVE attention backend
 *     _native_attention that dispatch_attention_fn resolves to) copied verbatim from the same commit;
 *     config/loader/logging/deprecation mixins stubbed out.
 *   - PyTorch 1.13.1 CPU (Debian python3-torch 1.13.1+dfsg-4), float32, eval, no grad. The two PyTorch 2.x
 *     APIs that file needs were polyfilled as PyTorch defines them: torch.nn.RMSNorm (norm_q / norm_k:
 *     x · rsqrt(mean(x²) + eps) · weight) and F.scaled_dot_product_attention (the reference implementation in
 *     PyTorch's docs: softmax(q kᵀ / √d + mask) v); is_torch_version was stubbed so the processor's
 *     "torch ≥ 2.0" guard passes.
 *   - config: in_channels 8, out_channels 6, num_layers 2, attention_head_dim 8, num_attention_heads 2
 *     (inner dim 16, 16 % 6 = 4 padding channels: case "tA") or 3 (inner dim 24, 24 % 6 = 0: case "tB"),
 *     cross_attention_dim = inner dim, caption_channels 12, norm_eps 1e-6, everything else default.
 *   - weights: seededWeights(7) (companion/models/weights.ts) for exactly the graph's parameter list, written
 *     to a flat float32 file and loaded with load_state_dict(strict=True) (so names and shapes match too).
 *   - inputs (regenerated identically by `inputs()` below): B = 2, latent grid 3 × 4 × 5 (S = 60 tokens),
 *     hidden_states seededNormals(1) [2, 60, 8], encoder_hidden_states seededNormals(2) [2, 6, 12],
 *     encoder_attention_mask [[1,1,1,1,0,0],[1,1,1,1,1,1]] (0/1, as the pipelines pass it), per-token
 *     timestep [2, 60] = min(1000, 400·|seededNormals(3)|) with timestep[0,0] = 0, timestep[0,1] = 1000.
 *   - `plain`: called as LTXPipeline calls it: num_frames 3, height 4, width 5,
 *     rope_interpolation_scale = (8 / 24, 32, 32) (frame rate 24).
 *     `causal`: called as LTXConditionPipeline calls it: video_coords =
 *     _scale_video_ids(_prepare_video_ids(2, 3, 4, 5), scale_factor=32, scale_factor_t=8, frame_index=0)
 *     (the pipeline's own static methods, copied verbatim from pipeline_ltx_condition.py at that commit:
 *     frame coordinate (f·8 + 1 − 8).clamp(min=0)), then .float() and [:, 0] *= 1 / 24, exactly as the
 *     pipeline does before the denoising loop.
 *   - recorded: `at` = output at flat indices (101·k) mod 720 (k < 48), mean and mean square of all
 *     720 outputs; `cos0`/`sin0` = token 0's whole RoPE row (grid (0,0,0): angle −freq_k, so it lays
 *     out every frequency); `cosAt`/`sinAt` = RoPE tables [60, D] at (37·k) mod (60·D), k < 24.
 *
 * Measured when recorded (all 720 outputs, ours vs upstream): tA max |Δ| 1.8e-5 (max |out| 3.7),
 * tB 2.1e-5 (max |out| 4.5); RoPE tables tA ≤ 6e-8, tB ≤ 4.1e-4 before rope.ts followed torch's linspace (below).
 */

/** Output bound: max |Δ| < 1e-4 · max(1, max |output|), as the VAE's parity tests. */
const TOLERANCE = 1e-4;
/** RoPE tables are cos/sin of float32 angles: a faithful port agrees to float32 rounding. */
const ROPE_TOLERANCE = 1e-6;

interface Golden {
  at: number[];
  mean: number;
  meanSquare: number;
  cos0: number[];
  sin0: number[];
  cosAt: number[];
  sinAt: number[];
}

const UPSTREAM: Record<'tA' | 'tB', Record<'plain' | 'causal', Golden>> = {
  tA: {
    plain: {
      at: [0.1717379, 1.681188, 1.418698, 0.7018519, -1.49397, -0.9985698, -1.262509, 0.9109419, -0.0346496, 1.497531, 1.222495, -1.482878, -0.4570231, -0.2720568, -0.1666213, 2.646495, 0.3599526, 0.157932, 0.1727349, 1.631557, -0.06669991, 1.178399, 0.09956159, 0.8445932, -0.0651177, 0.8300531, 0.4541936, 1.191146, -0.04470355, -0.5158799, 0.7672382, 1.06635, -1.016245, 2.297244, 0.5645353, 0.1102907, 0.7935217, 0.3815295, 0.9850498, 1.39395, -0.05959869, 0.2665059, 0.8824524, 1.665848, -1.02961, 0.1703583, 0.6837606, 0.9305863],
      mean: 0.144866025,
      meanSquare: 1.05537134,
      cos0: [1.0, 1.0, 1.0, 1.0, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, 0.99999982, 0.99999982, 0.99999982, 0.99999982, 0.99999982, 0.99999982],
      sin0: [0.0, 0.0, 0.0, 0.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385],
      cosAt: [1.0, -4.371139e-08, 0.9999998, 0.7074093, -4.371139e-08, 0.04906765, -0.7070464, 1.0, 0.1467305, 0.9999998, 1.0, 0.04906765, 0.7074093, 1.0, 0.09801713, -0.5002031, 1.0, 0.05233597, -0.5007661, -0.7070464, 0.1045284, 0.1467305, 0.9999998, 1.0],
      sinAt: [0.0, -1.0, -0.0005992385, 0.7068042, -1.0, -0.9987954, 0.7071671, 0.0, -0.9891765, -0.0005992385, 0.0, -0.9987954, 0.7068042, 0.0, -0.9951847, 0.8659081, 0.0, -0.9986295, -0.8655826, 0.7071671, -0.9945219, -0.9891765, -0.0005992385, 0.0],
    },
    causal: {
      at: [0.1717106, 1.685545, 1.418825, 0.7020336, -1.510515, -0.9996321, -1.257946, 0.9193833, -0.03181187, 1.497127, 1.237862, -1.461601, -0.4562478, -0.2717295, -0.2005351, 2.654794, 0.354268, 0.1689112, 0.1744433, 1.632006, -0.08212399, 1.163833, 0.0963024, 0.8408265, -0.06705406, 0.8167716, 0.4410755, 1.197351, -0.04924022, -0.5290445, 0.775959, 1.087582, -1.018797, 2.32794, 0.5687233, 0.1124839, 0.7912368, 0.3649183, 0.99536, 1.391205, -0.05149836, 0.2477752, 0.8760074, 1.664198, -1.031112, 0.1628954, 0.6863341, 0.9296714],
      mean: 0.144669885,
      meanSquare: 1.05292926,
      cos0: [1.0, 1.0, 1.0, 1.0, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, 0.99999982, 0.99999982, 0.99999982, 0.99999982, 0.99999982, 0.99999982],
      sin0: [0.0, 0.0, 0.0, 0.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385],
      cosAt: [1.0, -4.371139e-08, 0.9999998, 0.7074093, -4.371139e-08, 0.04906765, -0.7070464, 1.0, 0.1467305, 0.9999998, 1.0, 0.04906765, 0.7074093, 1.0, 0.09801713, -0.8658999, 1.0, 0.006544857, -0.0003936616, -0.7070464, 0.05887078, 0.1467305, 0.9999998, 1.0],
      sinAt: [0.0, -1.0, -0.0005992385, 0.7068042, -1.0, -0.9987954, 0.7071671, 0.0, -0.9891765, -0.0005992385, 0.0, -0.9987954, 0.7068042, 0.0, -0.9951847, 0.5002173, 0.0, -0.9999786, -0.9999999, 0.7071671, -0.9982656, -0.9891765, -0.0005992385, 0.0],
    },
  },
  tB: {
    plain: {
      at: [0.1353784, 0.505947, 0.4893849, -0.4625419, 0.5434966, 1.397856, 0.9498795, -0.4878275, -0.4652527, 0.88, 1.419172, 0.121192, 0.1161829, 0.5155547, -1.878951, -3.187158, 0.6928959, 1.227251, 0.2275315, 1.332327, 1.192869, 0.6911585, 0.08896518, 1.67885, 0.007725952, 1.52414, 1.024094, -0.399377, -0.3546272, -1.595506, 1.026414, 0.232978, 0.08343189, -1.014323, 0.8966802, 1.696633, 0.08460297, 2.503002, 2.385837, -1.08832, -0.3688868, -0.02446936, 0.3206639, -1.05927, -0.881515, 2.221063, 0.1004426, -0.03390852],
      mean: 0.2930397,
      meanSquare: 1.45651546,
      cos0: [-4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -0.75461197, -0.75461197, -0.75461197, -0.75461197, -0.75461197, -0.75461197, 0.96908039, 0.96908039, 0.96908039, 0.96908039, 0.96908039, 0.96908039, 0.99999982, 0.99999982, 0.99999982, 0.99999982, 0.99999982, 0.99999982],
      sin0: [-1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -0.65617132, -0.65617132, -0.65617132, -0.65617132, -0.65617132, -0.65617132, -0.24674532, -0.24674532, -0.24674532, -0.24674532, -0.24674532, -0.24674532, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385],
      cosAt: [-4.371139e-08, 0.9690804, -4.371139e-08, 0.9690804, 0.04906765, 0.2316264, -0.754612, 0.9999998, 0.9521056, 0.0002566103, -0.754612, 0.7074093, 0.9690804, 0.05233597, 0.9690804, -4.371139e-08, -0.9762934, 0.04906765, -0.5002031, 0.2696185, 0.0002566103, 0.9521056, -0.7070464, -0.754612],
      sinAt: [-1.0, -0.2467453, -1.0, -0.2467453, -0.9987954, 0.9728048, -0.6561713, -0.0005992385, -0.3057696, 1.0, -0.6561713, 0.7068042, -0.2467453, -0.9986295, -0.2467453, -1.0, 0.2164513, -0.9987954, 0.8659081, -0.9629672, 1.0, -0.3057696, 0.7071671, -0.6561713],
    },
    causal: {
      at: [0.1164149, 0.5200523, 0.4667809, -0.4379039, 0.4657502, 1.337747, 0.963814, -0.5151243, -0.4899485, 0.8100075, 1.39829, -0.006452043, 0.1055328, 0.4667835, -1.832224, -3.113367, 0.7284519, 1.223364, 0.2493102, 1.321241, 1.216695, 0.6299341, 0.118819, 1.593962, 0.0113671, 1.451465, 1.01174, -0.4776352, -0.3347204, -1.620974, 1.060598, 0.2756504, 0.07192066, -0.9465333, 0.9201356, 1.686961, 0.1212734, 2.518477, 2.388914, -1.085857, -0.3196311, -0.02166316, 0.313893, -0.9845402, -0.9077274, 2.136576, 0.0413029, -0.03371761],
      mean: 0.295669369,
      meanSquare: 1.47189703,
      cos0: [-4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -4.3711388e-08, -0.75461197, -0.75461197, -0.75461197, -0.75461197, -0.75461197, -0.75461197, 0.96908039, 0.96908039, 0.96908039, 0.96908039, 0.96908039, 0.96908039, 0.99999982, 0.99999982, 0.99999982, 0.99999982, 0.99999982, 0.99999982],
      sin0: [-1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -0.65617132, -0.65617132, -0.65617132, -0.65617132, -0.65617132, -0.65617132, -0.24674532, -0.24674532, -0.24674532, -0.24674532, -0.24674532, -0.24674532, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385, -0.0005992385],
      cosAt: [-4.371139e-08, 0.9690804, -4.371139e-08, 0.9690804, 0.04906765, 0.2316264, -0.754612, 0.9999998, 0.9521056, 0.0002566103, -0.754612, 0.7074093, 0.9690804, 0.006544857, 0.9690804, -4.371139e-08, -0.9762934, 0.04906765, -0.8658999, -0.6549044, 0.0002566103, 0.9521056, -0.7070464, -0.754612],
      sinAt: [-1.0, -0.2467453, -1.0, -0.2467453, -0.9987954, 0.9728048, -0.6561713, -0.0005992385, -0.3057696, 1.0, -0.6561713, 0.7068042, -0.2467453, -0.9999786, -0.2467453, -1.0, 0.2164513, -0.9987954, 0.5002173, -0.7557117, 1.0, -0.3057696, 0.7071671, -0.6561713],
    },
  },
};

const rope = { baseNumFrames: 20, baseHeight: 2048, baseWidth: 2048, theta: 10000 };
const grid = { frames: 3, height: 4, width: 5 };
const B = 2;
const S = 60;
const L = 6;

const config = (heads: number): TransformerConfig => ({
  inChannels: 8,
  outChannels: 6,
  numAttentionHeads: heads,
  attentionHeadDim: 8,
  numLayers: 2,
  crossAttentionDim: heads * 8,
  captionChannels: 12,
  normEps: 1e-6,
  rope,
});

const CASES = [
  { tag: 'tA', heads: 2 },
  { tag: 'tB', heads: 3 },
] as const;

function inputs(): { hidden: Float32Array; text: Float32Array; mask: Float32Array; timestep: Float32Array } {
  const timestep = Float32Array.from(seededNormals(3, B * S), (v) => Math.min(1000, Math.abs(v) * 400));
  timestep[0] = 0;
  timestep[1] = 1000;
  return {
    hidden: seededNormals(1, B * S * 8),
    text: seededNormals(2, B * L * 12),
    mask: Float32Array.from([1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1]),
    timestep,
  };
}

const tables = (D: number, causalFix: boolean) => ltxRope({ dim: D, ...grid, frameRate: 24, spatial: 32, temporal: 8, ...rope, causalFix });

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('reshoot-upstream-transformer-');
});
afterAll(() => tmp.cleanup());

function maxDiff(got: ArrayLike<number>, at: (k: number) => number, want: readonly number[]): number {
  let m = 0;
  want.forEach((v, k) => (m = Math.max(m, Math.abs(got[at(k)] - v))));
  return m;
}

describe('LTX-Video transformer vs diffusers (golden numbers)', () => {
  for (const { tag, heads } of CASES) {
    const D = heads * 8;
    it(`${tag} (inner dim ${D}, ${D % 6} padding channels): graph output matches diffusers for LTXPipeline and LTXConditionPipeline RoPE`, async () => {
      const c = config(heads);
      const saved = ltxvTransformerGraph(c, seededWeights(7)).save(tmp.dir, `${tag}.onnx`);
      const session = await ort.InferenceSession.create(saved.onnxPath, { executionProviders: ['cpu'] });
      const inp = inputs();
      try {
        for (const variant of ['plain', 'causal'] as const) {
          const golden = UPSTREAM[tag][variant];
          const t = tables(D, variant === 'causal');
          const perBatch = (x: Float32Array): Float32Array => {
            const out = new Float32Array(B * x.length);
            for (let b = 0; b < B; b++) out.set(x, b * x.length);
            return out;
          };
          const result = await session.run({
            hidden_states: new ort.Tensor('float32', inp.hidden, [B, S, 8]),
            encoder_hidden_states: new ort.Tensor('float32', inp.text, [B, L, 12]),
            encoder_attention_mask: new ort.Tensor('float32', inp.mask, [B, L]),
            timestep: new ort.Tensor('float32', inp.timestep, [B, S]),
            rope_cos: new ort.Tensor('float32', perBatch(t.cos), [B, S, D]),
            rope_sin: new ort.Tensor('float32', perBatch(t.sin), [B, S, D]),
          });
          const v = result.velocity.data as Float32Array;
          expect(result.velocity.dims).toEqual([B, S, 6]);
          let sum = 0;
          let sumSquares = 0;
          let maxAbs = 0;
          for (const x of v) {
            sum += x;
            sumSquares += x * x;
            maxAbs = Math.max(maxAbs, Math.abs(x));
          }
          const err = maxDiff(v, (k) => (101 * k) % v.length, golden.at);
          console.log(`transformer ${tag} ${variant}: max abs error vs diffusers ${err.toExponential(2)} (48 samples), max |out| ${maxAbs.toFixed(3)}`);
          expect(maxAbs).toBeGreaterThan(0.5);
          expect(err).toBeLessThan(TOLERANCE * Math.max(1, maxAbs));
          expect(Math.abs(sum / v.length - golden.mean)).toBeLessThan(1e-5);
          expect(Math.abs(sumSquares / v.length - golden.meanSquare)).toBeLessThan(1e-5 * golden.meanSquare);
        }
      } finally {
        await session.release();
      }
    });
  }

  // Inner dim 16: D // 6 = 2 frequencies, linspace(0, 1, 2) = [0, 1] — nothing to round differently.
  it('tA: ltxRope tables equal diffusers’ LTXVideoRotaryPosEmbed (plain and causal coords) to float32 rounding', () => {
    for (const variant of ['plain', 'causal'] as const) {
      const golden = UPSTREAM.tA[variant];
      const t = tables(16, variant === 'causal');
      const n = t.cos.length;
      expect(maxDiff(t.cos, (k) => k, golden.cos0)).toBeLessThan(ROPE_TOLERANCE);
      expect(maxDiff(t.sin, (k) => k, golden.sin0)).toBeLessThan(ROPE_TOLERANCE);
      expect(maxDiff(t.cos, (k) => (37 * k) % n, golden.cosAt)).toBeLessThan(ROPE_TOLERANCE);
      expect(maxDiff(t.sin, (k) => (37 * k) % n, golden.sinAt)).toBeLessThan(ROPE_TOLERANCE);
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
      expect(maxDiff(t.cos, (k) => k, golden.cos0)).toBeLessThan(ROPE_TOLERANCE);
      expect(maxDiff(t.sin, (k) => k, golden.sin0)).toBeLessThan(ROPE_TOLERANCE);
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
        expect(maxDiff(got, at, want)).toBeLessThan(ROPE_TOLERANCE);
      }
    }
  });
});
