/**
 * The transformer's half-precision compute variant, made from the graph a model already has.
 *
 * Import writes one transformer: fp32 compute (what every provider, the CPU one included, runs at
 * full accuracy). GPU providers run the fp16-compute graph instead (matmuls and attention in half
 * precision, norm statistics / softmax / timestep embedding in fp32; ltxv/transformer.ts). Writing
 * that variant at import as a second full graph would double the model on disk (2B: +7.6 GB fp32,
 * 13B: +49 GB) for bytes that are the same weights. So the variant is built when a GPU provider
 * first asks for it: the graph builder makes the fp16-compute nodes from the manifest's config (it
 * needs no weight bytes for that) and `GraphBuilder.saveOver` points every initializer at the bytes
 * the fp32 graph's `transformer.onnx.data` already holds; ORT casts the weights to fp16 once while
 * it creates the session (constant folding). On disk that is one small extra `.onnx` beside the
 * model (nodes only: ~40 KiB per layer, 1.1 MiB at 2B, 1.9 MiB at 13B), rebuilt when the
 * transformer it was made from changes (its sha256 is recorded in the variant's metadata).
 * Measured by `npm run bench:variant`: build time and file size against the weights.
 *
 * bf16 is not offered. onnxruntime-node has no bf16 tensors at the graph boundary (the graph could
 * still cast inside), but of the providers Reshoot uses only CUDA has bf16 kernels, and only for
 * some ops (MatMul, Add, LayerNorm; not MultiHeadAttention with key padding as of ORT 1.30);
 * WebGPU, DirectML and CoreML have none, and the CPU provider runs bf16 through slow reference
 * kernels. fp16 has more mantissa (10 bits vs 7) where the values fit, and the graph keeps the
 * statistics that need range in fp32, so fp16 is the half type everywhere; a bf16 graph would
 * only pay where CUDA fuses all of it, which nothing here can measure without a GPU.
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { ltxvTransformerGraph, type AttentionImpl } from './ltxv/transformer.ts';
import type { WeightSource } from './onnx/graph.ts';
import { inspectModel } from './onnx/inspect.ts';
import type { ModelHandle } from './types.ts';

/** What a render computes the transformer in: `auto` = half on GPU providers, fp32 on CPU (precision.ts computeFor). */
export type ComputeChoice = 'auto' | 'fp32' | 'fp16';
export const COMPUTE_CHOICES: readonly ComputeChoice[] = ['auto', 'fp32', 'fp16'];

/** The choice from a CLI flag or, without one, `RESHOOT_COMPUTE` (default auto); a bad value is one clear error. */
export function computeChoice(value: string | undefined = process.env.RESHOOT_COMPUTE || 'auto'): ComputeChoice {
  if (!(COMPUTE_CHOICES as readonly string[]).includes(value)) {
    throw new Error(`unknown compute precision "${value}" (one of ${COMPUTE_CHOICES.join(', ')}; RESHOOT_COMPUTE or --compute)`);
  }
  return value as ComputeChoice;
}

/** File name of the half-compute variant beside `transformer.onnx`. */
export const HALF_GRAPH_FILE = 'transformer.fp16.onnx';

const noWeights: WeightSource = (name) => {
  throw new Error(`internal: the fp16 variant asked for the bytes of ${name}; it only points at stored ones`);
};

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/**
 * The path of `model`'s fp16-compute transformer: the graph itself when it already computes in
 * fp16, else the variant beside it (built now if missing or made from another transformer).
 * Throws, saying why, when the model cannot compute in fp16: weights import kept in fp32 because
 * their values exceed fp16's range, or a folder that cannot be written.
 */
export function halfComputeGraph(model: ModelHandle): string {
  const source = model.graphs.transformer;
  const sourceBytes = readFileSync(source);
  const summary = inspectModel(sourceBytes);
  if (summary.metadata['reshoot.compute'] === 'fp16') return source;

  const kept = model.manifest.precision?.transformer?.keptFp32 ?? [];
  if (kept.length > 0) {
    throw new Error(`${model.manifest.id}: ${kept.length} transformer weights hold values beyond fp16's range (kept fp32 at import, e.g. ${kept[0]}); it computes in fp32 only`);
  }
  const from = `${basename(source)} sha256:${sha256(sourceBytes)}`;
  const dir = dirname(source);
  const target = `${dir}/${HALF_GRAPH_FILE}`;
  try {
    if (inspectModel(target).metadata['reshoot.derivedFrom'] === from) return target;
  } catch {
    // missing or unreadable: build it
  }
  const attention = (summary.metadata['reshoot.attention'] ?? 'fused') as AttentionImpl;
  const graph = ltxvTransformerGraph(model.manifest.transformer, noWeights, { attention, compute: 'fp16' });
  // Written under a temporary name and renamed: another process loading the model at the same
  // time sees the old file or the new one, never half of one.
  const partial = `${HALF_GRAPH_FILE}.partial-${process.pid}`;
  try {
    graph.saveOver(dir, partial, summary.initializers, { 'reshoot.derivedFrom': from });
    renameSync(`${dir}/${partial}`, target);
  } catch (e) {
    rmSync(`${dir}/${partial}`, { force: true });
    throw new Error(`${model.manifest.id}: could not make its fp16 transformer (${(e as Error).message.split('\n')[0]})`);
  }
  return target;
}
