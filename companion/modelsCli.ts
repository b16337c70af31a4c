/**
 * `reshoot models …`: what is in the model cache, and getting LTX-Video into it.
 *
 *   models list                                   models in the cache and built in
 *   models pull <repo-id> [--revision R] [--id NAME] [--all] [--precision auto|fp32|fp16|int8|int4]
 *                                                 download into the Hugging Face cache, then convert
 *   models pull <repo-id> --file <name.safetensors>   one single file (+ text encoder, + upscaler), then convert
 *   models pull <repo-id> --text-encoder-only      only text_encoder/ and tokenizer/
 *   models import <folder | file.safetensors> [--id NAME] [--precision …] [--text-encoder FOLDER]
 *                                                 convert a checkpoint already on disk (a diffusers folder,
 *                                                 or the authors' / ComfyUI's single file)
 *   models info <id>                              what a model is, where it came from, its files
 *   models remove <id> [--hf-cache]               delete a converted model (and its hub download)
 */
import { rm } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ReshootError } from './errors.ts';
import { PRECISION_CHOICES, type PrecisionChoice } from './models/precision.ts';
import { describeRecipe } from './models/recipe.ts';

export const MODELS_USAGE = `  reshoot models list            models in the cache and built in
  reshoot models pull <repo-id> [--revision R] [--id NAME] [--all] [--precision auto|fp32|fp16|int8|int4]
                                 download a diffusers LTX-Video checkpoint from the Hugging Face Hub
                                 (HF_TOKEN for gated repos; resumes; HF cache layout) and convert it
  reshoot models pull <repo-id> --file <name.safetensors> [--revision R] [--id NAME] [--text-encoder FOLDER]
                                 download one single-file checkpoint (e.g. Lightricks/LTX-Video
                                 --file ltxv-2b-0.9.8-distilled.safetensors), the text encoder its recipe
                                 names (once per cache) and, for a multi-scale recipe, its upscaler; convert
  reshoot models pull <repo-id> --text-encoder-only
                                 download only text_encoder/ and tokenizer/ (PixArt-alpha/PixArt-XL-2-1024-MS)
  reshoot models import <folder | file.safetensors> [--id NAME] [--precision auto|fp32|fp16|int8|int4]
                       [--text-encoder FOLDER] [--upscaler FILE]
                                 convert a checkpoint already on disk: a diffusers folder, or the authors'
                                 (or ComfyUI's) single .safetensors file; a single file takes its T5 from
                                 --text-encoder (a folder with text_encoder/ and tokenizer/, or the id of a
                                 converted model: the T5 it was converted with), by default
                                 PixArt-alpha/PixArt-XL-2-1024-MS from the Hugging Face cache; --upscaler
                                 adds a multi-scale recipe's latent upscaler (ltxv-spatial-upscaler-*.safetensors)
  reshoot models import <upscaler.safetensors> --into <id>
                                 add the latent upscaler to a model converted earlier
  reshoot models info <id>       what a model is, where it came from, its files and precision
  reshoot models remove <id> [--hf-cache]   delete a converted model (--hf-cache: its download too)`;

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** One status line on stderr, rewritten in place on a terminal, every few seconds in a log. */
function statusLine(): { show: (line: string) => void; done: () => void } {
  const tty = process.stderr.isTTY;
  let last = '';
  // A log gets its first line after 3 s too: quick steps print nothing, however old the process.
  let printed = performance.now();
  return {
    show(line) {
      if (tty) process.stderr.write(`\r${line.padEnd(last.length)}`);
      else if (performance.now() - printed > 3000) {
        process.stderr.write(`${line}\n`);
        printed = performance.now();
      }
      last = line;
    },
    done() {
      if (tty && last) process.stderr.write('\n');
      last = '';
    },
  };
}

function precisionOf(p: string | undefined): PrecisionChoice {
  if (p === undefined) return 'auto';
  if ((PRECISION_CHOICES as readonly string[]).includes(p)) return p as PrecisionChoice;
  throw new ReshootError('model', `--precision must be one of ${PRECISION_CHOICES.join(', ')}, not "${p}"`);
}

interface ConvertOptions {
  id?: string;
  precision: PrecisionChoice;
  textEncoder?: string;
  upscaler?: string;
}

async function convert(folder: string, o: ConvertOptions): Promise<number> {
  const { importCheckpoint } = await import('./models/convert/index.ts');
  const { onePassNote } = await import('./models/convert/upsampler.ts');
  const line = statusLine();
  const m = await importCheckpoint(folder, {
    ...(o.id ? { id: o.id } : {}),
    ...(o.textEncoder ? { textEncoder: o.textEncoder } : {}),
    ...(o.upscaler ? { upscaler: o.upscaler } : {}),
    precision: o.precision,
    onProgress: (p) => line.show(`converting ${p.stage} ${p.total ? `${p.done}/${p.total}` : ''}`),
  });
  line.done();
  console.log(`${m.id}: ${m.description}`);
  if (m.upsampler) console.log(`  latent upscaler: ${m.upsampler.source} (multi-scale: two passes)`);
  else if (m.recipe?.pipeline === 'multi-scale' && m.recipe.upscaler) console.log(`  ${onePassNote(m.id, m.recipe.upscaler)}`);
  console.log(`  render with "model": "${m.id}" in a job spec, or pick it in the panel`);
  return 0;
}

export async function modelsCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        revision: { type: 'string' },
        id: { type: 'string' },
        all: { type: 'boolean', default: false },
        precision: { type: 'string' },
        'hf-cache': { type: 'boolean', default: false },
        'text-encoder': { type: 'string' },
        upscaler: { type: 'string' },
        file: { type: 'string' },
        'text-encoder-only': { type: 'boolean', default: false },
        into: { type: 'string' },
      },
    });
  } catch (e) {
    return usage((e as Error).message);
  }
  const { values, positionals } = parsed;
  const registry = await import('./models/registry.ts');
  switch (sub) {
    case 'list': {
      for (const m of await registry.listModels()) {
        const state = m.status === 'ready' ? mb(m.bytes ?? 0) : m.status === 'not_built' ? 'builds on first use' : `damaged: ${m.problem}`;
        console.log(`${m.id.padEnd(20)} ${state.padEnd(20)} ${m.testModel ? 'test model  ' : ''}${m.dir}`);
      }
      return 0;
    }
    case 'pull': {
      if (positionals.length !== 1) return usage('pull takes one repo id, e.g. Lightricks/LTX-Video');
      const progress = (line: ReturnType<typeof statusLine>) => (p: { file: string | null; doneBytes: number; totalBytes: number; fileBytes: number; fileTotal: number }) => {
        if (p.file) line.show(`${mb(p.doneBytes)} / ${mb(p.totalBytes)}  ${p.file} ${((100 * p.fileBytes) / Math.max(p.fileTotal, 1)).toFixed(0)}%`);
      };
      if (values.file) {
        const { pullSingleFile } = await import('./models/hub/pullFile.ts');
        const line = statusLine();
        const r = await pullSingleFile(positionals[0]!, values.file, {
          ...(values.revision ? { revision: values.revision } : {}),
          ...(values['text-encoder'] ? { textEncoder: values['text-encoder'] } : {}),
          onProgress: progress(line),
        });
        line.done();
        console.log(`${r.repo}@${r.commit.slice(0, 12)}: ${values.file}${r.upscaler ? ' and its upscaler' : ''}, ${mb(r.downloadedBytes)} downloaded${r.offline ? ' (hub unreachable: from the cache)' : ''}; text encoder from ${r.textEncoder}`);
        for (const note of r.notes) console.log(`  ${note}`);
        return convert(r.checkpoint, {
          ...(values.id ? { id: values.id } : {}),
          precision: precisionOf(values.precision),
          textEncoder: r.textEncoder,
          ...(r.upscaler ? { upscaler: r.upscaler } : {}),
        });
      }
      const { pullCheckpoint } = await import('./models/hub/pull.ts');
      if (values['text-encoder-only']) {
        const { TEXT_ENCODER_FOLDERS } = await import('./models/textEncoder.ts');
        const line = statusLine();
        const r = await pullCheckpoint(positionals[0]!, { ...(values.revision ? { revision: values.revision } : {}), folders: TEXT_ENCODER_FOLDERS, onProgress: progress(line) });
        line.done();
        console.log(`${r.repo}@${r.commit.slice(0, 12)}: text_encoder/ and tokenizer/ (${r.files.length} files, ${mb(r.downloadedBytes)} downloaded) in ${r.snapshotDir}`);
        return 0;
      }
      const line = statusLine();
      const r = await pullCheckpoint(positionals[0]!, {
        ...(values.revision ? { revision: values.revision } : {}),
        all: values.all,
        onProgress: progress(line),
      });
      line.done();
      console.log(
        r.offline
          ? `the hub is unreachable; using ${r.repo}@${r.commit.slice(0, 12)} from the cache: ${r.snapshotDir}`
          : `${r.repo}@${r.commit.slice(0, 12)}: ${r.files.length} files, ${mb(r.downloadedBytes)} downloaded, in ${r.snapshotDir}`,
      );
      return convert(r.snapshotDir, { ...(values.id ? { id: values.id } : {}), precision: precisionOf(values.precision) });
    }
    case 'import': {
      if (positionals.length !== 1) return usage('import takes one checkpoint folder or .safetensors file');
      if (values.into) {
        const { addUpscaler } = await import('./models/convert/index.ts');
        const m = await addUpscaler(values.into, positionals[0]!);
        console.log(`${m.id}: latent upscaler ${m.upsampler?.source} added (multi-scale: two passes)`);
        return 0;
      }
      return convert(positionals[0]!, {
        ...(values.id ? { id: values.id } : {}),
        precision: precisionOf(values.precision),
        ...(values['text-encoder'] ? { textEncoder: values['text-encoder'] } : {}),
        ...(values.upscaler ? { upscaler: values.upscaler } : {}),
      });
    }
    case 'info': {
      if (positionals.length !== 1) return usage('info takes one model id');
      const { manifest: m, dir } = await registry.loadModel(positionals[0]!);
      const bytes = m.files.reduce((s, f) => s + f.bytes, 0);
      console.log(`${m.id}${m.testModel ? ' (test model: makes no pictures)' : ''}\n  ${m.description}`);
      console.log(`  folder: ${dir} (${mb(bytes)})`);
      if (m.source) console.log(`  from: ${m.source.repo ? `${m.source.repo}@${m.source.revision?.slice(0, 12) ?? '?'} ` : ''}${m.source.checkpoint} (LTX-Video ${m.source.version})`);
      console.log(`  license: ${m.license}`);
      const cg = m.scheduler.contextGuidance;
      console.log(`  sampling: ${m.scheduler.steps} steps, guidance ${m.scheduler.guidance}${cg ? `, context guidance ${cg.scale} at σ ≥ ${cg.minSigma}` : ''}, ${m.conditioning} conditioning; up to ${m.sizeRules.maxFrames} frames, multiples of ${m.sizeRules.multiple} px`);
      if (m.recipe) for (const line of describeRecipe(m.recipe)) console.log(`  ${line}`);
      if (m.upsampler) console.log(`  latent upscaler: ${m.upsampler.source} (${m.upsampler.inChannels} → ${m.upsampler.midChannels} channels, ${m.upsampler.blocksPerStage} blocks per stage)`);
      else if (m.recipe?.pipeline === 'multi-scale' && m.recipe.upscaler) {
        const { onePassNote } = await import('./models/convert/upsampler.ts');
        console.log(`  ${onePassNote(m.id, m.recipe.upscaler)}`);
      }
      for (const [graph, p] of Object.entries(m.precision ?? {})) {
        console.log(`  ${graph}: ${p.stored}${p.keptFp32.length ? `, ${p.keptFp32.length} tensors kept fp32` : ''}${p.notes.length ? ` (${p.notes.join('; ')})` : ''}`);
      }
      for (const f of m.files) console.log(`    ${f.path.padEnd(28)} ${mb(f.bytes).padStart(12)}  sha256 ${f.sha256.slice(0, 16)}…`);
      return 0;
    }
    case 'remove': {
      if (positionals.length !== 1) return usage('remove takes one model id');
      const id = positionals[0]!;
      if (id.startsWith('builtin:')) throw new ReshootError('model', `${id} is built in (it is rebuilt on first use); nothing to remove`);
      const { manifest, dir } = await registry.loadModel(id).catch(async (e: unknown) => {
        // A damaged folder can still be removed; an unknown id cannot.
        const listed = (await registry.listModels()).find((m) => m.id === id);
        if (!listed) throw e;
        return { manifest: null, dir: listed.dir };
      });
      await rm(dir, { recursive: true, force: true });
      console.log(`removed ${id} (${dir})`);
      if (values['hf-cache'] && manifest?.source?.repo && manifest.source.revision) {
        const { RepoCache, removeSnapshot } = await import('./models/hub/cache.ts');
        const freed = await removeSnapshot(new RepoCache(manifest.source.repo), manifest.source.revision);
        console.log(`removed ${manifest.source.repo}@${manifest.source.revision.slice(0, 12)} from the Hugging Face cache (${mb(freed)} freed)`);
      } else if (values['hf-cache']) {
        console.log('the model did not come from the Hugging Face cache; nothing else removed');
      }
      return 0;
    }
    default:
      return usage(`unknown subcommand "${sub ?? ''}"`);
  }
}

function usage(problem: string): number {
  console.error(`reshoot models: ${problem}\n${MODELS_USAGE}`);
  return 2;
}
