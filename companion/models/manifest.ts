/**
 * The zod schema of `model.json` (see ModelManifest in types.ts), checked on every load so a hand
 * edited or half-written folder is reported as such rather than failing deep inside the engine.
 * Unknown keys are allowed (and dropped) so newer folders still load in older companions.
 */
import { z } from 'zod';
import { recipeSchema, stgDepth } from './recipe.ts';
import type { ModelManifest } from './types.ts';

const positiveInt = z.number().int().positive();

const latent = z.object({ channels: positiveInt, spatial: positiveInt, temporal: positiveInt, decoderReach: z.number().int().nonnegative().optional() });

const sizeRules = z
  .object({ multiple: positiveInt, maxPixels: positiveInt, maxFrames: positiveInt })
  .refine((r) => r.maxPixels >= r.multiple * r.multiple, { message: 'maxPixels is smaller than one multiple × multiple tile' });

const shift = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('static'), shift: z.number().positive() }),
  z.object({
    kind: z.literal('dynamic'),
    baseShift: z.number(),
    maxShift: z.number(),
    baseTokens: positiveInt,
    maxTokens: positiveInt,
  }),
]);

/** Context guidance (types.ts SchedulerDefaults.contextGuidance); builtin:shapes' sampling.json holds one too. */
export const contextGuidanceSchema = z.object({ scale: z.number().gt(1), minSigma: z.number().min(0).max(1) });

const scheduler = z
  .object({
    steps: positiveInt,
    guidance: z.number().nonnegative(),
    shift,
    shiftTerminal: z.number().positive().lt(1).optional(),
    sigmas: z.array(z.number().gt(0).lte(1)).min(1).optional(),
    contextGuidance: contextGuidanceSchema.optional(),
  })
  .refine((s) => !s.sigmas || s.sigmas.every((v, i, a) => i === 0 || v < a[i - 1]!), { message: 'scheduler.sigmas must decrease', path: ['sigmas'] })
  .refine((s) => !s.sigmas || s.sigmas.length === s.steps, { message: 'scheduler.sigmas must hold one σ per default step', path: ['sigmas'] });

const transformer = z.object({
  inChannels: positiveInt,
  outChannels: positiveInt,
  numAttentionHeads: positiveInt,
  attentionHeadDim: positiveInt,
  numLayers: positiveInt,
  crossAttentionDim: positiveInt,
  captionChannels: positiveInt,
  normEps: z.number().positive(),
  rope: z.object({
    baseNumFrames: z.number().positive(),
    baseHeight: z.number().positive(),
    baseWidth: z.number().positive(),
    theta: z.number().positive(),
    causalFix: z.boolean().optional(),
  }),
  stg: z.enum(['attention_values', 'attention_skip']).optional(),
});

const text = z.discriminatedUnion('tokenizer', [
  z.object({ tokenizer: z.literal('bytes'), maxTokens: positiveInt, padId: z.number().int().nonnegative() }),
  z.object({
    tokenizer: z.literal('t5'),
    file: z.string().min(1), // checked like `files` paths below
    maxTokens: positiveInt,
    padId: z.number().int().nonnegative(),
    eosId: z.number().int().nonnegative(),
  }),
]);

const vae = z.object({
  timestepConditioned: z.boolean(),
  decodeTimestep: z.number().nonnegative().optional(),
  decodeNoiseScale: z.number().min(0).max(1).optional(),
  spatialNoise: z.object({ sites: positiveInt, scale: positiveInt }).optional(),
});

const source = z.object({
  checkpoint: z.string().min(1),
  repo: z.string().min(1).optional(),
  revision: z.string().min(1).optional(),
  version: z.string().min(1),
});

const graphPrecision = z.object({
  stored: z.enum(['fp32', 'fp16', 'int8', 'int4']),
  keptFp32: z.array(z.string()),
  notes: z.array(z.string()),
});

const insideFolder = (p: string): boolean => !p.startsWith('/') && !p.split(/[\\/]/).includes('..') && !/^[a-zA-Z]:/.test(p);

const file = z.object({
  path: z
    .string()
    .min(1)
    .refine(insideFolder, { message: 'file paths must stay inside the model folder' }),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
});

export const modelManifestSchema = z
  .object({
    id: z.string().min(1),
    family: z.literal('ltxv'),
    license: z.string(),
    testModel: z.boolean(),
    description: z.string(),
    latent,
    sizeRules,
    scheduler,
    transformer,
    text,
    vae: vae.optional(),
    conditioning: z.enum(['per-token', 'blend']),
    extendContext: positiveInt.optional(),
    files: z.array(file),
    build: z.object({ producer: z.string(), version: z.number().int() }).optional(),
    source: source.optional(),
    precision: z.record(z.string(), graphPrecision).optional(),
    recipe: recipeSchema.optional(),
    upsampler: z
      .object({ source: z.string().min(1), inChannels: positiveInt, midChannels: positiveInt, blocksPerStage: positiveInt })
      .optional(),
  })
  .refine((m) => (m.sizeRules.maxFrames - 1) % m.latent.temporal === 0, {
    message: 'sizeRules.maxFrames must be 1 + latent.temporal · k',
    path: ['sizeRules', 'maxFrames'],
  })
  .refine((m) => m.extendContext === undefined || ((m.extendContext - 1) % m.latent.temporal === 0 && m.extendContext < m.sizeRules.maxFrames), {
    message: 'extendContext must be 1 + latent.temporal · k and shorter than sizeRules.maxFrames',
    path: ['extendContext'],
  })
  .refine((m) => !m.recipe || m.recipe.passes.every((p) => stgDepth(p.guidance) < m.transformer.numLayers), {
    message: 'recipe perturbs a transformer block the model does not have',
    path: ['recipe'],
  })
  .refine((m) => !m.recipe || m.recipe.passes.every((p) => p.guidance.stg.every((s) => s === 0)) || m.transformer.stg !== undefined, {
    message: 'recipe uses STG but the transformer graph has no STG input',
    path: ['recipe'],
  })
  .refine(({ text: t, files }) => t.tokenizer !== 't5' || (insideFolder(t.file) && files.some((f) => f.path === t.file)), {
    message: 'text.file must be a file of the model folder listed in files',
    path: ['text', 'file'],
  });

// The schema and the hand-written interface must describe the same thing.
type Parsed = z.infer<typeof modelManifestSchema>;
const _schemaMatchesType: (m: Parsed) => ModelManifest = (m) => m;
const _typeMatchesSchema: (m: ModelManifest) => Parsed = (m) => m;
void _schemaMatchesType;
void _typeMatchesSchema;
