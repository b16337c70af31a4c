/**
 * Frames by path (issue 8, item 5): with the companion on this machine, by-value frames are
 * exported by the host straight into the companion's frames folder (named in its connection
 * file) and the job names the files; the companion checks they are inside that folder, reads
 * them into a lossless clip bit for bit, and deletes them. Nothing is decoded or streamed by the
 * panel. Names outside the folder are refused without touching the files.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from '../../companion/service/service.ts';
import { maskJob } from '../../plugin/batch.ts';
import { CompanionClient, type ConnectionState } from '../../plugin/connection/client.ts';
import { decodePng, encodePng } from '../../plugin/connection/png.ts';
import { MemoryHost } from '../../plugin/host/memory.ts';
import { frameToTicks } from '../../plugin/time.ts';
import { JobRunner } from '../../plugin/ui/runner.ts';
import { FPS, losslessClip, readAll, tempDir, useTestModelCache } from '../helpers/fixtures.ts';

const tpf = frameToTicks(1, FPS);

describe('frames by path', () => {
  let service: RunningService;
  let dir: { dir: string; cleanup: () => void };
  let framesDir: string;
  let media: string;
  const cleanups: (() => unknown)[] = [];

  beforeAll(async () => {
    useTestModelCache();
    dir = tempDir('reshoot-frames-');
    media = await losslessClip(dir.dir, 'a.mkv', 64, 48, 24);
    service = await startService({ home: dir.dir, port: 0 });
    framesDir = JSON.parse(readFileSync(service.connectionFile, 'utf8')).framesDir;
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    await service?.close();
    dir?.cleanup();
  });

  /** A host that, like Premiere, writes each exported frame as a real PNG file into the folder asked for. */
  function setup() {
    const written: string[] = [];
    const host: MemoryHost = new MemoryHost(
      { sequence: { id: 's1', name: 'Seq', fps: FPS, width: 64, height: 48 } },
      {
        connectionFilePath: service.connectionFile,
        readTextFile: (p: string) => readFile(p, 'utf8').catch(() => null),
        exportFrame: (req) => {
          const file = path.join(req.folder, `reshoot-frame-${req.ticks}-${written.length}.png`);
          writeFileSync(file, encodePng(host.renderFrame(req.ticks, req.width, req.height)));
          written.push(file);
          return file;
        },
      },
    );
    const client = new CompanionClient({ host, webSocket: (url) => new WebSocket(url, { perMessageDeflate: false }) as unknown as globalThis.WebSocket, minDelayMs: 50 });
    const uploads: unknown[] = [];
    const upload = client.upload.bind(client);
    client.upload = (req) => (uploads.push(req), upload(req));
    const runner = new JobRunner(host, client, { storage: null });
    cleanups.push(() => client.stop(), runner.start());
    client.start();
    return { host, client, runner, written, uploads };
  }

  async function connected(client: CompanionClient): Promise<void> {
    for (let i = 0; i < 500 && client.state.status !== 'connected'; i++) await new Promise((r) => setTimeout(r, 10));
    expect((client.state as ConnectionState).status).toBe('connected');
  }

  it('exports into the companion’s frames folder, names the files, and the companion reads them bit for bit and deletes them', async () => {
    const { host, client, runner, written, uploads } = setup();
    await connected(client);
    expect(client.state.framesDir).toBe(framesDir);
    const clip = host.addClip(0, media, 10 * tpf, 12 * tpf);
    const seq = (await host.activeSequence())!;
    const mask = { type: 'shapes' as const, shapes: [{ kind: 'rectangle' as const, keyframes: [{ frame: 0, x: 8, y: 8, width: 24, height: 16 }] }] };
    const expected = Array.from({ length: 12 }, (_, i) => host.renderFrame((10 + i) * tpf, 64, 48).pixels);

    const record = await runner.run(maskJob(clip, seq, { prompt: 'p', seed: 1, format: 'ffv1' }, 'fill', mask), seq, { byValue: true });
    expect(uploads).toEqual([]); // nothing streamed over the socket
    expect(written).toHaveLength(12);
    expect(written.every((f) => path.dirname(f) === framesDir)).toBe(true);
    // Read and deleted by the companion before it answered.
    expect(written.filter((f) => existsSync(f))).toEqual([]);
    expect(readdirSync(framesDir)).toEqual([]);
    const spec = service.queue.get(record.id)!.spec as { source: { path: string; in: unknown; out: unknown } };
    expect(spec.source).toMatchObject({ in: { frames: 0 }, out: { frames: 12 } });
    const frames = await readAll(spec.source.path, FPS, 12);
    expect(frames).toHaveLength(12);
    frames.forEach((f, i) => expect(Buffer.from(f.data).equals(Buffer.from(expected[i]!)), `frame ${i}`).toBe(true));
    await client.cancel(record.id).catch(() => undefined);
  }, 180_000);

  async function submitFiles(client: CompanionClient, files: string[]): Promise<Error> {
    const spec = { kind: 'extend', source: { files }, sequence: { fps: '24000/1001', width: 64, height: 48 }, extend: { direction: 'tail', duration: { frames: 8 } }, output: { format: 'ffv1' }, seed: 1 };
    return client.submit(spec).then(
      () => new Error('accepted'),
      (e: Error) => e,
    );
  }

  it('refuses files outside the frames folder (symbolic links resolved) and leaves them alone', async () => {
    const { client } = setup();
    await connected(client);
    const outside = path.join(dir.dir, 'precious.png');
    writeFileSync(outside, encodePng({ width: 64, height: 48, channels: 3, pixels: new Uint8Array(64 * 48 * 3) }));
    for (const name of [outside, path.join(framesDir, '..', '..', 'precious.png'), 'precious.png']) {
      const e = await submitFiles(client, [name]);
      expect(e.message).toMatch(/source\.files\[0\]: .* is not inside the companion's frames folder/);
    }
    const link = path.join(framesDir, 'link.png');
    symlinkSync(outside, link);
    expect((await submitFiles(client, [link])).message).toMatch(/not inside the companion's frames folder/);
    rmSync(link);
    expect(existsSync(outside)).toBe(true);
    expect(decodePng(new Uint8Array(readFileSync(outside))).width).toBe(64);
    expect((await submitFiles(client, [path.join(framesDir, 'missing.png')])).message).toMatch(/source\.files\[0\]: .*missing\.png does not exist/);
  });

  it('a frame that is not a PNG, or of another size, fails the job with one clear error and leaves nothing behind', async () => {
    const { client } = setup();
    await connected(client);
    mkdirSync(framesDir, { recursive: true });
    const before = readdirSync(path.dirname(framesDir)).sort();
    const good = path.join(framesDir, 'a.png');
    const bad = path.join(framesDir, 'b.png');
    writeFileSync(good, encodePng({ width: 64, height: 48, channels: 3, pixels: new Uint8Array(64 * 48 * 3) }));
    writeFileSync(bad, 'not an image');
    expect((await submitFiles(client, [good, bad])).message).toMatch(/source\.files\[1\]: b\.png is not a PNG image/);
    const small = path.join(framesDir, 'c.png');
    writeFileSync(good, encodePng({ width: 64, height: 48, channels: 3, pixels: new Uint8Array(64 * 48 * 3) }));
    writeFileSync(small, encodePng({ width: 32, height: 24, channels: 3, pixels: new Uint8Array(32 * 24 * 3) }));
    expect((await submitFiles(client, [good, small])).message).toMatch(/source\.files\[1\]: c\.png is 32x24, the first frame is 64x48/);
    // The frame files are gone and no partial upload clip was left in the uploads folder.
    expect(readdirSync(framesDir)).toEqual([]);
    expect(readdirSync(path.dirname(framesDir)).sort()).toEqual(before);
  });
});
