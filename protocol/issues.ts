/**
 * Turns zod's issues into what an editor reads: one `path: message` per problem, with the
 * offending value and, for unknown fields, what was meant or what is accepted.
 * Used as a per-parse error map (never a global one: the companion may run other zod schemas).
 */
import type { z } from 'zod';
import { describe } from './fields.ts';

export interface SpecIssue {
  /** Dotted path with [i] for list items, e.g. `mask.shapes[0].keyframes[2].x`; '' for the spec itself. */
  path: string;
  message: string;
}

const TYPE_WORDS: Record<string, string> = {
  object: 'an object',
  array: 'a list',
  tuple: 'a list',
  number: 'a number',
  int: 'a whole number',
  string: 'a string',
  boolean: 'true or false',
};

type RawIssue = Parameters<z.core.$ZodErrorMap>[0];

/** Default messages for issues whose schema gave none. */
export function issueMessage(iss: RawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'required';
      return `expected ${TYPE_WORDS[iss.expected] ?? iss.expected}`;
    case 'too_small':
      return iss.origin === 'array' || iss.origin === 'set'
        ? `needs at least ${iss.minimum} item${Number(iss.minimum) === 1 ? '' : 's'}`
        : iss.origin === 'string'
          ? 'must not be empty'
          : `must be ${iss.inclusive ? 'at least' : 'more than'} ${iss.minimum}`;
    case 'too_big':
      return iss.origin === 'array' || iss.origin === 'set'
        ? `allows at most ${iss.maximum} items`
        : iss.origin === 'string'
          ? `must be at most ${iss.maximum} characters`
          : `must be ${iss.inclusive ? 'at most' : 'less than'} ${iss.maximum}`;
    case 'invalid_value':
      return iss.values.length === 1
        ? `expected ${JSON.stringify(iss.values[0])}`
        : `expected one of ${iss.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'unrecognized_keys': {
      // Carry the accepted keys to issuesFromZod, which splits this into one issue per key.
      const shape = (iss.inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape;
      return ACCEPTS + Object.keys(shape ?? {}).join(',');
    }
    default:
      return undefined;
  }
}

const ACCEPTS = '\u0000accepts:';

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

/**
 * Unknown fields past this many get no "did you mean" (an edit distance against every accepted
 * name each): a spec with tens of thousands of junk keys must not cost seconds to refuse.
 */
const MAX_SUGGESTIONS = 50;

export function issuesFromZod(issues: readonly z.core.$ZodIssue[]): SpecIssue[] {
  const out: SpecIssue[] = [];
  let suggested = 0;
  for (const iss of issues) {
    const at = formatPath(iss.path);
    if (iss.code === 'unrecognized_keys') {
      const accepted = iss.message.startsWith(ACCEPTS) ? iss.message.slice(ACCEPTS.length).split(',').filter(Boolean) : [];
      for (const key of iss.keys) {
        const message = suggested++ < MAX_SUGGESTIONS ? unknownField(key, at, accepted) : `unknown field "${key.slice(0, 100)}"${at ? ` at ${at}` : ''}`;
        out.push({ path: formatPath([...iss.path, key]), message });
      }
      continue;
    }
    out.push({ path: at, message: withInput(iss) });
  }
  return out;
}

/** Appends the offending value when it helps and the message does not already say it. */
function withInput(iss: z.core.$ZodIssue): string {
  const input = (iss as { input?: unknown }).input;
  const discriminator = (iss as { discriminator?: string }).discriminator;
  if (input === undefined && iss.path.length > 0 && !discriminator && iss.code !== 'custom') {
    // A missing field: say so first, then what would have been accepted.
    const hint = iss.message.replace(/, got nothing$/, '');
    return hint === 'required' || !hint.startsWith('expected') ? 'required' : `required (${hint})`;
  }
  if (iss.message.includes(' got ') || iss.message === 'required') return iss.message;
  if (iss.code === 'invalid_union') {
    if (!discriminator) return iss.message;
    const value = typeof input === 'object' && input !== null ? (input as Record<string, unknown>)[discriminator] : undefined;
    return `${iss.message}, got ${describe(value)}`;
  }
  const scalar = input === null || ['string', 'number', 'boolean'].includes(typeof input);
  if (iss.code === 'custom' || !scalar) {
    // Composite inputs are not worth echoing, except to say what kind of thing arrived.
    return iss.code === 'invalid_type' && input !== undefined ? `${iss.message}, got ${describe(input)}` : iss.message;
  }
  return `${iss.message}, got ${describe(input)}`;
}

function unknownField(key: string, at: string, accepted: string[]): string {
  const where = at ? ` at ${at}` : '';
  const guess = closest(key, accepted);
  if (guess) return `unknown field "${key}"${where} (did you mean "${guess}"?)`;
  return accepted.length ? `unknown field "${key}"${where} (accepted: ${accepted.join(', ')})` : `unknown field "${key}"${where}`;
}

/** A likely intended name: same letters ignoring case/_/-, or within a small edit distance. */
function closest(key: string, names: string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[_\- ]/g, '');
  const exact = names.find((n) => norm(n) === norm(key));
  if (exact) return exact;
  let best: string | undefined;
  let bestD = Math.min(3, Math.floor(key.length / 3));
  for (const n of names) {
    const d = editDistance(norm(key), norm(n));
    if (d <= bestD) [best, bestD] = [n, d - 1];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
