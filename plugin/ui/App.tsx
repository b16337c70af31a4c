/**
 * The Reshoot panel: status line, kind picker with its form, the job queue. Everything Premiere
 * goes through `host`; everything companion through `client`.
 */
import { useEffect, useMemo, useState } from 'react';
import { JOB_KINDS, type JobKind, type JobRecord } from '../../protocol/index.ts';
import type { Host } from '../host/types.ts';
import { CompanionClient } from '../connection/client.ts';
import { useStore } from '../connection/store.ts';
import { ExtendForm } from './ExtendForm.tsx';
import { JobQueue } from './JobQueue.tsx';
import { Settings, loadManual } from './Settings.tsx';
import { StatusLine } from './StatusLine.tsx';
import { PANEL_CSS } from './styles.ts';
import { placeResult, type PlacementContext } from './timeline.ts';

const CONTEXT_KEY = 'reshoot.placementContexts';

/** Placement contexts outlive a panel reload (the job outlives it on the companion). */
function loadContexts(): Record<string, PlacementContext> {
  try {
    const raw = globalThis.localStorage?.getItem(CONTEXT_KEY);
    return raw ? (JSON.parse(raw) as Record<string, PlacementContext>) : {};
  } catch {
    return {};
  }
}
function saveContexts(c: Record<string, PlacementContext>): void {
  try {
    globalThis.localStorage?.setItem(CONTEXT_KEY, JSON.stringify(c));
  } catch {
    /* no storage */
  }
}

export function createClient(host: Host, opts: Partial<ConstructorParameters<typeof CompanionClient>[0]> = {}): CompanionClient {
  return new CompanionClient({ host, manual: loadManual, ...opts });
}

const KIND_LABEL: Record<JobKind, string> = { extend: 'Extend', fill: 'Fill', replace: 'Replace', generate: 'Generate', bridge: 'Bridge' };

export function App({ host, client }: { host: Host; client: CompanionClient }) {
  const state = useStore(client.store);
  const [kind, setKind] = useState<JobKind>('extend');
  const [contexts, setContexts] = useState<Record<string, PlacementContext>>(loadContexts);
  const [placed, setPlaced] = useState<Record<string, string>>({});

  useEffect(() => {
    client.start();
    return () => client.stop();
  }, [client]);

  const remember = (jobId: string, ctx: PlacementContext) =>
    setContexts((c) => {
      const next = { ...c, [jobId]: ctx };
      saveContexts(next);
      return next;
    });

  const jobs = useMemo(() => state.order.map((id) => state.jobs[id]!).filter(Boolean), [state.order, state.jobs]);
  const connected = state.status === 'connected';

  const place = async (job: JobRecord) => {
    const ctx = contexts[job.id];
    if (!ctx) throw new Error('the source clip of this job is unknown to this panel');
    const seq = await host.activeSequence();
    if (!seq || seq.id !== ctx.sequenceId) throw new Error('open the sequence the job was made from to place its result');
    const p = await placeResult(host, job, ctx);
    setPlaced((m) => ({ ...m, [job.id]: `placed on V${p.trackIndex + 1} at frame ${Math.round((p.startTicks * ctx.fps.num) / (254016000000 * ctx.fps.den))}` }));
  };

  const retry = async (job: JobRecord) => {
    const again = await client.submit(job.spec);
    const ctx = contexts[job.id];
    if (ctx) remember(again.id, ctx);
  };

  return (
    <main className="rs-panel">
      <style>{PANEL_CSS}</style>
      <StatusLine state={state} hostName={host.name} />
      <Settings onChange={() => client.reconnect()} />
      <nav className="rs-kinds" data-testid="kinds">
        {JOB_KINDS.map((k) => (
          <button key={k} data-testid={`kind-${k}`} className={k === kind ? 'rs-on' : ''} onClick={() => setKind(k)}>
            {KIND_LABEL[k]}
          </button>
        ))}
      </nav>
      {kind === 'extend' ? (
        <ExtendForm host={host} client={client} models={state.welcome?.models ?? []} connected={connected} onSubmitted={remember} />
      ) : (
        <div className="rs-muted rs-small">{KIND_LABEL[kind]} comes next in the panel; it can be rendered today with a job file (npx reshoot render job.json).</div>
      )}
      <h3>Jobs</h3>
      <JobQueue
        jobs={jobs}
        connected={connected}
        canPlace={(id) => id in contexts}
        placed={(id) => placed[id] ?? null}
        onCancel={(id) => client.cancel(id)}
        onRetry={retry}
        onPlace={place}
      />
    </main>
  );
}
