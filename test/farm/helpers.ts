/**
 * Test helpers for the farm: a real redis-server of our own (free loopback port, temp dir,
 * requirepass, AOF fsync'd on every write) and `reshoot worker` processes started from the CLI.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { farmConnection, type FarmConnection } from '../../companion/farm/redis.ts';
import type { FarmConfigInput } from '../../companion/farm/config.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const REDIS_SERVER = '/usr/bin/redis-server';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export class TestRedis {
  private proc: ChildProcess | null = null;
  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly password: string | null,
  ) {}

  /** A redis-server on a free loopback port; `password: null` runs one without (to see it refused). */
  static async start(dir: string, opts: { password?: string | null } = {}): Promise<TestRedis> {
    const r = new TestRedis(dir, await freePort(), opts.password === undefined ? 'farm-test-' + Math.random().toString(36).slice(2) : opts.password);
    await r.launch();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** The connection as the companion makes it (the password from the environment). */
  connection(): FarmConnection {
    return farmConnection(this.url, { redis: {} }, { RESHOOT_REDIS_PASSWORD: this.password ?? undefined });
  }

  client(): Redis {
    const c = new Redis({ host: '127.0.0.1', port: this.port, password: this.password ?? undefined, maxRetriesPerRequest: null });
    c.on('error', () => {});
    return c;
  }

  private async launch(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', '', '--logfile', path.join(this.dir, 'redis.log')];
    if (this.password) args.push('--requirepass', this.password);
    else args.push('--protected-mode', 'no');
    const proc = spawn(REDIS_SERVER, args, { stdio: 'ignore' });
    this.proc = proc;
    const deadline = Date.now() + 20_000;
    for (;;) {
      const c = new Redis({ host: '127.0.0.1', port: this.port, password: this.password ?? undefined, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      c.on('error', () => {});
      const ok = await c.connect().then(() => c.ping()).then(
        () => true,
        () => false,
      );
      c.disconnect();
      if (ok) return;
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}; see ${path.join(this.dir, 'redis.log')}`);
      if (Date.now() > deadline) throw new Error('redis-server did not start within 20 s');
      await sleep(50);
    }
  }

  /** kill -9, then start again on the same port and folder (its AOF brings the data back). */
  async crashAndRestart(downMs = 300): Promise<void> {
    await this.kill();
    await sleep(downMs);
    await this.launch();
  }

  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGKILL');
    await exited;
  }
}

export interface TestWorker {
  proc: ChildProcess;
  machine: string;
  output: () => string;
  exited: Promise<number | null>;
  /** SIGTERM and wait for it to stop. */
  stop(): Promise<void>;
}

/** `reshoot worker` as its own process, with its config written to `<dir>/farm-<machine>.json`. */
export async function startWorker(dir: string, redis: TestRedis, config: FarmConfigInput & { machine: string }): Promise<TestWorker> {
  const file = path.join(dir, `farm-${config.machine}.json`);
  writeFileSync(file, JSON.stringify(config));
  const proc = spawn(process.execPath, [path.join(ROOT, 'bin/reshoot.mjs'), 'worker', '--queue', redis.url, '--config', file], {
    cwd: ROOT,
    env: { ...process.env, RESHOOT_HOME: dir, RESHOOT_REDIS_PASSWORD: redis.password ?? '', RESHOOT_PROVIDER: 'cpu' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${config.machine} did not start within 60 s:\n${out}`)), 60_000);
    const check = () => {
      if (out.includes('taking jobs')) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker ${config.machine} exited with ${code}:\n${out}`));
    });
  });
  return {
    proc,
    machine: config.machine,
    output: () => out,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `f` until it returns something truthy. */
export async function waitFor<T>(what: string, f: () => T | Promise<T>, timeoutMs = 60_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
