/**
 * Manual companion address + token: the fallback when the connection file cannot be read (a
 * companion started with another home folder, or on another machine). The token field is plain
 * text: UXP cannot read password fields on macOS (Adobe's known issues), and this token is pasted
 * from the companion's own output, not typed from memory. It is stored in UXP's secure storage.
 */
import { useEffect, useState } from 'react';
import { ManualAddressStore } from '../connection/manualAddress.ts';
import { Button, TextField } from './controls.tsx';

let shared: ManualAddressStore | null = null;
/** The panel's one store of the manual address (created on first use: UXP is there by then). */
export function manualAddresses(): ManualAddressStore {
  shared ??= new ManualAddressStore();
  return shared;
}

export function Settings({ onChange, store = manualAddresses() }: { onChange: () => void; store?: ManualAddressStore }) {
  const [open, setOpen] = useState(false);
  const [address, setAddress] = useState('');
  const [token, setToken] = useState('');
  useEffect(() => {
    if (!open) return;
    void store.load().then((v) => {
      setAddress(v?.address ?? '');
      setToken(v?.token ?? '');
    });
  }, [open, store]);
  if (!open) {
    return (
      <Button action quiet className="rs-link" testId="open-settings" onClick={() => setOpen(true)}>
        Connection settings…
      </Button>
    );
  }
  return (
    <fieldset className="rs-box" data-testid="settings">
      <legend>Connection</legend>
      <div className="rs-small rs-muted">Leave empty to find Reshoot Companion on this computer by itself.</div>
      <label>
        Address <TextField testId="settings-address" value={address} placeholder="127.0.0.1:41780" onChange={setAddress} />
      </label>
      <label>
        Token <TextField testId="settings-token" value={token} placeholder="shown by Reshoot Companion" onChange={setToken} />
      </label>
      <div className="rs-row">
        <Button
          variant="primary"
          testId="settings-save"
          onClick={async () => {
            await store.save(address.trim() && token.trim() ? { address: address.trim(), token: token.trim() } : null);
            setOpen(false);
            onChange();
          }}
        >
          Save and reconnect
        </Button>
        <Button testId="settings-close" onClick={() => setOpen(false)}>
          Close
        </Button>
      </div>
    </fieldset>
  );
}
