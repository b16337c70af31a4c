/**
 * The job spec: one schema for every entry point (panel, `reshoot render job.json`, batch).
 * Every object is strict: a misspelt field is an error, never silently ignored, because an
 * ignored `"negative_prompt"` costs an editor a render.
 */
import { z } from 'zod';
import {
  LIMITS,
  fpsSchema,
  pixelAspectSchema,
  positionSchema,
  spanSchema,
  timeToFrames,
  type Time,
  describe,
} from './fields.ts';
import { maskSchema } from './mask.ts';
import { formatRational, type Rational } from './rational.ts';
import { issueMessage, issuesFromZod, type SpecIssue } from './issues.ts';

export const JOB_KINDS = ['extend', 'fill', 'replace', 'generate', 'bridge'] as const;
export const OUTPUT_FORMATS = ['prores422hq', 'prores4444', 'h264', 'png', 'ffv1', 'tiff', 'dpx', 'exr'] as const;
/** Formats written as a folder of numbered images rather than one file. */
export const SEQUENCE_FORMATS: readonly string[] = ['png', 'tiff', 'dpx', 'exr'];

/**
 * An upload's id, as the companion hands it out in `upload.ready` / `upload.done`. Restricted to
 * a safe alphabet (a UUID fits) so an id can never be read as a path.
 */
export const UPLOAD_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
export const uploadIdSchema = z
  .string({ error: 'expected an upload id' })
  .regex(UPLOAD_ID_PATTERN, 'expected an upload id (1 to 64 letters, digits, "-" or "_")');

const SOURCE_HINT = 'expected exactly one of path (a media file) or upload (an uploadId from upload.done)';

/**
 * A source clip, by reference (`path`: the companion decodes the file) or by value (`upload`:
 * frames the panel streamed earlier). One object with an exactly-one check rather than a zod
 * union, so that `source.path: must not be empty` is reported as such and not as "invalid union".
 */
const sourceSchema = z
  .strictObject(
    {
      // Kept verbatim: Windows paths (C:\Users\...) and UNC shares are the panel's normal case.
      path: z.string({ error: 'expected a file path' }).min(1, 'must not be empty').optional(),
      /** An uploadId from `upload.done`; the companion resolves it to the uploaded frames. */
      upload: uploadIdSchema.optional(),
      /**
       * Frames by path: image files (one per frame, in order, at the sequence rate) that a panel on
       * the same machine exported into the companion's frames folder (its connection file names
       * it). The companion reads them, checks they are inside that folder, and deletes them.
       */
      files: z.array(z.string({ error: 'expected a file path' }).min(1, 'must not be empty'), { error: 'expected a list of frame files' }).min(1, 'must name at least one frame file').max(100_000, 'names too many frame files').optional(),
      /** First frame used, in the source's own timeline seen at the sequence rate. */
      in: positionSchema.optional(),
      /** Exclusive: the first frame not used. */
      out: positionSchema.optional(),
    },
    { error: (iss) => (iss.code === 'invalid_type' ? `${SOURCE_HINT}, got ${describe(iss.input)}` : undefined) },
  )
  .check((ctx) => {
    const s = ctx.value;
    if (s.files !== undefined) {
      // Frames by path (the panel's own choice, not an editor's): alone or not at all.
      if (s.path !== undefined || s.upload !== undefined) ctx.issues.push({ code: 'custom', message: 'files: give frame files alone, without path or upload', input: s });
    } else if (s.path !== undefined && s.upload !== undefined) {
      ctx.issues.push({ code: 'custom', message: `${SOURCE_HINT}, not both`, input: s });
    } else if (s.path === undefined && s.upload === undefined) {
      ctx.issues.push({ code: 'custom', message: SOURCE_HINT, input: s });
    }
  })
  .transform((s): Source => {
    const out: Source = s.path !== undefined ? { path: s.path } : s.files !== undefined ? { files: s.files } : { upload: s.upload! };
    if (s.in !== undefined) out.in = s.in;
    if (s.out !== undefined) out.out = s.out;
    return out;
  });

const sequenceSchema = z.strictObject({
  fps: fpsSchema,
  width: dimension(),
  height: dimension(),
  pixelAspect: pixelAspectSchema.default({ num: 1, den: 1 }),
  /**
   * A source of another shape (by displayed aspect: size × pixel aspect, after rotation): 'fit'
   * (absent = this; whole picture, bars, as Premiere's "scale to frame size"), 'fill' (cover,
   * crop the overflow) or 'stretch'.
   */
  fit: z.enum(['fit', 'fill', 'stretch']).optional(),
});

/** Formats that store an alpha channel. */
export const ALPHA_FORMATS: readonly OutputFormatName[] = ['prores4444', 'png', 'ffv1', 'tiff', 'dpx', 'exr'];
type OutputFormatName = (typeof OUTPUT_FORMATS)[number];

const outputSchema = z.strictObject({
  format: z.enum(OUTPUT_FORMATS),
  /** Where to write; absent = the companion's results folder. */
  path: z.string({ error: 'expected a file path' }).min(1, 'must not be empty').optional(),
  /**
   * A source's alpha, for formats that carry it (prores4444, png, ffv1): it is always kept
   * outside the mask; inside, generated pixels are 'opaque' (absent = this) or keep the
   * 'source' alpha; 'none' writes no alpha channel at all.
   */
  alpha: z.enum(['opaque', 'source', 'none']).optional(),
});

function dimension() {
  return z
    .number({ error: 'expected a whole number of pixels' })
    .int('expected a whole number of pixels')
    .min(LIMITS.minSize, `must be at least ${LIMITS.minSize} pixels`)
    .max(LIMITS.maxSize, `must be at most ${LIMITS.maxSize} pixels`);
}

const common = {
  version: z.literal(1, { error: 'unsupported job spec version; this companion reads version 1' }).default(1),
  prompt: z.string().max(10_000, 'must be at most 10000 characters').default(''),
  negativePrompt: z.string().max(10_000, 'must be at most 10000 characters').default(''),
  /** Absent: the companion picks one and records it in the result, so the run can be repeated. */
  seed: z
    .number()
    .int('expected a whole number')
    .min(0, 'must be at least 0')
    .max(LIMITS.maxSeed, `must be less than 2^32 (at most ${LIMITS.maxSeed})`)
    .optional(),
  steps: z.number().int('expected a whole number').min(1, 'must be at least 1').max(LIMITS.maxSteps, `must be at most ${LIMITS.maxSteps}`).optional(),
  guidance: z.number().min(0, 'must be at least 0').max(LIMITS.maxGuidance, `must be at most ${LIMITS.maxGuidance}`).optional(),
  /** How far known content may be re-imagined: 1 = fully generated masked region. */
  strength: z.number().min(0, 'must be at least 0').max(1, 'must be at most 1').default(1),
  /** How known frames are held: absent = the model's default (per-token if it supports it). */
  conditioning: z.enum(['per-token', 'blend']).optional(),
  model: z.string().min(1, 'must not be empty').default('builtin:tiny'),
  sequence: sequenceSchema,
  output: outputSchema.default({ format: 'prores422hq' }),
};

const extendJob = z.strictObject({
  kind: z.literal('extend'),
  ...common,
  source: sourceSchema,
  extend: z.strictObject({
    direction: z.enum(['tail', 'head']),
    duration: spanSchema,
    /** Known frames shown to the model next to the new ones; absent = the model's window. */
    context: spanSchema.optional(),
  }),
});

const fillJob = z.strictObject({ kind: z.literal('fill'), ...common, source: sourceSchema, mask: maskSchema });

/** `mask` covers the plate region to regenerate; the rest (the foreground) is kept. */
const replaceJob = z.strictObject({ kind: z.literal('replace'), ...common, source: sourceSchema, mask: maskSchema });

const generateJob = z.strictObject({
  kind: z.literal('generate'),
  ...common,
  /** Optional first frame: a still, or the frame at `in` of a clip. */
  source: sourceSchema.optional(),
  duration: spanSchema,
});

const bridgeJob = z.strictObject({
  kind: z.literal('bridge'),
  ...common,
  sources: z.strictObject({ a: sourceSchema, b: sourceSchema }),
  gap: spanSchema,
});

export const jobSpecSchema = z
  .discriminatedUnion('kind', [extendJob, fillJob, replaceJob, generateJob, bridgeJob], {
    error: (iss) =>
      iss.code === 'invalid_union' ? `expected kind to be one of ${JOB_KINDS.map((k) => `"${k}"`).join(', ')}` : undefined,
  })
  .check((ctx) => {
    // Checks that need the frame rate: ranges and spans measured in frames.
    // Only on an otherwise valid spec: a bad field should not also produce follow-on errors.
    if (ctx.issues.length > 0) return;
    const spec = ctx.value;
    const fps = spec.sequence.fps;
    const issue = (path: (string | number)[], message: string) =>
      ctx.issues.push({ code: 'custom', path, message, input: spec });

    const checkSource = (s: Source | undefined, at: string[]) => {
      if (!s?.in || !s.out) return;
      const a = timeToFrames(s.in, fps);
      const b = timeToFrames(s.out, fps);
      if (b <= a) issue([...at, 'out'], `must be after in (in is frame ${a}, out is frame ${b} at ${formatRational(fps)} fps)`);
    };
    const checkSpan = (t: Time | undefined, at: (string | number)[]) => {
      if (t && timeToFrames(t, fps) < 1) issue(at, `shorter than one frame at ${formatRational(fps)} fps`);
    };

    if (spec.kind === 'bridge') {
      checkSource(spec.sources.a, ['sources', 'a']);
      checkSource(spec.sources.b, ['sources', 'b']);
      checkSpan(spec.gap, ['gap']);
    } else {
      checkSource(spec.source, ['source']);
    }
    if (spec.kind === 'extend') {
      checkSpan(spec.extend.duration, ['extend', 'duration']);
      checkSpan(spec.extend.context, ['extend', 'context']);
    }
    if (spec.kind === 'generate') checkSpan(spec.duration, ['duration']);
    const { alpha, format } = spec.output;
    if (alpha && alpha !== 'none' && !ALPHA_FORMATS.includes(format)) {
      issue(['output', 'alpha'], `${format} cannot store alpha; use ${ALPHA_FORMATS.join(', ')} or leave alpha out`);
    }
  });

export type JobSpec = z.output<typeof jobSpecSchema>;
/** What a caller may write: defaults optional, rates and times in any accepted form. */
export type JobSpecInput = z.input<typeof jobSpecSchema>;
export type JobKind = JobSpec['kind'];
/** A source given by reference: a media file the companion decodes. */
export interface PathSource {
  path: string;
  upload?: undefined;
  files?: undefined;
  /** First frame used, in the source's own timeline seen at the sequence rate. */
  in?: Time;
  /** Exclusive: the first frame not used. */
  out?: Time;
}
/** A source given by value: frames the panel uploaded (`upload.done`'s uploadId). */
export interface UploadSource {
  upload: string;
  path?: undefined;
  files?: undefined;
  in?: Time;
  out?: Time;
}
/** Frames by path: image files a panel on this machine exported into the companion's frames folder. */
export interface FilesSource {
  files: string[];
  path?: undefined;
  upload?: undefined;
  in?: Time;
  out?: Time;
}
export type Source = PathSource | UploadSource | FilesSource;

export function isUploadSource(s: Source): s is UploadSource {
  return typeof s.upload === 'string';
}
export function isPathSource(s: Source): s is PathSource {
  return typeof s.path === 'string';
}
export type Sequence = z.output<typeof sequenceSchema>;
export type Output = z.output<typeof outputSchema>;
export type OutputFormat = Output['format'];
export type ExtendJob = Extract<JobSpec, { kind: 'extend' }>;
export type FillJob = Extract<JobSpec, { kind: 'fill' }>;
export type ReplaceJob = Extract<JobSpec, { kind: 'replace' }>;
export type GenerateJob = Extract<JobSpec, { kind: 'generate' }>;
export type BridgeJob = Extract<JobSpec, { kind: 'bridge' }>;

/**
 * A spec that failed validation. Plain Error (no Node imports: the panel throws it too);
 * `code` matches the companion's ReshootError code so it can be reported the same way.
 */
export class JobSpecError extends Error {
  readonly code = 'bad_spec' as const;
  readonly issues: SpecIssue[];
  constructor(issues: SpecIssue[]) {
    const lines = issues.map((i) => `  ${i.path || '(top level)'}: ${i.message}`);
    super(`invalid job spec (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`);
    this.name = 'JobSpecError';
    this.issues = issues;
  }
}

/** Validates and normalizes a spec (defaults filled, rates reduced); throws JobSpecError. */
export function parseJobSpec(json: unknown): JobSpec {
  const result = safeParseJobSpec(json);
  if (!result.ok) throw result.error;
  return result.spec;
}

export function safeParseJobSpec(json: unknown): { ok: true; spec: JobSpec } | { ok: false; error: JobSpecError } {
  const r = jobSpecSchema.safeParse(json, { error: issueMessage, reportInput: true });
  return r.success ? { ok: true, spec: r.data } : { ok: false, error: new JobSpecError(issuesFromZod(r.error.issues)) };
}

/**
 * The spec as JSON Schema (input form), for editors' autocompletion of job.json files and
 * for documentation. Cross-field checks (in < out, polygon point counts) are not expressible
 * there; parseJobSpec remains the authority.
 */
export function jobSpecJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(jobSpecSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}

/** Serializes a parsed spec so it re-parses to an equal spec (rates written as "num/den"). */
export function serializeJobSpec(spec: JobSpec): string {
  return JSON.stringify(spec, (_key, value: unknown) => (isRational(value) ? formatRational(value) : value), 2);
}

function isRational(v: unknown): v is Rational {
  return (
    typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 2 &&
    Number.isInteger((v as Rational).num) && Number.isInteger((v as Rational).den)
  );
}
