/**
 * Rectified-flow sampling math. Pure functions over numbers and Float32Arrays: the scheduler
 * knows no model, no tensors beyond flat arrays, and no I/O (diffusers' split of schedulers
 * from models and pipelines).
 *
 * The flow: x_σ = (1 − σ)·x0 + σ·ε, σ from 1 (pure noise) to 0 (data). The model predicts the
 * velocity v = ε − x0, so an Euler step from σ to σ' is x ← x + (σ' − σ)·v.
 */

export type Shift =
  | { kind: 'static'; shift: number }
  | { kind: 'dynamic'; baseShift: number; maxShift: number; baseTokens: number; maxTokens: number };

/**
 * The shift exponent μ for a sequence of `tokens` video tokens: linear in the token count
 * between (baseTokens, baseShift) and (maxTokens, maxShift), as in the SD3/Flux/LTX pipelines.
 * Larger videos are shifted further towards noise, because more tokens keep more signal at
 * the same σ.
 */
export function dynamicShiftMu(tokens: number, s: Extract<Shift, { kind: 'dynamic' }>): number {
  const slope = (s.maxShift - s.baseShift) / (s.maxTokens - s.baseTokens);
  return s.baseShift + slope * (tokens - s.baseTokens);
}

/** Static shift: σ' = s·σ / (1 + (s − 1)·σ). s = 1 leaves σ unchanged. */
export function shiftStatic(sigma: number, shift: number): number {
  return (shift * sigma) / (1 + (shift - 1) * sigma);
}

/** Dynamic (exponential) shift: σ' = e^μ / (e^μ + (1/σ − 1)). Equals the static shift with s = e^μ. */
export function shiftDynamic(sigma: number, mu: number): number {
  if (sigma <= 0) return 0;
  const e = Math.exp(mu);
  return e / (e + (1 / sigma - 1));
}

/**
 * The σ schedule for `steps` Euler steps: `steps` values evenly spaced from 1 down to 1/steps,
 * shifted, then a terminal 0. Returns steps + 1 values, strictly decreasing.
 *
 * `terminal` (diffusers' `shift_terminal`) stretches the shifted values so the last one before 0
 * lands on it: 1 − σ is scaled by (1 − terminal) / (1 − σ_last). The first σ stays 1.
 */
export function sigmaSchedule(steps: number, shift: Shift, tokens: number, terminal?: number): Float64Array {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  const sigmas = new Float64Array(steps + 1);
  const mu = shift.kind === 'dynamic' ? dynamicShiftMu(tokens, shift) : 0;
  for (let i = 0; i < steps; i++) {
    const base = 1 - (i * (1 - 1 / steps)) / Math.max(steps - 1, 1);
    sigmas[i] = shift.kind === 'static' ? shiftStatic(base, shift.shift) : shiftDynamic(base, mu);
  }
  if (terminal !== undefined && steps > 1) {
    const scale = (1 - sigmas[steps - 1]!) / (1 - terminal);
    for (let i = 0; i < steps; i++) sigmas[i] = 1 - (1 - sigmas[i]!) / scale;
  }
  sigmas[steps] = 0;
  return sigmas;
}

/** What a model says about its schedule (the scheduler part of its model.json). */
export interface ScheduleDefaults {
  steps: number;
  shift: Shift;
  shiftTerminal?: number;
  sigmas?: readonly number[];
}

/**
 * The schedule a job runs: the model's fixed σ list when it has one and the job runs the default
 * step count (distilled models were trained on exactly those), else the shifted schedule.
 */
export function scheduleFor(model: ScheduleDefaults, steps: number, tokens: number): Float64Array {
  if (model.sigmas && steps === model.sigmas.length) return Float64Array.from([...model.sigmas, 0]);
  return sigmaSchedule(steps, model.shift, tokens, model.shiftTerminal);
}

/**
 * The part of the schedule that `strength` < 1 runs (image-to-image style): the last
 * round(steps·strength) steps. strength 1 runs them all; the first σ of the result is where the
 * known content is noised to before sampling starts.
 */
export function truncateForStrength(sigmas: Float64Array, strength: number): Float64Array {
  if (!(strength > 0 && strength <= 1)) throw new RangeError(`strength must be in (0, 1], got ${strength}`);
  const steps = sigmas.length - 1;
  const run = Math.max(1, Math.round(steps * strength));
  return sigmas.slice(steps - run);
}

/** The model's timestep input for σ: diffusers' flow schedulers use t = σ·1000. */
export function timestepFor(sigma: number): number {
  return sigma * 1000;
}

/** Noise clean latents to level σ: out = (1 − σ)·x0 + σ·ε. */
export function addNoise(x0: Float32Array, noise: Float32Array, sigma: number, out = new Float32Array(x0.length)): Float32Array {
  for (let i = 0; i < x0.length; i++) out[i] = (1 - sigma) * x0[i]! + sigma * noise[i]!;
  return out;
}

/** Classifier-free guidance on velocities: v = v_u + g·(v_c − v_u), written into `cond`. */
export function applyGuidance(cond: Float32Array, uncond: Float32Array, guidance: number): Float32Array {
  for (let i = 0; i < cond.length; i++) cond[i] = uncond[i]! + guidance * (cond[i]! - uncond[i]!);
  return cond;
}

/**
 * One Euler step, in place, for tokens of `channels` values each. `tokenScale[t]` scales the
 * step per token: 1 for generated tokens, 0 for known ones. With per-token timesteps the known
 * tokens sit at σ = 0 and must not move; this is exactly x += (σ'·m − σ·m)·v.
 */
export function eulerStep(
  x: Float32Array,
  v: Float32Array,
  sigma: number,
  sigmaNext: number,
  channels: number,
  tokenScale?: Float32Array,
): void {
  const dt = sigmaNext - sigma;
  if (!tokenScale) {
    for (let i = 0; i < x.length; i++) x[i]! += dt * v[i]!;
    return;
  }
  const tokens = x.length / channels;
  for (let t = 0; t < tokens; t++) {
    const d = dt * tokenScale[t]!;
    if (d === 0) continue;
    const base = t * channels;
    for (let c = 0; c < channels; c++) x[base + c]! += d * v[base + c]!;
  }
}

/**
 * Latent blending (works with any flow model): after a step to σ', hold known tokens to the
 * source noised to σ': x = m·x + (1 − m)·((1 − σ')·x0 + σ'·ε), with m per token (1 = generate).
 * At σ' = 0 the known tokens equal x0 exactly.
 */
export function blendKnown(
  x: Float32Array,
  x0: Float32Array,
  noise: Float32Array,
  sigmaNext: number,
  channels: number,
  tokenMask: Float32Array,
): void {
  const tokens = x.length / channels;
  for (let t = 0; t < tokens; t++) {
    const m = tokenMask[t]!;
    if (m === 1) continue;
    const base = t * channels;
    for (let c = 0; c < channels; c++) {
      const i = base + c;
      const known = (1 - sigmaNext) * x0[i]! + sigmaNext * noise[i]!;
      x[i] = m === 0 ? known : m * x[i]! + (1 - m) * known;
    }
  }
}

/** A recipe pass's schedule (see models/recipe.ts RecipePass): what `passSchedule` needs of it. */
export interface PassSchedule {
  steps: number;
  sigmas?: readonly number[];
  skipInitialSteps: number;
  skipFinalSteps: number;
}

/**
 * The σ list of a recipe pass at its own step count: its fixed σ list when it has one, else the
 * shifted schedule with the first `skipInitialSteps` and last `skipFinalSteps` values dropped
 * (the authors' `retrieve_timesteps`: the last step then goes straight to 0). Ends with 0.
 */
export function passSchedule(pass: PassSchedule, shift: Shift, tokens: number, terminal?: number): Float64Array {
  if (pass.sigmas) return Float64Array.from([...pass.sigmas, 0]);
  const full = sigmaSchedule(pass.steps, shift, tokens, terminal);
  const kept = full.slice(pass.skipInitialSteps, pass.steps - pass.skipFinalSteps);
  return Float64Array.from([...kept, 0]);
}

/**
 * One stochastic step (the authors' `stochastic_sampling`), in place: the x0 estimate x − σ·v is
 * noised afresh to σ' with `noise`, x = (1 − σ')·x̂0 + σ'·ε, instead of the Euler step. Tokens
 * with `tokenScale` 0 (known, held at t = 0) do not move.
 */
export function stochasticStep(
  x: Float32Array,
  v: Float32Array,
  sigma: number,
  sigmaNext: number,
  channels: number,
  noise: Float32Array,
  tokenScale?: Float32Array,
): void {
  const tokens = x.length / channels;
  for (let t = 0; t < tokens; t++) {
    if (tokenScale && tokenScale[t] === 0) continue;
    const base = t * channels;
    for (let c = 0; c < channels; c++) {
      const i = base + c;
      const x0 = x[i]! - sigma * v[i]!;
      x[i] = (1 - sigmaNext) * x0 + sigmaNext * noise[i]!;
    }
  }
}

/**
 * Conditioning noise (the authors' `image_cond_noise_scale`), in place: before a step at σ, known
 * tokens (mask 0) are set to their source plus scale·σ²·ε — a little noise on the conditioning,
 * fading as sampling ends, which helps motion continue from a still.
 */
export function noiseKnown(
  x: Float32Array,
  x0: Float32Array,
  noise: Float32Array,
  scale: number,
  sigma: number,
  channels: number,
  tokenMask: Float32Array,
): void {
  const k = scale * sigma * sigma;
  const tokens = x.length / channels;
  for (let t = 0; t < tokens; t++) {
    if (tokenMask[t] !== 0) continue;
    const base = t * channels;
    for (let c = 0; c < channels; c++) x[base + c] = x0[base + c]! + k * noise[base + c]!;
  }
}

/**
 * The authors' tone mapping of final latents (`tone_map_latents`), in place: each value is scaled
 * by 1 − 0.8·s·sigmoid(4·s·(|x| − 1)) with s = 0.75·compression — large values are pulled in,
 * small ones barely change. compression 0 leaves the latents as they are.
 */
export function toneMapLatents(latents: Float32Array, compression: number): Float32Array {
  if (!(compression >= 0 && compression <= 1)) throw new RangeError(`tone-map compression must be in [0, 1], got ${compression}`);
  if (compression === 0) return latents;
  const s = compression * 0.75;
  for (let i = 0; i < latents.length; i++) {
    const a = Math.abs(latents[i]!);
    const sig = 1 / (1 + Math.exp(-4 * s * (a - 1)));
    latents[i] = latents[i]! * (1 - 0.8 * s * sig);
  }
  return latents;
}
