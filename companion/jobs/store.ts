/**
 * The companion's job records on disk: `<dataDir>/jobs/<id>.json`, one file per job, and each
 * job's results in `<dataDir>/results/<id>/`.
 *
 * Every write is atomic: the record goes to a temporary file in the same folder, is fsynced and
 * renamed over the old one (then the folder is fsynced where the platform allows), so a crash
 * leaves either the old record or the new one, never half of one. A file that still fails to
 * read (a disk fault, a hand edit) is moved aside as `<id>.json.corrupt` and logged; the store
 * opens without it rather than refusing to start.
 *
 * The in-memory record is the authority while the process runs: `create` and `update` change
 * it synchronously and start the write; `flush` waits for it. Writes are serialized (all jobs,
 * in the order asked for) and always write the newest state, so a file never goes backwards.
 * A failed write is logged (and rejects `flush`); the next update writes the whole record again.
 *
 * Records hold the user's prompts and media paths: files are 0600 and folders 0700 (records
 * written by older versions with wider modes are narrowed on open).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { jobRecordSchema, type JobRecord } from '../../protocol/jobs.ts';
import { serializeJobSpec, type JobSpec } from '../../protocol/jobspec.ts';

export interface JobStoreOptions {
  /** Where problems found while loading are reported (default: console.warn). */
  log?: (message: string) => void;
}

/** A job file that could not be read on open and was moved aside. */
export interface SetAside {
  file: string;
  movedTo: string;
  reason: string;
}

/** What `update` may change: everything but the id. */
export type JobPatch = Partial<Omit<JobRecord, 'id'>>;

const ID_PATTERN = /^j[0-9a-f]{16}$/;
const RECORD_FILE = /^(j[0-9a-f]{16})\.json$/;
const TEMP_FILE = /^\..*\.tmp-\d+-\d+$/;

export class JobStore {
  readonly dataDir: string;
  readonly jobsDir: string;
  readonly resultsDir: string;
  /** Files moved aside by `open` because they could not be read. */
  readonly setAside: SetAside[] = [];

  private readonly records = new Map<string, JobRecord>();
  private readonly writes = new Map<string, Promise<void>>();
  private chain: Promise<void> = Promise.resolve();
  private readonly dirty = new Set<string>();
  private readonly log: (message: string) => void;
  private lastCreated = 0;
  private tempCounter = 0;

  private constructor(dataDir: string, opts: JobStoreOptions) {
    this.dataDir = path.resolve(dataDir);
    this.jobsDir = path.join(this.dataDir, 'jobs');
    this.resultsDir = path.join(this.dataDir, 'results');
    this.log = opts.log ?? ((m) => console.warn(m));
  }

  /** Opens (creating if needed) the store under `dataDir` and loads every readable record. */
  static async open(dataDir: string, opts: JobStoreOptions = {}): Promise<JobStore> {
    const store = new JobStore(dataDir, opts);
    await mkdir(store.jobsDir, { recursive: true, mode: 0o700 });
    await store.load();
    return store;
  }

  /**
   * Creates a queued job for an already validated spec. The record is in memory at once and its
   * write has begun; `await flush(id)` to know it is on disk.
   */
  create(spec: JobSpec): JobRecord {
    let id: string;
    do id = 'j' + randomBytes(8).toString('hex');
    while (this.records.has(id));
    // createdAt orders the jobs (list, and the queue after a restart), so it must be unique
    // and increasing even for jobs created within the same millisecond.
    const now = Math.max(Date.now(), this.lastCreated + 1);
    this.lastCreated = now;
    const record: JobRecord = {
      id,
      spec: JSON.parse(serializeJobSpec(spec)),
      state: 'queued',
      seq: 0,
      createdAt: new Date(now).toISOString(),
      attempts: 0,
    };
    this.records.set(id, record);
    this.persist(id);
    return clone(record);
  }

  /**
   * Applies `patch` to the in-memory record at once and starts writing the record (with
   * `persist: false` it is only marked for the next write or `flush`). Keys whose value is
   * `undefined` are removed. Returns the updated record; throws for an unknown id.
   */
  update(id: string, patch: JobPatch, opts: { persist?: boolean } = {}): JobRecord {
    const record = this.records.get(id);
    if (!record) throw new Error(`no job ${id}`);
    const next = { ...record, ...patch, id } as Record<string, unknown>;
    for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k];
    this.records.set(id, next as JobRecord);
    if (opts.persist === false) this.dirty.add(id);
    else this.persist(id);
    return clone(next as JobRecord);
  }

  /**
   * Resolves when the newest state of `id` is on disk (writing it if it has unwritten
   * changes); rejects if that write failed.
   */
  flush(id: string): Promise<void> {
    if (this.dirty.has(id)) this.persist(id);
    return this.writes.get(id) ?? Promise.resolve();
  }

  /** Writes every record with unwritten changes and waits for every write in flight. */
  async flushAll(): Promise<void> {
    await Promise.all([...this.records.keys()].map((id) => this.flush(id).catch(() => undefined)));
  }

  get(id: string): JobRecord | undefined {
    const r = this.records.get(id);
    return r ? clone(r) : undefined;
  }

  /**
   * Drops a job that was never accepted (its first write failed): out of memory and off disk,
   * as if `create` had not been called.
   */
  async forget(id: string): Promise<void> {
    this.records.delete(id);
    this.dirty.delete(id);
    await this.writes.get(id)?.catch(() => undefined);
    this.writes.delete(id);
    await rm(path.join(this.jobsDir, `${id}.json`), { force: true });
  }

  /** All jobs, oldest first. */
  list(): JobRecord[] {
    return [...this.records.values()].sort(byCreated).map(clone);
  }

  /** The folder that holds a job's results (not created). */
  resultPath(id: string): string {
    if (!ID_PATTERN.test(id)) throw new Error(`not a job id: ${JSON.stringify(id)}`);
    return path.join(this.resultsDir, id);
  }

  /** The folder that holds a job's results, created if missing. */
  async resultDir(id: string): Promise<string> {
    const dir = this.resultPath(id);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  private persist(id: string): void {
    this.dirty.delete(id);
    // One chain for all writes: they finish in the order they were asked for, so whoever waits
    // on them (the queue emits an event once its change is on disk) sees them in that order.
    // Each writes the newest state when it runs, so a queued write never puts an older record back.
    const next = this.chain.then(() => this.write(id));
    this.chain = next.catch(() => undefined);
    this.writes.set(id, next);
    next.then(
      () => {
        if (this.writes.get(id) === next) this.writes.delete(id);
      },
      (e: Error) => this.log(`reshoot: could not save job ${id}: ${e.message}`),
    );
  }

  private async write(id: string): Promise<void> {
    const record = this.records.get(id);
    if (!record) return;
    const file = path.join(this.jobsDir, `${id}.json`);
    const tmp = path.join(this.jobsDir, `.${id}.json.tmp-${process.pid}-${++this.tempCounter}`);
    try {
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(JSON.stringify(record, null, 2) + '\n');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    await syncDir(this.jobsDir);
  }

  private async load(): Promise<void> {
    const names = await readdir(this.jobsDir);
    for (const name of names) {
      if (TEMP_FILE.test(name)) {
        // A write that a crash interrupted before its rename: the previous record is intact.
        await rm(path.join(this.jobsDir, name), { force: true });
        continue;
      }
      const m = RECORD_FILE.exec(name);
      if (!m) continue;
      const id = m[1]!;
      const file = path.join(this.jobsDir, name);
      await chmod(file, 0o600).catch(() => undefined);
      const problem = await readRecord(file, id).then(
        (record) => {
          this.records.set(id, record);
          return null;
        },
        (e: Error) => e.message,
      );
      if (problem !== null) await this.moveAside(file, problem);
    }
    for (const r of this.records.values()) this.lastCreated = Math.max(this.lastCreated, Date.parse(r.createdAt) || 0);
  }

  private async moveAside(file: string, reason: string): Promise<void> {
    const movedTo = `${file}.corrupt`;
    try {
      await rename(file, movedTo);
      await syncDir(this.jobsDir);
    } catch (e) {
      this.log(`reshoot: could not move the unreadable job file ${file} aside: ${(e as Error).message}`);
      return;
    }
    this.setAside.push({ file, movedTo, reason });
    this.log(`reshoot: job file ${file} could not be read (${reason}); moved it to ${movedTo} and skipped it`);
  }
}

async function readRecord(file: string, id: string): Promise<JobRecord> {
  const text = await readFile(file, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(text.trim() === '' ? 'the file is empty' : `not valid JSON: ${(e as Error).message}`);
  }
  const r = jobRecordSchema.safeParse(json);
  if (!r.success) {
    const first = r.error.issues[0];
    throw new Error(`not a job record: ${first ? `${first.path.join('.') || '(top level)'}: ${first.message}` : 'invalid'}`);
  }
  if (r.data.id !== id) throw new Error(`the record's id ${JSON.stringify(r.data.id)} does not match its file name`);
  return r.data;
}

/** Makes a rename durable. Windows cannot open a folder for fsync; there the rename must do. */
async function syncDir(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch {
    // EISDIR / EPERM / EINVAL on platforms without directory fsync.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

function byCreated(a: JobRecord, b: JobRecord): number {
  return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1;
}

function clone<T>(v: T): T {
  return structuredClone(v);
}
