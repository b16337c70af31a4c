/** Messages between the Engine (main thread) and its worker. Structured-clone safe. */
import type { ModelManifest } from '../models/types.ts';
import type { WindowRequest } from './generate.ts';
import type { Provider } from './runtime.ts';

export type ToWorker =
  | { type: 'load'; modelId: string; providers: Provider[] }
  | { type: 'window'; id: number; request: WindowRequest };

export type FromWorker =
  | { type: 'loaded'; provider: Provider; manifest: ModelManifest; fallbacks: string[] }
  | { type: 'step'; id: number; step: number; steps: number }
  | { type: 'done'; id: number; frames: { width: number; height: number; data: Uint8Array }[]; tokens: number; generatedTokens: number; stepMs: number[] }
  | { type: 'error'; id: number; code: string; message: string };
