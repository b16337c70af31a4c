/**
 * The farm on the command line:
 *   reshoot worker  --queue redis://… [--config FILE] [--provider P]   render jobs from the farm
 *   reshoot workers --queue redis://… [--config FILE] [--json]         list the live workers
 * and the `--queue` / `--results` options of `reshoot serve` (farmFromOptions).
 */
import { parseArgs } from 'node:util';
import { providersFor } from '../engine/providers.ts';
import { reshootHome } from '../service/home.ts';
import { loadFarmConfig } from './config.ts';
import { FarmError } from './errors.ts';
import { listWorkers } from './registry.ts';
import { checkRedis, farmConnection, openRedis, type FarmConnection } from './redis.ts';
import { FARM_USAGE } from './usage.ts';

export { FARM_USAGE };



/** `serve --queue URL [--results DIR] [--config FILE]`: the farm the service sends jobs to, if any. */
export function farmFromOptions(values: { queue?: string; results?: string; config?: string }): { connection: FarmConnection; results?: string } | undefined {
  if (values.queue === undefined) {
    if (values.results !== undefined) throw new FarmError('bad_queue', '--results names the farm\'s shared results folder; it needs --queue');
    return undefined;
  }
  const config = loadFarmConfig(reshootHome(), values.config);
  return { connection: farmConnection(values.queue, config), results: values.results };
}

export async function workerCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { queue: { type: 'string' }, config: { type: 'string' }, provider: { type: 'string' } } });
  if (!values.queue) return usage('reshoot worker: --queue redis://… is required');
  return guard(async () => {
    const config = loadFarmConfig(reshootHome(), values.config);
    const { FarmWorker } = await import('./worker.ts');
    const worker = new FarmWorker({ connection: farmConnection(values.queue!, config), config, providers: providersFor(values.provider) });
    const info = await worker.start();
    console.log(`reshoot worker ${info.id} taking jobs from ${farmConnection(values.queue!, config).display}`);
    console.log(`  models: ${info.models.join(', ')}; providers: ${info.providers.join(', ')}; GPU memory: ${info.gpuMemoryGB ?? 'unknown'} GB`);
    console.log(`  path mapping: ${config.pathMap.length === 0 ? 'none' : config.pathMap.map((r) => `${r.from} → ${r.to}`).join('; ')}${config.file ? ` (${config.file})` : ''}`);
    console.log('  Ctrl+C stops after the running job');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    console.log('stopping…');
    await worker.close();
    return 0;
  });
}

export async function workersCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { queue: { type: 'string' }, config: { type: 'string' }, json: { type: 'boolean', default: false } } });
  if (!values.queue) return usage('reshoot workers: --queue redis://… is required');
  return guard(async () => {
    const config = loadFarmConfig(reshootHome(), values.config);
    const conn = farmConnection(values.queue!, config);
    await checkRedis(conn);
    const redis = openRedis(conn);
    try {
      const workers = await listWorkers(redis);
      if (values.json) {
        console.log(JSON.stringify({ workers }, null, 2));
        return 0;
      }
      if (workers.length === 0) {
        console.log(`no worker is online at ${conn.display}`);
        return 0;
      }
      const rows = workers.map((w) => [w.id, w.models.join(','), w.providers.join(','), w.gpuMemoryGB === null ? '-' : `${w.gpuMemoryGB} GB`, w.job ?? 'idle', `${w.done}/${w.failed}`, w.seenAt]);
      const head = ['WORKER', 'MODELS', 'PROVIDERS', 'GPU', 'JOB', 'DONE/FAILED', 'SEEN'];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
      for (const r of [head, ...rows]) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd());
      return 0;
    } finally {
      redis.disconnect();
    }
  });
}

async function guard(f: () => Promise<number>): Promise<number> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof FarmError) {
      console.error(`reshoot: ${e.message}`);
      return 1;
    }
    throw e;
  }
}

function usage(message: string): number {
  console.error(`${message}\n${FARM_USAGE}`);
  return 2;
}
