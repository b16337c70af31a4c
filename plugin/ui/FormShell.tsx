/**
 * The frame around each kind's form: the submit button and the inline message (what was
 * submitted, or what is wrong — job spec problems are shown field by field, as
 * protocol/jobspec.ts words them).
 */
import { useState, type ReactNode } from 'react';
import { Button } from './spectrum.tsx';

export interface FormShellProps {
  testId: string;
  /** The submit button's label ("Extend", "Fill"...). */
  action: string;
  connected: boolean;
  /** Builds and submits; resolves with a line for the editor, rejects with what is wrong. */
  onSubmit: () => Promise<string>;
  children: ReactNode;
  /** The shared settings (CommonSettings), between the kind's fields and the button. */
  settings?: ReactNode;
}

export function FormShell({ testId, action, connected, onSubmit, children, settings }: FormShellProps) {
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ error: boolean; text: string } | null>(null);
  const submit = async () => {
    setBusy(true);
    setMessage(null);
    try {
      setMessage({ error: false, text: await onSubmit() });
    } catch (e) {
      setMessage({ error: true, text: (e as Error).message });
    } finally {
      setBusy(false);
    }
  };
  // A spec error lists its problems "field: message; field: message": one line each.
  const lines = message?.error ? message.text.split(/;\s+|\n\s*/).filter(Boolean) : [];
  return (
    // A <div>, not a <form>: the mask editor inside has its own buttons and inputs (Enter in its
    // frame field, a tool button) that must not submit the job.
    <div className="rs-form" data-testid={testId}>
      {children}
      {settings}
      <Button variant="cta" testId="submit" onClick={() => void submit()} disabled={busy || !connected} title={connected ? '' : 'Start Reshoot Companion first'}>
        {busy ? 'Submitting…' : action}
      </Button>
      {message ? (
        <div data-testid="form-message" className={message.error ? 'rs-error' : 'rs-muted'}>
          {lines.length > 1 ? (
            <ul className="rs-issues">
              {lines.map((l, i) => (
                <li key={i}>{l}</li>
              ))}
            </ul>
          ) : (
            message.text
          )}
        </div>
      ) : null}
    </div>
  );
}
