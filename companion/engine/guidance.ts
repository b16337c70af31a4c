/**
 * Combining the velocities of one step's passes into the one the sampler follows, as the authors'
 * pipeline does (Lightricks/LTX-Video ltx_video/pipelines/pipeline_ltx_video.py, the "perform
 * guidance" block): classifier-free guidance (with optional CFG-star), spatio-temporal guidance
 * (STG: the conditional velocity pushed away from a pass with some blocks' self-attention
 * perturbed) and rescaling of the result towards the conditional velocity's spread. Pure math.
 */

export interface StepVelocities {
  /** Conditional velocity (the prompt). */
  cond: Float32Array;
  /** Unconditional (negative prompt); present when CFG runs this step. */
  uncond?: Float32Array;
  /** Conditional with perturbed blocks; present when STG runs this step. */
  perturbed?: Float32Array;
}

export interface StepWeights {
  cfg: number;
  stg: number;
  /** 1 = no rescaling; only applied with STG (as the authors do). */
  rescale: number;
  cfgStar: boolean;
}

/**
 * v = v_u' + cfg·(v_c − v_u')  (v_u' = α·v_u with CFG-star, α = ⟨v_c, v_u⟩ / (‖v_u‖² + 1e-8)),
 * or v = v_c without CFG; then with STG v += stg·(v_c − v_p), and with rescale r ≠ 1
 * v ·= r·std(v_c)/std(v) + (1 − r). Returns a new array; inputs are not changed.
 */
export function combineGuidance(v: StepVelocities, w: StepWeights): Float32Array {
  const { cond, uncond, perturbed } = v;
  const n = cond.length;
  const out = new Float32Array(n);
  if (uncond) {
    let alpha = 1;
    if (w.cfgStar) {
      let dot = 0;
      let norm = 0;
      for (let i = 0; i < n; i++) {
        dot += cond[i]! * uncond[i]!;
        norm += uncond[i]! * uncond[i]!;
      }
      alpha = dot / (norm + 1e-8);
    }
    for (let i = 0; i < n; i++) {
      const u = alpha * uncond[i]!;
      out[i] = u + w.cfg * (cond[i]! - u);
    }
  } else {
    out.set(cond);
  }
  if (perturbed) {
    for (let i = 0; i < n; i++) out[i] = out[i]! + w.stg * (cond[i]! - perturbed[i]!);
    if (w.rescale !== 1 && w.stg > 0) {
      const factor = (w.rescale * std(cond)) / std(out) + (1 - w.rescale);
      for (let i = 0; i < n; i++) out[i] = out[i]! * factor;
    }
  }
  return out;
}

/** Sample standard deviation (n − 1), as torch.std. */
export function std(a: Float32Array): number {
  let mean = 0;
  for (let i = 0; i < a.length; i++) mean += a[i]!;
  mean /= a.length;
  let ss = 0;
  for (let i = 0; i < a.length; i++) ss += (a[i]! - mean) ** 2;
  return Math.sqrt(ss / Math.max(a.length - 1, 1));
}

/**
 * Context guidance (SchedulerDefaults.contextGuidance), on top of whatever CFG / STG made `out`:
 * for each generated token, out += (scale − 1)·(v_c − v_nc), where v_nc [G, C] is the velocity of
 * the generated tokens run alone, `generated[k]` the index of the k-th in the full sequence. With
 * nothing else on, that is v_nc + scale·(v_c − v_nc), classifier-free guidance by the known frames.
 * Known tokens' velocities are left as they are (the sampler never moves them). Changes `out`.
 */
export function addContextGuidance(out: Float32Array, cond: Float32Array, noContext: Float32Array, generated: Int32Array, channels: number, scale: number): void {
  const w = scale - 1;
  for (let k = 0; k < generated.length; k++) {
    const o = generated[k]! * channels;
    const n = k * channels;
    for (let c = 0; c < channels; c++) out[o + c] = out[o + c]! + w * (cond[o + c]! - noContext[n + c]!);
  }
}
