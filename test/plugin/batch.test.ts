import { describe, expect, it } from 'vitest';
import { MemoryHost } from '../../plugin/host/memory.ts';
import { MarkerSyntaxError, batchOverMarkers, batchOverSelection, parseMarkerCommand } from '../../plugin/batch.ts';
import { allVideoTracks } from '../../plugin/placement.ts';
import { frameToTicks } from '../../plugin/time.ts';
import { parseJobSpec } from '../../protocol/jobspec.ts';
import { parseRational } from '../../protocol/rational.ts';
import { companionConnectionFile, isCompletePng, parsePixelAspect, samePath, setProjectMetadataFields } from '../../plugin/host/premiere.ts';

const fps = parseRational('30000/1001');
const F = (n: number) => frameToTicks(n, fps);
const mask = { type: 'shapes' as const, shapes: [{ kind: 'rectangle' as const, keyframes: [{ frame: 0, x: 0, y: 0, width: 10, height: 10 }] }] };

function timeline() {
  return new MemoryHost({
    sequence: { fps, width: 1920, height: 1080 },
    clips: [
      { track: 0, at: 5, frames: 60, in: 100, media: '/m/a.mov', name: 'A', selected: true },
      { track: 0, at: 90, frames: 30, media: '/m/b.mov', name: 'B', selected: true },
      { track: 1, at: 200, frames: 30, media: null, name: 'Title', selected: true },
    ],
  });
}

describe('batch over the selection', () => {
  it('extend all tails by 1 s: one valid job spec per clip, with its source in/out', async () => {
    const h = timeline();
    const seq = (await h.activeSequence())!;
    const b = batchOverSelection(await h.selection(), seq, { kind: 'extend', direction: 'tail', duration: { seconds: 1 }, prompt: 'more', seed: 3 });
    expect(b.jobs.map((j) => j.label)).toEqual(['A · extend tail 30f', 'B · extend tail 30f']);
    expect(b.errors).toEqual([{ where: 'Title', message: '"Title" has no media file (titles and adjustment layers cannot be used)' }]);
    const spec = parseJobSpec(b.jobs[0]!.spec);
    expect(spec).toMatchObject({ kind: 'extend', seed: 3, prompt: 'more', source: { path: '/m/a.mov', in: { frames: 100 }, out: { frames: 160 } }, sequence: { fps: { num: 30000, den: 1001 } } });
    expect(b.jobs[1]!.placement).toMatchObject({ kind: 'extend', direction: 'tail', frames: 30 });
  });

  it('head extensions that would cross 0:00 are refused per clip, before rendering', async () => {
    const h = timeline();
    const b = batchOverSelection(await h.selection(), (await h.activeSequence())!, { kind: 'extend', direction: 'head', duration: { frames: 10 } });
    expect(b.jobs.map((j) => j.label)).toEqual(['B · extend head 10f']);
    expect(b.errors[0]).toMatchObject({ where: 'A', message: expect.stringMatching(/cannot extend the head of "A" by 10 frames/) });
  });

  it('bridge pairs neighbouring selected clips on one track; fill needs a mask', async () => {
    const h = timeline();
    const seq = (await h.activeSequence())!;
    const bridge = batchOverSelection(await h.selection(), seq, { kind: 'bridge' });
    expect(bridge.jobs.map((j) => j.label)).toEqual(['A → B · bridge 25f']);
    expect(parseJobSpec(bridge.jobs[0]!.spec)).toMatchObject({ kind: 'bridge', gap: { frames: 25 } });
    const fill = batchOverSelection((await h.selection()).slice(0, 1), seq, { kind: 'fill', mask });
    expect(parseJobSpec(fill.jobs[0]!.spec).kind).toBe('fill');
    expect(batchOverSelection([], seq, { kind: 'fill', mask }).errors).toEqual([{ where: 'selection', message: 'no clips are selected' }]);
  });
});

describe('marker command grammar', () => {
  it('parses kind, direction, duration, options and a quoted prompt', () => {
    expect(parseMarkerCommand('reshoot: extend tail 1s "the car drives on \\"fast\\""')).toEqual({
      kind: 'extend', direction: 'tail', duration: { seconds: 1 }, prompt: 'the car drives on "fast"', settings: {},
    });
    expect(parseMarkerCommand('Reshoot: EXTEND head 12f seed=7 model=ltxv-2b guidance=3.5')).toEqual({
      kind: 'extend', direction: 'head', duration: { frames: 12 }, settings: { seed: 7, model: 'ltxv-2b', guidance: 3.5 },
    });
    expect(parseMarkerCommand('reshoot: extend 0.5s')).toMatchObject({ direction: 'tail', duration: { seconds: 0.5 } });
    expect(parseMarkerCommand('reshoot: fill “empty street”')).toEqual({ kind: 'fill', prompt: 'empty street', settings: {} });
  });

  it.each([
    ['reshoot:', /expected a kind/],
    ['reshoot: zoom', /unknown kind "zoom"; expected one of extend, fill, replace, generate, bridge \(at column 10/],
    ['reshoot: fill tail', /"tail" applies to extend only, not fill/],
    ['reshoot: extend 2', /"2" is not a duration; write seconds as "1.5s" or frames as "36f"/],
    ['reshoot: extend 1s 2s', /the duration is given twice/],
    ['reshoot: extend 0f', /longer than zero/],
    ['reshoot: extend 1s "a" "b"', /only one quoted prompt/],
    ['reshoot: extend 1s "open', /closing quote is missing \(at column 20/],
    ['reshoot: extend 1s seed=x', /seed must be a number, got "x"/],
    ['reshoot: extend 1s colour=red', /unknown option "colour"/],
    ['reshoot: extend 1s sunset', /unexpected "sunset" \(prompts go in double quotes\)/],
  ])('%s → a clear error', (text, message) => {
    expect(() => parseMarkerCommand(text)).toThrow(MarkerSyntaxError);
    expect(() => parseMarkerCommand(text)).toThrow(message);
  });
});

describe('batch over markers', () => {
  it('one job per command marker, aimed at the clip / gap / time under it; bad ones reported', async () => {
    const h = timeline();
    const seq = (await h.activeSequence())!;
    const markers = [
      { name: 'reshoot: extend tail 1s', comment: 'prompt from the comment', startTicks: F(10), durationTicks: 0 },
      { name: 'reshoot: bridge "dissolve-like"', comment: '', startTicks: F(70), durationTicks: 0 },
      { name: 'reshoot: generate 2s "harbour at dawn" seed=9', comment: '', startTicks: F(300), durationTicks: 0 },
      { name: 'reshoot: fill', comment: '', startTicks: F(95), durationTicks: 0 },
      { name: 'reshoot: extend 1s', comment: '', startTicks: F(150), durationTicks: 0 },
      { name: 'reshoot: extnd', comment: '', startTicks: F(20), durationTicks: 0 },
      { name: 'Chapter 1', comment: '', startTicks: F(0), durationTicks: 0 },
      { name: 'Reshoot · extend tail', comment: 'job x', startTicks: F(65), durationTicks: F(30) },
    ];
    const b = batchOverMarkers(markers, await allVideoTracks(h), seq);
    expect(b.jobs.map((j) => j.label)).toEqual(['A · extend tail 30f', 'A → B · bridge 25f', 'generate 60f at frame 300']);
    expect(b.jobs[0]!.spec.prompt).toBe('prompt from the comment');
    expect(parseJobSpec(b.jobs[2]!.spec)).toMatchObject({ kind: 'generate', seed: 9, prompt: 'harbour at dawn', duration: { seconds: 2 } });
    expect(b.jobs[2]!.placement).toEqual({ kind: 'generate', playheadTicks: F(300), frames: 60 });
    expect(b.errors).toEqual([
      { where: "marker 'reshoot: extnd' at frame 20", message: expect.stringMatching(/unknown kind "extnd"/) },
      { where: "marker 'reshoot: fill' at frame 95", message: 'fill needs a mask: draw one in the panel before running the batch' },
      { where: "marker 'reshoot: extend 1s' at frame 150", message: 'extend: no video clip with media under the marker' },
    ]);
    // With the batch's mask, the fill marker becomes a job on B.
    const withMask = batchOverMarkers(markers.slice(3, 4), await allVideoTracks(h), seq, { mask });
    expect(withMask.jobs.map((j) => j.label)).toEqual(['B · fill']);
  });
});

describe('PremiereHost pure helpers', () => {
  it('finds the companion connection file where the companion writes it', () => {
    expect(companionConnectionFile('darwin', '/Users/ed')).toBe('/Users/ed/Library/Application Support/Reshoot/companion.json');
    expect(companionConnectionFile('win32', 'C:\\Users\\ed')).toBe('C:\\Users\\ed\\AppData\\Roaming\\Reshoot\\companion.json');
  });

  it('tells a complete PNG from a partly written one', () => {
    const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
    const iend = [0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82];
    expect(isCompletePng(new Uint8Array([...sig, 1, 2, 3, ...iend]))).toBe(true);
    expect(isCompletePng(new Uint8Array([...sig, 1, 2, 3, ...iend.slice(0, 8)]))).toBe(false);
  });

  it('sets project metadata fields in an XMP packet, replacing and escaping', () => {
    const ns = 'http://ns.adobe.com/premierePrivateProjectMetaData/1.0/';
    const xmp = `<x:xmpmeta><rdf:RDF><rdf:Description rdf:about="" xmlns:premierePrivateProjectMetaData="${ns}"><premierePrivateProjectMetaData:Column.Intrinsic.Name>a.mov</premierePrivateProjectMetaData:Column.Intrinsic.Name><premierePrivateProjectMetaData:reshoot.seed>1</premierePrivateProjectMetaData:reshoot.seed></rdf:Description></rdf:RDF></x:xmpmeta>`;
    const out = setProjectMetadataFields(xmp, { 'reshoot.seed': '42', 'reshoot.prompt': 'a <b> & "c"' });
    expect(out).toContain('<premierePrivateProjectMetaData:Column.Intrinsic.Name>a.mov<');
    expect(out).toContain('<premierePrivateProjectMetaData:reshoot.seed>42</premierePrivateProjectMetaData:reshoot.seed>');
    expect(out.match(/reshoot\.seed>/g)).toHaveLength(2);
    expect(out).toContain('<premierePrivateProjectMetaData:reshoot.prompt>a &lt;b&gt; &amp; &quot;c&quot;</premierePrivateProjectMetaData:reshoot.prompt></rdf:Description>');
    expect(setProjectMetadataFields('', { k: 'v' })).toContain(`xmlns:premierePrivateProjectMetaData="${ns}"><premierePrivateProjectMetaData:k>v<`);
    expect(() => setProjectMetadataFields(xmp, { 'bad name': 'x' })).toThrow(/not a valid metadata field name/);
  });

  it('reads pixel aspect strings and compares media paths as Premiere reports them', () => {
    expect(parsePixelAspect('1:1')).toEqual({ num: 1, den: 1 });
    expect(parsePixelAspect('10/11')).toEqual({ num: 10, den: 11 });
    expect(parsePixelAspect('')).toEqual({ num: 1, den: 1 });
    expect(samePath('C:\\Media\\A.mov', 'c:/media/a.mov')).toBe(true);
    expect(samePath('/Media/A.mov', '/media/a.mov')).toBe(false);
  });
});
