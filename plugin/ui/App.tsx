/**
 * The Reshoot panel: status line, the five kinds (one small form each over one shared settings
 * block), markers, and the job queue. Everything Premiere goes through `host`; everything
 * companion through `client`; submitting, uploading and placing through the JobRunner.
 */
import { useEffect, useMemo, useState } from 'react';
import { JOB_KINDS, type JobKind, type JobRecord } from '../../protocol/index.ts';
import type { Host } from '../host/types.ts';
import { CompanionClient } from '../connection/client.ts';
import type { ReadFile } from '../connection/frames.ts';
import { useStore } from '../connection/store.ts';
import { BridgeForm } from './BridgeForm.tsx';
import { CommonSettings, defaultCommon, type CommonValues } from './CommonSettings.tsx';
import { ExtendForm } from './ExtendForm.tsx';
import type { KindFormProps } from './forms.ts';
import { GenerateForm } from './GenerateForm.tsx';
import { JobQueue } from './JobQueue.tsx';
import { MarkersPanel } from './MarkersPanel.tsx';
import { MaskForm } from './MaskForm.tsx';
import { draftProblem, draftToMaskSpec, emptyDraft, type MaskDraft } from '../mask/draft.ts';
import { JobRunner } from './runner.ts';
import { Settings, manualAddresses } from './Settings.tsx';
import { StatusLine } from './StatusLine.tsx';
import { PANEL_CSS } from './styles.ts';
import { Button } from './spectrum.tsx';
import { Checkbox } from './controls.tsx';

export function createClient(host: Host, opts: Partial<ConstructorParameters<typeof CompanionClient>[0]> = {}): CompanionClient {
  return new CompanionClient({ host, manual: () => manualAddresses().load(), ...opts });
}

const KIND_LABEL: Record<JobKind, string> = { extend: 'Extend', fill: 'Fill', replace: 'Replace', generate: 'Generate', bridge: 'Bridge' };

export interface AppProps {
  host: Host;
  client: CompanionClient;
  /** How exported frames are read (default: the host's own reader, else UXP's file system). */
  readFile?: ReadFile;
  /** A runner made by the caller (tests); default: one for this host and client. */
  runner?: JobRunner;
}

export function App({ host, client, readFile, runner: given }: AppProps) {
  const state = useStore(client.store);
  const runner = useMemo(() => given ?? new JobRunner(host, client, readFile ? { readFile } : {}), [given, host, client, readFile]);
  const run = useStore(runner.store);
  const [kind, setKind] = useState<JobKind>('extend');
  const [common, setCommon] = useState<CommonValues>(defaultCommon);
  const [autoPlace, setAutoPlace] = useState(false);
  const [draft, setDraft] = useState<MaskDraft>(emptyDraft);

  useEffect(() => {
    client.start();
    const stop = runner.start();
    return () => {
      stop();
      client.stop();
    };
  }, [client, runner]);

  const jobs = useMemo(() => state.order.map((id) => state.jobs[id]!).filter(Boolean), [state.order, state.jobs]);
  const connected = state.status === 'connected';
  const models = state.welcome?.models ?? [];

  const settings = <CommonSettings value={common} onChange={setCommon} models={models} frames={kind !== 'generate'} />;
  const formProps: KindFormProps = { host, runner, common, models, connected, autoPlace, settings };

  return (
    <main className="rs-panel">
      <style>{PANEL_CSS}</style>
      <StatusLine state={state} hostName={host.name} />
      <Settings onChange={() => client.reconnect()} />
      <nav className="rs-kinds" data-testid="kinds">
        {JOB_KINDS.map((k) => (
          <Button key={k} action quiet selected={k === kind} testId={`kind-${k}`} className={k === kind ? 'rs-on' : ''} onClick={() => setKind(k)}>
            {KIND_LABEL[k]}
          </Button>
        ))}
      </nav>
      {kind === 'extend' ? <ExtendForm {...formProps} /> : null}
      {kind === 'fill' || kind === 'replace' ? <MaskForm {...formProps} kind={kind} draft={draft} onDraft={setDraft} /> : null}
      {kind === 'generate' ? <GenerateForm {...formProps} /> : null}
      {kind === 'bridge' ? <BridgeForm {...formProps} /> : null}
      {/* Fill/replace marker commands use the mask drawn in the Fill/Replace form (markers carry none). */}
      <MarkersPanel host={host} runner={runner} common={common} connected={connected} mask={draftProblem(draft) ? undefined : draftToMaskSpec(draft)} />
      <div className="rs-row rs-between">
        <h3 data-testid="jobs-heading">Jobs</h3>
        <span className="rs-small" title="Put each result on the timeline as soon as it is done (batches always do)">
          <Checkbox testId="auto-place" checked={autoPlace} onChange={setAutoPlace}>
            Auto-place
          </Checkbox>
        </span>
      </div>
      <JobQueue
        jobs={jobs}
        tasks={run.tasks}
        previews={state.previews}
        connected={connected}
        label={(id) => run.contexts[id]?.label ?? null}
        canPlace={(id) => id in run.contexts}
        autoPlaced={(id) => !!run.contexts[id]?.autoPlace}
        placed={(id) => run.placed[id] ?? null}
        placeError={(id) => run.placeErrors[id] ?? null}
        onCancel={(id) => client.cancel(id)}
        onRetry={async (job: JobRecord) => void (await runner.retry(job))}
        onPlace={async (job: JobRecord) => void (await runner.place(job))}
        onDismissTask={(id) => runner.dismiss(id)}
      />
    </main>
  );
}
