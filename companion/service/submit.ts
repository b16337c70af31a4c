/**
 * A spec as the service accepts it: validated by the one schema, with uploaded sources turned
 * into the files they were written to. Anything a client sends passes through here.
 */
import type { JobSpec } from '../../protocol/index.ts';
import { pickSeed } from '../engine/noise.ts';
import { ReshootError } from '../errors.ts';
import { uploadFile } from './uploads.ts';
import type { SpecValidator } from './validator.ts';

type AnySource = { path?: string; upload?: string; in?: unknown; out?: unknown };

/**
 * The spec to queue. `input` is JSON text (an HTTP body), a parsed value, or a spec the
 * validator has checked already (a large WebSocket message is parsed and checked in one go).
 */
/** What a client sent: JSON text, a parsed value, or a spec the validator has checked already. */
export type SpecInput = { text: string } | { json: unknown } | { checked: JobSpec };

export async function acceptSpec(input: SpecInput, uploadsDir: string, validator: SpecValidator): Promise<JobSpec> {
  // Validated off the event loop: a large or pathological spec must not stall other clients.
  const spec = 'checked' in input ? input.checked : await validator.spec(input);
  if (spec.output.path) {
    // The service writes only into its own results folder: a client must not choose a path
    // on this machine to write to.
    throw new ReshootError('bad_spec', 'output.path: the companion writes results into its own folder; leave output.path out (the result path is reported when the job is done)');
  }
  // A job without a seed gets one now, so a resumed job (after a crash) renders the same frames.
  if (spec.seed === undefined) spec.seed = pickSeed();
  const resolve = <S extends AnySource>(s: S): S => {
    if (!s.upload) return s;
    const { upload, ...rest } = s;
    return { ...rest, path: uploadFile(uploadsDir, upload) } as S;
  };
  if (spec.kind === 'bridge') return { ...spec, sources: { a: resolve(spec.sources.a), b: resolve(spec.sources.b) } } as JobSpec;
  if (spec.source) return { ...spec, source: resolve(spec.source as AnySource) } as JobSpec;
  return spec;
}
