/**
 * The panel against the constraints of UXP and of Premiere Pro 25.6–26.x, each one a way the
 * panel would fail on first load in Premiere though it works in a browser:
 *  - WebSocket instances without the OPEN constant (UXP declares it static only);
 *  - send buffers that UXP closes on overflow (bufferedAmount);
 *  - file URLs in the one documented form on Windows and macOS;
 *  - host calls newer than the running Premiere (gated, with the older API as fallback);
 *  - export folders that nothing creates, exported frames that nothing deletes;
 *  - no TextDecoder; the token in secure storage, not localStorage.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CompanionClient } from '../../plugin/connection/client.ts';
import { exportRgbFrame } from '../../plugin/connection/frames.ts';
import { ManualAddressStore, type PlainStorage, type SecureStorage } from '../../plugin/connection/manualAddress.ts';
import { encodePng } from '../../plugin/connection/png.ts';
import { decodeUtf8 } from '../../plugin/connection/utf8.ts';
import { fileUrl } from '../../plugin/host/fileUrl.ts';
import { MemoryHost } from '../../plugin/host/memory.ts';
import { PremiereHost, type OsModule, type UxpModule } from '../../plugin/host/premiere.ts';
import { API_SINCE, GATED, MIN_PREMIERE_VERSION, compareVersions, hostHas, tooOldMessage } from '../../plugin/host/versions.ts';
import { UxpLikeWebSocket } from './uxpWebSocket.ts';

const root = path.resolve(import.meta.dirname, '../..');

describe('file URLs', () => {
  it('are built in the documented form on macOS and Windows', () => {
    expect(fileUrl('/Users/ed/Library/Application Support/Reshoot/companion.json')).toBe('file:/Users/ed/Library/Application Support/Reshoot/companion.json');
    expect(fileUrl('C:\\Users\\ed\\AppData\\Roaming\\Reshoot\\companion.json')).toBe('file:/C:/Users/ed/AppData/Roaming/Reshoot/companion.json');
    expect(fileUrl('C:/tmp/frame.png')).toBe('file:/C:/tmp/frame.png');
    expect(fileUrl('\\\\nas\\media\\a.mov')).toBe('file://nas/media/a.mov');
  });

  it('are built in one place only', () => {
    for (const f of ['plugin/host/premiere.ts', 'plugin/connection/frames.ts', 'plugin/ui/MaskForm.tsx']) {
      const src = readFileSync(path.join(root, f), 'utf8');
      expect(src, f).not.toMatch(/`file:\$\{/);
      expect(src, f).toMatch(/fileUrl\(/);
    }
  });
});

/** A companion that greets, answers list/subscribe with an empty snapshot and takes uploads. */
function fakeCompanion(msg: Record<string, unknown>, ws: UxpLikeWebSocket): void {
  const id = msg.requestId as string;
  switch (msg.type) {
    case 'hello':
      return ws.reply({ type: 'welcome', protocol: msg.protocol, version: '0.1.0', providers: ['cpu'], models: ['builtin:tiny'] });
    case 'list':
    case 'subscribe':
      return ws.reply({ type: 'snapshot', requestId: id, jobs: [] });
    case 'upload.begin':
      return ws.reply({ type: 'upload.ready', requestId: id, uploadId: 'u0123456789abcdef', handle: 7, window: 100, maxFrameBytes: 1 << 20 });
    case 'upload.end':
      return ws.reply({ type: 'upload.done', requestId: id, uploadId: 'u0123456789abcdef', frames: 5 });
  }
}

function clientWith(sockets: UxpLikeWebSocket[], extra: Partial<ConstructorParameters<typeof CompanionClient>[0]> = {}) {
  const host = new MemoryHost({ sequence: null, files: { '/memory/reshoot/companion.json': JSON.stringify({ port: 41780, token: 't' }) } });
  return new CompanionClient({
    host,
    webSocket: (url) => {
      const ws = new UxpLikeWebSocket(url, fakeCompanion);
      sockets.push(ws);
      return ws as unknown as WebSocket;
    },
    ...extra,
  });
}

async function connected(client: CompanionClient): Promise<void> {
  for (let i = 0; i < 200 && client.state.status !== 'connected'; i++) await new Promise((r) => setTimeout(r, 5));
  expect(client.state.status).toBe('connected');
}

describe('the companion client on a UXP-shaped WebSocket', () => {
  it('sends requests though the socket instance has no OPEN constant', async () => {
    const sockets: UxpLikeWebSocket[] = [];
    const client = clientWith(sockets);
    client.start();
    await connected(client);
    expect((sockets[0] as unknown as { OPEN?: number }).OPEN).toBeUndefined();
    await expect(client.list()).resolves.toEqual([]);
    client.stop();
  });

  it('waits for the send buffer to drain before the next frame (UXP closes a socket that overflows)', async () => {
    const sockets: UxpLikeWebSocket[] = [];
    const frameBytes = 8 * 8 * 3;
    const client = clientWith(sockets, { sendBufferLimit: 2 * frameBytes + 64 });
    client.start();
    await connected(client);
    const ws = sockets[0]!;
    // The "network" drains one frame's worth every 20 ms.
    const drain = setInterval(() => {
      ws.bufferedAmount = Math.max(0, ws.bufferedAmount - frameBytes - 16);
    }, 20);
    try {
      const r = await client.upload({ width: 8, height: 8, channels: 3, fps: '24', frames: 5, frame: async () => new Uint8Array(frameBytes) });
      expect(r.frames).toBe(5);
    } finally {
      clearInterval(drain);
      client.stop();
    }
    const binary = ws.sent.filter((s): s is { bytes: number; bufferedBefore: number } => typeof s !== 'string');
    expect(binary).toHaveLength(5);
    // Never more queued than the limit: each frame went only when the buffer had room for it.
    for (const b of binary) expect(b.bufferedBefore + b.bytes).toBeLessThanOrEqual(2 * frameBytes + 64);
    expect(binary.some((b) => b.bufferedBefore > 0)).toBe(true); // it did send into a non-empty buffer
  });
});

// --- A Premiere stand-in following @adobe/premierepro's shapes, for the calls under test --------

interface FsNode {
  folder: boolean;
  bytes?: Uint8Array;
}

/** UXP's localFileSystem over a map; URLs must be in the documented form. */
function fakeUxp(version: string | undefined, files = new Map<string, FsNode>()) {
  const FOLDER = Symbol('folder');
  const toPath = (url: string) => {
    const m = /^file:(\/[A-Za-z]:\/.*|\/[^/].*)$/.exec(url);
    if (!m) throw new Error(`not a documented file URL: ${url}`);
    return /^\/[A-Za-z]:\//.test(m[1]!) ? m[1]!.slice(1) : m[1]!;
  };
  const entry = (p: string) => {
    const n = files.get(p);
    if (!n) throw new Error(`no entry at ${p}`);
    return {
      nativePath: p,
      isFile: !n.folder,
      isFolder: n.folder,
      read: async () => n.bytes!.slice().buffer,
      delete: async () => files.delete(p),
    };
  };
  const uxp: UxpModule = {
    storage: {
      localFileSystem: {
        getEntryWithUrl: async (url) => entry(toPath(url)),
        createEntryWithUrl: async (url, o) => {
          const p = toPath(url);
          const parent = p.replace(/\/[^/]+$/, '');
          if (parent && !/^[A-Za-z]:$/.test(parent) && !files.get(parent)?.folder) throw new Error(`no parent folder for ${p}`);
          if (files.has(p)) throw new Error(`${p} exists`);
          files.set(p, { folder: o?.type === FOLDER });
          return entry(p);
        },
        getTemporaryFolder: async () => ({ nativePath: '/tmp' }),
      },
      formats: { utf8: Symbol('utf8'), binary: Symbol('binary') },
      types: { file: Symbol('file'), folder: FOLDER },
    },
    host: version ? { name: 'Premiere Pro', version } : {},
  };
  return { uxp, files };
}

const os: OsModule = { platform: () => 'darwin', homedir: () => '/Users/ed' };

/** One sequence at 23.976 (ticks per frame 10594584000), 64×48. */
function fakePremiere(opts: { hasFrameRateApi: boolean; files?: Map<string, FsNode> }) {
  const calls: string[] = [];
  const tick = (t: number | string) => ({ ticks: String(t), seconds: Number(t) / 254016000000, equals: (o: { ticks: string }) => o.ticks === String(t) });
  const settings: Record<string, unknown> = {
    getVideoPixelAspectRatio: async () => '1:1',
  };
  if (opts.hasFrameRateApi) {
    settings.getVideoFrameRate = () => {
      calls.push('getVideoFrameRate');
      return { ticksPerFrame: 10594584000 };
    };
  }
  const seq = {
    name: 'Main',
    guid: { toString: () => 'seq-1' },
    getSettings: async () => settings,
    getFrameSize: async () => ({ width: 64, height: 48 }),
    getEndTime: async () => tick(0),
    getTimebase: async () => {
      calls.push('getTimebase');
      return '10594584000';
    },
  };
  const project = { getActiveSequence: async () => seq };
  const ppro = {
    Project: { getActiveProject: async () => project },
    TickTime: { createWithTicks: (t: string) => tick(t) },
    Exporter: {
      exportSequenceFrame: async (_s: unknown, _t: unknown, name: string, folder: string, w: number, h: number) => {
        calls.push(`export ${folder}`);
        if (!opts.files?.get(folder)?.folder) return false; // Premiere does not create folders
        opts.files.set(`${folder}/${name}`, { folder: false, bytes: encodePng({ width: w, height: h, channels: 3, pixels: new Uint8Array(w * h * 3).fill(90) }) });
        return true;
      },
    },
  };
  return { ppro: ppro as never, calls };
}

describe('host calls and the running Premiere version', () => {
  it('every call the host makes is in the version table, and the manifest asks for the lowest version that has them all', () => {
    const src = readFileSync(path.join(root, 'plugin/host/premiere.ts'), 'utf8');
    for (const api of Object.keys(API_SINCE)) {
      const method = api.split('.')[1]!;
      expect(src, api).toContain(`${method}(`);
    }
    const manifest = JSON.parse(readFileSync(path.join(root, 'manifest.json'), 'utf8')) as { host: { minVersion: string } };
    expect(compareVersions(manifest.host.minVersion, MIN_PREMIERE_VERSION)).toBe(0);
    expect(MIN_PREMIERE_VERSION).toBe('25.6');
    for (const api of Object.keys(GATED)) expect(compareVersions(API_SINCE[api as keyof typeof API_SINCE], MIN_PREMIERE_VERSION)).toBeGreaterThan(0);
  });

  it('reads the frame rate with Sequence.getTimebase before 26.2 and with getVideoFrameRate from 26.2', async () => {
    for (const [version, api] of [
      ['25.6.0', 'getTimebase'],
      ['26.1.2', 'getTimebase'],
      [undefined, 'getTimebase'],
      ['26.2.0', 'getVideoFrameRate'],
      ['26.3.0', 'getVideoFrameRate'],
    ] as const) {
      const { ppro, calls } = fakePremiere({ hasFrameRateApi: version !== undefined && compareVersions(version, '26.2') >= 0 });
      const host = new PremiereHost(ppro, fakeUxp(version).uxp, os);
      const seq = await host.activeSequence();
      expect(seq?.fps, version).toEqual({ num: 24000, den: 1001 });
      expect(calls, version).toEqual([api]);
    }
    expect(hostHas('SequenceSettings.getVideoFrameRate', '26.2')).toBe(true);
    expect(hostHas('SequenceSettings.getVideoFrameRate', '25.6.1')).toBe(false);
    expect(tooOldMessage('25.5.0')).toMatch(/needs Premiere Pro 25\.6 or newer; this is 25\.5\.0/);
    expect(tooOldMessage('25.6.0')).toBeNull();
  });

  it('creates the export folder (and its parents) before exporting, and deletes frames once read', async () => {
    const { uxp, files } = fakeUxp('25.6.0');
    files.set('/tmp', { folder: true });
    const { ppro, calls } = fakePremiere({ hasFrameRateApi: false, files });
    const host = new PremiereHost(ppro, uxp, os, { exportTimeoutMs: 2000 });
    const readFile = async (p: string) => new Uint8Array(files.get(p)!.bytes!);
    const pixels = await exportRgbFrame(host, readFile, 0, '/tmp/reshoot/frames', 8, 6);
    expect(pixels.length).toBe(8 * 6 * 3);
    expect(files.get('/tmp/reshoot')?.folder).toBe(true);
    expect(files.get('/tmp/reshoot/frames')?.folder).toBe(true);
    expect(calls).toContain('export /tmp/reshoot/frames');
    // Nothing left behind but the (empty) folders.
    expect([...files.keys()].filter((k) => k.startsWith('/tmp/reshoot/frames/'))).toEqual([]);
  });

  it('reads the connection file when UXP hands back bytes instead of text (no TextDecoder)', async () => {
    const { uxp, files } = fakeUxp('25.6.0');
    files.set('/Users/ed/Library/Application Support/Reshoot/companion.json', { folder: false, bytes: new TextEncoder().encode('{"port":41780,"token":"tök"}') });
    const { ppro } = fakePremiere({ hasFrameRateApi: false });
    const host = new PremiereHost(ppro, uxp, os);
    expect(await host.readTextFile(await host.connectionFilePath())).toBe('{"port":41780,"token":"tök"}');
    expect(await host.readTextFile('/nowhere.json')).toBeNull();
  });
});

describe('UTF-8 without TextDecoder', () => {
  it('decodes like TextDecoder, malformed bytes included', () => {
    const samples = ['', 'plain', 'Größe ½ — 日本語 🎬', '\u{10FFFF}x'];
    for (const s of samples) expect(decodeUtf8(new TextEncoder().encode(s))).toBe(s);
    const bad = [new Uint8Array([0xff, 0x41]), new Uint8Array([0xe2, 0x82]), new Uint8Array([0xc0, 0xaf]), new Uint8Array([0xed, 0xa0, 0x80]), new Uint8Array([0xf0, 0x9f, 0x8e])];
    for (const b of bad) expect(decodeUtf8(b)).toBe(new TextDecoder().decode(b));
    const big = 'ab€'.repeat(50_000);
    expect(decodeUtf8(new TextEncoder().encode(big))).toBe(big);
  });
});

describe('the manual address and token', () => {
  function stores() {
    const secret = new Map<string, string>();
    const plain = new Map<string, string>();
    const secure: SecureStorage = {
      // UXP's secureStorage resolves with bytes.
      getItem: async (k) => (secret.has(k) ? new TextEncoder().encode(secret.get(k)!) : null),
      setItem: async (k, v) => void secret.set(k, v),
      removeItem: async (k) => void secret.delete(k),
    };
    const local: PlainStorage = { getItem: (k) => plain.get(k) ?? null, setItem: (k, v) => void plain.set(k, v), removeItem: (k) => void plain.delete(k) };
    return { secret, plain, store: new ManualAddressStore(secure, local) };
  }

  it('keeps the token in secure storage and never in localStorage', async () => {
    const { secret, plain, store } = stores();
    await store.save({ address: '127.0.0.1:41999', token: 'secret-token' });
    expect([...plain.values()].join()).not.toContain('secret-token');
    expect([...secret.values()]).toEqual(['secret-token']);
    expect(await store.load()).toEqual({ address: '127.0.0.1:41999', token: 'secret-token' });
    await store.save(null);
    expect(await store.load()).toBeNull();
    expect(secret.size + plain.size).toBe(0);
  });

  it('moves a token an older panel left in localStorage into secure storage', async () => {
    const { secret, plain, store } = stores();
    plain.set('reshoot.manualAddress', JSON.stringify({ address: 'localhost:41780', token: 'old' }));
    expect(await store.load()).toEqual({ address: 'localhost:41780', token: 'old' });
    expect(plain.has('reshoot.manualAddress')).toBe(false);
    expect([...plain.values()].join()).not.toContain('old');
    expect(secret.get('reshoot.companionToken')).toBe('old');
  });

  it('the settings form shows the token as text (UXP cannot read password fields on macOS)', () => {
    const src = readFileSync(path.join(root, 'plugin/ui/Settings.tsx'), 'utf8');
    expect(src).not.toMatch(/type="password"/);
    expect(src).not.toMatch(/localStorage/);
  });
});
