/**
 * The ports a Premiere panel may reach. UXP lets a plugin open only the network addresses its
 * manifest lists (`requiredPermissions.network.domains`, no wildcards for ports), so the panel can
 * talk to a companion on these ports only: manifest.json lists exactly these (a test checks), the
 * panel explains any other port instead of failing silently, and `reshoot serve --port` warns.
 */
export const DEFAULT_PORT = 41780;
export const PANEL_PORTS: readonly number[] = [41780, 41781, 41782, 41783, 41784];

/** The manifest's network domains for PANEL_PORTS: ws and http, 127.0.0.1 and localhost. */
export function panelNetworkDomains(): string[] {
  return PANEL_PORTS.flatMap((p) => ['ws', 'http'].flatMap((s) => [`${s}://127.0.0.1:${p}`, `${s}://localhost:${p}`]));
}

export function panelCanReach(port: number): boolean {
  return PANEL_PORTS.includes(port);
}
