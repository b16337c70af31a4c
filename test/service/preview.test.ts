/**
 * Live previews on the real service over loopback, with the test model: a subscribed client gets
 * `preview` events carrying valid PNGs while a job runs; previews do not advance the seq (real
 * events stay contiguous), are not replayed by catch-up and are not written to the job record.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { JobEvent, ServerMessage } from '../../protocol/index.ts';
import { losslessClip, tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { api, TestClient, testService } from '../helpers/service.ts';

useTestModelCache();
/** Only a hang fails a wait (a busy machine may be slow; a service that never answers is broken). */
const HANG_MS = 600_000;
vi.setConfig({ testTimeout: HANG_MS, hookTimeout: HANG_MS });

let service: Awaited<ReturnType<typeof testService>>;
const media = tempDir();
let source = '';
// The test model's largest working frame: steps of tens of ms, so a window of 100 steps runs for
// a few seconds, several times the ~750 ms between previews.
const W = 128;
const H = 72;

beforeAll(async () => {
  service = await testService();
  source = await losslessClip(media.dir, 'src.mkv', W, H, 9);
});
afterAll(async () => {
  await service?.cleanup();
  media.cleanup();
});

const eventsOf = (msgs: ServerMessage[], jobId: string): JobEvent[] =>
  msgs.flatMap((m) => (m.type === 'event' && m.event.jobId === jobId ? [m.event] : []));

function pngHeader(b64: string): { signature: number[]; type: string; width: number; height: number } {
  const png = Buffer.from(b64, 'base64');
  return { signature: [...png.subarray(0, 8)], type: png.subarray(12, 16).toString('latin1'), width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

describe('previews', () => {
  it('a subscribed client receives previews while a job runs; real events stay contiguous; nothing is stored', async () => {
    const c = await TestClient.connect(service);
    c.send({
      type: 'submit',
      requestId: 's',
      spec: {
        kind: 'extend', seed: 4, steps: 100, sequence: { fps: '24000/1001', width: W, height: H }, source: { path: source },
        extend: { direction: 'tail', duration: { frames: 8 } }, output: { format: 'ffv1' },
      },
    });
    const acc = await c.next((m) => m.type === 'accepted' || m.type === 'error');
    if (acc.type !== 'accepted') throw new Error(JSON.stringify(acc));
    const id = acc.job.id;
    // A second client subscribed to everything also hears them.
    const watcher = await TestClient.connect(service);
    watcher.send({ type: 'subscribe', requestId: 'all', jobId: '*' });
    await watcher.next((m) => m.type === 'snapshot');
    await c.next((m) => m.type === 'event' && m.event.jobId === id && m.event.event === 'done', HANG_MS);
    await watcher.next((m) => m.type === 'event' && m.event.jobId === id && m.event.event === 'done', HANG_MS);

    for (const client of [c, watcher]) {
      const events = eventsOf(client.received, id);
      const previews = events.filter((e) => e.event === 'preview');
      expect(previews.length).toBeGreaterThan(0);
      for (const p of previews) {
        if (p.event !== 'preview') throw new Error('unreachable');
        const h = pngHeader(p.png);
        expect(h.signature).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
        expect(h.type).toBe('IHDR');
        expect([h.width, h.height]).toEqual([p.width, p.height]);
        expect(p.width).toBeLessThanOrEqual(192);
        expect(p.width / p.height).toBeCloseTo(W / H, 1);
      }
      // Real events: contiguous seqs, from the first one this client got to `done`.
      const real = events.filter((e) => e.event !== 'preview');
      const seqs = real.map((e) => e.seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
      expect(real.at(-1)!.event).toBe('done');
      // A preview carries the seq of the latest real event before it and comes while running.
      let last = -1;
      let running = false;
      for (const e of events) {
        if (e.event === 'preview') {
          expect(e.seq).toBe(last);
          expect(running).toBe(true);
        } else {
          last = e.seq;
          running = e.event === 'started' || e.event === 'progress';
        }
      }
    }

    // Ephemeral: not in the record on disk, not over HTTP, not replayed to a client that catches up.
    const onDisk = readFileSync(path.join(service.home, 'jobs', `${id}.json`), 'utf8');
    expect(onDisk).not.toMatch(/preview|png/i);
    const record = (await api(service, `/jobs/${id}`)).body.job;
    expect(JSON.stringify(record)).not.toMatch(/"png"/);
    const late = await TestClient.connect(service);
    late.send({ type: 'subscribe', requestId: 'sub', jobId: id, since: 1 });
    const reply = await late.next((m) => (m.type === 'ok' || m.type === 'snapshot') && m.requestId === 'sub');
    if (reply.type === 'ok') {
      const replayed = eventsOf(late.received, id);
      expect(replayed.some((e) => e.event === 'preview')).toBe(false);
      expect(replayed.map((e) => e.seq)).toEqual(Array.from({ length: replayed.length }, (_, i) => 2 + i));
    }
    for (const client of [c, watcher, late]) client.close();
  });
});
