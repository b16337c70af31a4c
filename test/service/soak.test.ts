/**
 * The soak (bench/soak.ts, `npm run soak`) at a small size: real `reshoot serve` processes
 * killed with SIGKILL under submitted jobs and fuzzed messages, pre-auth floods, heavy specs,
 * and (as root) a full tmpfs home. What must hold at any size: nothing acknowledged is lost or
 * duplicated, every failure has a reason, floods are cut off at the header, nothing is left
 * behind. (Speeds and the event-loop figure are the benchmark's to report, not asserted here.)
 */
import { describe, expect, it, vi } from 'vitest';
import { formatReport, runSoak } from '../../bench/soak.ts';
import { useTestModelCache } from '../helpers/fixtures.ts';

useTestModelCache();
// Only a hang fails a test: a busy machine may be slow (speeds are the benchmarks' to report).
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

describe('soak, reduced', () => {
  it('3 kill -9 restarts: 0 lost, 0 duplicated, 0 unreported; floods cut off; no leftovers', async () => {
    const floodBytes = 16 * 1024 * 1024;
    const r = await runSoak({ restarts: 3, jobsPerRound: 3, fuzzPerRound: 30, floods: 4, floodBytes, heavySpecs: 1, diskFull: true, seed: 7, log: () => undefined });
    console.log(formatReport(r));
    expect(r.restarts).toBe(3); // each kill -9 followed by a start on the same home
    expect(r.acknowledged).toBeGreaterThan(0);
    expect(r.lost).toEqual([]);
    expect(r.duplicated).toEqual([]);
    expect(r.unreported).toEqual([]);
    expect(r.fuzz.internalErrors).toBe(0);
    expect(r.done).toBeGreaterThan(0); // and every job settled: the soak waits for that before counting
    expect(r.flood.bytesAcceptedMax).toBeLessThan(floodBytes / 2);
    expect(r.flood.rssPeakMB).toBeLessThan(300);
    expect(r.diskFull.acceptedThenLost).toBe(0);
    if (!r.diskFull.ran) console.warn(`soak: full-disk phase skipped: ${r.diskFull.note}`);
    expect(r.leftovers).toEqual([]);
  }, 600_000);
});
