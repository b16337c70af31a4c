/**
 * A machine's farm settings, in `<RESHOOT_HOME>/farm.json` (or `--config FILE`): its name, its
 * path mapping rules, TLS files for Redis, and the timings of stalled-job recovery. Every field
 * is optional; a bad file fails with one message naming the field.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { FarmError } from './errors.ts';
import type { PathRule } from './paths.ts';

const ruleSchema = z.strictObject({
  from: z.string().min(1, 'must not be empty'),
  to: z.string().min(1, 'must not be empty'),
});

const ms = (what: string) => z.number().int(`expected ${what} in whole milliseconds`).min(100, 'must be at least 100 ms');

export const farmConfigSchema = z.strictObject({
  /** The name this machine goes by in `reshoot workers` and in error messages (default: hostname). */
  machine: z.string().min(1).max(100).optional(),
  /** Rewrites paths as jobs name them into paths this machine can open (paths.ts). */
  pathMap: z.array(ruleSchema).default([]),
  /** Offer only these models (default: every model in this machine's cache). */
  models: z.array(z.string().min(1)).optional(),
  /** GPU memory to advertise, when it cannot be read from nvidia-smi. */
  gpuMemoryGB: z.number().positive().optional(),
  redis: z
    .strictObject({
      /** ACL user (else the URL's, else Redis's `default`). */
      username: z.string().min(1).optional(),
      /** A file holding the password, so it is in neither the command line nor the environment. */
      passwordFile: z.string().min(1).optional(),
      /** TLS (`rediss://` URLs): a CA bundle, and a client certificate and key if Redis asks for one. */
      tls: z.strictObject({ ca: z.string().optional(), cert: z.string().optional(), key: z.string().optional() }).optional(),
    })
    .default({}),
  /**
   * A worker holds a lock on its job for lockMs and renews it every lockMs/2; a job whose lock ran
   * out (the worker was killed, lost power or its network) is given to another worker by the next
   * stalled-job check, every stalledIntervalMs. Lower them for quicker recovery, at the price of
   * more Redis traffic and a risk of taking a job from a worker that is only slow to answer.
   */
  lockMs: ms('lockMs').default(30_000),
  stalledIntervalMs: ms('stalledIntervalMs').default(30_000),
  /** How often a worker says it is alive; `reshoot workers` drops one silent for 3 beats. */
  heartbeatMs: ms('heartbeatMs').default(5_000),
});

export type FarmConfig = z.infer<typeof farmConfigSchema> & { machine: string; file: string | null };
export type FarmConfigInput = z.input<typeof farmConfigSchema>;

/** Reads `file` (or `<home>/farm.json` when it exists); defaults for everything absent. */
export function loadFarmConfig(home: string, file?: string): FarmConfig {
  const chosen = file ?? path.join(home, 'farm.json');
  let json: unknown = {};
  if (file !== undefined || existsSync(chosen)) {
    let text: string;
    try {
      text = readFileSync(chosen, 'utf8');
    } catch (e) {
      throw new FarmError('bad_config', `cannot read the farm config ${chosen}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new FarmError('bad_config', `the farm config ${chosen} is not valid JSON: ${(e as Error).message}`);
    }
  }
  const parsed = farmConfigSchema.safeParse(json);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new FarmError('bad_config', `the farm config ${chosen} is not valid:\n${lines.join('\n')}`);
  }
  return { ...parsed.data, machine: parsed.data.machine ?? hostname(), file: existsSync(chosen) ? chosen : null };
}

export type { PathRule };
