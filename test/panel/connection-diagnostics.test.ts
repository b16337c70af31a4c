/**
 * Why the panel cannot connect, told apart and said plainly (issue 8, item 6), against a real
 * companion on loopback: nothing running, a refused Origin, a wrong token, a port the manifest
 * does not list. And the companion's side: the Origin allowlist, one log line per refused
 * connection with its Origin and Host, and GET /health saying whether the caller's Origin is
 * admitted and its token right.
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from '../../companion/service/service.ts';
import { originAllowed, type DoorPolicy } from '../../companion/service/security.ts';
import { CompanionClient, type ConnectionState } from '../../plugin/connection/client.ts';
import type { FetchLike } from '../../plugin/connection/diagnose.ts';
import { MemoryHost } from '../../plugin/host/memory.ts';
import { PANEL_PORTS } from '../../protocol/ports.ts';
import { tempDir } from '../helpers/fixtures.ts';

describe('the Origin allowlist', () => {
  const policy: DoorPolicy = { token: 't', port: 1, hosts: [], allowOrigins: ['http://127.0.0.1:5173'] };
  it('admits no Origin, UXP plugin origins and origins named with --allow-origin', () => {
    for (const o of [undefined, '', 'plugin://com.reshoot.panel', 'plugin:/index.html', 'uxp://reshoot', 'http://127.0.0.1:5173']) expect(originAllowed(o, policy), String(o)).toBe(true);
  });
  it('refuses web pages, sandboxed and file pages, and browser extensions', () => {
    for (const o of ['http://evil.example', 'https://127.0.0.1', 'http://127.0.0.1:5174', 'null', 'file://', 'chrome-extension://abcdef', 'moz-extension://x', 'data:', 'javascript:']) {
      expect(originAllowed(o, policy), o).toBe(false);
    }
  });
});

describe('connection diagnostics against a real companion', () => {
  let service: RunningService;
  let home: { dir: string; cleanup: () => void };
  const log: string[] = [];
  const EVIL = 'https://evil.example';

  beforeAll(async () => {
    home = tempDir('reshoot-diag-');
    service = await startService({ home: home.dir, port: 0, logRefusal: (l) => log.push(l) });
  });
  afterAll(async () => {
    await service?.close();
    home?.cleanup();
  });

  const health = async (headers: Record<string, string>) => (await fetch(`http://127.0.0.1:${service.port}/health`, { headers })).json() as Promise<Record<string, any>>;

  it('GET /health says whether the caller’s Origin is admitted and its token right', async () => {
    expect(await health({})).toMatchObject({ name: 'reshoot', origin: { sent: null, admitted: true }, token: 'absent' });
    expect(await health({ 'x-reshoot-token': 'wrong' })).toMatchObject({ origin: { admitted: true }, token: 'invalid' });
    expect(await health({ 'x-reshoot-token': service.token })).toMatchObject({ token: 'valid' });
    // A refused Origin learns that it is refused, never whether a token is right.
    expect(await health({ origin: EVIL, 'x-reshoot-token': service.token })).toMatchObject({ origin: { sent: EVIL, admitted: false }, token: 'unchecked' });
  });

  it('logs every refused connection with its Origin and Host, repeats folded into one line a minute', async () => {
    log.length = 0;
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${service.port}/?token=${service.token}`, { origin: EVIL });
        ws.on('error', () => resolve());
        ws.on('open', () => resolve());
      });
    }
    const lines = log.filter((l) => l.includes('WebSocket'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`Origin "${EVIL}"`);
    expect(lines[0]).toContain(`Host "127.0.0.1:${service.port}"`);
    expect(lines[0]).toMatch(/--allow-origin/);
    const r = await fetch(`http://127.0.0.1:${service.port}/jobs`, { headers: { origin: 'null', authorization: `Bearer ${service.token}` } });
    expect(r.status).toBe(403);
    expect(log.some((l) => l.includes('HTTP /jobs') && l.includes('Origin "null"'))).toBe(true);
  });

  function client(opts: { origin?: string; file?: string; token?: string; allowedPorts?: readonly number[]; port?: number }) {
    const file = opts.file ?? path.join(home.dir, 'companion.json');
    const host = new MemoryHost({ sequence: null }, { connectionFilePath: file, readTextFile: (p: string) => readFile(p, 'utf8').catch(() => null) });
    const made: string[] = [];
    const c = new CompanionClient({
      host,
      minDelayMs: 50,
      maxDelayMs: 200,
      allowedPorts: opts.allowedPorts,
      ...(opts.token ? { manual: () => ({ address: `127.0.0.1:${opts.port ?? service.port}`, token: opts.token! }) } : {}),
      webSocket: (url) => {
        made.push(url);
        return new WebSocket(url, opts.origin ? { origin: opts.origin } : {}) as unknown as globalThis.WebSocket;
      },
      // Node's fetch sends no Origin; add the one the "panel" has.
      fetch: ((url: string, init?: { headers?: Record<string, string> }) => fetch(url, { headers: { ...init?.headers, ...(opts.origin ? { origin: opts.origin } : {}) } })) as FetchLike,
    });
    return { c, made };
  }

  async function until(c: CompanionClient, ok: (s: ConnectionState) => boolean): Promise<ConnectionState> {
    for (let i = 0; i < 400; i++) {
      if (ok(c.state)) return c.state;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`timed out in ${JSON.stringify({ status: c.state.status, detail: c.state.detail, technical: c.state.technical })}`);
  }

  it('connects when nothing is wrong', async () => {
    const { c } = client({});
    c.start();
    const s = await until(c, (s) => s.status === 'connected');
    expect(s.detail).toBe('Connected to Reshoot Companion.');
    c.stop();
  });

  it('a refused Origin: says the companion refused the panel, and which Origin to allow', async () => {
    const { c } = client({ origin: EVIL });
    c.start();
    const s = await until(c, (s) => s.status === 'refused');
    expect(s.detail).toMatch(/refused this panel/);
    expect(s.technical).toContain(`--allow-origin "${EVIL}"`);
    c.stop();
  });

  it('a wrong token: says the token was not accepted and where to fix it', async () => {
    const { c } = client({ token: 'not-the-token' });
    c.start();
    const s = await until(c, (s) => s.status === 'unauthorized');
    expect(s.detail).toMatch(/token.*Connection settings/);
    c.stop();
  });

  it('no companion: says to start Reshoot Companion, never npm', async () => {
    const t = tempDir('reshoot-none-');
    try {
      const { c: noFile } = client({ file: path.join(t.dir, 'companion.json') });
      noFile.start();
      const a = await until(noFile, (s) => s.status === 'no-companion');
      expect(a.detail).toMatch(/Start Reshoot Companion/);
      expect(a.detail).not.toMatch(/npm|\//);
      noFile.stop();
      // A stale connection file: the port answers nothing.
      const dead = await new Promise<number>((resolve) => {
        const srv = createServer();
        srv.listen(0, '127.0.0.1', () => {
          const port = (srv.address() as AddressInfo).port;
          srv.close(() => resolve(port));
        });
      });
      writeFileSync(path.join(t.dir, 'companion.json'), JSON.stringify({ port: dead, token: 'x' }));
      const { c: stale } = client({ file: path.join(t.dir, 'companion.json') });
      stale.start();
      const b = await until(stale, (s) => s.status === 'no-companion');
      expect(b.detail).toMatch(/not running.*Start Reshoot Companion/);
      expect(b.technical).toContain(`127.0.0.1:${dead}`);
      stale.stop();
    } finally {
      t.cleanup();
    }
  });

  it('a port the manifest does not list: says so without trying it (UXP would refuse the address)', async () => {
    expect(PANEL_PORTS).not.toContain(service.port);
    const { c, made } = client({ allowedPorts: PANEL_PORTS });
    c.start();
    const s = await until(c, (s) => s.status === 'port-blocked');
    expect(s.detail).toContain(`port ${service.port}`);
    expect(s.detail).toContain(`port ${PANEL_PORTS[0]}`);
    expect(made).toEqual([]);
    c.stop();
  });
});
