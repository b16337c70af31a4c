/**
 * The panel's job runner (plugin/ui/runner.ts) in Node against a real companion, with the
 * in-memory host: frames by value (exported timeline frames decoded from real PNGs and uploaded
 * through the window/ack protocol), batches over the selection, auto-placement through
 * plugin/placement.ts, and placing twice without duplicates.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from '../../companion/service/service.ts';
import { batchOverSelection, maskJob } from '../../plugin/batch.ts';
import { CompanionClient, type ConnectionState } from '../../plugin/connection/client.ts';
import { MemoryHost } from '../../plugin/host/memory.ts';
import { frameToTicks } from '../../plugin/time.ts';
import { JobRunner, uploadsFor, withUploads, type RunnerState } from '../../plugin/ui/runner.ts';
import { FPS, losslessClip, tempDir, useTestModelCache } from '../helpers/fixtures.ts';

const tpf = frameToTicks(1, FPS);

function waitFor<T>(store: { get(): T; subscribe(l: () => void): () => void }, ok: (s: T) => boolean, what: string, ms = 120_000): Promise<T> {
  return new Promise((resolve, reject) => {
    let off = () => {};
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(store.get()).slice(0, 800)}`));
    }, ms);
    const check = () => {
      if (ok(store.get())) {
        clearTimeout(timer);
        off();
        resolve(store.get());
      }
    };
    off = store.subscribe(check);
    check();
  });
}

describe('JobRunner against a real companion', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  let service: RunningService;
  let home: string;
  let mediaA: string;
  let mediaB: string;

  beforeAll(async () => {
    useTestModelCache();
    const dir = tempDir('reshoot-runner-');
    cleanups.push(dir.cleanup);
    home = dir.dir;
    mediaA = await losslessClip(home, 'a.mkv', 64, 48, 24);
    mediaB = await losslessClip(home, 'b.mkv', 64, 48, 24);
    service = await startService({ home, port: 0 });
    cleanups.push(() => service.close());
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  function setup() {
    const host = new MemoryHost({ sequence: { id: 's1', name: 'Seq', fps: FPS, width: 64, height: 48 } });
    host.files.set('/memory/reshoot/companion.json', JSON.stringify({ port: service.port, token: service.token, host: '127.0.0.1' }));
    const client = new CompanionClient({
      host,
      webSocket: (url) => new WebSocket(url, { perMessageDeflate: false }) as unknown as globalThis.WebSocket,
      minDelayMs: 50,
      maxDelayMs: 200,
    });
    const runner = new JobRunner(host, client, { storage: null });
    cleanups.push(() => client.stop());
    cleanups.push(runner.start());
    client.start();
    return { host, client, runner };
  }

  it('fills a clip by value: frames exported, uploaded with acks, job placed over the clip by itself', async () => {
    const { host, client, runner } = setup();
    const clip = host.addClip(0, mediaA, 10 * tpf, 12 * tpf, 3 * tpf);
    // Result files: as long as the job made them.
    host.mediaDurationTicks = (p) => {
      const job = Object.values(client.state.jobs).find((j) => j.record.result?.path === p);
      return (job?.record.result?.frames ?? 1) * tpf;
    };
    await waitFor(client.store, (s: ConnectionState) => s.status === 'connected', 'connected');
    const seq = (await host.activeSequence())!;
    const mask = { type: 'shapes' as const, shapes: [{ kind: 'rectangle' as const, keyframes: [{ frame: 0, x: 8, y: 8, width: 24, height: 16 }] }] };
    const job = maskJob(clip, seq, { prompt: 'clean plate', seed: 5, format: 'ffv1' }, 'fill', mask);
    expect(uploadsFor(job, seq, { byValue: true })).toEqual([{ key: 'source', startTicks: 10 * tpf, frames: 12 }]);
    const progress: RunnerState['tasks'][number][] = [];
    const off = runner.store.subscribe(() => progress.push(...runner.state.tasks));
    const record = await runner.run(job, seq, { byValue: true, autoPlace: true });
    off();
    // The panel exported exactly the clip's timeline frames, as real PNGs.
    expect(host.exportedFrames.map((f) => f.frame)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]);
    expect(progress.some((t) => t.phase === 'uploading' && t.done > 0 && t.done < 12)).toBe(true);
    // The companion turned the upload into a file and the job names it.
    const spec = service.queue.get(record.id)!.spec as { source: { path: string; in: unknown; out: unknown } };
    expect(spec.source.path.startsWith(path.join(home, 'uploads'))).toBe(true);
    expect(existsSync(spec.source.path)).toBe(true);
    expect(spec.source).toMatchObject({ in: { frames: 0 }, out: { frames: 12 } });

    const placed = await waitFor(runner.store, (s) => record.id in s.placed || record.id in s.placeErrors, 'placement');
    expect(placed.placeErrors).toEqual({});
    expect(placed.placed[record.id]).toBe('placed on V2 at frame 10');
    expect(host.tracks[0]).toEqual([clip]);
    expect(host.tracks[1]![0]).toMatchObject({ startTicks: 10 * tpf, endTicks: 22 * tpf });
    const item = host.project.get(host.tracks[1]![0]!.projectItemId)!;
    expect(item.bin).toBe('Reshoot');
    expect(item.metadata).toMatchObject({ 'reshoot.kind': 'fill', 'reshoot.jobId': record.id, 'reshoot.seed': '5', 'reshoot.prompt': 'clean plate' });
    // Placing again finds it: no second item, no second marker.
    await runner.place(client.state.jobs[record.id]!.record);
    expect(host.allItems()).toHaveLength(2);
    expect(host.markerList).toHaveLength(1);
  }, 180_000);

  it('extends every selected clip by 1 s and places each at its own tail as it finishes', async () => {
    const { host, client, runner } = setup();
    const a = host.addClip(0, mediaA, 0, 24 * tpf);
    const b = host.addClip(0, mediaB, 48 * tpf, 24 * tpf);
    host.select([a.id, b.id]);
    host.mediaDurationTicks = () => 24 * tpf;
    await waitFor(client.store, (s: ConnectionState) => s.status === 'connected', 'connected');
    const seq = (await host.activeSequence())!;
    const batch = batchOverSelection(await host.selection(), seq, { kind: 'extend', direction: 'tail', duration: { seconds: 1 }, format: 'ffv1', seed: 3 });
    expect(batch.errors).toEqual([]);
    const { submitted, failed } = await runner.runAll(batch.jobs, seq, { autoPlace: true });
    expect(failed).toEqual([]);
    expect(submitted).toHaveLength(2);
    await waitFor(runner.store, (s) => submitted.every((j) => j.id in s.placed || j.id in s.placeErrors), 'both placed');
    expect(runner.state.placeErrors).toEqual({});
    const v2 = host.tracks[1]!.map((i) => [i.startTicks / tpf, i.endTicks / tpf]);
    expect(v2).toEqual([[24, 48], [72, 96]]);
  }, 240_000);

  it('points sources at uploads (bridge a/b, generate still)', () => {
    const bridge = { kind: 'bridge', sources: { a: { path: 'x' }, b: { path: 'y' } }, gap: { frames: 3 } } as never;
    expect(withUploads(bridge, [{ key: 'a', uploadId: 'u1', frames: 5 }, { key: 'b', uploadId: 'u2', frames: 4 }])).toMatchObject({
      sources: { a: { upload: 'u1', in: { frames: 0 }, out: { frames: 5 } }, b: { upload: 'u2', in: { frames: 0 }, out: { frames: 4 } } },
    });
    const gen = { kind: 'generate', duration: { frames: 3 } } as never;
    expect(withUploads(gen, [{ key: 'source', uploadId: 'u3', frames: 1 }])).toMatchObject({ source: { upload: 'u3', in: { frames: 0 } } });
  });
});

describe('JobRunner: generate from the frame under the playhead, bridge by value', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('uploads the still and both sides of a gap, and places each where its kind goes', async () => {
    useTestModelCache();
    const dir = tempDir('reshoot-runner2-');
    cleanups.push(dir.cleanup);
    const media = await losslessClip(dir.dir, 'a.mkv', 64, 48, 24);
    const service = await startService({ home: dir.dir, port: 0 });
    cleanups.push(() => service.close());
    const host = new MemoryHost({ sequence: { id: 's1', name: 'Seq', fps: FPS, width: 64, height: 48 }, playhead: 30 });
    host.files.set('/memory/reshoot/companion.json', JSON.stringify({ port: service.port, token: service.token, host: '127.0.0.1' }));
    const client = new CompanionClient({ host, webSocket: (url) => new WebSocket(url, { perMessageDeflate: false }) as unknown as globalThis.WebSocket, minDelayMs: 50 });
    const runner = new JobRunner(host, client, { storage: null });
    cleanups.push(() => client.stop());
    cleanups.push(runner.start());
    client.start();
    const a = host.addClip(0, media, 0, 12 * tpf);
    const b = host.addClip(0, media, 20 * tpf, 12 * tpf, 12 * tpf);
    host.mediaDurationTicks = (p) => (Object.values(client.state.jobs).find((j) => j.record.result?.path === p)?.record.result?.frames ?? 1) * tpf;
    await waitFor(client.store, (s: ConnectionState) => s.status === 'connected', 'connected');
    const seq = (await host.activeSequence())!;
    const { generateJob, bridgeJob } = await import('../../plugin/batch.ts');

    const gen = await runner.run(generateJob(host.playheadTicks, seq, { seed: 1, format: 'ffv1' }, { frames: 6 }), seq, { still: true, autoPlace: true });
    expect(host.exportedFrames.map((f) => f.frame)).toEqual([30]);
    const bridge = await runner.run(bridgeJob(a, b, seq, { seed: 2, format: 'ffv1' }), seq, { byValue: true, autoPlace: true });
    // Clip A's 12 frames before the gap, then clip B's 12 after it.
    expect(host.exportedFrames.slice(1).map((f) => f.frame)).toEqual([...Array.from({ length: 12 }, (_, i) => i), ...Array.from({ length: 12 }, (_, i) => 20 + i)]);
    const specs = [gen, bridge].map((j) => service.queue.get(j.id)!.spec as Record<string, any>);
    expect(specs[0]!.source.path.startsWith(path.join(dir.dir, 'uploads'))).toBe(true);
    expect(specs[1]!.sources.a.path).not.toBe(specs[1]!.sources.b.path);
    await waitFor(runner.store, (s) => [gen.id, bridge.id].every((id) => id in s.placed || id in s.placeErrors), 'placed', 120_000);
    expect(runner.state.placeErrors).toEqual({});
    // generate at the playhead above everything there; bridge into the gap [12, 20) on V1 itself.
    const spans = host.allItems().map((i) => [i.trackIndex, i.startTicks / tpf, i.endTicks / tpf]);
    expect(spans).toContainEqual([0, 12, 20]);
    expect(spans).toContainEqual([1, 30, 36]); // clip B is under the playhead on V1
  }, 240_000);
});
