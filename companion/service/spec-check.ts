/**
 * Validating a spec a client sent, as one bounded piece of work: objects with far more fields
 * than any spec has are refused before zod sees them, and the problems are reported as the
 * first few plus a count. Pure (no I/O): it runs in the validation worker (validator.ts).
 */
import { JobSpecError, formatPath, parseJobSpec, type JobSpec } from '../../protocol/index.ts';
import { ReshootError } from '../errors.ts';
import { MAX_REPORTED_PROBLEMS } from './limits.ts';

/** The spec, validated and normalized; throws a ReshootError('bad_spec') of bounded size. */
export function checkSpec(json: unknown): JobSpec {
  refuseOversizedObjects(json);
  try {
    return parseJobSpec(json);
  } catch (e) {
    throw e instanceof JobSpecError ? boundedSpecError(e) : e;
  }
}

/** No object in a job spec has more than a couple of dozen fields; lists may be long. */
const MAX_FIELDS_PER_OBJECT = 256;

/**
 * Refuses, before validation, an object with far more fields than any in a spec: validating
 * (and explaining) tens of thousands of unknown fields one by one is the costly part, and the
 * answer would be the same. One pass over the parsed JSON, no recursion limit to hit.
 */
function refuseOversizedObjects(json: unknown): void {
  // Each entry knows its parent, so a path is built only for the object refused (building one
  // per node would cost the square of the depth for a deeply nested body).
  interface Node {
    value: unknown;
    key: string | number;
    parent: Node | null;
  }
  const stack: Node[] = [{ value: json, key: '', parent: null }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    const { value } = node;
    if (typeof value !== 'object' || value === null) continue;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) stack.push({ value: value[i], key: i, parent: node });
      continue;
    }
    const keys = Object.keys(value);
    if (keys.length > MAX_FIELDS_PER_OBJECT) {
      const at = pathOf(node);
      throw new ReshootError('bad_spec', `invalid job spec: ${at || 'the spec'} has ${keys.length} fields; no object in a job spec has more than ${MAX_FIELDS_PER_OBJECT} (unknown fields are refused)`);
    }
    for (const k of keys) stack.push({ value: (value as Record<string, unknown>)[k], key: k, parent: node });
  }
}

function pathOf(node: { key: string | number; parent: { key: string | number; parent: unknown } | null }): string {
  const keys: (string | number)[] = [];
  for (let n: typeof node | null = node; n?.parent; n = n.parent as typeof node | null) keys.unshift(n.key);
  return formatPath(keys).slice(0, 200);
}

/**
 * The spec's problems as one reply of bounded size: the first few and a count of the rest. A
 * spec with 60,000 unknown fields must not earn a 10 MB answer.
 */
export function boundedSpecError(e: JobSpecError): ReshootError {
  const { issues } = e;
  const shown = issues.slice(0, MAX_REPORTED_PROBLEMS).map((i) => `  ${i.path.slice(0, 200) || '(top level)'}: ${i.message.slice(0, 300)}`);
  const more = issues.length - shown.length;
  if (more > 0) shown.push(`  … and ${more} more problem${more === 1 ? '' : 's'}`);
  return new ReshootError('bad_spec', `invalid job spec (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${shown.join('\n')}`);
}
