import { describe, expect, it } from 'vitest';
import { MemoryHost, type ProjectDescription } from '../../plugin/host/memory.ts';
import {
  PlacementError,
  alreadyPlaced,
  allVideoTracks,
  chooseTrack,
  placeResult,
  placementFor,
  resultMarker,
  type PlacementRequest,
} from '../../plugin/placement.ts';
import { isMarkerCommand } from '../../plugin/batch.ts';
import { frameToTicks, ticksPerFrame, ticksToFrame } from '../../plugin/time.ts';
import { parseRational } from '../../protocol/rational.ts';

const fps = parseRational('24000/1001');
const F = (n: number) => frameToTicks(n, fps);
const result = { jobId: 'job-1', kind: 'extend', prompt: 'dusk', seed: 42, model: 'builtin:tiny', path: '/results/job-1.mov' };

function host(d: Partial<ProjectDescription> = {}, resultFrames = 24) {
  return new MemoryHost(
    { sequence: { fps, width: 1920, height: 1080 }, ...d },
    { mediaDurationTicks: () => F(resultFrames) },
  );
}

async function item(h: MemoryHost, track: number, at: number) {
  const found = (await h.videoTrackItems(track)).find((i) => i.startTicks === F(at));
  if (!found) throw new Error(`no item at V${track + 1} frame ${at}`);
  return found;
}

describe('placementFor: the time a result goes to', () => {
  it('extend tail starts at the item end, head ends at its start; both above its track', async () => {
    const h = host({ clips: [{ track: 0, at: 100, frames: 48, media: '/m/a.mov' }] });
    const a = await item(h, 0, 100);
    expect(placementFor({ kind: 'extend', direction: 'tail', item: a, frames: 24 }, fps)).toEqual({ startTicks: F(148), endTicks: F(172), fromTrack: 1 });
    expect(placementFor({ kind: 'extend', direction: 'head', item: a, frames: 24 }, fps)).toEqual({ startTicks: F(76), endTicks: F(100), fromTrack: 1 });
  });

  it('refuses a head extension that would start before 0:00, clearly', async () => {
    const h = host({ clips: [{ track: 0, at: 10, frames: 48, media: '/m/a.mov', name: 'A001.mov' }] });
    const a = await item(h, 0, 10);
    const req: PlacementRequest = { kind: 'extend', direction: 'head', item: a, frames: 24 };
    expect(() => placementFor(req, fps)).toThrow(PlacementError);
    expect(() => placementFor(req, fps)).toThrow(/cannot extend the head of "A001.mov" by 24 frames: .*only 10 frames after the start/);
    expect(placementFor({ ...req, frames: 10 }, fps).startTicks).toBe(0);
  });

  it('fill/replace cover the item; bridge fills the gap; generate starts at the playhead, snapped', async () => {
    const h = host({ clips: [{ track: 1, at: 0, frames: 48, media: '/m/a.mov' }, { track: 1, at: 72, frames: 48, media: '/m/b.mov' }] });
    const [a, b] = await h.videoTrackItems(1);
    expect(placementFor({ kind: 'fill', item: a! }, fps)).toEqual({ startTicks: 0, endTicks: F(48), fromTrack: 2 });
    expect(placementFor({ kind: 'bridge', a: b!, b: a! }, fps)).toEqual({ startTicks: F(48), endTicks: F(72), fromTrack: 1 });
    expect(() => placementFor({ kind: 'bridge', a: a!, b: { ...b!, startTicks: F(48) } }, fps)).toThrow(/no gap to bridge/);
    const tpf = ticksPerFrame(fps);
    expect(placementFor({ kind: 'generate', playheadTicks: F(30) + tpf / 2 + 1, frames: 12 }, fps)).toEqual({ startTicks: F(31), endTicks: F(43), fromTrack: 'above-all' });
  });
});

describe('chooseTrack', () => {
  it('takes the first track above the source that is free over [start, end); touching ends are free', async () => {
    const h = host({
      clips: [
        { track: 0, at: 0, frames: 48, media: '/m/a.mov' },
        { track: 1, at: 50, frames: 10, media: '/m/x.mov' }, // overlaps the tail extension [48, 72)
        { track: 2, at: 72, frames: 10, media: '/m/y.mov' }, // touches its end: not a conflict
      ],
    });
    const a = await item(h, 0, 0);
    const span = placementFor({ kind: 'extend', direction: 'tail', item: a, frames: 24 }, fps);
    expect(chooseTrack(await allVideoTracks(h), span)).toEqual({ trackIndex: 2, startTicks: F(48), endTicks: F(72), newTrack: false });
  });

  it('answers one past the top track when none is free', async () => {
    const h = host({
      sequence: { fps, width: 1920, height: 1080, videoTracks: 2 },
      clips: [{ track: 0, at: 0, frames: 48, media: '/m/a.mov' }, { track: 1, at: 40, frames: 48, media: '/m/b.mov' }],
    });
    const span = placementFor({ kind: 'extend', direction: 'tail', item: await item(h, 0, 0), frames: 24 }, fps);
    expect(chooseTrack(await allVideoTracks(h), span)).toMatchObject({ trackIndex: 2, newTrack: true });
  });

  it('generate goes above everything under its range, so it is the shot seen', async () => {
    const h = host({ clips: [{ track: 0, at: 0, frames: 100, media: '/m/a.mov' }, { track: 1, at: 10, frames: 10, media: '/m/t.mov' }] });
    const tracks = await allVideoTracks(h);
    expect(chooseTrack(tracks, placementFor({ kind: 'generate', playheadTicks: F(5), frames: 10 }, fps)).trackIndex).toBe(2);
    expect(chooseTrack(tracks, placementFor({ kind: 'generate', playheadTicks: F(30), frames: 10 }, fps)).trackIndex).toBe(1);
    expect(chooseTrack(tracks, placementFor({ kind: 'generate', playheadTicks: F(200), frames: 10 }, fps)).trackIndex).toBe(0);
  });
});

describe('placeResult on the MemoryHost', () => {
  it('imports into the Reshoot bin, places on a frame boundary above the source, writes metadata and a marker', async () => {
    const h = host({ clips: [{ track: 0, at: 0, frames: 48, media: '/m/a.mov' }, { track: 1, at: 60, frames: 5, media: '/m/x.mov' }] });
    const a = await item(h, 0, 0);
    const placed = await placeResult(h, { kind: 'extend', direction: 'tail', item: a, frames: 24 }, fps, { ...result, direction: 'tail' });
    expect(placed.duplicate).toBe(false);
    expect(placed.placement).toEqual({ trackIndex: 2, startTicks: F(48), endTicks: F(72), newTrack: false });
    expect(ticksToFrame(placed.item.startTicks, fps)).toBe(48);
    const p = h.project.get(placed.item.projectItemId)!;
    expect(p.bin).toBe('Reshoot');
    expect(p.metadata).toEqual({ 'reshoot.prompt': 'dusk', 'reshoot.seed': '42', 'reshoot.model': 'builtin:tiny', 'reshoot.jobId': 'job-1', 'reshoot.kind': 'extend tail' });
    expect(h.markerList).toEqual([{ name: 'Reshoot · extend tail', comment: 'job job-1 · seed 42 · builtin:tiny · "dusk"', startTicks: F(48), durationTicks: F(24) }]);
  });

  it('placing the same result twice leaves one item, one import and one marker', async () => {
    const h = host({ clips: [{ track: 0, at: 0, frames: 48, media: '/m/a.mov' }] });
    const a = await item(h, 0, 0);
    const req: PlacementRequest = { kind: 'extend', direction: 'tail', item: a, frames: 24 };
    const first = await placeResult(h, req, fps, result);
    const second = await placeResult(h, req, fps, result);
    expect(second.duplicate).toBe(true);
    expect(second.item).toEqual(first.item);
    expect(h.allItems().filter((i) => i.mediaPath === result.path)).toHaveLength(1);
    expect([...h.project.values()].filter((p) => p.mediaPath === result.path)).toHaveLength(1);
    expect(h.markerList).toHaveLength(1);
    expect(alreadyPlaced(h.allItems(), first.item.projectItemId, F(48))).toEqual(first.item);
    expect(alreadyPlaced(h.allItems(), first.item.projectItemId, F(49))).toBeUndefined();
  });

  it('creates the next track when every track is taken', async () => {
    const h = host({
      sequence: { fps, width: 1920, height: 1080, videoTracks: 1 },
      clips: [{ track: 0, at: 0, frames: 48, media: '/m/a.mov' }],
    });
    const placed = await placeResult(h, { kind: 'fill', item: await item(h, 0, 0) }, fps, { ...result, kind: 'fill' });
    expect(placed.placement).toMatchObject({ trackIndex: 1, newTrack: true });
    expect(await h.videoTrackCount()).toBe(2);
  });

  it('a result marker is never read as a batch command', () => {
    expect(isMarkerCommand(resultMarker(result, { startTicks: 0, endTicks: F(1) }).name)).toBe(false);
  });
});

describe('MemoryHost catches placement bugs', () => {
  it('refuses overlaps, off-grid times and tracks beyond the next new one', async () => {
    const h = host({ sequence: { fps, width: 1920, height: 1080, videoTracks: 2 }, clips: [{ track: 0, at: 0, frames: 48, media: '/m/a.mov', name: 'A' }] });
    const { projectItemId } = await h.importFile('/r/x.mov', 'Reshoot');
    await expect(h.placeItem(projectItemId, 0, F(40))).rejects.toThrow(/V1 is not free over frames 40–64: "A" is there/);
    await expect(h.placeItem(projectItemId, 1, F(40) + 1)).rejects.toThrow(/not on a frame boundary/);
    await expect(h.placeItem(projectItemId, 3, 0)).rejects.toThrow(/does not exist/);
    await expect(h.placeItem('nope', 1, 0)).rejects.toThrow(/no project item/);
    expect((await h.placeItem(projectItemId, 0, F(48))).endTicks).toBe(F(72));
  });

  it('imports a path once, reports selection in time order, and uses the injected frame exporter and files', async () => {
    const h = new MemoryHost(
      {
        sequence: { fps: '25', width: 1280, height: 720 },
        clips: [{ track: 1, at: 50, frames: 10, media: '/m/b.mov', selected: true }, { track: 0, at: 0, frames: 10, media: '/m/a.mov', selected: true }],
        playhead: 7,
      },
      { exportFrame: ({ frame, folder }) => `${folder}/f${frame}.png`, readTextFile: (p) => (p === '/c.json' ? '{}' : null), connectionFilePath: '/c.json' },
    );
    const one = await h.importFile('/r/x.mov', 'Reshoot');
    expect(await h.importFile('/r/x.mov', 'Reshoot')).toEqual(one);
    expect((await h.selection()).map((i) => i.mediaPath)).toEqual(['/m/a.mov', '/m/b.mov']);
    expect(await h.playhead()).toBe(frameToTicks(7, parseRational('25')));
    expect(await h.exportFrame(await h.playhead(), '/tmp', 1280, 720)).toBe('/tmp/f7.png');
    expect(await h.readTextFile(await h.connectionFilePath())).toBe('{}');
    expect(await h.readTextFile('/other')).toBeNull();
    expect((await h.activeSequence())!.endTicks).toBe(frameToTicks(60, parseRational('25')));
    expect(await new MemoryHost({ sequence: null }).activeSequence()).toBeNull();
  });
});
