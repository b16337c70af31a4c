/**
 * The browser harness: the real panel (plugin/ui) with an in-memory host instead of Premiere.
 * Query: ?port=&token= (the companion; written into the host's connection file), media= (the
 * source clip's real path), frames= (its length), w=&h= (sequence size, default 1920x1080),
 * fps= (default 24000/1001). `window.reshootHarness` exposes the host to tests.
 */
import { createRoot } from 'react-dom/client';
import { parseRational } from '../protocol/rational.ts';
import { TICKS_PER_SECOND } from '../plugin/host/types.ts';
import { App, createClient } from '../plugin/ui/App.tsx';
import { frameToTicks } from '../plugin/time.ts';
import { MemoryHost } from '../plugin/host/memory.ts';

const q = new URLSearchParams(location.search);
const fps = parseRational(q.get('fps') ?? '24000/1001');
const width = Number(q.get('w') ?? 1920);
const height = Number(q.get('h') ?? 1080);
const media = q.get('media') ?? '/media/source.mov';
const frames = Number(q.get('frames') ?? 48);

const host = new MemoryHost({ sequence: { id: 'seq-1', name: 'Sequence 01', fps, width, height } });
const clip = host.addClip(0, media, 0, frameToTicks(frames, fps));
if (q.get('select') !== '0') host.select([clip.id]);
if (q.get('port') && q.get('token')) {
  void host.connectionFilePath().then((p) =>
    host.files.set(p, JSON.stringify({ port: Number(q.get('port')), token: q.get('token'), host: '127.0.0.1', pid: 0, version: 'harness' })),
  );
}
// Results are as long as the job made them; the harness cannot probe, so it asks the query.
host.mediaDurationTicks = () => frameToTicks(Number(q.get('resultFrames') ?? 24), fps);

declare global {
  interface Window {
    reshootHarness: { host: MemoryHost; ticksPerSecond: number };
  }
}
window.reshootHarness = { host, ticksPerSecond: TICKS_PER_SECOND };

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

const client = createClient(host, { minDelayMs: 200, maxDelayMs: 2000 });
createRoot(document.getElementById('root')!).render(<App host={host} client={client} />);
