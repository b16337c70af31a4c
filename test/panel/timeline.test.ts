/**
 * The panel's timeline arithmetic and placement, on the in-memory host: exact tick math at the
 * rates editors use, clip in/out offsets, and placement that never destroys or duplicates.
 */
import { describe, expect, it } from 'vitest';
import { MemoryHost } from '../../plugin/host/memory.ts';
import { TICKS_PER_SECOND, type SequenceInfo } from '../../plugin/host/types.ts';
import { frameToTicks, sourceRange, ticksToFrame } from '../../plugin/time.ts';
import { extendJob } from '../../plugin/batch.ts';
import { placeResult } from '../../plugin/placement.ts';
import { parseRational, type Rational } from '../../protocol/index.ts';

const RATES = ['24000/1001', '24', '25', '30000/1001', '30', '50', '60000/1001', '60'];
// Ticks per frame written out from 254016000000 · den / num (every rate divides evenly).
const TICKS_PER_FRAME: Record<string, number> = {
  '24000/1001': 10594584000, '24': 10584000000, '25': 10160640000, '30000/1001': 8475667200,
  '30': 8467200000, '50': 5080320000, '60000/1001': 4237833600, '60': 4233600000,
};

const sequence = (fps: Rational): SequenceInfo => ({ id: 's', name: 'Seq', fps, width: 64, height: 48, pixelAspect: { num: 1, den: 1 }, endTicks: 0 });

describe('ticks ↔ frames (plugin/time.ts)', () => {
  for (const r of RATES) {
    const fps = parseRational(r);
    it(`is exact at ${r} fps, also 9 hours in`, () => {
      expect(frameToTicks(1, fps)).toBe(TICKS_PER_FRAME[r]);
      const nineHours = Math.round((9 * 3600 * fps.num) / fps.den);
      for (const f of [0, 1, 23, 24, 1001, 86_399, nineHours]) {
        const t = frameToTicks(f, fps);
        expect(t).toBe(f * TICKS_PER_FRAME[r]!);
        expect(ticksToFrame(t, fps)).toBe(f);
        // Anywhere inside a frame belongs to that frame.
        expect(ticksToFrame(t + TICKS_PER_FRAME[r]! - 1, fps)).toBe(f);
      }
      // One second of frames is one second of ticks.
      expect(frameToTicks(fps.num, { num: fps.num, den: 1 }) ).toBe(TICKS_PER_SECOND);
    });
  }

  it('a clip trimmed in its source gives the job the right in/out frames', () => {
    const fps = parseRational('24000/1001');
    const tpf = TICKS_PER_FRAME['24000/1001']!;
    const item = { id: 'a', name: 'a.mov', trackIndex: 0, startTicks: 100 * tpf, endTicks: 148 * tpf, inPointTicks: 37 * tpf, mediaPath: '/m/a.mov', projectItemId: 'p1' };
    expect(sourceRange(item, fps)).toEqual({ in: 37, out: 85 });
    const { spec } = extendJob(item, sequence(fps), { prompt: 'x', format: 'ffv1' }, 'tail', { seconds: 1 });
    expect(spec).toMatchObject({ source: { path: '/m/a.mov', in: { frames: 37 }, out: { frames: 85 } }, sequence: { fps: '24000/1001' } });
  });
});

describe('placement through plugin/placement.ts (the one way the panel places)', () => {
  const fps = parseRational('25');
  const tpf = TICKS_PER_FRAME['25']!;
  const result = (frames: number, path = '/results/r.mkv') => ({ path, jobId: 'j1', kind: 'extend', prompt: 'p', seed: 7, model: 'builtin:tiny', direction: 'tail' as const, frames });

  function setup() {
    const host = new MemoryHost({ sequence: { id: 's', name: 'Seq', fps, width: 64, height: 48 } });
    const clip = host.addClip(0, '/m/a.mov', 50 * tpf, 50 * tpf);
    return { host, clip };
  }

  it('tail: at the clip end, first free track above, on frame boundaries, with metadata and a marker', async () => {
    const { host, clip } = setup();
    host.addClip(1, '/m/title.mov', 90 * tpf, 30 * tpf); // V2 is busy where the result goes
    const placed = await placeResult(host, { kind: 'extend', direction: 'tail', item: clip, frames: 25 }, fps, result(25));
    expect(placed.placement.trackIndex).toBe(2);
    expect(placed.placement.startTicks).toBe(100 * tpf);
    expect(host.tracks[0]).toEqual([clip]); // the source is untouched
    const p = host.project.get(placed.item.projectItemId)!;
    expect(p.bin).toBe('Reshoot');
    expect(p.metadata).toMatchObject({ 'reshoot.seed': '7', 'reshoot.jobId': 'j1', 'reshoot.model': 'builtin:tiny', 'reshoot.kind': 'extend tail' });
    expect(host.markerList).toHaveLength(1);
  });

  it('head: ends where the clip starts; refused clearly when it does not fit before 0', async () => {
    const { host, clip } = setup();
    const placed = await placeResult(host, { kind: 'extend', direction: 'head', item: clip, frames: 25 }, fps, { ...result(25), direction: 'head' });
    expect(placed.placement.startTicks + 25 * tpf).toBe(clip.startTicks);
    await expect(placeResult(host, { kind: 'extend', direction: 'head', item: clip, frames: 60 }, fps, result(60, '/results/long.mkv'))).rejects.toThrow(/cannot extend the head.*Move the clip later/);
  });

  it('placing the same result twice does not duplicate it', async () => {
    const { host, clip } = setup();
    const req = { kind: 'extend' as const, direction: 'tail' as const, item: clip, frames: 25 };
    const a = await placeResult(host, req, fps, result(25));
    const b = await placeResult(host, req, fps, result(25));
    expect(b.item).toEqual(a.item);
    expect(b.duplicate).toBe(true);
    expect(host.tracks.flat().filter((i) => i.mediaPath === '/results/r.mkv')).toHaveLength(1);
    expect(host.project.size).toBe(2);
    expect(host.markerList).toHaveLength(1);
  });
});
