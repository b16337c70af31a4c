/** Manual companion address + token: the fallback when the connection file cannot be read. */
import { useState } from 'react';
import type { ManualAddress } from '../connection/client.ts';

const KEY = 'reshoot.manualAddress';

export function loadManual(): ManualAddress | null {
  try {
    const raw = globalThis.localStorage?.getItem(KEY);
    if (!raw) return null;
    const v = JSON.parse(raw) as ManualAddress;
    return typeof v.address === 'string' && typeof v.token === 'string' ? v : null;
  } catch {
    return null;
  }
}

export function saveManual(v: ManualAddress | null): void {
  try {
    if (v) globalThis.localStorage?.setItem(KEY, JSON.stringify(v));
    else globalThis.localStorage?.removeItem(KEY);
  } catch {
    /* no storage: the setting lasts this session only */
  }
}

export function Settings({ onChange }: { onChange: () => void }) {
  const initial = loadManual();
  const [open, setOpen] = useState(false);
  const [address, setAddress] = useState(initial?.address ?? '');
  const [token, setToken] = useState(initial?.token ?? '');
  if (!open) {
    return (
      <button className="rs-link" onClick={() => setOpen(true)}>
        Connection settings…
      </button>
    );
  }
  return (
    <fieldset className="rs-box">
      <legend>Connection</legend>
      <div className="rs-small rs-muted">Leave empty to use the companion's connection file.</div>
      <label>
        Address <input value={address} placeholder="127.0.0.1:41780" onChange={(e) => setAddress(e.target.value)} />
      </label>
      <label>
        Token <input value={token} type="password" onChange={(e) => setToken(e.target.value)} />
      </label>
      <div className="rs-row">
        <button
          onClick={() => {
            saveManual(address.trim() && token.trim() ? { address: address.trim(), token: token.trim() } : null);
            setOpen(false);
            onChange();
          }}
        >
          Save and reconnect
        </button>
        <button onClick={() => setOpen(false)}>Close</button>
      </div>
    </fieldset>
  );
}
