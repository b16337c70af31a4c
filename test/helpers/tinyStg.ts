/** builtin:tiny with an STG-capable transformer, for tests of the authors' guidance recipes. */
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ltxvTransformerGraph } from '../../companion/models/ltxv/transformer.ts';
import { modelGraphs } from '../../companion/models/registry.ts';
import { TINY_SEED, tinyTransformerConfig } from '../../companion/models/tiny.ts';
import type { ModelHandle } from '../../companion/models/types.ts';
import { seededWeights } from '../../companion/models/weights.ts';

/**
 * A copy of `plain` (builtin:tiny) in `dir` whose transformer takes the STG perturbation input:
 * the same weights (seeded by name), one more input.
 */
export function tinyStgModel(plain: ModelHandle, dir: string): ModelHandle {
  mkdirSync(dir);
  for (const f of readdirSync(plain.dir)) copyFileSync(join(plain.dir, f), join(dir, f));
  const config = { ...tinyTransformerConfig, stg: 'attention_values' as const };
  ltxvTransformerGraph(config, seededWeights(TINY_SEED)).save(dir, 'transformer.onnx');
  const manifest = { ...plain.manifest, transformer: config };
  return { dir, manifest, graphs: modelGraphs(dir, manifest) };
}
