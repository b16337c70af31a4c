/**
 * The hub's refusals in words a user can act on. The hub says why in the X-Error-Code header
 * (GatedRepo, RepoNotFound, RevisionNotFound, EntryNotFound — the codes Python's
 * huggingface_hub reads too); @huggingface/hub turns every refusal into a HubApiError that keeps
 * the status but drops that header, so every request goes through `hubFetch`, which reads the
 * header itself and throws a ReshootError before the library sees the response.
 */
import { ReshootError } from '../../errors.ts';
import type { HubToken } from './env.ts';

export interface HubContext {
  repo: string;
  revision: string;
  hubUrl: string;
  token?: HubToken;
  /** From the model info: the repo is gated (set once known). */
  gated?: boolean;
}

/** The hub (or the network to it) could not be reached at all; a local snapshot may still do. */
export class HubUnreachableError extends ReshootError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('model', message, options);
    this.name = 'HubUnreachableError';
  }
}

/** HTTP statuses worth another try: the hub or its CDN is busy, not refusing. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** A ReshootError for a response that is not ok; `what` says what we were doing ("downloading vae/config.json"). */
export async function explainResponse(res: Response, ctx: HubContext, what: string, file?: string): Promise<ReshootError> {
  const code = res.headers.get('x-error-code') ?? '';
  let detail = res.headers.get('x-error-message') ?? '';
  if (!detail) {
    const body = await res.text().catch(() => '');
    try {
      const json = JSON.parse(body) as { error?: unknown; message?: unknown };
      detail = String(json.error ?? json.message ?? '');
    } catch {
      detail = body.slice(0, 200);
    }
  } else {
    await res.body?.cancel().catch(() => undefined);
  }
  const { repo, hubUrl, token } = ctx;
  const page = `${hubUrl}/${repo}`;
  const status = res.status;
  if ((status === 401 || status === 403) && (code === 'GatedRepo' || ctx.gated)) {
    return new ReshootError(
      'model',
      token
        ? `${repo} is gated and ${token.source} was not let in: accept its licence at ${page} with the account that owns the token, and check the token has read access`
        : `${repo} is gated: accept its licence at ${page} and set HF_TOKEN (a read token from ${hubUrl}/settings/tokens)`,
    );
  }
  if (code === 'RepoNotFound' || (status === 404 && !code && !file)) {
    return new ReshootError(
      'model',
      token
        ? `${repo} was not found on ${hubUrl}, or ${token.source} may not read it: check the repo id`
        : `${repo} was not found on ${hubUrl}: check the repo id; if it is private, set HF_TOKEN`,
    );
  }
  if (code === 'RevisionNotFound') return new ReshootError('model', `${repo} has no revision "${ctx.revision}" (a branch, tag or commit sha)`);
  if (code === 'EntryNotFound' || (status === 404 && file)) return new ReshootError('model', `${repo}@${ctx.revision} has no file ${file ?? '(unknown)'}`);
  if (status === 401) {
    return new ReshootError(
      'model',
      token ? `${token.source} was refused by ${hubUrl} (invalid or expired token)` : `${repo} needs a login: set HF_TOKEN (a read token from ${hubUrl}/settings/tokens)`,
    );
  }
  if (status === 403) return new ReshootError('model', `${hubUrl} refused access to ${repo}${token ? ` with ${token.source}` : ''}${detail ? ` (${detail})` : ''}`);
  if (status === 429) return new ReshootError('model', `${hubUrl} is rate-limiting these requests while ${what}; try again in a few minutes${token ? '' : ' (or set HF_TOKEN: logged-in limits are higher)'}`);
  return new ReshootError('model', `${hubUrl} answered ${status} while ${what}${detail ? ` (${detail})` : ''}`);
}

/** A network failure (no route, refused, DNS) as a message naming the hub. */
export function unreachable(ctx: HubContext, cause: unknown): HubUnreachableError {
  const c = (cause as { cause?: { code?: string; message?: string } }).cause;
  const why = c?.code ?? c?.message ?? (cause as Error).message;
  return new HubUnreachableError(`cannot reach ${ctx.hubUrl} (${why}): check the network connection, or HF_ENDPOINT`, { cause });
}

/**
 * A fetch for @huggingface/hub: network failures and refusals become ReshootErrors with the
 * reason in words; an ok response passes through untouched.
 */
export function hubFetch(ctx: HubContext, what: string, base: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    let res: Response;
    try {
      res = await base(input, init);
    } catch (e) {
      throw unreachable(ctx, e);
    }
    if (!res.ok) throw await explainResponse(res, ctx, what);
    return res;
  };
}
