/**
 * The Hugging Face cache on disk, in the layout Python's huggingface_hub writes, so a checkpoint
 * the user already downloaded with Python (diffusers, `huggingface-cli download`) is found and not
 * downloaded again, and what we download is found by Python:
 *
 *   <cache>/models--<org>--<name>/
 *     blobs/<etag>                 file contents; etag = LFS sha256, or the git blob sha1 of a small file
 *     blobs/<etag>.incomplete      a download in progress (resumed with an HTTP Range request)
 *     snapshots/<commit>/<path>    relative symlink to ../../blobs/<etag> (a link or copy where
 *                                  symlinks are not allowed, e.g. Windows without the privilege)
 *     refs/<revision>              the commit sha that revision (branch or tag) pointed to
 *
 * <cache> is HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else
 * ~/.cache/huggingface/hub — the same order as Python; @huggingface/hub implements it.
 */
import { getHFHubCachePath, getRepoFolderName } from '@huggingface/hub';
import { copyFile, link, lstat, mkdir, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { ReshootError } from '../../errors.ts';

export function hubCacheDir(): string {
  return getHFHubCachePath();
}

export const COMMIT_SHA = /^[0-9a-f]{40}$/;

/** The paths of one model repository in the cache. */
export class RepoCache {
  readonly root: string;
  constructor(
    readonly repo: string,
    readonly cacheDir: string = hubCacheDir(),
  ) {
    this.root = join(cacheDir, getRepoFolderName({ type: 'model', name: repo }));
  }
  blob(etag: string): string {
    return join(this.root, 'blobs', etag);
  }
  snapshot(commit: string): string {
    return join(this.root, 'snapshots', commit);
  }
  pointer(commit: string, path: string): string {
    return join(this.snapshot(commit), ...path.split('/'));
  }
  ref(revision: string): string {
    return join(this.root, 'refs', ...revision.split('/'));
  }

  /** The commit a revision pointed to when it was last pulled (a commit sha is its own ref). */
  async readRef(revision: string): Promise<string | undefined> {
    if (COMMIT_SHA.test(revision)) return revision;
    const sha = await readFile(this.ref(revision), 'utf8').then(
      (s) => s.trim(),
      () => undefined,
    );
    return sha && COMMIT_SHA.test(sha) ? sha : undefined;
  }

  async writeRef(revision: string, commit: string): Promise<void> {
    if (revision === commit) return;
    const path = this.ref(revision);
    await mkdir(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, commit);
    await rename(tmp, path);
  }
}

/** A revision is used as a path below refs/: refuse anything that could leave that folder. */
export function checkRevision(revision: string): void {
  if (!revision || revision.startsWith('/') || revision.split('/').some((s) => s === '' || s === '.' || s === '..') || /[\\:\0]/.test(revision)) {
    throw new ReshootError('model', `"${revision}" is not a revision (a branch, tag or commit sha)`);
  }
}

/** A repository path from the hub is joined below snapshots/: refuse one that could leave it. */
export function checkRepoPath(path: string): void {
  if (!path || path.startsWith('/') || path.split('/').some((s) => s === '' || s === '.' || s === '..') || /[\\\0]/.test(path)) {
    throw new ReshootError('model', `the hub listed a file with an unsafe path: "${path}"`);
  }
}

/** Size of the file at `path` following symlinks, or undefined when there is none (or it dangles). */
export async function fileSize(path: string): Promise<number | undefined> {
  return stat(path).then(
    (s) => (s.isFile() ? s.size : undefined),
    () => undefined,
  );
}

/**
 * Makes `pointer` show the blob: a relative symlink, as Python makes it. Where symlinks are not
 * allowed (Windows without Developer Mode) a hard link (same volume, no extra space, no privilege
 * needed), and a copy as the last resort.
 */
export async function linkIntoSnapshot(blob: string, pointer: string): Promise<'symlink' | 'hardlink' | 'copy'> {
  await mkdir(dirname(pointer), { recursive: true });
  await rm(pointer, { force: true });
  try {
    await symlink(relative(dirname(pointer), blob), pointer);
    return 'symlink';
  } catch {
    try {
      await link(blob, pointer);
      return 'hardlink';
    } catch {
      await copyFile(blob, pointer);
      return 'copy';
    }
  }
}

async function* walkFiles(dir: string): AsyncGenerator<string> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walkFiles(p);
    else yield p;
  }
}

/** Every file of a snapshot folder, as repository paths with '/' separators. */
export async function snapshotFiles(snapshotDir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const p of walkFiles(snapshotDir)) out.push(relative(snapshotDir, p).split(/[\\/]/).join('/'));
  return out.sort();
}

/**
 * Removes one snapshot, the refs that name it and the blobs no other snapshot uses; the whole repo
 * folder goes when nothing is left in it. Returns the bytes freed.
 */
export async function removeSnapshot(cache: RepoCache, commit: string): Promise<number> {
  if (!COMMIT_SHA.test(commit)) throw new ReshootError('model', `"${commit}" is not a commit sha`);
  await rm(cache.snapshot(commit), { recursive: true, force: true });
  for await (const ref of walkFiles(join(cache.root, 'refs'))) {
    if ((await readFile(ref, 'utf8').catch(() => '')).trim() === commit) await rm(ref, { force: true });
  }
  const remaining = await readdir(join(cache.root, 'snapshots')).catch(() => [] as string[]);
  let freed = 0;
  if (remaining.length === 0) {
    for await (const p of walkFiles(join(cache.root, 'blobs'))) freed += (await lstat(p).catch(() => undefined))?.size ?? 0;
    await rm(cache.root, { recursive: true, force: true });
    return freed;
  }
  // A blob is in use when a remaining snapshot file resolves to it: a symlink to it or a hard link
  // of it share its inode (stat follows links).
  const inUse = new Set<string>();
  for (const snap of remaining) {
    for await (const p of walkFiles(join(cache.root, 'snapshots', snap))) {
      const s = await stat(p, { bigint: true }).catch(() => undefined);
      if (s) inUse.add(`${s.dev}:${s.ino}`);
    }
  }
  for await (const p of walkFiles(join(cache.root, 'blobs'))) {
    if (p.endsWith('.incomplete')) continue;
    const s = await stat(p, { bigint: true }).catch(() => undefined);
    if (s && !inUse.has(`${s.dev}:${s.ino}`)) {
      freed += Number(s.size);
      await rm(p, { force: true });
    }
  }
  return freed;
}
