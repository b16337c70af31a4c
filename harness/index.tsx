/**
 * The browser harness: the real panel (plugin/ui) with an in-memory host instead of Premiere.
 * Query: ?port=&token= (the companion; written into the host's connection file), media= (the
 * source clip's real path), frames= (its length), w=&h= (sequence size, default 1920x1080),
 * fps= (default 24000/1001); or clips= a JSON list of {track, at, frames, in?, media, selected?}
 * (frames of the sequence rate) for a timeline of several clips; markers= a JSON list of
 * {name, comment?, at} (frames). `window.reshootHarness` exposes the host and the client to tests.
 * Frames by value come from the in-memory host's exportFrame: real PNGs of a synthetic picture
 * of the timeline (plugin/host/memory.ts), decoded and uploaded like Premiere's.
 */
import { createRoot } from 'react-dom/client';
import { parseRational } from '../protocol/rational.ts';
import { TICKS_PER_SECOND } from '../plugin/host/types.ts';
import { App, createClient } from '../plugin/ui/App.tsx';
import { frameToTicks } from '../plugin/time.ts';
import { MemoryHost } from '../plugin/host/memory.ts';
import type { CompanionClient } from '../plugin/connection/client.ts';
import { mountMaskView } from '../plugin/mask/harnessView.tsx';
import { applyHarnessTheme } from './theme.ts';
import { defineSpectrumShim } from './spectrumShim.ts';

const q = new URLSearchParams(location.search);
applyHarnessTheme(q);
defineSpectrumShim();
const fps = parseRational(q.get('fps') ?? '24000/1001');
const width = Number(q.get('w') ?? 1920);
const height = Number(q.get('h') ?? 1080);
const media = q.get('media') ?? '/media/source.mov';
const frames = Number(q.get('frames') ?? 48);

const host = new MemoryHost({ sequence: { id: 'seq-1', name: 'Sequence 01', fps, width, height } });
const clipList = q.get('clips');
if (clipList) {
  const described = JSON.parse(clipList) as { track: number; at: number; frames: number; in?: number; media: string | null; selected?: boolean }[];
  const selected: string[] = [];
  for (const c of described) {
    const item = host.addClip(c.track, c.media, frameToTicks(c.at, fps), frameToTicks(c.frames, fps), frameToTicks(c.in ?? 0, fps));
    if (c.selected) selected.push(item.id);
  }
  host.select(selected);
} else {
  const clip = host.addClip(0, media, 0, frameToTicks(frames, fps));
  if (q.get('select') !== '0') host.select([clip.id]);
}
for (const m of JSON.parse(q.get('markers') ?? '[]') as { name: string; comment?: string; at: number }[]) {
  host.markerList.push({ name: m.name, comment: m.comment ?? '', startTicks: frameToTicks(m.at, fps), durationTicks: 0 });
}
if (q.get('port') && q.get('token')) {
  void host.connectionFilePath().then((p) =>
    host.files.set(p, JSON.stringify({ port: Number(q.get('port')), token: q.get('token'), host: '127.0.0.1', pid: 0, version: 'harness' })),
  );
}
// Results are as long as the job made them: the harness cannot probe media, so it asks the
// client which job wrote the file (the query's resultFrames otherwise).
host.mediaDurationTicks = (path) => {
  const job = Object.values(client.state.jobs).find((j) => j.record.result?.path === path);
  return frameToTicks(job?.record.result?.frames ?? Number(q.get('resultFrames') ?? 24), fps);
};

declare global {
  interface Window {
    reshootHarness: { host: MemoryHost; client: CompanionClient; ticksPerSecond: number };
  }
}
const client = createClient(host, { minDelayMs: 200, maxDelayMs: 2000 });
window.reshootHarness = { host, client, ticksPerSecond: TICKS_PER_SECOND };

function renderTimeline() {
  const el = document.getElementById('timeline');
  if (!el) return;
  const lines = [`${host.sequence!.name}  ${width}x${height} @ ${fps.num}/${fps.den}`];
  host.tracks.forEach((t, i) => {
    const items = t.map((it) => {
      const p = host.project.get(it.projectItemId)!;
      const f0 = Math.round((it.startTicks * fps.num) / (TICKS_PER_SECOND * fps.den));
      const f1 = Math.round((it.endTicks * fps.num) / (TICKS_PER_SECOND * fps.den));
      const meta = Object.keys(p.metadata).length ? ` ${JSON.stringify(p.metadata)}` : '';
      return `[${f0}-${f1}) ${it.name}${host.selectedIds.has(it.id) ? ' *' : ''}${meta}`;
    });
    lines.push(`V${i + 1}: ${items.join('  ') || '—'}`);
  });
  for (const m of host.markerList) lines.push(`marker: ${m.name} — ${m.comment}`);
  el.textContent = lines.join('\n');
}
host.onChange(renderTimeline);
renderTimeline();

// ?view=mask: the mask editor on its own (plugin/mask/harnessView.tsx, test/panel/mask-editor.test.ts).
if (q.get('view') === 'mask') mountMaskView(document.getElementById('root')!, { width, height, fps, frames });
else createRoot(document.getElementById('root')!).render(<App host={host} client={client} />);
