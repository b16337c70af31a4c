/** The browser tests' shared parts: a static server for the harness bundle, its build, Chromium. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import type { BrowserContext } from 'playwright-core';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.png': 'image/png', '.json': 'application/json' };

export async function serveStatic(dir: string): Promise<{ origin: string; close: () => Promise<void> }> {
  const root = path.resolve(dir);
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const file = path.resolve(root, '.' + decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname));
    if (!file.startsWith(root + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Debian's Chromium (.ci/run installs it); the browser tests skip with a warning without it. */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Builds the harness bundle into a folder of its own and serves it. Each browser test file
 * builds its own copy: vitest runs files in parallel, and a shared harness/dist could be
 * rewritten under a page that is loading it.
 */
export async function serveHarness(): Promise<{ origin: string; close: () => Promise<void> }> {
  const out = mkdtempSync(path.join(tmpdir(), 'reshoot-harness-'));
  const root = path.resolve(import.meta.dirname, '../..');
  execFileSync(process.execPath, [path.join(root, 'node_modules/webpack-cli/bin/cli.js'), '--mode', 'production', '--config-name', 'harness', '--output-path', out], { cwd: root, stdio: 'pipe' });
  const site = await serveStatic(out);
  return { origin: site.origin, close: async () => (await site.close(), rmSync(out, { recursive: true, force: true })) };
}

/** Headless Chromium with a fresh profile (launchPersistentContext passes it as --user-data-dir). */
export async function launchChromium(viewport: { width: number; height: number }): Promise<{ browser: BrowserContext; close: () => Promise<void> }> {
  const profile = mkdtempSync(path.join(tmpdir(), 'reshoot-chromium-'));
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  return { browser, close: async () => (await browser.close(), rmSync(profile, { recursive: true, force: true })) };
}
