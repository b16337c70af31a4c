/**
 * One T5 graph for every model that shares a text encoder. Every single-file release runs with
 * the same PixArt T5 (19 GB of weights); converting it again per import would cost minutes and
 * as much disk each time. An import records which text encoder it converted (`textEncoder` in
 * import.json: a key over the T5's config, weight files and the precision); a later import with
 * the same key links (or, across file systems, copies) the earlier model's text_encoder.onnx and
 * its data instead of converting.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { LtxvCheckpoint } from '../checkpoint.ts';
import type { PrecisionChoice } from '../precision.ts';
import { modelCacheDir, modelManifestSchema } from '../registry.ts';
import { GRAPH_FILES } from '../tiny.ts';
import type { GraphPrecision, ModelFile } from '../types.ts';
import { CONVERTER_VERSION } from './manifest.ts';

/** What identifies a converted T5 graph: converter, precision, config and weight files (not their bytes). */
export function textEncoderKey(ckpt: LtxvCheckpoint, precision: PrecisionChoice): string {
  const h = createHash('sha256');
  h.update(`reshoot-t5 ${CONVERTER_VERSION} ${precision}\n${JSON.stringify(ckpt.configs.textEncoder)}`);
  for (const f of ckpt.parts.text_encoder.files()) {
    const st = statSync(f.path);
    h.update(`\n${realpathSync(f.path)} ${f.size} ${st.mtimeMs}\n${f.headerText}`);
  }
  return h.digest('hex');
}

const recordSchema = z.object({ textEncoder: z.string().optional() });

export interface ReusedGraph {
  from: string;
  files: ModelFile[];
  precision: GraphPrecision;
}

/**
 * Links the T5 graph of a model in the cache converted under `key` into `dir`; undefined when
 * there is none (or its files are not as its model.json lists them).
 */
export function reuseTextEncoder(key: string, dir: string): ReusedGraph | undefined {
  const cache = modelCacheDir();
  if (!existsSync(cache)) return undefined;
  const names = [GRAPH_FILES.textEncoder, `${GRAPH_FILES.textEncoder}.data`];
  for (const id of readdirSync(cache)) {
    if (id.startsWith('.')) continue;
    const model = join(cache, id);
    try {
      const record = recordSchema.parse(JSON.parse(readFileSync(join(model, 'import.json'), 'utf8')));
      if (record.textEncoder !== key) continue;
      const manifest = modelManifestSchema.parse(JSON.parse(readFileSync(join(model, 'model.json'), 'utf8')));
      const files = names.map((n) => manifest.files.find((f) => f.path === n));
      const precision = manifest.precision?.text_encoder;
      if (!precision || files.some((f) => !f || statSync(join(model, f.path)).size !== f.bytes)) continue;
      for (const n of names) {
        try {
          linkSync(join(model, n), join(dir, n));
        } catch {
          copyFileSync(join(model, n), join(dir, n));
        }
      }
      return { from: id, files: files as ModelFile[], precision };
    } catch {
      continue; // not an import, or damaged: look further
    }
  }
  return undefined;
}
