/**
 * `reshoot doctor`: what works on this machine, tested rather than assumed. ffmpeg and ffprobe
 * are run; each execution provider this ONNX Runtime build ships is asked to load and run the
 * test model's VAE encoder once; the model cache is listed, each model with whether its
 * transformer fits this machine's GPU at each precision.
 */
import { execFile, spawn } from 'node:child_process';
import os from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { PROBE_TOLERANCE, probeFusedAttention } from './engine/attentionProbe.ts';
import { bundledProviders, providerErrorReason, type Provider } from './engine/providers.ts';
import { isReshootError } from './errors.ts';
import { CODECS_USED, ffmpegInfo, missingCodecs } from './media/ffmpeg.ts';
import { fitReport } from './models/fit.ts';
import { listModels, loadModel, modelCacheDir } from './models/registry.ts';
import type { ModelManifest } from './models/types.ts';

export interface GpuMemory {
  bytes: number;
  /** Where the figure came from, shown beside it. */
  source: string;
}

/**
 * This machine's GPU memory: RESHOOT_GPU_MEMORY_GB when set; else what the NVIDIA driver reports
 * (nvidia-smi, the first GPU: the one the CUDA provider uses by default); on macOS three quarters
 * of the unified memory (Metal's default working-set limit). Undefined when unknown (DirectML and
 * WebGPU do not report it to ONNX Runtime).
 */
export async function gpuMemory(): Promise<GpuMemory | undefined> {
  const env = process.env.RESHOOT_GPU_MEMORY_GB;
  if (env) {
    const gb = Number(env);
    if (!(gb > 0)) throw new Error(`RESHOOT_GPU_MEMORY_GB must be a positive number of GiB, not "${env}"`);
    return { bytes: gb * 2 ** 30, source: 'RESHOOT_GPU_MEMORY_GB' };
  }
  const smi = await new Promise<string | undefined>((resolve) =>
    execFile('nvidia-smi', ['--query-gpu=name,memory.total', '--format=csv,noheader,nounits'], { timeout: 5000 }, (err, stdout) => resolve(err ? undefined : stdout)),
  );
  const first = smi?.trim().split('\n')[0];
  if (first) {
    const [name, mib] = first.split(',').map((x) => x.trim());
    if (Number(mib) > 0) return { bytes: Number(mib) * 2 ** 20, source: `nvidia-smi: ${name}` };
  }
  if (process.platform === 'darwin') return { bytes: os.totalmem() * 0.75, source: 'macOS unified memory × 0.75' };
  return undefined;
}

const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

/**
 * One line per model: its transformer's memory for one guided step (batch 2) at its largest
 * window, per precision, and which fit `gpu`.
 */
export function modelFitLine(m: ModelManifest, gpu: GpuMemory | undefined): { ok: boolean; text: string } {
  const { spatial, temporal } = m.latent;
  const tokens = Math.floor(m.sizeRules.maxPixels / (spatial * spatial)) * (1 + Math.floor((m.sizeRules.maxFrames - 1) / temporal));
  const report = fitReport(m.transformer, { tokens, batch: 2, gpuBytes: gpu?.bytes });
  const stored = m.precision?.transformer?.stored ?? 'fp32';
  const parts = report.map((r) => `${r.precision} ${gib(r.totalBytes)}${r.fits === undefined ? '' : r.fits ? ' fits' : ' too big'}`);
  const fitting = report.filter((r) => r.fits).map((r) => r.precision);
  // The best precision that fits is the first in FIT_PRECISIONS order (fp32, fp16, int8, int4).
  const advice = fitting.length > 0 && !fitting.includes(stored) ? `; converted at ${stored}: re-import with --precision ${fitting[0]}` : '';
  const verdict = !gpu
    ? 'GPU memory unknown'
    : fitting.length === 0
      ? `does not fit this GPU (${gib(gpu.bytes)}) at any precision`
      : `fits this GPU (${gib(gpu.bytes)}) at ${fitting.join(', ')}${advice}`;
  return { ok: !gpu || fitting.length > 0, text: `${verdict} — step at ${tokens} tokens ×2: ${parts.join(', ')}` };
}

export interface ProviderCheck {
  provider: Provider;
  ok: boolean;
  detail: string;
}

/** Loads and runs a small real graph on each bundled provider. */
export async function checkProviders(): Promise<ProviderCheck[]> {
  const tiny = await loadModel('builtin:tiny');
  const { spatial, temporal } = tiny.manifest.latent;
  const results: ProviderCheck[] = [];
  for (const provider of bundledProviders()) {
    const t0 = performance.now();
    try {
      const session = await ort.InferenceSession.create(tiny.graphs.vaeEncoder, { executionProviders: [provider] });
      const dims = [1, 3, 1 + temporal, spatial, spatial];
      await session.run({ sample: new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b)), dims) });
      await session.release();
      let detail = `loaded and ran in ${(performance.now() - t0).toFixed(0)} ms`;
      // The check a render makes before using fused attention there (engine/attentionProbe.ts).
      if (provider === 'webgpu') {
        const v = await probeFusedAttention(provider).catch(() => null);
        if (v) detail += `; fused attention ${v.ok ? 'passes' : 'fails'} its check (max error ${v.maxError.toPrecision(2)}, tolerance ${PROBE_TOLERANCE})${v.ok ? '' : ': renders use plain attention (more memory)'}`;
      }
      results.push({ provider, ok: true, detail });
    } catch (e) {
      results.push({ provider, ok: false, detail: providerErrorReason(provider, e).slice(0, 200) });
    }
  }
  return results;
}

export async function doctor(): Promise<number> {
  let healthy = true;
  // FAIL = Reshoot cannot work; "no" = an optional accelerator that is not usable here.
  const line = (ok: boolean, what: string, detail: string, optional = false) =>
    console.log(`${ok ? 'ok  ' : optional ? 'no  ' : 'FAIL'}  ${what.padEnd(22)} ${detail}`);

  try {
    const info = await ffmpegInfo();
    line(true, 'ffmpeg', `${info.ffmpeg.path} (${info.ffmpeg.version})`);
    line(true, 'ffprobe', `${info.ffprobe.path} (${info.ffprobe.version})`);
    const missing = await missingCodecs();
    for (const c of missing) {
      healthy &&= !c.required;
      line(false, `${c.kind} ${c.name}`, `missing from this ffmpeg: no ${c.for} (set FFMPEG_PATH to a build that has it)`, !c.required);
    }
    if (missing.length === 0) line(true, 'codecs', CODECS_USED.map((c) => c.name).join(', '));
  } catch (e) {
    healthy = false;
    line(false, 'ffmpeg', isReshootError(e) ? e.message : String(e));
  }

  line(true, 'onnxruntime-node', `${ort.env.versions.common}; bundled providers: ${bundledProviders().join(', ')}`);
  try {
    const checks = await checkProviders();
    for (const p of checks) line(p.ok, `provider ${p.provider}`, p.detail, p.provider !== 'cpu');
    healthy &&= checks.some((p) => p.ok);
  } catch (e) {
    healthy = false;
    line(false, 'providers', (e as Error).message);
  }

  let gpu: GpuMemory | undefined;
  try {
    gpu = await gpuMemory();
    line(!!gpu, 'GPU memory', gpu ? `${gib(gpu.bytes)} (${gpu.source})` : 'unknown (no nvidia-smi; set RESHOOT_GPU_MEMORY_GB to check models against it)', true);
  } catch (e) {
    line(false, 'GPU memory', (e as Error).message, true);
  }

  line(true, 'model cache', modelCacheDir());
  for (const m of await listModels()) {
    line(true, `  ${m.id}`, m.bytes ? `${(m.bytes / 1e6).toFixed(1)} MB${m.testModel ? ' (test model)' : ''}` : 'not built yet');
    if (m.status !== 'ready') continue;
    try {
      const fit = modelFitLine((await loadModel(m.id)).manifest, gpu);
      line(fit.ok, `    on the GPU`, fit.text, true);
    } catch (e) {
      line(false, `    on the GPU`, (e as Error).message, true);
    }
  }
  return healthy ? 0 : 1;
}

/**
 * The CUDA provider is too large for the npm registry; onnxruntime-node's own installer fetches
 * it from NuGet. Reshoot never runs that at install time (offline installs must work), so this
 * is the explicit opt-in.
 */
export async function installCuda(): Promise<number> {
  const require = createRequire(import.meta.url);
  const script = path.join(path.dirname(require.resolve('onnxruntime-node/package.json')), 'script', 'install.js');
  console.log(`running ${script} with ONNXRUNTIME_NODE_INSTALL=cuda12 (downloads the CUDA 12 provider)`);
  const child = spawn(process.execPath, [script], { stdio: 'inherit', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'cuda12' } });
  const code: number = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  if (code === 0) console.log('done: `reshoot doctor` should now list provider cuda as ok (needs CUDA 12 and cuDNN 9 on this machine)');
  return code;
}
