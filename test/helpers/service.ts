/** Test helpers for the companion service: an in-process service and a small WebSocket client. */
import WebSocket from 'ws';
import { startService, type RunningService } from '../../companion/service/service.ts';
import type { ServerMessage } from '../../protocol/index.ts';
import { tempDir } from './fixtures.ts';

export async function testService(opts: { allowOrigins?: string[] } = {}): Promise<RunningService & { home: string; cleanup: () => Promise<void> }> {
  const home = tempDir('reshoot-home-');
  const service = await startService({ home: home.dir, port: 0, allowOrigins: opts.allowOrigins });
  return {
    ...service,
    home: home.dir,
    async cleanup() {
      await service.close();
      home.cleanup();
    },
  };
}

export function url(s: { port: number }, path = ''): string {
  return `http://127.0.0.1:${s.port}${path}`;
}

export async function api(s: { port: number; token: string }, path: string, init: RequestInit & { json?: unknown } = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const headers = new Headers(init.headers);
  if (!headers.has('authorization')) headers.set('authorization', `Bearer ${s.token}`);
  if (init.json !== undefined) headers.set('content-type', 'application/json');
  const res = await fetch(url(s, path), { ...init, headers, body: init.json !== undefined ? JSON.stringify(init.json) : init.body });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, headers: res.headers };
}

/** A WebSocket client that queues what it receives, so tests can await the next matching message. */
export class TestClient {
  readonly received: ServerMessage[] = [];
  private readonly consumed = new Set<number>();
  private waiters: { match: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void }[] = [];
  closed: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const m = JSON.parse(data.toString()) as ServerMessage;
      const index = this.received.push(m) - 1;
      const w = this.waiters.find((x) => x.match(m));
      if (w) {
        this.consumed.add(index);
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(m);
      }
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async connect(s: { port: number; token: string }, opts: { token?: string | null; origin?: string; hello?: boolean } = {}): Promise<TestClient> {
    const token = opts.token === undefined ? s.token : opts.token;
    const q = token === null ? '' : `?token=${token}`;
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/${q}`, { origin: opts.origin, perMessageDeflate: false });
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    if (opts.hello !== false) {
      client.send({ type: 'hello', protocol: 1, client: 'test' });
      await client.next((m) => m.type === 'welcome' || m.type === 'error');
    }
    return client;
  }

  send(m: unknown): void {
    this.ws.send(JSON.stringify(m));
  }

  /** The first message not yet taken by next() that matches (waiting for it if need be). */
  next(match: (m: ServerMessage) => boolean, timeoutMs = 60_000): Promise<ServerMessage> {
    const i = this.received.findIndex((m, k) => !this.consumed.has(k) && match(m));
    if (i >= 0) {
      this.consumed.add(i);
      return Promise.resolve(this.received[i]!);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for a message; last received: ${JSON.stringify(this.received.slice(-3))}`)),
        timeoutMs,
      );
      this.waiters.push({ match, resolve: (m) => (clearTimeout(timer), resolve(m)) });
    });
  }

  close(): void {
    this.ws.close();
  }
}
