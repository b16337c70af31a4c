/**
 * The UXP entry: the Reshoot panel inside Premiere Pro. Premiere is reached only through
 * PremiereHost (plugin/host/premiere.ts, which requires 'premierepro' and 'uxp' at run time);
 * the companion through the WebSocket client.
 */
import { createRoot } from 'react-dom/client';
import { PANEL_PORTS } from '../protocol/ports.ts';
import type { Host } from './host/types.ts';
import { tooOldMessage } from './host/versions.ts';
import { App, createClient } from './ui/App.tsx';

// webpack's require.context: finds plugin/host/premiere.ts when it is there, so the bundle builds
// (and says what is missing) even before the Premiere host exists.
declare const require: {
  context(dir: string, recursive: boolean, pattern: RegExp): { keys(): string[]; (id: string): Record<string, unknown> };
};

function premiereHost(): Host {
  const ctx = require.context('./host', false, /^\.\/premiere\.ts$/);
  const key = ctx.keys()[0];
  if (!key) throw new Error('this build has no Premiere host (plugin/host/premiere.ts)');
  const mod = ctx(key);
  const Ctor = (mod.PremiereHost ?? mod.default) as (new () => Host) | undefined;
  const create = mod.createPremiereHost as (() => Host) | undefined;
  if (create) return create();
  if (Ctor) return new Ctor();
  throw new Error('plugin/host/premiere.ts exports no PremiereHost');
}

const root = createRoot(document.getElementById('root')!);
try {
  const host = premiereHost();
  const tooOld = tooOldMessage((host as Host & { version?: string | null }).version);
  if (tooOld) throw new Error(tooOld);
  // UXP lets the panel reach only the ports its manifest lists.
  root.render(<App host={host} client={createClient(host, { allowedPorts: PANEL_PORTS })} />);
} catch (e) {
  root.render(
    <main style={{ fontFamily: 'sans-serif', padding: 12 }}>
      <h2>Reshoot</h2>
      <p>{(e as Error).message}</p>
    </main>,
  );
}
