/**
 * Crash recovery with a real `kill -9`: the queue runs in a child process
 * (fixtures/serve-queue.ts), is killed mid-render, and a new queue on the same data folder must
 * keep every finished result byte for byte, resume what was running or waiting, and give up on
 * a job that was interrupted three times.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobQueue, MAX_ATTEMPTS } from '../../companion/jobs/queue.ts';
import { loadModel } from '../../companion/models/registry.ts';
import type { JobEvent, JobRecord } from '../../protocol/jobs.ts';
import { parseJobSpec, type JobSpecInput } from '../../protocol/jobspec.ts';
import { losslessClip, tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { EventLog, H, SRC_FRAMES, W, assertOneAtATime, isGenerating, longExtend, quickExtend, quickFill, sha256 } from './helpers.ts';

useTestModelCache();

const FIXTURE = path.join(import.meta.dirname, 'fixtures', 'serve-queue.ts');
const tmp = tempDir('reshoot-crash-');
let source = '';
const children: ChildProcess[] = [];
const queues: JobQueue[] = [];

beforeAll(async () => {
  await loadModel('builtin:tiny'); // built here, not raced by the child
  source = await losslessClip(tmp.dir, 'source.mkv', W, H, SRC_FRAMES);
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const q of queues) await q.close();
  tmp.cleanup();
});

type Line = { type: 'ready' } | { type: 'submitted'; index: number; id: string } | ({ type: 'event' } & JobEvent);

/** The queue in a child process; `until` waits for a line of its output. */
function serve(dataDir: string, specs?: JobSpecInput[]) {
  const args = ['--import', 'tsx', FIXTURE, dataDir];
  if (specs) {
    const file = path.join(tmp.dir, `specs-${children.length}.json`);
    writeFileSync(file, JSON.stringify(specs));
    args.push(file);
  }
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env: process.env });
  children.push(child);
  const lines: Line[] = [];
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  let waiters: { pred: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const l = JSON.parse(text) as Line;
    lines.push(l);
    waiters = waiters.filter((w) => (w.pred(l) ? (w.resolve(l), false) : true));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const until = (pred: (l: Line) => boolean, timeoutMs = 60_000): Promise<Line> => {
    const seen = lines.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child: no matching line in ${timeoutMs} ms\nstdout: ${lines.map((l) => JSON.stringify(l)).join('\n')}\nstderr: ${stderr}`)), timeoutMs);
      const fail = () => reject(new Error(`child exited early (${child.exitCode}): ${stderr}`));
      void exited.then(fail);
      waiters.push({ pred, resolve: (l) => (clearTimeout(timer), resolve(l)) });
    });
  };
  const ids = async (n: number) => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(((await until((l) => l.type === 'submitted' && l.index === i)) as { id: string }).id);
    return out;
  };
  const kill9 = async () => {
    child.kill('SIGKILL');
    await exited;
    expect(child.signalCode).toBe('SIGKILL');
  };
  return { child, lines, until, ids, kill9 };
}

const event = (id: string, name: JobEvent['event']) => (l: Line) => l.type === 'event' && l.jobId === id && l.event === name;

function readRecord(dataDir: string, id: string): JobRecord {
  return JSON.parse(readFileSync(path.join(dataDir, 'jobs', `${id}.json`), 'utf8'));
}

async function reopen(dataDir: string) {
  const queue = new JobQueue({ dataDir, log: () => {} });
  queues.push(queue);
  const log = new EventLog(queue);
  await queue.start();
  return { queue, log };
}

describe('crash recovery after kill -9', () => {
  it('keeps finished results byte for byte, resumes the running and the queued jobs', async () => {
    const dataDir = path.join(tmp.dir, 'crash');
    const child = serve(dataDir, [quickExtend(source), longExtend(source), quickFill(source)]);
    const [a, b, c] = await child.ids(3);
    await child.until(event(a!, 'done'));
    const doneA = readRecord(dataDir, a!);
    const fileA = doneA.result!.path;
    const before = { size: statSync(fileA).size, sha: sha256(fileA) };
    await child.until((l) => l.type === 'event' && isGenerating(b!)(l));
    await child.kill9();

    // What the crash left on disk.
    expect(readRecord(dataDir, a!)).toEqual(doneA);
    expect(readRecord(dataDir, b!)).toMatchObject({ state: 'running', attempts: 1 });
    expect(readRecord(dataDir, c!)).toMatchObject({ state: 'queued', attempts: 0 });
    // A partial output like the one a killed encoder leaves (the real one may or may not exist yet).
    const dirB = path.join(dataDir, 'results', b!);
    mkdirSync(dirB, { recursive: true });
    writeFileSync(path.join(dirB, `.reshoot-extend-${b}.mkv.partial-99999-1`), 'half a clip');
    writeFileSync(path.join(dirB, `reshoot-extend-${b}.mkv.json.partial-99999`), '{"half');
    // And a job file torn by the crash: set aside, not fatal.
    writeFileSync(path.join(dataDir, 'jobs', 'j00000000000000ff.json'), '{"id": "j0000');

    const lastSeqB = Math.max(...child.lines.filter((l) => l.type === 'event' && l.jobId === b).map((l) => (l as JobEvent).seq));
    const { queue, log } = await reopen(dataDir);
    expect(existsSync(path.join(dataDir, 'jobs', 'j00000000000000ff.json.corrupt'))).toBe(true);
    expect(readdirSync(dirB).filter((n) => n.includes('partial-99999'))).toEqual([]);
    expect(log.of(a!)).toEqual([]); // a finished job is not touched
    const resumedB = log.of(b!)[0]!;
    expect(resumedB).toMatchObject({ event: 'resumed', reason: 'the companion restarted while the job was running' });
    expect(resumedB.seq).toBeGreaterThan(lastSeqB);
    expect(log.of(c!)[0]).toMatchObject({ event: 'resumed', reason: 'the companion restarted while the job was queued' });

    const rb = await queue.settled(b!);
    const rc = await queue.settled(c!);
    expect(rb).toMatchObject({ state: 'done', attempts: 2, recovered: 'resumed' });
    expect(rc).toMatchObject({ state: 'done', attempts: 1, recovered: 'resumed' });
    expect(rb.result!.frames).toBe(120);
    expect(existsSync(rb.result!.path) && existsSync(rc.result!.path)).toBe(true);
    expect(readdirSync(dirB).sort()).toEqual([rb.result!.file, `${rb.result!.file}.json`].sort());
    expect(assertOneAtATime(log.all)).toEqual([b, c]);

    expect(queue.get(a!)).toEqual(doneA);
    expect({ size: statSync(fileA).size, sha: sha256(fileA) }).toEqual(before);
    await queue.close();
  });

  it(`fails a job interrupted ${MAX_ATTEMPTS} times instead of starting it again`, async () => {
    const dataDir = path.join(tmp.dir, 'thrice');
    let id = '';
    for (let round = 1; round <= MAX_ATTEMPTS; round++) {
      const child = round === 1 ? serve(dataDir, [longExtend(source)]) : serve(dataDir);
      if (round === 1) [id] = await child.ids(1);
      else await child.until(event(id, 'resumed'));
      const started = await child.until(event(id, 'started'));
      expect(started).toMatchObject({ attempt: round });
      await child.until((l) => l.type === 'event' && isGenerating(id)(l));
      await child.kill9();
      expect(readRecord(dataDir, id)).toMatchObject({ state: 'running', attempts: round });
    }
    const { queue, log } = await reopen(dataDir);
    const r = queue.get(id)!;
    expect(r).toMatchObject({
      state: 'failed',
      attempts: MAX_ATTEMPTS,
      recovered: 'failed',
      error: { code: 'interrupted', message: `interrupted ${MAX_ATTEMPTS} times; not retrying` },
    });
    expect(log.of(id).map((e) => e.event)).toEqual(['failed']);
    expect(readRecord(dataDir, id)).toEqual(r);
    await new Promise((res) => setTimeout(res, 200));
    expect(log.all.some((e) => e.event === 'started')).toBe(false);
    await queue.close();
  });

  it('fails a done job whose result has gone missing, with the reason', async () => {
    const dataDir = path.join(tmp.dir, 'missing');
    const first = await reopen(dataDir);
    const job = await first.queue.submit(parseJobSpec(quickExtend(source)));
    const done = await first.queue.settled(job.id);
    await first.queue.close();
    rmSync(done.result!.path);

    const { queue, log } = await reopen(dataDir);
    expect(queue.get(job.id)).toMatchObject({ state: 'failed', recovered: 'failed', error: { code: 'result_missing' } });
    expect(queue.get(job.id)!.error!.message).toContain(done.result!.file);
    expect(queue.get(job.id)!.result).toBeUndefined();
    expect(log.of(job.id)).toMatchObject([{ event: 'failed', seq: done.seq + 1 }]);
    await queue.close();
  });
});
