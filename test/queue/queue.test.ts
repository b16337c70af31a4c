/**
 * The job queue end to end with the real engine and the built-in test model: order, one job at
 * a time, seq and catch-up, cancel, failure, persistence across close/reopen, and a close that
 * interrupts a running job which the next start resumes.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../companion/engine/engine.ts';
import { JobQueue, SEQ_JUMP_AFTER_RESTART, type JobQueueOptions } from '../../companion/jobs/queue.ts';
import { loadModel } from '../../companion/models/registry.ts';
import { probe } from '../../companion/media/probe.ts';
import type { JobRecord } from '../../protocol/jobs.ts';
import { losslessClip, tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { EventLog, H, SRC_FRAMES, W, assertOneAtATime, assertSeqs, isFinal, isGenerating, longExtend, quickExtend, quickFill, spec } from './helpers.ts';

useTestModelCache();

const tmp = tempDir('reshoot-queue-');
let source = '';
const open: JobQueue[] = [];

beforeAll(async () => {
  await loadModel('builtin:tiny'); // build the test model once, before any queue needs it
  source = await losslessClip(tmp.dir, 'source.mkv', W, H, SRC_FRAMES);
});
afterAll(async () => {
  for (const q of open) await q.close();
  tmp.cleanup();
});

/** A started queue whose engine opens are counted. */
async function startQueue(dataDir: string, opts: Partial<JobQueueOptions> = {}) {
  const opens: string[] = [];
  const queue = new JobQueue({
    dataDir,
    log: () => {},
    engineFactory: (id, providers) => {
      opens.push(id);
      return Engine.open(id, providers);
    },
    ...opts,
  });
  open.push(queue);
  const log = new EventLog(queue);
  await queue.start();
  return { queue, log, opens };
}

function ls(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

describe('JobQueue', () => {
  const dataDir = path.join(tmp.dir, 'main');
  let before: JobRecord[] = [];

  it('runs jobs one at a time in submit order, writing each result into its own folder', async () => {
    const { queue, log, opens } = await startQueue(dataDir);
    const elsewhere = path.join(tmp.dir, 'not-here.mkv');
    const jobs = await Promise.all([
      queue.submit(spec({ ...quickExtend(source), output: { format: 'ffv1', path: elsewhere } })),
      queue.submit(spec(quickFill(source))),
      queue.submit(spec(quickExtend(source, { kind: 'extend', extend: { direction: 'head', duration: { frames: 5 } } } as never))),
    ]);
    expect(jobs.map((j) => j.state)).toEqual(['queued', 'queued', 'queued']);
    expect(jobs.every((j) => /^j[0-9a-f]{16}$/.test(j.id))).toBe(true);
    const records = await Promise.all(jobs.map((j) => queue.settled(j.id)));

    expect(assertOneAtATime(log.all)).toEqual(jobs.map((j) => j.id));
    assertSeqs(log.all);
    expect(log.all.filter((e) => e.event === 'queued').map((e) => e.event === 'queued' && e.position)).toEqual([0, 1, 2]);
    expect(records.map((r) => r.state)).toEqual(['done', 'done', 'done']);
    expect(existsSync(elsewhere)).toBe(false); // spec.output.path is not the service's to follow

    for (const r of records) {
      const events = log.of(r.id);
      expect(events[0]).toMatchObject({ event: 'queued', seq: 1 });
      expect(events[1]).toMatchObject({ event: 'started', seq: 2, attempt: 1 });
      expect(events.at(-1)).toMatchObject({ event: 'done', seq: r.seq, result: r.result });
      expect(events.filter((e) => e.event === 'progress').length).toBeGreaterThan(1);
      expect(r.attempts).toBe(1);
      const res = r.result!;
      expect(res.path).toBe(path.join(dataDir, 'results', r.id, res.file));
      expect(res.file.startsWith(`reshoot-${(r.spec as { kind: string }).kind}-${r.id}`)).toBe(true);
      expect(res.provider).toBe('cpu');
      expect(existsSync(res.path)).toBe(true);
      if (statSync(res.path).isFile()) expect(res.bytes).toBe(statSync(res.path).size);
      expect(res.bytes).toBeGreaterThan(0);
      // Nothing but the result and its provenance sidecar in the folder.
      expect(ls(path.dirname(res.path)).sort()).toEqual([res.file, `${res.file}.json`].sort());
    }
    expect(records[0]!.result!.frames).toBe(9);
    expect(records[1]!.result!.frames).toBe(SRC_FRAMES);
    expect(ls(records[1]!.result!.path)).toHaveLength(SRC_FRAMES); // png: a folder of frames
    expect(records[2]!.result!.frames).toBe(5);
    expect((await probe(records[0]!.result!.path)).frameCount).toBe(9);
    expect(opens).toEqual(['builtin:tiny']); // one engine, reused

    // Catch-up: exactly the later events; nothing after the last; list in submit order.
    const id = jobs[0]!.id;
    const all = log.of(id);
    expect(queue.events(id, 3)).toEqual(all.filter((e) => e.seq > 3));
    expect(queue.events(id, 0)).toEqual(all);
    expect(queue.events(id, records[0]!.seq)).toEqual([]);
    expect(queue.catchUp(id, 3)).toEqual({ events: all.filter((e) => e.seq > 3) });
    expect(queue.list().map((r) => r.id)).toEqual(jobs.map((j) => j.id));
    expect(queue.get(id)).toEqual(records[0]);
    before = queue.list();
    await queue.close();
  });

  it('keeps every record across close and reopen; old events are a snapshot now', async () => {
    const { queue, log } = await startQueue(dataDir);
    expect(queue.list()).toEqual(before);
    expect(log.all).toEqual([]); // nothing to recover
    const id = before[0]!.id;
    expect(queue.events(id, 2)).toEqual([]);
    expect(queue.catchUp(id, 2)).toEqual({ snapshot: before[0] });
    expect(queue.catchUp(id, before[0]!.seq)).toEqual({ events: [] });
    await queue.close();
  });

  it('cancels a queued job (it never starts) and a running one (stops within a step, leaves nothing)', async () => {
    const { queue, log } = await startQueue(path.join(tmp.dir, 'cancel'));
    const long = await queue.submit(spec(longExtend(source)));
    const waiting = await queue.submit(spec(quickExtend(source)));
    const after = await queue.submit(spec(quickFill(source)));

    const c1 = queue.cancel(waiting.id);
    expect(c1.state).toBe('cancelled');
    await log.until(isGenerating(long.id));
    const c2 = queue.cancel(long.id);
    expect(c2.state).toBe('running'); // the cancelled event follows once the worker stopped
    const r = await queue.settled(long.id);
    expect(r.state).toBe('cancelled');
    expect(r.result).toBeUndefined();
    const progressAfterCancel = log.of(long.id).filter((e) => e.event === 'progress' && e.progress.phase === 'done');
    expect(progressAfterCancel).toEqual([]); // it never reached its end
    expect(ls(path.join(tmp.dir, 'cancel', 'results', long.id))).toEqual([]);

    expect((await queue.settled(after.id)).state).toBe('done');
    expect(log.of(waiting.id).map((e) => e.event)).toEqual(['queued', 'cancelled']);
    expect(queue.get(waiting.id)).toMatchObject({ state: 'cancelled', attempts: 0 });
    expect(assertOneAtATime(log.all)).toEqual([long.id, after.id]);
    assertSeqs(log.all);
    // A finished job is left as it is.
    expect(queue.cancel(after.id)).toEqual(queue.get(after.id));
    expect(() => queue.cancel('j0000000000000000')).toThrow(/no job/);
    await queue.close();
  });

  it('fails a job with the error code and message, and goes on with the next', async () => {
    const { queue, log, opens } = await startQueue(path.join(tmp.dir, 'fail'));
    const missing = path.join(tmp.dir, 'no-such-clip.mov');
    const bad = await queue.submit(spec({ ...quickExtend(source), source: { path: missing } } as never));
    const noModel = await queue.submit(spec({ ...quickExtend(source), model: 'nobody/no-such-model' } as never));
    const good = await queue.submit(spec(quickExtend(source)));
    const [r1, r2, r3] = await Promise.all([bad, noModel, good].map((j) => queue.settled(j.id)));
    expect(r1).toMatchObject({ state: 'failed', error: { code: 'source_missing' } });
    expect(r1!.error!.message).toContain('no-such-clip.mov');
    expect(log.of(bad.id).at(-1)).toEqual({ event: 'failed', jobId: bad.id, seq: r1!.seq, error: r1!.error });
    expect(r2).toMatchObject({ state: 'failed', error: { code: 'model' } });
    expect(r3!.state).toBe('done');
    expect(opens).toEqual(['builtin:tiny']); // the failed jobs did not cost a model load
    expect(ls(path.join(tmp.dir, 'fail', 'results', bad.id))).toEqual([]);
    assertSeqs(log.all);
    await queue.close();
  });

  it('close interrupts the running job; the next start resumes it from the start', async () => {
    const dir = path.join(tmp.dir, 'close');
    const first = await startQueue(dir);
    const long = await first.queue.submit(spec(longExtend(source)));
    const next = await first.queue.submit(spec(quickExtend(source)));
    await first.log.until(isGenerating(long.id));
    await first.queue.close();
    const lastSeq = first.log.of(long.id).at(-1)!.seq;
    expect(first.log.all.find(isFinal(long.id))).toBeUndefined();
    await expect(first.queue.submit(spec(quickExtend(source)))).rejects.toThrow(/not taking jobs/);

    const second = await startQueue(dir, { history: 5 });
    const resumed = second.log.of(long.id)[0]!;
    expect(resumed).toMatchObject({ event: 'resumed', reason: 'the companion restarted while the job was running' });
    expect(resumed.seq).toBeGreaterThan(lastSeq); // newer than anything sent before
    expect(resumed.seq).toBeLessThanOrEqual(lastSeq + SEQ_JUMP_AFTER_RESTART + 1);
    expect(second.log.of(next.id)[0]).toMatchObject({ event: 'resumed', reason: 'the companion restarted while the job was queued' });
    const r = await second.queue.settled(long.id);
    expect(r).toMatchObject({ state: 'done', attempts: 2, recovered: 'resumed' });
    expect((await second.queue.settled(next.id)).state).toBe('done');
    expect(assertOneAtATime(second.log.all)).toEqual([long.id, next.id]);
    // With 5 events kept, asking for the resumed one onwards is a snapshot, not a partial list.
    expect(second.queue.events(long.id, resumed.seq)).toEqual([]);
    expect(second.queue.catchUp(long.id, resumed.seq)).toEqual({ snapshot: r });
    expect(second.queue.events(long.id, r.seq - 2)).toEqual(second.log.of(long.id).slice(-2));
    await second.queue.close();
  });
});
