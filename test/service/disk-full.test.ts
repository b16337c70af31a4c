/**
 * The companion on a disk that fills up (a small tmpfs; needs root, skipped with a message
 * otherwise): a job that cannot be saved is refused whole (HTTP 507 / `disk_full`), never queued
 * or run; a start on a full disk is refused in one line, exits non-zero and leaves nothing behind
 * (no lock, no connection file, no empty temp files, no port held); once space is back, nothing
 * accepted before is lost.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { startService, StartError } from '../../companion/service/service.ts';
import { losslessClip, tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { api, TestClient } from '../helpers/service.ts';
import { mountTmpfs, type Tmpfs } from '../helpers/tmpfs.ts';

useTestModelCache();
// Only a hang fails a test: a busy machine may be slow (speeds are the benchmarks' to report).
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });
const mounted = mountTmpfs(4096);
const disk: Tmpfs | null = 'skip' in mounted ? null : mounted;
if ('skip' in mounted) console.warn(`test/service/disk-full: ${mounted.skip}`);
const media = tempDir();

afterAll(() => {
  disk?.unmount();
  media.cleanup();
});

/** Every file under `dir` (relative), with its size. */
function files(dir: string): { name: string; size: number }[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .map((name) => ({ name, st: statSync(path.join(dir, name)) }))
    .filter((f) => f.st.isFile())
    .map((f) => ({ name: f.name, size: f.st.size }));
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe.skipIf(disk === null)('a full disk', () => {
  it('a job that cannot be saved is refused, not queued; after space is back nothing accepted is lost', async () => {
    const home = path.join(disk!.dir, 'home');
    const source = await losslessClip(media.dir, 'src.mkv', 64, 48, 9);
    const spec = { kind: 'extend', seed: 2, steps: 2, sequence: { fps: 25, width: 64, height: 48 }, source: { path: source }, extend: { direction: 'tail', duration: { frames: 4 } }, output: { format: 'ffv1' } };
    const s = await startService({ home, port: 0 });
    const ok = await api(s, '/jobs', { method: 'POST', json: spec });
    expect(ok.status).toBe(201);
    expect((await s.queue.settled(ok.body.job.id)).state).toBe('done');

    disk!.fill();
    try {
      const refused = await api(s, '/jobs', { method: 'POST', json: spec });
      expect(refused.status).toBe(507);
      expect(refused.body.error).toMatchObject({ code: 'disk_full', message: expect.stringMatching(/not accepted.*no space left/) });
      const c = await TestClient.connect(s);
      c.send({ type: 'submit', requestId: 'w', spec });
      expect(await c.next((m) => 'requestId' in m && m.requestId === 'w')).toMatchObject({ type: 'error', code: 'disk_full' });
      c.close();
      // Neither refusal is on record, in memory or on disk, and no empty temp file is left.
      expect((await api(s, '/jobs')).body.jobs.map((j: { id: string }) => j.id)).toEqual([ok.body.job.id]);
      expect(files(path.join(home, 'jobs')).map((f) => f.name)).toEqual([`${ok.body.job.id}.json`]);
    } finally {
      await s.close();
      disk!.unfill();
    }
    const again = await startService({ home, port: 0 });
    expect(again.queue.list()).toMatchObject([{ id: ok.body.job.id, state: 'done' }]);
    await again.close();
  });

  it('a start on a full disk is refused in one line and leaves no lock, no file, no port', async () => {
    const home = path.join(disk!.dir, 'start');
    const first = await startService({ home, port: 0 }); // a home with a store, as after a day's work
    await first.close();
    const before = files(home);
    disk!.fill();
    try {
        const port = await freePort();
        const e = await startService({ home, port }).catch((err: unknown) => err);
        expect(e).toBeInstanceOf(StartError);
        expect(e).toMatchObject({ code: 'disk_full', message: expect.stringContaining('no space left') });
        expect(files(home)).toEqual(before); // no lock, no connection file, no 0-byte temp files
        // The port is free again.
        const probe = net.createServer();
        await new Promise<void>((resolve, reject) => (probe.once('error', reject), probe.listen(port, '127.0.0.1', resolve)));
        await new Promise<void>((resolve) => probe.close(() => resolve()));

        // The CLI says it in one line and exits non-zero.
        const child = spawn(process.execPath, [path.resolve('bin/reshoot.mjs'), 'serve', '--port', '0'], { env: { ...process.env, RESHOOT_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr!.on('data', (d) => (stderr += d));
        child.stdout!.resume();
        const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
        expect(code).toBe(1);
        expect(stderr.trim()).toMatch(/^reshoot serve: cannot start: no space left on the disk that holds .* \(ENOSPC\)/);
        expect(stderr.trim().split('\n')).toHaveLength(1);
        expect(files(home)).toEqual(before);
    } finally {
      disk!.unfill();
    }
  });
});
