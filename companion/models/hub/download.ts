/**
 * One file from the hub into a blob of the cache: resumable and verified.
 *
 * Written here rather than taken from @huggingface/hub: its downloadFileToCacheDir streams the
 * whole file into `<blob>.incomplete` and renames it, with no resume after a cut (a checkpoint is
 * tens of GB; a dropped connection must not start a shard over), no progress and no hash check.
 * So: an existing `.incomplete` is hashed and continued with `Range: bytes=<size>-`; a server
 * that answers 200 (no Range support) or a Content-Range that starts elsewhere restarts the
 * file; cuts, stalls and busy answers (429, 5xx) are retried with backoff; the finished bytes
 * must match the hub's listing — sha256 for LFS files, the git blob sha1 for small files — or
 * the download is deleted and refused. Only then is it renamed into place.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat, truncate } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ReshootError } from '../../errors.ts';
import { isTransientStatus } from './errors.ts';

/** What the hub's listing promises about a file. */
export interface Expected {
  size: number;
  /** LFS files: sha256 of the content. */
  sha256?: string;
  /** Small (non-LFS) files: git blob sha1, i.e. sha1("blob <size>\0" + content). */
  gitSha1?: string;
}

export interface DownloadRequest {
  url: string;
  /** Authorization, when there is a token. fetch drops it on a redirect to another origin (the CDN). */
  headers: Record<string, string>;
  /** Final blob path; bytes go to `${blob}.incomplete` first. */
  blob: string;
  expected: Expected;
  /** The file's path in the repo, for messages. */
  label: string;
  /** Bytes of this file on disk so far (goes back to 0 when the file restarts). */
  onBytes: (bytes: number) => void;
  /** Turns a refusal into a ReshootError naming the reason. */
  explain: (res: Response) => Promise<ReshootError>;
  fetch?: typeof fetch;
  /** Further attempts after a cut or a busy answer (default 5), first waiting retryDelayMs, then doubling. */
  retries?: number;
  retryDelayMs?: number;
  /** A response that sends nothing for this long is dropped and resumed (default 60 s). */
  stallMs?: number;
}

export interface DownloadOutcome {
  /** Bytes that were already on disk in `.incomplete` when we started (0 for a fresh download). */
  resumedFrom: number;
  /** Bytes received over the network. */
  received: number;
}

class Digest {
  private hash: Hash;
  bytes = 0;
  constructor(private readonly expected: Expected) {
    this.hash = Digest.start(expected);
  }
  private static start(expected: Expected): Hash {
    if (expected.sha256) return createHash('sha256');
    const h = createHash('sha1');
    if (expected.gitSha1) h.update(`blob ${expected.size}\0`);
    return h;
  }
  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }
  /** Null when it matches; otherwise "sha256 <got>, the hub lists <want>". */
  mismatch(): string | null {
    const got = this.hash.digest('hex');
    if (this.expected.sha256) return got === this.expected.sha256 ? null : `sha256 ${got}, the hub lists ${this.expected.sha256}`;
    if (this.expected.gitSha1) return got === this.expected.gitSha1 ? null : `git blob sha1 ${got}, the hub lists ${this.expected.gitSha1}`;
    return null;
  }
}

/** Hashes what an earlier attempt left in `.incomplete` (or empties it when it is too long). */
async function resumeState(incomplete: string, expected: Expected): Promise<Digest> {
  const digest = new Digest(expected);
  const size = (await stat(incomplete).catch(() => undefined))?.size;
  if (size === undefined) return digest;
  if (size > expected.size) {
    await truncate(incomplete, 0);
    return digest;
  }
  for await (const chunk of createReadStream(incomplete)) digest.update(chunk as Buffer);
  return digest;
}

/** A network-side failure worth resuming after (as opposed to a refusal or a disk error). */
class Transient extends Error {}

function parseContentRangeStart(header: string | null): number | undefined {
  const m = header && /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header.trim());
  return m ? Number(m[1]) : undefined;
}

export async function downloadBlob(req: DownloadRequest): Promise<DownloadOutcome> {
  const { expected, label } = req;
  const incomplete = `${req.blob}.incomplete`;
  const doFetch = req.fetch ?? fetch;
  const retries = req.retries ?? 5;
  const retryDelayMs = req.retryDelayMs ?? 1000;
  const stallMs = req.stallMs ?? 60_000;

  let digest = await resumeState(incomplete, expected);
  const resumedFrom = digest.bytes;
  let received = 0;
  req.onBytes(digest.bytes);

  const restart = async (): Promise<void> => {
    await truncate(incomplete, 0).catch(() => undefined);
    digest = new Digest(expected);
    req.onBytes(0);
  };

  for (let attempt = 0; digest.bytes < expected.size; attempt++) {
    try {
      received += await receive();
    } catch (e) {
      if (!(e instanceof Transient)) throw e;
      if (attempt >= retries) {
        throw new ReshootError(
          'model',
          `downloading ${label} failed after ${attempt + 1} attempts (${e.message}); ${digest.bytes} of ${expected.size} bytes are kept — run the pull again to resume`,
          { cause: e },
        );
      }
      await sleep(retryDelayMs * 2 ** attempt);
    }
  }

  const mismatch = digest.mismatch();
  if (mismatch) {
    await rm(incomplete, { force: true });
    throw new ReshootError('model', `${label} failed its integrity check (${mismatch}); the download was deleted — run the pull again, and if it fails the same way the hub's copy is damaged`);
  }
  await rename(incomplete, req.blob);
  return { resumedFrom, received };

  /** One request: appends what arrives to `.incomplete`; returns bytes received. */
  async function receive(): Promise<number> {
    const from = digest.bytes;
    const stall = new AbortController();
    let timer = setTimeout(() => stall.abort(), stallMs);
    const touch = () => {
      clearTimeout(timer);
      timer = setTimeout(() => stall.abort(), stallMs);
    };
    let got = 0;
    try {
      let res: Response;
      try {
        res = await doFetch(req.url, { headers: { ...req.headers, ...(from > 0 ? { Range: `bytes=${from}-` } : {}) }, signal: stall.signal });
      } catch (e) {
        throw new Transient(stall.signal.aborted ? `no answer for ${stallMs / 1000} s` : describe(e));
      }
      if (res.status === 416) {
        // The server thinks we are past the end: what we have is not a prefix of its file.
        await res.body?.cancel().catch(() => undefined);
        await restart();
        throw new Transient('the server refused to resume (416)');
      }
      if (!res.ok) {
        if (isTransientStatus(res.status)) {
          await res.body?.cancel().catch(() => undefined);
          throw new Transient(`the server answered ${res.status}`);
        }
        throw await req.explain(res);
      }
      if (from > 0 && (res.status !== 206 || parseContentRangeStart(res.headers.get('content-range')) !== from)) {
        // 200 to a Range request: this server cannot resume; take the whole file from the start.
        await restart();
        if (res.status === 206) {
          await res.body?.cancel().catch(() => undefined);
          throw new Transient('the server resumed at the wrong offset');
        }
      }
      if (!res.body) throw new Transient('empty response');
      const file = await open(incomplete, 'a').catch((e: unknown) => {
        throw new ReshootError('write_failed', `cannot write ${incomplete}: ${(e as Error).message}`, { cause: e });
      });
      try {
        const reader = res.body.getReader();
        for (;;) {
          let step: ReadableStreamReadResult<Uint8Array>;
          try {
            step = await reader.read();
          } catch (e) {
            throw new Transient(stall.signal.aborted ? `no data for ${stallMs / 1000} s` : describe(e));
          }
          if (step.done) break;
          touch();
          const chunk = step.value;
          if (digest.bytes + chunk.length > expected.size) {
            await reader.cancel().catch(() => undefined);
            await file.close().catch(() => undefined);
            await rm(incomplete, { force: true });
            throw new ReshootError('model', `${label} is longer than the ${expected.size} bytes the hub lists; the download was deleted — run the pull again`);
          }
          try {
            await file.write(chunk);
          } catch (e) {
            throw new ReshootError('write_failed', `cannot write ${incomplete}: ${(e as Error).message}`, { cause: e });
          }
          digest.update(chunk);
          got += chunk.length;
          req.onBytes(digest.bytes);
        }
      } finally {
        await file.close().catch(() => undefined);
      }
      if (digest.bytes < expected.size) throw new Transient(`the connection ended after ${digest.bytes} of ${expected.size} bytes`);
      return got;
    } finally {
      clearTimeout(timer);
      received += 0;
    }
  }
}

function describe(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message ?? String(e);
}
