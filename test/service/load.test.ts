/**
 * Load on the live service: many WebSocket sessions at once, all subscribed to every job, and a
 * queue of many small jobs submitted from different sessions.
 *
 * Every job must finish `done`; jobs run one at a time (no job starts before the previous one
 * ended); every session sees every state change of every job exactly once and in seq order (only
 * progress may be skipped, and only for a backed-up client); memory stays flat from a warm-up
 * round to the full round; the whole run stays within a bound that a 2-core machine meets.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FINAL_STATES, type JobEvent, type ServerMessage } from '../../protocol/index.ts';
import { losslessClip, tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { Rng } from '../helpers/fuzz.ts';
import { api, TestClient, testService } from '../helpers/service.ts';

useTestModelCache();

const CLIENTS = 25;
const JOBS = 20;
const WARMUP_JOBS = 4;
/** Growth allowed from after the warm-up round to after the full round. */
const RSS_GROWTH_MB = 150;
const HEAP_GROWTH_MB = 64;
/** Only a hang fails a wait (a busy machine may be slow; a service that never answers is broken). */
const HANG_MS = 600_000;
vi.setConfig({ testTimeout: HANG_MS, hookTimeout: HANG_MS });
const W = 64;
const H = 48;

let service: Awaited<ReturnType<typeof testService>>;
const media = tempDir();
let source = '';
/** Every event the queue emitted, in order: what each client's view is checked against. */
const truth: JobEvent[] = [];

beforeAll(async () => {
  service = await testService();
  service.queue.on('event', (e) => truth.push(structuredClone(e)));
  source = await losslessClip(media.dir, 'src.mkv', W, H, 9);
});
afterAll(async () => {
  await service?.cleanup();
  media.cleanup();
});

/** A full collection when the runtime allows one (V8 exposes gc on request), so heap figures are live data. */
const gc: () => void = (() => {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return () => undefined;
  }
})();

function memory(): { rssMB: number; heapMB: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { rssMB: m.rss / 2 ** 20, heapMB: m.heapUsed / 2 ** 20 };
}

const isFinal = (e: JobEvent) => (FINAL_STATES as readonly string[]).includes(e.event);
const eventsOf = (msgs: ServerMessage[]) => msgs.flatMap((m) => (m.type === 'event' ? [m.event] : []));

/** Submits `n` tiny extend jobs, job i from client `(first + i) % clients`, and waits until every client saw every one end. */
async function round(clients: TestClient[], n: number, first: number, rng: Rng): Promise<string[]> {
  const ids = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const c = clients[(first + i) % clients.length]!;
      const requestId = `job-${first + i}`;
      c.send({
        type: 'submit',
        requestId,
        spec: {
          kind: 'extend',
          seed: rng.int(1000),
          steps: rng.between(1, 2),
          sequence: { fps: '24000/1001', width: W, height: H },
          source: { path: source },
          extend: { direction: rng.pick(['head', 'tail']), duration: { frames: rng.between(2, 6) } },
          output: { format: 'ffv1' },
        },
      });
      const reply = await c.next((m) => (m.type === 'accepted' || m.type === 'error') && m.requestId === requestId, HANG_MS);
      if (reply.type !== 'accepted') throw new Error(`job ${requestId} was refused: ${JSON.stringify(reply)}`);
      return reply.job.id;
    }),
  );
  await Promise.all(
    clients.flatMap((c) => ids.map((id) => c.next((m) => m.type === 'event' && m.event.jobId === id && isFinal(m.event), HANG_MS))),
  );
  return ids;
}

/** The [start, end] positions of each job in an ordered event stream; asserts they do not overlap. */
function expectOneAtATime(stream: JobEvent[], ids: string[], who: string): void {
  const spans = ids.map((id) => {
    const start = stream.findIndex((e) => e.jobId === id && e.event === 'started');
    const end = stream.findIndex((e) => e.jobId === id && isFinal(e));
    expect(start, `${who}: job ${id} started`).toBeGreaterThanOrEqual(0);
    expect(end, `${who}: job ${id} ended after it started`).toBeGreaterThan(start);
    return { id, start, end };
  });
  spans.sort((a, b) => a.start - b.start);
  for (let i = 1; i < spans.length; i++) {
    expect(spans[i]!.start, `${who}: ${spans[i]!.id} started before ${spans[i - 1]!.id} ended`).toBeGreaterThan(spans[i - 1]!.end);
  }
}

describe('load', () => {
  it(`${CLIENTS} sessions subscribed to everything, ${JOBS} jobs from different sessions`, async () => {
    const t0 = Date.now();
    const rng = new Rng(0x10ad);
    const clientErrors: string[] = [];
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => TestClient.connect(service)));
    for (const [i, c] of clients.entries()) {
      expect(c.received[0]?.type, `client ${i} welcomed`).toBe('welcome');
      c.ws.on('error', (e) => clientErrors.push(`client ${i}: ${e.message}`));
      c.send({ type: 'subscribe', requestId: 'all', jobId: '*' });
    }
    await Promise.all(clients.map((c) => c.next((m) => m.type === 'snapshot' && m.requestId === 'all', HANG_MS)));

    // Warm-up: the model is loaded and the engine's buffers exist before memory is measured.
    const warm = await round(clients, WARMUP_JOBS, 0, rng);
    const tWarm = Date.now();
    const before = memory();
    const ids = await round(clients, JOBS, WARMUP_JOBS, rng);
    const tFull = Date.now();
    const after = memory();
    const all = [...warm, ...ids];

    // Every job ended done, in the queue's record too.
    const finals = all.map((id) => truth.find((e) => e.jobId === id && isFinal(e))?.event);
    expect(finals).toEqual(all.map(() => 'done'));
    for (const id of all) expect((await api(service, `/jobs/${id}`)).body.job.state).toBe('done');

    // One at a time: in the queue's own order, and as every client saw it.
    expectOneAtATime(truth, all, 'queue');
    const records = await Promise.all(all.map(async (id) => (await api(service, `/jobs/${id}`)).body.job as { startedAt: string; finishedAt: string }));
    records.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    for (let i = 1; i < records.length; i++) expect(records[i]!.startedAt >= records[i - 1]!.finishedAt).toBe(true);

    // Every client: for every job, each event once, in seq order; nothing but progress missing.
    let droppedProgress = 0;
    for (const [i, c] of clients.entries()) {
      // Previews are live only and carry the seq of the latest event (queue.ts): not part of the stream checked here.
      const seen = eventsOf(c.received).filter((e) => e.event !== 'preview');
      expectOneAtATime(seen, all, `client ${i}`);
      for (const id of all) {
        const mine = seen.filter((e) => e.jobId === id);
        const theirs = truth.filter((e) => e.jobId === id);
        const seqs = mine.map((e) => e.seq);
        for (let k = 1; k < seqs.length; k++) expect(seqs[k]!, `client ${i}, job ${id}: seq order / duplicates`).toBeGreaterThan(seqs[k - 1]!);
        // What arrived is exactly what the queue emitted under that seq.
        const bySeq = new Map(theirs.map((e) => [e.seq, e]));
        for (const e of mine) expect(e).toEqual(bySeq.get(e.seq));
        const missing = theirs.filter((e) => !seqs.includes(e.seq));
        expect(missing.filter((e) => e.event !== 'progress'), `client ${i}, job ${id}: state changes missing`).toEqual([]);
        droppedProgress += missing.length;
        expect(mine.filter((e) => e.event !== 'progress').map((e) => e.event)).toEqual(['queued', 'started', 'done']);
      }
    }
    // These clients read as fast as they are written to: nothing should have been dropped.
    expect(droppedProgress).toBe(0);
    expect(clientErrors).toEqual([]);

    for (const c of clients) c.close();
    await Promise.all(clients.map((c) => c.closed));
    const total = Date.now() - t0;
    const growth = { rssMB: after.rssMB - before.rssMB, heapMB: after.heapMB - before.heapMB };
    console.log(
      `load: ${CLIENTS} clients, ${WARMUP_JOBS}+${JOBS} jobs, ${truth.length} events; warm-up ${tWarm - t0} ms, full round ${tFull - tWarm} ms, total ${total} ms; ` +
        `rss ${before.rssMB.toFixed(1)} → ${after.rssMB.toFixed(1)} MB, heap ${before.heapMB.toFixed(1)} → ${after.heapMB.toFixed(1)} MB`,
    );
    expect(growth.rssMB).toBeLessThan(RSS_GROWTH_MB);
    expect(growth.heapMB).toBeLessThan(HEAP_GROWTH_MB);
  }, HANG_MS);
});
