/**
 * One companion per home, through the real CLI: a second `reshoot serve` on a live home is
 * refused before it touches the job store, names the pid that holds the home and exits non-zero;
 * the connection file is only ever removed by the process that wrote it; a lock left by a
 * killed process does not stop the next start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { reshootHome } from '../../companion/service/home.ts';
import { lockFile } from '../../companion/service/lock.ts';
import { startService, StartError } from '../../companion/service/service.ts';
import { losslessClip, tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { api } from '../helpers/service.ts';

useTestModelCache();
/** Only a hang fails a wait (a busy machine may be slow; a service that never answers is broken). */
const HANG_MS = 600_000;
vi.setConfig({ testTimeout: HANG_MS, hookTimeout: HANG_MS });
const home = tempDir('reshoot-instance-');
const media = tempDir();
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  home.cleanup();
  media.cleanup();
});

function serve(dir: string): { child: ChildProcess; exited: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, [path.resolve('bin/reshoot.mjs'), 'serve', '--port', '0'], {
    env: { ...process.env, RESHOOT_HOME: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdout!.resume();
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

async function connection(dir: string, pid: number): Promise<{ port: number; token: string; pid: number }> {
  const file = path.join(dir, 'companion.json');
  await expect.poll(() => existsSync(file) && JSON.parse(readFileSync(file, 'utf8')).pid === pid, { timeout: HANG_MS, interval: 100 }).toBe(true);
  return JSON.parse(readFileSync(file, 'utf8'));
}

describe('one companion per home', () => {
  it('a second serve on a live home is refused with the holder pid, and leaves the first one untouched', async () => {
    const source = await losslessClip(media.dir, 'src.mkv', 64, 48, 9);
    const first = serve(home.dir);
    const info = await connection(home.dir, first.child.pid!);
    const slow = {
      kind: 'extend', seed: 1, steps: 100, sequence: { fps: 25, width: 64, height: 48 }, source: { path: source },
      extend: { direction: 'tail', duration: { frames: 120 } }, output: { format: 'ffv1' },
    };
    const running = (await api(info, '/jobs', { method: 'POST', json: slow })).body.job.id as string;
    const queued = (await api(info, '/jobs', { method: 'POST', json: slow })).body.job.id as string;
    await expect.poll(async () => (await api(info, `/jobs/${running}`)).body.job.state, { timeout: HANG_MS }).toBe('running');

    const second = serve(home.dir);
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toContain(`pid ${first.child.pid}`);
    expect(second.stderr()).not.toMatch(/internal error|at .*\.ts:/);

    // The live instance's jobs were not "recovered" a second time, and its file is still its own.
    const jobs = (await api(info, '/jobs')).body.jobs as { id: string; state: string; attempts: number; recovered?: string }[];
    expect(jobs.find((j) => j.id === running)).toMatchObject({ state: 'running', attempts: 1 });
    expect(jobs.find((j) => j.id === queued)).toMatchObject({ state: 'queued', attempts: 0 });
    expect(jobs.every((j) => j.recovered === undefined)).toBe(true);
    expect(JSON.parse(readFileSync(path.join(home.dir, 'companion.json'), 'utf8'))).toMatchObject({ pid: first.child.pid, token: info.token, port: info.port });

    // A lock whose process was killed does not stop the next start, which resumes the jobs.
    first.child.kill('SIGKILL');
    await first.exited;
    const third = serve(home.dir);
    const after = await connection(home.dir, third.child.pid!);
    expect((await api(after, `/jobs/${running}`)).body.job.recovered).toBe('resumed');
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
    expect(existsSync(path.join(home.dir, 'companion.json'))).toBe(false);
    expect(existsSync(lockFile(home.dir))).toBe(false);
  }, HANG_MS);

  it('a SIGTERM the moment the connection file appears stops the companion cleanly (exit 0, file and lock removed)', async () => {
    // The connection file says "up": from then on a signal must reach the shutdown, not Node's
    // default action (death by signal, exit code null, lock and connection file left behind).
    for (let round = 0; round < 3; round++) {
      const dir = tempDir('reshoot-instance-term-');
      try {
        const s = serve(dir.dir);
        const file = path.join(dir.dir, 'companion.json');
        while (!existsSync(file) && s.child.exitCode === null) await new Promise((r) => setTimeout(r, 1));
        s.child.kill('SIGTERM');
        expect(await s.exited, `round ${round}: ${s.stderr()}`).toBe(0);
        expect(existsSync(file)).toBe(false);
        expect(existsSync(lockFile(dir.dir))).toBe(false);
      } finally {
        dir.cleanup();
      }
    }
  }, HANG_MS);

  it('in one process: a second start is refused (home_locked); close removes only its own connection file', async () => {
    const dir = tempDir('reshoot-instance-');
    try {
      const a = await startService({ home: dir.dir, port: 0 });
      const refused = await startService({ home: dir.dir, port: 0 }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(StartError);
      expect(refused).toMatchObject({ code: 'home_locked', message: expect.stringContaining(`pid ${process.pid}`) });
      // The connection file is still a's, and a still answers.
      expect(JSON.parse(readFileSync(a.connectionFile, 'utf8')).token).toBe(a.token);
      expect((await api(a, '/jobs')).status).toBe(200);
      // Someone else's file (another start that won the home later) is not ours to delete.
      const other = { port: 1, token: 'x', pid: process.pid + 100_000, version: '0', host: '127.0.0.1' };
      writeFileSync(a.connectionFile, JSON.stringify(other));
      await a.close();
      expect(JSON.parse(readFileSync(a.connectionFile, 'utf8'))).toEqual(other);
      expect(existsSync(lockFile(dir.dir))).toBe(false);
    } finally {
      dir.cleanup();
    }
  });
});

describe('the home folder', () => {
  it('an existing home open to others is narrowed to 0700; job records are 0600', async () => {
    const dir = tempDir('reshoot-perm-');
    try {
      const { chmodSync, statSync, readdirSync } = await import('node:fs');
      chmodSync(dir.dir, 0o755);
      const s = await startService({ home: dir.dir, port: 0 });
      expect(statSync(dir.dir).mode & 0o777).toBe(0o700);
      const spec = { kind: 'generate', prompt: 'a', steps: 1, sequence: { fps: 25, width: 64, height: 48 }, duration: { frames: 9 }, output: { format: 'ffv1' } };
      const r = await api(s, '/jobs', { method: 'POST', json: spec });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      await s.queue.settled(r.body.job.id);
      const jobsDir = path.join(dir.dir, 'jobs');
      expect(statSync(jobsDir).mode & 0o077).toBe(0);
      for (const f of readdirSync(jobsDir)) expect(statSync(path.join(jobsDir, f)).mode & 0o777, f).toBe(0o600);
      await s.close();
    } finally {
      dir.cleanup();
    }
  });

  it('a start removes partial uploads a killed companion left, and keeps finished ones', async () => {
    const dir = tempDir('reshoot-partial-');
    try {
      const { mkdirSync, writeFileSync: write } = await import('node:fs');
      const uploads = path.join(dir.dir, 'uploads');
      mkdirSync(uploads, { recursive: true });
      write(path.join(uploads, '.u0123456789abcdef.mkv.partial-4242-1'), 'half');
      write(path.join(uploads, 'u0123456789abcdef.mkv'), 'whole');
      const s = await startService({ home: dir.dir, port: 0 });
      await s.close();
      // The partial is gone, the finished upload stays (beside the panel's frames folder).
      expect(readdirSync(uploads).sort()).toEqual(['frames', 'u0123456789abcdef.mkv']);
    } finally {
      dir.cleanup();
    }
  });

  it('an empty or relative XDG_DATA_HOME is ignored (the XDG rule), never the current folder', async () => {
    if (process.platform !== 'linux') return;
    const saved = { xdg: process.env.XDG_DATA_HOME, home: process.env.RESHOOT_HOME };
    delete process.env.RESHOOT_HOME;
    try {
      const os = (await import('node:os')).homedir();
      for (const bad of ['', 'relative/dir']) {
        process.env.XDG_DATA_HOME = bad;
        expect(reshootHome()).toBe(path.join(os, '.local', 'share', 'reshoot'));
      }
      process.env.XDG_DATA_HOME = '/srv/data';
      expect(reshootHome()).toBe('/srv/data/reshoot');
    } finally {
      if (saved.xdg === undefined) delete process.env.XDG_DATA_HOME;
      else process.env.XDG_DATA_HOME = saved.xdg;
      if (saved.home !== undefined) process.env.RESHOOT_HOME = saved.home;
    }
  });
});
