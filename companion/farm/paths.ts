/**
 * Path mapping between machines, as render farm managers do it: a job names media as the
 * machine that submitted it sees them (`\\nas\show\sh010\plate.mov` from a Windows editor,
 * `/Volumes/show/...` from a Mac); each worker rewrites the longest matching prefix with its own
 * rules (`\\nas\show` → `/mnt/show`). Windows prefixes (a drive letter or a UNC share) compare
 * case-insensitively and with either slash, as Windows does; POSIX prefixes compare exactly. A
 * prefix matches only at a folder boundary (`/mnt/show` does not match `/mnt/showreel`).
 */
import path from 'node:path';

export interface PathRule {
  from: string;
  to: string;
}

/** `p` rewritten by the longest rule whose `from` is a folder prefix of it; unchanged if none. */
export function mapPath(p: string, rules: readonly PathRule[], sep: string = path.sep): string {
  let best: { rule: PathRule; rest: string } | null = null;
  for (const rule of rules) {
    const rest = restAfter(p, rule.from);
    if (rest !== null && (!best || rule.from.length > best.rule.from.length)) best = { rule, rest };
  }
  if (!best) return p;
  const parts = best.rest.split(/[\\/]+/).filter((s) => s.length > 0);
  const to = best.rule.to.replace(/[\\/]+$/, '');
  return parts.length === 0 ? to || sep : [to, ...parts].join(sep);
}

/** What follows `prefix` in `p` (starting at a separator, or ''), or null if it is not a prefix. */
function restAfter(p: string, prefix: string): string | null {
  const windows = isWindowsPath(prefix);
  const norm = (s: string) => (windows ? s.replace(/\\/g, '/').toLowerCase() : s);
  const a = norm(p);
  const b = norm(prefix).replace(/\/+$/, '');
  if (b.length === 0) return null;
  if (!a.startsWith(b)) return null;
  const rest = a.slice(b.length);
  if (rest.length > 0 && rest[0] !== '/' && !(windows && rest[0] === '\\')) return null;
  return p.slice(p.length - rest.length);
}

/** A drive-letter path (`C:\…`, `C:/…`) or a UNC share (`\\server\share`, `//server/share`). */
export function isWindowsPath(p: string): boolean {
  return /^[A-Za-z]:[\\/]/.test(p) || /^[A-Za-z]:$/.test(p) || /^(\\\\|\/\/)[^\\/]/.test(p);
}
