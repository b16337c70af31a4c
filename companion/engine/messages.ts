/** Messages between the Engine (main thread) and its worker. Structured-clone safe. */
import type { IoCount } from './deviceSteps.ts';
import type { ComputeChoice } from '../models/computeVariant.ts';
import type { ModelManifest } from '../models/types.ts';
import type { PassRecord, WindowRequest } from './generate.ts';
import type { Provider } from './providers.ts';
import type { Compute } from './stages.ts';
import type { AttentionUse } from './runtime.ts';
import type { ProbeVerdict } from './attentionProbe.ts';

export type ToWorker =
  /** `attentionChecks`: fused-attention verdicts this process already has (attentionProbe.ts), so a new worker does not measure again. */
  | { type: 'load'; modelId: string; providers: Provider[]; compute: ComputeChoice; attentionChecks: Record<string, ProbeVerdict> }
  | { type: 'window'; id: number; request: WindowRequest };

export type FromWorker =
  | { type: 'loaded'; provider: Provider; compute: Compute; attention: AttentionUse; manifest: ModelManifest; fallbacks: string[]; attentionChecks: Record<string, ProbeVerdict> }
  | { type: 'step'; id: number; step: number; steps: number }
  /** A live preview (generate.ts PreviewImage); the PNG's buffer is transferred. */
  | { type: 'preview'; id: number; width: number; height: number; png: Uint8Array; step: number; steps: number; latentFrame: number; ms: number }
  | {
      type: 'done';
      id: number;
      frames: { width: number; height: number; data: Uint8Array }[];
      tokens: number;
      generatedTokens: number;
      stepMs: number[];
      /** The denoising passes that ran, and why they differ from the recipe when they do. */
      passes: PassRecord[];
      note?: string;
      /** Where the transformer ran and in which float type, after any fallback, and every fallback so far. */
      provider: Provider;
      compute: Compute;
      /** The transformer's attention there (fused or plain) and why (runtime.ts AttentionUse). */
      attention: AttentionUse;
      fallbacks: string[];
      /** Host ↔ device bytes and device-resident steps since the model loaded (deviceSteps.ts). */
      io: IoCount;
    }
  | { type: 'error'; id: number; code: string; message: string };
