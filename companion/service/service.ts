/**
 * `reshoot serve` / `npm start`: the companion the panel talks to. HTTP and WebSocket share one
 * port on 127.0.0.1; jobs run one at a time on the device through a persisted queue; the
 * connection file tells the panel where we are and what the token is.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { bundledProviders } from '../engine/providers.ts';
import type { JobBackend } from '../jobs/backend.ts';
import { JobQueue } from '../jobs/queue.ts';
import type { FarmConnection } from '../farm/redis.ts';
import { RESHOOT_VERSION } from '../jobs/run.ts';
import { listModels } from '../models/registry.ts';
import { ensureHome, newToken, removeConnectionFile, writeConnectionFile } from './home.ts';
import { httpApp } from './http.ts';
import { DEFAULT_LIMITS, type ServiceLimits } from './limits.ts';
import { acquireHomeLock, HomeLockedError } from './lock.ts';
import { ensureFramesFolder } from './localFrames.ts';
import { RefusalLog, type DoorPolicy } from './security.ts';
import { Sessions } from './sessions.ts';
import { removePartialUploads } from './uploads.ts';
import { SpecValidator } from './validator.ts';

export const DEFAULT_PORT = 41780;

export interface ServiceOptions {
  home: string;
  port?: number;
  /** Address to bind; anything but loopback must be asked for explicitly (`allowRemote`). */
  host?: string;
  allowRemote?: boolean;
  allowOrigins?: string[];
  /** Reuse a fixed token (tests); normally a new one per start. */
  token?: string;
  /** Caps and idle timeouts (limits.ts); tests lower them. */
  limits?: Partial<ServiceLimits>;
  /** Where refused connections are logged, one line each (default: stderr). */
  logRefusal?: (line: string) => void;
  /** Jobs go to a render farm on Redis instead of this machine's device (companion/farm/). */
  farm?: { connection: FarmConnection; results?: string };
}

/**
 * The service could not start, for a reason the user can act on (another instance holds the
 * home, the disk is full, the port is taken). Nothing is left behind: no lock, no connection
 * file, no listening socket.
 */
export class StartError extends Error {
  constructor(
    readonly code: 'home_locked' | 'disk_full' | 'home_unwritable' | 'port_in_use',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StartError';
  }
}

export interface RunningService {
  port: number;
  host: string;
  token: string;
  connectionFile: string;
  queue: JobBackend;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export async function startService(opts: ServiceOptions): Promise<RunningService> {
  const host = opts.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host) && !opts.allowRemote) {
    throw new Error(`refusing to listen on ${host}: only loopback is safe by default; pass --allow-remote to bind it (the token is still required)`);
  }
  const limits: ServiceLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const home = ensureHome(opts.home);
  // The lock comes before anything reads or writes the job store: a second instance must not
  // "recover" the jobs the first one is running.
  let lock;
  try {
    lock = acquireHomeLock(home);
  } catch (e) {
    if (e instanceof HomeLockedError) throw new StartError('home_locked', e.message, { cause: e });
    throw startFailure(e, home);
  }
  const token = opts.token ?? newToken();
  // With a farm, uploads go beside the results, on the shared storage workers read.
  const farmResults = opts.farm ? (opts.farm.results ?? path.join(home, 'results')) : null;
  const uploadsDir = farmResults ? path.join(farmResults, 'uploads') : path.join(home, 'uploads');
  const queue: JobBackend = opts.farm
    ? new (await import('../farm/farmQueue.ts')).FarmQueue({ dataDir: home, results: farmResults!, connection: opts.farm.connection })
    : new JobQueue({ dataDir: home });
  const server: Server = createServer();
  const validator = new SpecValidator();
  let sessions: Sessions | null = null;
  const undo = async () => {
    await sessions?.close().catch(() => undefined);
    await validator.close();
    server.closeAllConnections();
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    await queue.close().catch(() => undefined);
    await removeConnectionFile(home).catch(() => undefined);
    lock.release();
  };
  try {
    await queue.start();
    await removePartialUploads(uploadsDir);
    const policy: DoorPolicy = { token, port: opts.port ?? DEFAULT_PORT, hosts: LOOPBACK.has(host) ? [] : [host], allowOrigins: opts.allowOrigins ?? [], refusals: new RefusalLog(opts.logRefusal) };
    const providers = bundledProviders();
    sessions = new Sessions({ queue, policy, uploadsDir, providers, limits, validator, models: async () => (await listModels()).map((m) => m.id) });
    const s = sessions;
    server.on('request', httpApp(queue, policy, uploadsDir, validator));
    server.on('upgrade', (req, socket, head) => s.handleUpgrade(req, socket, head));
    // Slow or idle HTTP clients do not hold sockets for long; WebSocket sessions are capped in Sessions.
    server.headersTimeout = limits.headersTimeoutMs;
    server.requestTimeout = limits.requestTimeoutMs;
    server.maxConnections = limits.maxConnections;

    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? DEFAULT_PORT, host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    policy.port = port; // port 0 = any free port (tests)
    const connectionFile = await writeConnectionFile(home, { port, token, pid: process.pid, version: RESHOOT_VERSION, host, framesDir: ensureFramesFolder(uploadsDir) });

    let closing: Promise<void> | null = null;
    return {
      port,
      host,
      token,
      connectionFile,
      queue,
      close() {
        closing ??= (async () => {
          await s.close();
          await validator.close();
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          server.closeAllConnections();
          await closed;
          await queue.close();
          await removeConnectionFile(home);
          lock.release();
        })();
        return closing;
      },
    };
  } catch (e) {
    await undo();
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new StartError('port_in_use', `port ${opts.port ?? DEFAULT_PORT} on ${host} is in use by another program; pass --port to pick another`, { cause: e });
    }
    throw startFailure(e, home);
  }
}

/** A start that failed on the file system, said in words; anything else is passed on as it is. */
function startFailure(e: unknown, home: string): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new StartError('disk_full', `cannot start: no space left on the disk that holds ${home} (${code}); free some space and start again`, { cause: e });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new StartError('home_unwritable', `cannot start: ${home} is not writable (${code})`, { cause: e });
  }
  return e;
}
