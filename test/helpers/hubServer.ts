/**
 * A local stand-in for the Hugging Face Hub on 127.0.0.1, speaking the parts of its API that
 * `reshoot models pull` uses (through @huggingface/hub and our downloader):
 *
 *   GET /api/models/<repo>/revision/<rev>     model info: sha (with expand=sha), gated, private
 *   GET /api/models/<repo>/tree/<rev>         recursive listing: oid, size, lfs { oid, size }
 *   GET /<repo>/resolve/<rev>/<path>          the bytes, with Range (206 + Content-Range)
 *
 * Files over LFS_THRESHOLD bytes are listed as LFS (sha256), smaller ones by git blob sha1, as
 * the hub does. Refusals carry X-Error-Code (GatedRepo, RepoNotFound, RevisionNotFound,
 * EntryNotFound). Switches let a test cut a body mid-way, serve wrong bytes, or ignore Range.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const LFS_THRESHOLD = 1024;
export const HUB_TOKEN = 'hf_testtoken0123456789';

export interface HubRepo {
  files: Record<string, Uint8Array>;
  /** Revision name → commit sha; 'main' is always there. */
  commit: string;
  gated?: boolean;
}

export interface HubServer {
  url: string;
  repos: Map<string, HubRepo>;
  /** Bytes served per path (resolve requests), and the Range headers seen. */
  served: Map<string, number>;
  ranges: string[];
  /** The next resolve of this path sends only this many bytes, then drops the connection. */
  cutNext: Map<string, number>;
  /** Paths whose bytes are served corrupted (one byte flipped). */
  corrupt: Set<string>;
  /** Ignore Range (answer 200 with the whole file). */
  noRange: boolean;
  close(): Promise<void>;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Uint8Array) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

export function commitOf(seed: string): string {
  return createHash('sha1').update(seed).digest('hex');
}

export async function startHubServer(repos: Record<string, HubRepo>): Promise<HubServer> {
  const hub: HubServer = {
    url: '',
    repos: new Map(Object.entries(repos)),
    served: new Map(),
    ranges: [],
    cutNext: new Map(),
    corrupt: new Set(),
    noRange: false,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const refuse = (res: ServerResponse, status: number, code: string, message: string) => {
    res.writeHead(status, { 'content-type': 'application/json', 'x-error-code': code, 'x-error-message': message });
    res.end(JSON.stringify({ error: message }));
  };

  /** Finds the repo and checks access; answers the refusal itself and returns null. */
  const access = (req: IncomingMessage, res: ServerResponse, name: string, rev: string): HubRepo | null => {
    const repo = hub.repos.get(name);
    if (!repo) {
      refuse(res, 404, 'RepoNotFound', 'Repository not found');
      return null;
    }
    if (repo.gated && req.headers.authorization !== `Bearer ${HUB_TOKEN}`) {
      refuse(res, 401, 'GatedRepo', `Access to model ${name} is restricted`);
      return null;
    }
    if (rev !== 'main' && rev !== 'HEAD' && rev !== repo.commit) {
      refuse(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      return null;
    }
    return repo;
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] === 'api' && parts[1] === 'models') {
      const name = `${parts[2]}/${parts[3]}`;
      const repo = access(req, res, name, parts[5] ?? 'main');
      if (!repo) return;
      if (parts[4] === 'revision') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ _id: 'x', id: name, sha: repo.commit, gated: repo.gated ? 'manual' : false, private: false, lastModified: '2026-01-01T00:00:00Z' }));
        return;
      }
      if (parts[4] === 'tree') {
        const list = Object.entries(repo.files).map(([path, bytes]) =>
          bytes.length > LFS_THRESHOLD
            ? { type: 'file', path, size: bytes.length, oid: gitSha1(new TextEncoder().encode(`pointer ${sha256(bytes)}`)), lfs: { oid: sha256(bytes), size: bytes.length, pointerSize: 134 } }
            : { type: 'file', path, size: bytes.length, oid: gitSha1(bytes) },
        );
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(list));
        return;
      }
    }
    const at = parts.indexOf('resolve');
    if (at === 2) {
      const name = `${parts[0]}/${parts[1]}`;
      const repo = access(req, res, name, parts[3] ?? 'main');
      if (!repo) return;
      const path = parts.slice(4).join('/');
      let bytes = repo.files[path];
      if (!bytes) return refuse(res, 404, 'EntryNotFound', `${path} does not exist`);
      if (hub.corrupt.has(path)) {
        bytes = Uint8Array.from(bytes);
        bytes[bytes.length >> 1]! ^= 0xff;
      }
      const range = req.headers.range;
      if (range) hub.ranges.push(range);
      let start = 0;
      const m = range && !hub.noRange ? /^bytes=(\d+)-$/.exec(range) : null;
      if (m) start = Number(m[1]);
      if (start > bytes.length) {
        res.writeHead(416);
        res.end();
        return;
      }
      const body = bytes.subarray(start);
      const headers: Record<string, string | number> = { 'content-type': 'application/octet-stream', 'content-length': body.length, 'x-repo-commit': repo.commit, etag: `"${sha256(bytes)}"` };
      if (m) headers['content-range'] = `bytes ${start}-${bytes.length - 1}/${bytes.length}`;
      res.writeHead(m ? 206 : 200, headers);
      const cut = hub.cutNext.get(path);
      if (cut !== undefined) {
        hub.cutNext.delete(path);
        hub.served.set(path, (hub.served.get(path) ?? 0) + cut);
        // Drop the connection a moment after the bytes went out, as a real cut does: the client
        // has read them by then (a stream that errors at once discards what it had queued).
        res.write(body.subarray(0, cut), () => setTimeout(() => res.destroy(), 150));
        return;
      }
      hub.served.set(path, (hub.served.get(path) ?? 0) + body.length);
      res.end(body);
      return;
    }
    refuse(res, 404, 'NotFound', `no route ${url.pathname}`);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return hub;
}
