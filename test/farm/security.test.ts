/**
 * The farm never talks to a Redis without authentication, and says exactly what is wrong with a
 * queue URL, a config file, or credentials (companion/farm/redis.ts, config.ts); a worker that can
 * take no job at all (GPU too small) refuses to start instead of idling on the farm.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFarmConfig } from '../../companion/farm/config.ts';
import { FarmError } from '../../companion/farm/errors.ts';
import { checkRedis, farmConnection } from '../../companion/farm/redis.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { TestRedis, freePort } from './helpers.ts';

const tmp = tempDir('reshoot-farm-sec-');
let open: TestRedis;
let locked: TestRedis;

beforeAll(async () => {
  const a = path.join(tmp.dir, 'open');
  const b = path.join(tmp.dir, 'locked');
  for (const d of [a, b]) (await import('node:fs')).mkdirSync(d);
  [open, locked] = await Promise.all([TestRedis.start(a, { password: null }), TestRedis.start(b)]);
});
afterAll(async () => {
  await open?.kill();
  await locked?.kill();
  tmp.cleanup();
});

function farmError(f: () => unknown): FarmError {
  try {
    f();
  } catch (e) {
    if (e instanceof FarmError) return e;
    throw e;
  }
  throw new Error('expected a FarmError');
}

async function farmErrorAsync(p: Promise<unknown>): Promise<FarmError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  if (e instanceof FarmError) return e;
  throw new Error(`expected a FarmError, got ${String(e)}`);
}

describe('connecting to the farm', () => {
  it('refuses to start without a password, and says where one goes', () => {
    const e = farmError(() => farmConnection('redis://127.0.0.1:6379', { redis: {} }, {}));
    expect(e.code).toBe('insecure_queue');
    expect(e.message).toContain('RESHOOT_REDIS_PASSWORD');
  });

  it('takes the password from the URL, the environment or a file, and the ACL user from the URL', () => {
    const file = path.join(tmp.dir, 'pw');
    writeFileSync(file, 'from-file\n');
    expect(farmConnection('redis://render:s3cret@nas:6380/2', { redis: {} }, {}).options).toMatchObject({ host: 'nas', port: 6380, db: 2, username: 'render', password: 's3cret' });
    expect(farmConnection('redis://nas', { redis: {} }, { RESHOOT_REDIS_PASSWORD: 'from-env' }).options.password).toBe('from-env');
    expect(farmConnection('redis://nas', { redis: { passwordFile: file } }, {}).options.password).toBe('from-file');
    // The password never shows in what is printed.
    expect(farmConnection('redis://render:s3cret@nas:6380', { redis: {} }, {}).display).toBe('redis://render@nas:6380');
  });

  it('uses TLS for rediss:// URLs', () => {
    expect(farmConnection('rediss://:pw@nas:6380', { redis: {} }, {}).options.tls).toMatchObject({ servername: 'nas' });
    expect(farmConnection('redis://:pw@nas:6380', { redis: {} }, {}).options.tls).toBeUndefined();
  });

  it('names what is wrong with a bad URL', () => {
    expect(farmError(() => farmConnection('nas:6379', { redis: {} }, {})).message).toContain('expected a redis:// or rediss:// URL');
    expect(farmError(() => farmConnection('http://nas', { redis: {} }, {})).code).toBe('bad_queue');
    expect(farmError(() => farmConnection('redis://:pw@nas/x', { redis: {} }, {})).message).toContain('database number');
  });

  it('refuses a Redis that answers without a password, even when given one', async () => {
    const e = await farmErrorAsync(checkRedis(farmConnection(open.url, { redis: {} }, { RESHOOT_REDIS_PASSWORD: 'anything' })));
    expect(e.code).toBe('insecure_queue');
    expect(e.message).toContain('answers without a password');
  });

  it('tells a wrong password from an unreachable Redis', async () => {
    const wrong = await farmErrorAsync(checkRedis(farmConnection(locked.url, { redis: {} }, { RESHOOT_REDIS_PASSWORD: 'wrong' })));
    expect(wrong.code).toBe('queue_auth');
    const port = await freePort();
    const away = await farmErrorAsync(checkRedis(farmConnection(`redis://127.0.0.1:${port}`, { redis: {} }, { RESHOOT_REDIS_PASSWORD: 'x' })));
    expect(away.code).toBe('queue_unreachable');
    await expect(checkRedis(locked.connection())).resolves.toBeUndefined();
  });

  it('names the bad field of a farm config', () => {
    const file = path.join(tmp.dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ machine: 'gpu-1', pathMap: [{ from: '\\\\nas\\show' }], lockMs: 5 }));
    const e = farmError(() => loadFarmConfig(tmp.dir, file));
    expect(e.code).toBe('bad_config');
    expect(e.message).toContain('pathMap.0.to');
    expect(e.message).toContain('lockMs: must be at least 100 ms');
    expect(farmError(() => loadFarmConfig(tmp.dir, path.join(tmp.dir, 'none.json'))).message).toContain('no such file');
  });

  it('reshoot serve --queue against an open Redis exits with one clear message and listens nowhere', () => {
    const r = spawnSync(process.execPath, ['bin/reshoot.mjs', 'serve', '--port', '0', '--queue', open.url], {
      cwd: path.resolve(import.meta.dirname, '../..'),
      env: { ...process.env, RESHOOT_HOME: path.join(tmp.dir, 'home'), RESHOOT_REDIS_PASSWORD: 'anything' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^reshoot: Redis at redis:\/\/127\.0\.0\.1:\d+ answers without a password/);
    expect(r.stdout).not.toContain('listening');
  });

  it('a worker whose GPU is too small for every model it has refuses to start, saying so', () => {
    const config = path.join(tmp.dir, 'small-gpu.json');
    writeFileSync(config, JSON.stringify({ machine: 'tiny-gpu', gpuMemoryGB: 0.0001 }));
    const r = spawnSync(process.execPath, ['bin/reshoot.mjs', 'worker', '--queue', locked.url, '--config', config], {
      cwd: path.resolve(import.meta.dirname, '../..'),
      env: { ...process.env, RESHOOT_HOME: path.join(tmp.dir, 'home'), RESHOOT_REDIS_PASSWORD: locked.password!, RESHOOT_MODELS: path.join(tmp.dir, 'models') },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/cannot take any job: none fits its 0\.0001 GB of GPU memory: (.*, )?builtin:tiny \(largest part 0\.\d+ GB\)/);
  });
});
