/**
 * `reshoot doctor`: what works on this machine, tested rather than assumed. ffmpeg and ffprobe
 * are run; each execution provider this ONNX Runtime build ships is asked to load and run the
 * test model's VAE encoder once; the model cache is listed.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { bundledProviders, type Provider } from './engine/providers.ts';
import { isReshootError } from './errors.ts';
import { CODECS_USED, ffmpegInfo, missingCodecs } from './media/ffmpeg.ts';
import { listModels, loadModel, modelCacheDir } from './models/registry.ts';

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
      results.push({ provider, ok: true, detail: `loaded and ran in ${(performance.now() - t0).toFixed(0)} ms` });
    } catch (e) {
      results.push({ provider, ok: false, detail: (e as Error).message.split('\n')[0]!.slice(0, 160) });
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

  line(true, 'model cache', modelCacheDir());
  for (const m of await listModels()) {
    line(true, `  ${m.id}`, m.bytes ? `${(m.bytes / 1e6).toFixed(1)} MB${m.testModel ? ' (test model)' : ''}` : 'not built yet');
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
