/**
 * Device-resident vs copying denoising steps on WebGPU, side by side in one run:
 *
 *   npm run bench:webgpu-steps          (BENCH_STEPS=6, BENCH_REPS=2, BENCH_SIZE=128x72x17)
 *
 * builtin:tiny, one per-token window with CFG (batch 2), through the engine's own pass
 * (generate.ts denoisePass): the copying step (RESHOOT_WEBGPU_RESIDENT=0: every input uploaded
 * and the velocity downloaded each step, guidance and Euler in JavaScript) against the resident
 * one (engine/deviceSteps.ts). Bytes are what the runtime fed to and fetched from the provider;
 * ms/step is the median over the steps after the first (the first also uploads the pass's
 * constants on the resident side), interleaved REPS times.
 *
 * Without a GPU it runs WebGPU on lavapipe (.ci/lavapipe.sh): lavapipe = CPU Vulkan, not a GPU
 * figure. There "copies" are memcpy within one RAM, so the time saved is the host work around
 * the copies, not PCIe transfers.
 */
import { loadRuntime } from '../companion/engine/runtime.ts';
import { denoisePass, encodeKnown, encodePrompts, samplingPlan, windowLayout, type WindowRequest } from '../companion/engine/generate.ts';
import { loadModel } from '../companion/models/registry.ts';
import { useSoftwareWebGpu } from '../test/helpers/softwareVulkan.ts';
import { envInt, fmt, machine, median, printMachine } from './common.ts';

const STEPS = envInt('BENCH_STEPS', 6);
const REPS = envInt('BENCH_REPS', 2);
const [W, H, FRAMES] = (process.env.BENCH_SIZE ?? '128x72x17').split('x').map(Number) as [number, number, number];

console.log('# bench:webgpu-steps: device-resident vs copying steps on WebGPU, builtin:tiny, CFG (batch 2)');
printMachine(await machine());
const sw = useSoftwareWebGpu();
console.log(sw.icd ? `WebGPU adapter: Vulkan ICD ${sw.icd} (lavapipe = CPU Vulkan, not a GPU figure)` : `WebGPU on the system's drivers (${sw.missing})`);

const tiny = await loadModel('builtin:tiny');
const req: WindowRequest = {
  width: W, height: H, frames: Array(FRAMES).fill(null), masks: Array(FRAMES).fill(null),
  prompt: 'a door', negativePrompt: '', seed: 1, stream: 0, steps: STEPS, guidance: 3, strength: 1, conditioning: 'per-token', fps: 24,
};
const modes = { copying: false, resident: true } as const;
const runtimes = Object.fromEntries(
  await Promise.all(Object.entries(modes).map(async ([name, resident]) => [name, await loadRuntime(tiny, { providers: ['webgpu'], compute: 'fp32', resident })] as const)),
);
for (const [name, rt] of Object.entries(runtimes)) if (rt.provider !== 'webgpu') throw new Error(`${name}: the transformer is on ${rt.provider}, not webgpu (${rt.fallbacks.join('; ')})`);

const layout = windowLayout(tiny.manifest, req.frames, req.masks, W, H);
console.log(`window ${W}×${H}×${FRAMES}: ${layout.tokens} tokens × ${tiny.manifest.latent.channels} channels, ${STEPS} steps, ${REPS} reps interleaved`);
const ms: Record<string, number[]> = { copying: [], resident: [] };
const bytes: Record<string, { up: number; down: number; stepUp: number; stepDown: number; deviceSteps: number }> = {};
for (let rep = 0; rep < REPS; rep++) {
  for (const name of Object.keys(modes)) {
    const rt = runtimes[name]!;
    const plan = samplingPlan(rt.manifest, req, layout.tokens);
    const text = await encodePrompts(rt, req.prompt, plan.negativePrompt, plan.anyCfg);
    const x0 = await encodeKnown(rt, req.frames, layout, W, H);
    const before = { ...rt.io };
    // The runtime's counters after each step: what one step moves, apart from once-per-pass work.
    const after: { toDevice: number; toHost: number }[] = [];
    const { stepMs } = await denoisePass(rt, { req, layout, x0, plan, text, stream: 0, stepBase: 0, totalSteps: STEPS }, () => after.push({ ...rt.io }), () => false);
    ms[name]!.push(...stepMs.slice(1));
    const last = after.length - 1;
    bytes[name] = {
      up: rt.io.toDevice - before.toDevice,
      down: rt.io.toHost - before.toHost,
      stepUp: (after[last]!.toDevice - after[0]!.toDevice) / last,
      stepDown: (after[last]!.toHost - after[0]!.toHost) / last,
      deviceSteps: rt.io.deviceSteps - before.deviceSteps,
    };
  }
}
const MiB = 2 ** 20;
console.log(`\n${'mode'.padEnd(10)} ${'up/step'.padStart(12)} ${'down/step'.padStart(12)} ${'up/pass'.padStart(12)} ${'down/pass'.padStart(12)} ${'ms/step'.padStart(9)}  device steps`);
const size = (b: number) => (b >= MiB ? `${fmt(b / MiB, 2)} MiB` : b >= 1024 ? `${fmt(b / 1024, 1)} KiB` : `${fmt(b, 0)} B`);
for (const name of Object.keys(modes)) {
  const b = bytes[name]!;
  console.log(
    `${name.padEnd(10)} ${size(b.stepUp).padStart(12)} ${size(b.stepDown).padStart(12)} ${size(b.up).padStart(12)} ${size(b.down).padStart(12)} ${fmt(median(ms[name]!), 0).padStart(9)}  ${b.deviceSteps}/${STEPS}`,
  );
}
console.log('(per step: between the first and the last step; per pass: all of it, the resident side\'s once-per-pass uploads and final download included)');
const c = bytes.copying!;
const r = bytes.resident!;
console.log(
  `\nresident / copying: bytes per step up ${fmt(r.stepUp / c.stepUp, 4)}, down ${fmt(r.stepDown / c.stepDown, 6)}; per pass up ${fmt(r.up / c.up, 3)}, down ${fmt(r.down / c.down, 3)}; ms/step ${fmt(median(ms.resident!) / median(ms.copying!), 3)} ` +
    `(steps after the first; copying ${ms.copying!.map((v) => fmt(v, 0)).join(', ')}; resident ${ms.resident!.map((v) => fmt(v, 0)).join(', ')})`,
);
for (const rt of Object.values(runtimes)) await rt.release();
