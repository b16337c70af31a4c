/**
 * Is Reshoot Companion there, and if not, why and what to do: one line in an editor's words,
 * and the technical detail (addresses, origins, files) on a second, quieter line.
 */
import type { ConnectionState } from '../connection/client.ts';
import './spectrumTypes.ts';

const LABEL: Record<ConnectionState['status'], string> = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  connected: 'Connected',
  reconnecting: 'Reconnecting…',
  'no-companion': 'Not connected',
  unauthorized: 'Token not accepted',
  refused: 'Connection refused',
  'port-blocked': 'Port not allowed',
  mismatch: 'Version mismatch',
};

/** Which of the theme's signal colours the dot takes (styles.ts). */
const TONE: Record<ConnectionState['status'], 'neutral' | 'notice' | 'positive' | 'negative'> = {
  idle: 'neutral',
  connecting: 'notice',
  connected: 'positive',
  reconnecting: 'notice',
  'no-companion': 'negative',
  unauthorized: 'negative',
  refused: 'negative',
  'port-blocked': 'negative',
  mismatch: 'negative',
};

export function StatusLine({ state, hostName }: { state: ConnectionState; hostName: string }) {
  const connected = state.status === 'connected';
  return (
    <div className="rs-status" data-testid="status" data-status={state.status} title={state.technical}>
      <div className="rs-row">
        <span className={`rs-dot rs-${TONE[state.status]}`} />
        <sp-body size="S" class="rs-strong">
          {LABEL[state.status]}
        </sp-body>
        <sp-detail class="rs-muted"> · {hostName}</sp-detail>
      </div>
      {connected ? null : (
        <sp-body size="XS" data-testid="status-detail">
          {state.detail}
        </sp-body>
      )}
      {state.technical && !connected ? (
        <sp-detail class="rs-muted" data-testid="status-technical">
          {state.technical}
        </sp-detail>
      ) : null}
      {state.lastProblem ? (
        <sp-detail class="rs-muted" data-testid="status-problem">
          last problem: {state.lastProblem}
        </sp-detail>
      ) : null}
    </div>
  );
}
