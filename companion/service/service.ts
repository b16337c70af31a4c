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
import type { DoorPolicy } from './security.ts';
import { Sessions } from './sessions.ts';

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
  /** Jobs go to a render farm on Redis instead of this machine's device (companion/farm/). */
  farm?: { connection: FarmConnection; results?: string };
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
  const home = ensureHome(opts.home);
  const token = opts.token ?? newToken();
  // With a farm, uploads go beside the results, on the shared storage workers read.
  const farmResults = opts.farm ? (opts.farm.results ?? path.join(home, 'results')) : null;
  const uploadsDir = farmResults ? path.join(farmResults, 'uploads') : path.join(home, 'uploads');
  const queue: JobBackend = opts.farm
    ? new (await import('../farm/farmQueue.ts')).FarmQueue({ dataDir: home, results: farmResults!, connection: opts.farm.connection })
    : new JobQueue({ dataDir: home });
  await queue.start();

  const policy: DoorPolicy = { token, port: opts.port ?? DEFAULT_PORT, hosts: LOOPBACK.has(host) ? [] : [host], allowOrigins: opts.allowOrigins ?? [] };
  const providers = bundledProviders();
  const sessions = new Sessions({ queue, policy, uploadsDir, providers, models: async () => (await listModels()).map((m) => m.id) });
  const server: Server = createServer(httpApp(queue, policy, uploadsDir));
  server.on('upgrade', (req, socket, head) => sessions.handleUpgrade(req, socket, head));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? DEFAULT_PORT, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  policy.port = port; // port 0 = any free port (tests)
  const connectionFile = await writeConnectionFile(home, { port, token, pid: process.pid, version: RESHOOT_VERSION, host });

  let closing: Promise<void> | null = null;
  return {
    port,
    host,
    token,
    connectionFile,
    queue,
    close() {
      closing ??= (async () => {
        await sessions.close();
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
        await queue.close();
        await removeConnectionFile(home);
      })();
      return closing;
    },
  };
}
