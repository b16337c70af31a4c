/** One line: is the companion there, and what is the panel talking to. */
import type { ConnectionState } from '../connection/client.ts';

const LABEL: Record<ConnectionState['status'], string> = {
  idle: 'not connected',
  connecting: 'connecting…',
  connected: 'connected',
  reconnecting: 'reconnecting…',
  'no-companion': 'no companion',
  unauthorized: 'token refused',
  mismatch: 'version mismatch',
};

const COLOR: Record<ConnectionState['status'], string> = {
  idle: '#888',
  connecting: '#d9a400',
  connected: '#2d9d4f',
  reconnecting: '#d9a400',
  'no-companion': '#c9453a',
  unauthorized: '#c9453a',
  mismatch: '#c9453a',
};

export function StatusLine({ state, hostName }: { state: ConnectionState; hostName: string }) {
  return (
    <div className="rs-status" data-testid="status" data-status={state.status} title={state.detail}>
      <span className="rs-dot" style={{ background: COLOR[state.status] }} />
      <strong>{LABEL[state.status]}</strong>
      <span className="rs-muted"> · {hostName}</span>
      <div className="rs-muted rs-small" data-testid="status-detail">
        {state.detail}
        {state.lastProblem ? ` · last problem: ${state.lastProblem}` : ''}
      </div>
    </div>
  );
}
