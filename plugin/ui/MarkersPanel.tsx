/**
 * "Run the markers": every sequence marker whose name is a Reshoot command (plugin/batch.ts
 * documents the grammar) becomes a job; all go to the queue and each is placed when done.
 */
import { useState } from 'react';
import { MARKER_PREFIX, batchOverMarkers } from '../batch.ts';
import { allVideoTracks } from '../placement.ts';
import { toJobSettings } from './CommonSettings.tsx';
import { activeSequence, runBatch, type KindFormProps } from './forms.ts';
import type { MaskInput } from '../batch.ts';
import { Button } from './spectrum.tsx';

export function MarkersPanel({ host, runner, common, connected, mask }: Pick<KindFormProps, 'host' | 'runner' | 'common' | 'connected'> & { mask?: MaskInput }) {
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ error: boolean; text: string } | null>(null);
  const run = async () => {
    setBusy(true);
    setMessage(null);
    try {
      const seq = await activeSequence(host);
      const batch = batchOverMarkers(await host.markers(), await allVideoTracks(host), seq, {
        ...toJobSettings(common),
        duration: { seconds: 1 },
        ...(mask ? { mask } : {}),
      });
      if (batch.jobs.length === 0 && batch.errors.length === 0) throw new Error(`no marker is a Reshoot command (names start with "${MARKER_PREFIX}")`);
      setMessage({ error: false, text: await runBatch(runner, batch, seq, common.byValue) });
    } catch (e) {
      setMessage({ error: true, text: (e as Error).message });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="rs-box" data-testid="markers-panel">
      <div className="rs-row rs-between">
        <span>
          <strong>Markers</strong> <span className="rs-small rs-muted">e.g. reshoot: extend tail 1s "the car drives on"</span>
        </span>
        <Button testId="run-markers" disabled={busy || !connected} onClick={() => void run()}>
          {busy ? 'Running…' : 'Run the markers'}
        </Button>
      </div>
      {message ? (
        <div data-testid="markers-message" className={`rs-small ${message.error ? 'rs-error' : 'rs-muted'}`}>
          {message.text}
        </div>
      ) : null}
    </div>
  );
}
