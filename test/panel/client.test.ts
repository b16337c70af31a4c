/**
 * The panel's companion client (plugin/connection/client.ts) in Node against a real companion,
 * with the `ws` package standing in for the browser's WebSocket: discovery through the
 * connection file, no companion → connects once it appears, submit + events, and reconnect
 * with catch-up after a companion restart.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { startService } from '../../companion/service/service.ts';
import { CompanionClient, type ConnectionState } from '../../plugin/connection/client.ts';
import { MemoryHost } from '../../plugin/host/memory.ts';
import { FPS, losslessClip, tempDir, useTestModelCache } from '../helpers/fixtures.ts';

function hostReading(file: string): MemoryHost {
  return new MemoryHost(
    { sequence: { id: 's', name: 's', fps: FPS, width: 64, height: 48 } },
    { connectionFilePath: file, readTextFile: (p: string) => readFile(p, 'utf8').catch(() => null) },
  );
}

function until(client: CompanionClient, ok: (s: ConnectionState) => boolean, ms = 60_000): Promise<ConnectionState> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const s = client.state;
      if (ok(s)) {
        clearTimeout(timer);
        off();
        resolve(s);
      }
    };
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out; state: ${JSON.stringify({ status: client.state.status, detail: client.state.detail })}`));
    }, ms);
    const off = client.store.subscribe(check);
    check();
  });
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups.length = 0;
});

describe('CompanionClient', () => {
  it('waits for the companion, connects through the connection file, follows a job, and catches up after a restart', async () => {
    useTestModelCache();
    const home = tempDir('reshoot-client-home-');
    cleanups.push(home.cleanup);
    const media = await losslessClip(home.dir, 'src.mkv', 64, 48, 12);
    const client = new CompanionClient({
      host: hostReading(path.join(home.dir, 'companion.json')),
      webSocket: (url) => new WebSocket(url, { perMessageDeflate: false }) as unknown as globalThis.WebSocket,
      minDelayMs: 50,
      maxDelayMs: 200,
    });
    cleanups.push(() => client.stop());
    client.start();
    await until(client, (s) => s.status === 'no-companion');

    let service = await startService({ home: home.dir, port: 0 });
    cleanups.push(() => service.close());
    await until(client, (s) => s.status === 'connected');
    expect(client.state.welcome?.models).toContain('builtin:tiny');

    const spec = {
      kind: 'extend',
      seed: 7,
      sequence: { fps: '24000/1001', width: 64, height: 48 },
      output: { format: 'ffv1' },
      source: { path: media, in: { frames: 0 }, out: { frames: 12 } },
      extend: { direction: 'tail', duration: { frames: 6 } },
    };
    const events: string[] = [];
    client.onEvent((e) => events.push(e.event));
    const job = await client.submit(spec);
    const done = await until(client, (s) => s.jobs[job.id]?.record.state === 'done');
    expect(done.jobs[job.id]!.record.result!.frames).toBe(6);
    expect(events).toContain('done');
    // seq only grows, one per event.
    expect(done.jobs[job.id]!.seq).toBe(service.queue.get(job.id)!.seq);

    // A bad submit is a typed error, the connection stays.
    await expect(client.submit({ kind: 'extend' })).rejects.toMatchObject({ code: 'bad_spec' });
    expect(client.state.status).toBe('connected');

    // The companion goes away and comes back on the same port with the same token.
    const { port, token } = service;
    await service.close();
    await until(client, (s) => s.status === 'reconnecting' || s.status === 'no-companion');
    service = await startService({ home: home.dir, port, token });
    cleanups.push(() => service.close());
    await until(client, (s) => s.status === 'connected');
    // The finished job is still known; a job submitted by another client arrives through subscribe '*'.
    expect(client.state.jobs[job.id]!.record.state).toBe('done');
    const other = await service.queue.submit({ ...(await import('../../protocol/index.ts')).parseJobSpec({ ...spec, seed: 8 }) } as never);
    await until(client, (s) => s.jobs[other.id]?.record.state === 'done');
  }, 180_000);
});
