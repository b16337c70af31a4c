/**
 * What one denoising step moves between the host and the execution provider, by tensor, and the
 * host work per step the runtime no longer does now that it keeps the RoPE feeds across steps:
 *
 *   npm run bench:step-io
 *
 * Shapes: the LTX-Video 2B width (32 heads × 64, 128 latent channels, caption 4096) at 6,144
 * tokens (768×512×121 frames), 128 text tokens, batch 1 (no guidance) and 2 (guidance).
 *
 * Bytes: in onnxruntime-node 1.30 every input of a run is copied into the provider's memory and
 * every output back (no device-resident tensors except WebGPU's gpu-buffer outputs; see README
 * "GPU providers"), so this table is what a GPU step moves over PCIe.
 *
 * Host work: before, `ModelRuntime.velocity` built the batch-repeated RoPE tables and their
 * tensors on every call (what `rebuild` below does, the same lines); now it builds them once per
 * window (`runtime.ts`, ropeFeeds). Timed alone, BENCH_REPS (10) times each, interleaved: a whole
 * step on this CPU is minutes, so the difference would vanish in its noise, but against a GPU
 * step of about a second it does not.
 */
import * as ort from 'onnxruntime-node';
import { ltxRope } from '../companion/models/ltxv/rope.ts';
import { envInt, fmt, ltx2bConfig, machine, median, printMachine } from './common.ts';

const REPS = envInt('BENCH_REPS', 10);
const grid = { frames: 16, height: 16, width: 24 };
const S = grid.frames * grid.height * grid.width;
const L = 128;
const MiB = 2 ** 20;

console.log('# bench:step-io: host ↔ provider bytes and host work per denoising step, 2B width, 6,144 tokens');
printMachine(await machine());
{
  const config = ltx2bConfig(1);
  const D = config.numAttentionHeads * config.attentionHeadDim;
  const C = config.inChannels;
  const rope = ltxRope({ dim: D, ...grid, frameRate: 24, spatial: 32, temporal: 8, ...config.rope });
  const repeat = (a: Float32Array, times: number): Float32Array => {
    const out = new Float32Array(a.length * times);
    for (let i = 0; i < times; i++) out.set(a, i * a.length);
    return out;
  };
  /** The runtime's per-call work before: repeat both tables and wrap them. */
  const rebuild = (batch: number) => {
    const cos = batch === 1 ? rope.cos : repeat(rope.cos, batch);
    const sin = batch === 1 ? rope.sin : repeat(rope.sin, batch);
    return [new ort.Tensor('float32', cos, [batch, S, D]), new ort.Tensor('float32', sin, [batch, S, D])];
  };
  for (const batch of [1, 2, 3]) {
    const crossing: [string, number][] = [
      ['hidden_states', batch * S * C * 4],
      ['encoder_hidden_states', batch * L * config.captionChannels * 4],
      ['encoder_attention_mask', batch * L * 4],
      ['timestep', batch * S * 4],
      ['rope_cos + rope_sin', 2 * batch * S * D * 4],
      ['velocity (out)', batch * S * C * 4],
    ];
    const total = crossing.reduce((a, [, b]) => a + b, 0);
    console.log(`\n## batch ${batch}${batch === 2 ? ' (guidance)' : batch === 3 ? ' (guidance + STG)' : ''}: ${fmt(total / MiB, 1)} MiB cross per step`);
    for (const [name, bytes] of crossing) console.log(`  ${name.padEnd(24)} ${fmt(bytes / MiB, 2).padStart(8)} MiB  (${fmt((100 * bytes) / total, 1)} %)`);
    const before: number[] = [];
    const after: number[] = [];
    let kept = rebuild(batch);
    for (let i = 0; i < REPS; i++) {
      let t = performance.now();
      kept = rebuild(batch);
      before.push(performance.now() - t);
      t = performance.now();
      if (kept.length !== 2) throw new Error('unreachable'); // now: the kept tensors are fed as they are
      after.push(performance.now() - t);
    }
    const built = batch === 1 ? 0 : 2 * batch * S * D * 4;
    console.log(`  host work per step before: ${fmt(median(before), 1)} ms (runs ${before.map((v) => fmt(v, 0)).join(', ')}), ${fmt(built / MiB, 0)} MiB allocated and filled; now: ${fmt(median(after), 3)} ms, 0 MiB (once per window)`);
  }
}
