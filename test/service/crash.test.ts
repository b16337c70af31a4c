/**
 * Crash recovery of the real service: spawn `reshoot serve`, kill -9 it mid-job, start it again.
 * Finished results must be intact; every unfinished job is resumed (and finishes) or failed with
 * a reason; nothing half-written is left in the results folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { losslessClip, tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { api } from '../helpers/service.ts';

useTestModelCache();
/** Only a hang fails a wait (a busy machine may be slow; a service that never answers is broken). */
const HANG_MS = 600_000;
vi.setConfig({ testTimeout: HANG_MS, hookTimeout: HANG_MS });
const home = tempDir('reshoot-crash-');
const media = tempDir();
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  home.cleanup();
  media.cleanup();
});

async function startServe(): Promise<{ child: ChildProcess; port: number; token: string }> {
  const file = path.join(home.dir, 'companion.json');
  rmSync(file, { force: true }); // a killed service leaves its file behind; wait for the new one
  const child = spawn(process.execPath, [path.resolve('bin/reshoot.mjs'), 'serve', '--port', '0'], {
    env: { ...process.env, RESHOOT_HOME: home.dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  await expect.poll(() => existsSync(file), { timeout: HANG_MS, interval: 100 }).toBe(true);
  const info = JSON.parse(readFileSync(file, 'utf8'));
  expect(info.pid, stderr).toBe(child.pid);
  return { child, port: info.port, token: info.token };
}

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

describe('crash recovery', () => {
  it('kill -9 mid-job: finished results intact, unfinished jobs resumed and finished', async () => {
    const source = await losslessClip(media.dir, 'src.mkv', 64, 48, 9);
    const spec = (frames: number, steps: number) => ({
      kind: 'extend', seed: 1, steps, sequence: { fps: 25, width: 64, height: 48 }, source: { path: source },
      extend: { direction: 'tail', duration: { frames } }, output: { format: 'ffv1' },
    });

    const first = await startServe();
    const quick = (await api(first, '/jobs', { method: 'POST', json: spec(4, 2) })).body.job.id;
    const slow = (await api(first, '/jobs', { method: 'POST', json: spec(60, 40) })).body.job.id;
    const queued = (await api(first, '/jobs', { method: 'POST', json: spec(4, 2) })).body.job.id;

    await expect.poll(async () => (await api(first, `/jobs/${quick}`)).body.job.state, { timeout: HANG_MS }).toBe('done');
    await expect.poll(async () => (await api(first, `/jobs/${slow}`)).body.job.progress?.step ?? 0, { timeout: HANG_MS }).toBeGreaterThan(1);
    const quickResult = (await api(first, `/jobs/${quick}`)).body.job.result;
    const hashBefore = sha(quickResult.path);

    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));

    const second = await startServe();
    const after = (id: string) => api(second, `/jobs/${id}`).then((r) => r.body.job);
    // The finished job is untouched.
    const q = await after(quick);
    expect(q.state).toBe('done');
    expect(sha(q.result.path)).toBe(hashBefore);
    // The interrupted and the queued job are resumed, and finish.
    expect((await after(slow)).recovered).toBe('resumed');
    await expect.poll(async () => (await after(slow)).state, { timeout: HANG_MS }).toBe('done');
    await expect.poll(async () => (await after(queued)).state, { timeout: HANG_MS }).toBe('done');
    expect((await after(slow)).attempts).toBe(2);
    // No partial output anywhere in the results folder.
    const leftovers = readdirSync(path.join(home.dir, 'results'), { recursive: true }).map(String).filter((f) => f.includes('partial'));
    expect(leftovers).toEqual([]);
    second.child.kill('SIGTERM');
    await new Promise((r) => second.child.once('exit', r));
    // A clean stop removes the connection file.
    expect(existsSync(path.join(home.dir, 'companion.json'))).toBe(false);
  }, HANG_MS);
});
