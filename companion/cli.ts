/**
 * `reshoot` on the command line:
 *   reshoot render job.json [--out PATH] [--force] [--provider P] [--compute C]   (defaults: RESHOOT_PROVIDER / RESHOOT_COMPUTE, else auto)
 *   reshoot doctor
 *   reshoot models list|pull|import|info|remove   (see modelsCli.ts)
 *   reshoot demo [--out DIR]
 *   reshoot install-cuda
 *   reshoot worker|workers --queue redis://…   (see farm/cli.ts)
 * Exit codes: 0 done, 1 the job failed or `serve` could not start (one clear message on stderr),
 * 2 usage error.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseJobSpec, JobSpecError } from '../protocol/index.ts';
import { isReshootError } from './errors.ts';
import { runJob } from './jobs/run.ts';
import { abandonOutputs } from './media/encode.ts';
import type { Progress } from './jobs/render.ts';
import { providersFor } from './engine/providers.ts';
import { computeChoice } from './models/computeVariant.ts';
import { MODELS_USAGE } from './modelsCli.ts';
import { FARM_USAGE } from './farm/usage.ts';
import { FarmError } from './farm/errors.ts';

const USAGE = `usage:
  reshoot serve [--port N] [--host ADDR --allow-remote] [--allow-origin ORIGIN]...
                [--queue redis://… [--results SHARED_DIR] [--config FILE]]
                                 the companion service the Premiere panel talks to (npm start);
                                 with --queue, jobs go to a render farm's workers
${FARM_USAGE}
  reshoot render <job.json> [--out PATH] [--force] [--provider auto|cuda|dml|coreml|webgpu|cpu]
                [--compute auto|fp32|fp16]   transformer float type (auto: fp16 on GPUs, fp32 on CPU)
  reshoot doctor                 check ffmpeg, ONNX Runtime providers and the model cache
${MODELS_USAGE}
  reshoot demo [--out DIR]       render the examples into ./out
  reshoot install-cuda           opt in to ONNX Runtime's CUDA provider (downloads ~1 GB)`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'render':
        return await render(rest);
      case 'serve':
        return await serve(rest);
      case 'doctor':
        return await (await import('./doctor.ts')).doctor();
      case 'models':
        return await (await import('./modelsCli.ts')).modelsCommand(rest);
      case 'demo':
        return await (await import('./demo.ts')).demo(parseArgs({ args: rest, options: { out: { type: 'string' } } }).values.out ?? 'out');
      case 'worker':
        return await (await import('./farm/cli.ts')).workerCommand(rest);
      case 'workers':
        return await (await import('./farm/cli.ts')).workersCommand(rest);
      case 'install-cuda':
        return await (await import('./doctor.ts')).installCuda();
      case undefined:
      case 'help':
      case '--help':
        console.log(USAGE);
        return command ? 0 : 2;
      default:
        console.error(`reshoot: unknown command "${command}"\n${USAGE}`);
        return 2;
    }
  } catch (e) {
    return fail(e);
  }
}

/** One clear message, no stack, for anything the user can fix; a stack for real bugs. */
export function fail(e: unknown): number {
  if (e instanceof JobSpecError) console.error(`reshoot: ${e.message}`);
  else if (isReshootError(e) || e instanceof FarmError) console.error(`reshoot: ${e.message}`);
  else if (e instanceof Error && 'code' in e && e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    console.error(`reshoot: ${e.message}\n${USAGE}`);
    return 2;
  } else console.error(`reshoot: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  return 1;
}

async function render(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { out: { type: 'string' }, force: { type: 'boolean', default: false }, provider: { type: 'string' }, compute: { type: 'string' } },
  });
  if (positionals.length !== 1) {
    console.error(`reshoot render: expected one job file\n${USAGE}`);
    return 2;
  }
  const file = positionals[0]!;
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    console.error(`reshoot: cannot read job file ${file}: ${why}`);
    return 1;
  }
  let providers;
  let compute;
  try {
    providers = providersFor(values.provider);
    compute = computeChoice(values.compute);
  } catch (e) {
    console.error(`reshoot render: ${(e as Error).message}`);
    return 2;
  }
  const spec = parseJobSpec(json);
  const bar = progressBar(`${spec.kind}`);
  const stopInterrupts = exitCleanlyOnInterrupt(bar.clear);
  const result = await runJob(spec, { out: values.out, force: values.force, providers, compute, onProgress: bar.update })
    .catch((e) => {
      bar.clear(); // the error is the one line the user should see
      throw e;
    })
    .finally(stopInterrupts);
  bar.done();
  for (const f of result.provenance.providerFallbacks) console.error(`reshoot: provider fell back: ${f}`);
  const { attention, attentionReason } = result.provenance.transformer;
  if (attention === 'plain' && attentionReason) console.error(`reshoot: ${attentionReason}`);
  for (const n of result.provenance.sampling.notes) console.error(`reshoot: ${n}`);
  const t = result.provenance.timings;
  console.log(
    `${result.output}\n  ${result.provenance.frames} frames, seed ${result.provenance.seed}, model ${result.provenance.model.id}` +
      ` on ${result.provenance.provider} (${result.provenance.transformer.compute ?? 'fp32'} compute), ${t.totalSeconds.toFixed(1)} s (${t.windows} windows, ${t.meanStepMs.toFixed(0)} ms/step)` +
      (result.provenance.model.testModel ? `\n  note: ${result.provenance.model.id} is a test model; it exercises the pipeline and makes no real pictures` : '') +
      `\n  provenance: ${result.sidecar}`,
  );
  return 0;
}

/**
 * Ctrl-C or SIGTERM during a render: stop the encoders, remove their partial files, say so in one
 * line and exit (130 / 143, as shells expect). Without this Node dies on the signal without
 * running any cleanup and a hidden `.partial-…` file stays beside the output. Returns the
 * function that removes the handlers once the render is over.
 */
function exitCleanlyOnInterrupt(clearLine: () => void): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    clearLine();
    const abandoned = abandonOutputs();
    const what = abandoned.length
      ? `stopped; ${abandoned.map((p) => `"${p}"`).join(', ')} was not written and its unfinished file was removed`
      : 'stopped before anything was written';
    console.error(`reshoot: interrupted (${signal}): ${what}.`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
}

async function serve(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'allow-remote': { type: 'boolean', default: false },
      'allow-origin': { type: 'string', multiple: true },
      queue: { type: 'string' },
      results: { type: 'string' },
      config: { type: 'string' },
    },
  });
  // BullMQ and ioredis load only for a farm.
  const farm = values.queue === undefined && values.results === undefined ? undefined : (await import('./farm/cli.ts')).farmFromOptions(values);
  const { startService, StartError, DEFAULT_PORT } = await import('./service/service.ts');
  const { reshootHome } = await import('./service/home.ts');
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`reshoot serve: --port must be a port number, got ${values.port}`);
    return 2;
  }
  // Ctrl+C / SIGTERM are caught from before the start: the connection file tells clients the
  // companion is up, and a signal that lands between writing it and the line that waits for
  // one must still close it cleanly (exit 0, connection file and lock removed), not meet Node's
  // default action (death by signal, both files left behind).
  let stopRequested = (): void => {};
  const stopped = new Promise<void>((resolve) => (stopRequested = resolve));
  const onStop = (): void => stopRequested();
  process.once('SIGINT', onStop);
  process.once('SIGTERM', onStop);
  let service;
  try {
    service = await startService({
      home: reshootHome(),
      port,
      host: values.host,
      allowRemote: values['allow-remote'],
      allowOrigins: values['allow-origin'] ?? [],
      farm,
    });
  } catch (e) {
    // Another instance on this home, a full disk, a taken port: one line, exit 1, nothing left behind.
    process.off('SIGINT', onStop);
    process.off('SIGTERM', onStop);
    if (e instanceof StartError) {
      console.error(`reshoot serve: ${e.message}`);
      return 1;
    }
    throw e;
  }
  console.log(`reshoot companion listening on http://${service.host}:${service.port} (WebSocket on the same port)`);
  const { PANEL_PORTS, panelCanReach } = await import('../protocol/ports.ts');
  if (!panelCanReach(service.port)) {
    console.warn(`note: the Premiere panel can reach ports ${PANEL_PORTS[0]}-${PANEL_PORTS[PANEL_PORTS.length - 1]} only (its manifest lists them); use one of those for the panel`);
  }
  if (farm) console.log(`  jobs go to the render farm at ${farm.connection.display}; results in ${farm.results ?? 'the data folder'} (reshoot workers lists the workers)`);
  else console.log(`  providers, tried in order: ${providersFor().join(', ')} (RESHOOT_PROVIDER picks one; reshoot doctor says which run here)`);
  console.log(`  connection file: ${service.connectionFile}`);
  console.log(`  jobs: ${service.queue.list().length} on record; Ctrl+C stops`);
  await stopped;
  console.log('stopping…');
  await service.close();
  return 0;
}

/** A one-line progress bar with ETA on stderr (plain lines when stderr is not a terminal). */
export function progressBar(label: string): { update: (p: Progress) => void; done: () => void; clear: () => void } {
  const tty = process.stderr.isTTY;
  let lastLine = '';
  let lastPrint = 0;
  return {
    update(p) {
      const width = 28;
      const filled = Math.round(p.fraction * width);
      const eta = p.etaSeconds === null ? '--' : formatEta(p.etaSeconds);
      const what = p.phase === 'loading' ? 'loading model' : p.phase === 'done' ? 'done' : `window ${p.window}/${p.windows} step ${p.step}/${p.steps}`;
      const line = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(p.fraction * 100).toFixed(0).padStart(3)}%  ${what}  ETA ${eta}`;
      if (tty) process.stderr.write(`\r${line.padEnd(lastLine.length)}`);
      // Without a terminal, only lines worth keeping in a log: not the start, at most every 2 s.
      else if (p.phase !== 'loading' && (performance.now() - lastPrint > 2000 || p.phase === 'done')) {
        process.stderr.write(line + '\n');
        lastPrint = performance.now();
      }
      lastLine = line;
    },
    done() {
      if (tty) process.stderr.write('\n');
    },
    clear() {
      if (tty && lastLine) process.stderr.write(`\r${' '.repeat(lastLine.length)}\r`);
    },
  };
}

function formatEta(s: number): string {
  if (s < 60) return `${Math.ceil(s)}s`;
  return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`;
}
