/**
 * The engine's worker thread: owns the ONNX Runtime sessions and runs windows one at a time.
 * ORT's run() blocks the thread it runs on, so keeping it here leaves the main thread free to
 * report progress, accept cancel and serve clients. Cancel arrives through a shared flag that
 * the sampler reads between steps (a message could not be read while a step is running).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isReshootError } from '../errors.ts';
import { loadModel } from '../models/registry.ts';
import { CancelledError, type PreviewSink } from './generate.ts';
import type { FromWorker, ToWorker } from './messages.ts';
import { knownVerdicts, rememberVerdicts } from './attentionProbe.ts';
import { previewMapFor } from './previewMap.ts';
import { loadRuntime, type ModelRuntime } from './runtime.ts';
import { sampleWindow } from './twoPass.ts';

const port = parentPort!;
const cancelFlag = new Int32Array(workerData.cancel as SharedArrayBuffer);
let runtime: ModelRuntime | null = null;
/** The loaded model's folder: a fitted preview map is cached beside it (previewMap.ts). */
let modelDir: string | null = null;

const send = (m: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

port.on('message', async (msg: ToWorker) => {
  if (msg.type === 'load') {
    try {
      const model = await loadModel(msg.modelId);
      rememberVerdicts(msg.attentionChecks);
      // Fallbacks are reported with the load, or with the window during which they happened.
      runtime = await loadRuntime(model, { providers: msg.providers, compute: msg.compute });
      modelDir = model.dir;
      send({ type: 'loaded', provider: runtime.provider, compute: runtime.compute, attention: runtime.attention, manifest: model.manifest, fallbacks: [...runtime.fallbacks], attentionChecks: knownVerdicts() });
    } catch (e) {
      const message = (e as Error).message;
      send({ type: 'error', id: -1, code: isReshootError(e) ? e.code : 'model', message: isReshootError(e) ? message : `no execution provider could load ${msg.modelId}: ${message.split('\n')[0]}` });
    }
    return;
  }
  const { id, request } = msg;
  try {
    if (!runtime) throw new Error('no model loaded');
    const rt = runtime;
    const previews: PreviewSink = {
      map: () => previewMapFor(rt, modelDir),
      emit: (p) => send({ type: 'preview', id, ...p }, [p.png.buffer as ArrayBuffer]),
    };
    const r = await sampleWindow(
      rt,
      request,
      (s) => send({ type: 'step', id, ...s }),
      () => Atomics.load(cancelFlag, 0) !== 0,
      previews,
    );
    const frames = r.frames.map((f) => ({ width: f.width, height: f.height, data: f.data }));
    const { provider, compute, attention, fallbacks } = runtime;
    send({ type: 'done', id, frames, tokens: r.tokens, generatedTokens: r.generatedTokens, stepMs: r.stepMs, passes: r.passes, ...(r.note ? { note: r.note } : {}), provider, compute, attention, fallbacks: [...fallbacks], io: { ...rt.io } }, frames.map((f) => f.data.buffer as ArrayBuffer));
  } catch (e) {
    const code = e instanceof CancelledError ? 'cancelled' : isReshootError(e) ? e.code : 'internal';
    send({ type: 'error', id, code, message: (e as Error).message });
  }
});
