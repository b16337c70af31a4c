/** The job store on disk: atomic records, reload, and unreadable files set aside. */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JobStore } from '../../companion/jobs/store.ts';
import { parseJobSpec, serializeJobSpec } from '../../protocol/jobspec.ts';
import { jobRecordSchema } from '../../protocol/jobs.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { quickExtend, quickFill } from './helpers.ts';

const tmp = tempDir('reshoot-store-');
afterAll(() => tmp.cleanup());

const specA = parseJobSpec(quickExtend('/media/a.mov'));
const specB = parseJobSpec(quickFill('C:\\Users\\ed\\b.mov'));

describe('JobStore', () => {
  it('creates, updates and reloads records, one file per job, in creation order', async () => {
    const dir = path.join(tmp.dir, 'a');
    const store = await JobStore.open(dir);
    const a = store.create(specA);
    const b = store.create(specB);
    const c = store.create(specA);
    expect(a).toMatchObject({ state: 'queued', seq: 0, attempts: 0 });
    expect(a.id).toMatch(/^j[0-9a-f]{16}$/);
    expect(a.spec).toEqual(JSON.parse(serializeJobSpec(specA)));
    expect(parseJobSpec(b.spec)).toEqual(specB); // the stored spec re-parses to the same spec
    expect(a.createdAt < b.createdAt && b.createdAt < c.createdAt).toBe(true); // unique even within a millisecond

    const u = store.update(b.id, { state: 'running', seq: 3, attempts: 1, startedAt: new Date().toISOString() });
    expect(u).toMatchObject({ id: b.id, state: 'running', seq: 3 });
    store.update(b.id, { seq: 4, progress: { phase: 'generating', window: 1, windows: 2, step: 1, steps: 2, fraction: 0.25, etaSeconds: null } }, { persist: false });
    store.update(c.id, { state: 'cancelled', seq: 1, finishedAt: new Date().toISOString() });
    // Returned records are copies: changing one changes nothing in the store.
    u.state = 'done';
    expect(store.get(b.id)!.state).toBe('running');
    await store.flushAll();

    const files = readdirSync(path.join(dir, 'jobs')).sort();
    expect(files).toEqual([a.id, b.id, c.id].map((id) => `${id}.json`).sort()); // no temp files left
    for (const f of files) expect(jobRecordSchema.safeParse(JSON.parse(readFileSync(path.join(dir, 'jobs', f), 'utf8'))).success).toBe(true);

    const again = await JobStore.open(dir);
    expect(again.list()).toEqual(store.list());
    expect(again.list().map((r) => r.id)).toEqual([a.id, b.id, c.id]);
    expect(again.get(b.id)).toMatchObject({ seq: 4, progress: { window: 1 } });
    expect(again.setAside).toEqual([]);
    // Removing a field: patch it to undefined.
    again.update(b.id, { progress: undefined });
    await again.flush(b.id);
    expect('progress' in (await JobStore.open(dir)).get(b.id)!).toBe(false);
    // New jobs after a reload still sort after the old ones.
    expect(again.create(specA).createdAt > c.createdAt).toBe(true);
  });

  it('gives each job a results folder on demand', async () => {
    const store = await JobStore.open(path.join(tmp.dir, 'r'));
    const a = store.create(specA);
    expect(existsSync(store.resultPath(a.id))).toBe(false);
    const d = await store.resultDir(a.id);
    expect(d).toBe(path.join(tmp.dir, 'r', 'results', a.id));
    expect(existsSync(d)).toBe(true);
    expect(() => store.resultPath('../../etc')).toThrow(/not a job id/);
  });

  it('sets unreadable job files aside as .corrupt and opens without them', async () => {
    const dir = path.join(tmp.dir, 'c');
    const store = await JobStore.open(dir);
    const good = store.create(specA);
    await store.flush(good.id);
    const jobs = path.join(dir, 'jobs');
    const torn = 'j00000000000000a1';
    const empty = 'j00000000000000a2';
    const wrong = 'j00000000000000a3';
    const renamed = 'j00000000000000a4';
    const text = readFileSync(path.join(jobs, `${good.id}.json`), 'utf8');
    writeFileSync(path.join(jobs, `${torn}.json`), text.slice(0, text.length >> 1)); // half written
    writeFileSync(path.join(jobs, `${empty}.json`), '');
    writeFileSync(path.join(jobs, `${wrong}.json`), JSON.stringify({ id: wrong, state: 'exploded' }));
    writeFileSync(path.join(jobs, `${renamed}.json`), text); // a record under another job's name
    writeFileSync(path.join(jobs, `.${good.id}.json.tmp-999-1`), '{"partial'); // a write cut short
    writeFileSync(path.join(jobs, 'notes.txt'), 'not a job');

    const logged: string[] = [];
    const again = await JobStore.open(dir, { log: (m) => logged.push(m) });
    expect(again.list().map((r) => r.id)).toEqual([good.id]);
    expect(again.setAside.map((s) => path.basename(s.file)).sort()).toEqual([torn, empty, wrong, renamed].map((id) => `${id}.json`).sort());
    expect(logged).toHaveLength(4);
    expect(logged.join('\n')).toMatch(/moved it to .*\.json\.corrupt/);
    expect(again.setAside.find((s) => s.file.includes(empty))!.reason).toMatch(/empty/);
    expect(again.setAside.find((s) => s.file.includes(torn))!.reason).toMatch(/JSON/);
    expect(again.setAside.find((s) => s.file.includes(renamed))!.reason).toMatch(/does not match/);
    expect(readdirSync(jobs).sort()).toEqual(
      [`${good.id}.json`, 'notes.txt', ...[torn, empty, wrong, renamed].map((id) => `${id}.json.corrupt`)].sort(),
    );
    // The set-aside files are left alone from then on.
    const third = await JobStore.open(dir, { log: (m) => logged.push(m) });
    expect(third.setAside).toEqual([]);
    expect(third.list()).toEqual(again.list());
  });
});
