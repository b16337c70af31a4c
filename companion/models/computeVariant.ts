/**
 * The transformer's half-precision compute variant, made from the graph a model already has.
 *
 * Import writes one transformer: fp32 compute (what every provider, the CPU one included, runs at
 * full accuracy). GPU providers run the fp16-compute graph instead (matmuls and attention in half
 * precision, norm statistics / softmax / timestep embedding in fp32; ltxv/transformer.ts). Writing
 * that variant at import as a second graph with its own weights would add them again on disk
 * (+3.6 GiB at 2B, +24.3 GiB at 13B in fp16) for values the model already holds. So the variant
 * is built when a GPU provider first asks for it: the graph builder makes the fp16-compute nodes
 * from the manifest's config (it needs no weight bytes for that) and `GraphBuilder.saveOver`
 * points every initializer at the bytes the stored graph's `transformer.onnx.data` already holds;
 * ORT casts fp32-stored weights to fp16 once while it creates the session (constant folding).
 * Measured (`npm run bench:variant`): the variant is 0.92 MiB at 2B and 1.58 MiB at 13B (34 KiB
 * per layer), built in about 0.5 s; it is rebuilt only when the transformer it was made from
 * changes (that graph's sha256 is in the variant's metadata). The price is at session creation:
 * over fp32-stored weights the folded Casts hold both copies for a moment (2B width, 2 layers,
 * CPU: open 20 s vs 12 s, peak RSS 1.45 vs 0.96 GiB); over fp16-stored weights (`--precision
 * fp16`, what a 13B import should use) there is no Cast on the matrices at all.
 *
 * bf16 is not offered. onnxruntime-node 1.30 has no bf16 tensors at the graph boundary (its
 * binding's type table stops at float16: element type 16 is unmapped), so a bf16 graph would cast
 * inside like this one does. Of the providers Reshoot uses, only CUDA registers bf16 kernels, and
 * for part of the ops; WebGPU, DirectML and CoreML compute in fp32/fp16 only. A bf16 variant would
 * therefore run on CUDA alone, and nothing here can test or measure it without a GPU. fp16 keeps 3
 * more mantissa bits than bf16 where values fit, and the graph keeps what needs range (norm
 * statistics, softmax, the timestep embedding) in fp32, which is why fp16 is the half type.
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
 * The variant's own builder version, part of what it records it was made from: a variant made by
 * older code is rebuilt (2: the fused graph's text mask as attention_bias, which WebGPU runs).
 */
const VARIANT_BUILD = 2;

/** File name of a transformer variant beside `transformer.onnx` (the fp16 one keeps its old name). */
export function variantFile(attention: AttentionImpl, compute: 'fp32' | 'fp16', stored: AttentionImpl): string {
  if (attention === stored) return compute === 'fp16' ? HALF_GRAPH_FILE : 'transformer.onnx';
  return compute === 'fp16' ? `transformer.${attention}.fp16.onnx` : `transformer.${attention}.onnx`;
}

/**
 * The path of `model`'s fp16-compute transformer: the graph itself when it already computes in
 * fp16, else the variant beside it (built now if missing or made from another transformer).
 * Throws, saying why, when the model cannot compute in fp16: weights import kept in fp32 because
 * their values exceed fp16's range, or a folder that cannot be written.
 */
export function halfComputeGraph(model: ModelHandle): string {
  return transformerVariant(model, { compute: 'fp16' });
}

/**
 * The path of `model`'s transformer with `want`'s attention (default: the stored graph's) and
 * compute type: the stored graph when it already is that, else a variant beside it, built the same
 * way as the fp16 one (nodes only, over the stored weights; rebuilt when the stored graph changes).
 * The plain-attention variant is what a WebGPU adapter whose fused kernel fails its check runs
 * (engine/attentionProbe.ts): a few hundred KiB of nodes, no second copy of the weights.
 */
export function transformerVariant(model: ModelHandle, want: { attention?: AttentionImpl; compute: 'fp32' | 'fp16' }): string {
  const source = model.graphs.transformer;
  const sourceBytes = readFileSync(source);
  const summary = inspectModel(sourceBytes);
  const stored = (summary.metadata['reshoot.attention'] ?? 'fused') as AttentionImpl;
  const storedCompute = summary.metadata['reshoot.compute'] === 'fp16' ? 'fp16' : 'fp32';
  const attention = want.attention ?? stored;
  if (attention === stored && want.compute === storedCompute) return source;
  if (want.compute === 'fp16') {
    const kept = model.manifest.precision?.transformer?.keptFp32 ?? [];
    if (kept.length > 0) {
      throw new Error(`${model.manifest.id}: ${kept.length} transformer weights hold values beyond fp16's range (kept fp32 at import, e.g. ${kept[0]}); it computes in fp32 only`);
    }
  }
  const from = `${basename(source)} sha256:${sha256(sourceBytes)} build:${VARIANT_BUILD}`;
  const dir = dirname(source);
  const file = variantFile(attention, want.compute, stored);
  const target = `${dir}/${file}`;
  try {
    if (inspectModel(target).metadata['reshoot.derivedFrom'] === from) return target;
  } catch {
    // missing or unreadable: build it
  }
  const graph = ltxvTransformerGraph(model.manifest.transformer, noWeights, { attention, compute: want.compute });
  // Written under a temporary name and renamed: another process loading the model at the same
  // time sees the old file or the new one, never half of one.
  const partial = `${file}.partial-${process.pid}`;
  try {
    graph.saveOver(dir, partial, summary.initializers, { 'reshoot.derivedFrom': from });
    renameSync(`${dir}/${partial}`, target);
  } catch (e) {
    rmSync(`${dir}/${partial}`, { force: true });
    const what = `${attention === stored ? '' : `${attention}-attention `}${want.compute}`;
    throw new Error(`${model.manifest.id}: could not make its ${what} transformer (${(e as Error).message.split('\n')[0]})`);
  }
  return target;
}
