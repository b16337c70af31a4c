/**
 * The door only the panel can open. Three checks, applied to every HTTP request and every
 * WebSocket upgrade:
 *  - Host must name this machine's loopback address and our port: a web page that rebinds a
 *    domain of its own to 127.0.0.1 (DNS rebinding) sends its own name and is refused.
 *  - Origin, when present, must not be a web origin: browsers attach the page's origin to every
 *    cross-site request and WebSocket, so a local web page is refused even though it can reach
 *    127.0.0.1. The UXP panel is not a web page; test harnesses can be allowed by name.
 *  - The token from the connection file (owner-only), compared in constant time.
 * No CORS headers are ever sent, so browsers also refuse to hand responses to other origins.
 */
import { timingSafeEqual } from 'node:crypto';

export interface DoorPolicy {
  token: string;
  port: number;
  /** Extra host names accepted in Host (when bound to a non-loopback address on purpose). */
  hosts: string[];
  /** Origins allowed in addition to "no Origin" (exact match, e.g. "http://127.0.0.1:5173"). */
  allowOrigins: string[];
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
 * Absent Origin: a native client or the UXP panel. Web origins (http, https, file, and the
 * opaque "null" of sandboxed frames and file pages) are refused unless listed.
 */
export function originAllowed(origin: string | undefined, policy: DoorPolicy): boolean {
  if (origin === undefined || origin === '') return true;
  if (policy.allowOrigins.includes(origin)) return true;
  return !/^(https?:|file:|null$)/i.test(origin);
}

/** The token of an HTTP request: `Authorization: Bearer <token>` or `X-Reshoot-Token`. */
export function requestToken(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string' && auth.startsWith('Bearer ')) return auth.slice(7).trim();
  const x = headers['x-reshoot-token'];
  return typeof x === 'string' ? x : undefined;
}
