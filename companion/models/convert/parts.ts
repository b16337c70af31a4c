/**
 * The four graphs of a converted LTX-Video model and where each one's weights come from. Each
 * entry builds its graph from the checkpoint's config with a given WeightSource, so the same entry
 * serves the up-front check (its `paramList()` against the safetensors headers, no weights read)
 * and the conversion (the checkpoint's WeightSource, one tensor at a time).
 *
 * Parts convert independently: `convertGraph` (./index.ts) converts any single one on its own.
 */
import type { LtxvCheckpoint, PartName } from '../checkpoint.ts';
import { LTXV_QUANTIZE, ltxvTransformerGraph } from '../ltxv/transformer.ts';
import type { GraphBuilder, WeightSource } from '../onnx/graph.ts';
import { T5_KEEP_FP32 } from '../precision.ts';
import { t5EncoderGraph } from '../t5/encoder.ts';
import { GRAPH_FILES } from '../tiny.ts';
import { ltxvVaeBuilders } from './vae.ts';

export type GraphKey = 'text_encoder' | 'transformer' | 'vae_encoder' | 'vae_decoder';

export interface GraphJob {
  graph: GraphKey;
  /** File name in the model folder. */
  file: string;
  /** Checkpoint component holding its weights. */
  part: PartName;
  build(weights: WeightSource): GraphBuilder;
  /** Weights kept fp32 in fp16 mode, with the reason recorded in model.json. */
  keep?: { pattern: RegExp; reason: string }[];
  /** Linear weights quantized in int8 / int4 mode. */
  quantize?: RegExp;
}

const noWeights: WeightSource = (name) => {
  throw new Error(`internal: the parameter list was asked for the values of ${name}`);
};

/** The graph's parameter list, without reading any weight. */
export const paramsOf = (job: GraphJob) => job.build(noWeights).paramList();

/** Every graph of the model, in conversion order (small first, so a bad file shows early). */
export function graphJobs(ckpt: LtxvCheckpoint): GraphJob[] {
  const vae = ltxvVaeBuilders();
  return [
    { graph: 'text_encoder', file: GRAPH_FILES.textEncoder, part: 'text_encoder', build: (w) => t5EncoderGraph(ckpt.t5, w), keep: T5_KEEP_FP32 },
    { graph: 'transformer', file: GRAPH_FILES.transformer, part: 'transformer', build: (w) => ltxvTransformerGraph(ckpt.transformer, w), quantize: LTXV_QUANTIZE },
    { graph: 'vae_encoder', file: GRAPH_FILES.vaeEncoder, part: 'vae', build: (w) => vae.encoder(ckpt.vae.config, w) },
    { graph: 'vae_decoder', file: GRAPH_FILES.vaeDecoder, part: 'vae', build: (w) => vae.decoder(ckpt.vae.config, w) },
  ];
}

/** One graph's job (for converting or testing a single part). */
export function graphJob(ckpt: LtxvCheckpoint, graph: GraphKey): GraphJob {
  return graphJobs(ckpt).find((j) => j.graph === graph)!;
}
