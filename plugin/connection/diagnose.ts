/**
 * Why the panel cannot connect, in an editor's words. A WebSocket that fails to open says nothing
 * about why (the browser and UXP both report only "closed"), so the panel asks the companion's
 * GET /health, which answers any Origin and says whether this panel's Origin is admitted and
 * whether its token is right (companion/service/http.ts). Four causes are told apart:
 * no companion, something else on the port, a refused Origin, a wrong token.
 */
export type FetchLike = (url: string, init?: { headers?: Record<string, string> }) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;

export interface Diagnosis {
  status: 'no-companion' | 'refused' | 'unauthorized' | 'reconnecting';
  /** What is wrong and what to do, for the status line. */
  detail: string;
  /** The technical part (addresses, origins) for the details line. */
  technical: string;
}

interface Health {
  name?: unknown;
  origin?: { sent?: unknown; admitted?: unknown };
  token?: unknown;
}

export const START_COMPANION = 'Start Reshoot Companion on this computer; the panel connects by itself once it runs.';

export async function diagnose(fetchFn: FetchLike | undefined, address: string, token: string): Promise<Diagnosis> {
  const notAnswering: Diagnosis = { status: 'no-companion', detail: `Reshoot Companion is not running. ${START_COMPANION}`, technical: `nothing answers at ${address}` };
  if (!fetchFn) return notAnswering;
  let health: Health;
  try {
    const r = await fetchFn(`http://${address}/health`, { headers: { 'X-Reshoot-Token': token } });
    health = (await r.json()) as Health;
  } catch {
    return notAnswering;
  }
  if (health.name !== 'reshoot') {
    return { status: 'no-companion', detail: `Another program is using Reshoot Companion's port. Quit it, or start Reshoot Companion on another port.`, technical: `${address} is not Reshoot Companion` };
  }
  if (health.origin && health.origin.admitted === false) {
    const sent = typeof health.origin.sent === 'string' ? health.origin.sent : 'none';
    return {
      status: 'refused',
      detail: 'Reshoot Companion refused this panel. Restart it allowing the panel (see details), or update Reshoot.',
      technical: `refused Origin ${JSON.stringify(sent)} at ${address}: reshoot serve --allow-origin ${JSON.stringify(sent)}`,
    };
  }
  if (health.token === 'invalid') {
    return {
      status: 'unauthorized',
      detail: 'Reshoot Companion did not accept the panel’s token. Clear the token in Connection settings, or restart Reshoot Companion.',
      technical: `token refused at ${address}`,
    };
  }
  return { status: 'reconnecting', detail: 'Reshoot Companion is running but the connection dropped; trying again.', technical: `WebSocket to ${address} closed before the handshake` };
}
