/**
 * The output check's probe file (media/writable.ts) is created and removed in one breath, but a
 * companion killed in between leaves it behind. It is named like every other unfinished write,
 * so the next start's sweep removes it: beside a job's output, and in the results folder itself
 * (where it goes while the job's own folder does not exist yet).
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JobQueue } from '../../companion/jobs/queue.ts';
import { checkOutputWritable, writeCheckName } from '../../companion/media/writable.ts';
import { tempDir } from '../helpers/fixtures.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('the output check leaves nothing behind', () => {
  it('a finished check leaves its folder as it was', async () => {
    const dir = path.join(tmp.dir, 'out');
    mkdirSync(dir);
    await checkOutputWritable(path.join(dir, 'shot.mov'));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a probe a killed companion left is removed at the next start; finished results stay', async () => {
    const dataDir = path.join(tmp.dir, 'home');
    const results = path.join(dataDir, 'results');
    const job = path.join(results, 'j00000000000000aa');
    mkdirSync(job, { recursive: true });
    const probes = [path.join(results, writeCheckName()), path.join(job, writeCheckName())];
    for (const p of probes) writeFileSync(p, '');
    writeFileSync(path.join(job, 'shot.mov'), 'a finished clip');
    const queue = new JobQueue({ dataDir, log: () => {} });
    try {
      await queue.start();
      for (const p of probes) expect(existsSync(p), p).toBe(false);
      expect(readdirSync(job)).toEqual(['shot.mov']);
    } finally {
      await queue.close();
    }
  });
});
