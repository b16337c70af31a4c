import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as ort from 'onnxruntime-node';
import { parseT5Config } from '../../companion/models/t5/config.ts';
import { t5EncoderGraph } from '../../companion/models/t5/encoder.ts';
import { mulberry32, seededWeights } from '../../companion/models/weights.ts';
import { tempDir } from '../helpers/fixtures.ts';

/*
 * The T5 encoder graph against golden numbers from HF transformers' own T5EncoderModel.
 *
 * How the numbers below were made (throwaway scripts, nothing of upstream is in this repository):
 *   - upstream: huggingface/transformers at commit 5936c8c57ccb2bda3b3f28856a7ef992c5c9f451 (main of
 *     2023-09-22, version 4.34.0.dev0), src/transformers/models/t5/modeling_t5.py (blob 33f29298) and
 *     configuration_t5.py imported UNMODIFIED. (The huggingface/transformers snapshot is over the fetch tool's
 *     size limit, so the files were read at that upstream commit from a fork's snapshot that contains it,
 *     lih1130/newT5.) NewGELUActivation (activations.py) and ModuleUtilsMixin.get_extended_attention_mask /
 *     invert_attention_mask / get_head_mask (modeling_utils.py) copied verbatim from the same commit;
 *     PretrainedConfig / PreTrainedModel stubbed to a plain nn.Module holding the config (dtype float32, no
 *     weight init: every weight is loaded), docstring decorators and logging stubbed.
 *   - PyTorch 1.13.1 CPU (Debian python3-torch 1.13.1+dfsg-4), float32, eval (dropout off), no grad.
 *   - config: T5Config(d_model 16, d_kv 6, num_heads 4 (inner 24 ≠ d_model), d_ff 20, num_layers 2,
 *     vocab_size 64, relative_attention_num_buckets 8, relative_attention_max_distance 10,
 *     layer_norm_epsilon 1e-6, feed_forward_proj "gated-gelu" (→ dense_act_fn gelu_new, is_gated_act),
 *     dropout_rate 0.1), i.e. `CONFIG` below.
 *   - weights: seededWeights(11) (companion/models/weights.ts) for exactly the graph's parameter list,
 *     loaded with load_state_dict(strict=True), encoder.embed_tokens.weight = shared.weight (tied).
 *   - inputs (regenerated identically by `inputs()` below; the ids are also recorded and checked):
 *     B = 2, L = 14 (> max distance 10, so far relative positions share the capped bucket); ids
 *     2 + ⌊62·u⌋ from mulberry32(5), row 0 = 9 tokens + </s> (1) + 4 <pad> (0) with attention_mask 0,
 *     row 1 = 13 tokens + </s>, mask all 1. Called as model(input_ids=ids, attention_mask=mask).
 *   - recorded: last_hidden_state [2, 14, 16] at flat indices (101·k) mod 448 (k < 48), and the mean and
 *     mean square of all 448 values (padded positions included).
 *
 * Measured when recorded: max |ours − upstream| over all 448 values 3.3e-6 (max |out| 2.87).
 */

/** max |Δ| < 1e-5 · max(1, max |output|); the mean to 1e-6 and the mean square to 1e-6 relative. */
const TOLERANCE = 1e-5;

const UPSTREAM = {
  ids: [44, 49, 15, 40, 7, 38, 46, 30, 58, 1, 0, 0, 0, 0, 30, 20, 57, 19, 48, 46, 17, 3, 51, 14, 18, 9, 31, 1],
  at: [1.264704, -0.1385158, -0.7238253, -0.9511783, 1.389602, 0.8100224, -1.145205, -0.3705102, 0.1088563, -0.3479003, -1.564078, 0.9021984, -0.184124, -0.2266977, 0.8090545, -0.5033107, -1.220291, 2.011599, -0.3562843, 0.581598, -1.071601, 0.9217601, -0.9490499, -0.6567481, 0.1293593, -0.6368219, 0.7218341, 1.343464, -0.3451091, 0.8339933, -0.1200336, 0.2947413, 1.302829, 0.3402719, 0.9276831, -0.05916164, -0.7272097, 0.5720881, 0.7507958, -0.02884422, -0.6463721, -0.3397571, -1.321557, 0.2866472, -1.324083, 1.94475, 0.7121214, 1.702903],
  mean: 0.00748922914,
  meanSquare: 0.97831212,
};

const CONFIG = {
  model_type: 't5',
  d_model: 16,
  d_kv: 6,
  num_heads: 4,
  d_ff: 20,
  num_layers: 2,
  vocab_size: 64,
  relative_attention_num_buckets: 8,
  relative_attention_max_distance: 10,
  layer_norm_epsilon: 1e-6,
  feed_forward_proj: 'gated-gelu',
  dropout_rate: 0.1,
};

const L = 14;

function inputs(): { ids: number[]; mask: number[] } {
  const rand = mulberry32(5);
  const ids = Array.from({ length: 2 * L }, () => 2 + Math.floor(rand() * 62));
  const mask = [...Array(10).fill(1), 0, 0, 0, 0, ...Array(L).fill(1)];
  for (let t = 10; t < L; t++) ids[t] = 0; // <pad>
  ids[9] = 1; // </s>
  ids[2 * L - 1] = 1;
  return { ids, mask };
}

let tmp: { dir: string; cleanup: () => void };
beforeAll(() => {
  tmp = tempDir('reshoot-upstream-t5-');
});
afterAll(() => tmp.cleanup());

describe('T5 encoder vs HF transformers (golden numbers)', () => {
  it(`gated-gelu, 2 layers, padded batch of 2: last_hidden_state matches T5EncoderModel (max abs error < ${TOLERANCE} · max(1, |out|))`, async () => {
    const c = parseT5Config(CONFIG);
    const saved = t5EncoderGraph(c, seededWeights(11)).save(tmp.dir, 't5.onnx');
    const { ids, mask } = inputs();
    expect(ids).toEqual(UPSTREAM.ids);
    const session = await ort.InferenceSession.create(saved.onnxPath, { executionProviders: ['cpu'] });
    let out: Float32Array;
    try {
      const result = await session.run({
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [2, L]),
        attention_mask: new ort.Tensor('int64', BigInt64Array.from(mask, (v) => BigInt(v)), [2, L]),
      });
      expect(result.last_hidden_state.dims).toEqual([2, L, 16]);
      out = result.last_hidden_state.data as Float32Array;
    } finally {
      await session.release();
    }
    let sum = 0;
    let sumSquares = 0;
    let maxAbs = 0;
    for (const x of out) {
      sum += x;
      sumSquares += x * x;
      maxAbs = Math.max(maxAbs, Math.abs(x));
    }
    let err = 0;
    UPSTREAM.at.forEach((v, k) => (err = Math.max(err, Math.abs(out[(101 * k) % out.length] - v))));
    console.log(`t5: max abs error vs transformers ${err.toExponential(2)} (48 samples), max |out| ${maxAbs.toFixed(3)}`);
    expect(maxAbs).toBeGreaterThan(0.5);
    expect(err).toBeLessThan(TOLERANCE * Math.max(1, maxAbs));
    expect(Math.abs(sum / out.length - UPSTREAM.mean)).toBeLessThan(1e-6);
    expect(Math.abs(sumSquares / out.length - UPSTREAM.meanSquare)).toBeLessThan(1e-6 * UPSTREAM.meanSquare);
  });
});
