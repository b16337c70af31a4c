/**
 * `reshoot models pull`: a diffusers checkpoint from the Hugging Face Hub into the standard cache.
 *
 * The hub protocol (revision → commit, the file listing with LFS sha256 and git oids, auth) goes
 * through @huggingface/hub; the bytes go through download.ts (resume, integrity). Files already
 * in the cache — pulled before, or by Python's huggingface_hub — are linked, not downloaded.
 * When the hub cannot be reached at all, a snapshot already complete in the cache is used as is.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { listFiles, modelInfo } from '@huggingface/hub';
import { ReshootError } from '../../errors.ts';
import { checkRepoPath, checkRevision, fileSize, linkIntoSnapshot, RepoCache, snapshotFiles } from './cache.ts';
import { downloadBlob, type Expected } from './download.ts';
import { hubEndpoint, hubToken } from './env.ts';
import { explainResponse, hubFetch, HubUnreachableError, type HubContext } from './errors.ts';

export interface PullProgress {
  /** The file being fetched (repository path), or null once everything is in place. */
  file: string | null;
  fileBytes: number;
  fileTotal: number;
  /** Bytes of all wanted files on disk so far, and their total. */
  doneBytes: number;
  totalBytes: number;
}

export interface PullOptions {
  revision?: string;
  /** Overrides HF_TOKEN / the token file. */
  token?: string;
  /** Overrides HF_ENDPOINT. */
  hubUrl?: string;
  /** Overrides HF_HUB_CACHE / HF_HOME. */
  cacheDir?: string;
  /** Take every file, not only what a diffusers LTX-Video checkpoint needs. */
  all?: boolean;
  /** Take only these repository paths (e.g. one single-file checkpoint); each must exist. */
  files?: readonly string[];
  /** Take only what is under these folders (e.g. 'text_encoder/', 'tokenizer/'); weights in formats we never read are skipped. */
  folders?: readonly string[];
  onProgress?: (p: PullProgress) => void;
  fetch?: typeof fetch;
  /** Passed to download.ts (tests shorten them). */
  retries?: number;
  retryDelayMs?: number;
}

export interface PullResult {
  repo: string;
  commit: string;
  snapshotDir: string;
  /** Repository paths in the snapshot. */
  files: string[];
  /** Bytes that came over the network this time (0 when everything was in the cache). */
  downloadedBytes: number;
  /** True when the hub could not be reached and a complete snapshot in the cache was used. */
  offline: boolean;
}

/** The parts of a diffusers LTX-Video checkpoint; the root's single-file weights are skipped. */
const CHECKPOINT_FOLDERS = ['scheduler/', 'text_encoder/', 'tokenizer/', 'transformer/', 'vae/'];
/** Weight formats we never read (pickles, other frameworks): the safetensors beside them do. */
const SKIPPED = /\.(bin|pt|pth|ckpt|msgpack|h5|onnx|onnx_data|gguf)$/i;

export function wantedFile(path: string, all = false, only?: Pick<PullOptions, 'files' | 'folders'>): boolean {
  if (all) return true;
  if (only?.files) return only.files.includes(path);
  if (only?.folders) return only.folders.some((f) => path.startsWith(f)) && !SKIPPED.test(path);
  if (path === 'model_index.json') return true;
  return CHECKPOINT_FOLDERS.some((f) => path.startsWith(f)) && !SKIPPED.test(path);
}

const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

export async function pullCheckpoint(repo: string, opts: PullOptions = {}): Promise<PullResult> {
  if (!REPO_ID.test(repo) || repo.includes('..')) throw new ReshootError('model', `"${repo}" is not a Hugging Face repo id (owner/name, e.g. Lightricks/LTX-Video)`);
  const revision = opts.revision ?? 'main';
  checkRevision(revision);
  const hubUrl = (opts.hubUrl ?? hubEndpoint()).replace(/\/+$/, '');
  const token = hubToken(opts.token);
  const cache = new RepoCache(repo, opts.cacheDir);
  const ctx: HubContext = { repo, revision, hubUrl, ...(token ? { token } : {}) };
  const base = opts.fetch ?? fetch;
  const credentials = token ? { accessToken: token.value } : {};

  let commit: string;
  let entries: { path: string; expected: Expected; etag: string }[];
  try {
    const info = await modelInfo({ name: repo, revision, hubUrl, additionalFields: ['sha'], fetch: hubFetch(ctx, `looking up ${repo}`, base), ...credentials });
    ctx.gated = Boolean(info.gated);
    const sha = (info as { sha?: unknown }).sha;
    if (typeof sha !== 'string' || !/^[0-9a-f]{40}$/.test(sha)) throw new ReshootError('model', `${hubUrl} did not say which commit ${repo}@${revision} is`);
    commit = sha;
    entries = [];
    for await (const e of listFiles({ repo: { type: 'model', name: repo }, revision: commit, recursive: true, hubUrl, fetch: hubFetch(ctx, `listing ${repo}`, base), ...credentials })) {
      if (e.type !== 'file' || !wantedFile(e.path, opts.all, opts)) continue;
      checkRepoPath(e.path);
      const expected: Expected = e.lfs ? { size: e.lfs.size, sha256: e.lfs.oid } : { size: e.size, ...(e.oid ? { gitSha1: e.oid } : {}) };
      const etag = e.lfs?.oid ?? e.oid;
      if (!etag) throw new ReshootError('model', `${hubUrl} listed ${e.path} without a hash; cannot check it`);
      entries.push({ path: e.path, expected, etag });
    }
  } catch (e) {
    if (e instanceof HubUnreachableError) return offlineSnapshot(cache, repo, revision, e, opts.files ?? (opts.folders ? [] : ['model_index.json']));
    throw e;
  }
  if (opts.files) {
    const missing = opts.files.filter((f) => !entries.some((e) => e.path === f));
    if (missing.length) throw new ReshootError('model', `${repo}@${revision} has no file ${missing.join(', ')}`);
  } else if (opts.folders) {
    if (!entries.length) throw new ReshootError('model', `${repo}@${revision} has nothing under ${opts.folders.join(', ')}`);
  } else if (!opts.all && !entries.some((e) => e.path === 'model_index.json')) {
    throw new ReshootError('model', `${repo}@${revision} has no model_index.json: it is not a diffusers-format checkpoint (pass --all to take its files anyway)`);
  }

  const totalBytes = entries.reduce((s, e) => s + e.expected.size, 0);
  let doneBytes = 0;
  let downloadedBytes = 0;
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token.value}` } : {};
  await mkdir(dirname(cache.blob('x')), { recursive: true });
  for (const entry of entries) {
    const blob = cache.blob(entry.etag);
    if ((await fileSize(blob)) !== entry.expected.size) {
      const url = `${hubUrl}/${repo}/resolve/${commit}/${entry.path.split('/').map(encodeURIComponent).join('/')}`;
      const before = doneBytes;
      const outcome = await downloadBlob({
        url,
        headers,
        blob,
        expected: entry.expected,
        label: `${repo}/${entry.path}`,
        fetch: base,
        explain: (res) => explainResponse(res, ctx, `downloading ${entry.path}`, entry.path),
        onBytes: (bytes) => opts.onProgress?.({ file: entry.path, fileBytes: bytes, fileTotal: entry.expected.size, doneBytes: before + bytes, totalBytes }),
        ...(opts.retries !== undefined ? { retries: opts.retries } : {}),
        ...(opts.retryDelayMs !== undefined ? { retryDelayMs: opts.retryDelayMs } : {}),
      });
      downloadedBytes += outcome.received;
    }
    doneBytes += entry.expected.size;
    await linkIntoSnapshot(blob, cache.pointer(commit, entry.path));
  }
  await cache.writeRef(revision, commit);
  opts.onProgress?.({ file: null, fileBytes: 0, fileTotal: 0, doneBytes, totalBytes });
  return { repo, commit, snapshotDir: cache.snapshot(commit), files: entries.map((e) => e.path), downloadedBytes, offline: false };
}

/** No network: a snapshot the ref already points to is used when it holds what was asked for (`need`). */
async function offlineSnapshot(cache: RepoCache, repo: string, revision: string, why: HubUnreachableError, need: readonly string[]): Promise<PullResult> {
  const commit = await cache.readRef(revision);
  const present = async (c: string) => (await Promise.all(need.map((f) => fileSize(cache.pointer(c, f))))).every((s) => s !== undefined);
  if (!commit || !(await present(commit))) {
    throw new ReshootError('model', `${why.message}; and ${repo}@${revision} is not in the cache (${cache.root})`, { cause: why });
  }
  const files = await snapshotFiles(cache.snapshot(commit));
  return { repo, commit, snapshotDir: cache.snapshot(commit), files, downloadedBytes: 0, offline: true };
}
