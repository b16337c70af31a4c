/**
 * Connecting to the farm's Redis. The farm refuses to run on a Redis that answers without
 * authentication: anyone who can reach such a port could read every job, inject work into every
 * GPU and, through path mapping, make workers read any file they can reach. Credentials come
 * from the URL (`redis://user:password@host:port/db`), else RESHOOT_REDIS_PASSWORD, else the
 * config's `redis.passwordFile`; `rediss://` connects over TLS with the config's CA/cert/key.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { FarmError } from './errors.ts';
import type { FarmConfig } from './config.ts';

export interface FarmConnection {
  /** The URL without its password, for messages and listings. */
  display: string;
  options: RedisOptions;
}

export function farmConnection(url: string, config: Pick<FarmConfig, 'redis'>, env: NodeJS.ProcessEnv = process.env): FarmConnection {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new FarmError('bad_queue', `--queue: not a URL: ${url} (expected redis://[user:password@]host:port[/db] or rediss://…)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new FarmError('bad_queue', `--queue: expected a redis:// or rediss:// URL, got ${u.protocol}//`);
  }
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new FarmError('bad_queue', `--queue: the database number must be a whole number, got "${u.pathname.slice(1)}"`);
  let password = decodeURIComponent(u.password) || env.RESHOOT_REDIS_PASSWORD || undefined;
  const file = config.redis.passwordFile;
  if (!password && file) {
    try {
      password = readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new FarmError('bad_config', `cannot read the Redis password file ${file}: ${(e as Error).message}`);
    }
  }
  if (!password) {
    throw new FarmError(
      'insecure_queue',
      'the farm needs a Redis password (requirepass or an ACL user): put it in the URL, in RESHOOT_REDIS_PASSWORD or in the farm config\'s redis.passwordFile',
    );
  }
  const username = decodeURIComponent(u.username) || config.redis.username || undefined;
  const tlsFiles = config.redis.tls;
  const read = (f: string | undefined) => (f ? readFileSync(f) : undefined);
  const options: RedisOptions = {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    db,
    username,
    password,
    // BullMQ's workers block on Redis; commands wait out a Redis restart instead of failing.
    maxRetriesPerRequest: null,
    ...(u.protocol === 'rediss:' ? { tls: { ca: read(tlsFiles?.ca), cert: read(tlsFiles?.cert), key: read(tlsFiles?.key), servername: u.hostname } } : {}),
  };
  const display = `${u.protocol}//${username ? `${username}@` : ''}${u.host}${db ? `/${db}` : ''}`;
  return { display, options };
}

/**
 * Checks the farm's Redis before anything is put into it: it is reachable, it refuses a client
 * without credentials, and it accepts ours. Each failure is one message saying what to fix.
 */
export async function checkRedis(conn: FarmConnection, timeoutMs = 5_000): Promise<void> {
  const anonymous = { ...conn.options, username: undefined, password: undefined };
  const open = await ping(anonymous, timeoutMs);
  if (open === 'unreachable') throw new FarmError('queue_unreachable', `cannot reach Redis at ${conn.display}`);
  if (open === 'ok') {
    throw new FarmError(
      'insecure_queue',
      `Redis at ${conn.display} answers without a password: the farm will not use it. Set requirepass (or ACL users) in redis.conf; see the README's "A render farm" section`,
    );
  }
  const ours = await ping(conn.options, timeoutMs);
  if (ours === 'unreachable') throw new FarmError('queue_unreachable', `cannot reach Redis at ${conn.display}`);
  if (ours === 'denied') throw new FarmError('queue_auth', `Redis at ${conn.display} refused the credentials (wrong user or password)`);
}

async function ping(options: RedisOptions, timeoutMs: number): Promise<'ok' | 'denied' | 'unreachable'> {
  const client = new Redis({ ...options, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs, enableOfflineQueue: false });
  // ioredis reports a refused handshake (HELLO/AUTH) as an error event, then "Connection is closed".
  let refused = '';
  client.on('error', (e: Error) => (refused ||= e.message));
  try {
    await client.connect();
    await client.ping();
    return 'ok';
  } catch (e) {
    const m = `${refused} ${String((e as Error)?.message ?? e)}`;
    return /NOAUTH|WRONGPASS|invalid (username|password)|Authentication required|NOPERM/i.test(m) ? 'denied' : 'unreachable';
  } finally {
    client.disconnect();
  }
}

/** A connection for long-lived use (BullMQ queues and workers, the registry). */
export function openRedis(conn: FarmConnection): Redis {
  const client = new Redis(conn.options);
  // ioredis reconnects by itself; errors while Redis restarts are expected, not fatal.
  client.on('error', () => {});
  return client;
}

/**
 * The same options as BullMQ takes them. BullMQ declares its own loose copy of ioredis's options
 * (it also speaks to other clients), which TypeScript does not see as the same type.
 */
export function bullConnection(conn: FarmConnection): ConnectionOptions {
  return conn.options as ConnectionOptions;
}
