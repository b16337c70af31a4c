/**
 * The door only the panel can open. Three checks, applied to every HTTP request and every
 * WebSocket upgrade:
 *  - Host must name this machine's loopback address and our port: a web page that rebinds a
 *    domain of its own to 127.0.0.1 (DNS rebinding) sends its own name and is refused.
 *  - Origin must be on an allowlist (originAllowed below): browsers attach the page's origin to
 *    every cross-site request and WebSocket, so a local web page is refused even though it can
 *    reach 127.0.0.1. Test harnesses (and any origin UXP turns out to send) can be allowed by name
 *    with `--allow-origin`; every refusal is logged with the Origin and Host it came with, and
 *    GET /health tells the panel whether its Origin is admitted.
 *  - The token from the connection file (owner-only), compared in constant time.
 * No CORS headers are ever sent, so browsers also refuse to hand responses to other origins.
 */
import { timingSafeEqual } from 'node:crypto';

export interface DoorPolicy {
  token: string;
  port: number;
  /** Extra host names accepted in Host (when bound to a non-loopback address on purpose). */
  hosts: string[];
  /** Origins allowed besides no Origin and UXP's (exact match, e.g. "http://127.0.0.1:5173"). */
  allowOrigins: string[];
  /** Where refused connections are logged (default: stderr). */
  refusals?: RefusalLog;
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

export function tokenMatches(given: string | undefined | null, expected: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function hostAllowed(host: string | undefined, policy: DoorPolicy): boolean {
  if (!host) return false;
  const names = [...LOOPBACK_NAMES, ...policy.hosts];
  return names.some((n) => host === `${n}:${policy.port}` || (policy.port === 80 && host === n));
}

/**
 * Origins of UXP plugins. Adobe documents no Origin header for UXP's WebSocket or fetch: UXP is
 * not a browser and its network stack is native, so a panel sends none, or one built from its
 * own URL schemes ("plugin:/index.html", documented for UXP's file system alongside
 * "plugin-data:" and "plugin-temp:"). No web page can send these: browsers only send http(s),
 * "null" or their own extension schemes.
 */
const UXP_ORIGIN = /^(plugin|plugin-data|plugin-temp|uxp):/i;

/**
 * The allowlist: no Origin (native clients, the CLI, UXP), a UXP plugin origin, or one named with
 * --allow-origin (exact match). Everything else is refused: http(s) pages, "null" (sandboxed
 * frames, file pages), file:, browser extensions.
 */
export function originAllowed(origin: string | undefined, policy: DoorPolicy): boolean {
  if (origin === undefined || origin === '') return true;
  if (policy.allowOrigins.includes(origin)) return true;
  return UXP_ORIGIN.test(origin);
}

/** Why the door refuses a request, or null when it passes (the token is checked separately). */
export function refusal(headers: { host?: string; origin?: string }, policy: DoorPolicy): 'host' | 'origin' | null {
  if (!hostAllowed(headers.host, policy)) return 'host';
  if (!originAllowed(headers.origin, policy)) return 'origin';
  return null;
}

/**
 * One log line per refused connection, so an editor whose panel cannot connect (or who wonders
 * what knocked) sees the Origin and Host it came with. Repeats of the same refusal within a
 * minute are counted, not printed, so a page that keeps retrying cannot flood the log.
 */
export class RefusalLog {
  private readonly seen = new Map<string, { at: number; repeats: number }>();
  constructor(
    private readonly write: (line: string) => void = (line) => console.warn(line),
    private readonly now: () => number = Date.now,
  ) {}

  refused(kind: 'WebSocket' | 'HTTP', why: 'host' | 'origin', headers: { host?: string; origin?: string }, path?: string): void {
    const key = `${kind} ${why} ${headers.origin ?? ''} ${headers.host ?? ''}`;
    const t = this.now();
    const last = this.seen.get(key);
    if (last && t - last.at < 60_000) {
      last.repeats++;
      return;
    }
    const again = last?.repeats ? ` (and ${last.repeats} more like it in the last minute)` : '';
    this.seen.set(key, { at: t, repeats: 0 });
    if (this.seen.size > 1000) this.seen.clear();
    const what = why === 'origin' ? 'its Origin is not allowed (pass --allow-origin to allow it)' : 'its Host is not this service';
    this.write(
      `reshoot companion: refused ${kind}${path ? ` ${path}` : ''} from Origin ${JSON.stringify(headers.origin ?? null)} Host ${JSON.stringify(headers.host ?? null)}: ${what}${again}`,
    );
  }
}

/** The token of an HTTP request: `Authorization: Bearer <token>` or `X-Reshoot-Token`. */
export function requestToken(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7).trim();
  const x = headers['x-reshoot-token'];
  return typeof x === 'string' ? x : undefined;
}
