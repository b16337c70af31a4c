/**
 * Fuzzing the live service over real loopback sockets: thousands of random and mutated WebSocket
 * messages (text and binary, before and after hello, over many connections that the server may
 * close) and HTTP requests (random methods, paths with traversal, bodies and headers, with and
 * without the token). Seeded (RESHOOT_FUZZ_SEED reproduces a run) and bounded in count and time.
 *
 * Afterwards the service must still be whole: /health answers, a new session is welcomed and
 * ponged, a real job completes, nothing was logged as an internal error or thrown unhandled, no
 * upload encoder or partial file outlived its session, and no reply ever carried file contents.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import {
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  MAX_CLIENT_MESSAGE_CHARS,
  parseServerMessage,
  type ServerMessage,
} from '../../protocol/index.ts';
import { MAX_MESSAGE_BYTES } from '../../companion/service/sessions.ts';
import { losslessClip, tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { nested, Rng } from '../helpers/fuzz.ts';
import { api, TestClient, testService } from '../helpers/service.ts';

useTestModelCache();

const SEED = Number(process.env.RESHOOT_FUZZ_SEED ?? 0x5eed_f022);
/** WebSocket messages in all, over LANES connections at a time. */
const WS_MESSAGES = 4000;
const LANES = 6;
const HTTP_REQUESTS = 600;
const HTTP_CONCURRENCY = 4;
/**
 * How long a reply may take before the fuzz calls the server stuck. Not a speed check: only a
 * hang is reported (a busy 2-core machine may be slow; a server that never answers is broken).
 */
const HANG_MS = 60_000;
/** A line of /etc/passwd (or any passwd-format file): replies must never carry one. */
const PASSWD = /root:[^:\n]*:0:0:/;
/** Close codes the server may use on a fuzzed session (1005: the client closed without a code). */
const CLOSE_OK = new Set([1000, 1005, 1007, 1009, 4002, 4004]);

const W = 64;
const H = 48;
let service: Awaited<ReturnType<typeof testService>>;
const media = tempDir();
let source = '';

/** Whatever went wrong on the server's side, collected and asserted empty at the end. */
const problems: string[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);
let consoleError: ReturnType<typeof vi.spyOn>;

const stats = {
  wsSent: 0,
  wsConnections: 0,
  wsServerMessages: 0,
  replyTypes: new Map<string, number>(),
  sentKinds: new Map<string, number>(),
  errorCodes: new Map<string, number>(),
  closeCodes: new Map<number, number>(),
  httpSent: 0,
  httpStatus: new Map<number, number>(),
  httpClientErrors: new Map<string, number>(),
};
const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);
/** Job ids the server handed out during the fuzz. */
const jobIds = new Set<string>();
/** Upload handles of every connection (another session's handle must not reach its upload). */
const allHandles: number[] = [];

beforeAll(async () => {
  process.on('uncaughtException', onUnhandled);
  process.on('unhandledRejection', onUnhandled);
  consoleError = vi.spyOn(console, 'error');
  service = await testService();
  source = await losslessClip(media.dir, 'src.mkv', W, H, 9);
});

afterAll(async () => {
  process.off('uncaughtException', onUnhandled);
  process.off('unhandledRejection', onUnhandled);
  consoleError?.mockRestore();
  await service?.cleanup();
  media.cleanup();
});

const tinySpec = () => ({
  kind: 'extend',
  seed: 1,
  steps: 1,
  sequence: { fps: '24000/1001', width: W, height: H },
  source: { path: source },
  extend: { direction: 'tail', duration: { frames: 2 } },
  output: { format: 'ffv1' },
});

function checkText(where: string, text: string): void {
  if (PASSWD.test(text)) problems.push(`${where}: a reply carries a passwd line: ${text.slice(0, 200)}`);
}

// ---------------------------------------------------------------------------------------------
// WebSocket

interface OpenUpload {
  handle: number;
  uploadId: string;
  width: number;
  height: number;
  channels: 3 | 4;
  frames: number;
  next: number;
}

/** One fuzzing connection: never throws on what the server does, records what it sees. */
class FuzzConn {
  readonly uploads: OpenUpload[] = [];
  readonly uploadIds: string[] = [];
  greeted = false;
  private pings = 0;
  private readonly waiters = new Map<string, () => void>();
  private welcomed: (() => void) | null = null;
  readonly opened: Promise<boolean>;
  readonly closed: Promise<number>;

  constructor(readonly ws: WebSocket) {
    stats.wsConnections++;
    ws.on('error', (e) => bump(stats.httpClientErrors, `ws:${(e as NodeJS.ErrnoException).code ?? e.message}`));
    this.opened = new Promise((resolve) => {
      ws.once('open', () => resolve(true));
      ws.once('close', () => resolve(false));
      ws.once('unexpected-response', (_req, res) => {
        problems.push(`ws upgrade refused with HTTP ${res.statusCode}`);
        resolve(false);
      });
    });
    this.closed = new Promise((resolve) =>
      ws.once('close', (code) => {
        bump(stats.closeCodes, code);
        if (!CLOSE_OK.has(code) && code !== 1006) problems.push(`ws closed with unexpected code ${code}`);
        this.welcomed?.();
        for (const w of this.waiters.values()) w();
        this.waiters.clear();
        resolve(code);
      }),
    );
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
  }

  static connect(port: number, token: string): FuzzConn {
    return new FuzzConn(new WebSocket(`ws://127.0.0.1:${port}/?token=${token}`, { perMessageDeflate: false, maxPayload: 256 << 20 }));
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    stats.wsServerMessages++;
    if (isBinary) return void problems.push(`the server sent a binary message (${data.length} bytes)`);
    const text = data.toString('utf8');
    checkText('ws', text);
    const parsed = parseServerMessage(text);
    if (!parsed.ok) return void problems.push(`the server sent a message its own protocol refuses: ${parsed.message}: ${text.slice(0, 300)}`);
    const m: ServerMessage = parsed.msg;
    bump(stats.replyTypes, m.type);
    if ('requestId' in m && m.requestId !== undefined) {
      this.waiters.get(m.requestId)?.();
      this.waiters.delete(m.requestId);
    }
    switch (m.type) {
      case 'welcome':
        this.greeted = true;
        this.welcomed?.();
        break;
      case 'pong':
        break;
      case 'error':
        bump(stats.errorCodes, m.code);
        if (m.code === 'internal') problems.push(`internal error reply: ${m.message}`);
        break;
      case 'accepted':
        jobIds.add(m.job.id);
        break;
      case 'upload.ready': {
        const w = this.lastBegin;
        this.uploadIds.push(m.uploadId);
        allHandles.push(m.handle);
        if (w) this.uploads.push({ handle: m.handle, uploadId: m.uploadId, width: w.width, height: w.height, channels: w.channels, frames: w.frames, next: 0 });
        break;
      }
      default:
        break;
    }
  }

  /** The dimensions of the last valid upload.begin this connection sent. */
  lastBegin: { width: number; height: number; channels: 3 | 4; frames: number } | null = null;

  send(data: string | Buffer, binary: boolean): void {
    if (!this.open) return;
    stats.wsSent++;
    this.ws.send(data, { binary });
  }

  /** Resolves when a `welcome` arrives, the socket closes, or after `ms`. */
  welcome(ms: number): Promise<boolean> {
    if (this.greeted || !this.open) return Promise.resolve(this.greeted);
    return new Promise((resolve) => {
      const t = setTimeout(() => done(), ms);
      const done = () => {
        clearTimeout(t);
        this.welcomed = null;
        resolve(this.greeted);
      };
      this.welcomed = done;
    });
  }

  /** A round trip: 'reply' (any answer with the message's requestId), 'closed' (the server hung up, which it may), or 'timeout'. */
  request(m: { requestId: string } & Record<string, unknown>, ms: number): Promise<'reply' | 'closed' | 'timeout'> {
    if (!this.open) return Promise.resolve('closed');
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.waiters.delete(m.requestId);
        resolve('timeout');
      }, ms);
      this.waiters.set(m.requestId, () => {
        clearTimeout(t);
        resolve(this.open ? 'reply' : 'closed');
      });
      this.ws.send(JSON.stringify(m)); // not counted as a fuzz message
    });
  }

  ping(ms: number): Promise<'reply' | 'closed' | 'timeout'> {
    return this.request({ type: 'ping', requestId: `ping-${++this.pings}` }, ms);
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close();
    await Promise.race([this.closed, new Promise((r) => setTimeout(r, 3000))]);
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }
}

const CLIENT_KEYS = ['type', 'requestId', 'jobId', 'spec', 'since', 'protocol', 'client', 'width', 'height', 'channels', 'frames', 'fps', 'uploadId', 'handle'];
const SPEC_KEYS = ['kind', 'seed', 'steps', 'sequence', 'source', 'extend', 'output', 'path', 'upload', 'fps', 'width', 'height', 'duration', 'frames', 'direction', 'format', 'mask', 'model'];
const NASTY_STRINGS = [
  '', '*', ' ', '\u0000', '..', '../../etc/passwd', '/etc/passwd', '..%2f..%2fetc%2fpasswd', '\\..\\..\\windows\\win.ini', 'j0000', 'u0123456789abcdef',
  'u../../../../etc', '24000/1001', '0/0', '1/0', '-1/1', 'NaN', 'Infinity', '__proto__', 'constructor', 'a'.repeat(64), 'a'.repeat(65), 'b'.repeat(129),
  '\ud800', '\udfff\ud800', '😀'.repeat(33), 'x'.repeat(4000),
];

/** A valid client message for this connection's state. */
function validMessage(rng: Rng, c: FuzzConn): Record<string, unknown> {
  const rid = () => (rng.chance(0.9) ? `r${rng.int(1e6)}` : rng.pick(['a'.repeat(64), '\u00e9', '0']));
  const someJob = () => (jobIds.size > 0 && rng.chance(0.6) ? rng.pick([...jobIds]) : rng.pick(['*', 'j0000', 'nope']));
  const kind = rng.weighted([
    [3, 'ping'], [2, 'list'], [3, 'subscribe'], [2, 'unsubscribe'], [2, 'cancel'], [1, 'hello'],
    [0.6, 'submit'], [0.8, 'upload.begin'], [1.2, 'upload.end'],
  ] as const);
  switch (kind) {
    case 'hello':
      return { type: 'hello', protocol: 1, client: 'fuzz' };
    case 'ping':
      return { type: 'ping', requestId: rid() };
    case 'list':
      return { type: 'list', requestId: rid() };
    case 'subscribe':
      return { type: 'subscribe', requestId: rid(), jobId: someJob(), ...(rng.chance(0.5) ? { since: rng.int(20) } : {}) };
    case 'unsubscribe':
      return { type: 'unsubscribe', requestId: rid(), jobId: someJob() };
    case 'cancel':
      return { type: 'cancel', requestId: rid(), jobId: someJob() };
    case 'submit': {
      const spec: Record<string, unknown> = tinySpec();
      if (c.uploadIds.length > 0 && rng.chance(0.3)) spec.source = { upload: rng.pick(c.uploadIds) };
      return { type: 'submit', requestId: rid(), spec };
    }
    case 'upload.begin': {
      const u = { width: rng.pick([16, 17, 32]), height: 16, channels: rng.pick([3, 4] as const), frames: rng.between(1, 3) };
      c.lastBegin = u;
      return { type: 'upload.begin', requestId: rid(), ...u, fps: rng.pick(['25', '24000/1001', 30, { num: 30000, den: 1001 }]) };
    }
    case 'upload.end':
      return { type: 'upload.end', requestId: rid(), uploadId: c.uploadIds.length > 0 && rng.chance(0.7) ? rng.pick(c.uploadIds) : 'u0123456789abcdef' };
  }
}

/** Changes one thing somewhere inside `v` (returns the changed value; `v` may be modified). */
function mutate(rng: Rng, v: unknown, depth = 0): unknown {
  if (typeof v !== 'object' || v === null || depth > 6) {
    return rng.weighted<() => unknown>([
      [3, () => rng.json(SPEC_KEYS)],
      [3, () => rng.number()],
      [3, () => rng.pick(NASTY_STRINGS)],
      [1, () => (typeof v === 'string' ? v + rng.string(4) : String(v))],
      [1, () => [v]],
      [1, () => ({ value: v })],
      [1, () => undefined],
    ])();
  }
  if (Array.isArray(v)) {
    if (v.length === 0 || rng.chance(0.2)) {
      v.push(rng.json(SPEC_KEYS));
      return v;
    }
    const i = rng.int(v.length);
    if (rng.chance(0.2)) v.splice(i, 1);
    else v[i] = mutate(rng, v[i], depth + 1);
    return v;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  const op = rng.weighted([
    [3, 'deeper'], [2, 'drop'], [2, 'retype'], [1, 'add'], [1, 'proto'], [1, 'empty'],
  ] as const);
  if (keys.length === 0 || op === 'add') {
    o[rng.pick([...CLIENT_KEYS, ...SPEC_KEYS, rng.string(10)])] = rng.json(SPEC_KEYS);
  } else if (op === 'drop') {
    delete o[rng.pick(keys)];
  } else if (op === 'retype') {
    o[rng.pick(keys)] = rng.json(SPEC_KEYS);
  } else if (op === 'proto') {
    // JSON.parse makes "__proto__" an own key; the server must not treat it as the prototype.
    o[rng.pick(['__proto__', 'constructor', 'prototype'])] = rng.chance(0.5) ? { type: 'hello', polluted: true } : rng.json(SPEC_KEYS);
  } else if (op === 'empty') {
    return rng.pick([{}, [], null, '', 0]);
  } else {
    const k = rng.pick(keys);
    o[k] = mutate(rng, o[k], depth + 1);
  }
  return o;
}

/** JSON text with `"__proto__"` kept as a plain key (JSON.stringify drops nothing, but be explicit). */
function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x === undefined ? null : x)) ?? 'null';
}

/** A binary message: random bytes, or a frame header that is almost right in some way. */
function binaryMessage(rng: Rng, c: FuzzConn): Buffer {
  const kind = rng.weighted([[2, 'random'], [4, 'header'], [2, 'truncated'], [3, 'upload']] as const);
  if (kind === 'random') return rng.bytes(rng.pick([0, 1, 23, 24, 25, rng.int(200)]));
  const u = c.uploads.length > 0 ? rng.pick(c.uploads) : null;
  let handle = u?.handle ?? rng.int(50);
  let width = u?.width ?? rng.between(1, 8);
  let height = u?.height ?? rng.between(1, 8);
  let channels: number = u?.channels ?? rng.pick([3, 4]);
  let frameIndex = u ? u.next : rng.int(4);
  let delta = 0;
  if (kind === 'header') {
    const what = rng.weighted([
      [2, 'handle'], [2, 'length'], [1, 'channels'], [1, 'size'], [1, 'index'], [1, 'magic'], [1, 'version'], [1, 'kind'], [1, 'reserved'], [1, 'foreign'],
    ] as const);
    if (what === 'handle') handle = rng.pick([0, 0xffffffff, handle + 1, rng.int(2 ** 32)]);
    if (what === 'foreign' && allHandles.length > 0) handle = rng.pick(allHandles);
    if (what === 'length') delta = rng.pick([-1, 1, -3, 7, 1000]);
    if (what === 'channels') channels = rng.pick([0, 1, 2, 5, 255]);
    if (what === 'size') [width, height] = rng.pick([[0, 4], [4, 0], [width + 1, height], [width, height - 1]]);
    if (what === 'index') frameIndex = rng.pick([frameIndex + 1, frameIndex + 5, 0xffffffff, 10_000]);
    const bytes = Math.max(0, width * height * Math.max(channels, 1) + delta);
    const buf = frame(handle, frameIndex, width, height, channels, bytes);
    if (what === 'magic') buf.writeUInt32LE(rng.pick([0, FRAME_MAGIC ^ 1, 0x54485352]), 0);
    if (what === 'version') buf[4] = rng.pick([0, 2, 255]);
    if (what === 'kind') buf[5] = rng.pick([0, 2, 255]);
    if (what === 'reserved') buf[rng.pick([6, 7, 21, 22, 23])] = 1 + rng.int(255);
    return buf;
  }
  const whole = frame(handle, frameIndex, width, height, channels, width * height * channels);
  if (kind === 'truncated') return whole.subarray(0, rng.int(whole.length));
  if (u) u.next++; // a well-formed next frame of an open upload
  return whole;
}

function frame(handle: number, frameIndex: number, width: number, height: number, channels: number, pixelBytes: number): Buffer {
  const buf = Buffer.alloc(FRAME_HEADER_BYTES + pixelBytes, 0x5a);
  buf.writeUInt32LE(FRAME_MAGIC, 0);
  buf[4] = 1;
  buf[5] = 1;
  buf.writeUInt16LE(0, 6);
  buf.writeUInt32LE(handle >>> 0, 8);
  buf.writeUInt32LE(frameIndex >>> 0, 12);
  buf.writeUInt16LE(width & 0xffff, 16);
  buf.writeUInt16LE(height & 0xffff, 18);
  buf[20] = channels & 0xff;
  buf.fill(0, 21, 24);
  return buf;
}

/** A text message padded with an unknown field to exactly `chars` UTF-16 code units. */
function paddedTo(chars: number, base: Record<string, unknown>): string {
  const head = JSON.stringify({ ...base, pad: '' });
  return `${head.slice(0, -2)}${'x'.repeat(chars - head.length)}"}`;
}

/** One fuzzed message for a connection; text messages are strings, binary ones Buffers. */
function fuzzMessage(rng: Rng, c: FuzzConn): { data: string | Buffer; binary: boolean } {
  const kind = rng.weighted([
    [10, 'utf8'], [15, 'json'], [40, 'mutated'], [8, 'valid'], [5, 'unknown-type'], [5, 'duplicate-keys'], [12, 'binary'],
    [1.5, 'huge'], [1, 'deep'], [0.3, 'invalid-utf8'],
  ] as const);
  const text = (data: string) => ({ data, binary: false });
  bump(stats.sentKinds, kind);
  switch (kind) {
    case 'utf8':
      return text(rng.bytes(rng.int(300)).toString('utf8'));
    case 'json':
      return text(toJson(rng.chance(0.5) ? rng.json(CLIENT_KEYS) : { type: rng.pick(['ping', 'submit', 'hello', 'list']), ...(rng.json(CLIENT_KEYS) as object) }));
    case 'valid':
      return text(toJson(validMessage(rng, c)));
    case 'mutated': {
      let m: unknown = validMessage(rng, c);
      for (let n = rng.between(1, 3); n > 0; n--) m = mutate(rng, m);
      return text(toJson(m));
    }
    case 'unknown-type':
      return text(toJson({ type: rng.pick(['launch', 'HELLO', 'ping ', 'upload', 'upload.frame', 'event', 'welcome', 'pong', '', rng.string(12)]), requestId: 'x' }));
    case 'duplicate-keys': {
      // JSON.parse keeps the last of duplicated keys: the server must judge that one.
      const m = toJson(validMessage(rng, c));
      const dup = rng.pick([`"type":${JSON.stringify(rng.pick(['hello', 'submit', 'upload.begin', 'cancel', 'x']))}`, '"requestId":7', '"requestId":"dup"', '"__proto__":{"type":"ping"}']);
      return text(rng.chance(0.5) ? `{${dup},${m.slice(1)}` : `${m.slice(0, -1)},${dup}}`);
    }
    case 'binary':
      return { data: binaryMessage(rng, c), binary: true };
    case 'huge':
      return text(
        rng.pick([
          () => paddedTo(MAX_CLIENT_MESSAGE_CHARS, { type: 'list', requestId: 'h' }),
          () => paddedTo(MAX_CLIENT_MESSAGE_CHARS + 1, { type: 'list', requestId: 'h' }),
          () => paddedTo(MAX_CLIENT_MESSAGE_CHARS - 1, { type: 'submit', requestId: 'h', spec: tinySpec() }),
          () => JSON.stringify({ type: 'ping', requestId: 'r'.repeat(rng.pick([64, 65, 1 << 19])) }),
          () => JSON.stringify({ type: 'hello', protocol: 1, client: 'c'.repeat(rng.pick([200, 201, 100_000])) }),
          () => JSON.stringify({ type: 'submit', requestId: 's', spec: { ...tinySpec(), [`k${'e'.repeat(1 << 16)}`]: 1 } }),
          () => JSON.stringify({ type: 'cancel', requestId: 'c', jobId: 'j'.repeat(rng.pick([128, 129, 500_000])) }),
          () => `{"type":"list","requestId":"many",${Array.from({ length: 20_000 }, (_, i) => `"k${i}":${i}`).join(',')}}`,
        ])(),
      );
    case 'deep': {
      const depth = rng.pick([100, 10_000, 150_000]);
      const k = rng.pick(['array', 'object'] as const);
      return text(
        rng.pick([
          () => nested(depth, k),
          () => `{"type":"submit","requestId":"deep","spec":${nested(depth, k)}}`,
          () => `{"type":"submit","requestId":"deep","spec":{"kind":"extend","source":${nested(depth, k)}}}`,
          () => `{"type":"ping","requestId":${nested(depth, k, '"r"')}}`,
          () => `{"type":"upload.begin","requestId":"d","width":16,"height":16,"channels":3,"frames":1,"fps":${nested(depth, k, '25')}}`,
        ])(),
      );
    }
    case 'invalid-utf8': {
      // Sent as a text frame: the server must refuse it (1007), not crash.
      const b = rng.bytes(rng.between(1, 40));
      b[rng.int(b.length)] = rng.pick([0xff, 0xc0, 0xed]);
      return { data: b, binary: false };
    }
  }
}

async function wsLane(lane: number): Promise<void> {
  const rng = new Rng(SEED + lane * 7919);
  while (stats.wsSent < WS_MESSAGES) {
    const c = FuzzConn.connect(service.port, service.token);
    if (!(await c.opened)) {
      problems.push(`lane ${lane}: could not open a session`);
      await c.close();
      return;
    }
    // Some connections start with garbage before (or instead of) hello.
    if (rng.chance(0.35)) {
      for (let n = rng.int(25); n > 0 && c.open; n--) {
        const m = fuzzMessage(rng, c);
        c.send(m.data, m.binary);
      }
    }
    c.send(JSON.stringify({ type: 'hello', protocol: rng.chance(0.03) ? rng.pick([0, 2, 99]) : 1, client: `fuzz ${lane}` }), false);
    await c.welcome(HANG_MS);
    // Now and then a real (tiny) job, so cancel/subscribe/result fuzz meets jobs that exist.
    if (c.greeted && rng.chance(0.08) && (await c.request({ type: 'submit', requestId: 'job', spec: tinySpec() }, HANG_MS)) === 'timeout') {
      problems.push(`lane ${lane}: a valid submit got no answer (server stuck?)`);
    }
    let burst = 0;
    while (c.open && stats.wsSent < WS_MESSAGES) {
      const m = fuzzMessage(rng, c);
      c.send(m.data, m.binary);
      // Bounded in flight: every few messages, a round trip (or the close that ends the session).
      if (++burst >= rng.between(1, 12)) {
        burst = 0;
        const r = await c.ping(HANG_MS);
        if (r === 'timeout') problems.push(`lane ${lane}: no pong (server stuck?)`);
      }
      if (rng.chance(0.01)) break; // the client walks away mid-session
    }
    await c.close();
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request on its own connection, with the path sent exactly as given (no normalization). */
function rawRequest(opts: { method: string; path: string; headers: Record<string, string>; body?: Buffer; chunked?: boolean }): Promise<RawResponse | { error: string }> {
  return new Promise((resolve) => {
    let req: ReturnType<typeof httpRequest>;
    try {
      req = httpRequest({ host: '127.0.0.1', port: service.port, method: opts.method, path: opts.path, headers: opts.headers, agent: false, setHost: !('host' in opts.headers) });
    } catch (e) {
      return resolve({ error: `refused by the client: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    }
    const timer = setTimeout(() => {
      req.destroy(new Error('timeout'));
    }, HANG_MS);
    req.on('error', (e) => {
      clearTimeout(timer);
      resolve({ error: (e as NodeJS.ErrnoException).code ?? e.message });
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        if (size < 4 << 20) chunks.push(d);
        size += d.length;
      });
      res.on('error', () => undefined);
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
    });
    if (opts.body && opts.chunked) {
      const half = opts.body.length >> 1;
      req.write(opts.body.subarray(0, half));
      req.end(opts.body.subarray(half));
    } else {
      req.end(opts.body);
    }
  });
}

const TRAVERSALS = [
  '..%2f..%2fetc%2fpasswd', '..%2F..%2F..%2F..%2Fetc%2Fpasswd', '%2e%2e%2f%2e%2e%2fetc%2fpasswd', '..%252f..%252fetc%252fpasswd', '%2Fetc%2Fpasswd',
  '..%5c..%5cetc%5cpasswd', '%c0%ae%c0%ae%2fetc%2fpasswd', '....//....//etc/passwd', '%00', '%', '%zz', '%E0%A4%A', '%ff%fe', 'j0000%00.mkv',
];

/** Percent-escapes the UTF-8 bytes of `s` (lone surrogates included, as U+FFFD). */
function escapeBytes(s: string): string {
  return [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9._~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`)).join('');
}

function httpPath(rng: Rng): string {
  const id = rng.weighted<() => string>([
    [3, () => (jobIds.size > 0 ? rng.pick([...jobIds]) : 'j0000')],
    [4, () => rng.pick(TRAVERSALS)],
    [2, () => escapeBytes(rng.string(16))],
    [1, () => rng.pick(['j0000', '*', '.', '..', 'a'.repeat(rng.pick([129, 5000]))])],
  ])();
  return rng.weighted<() => string>([
    [3, () => `/jobs/${id}/result`],
    [2, () => `/jobs/${id}`],
    [2, () => `/jobs/${id}/cancel`],
    [2, () => rng.pick(['/jobs', '/jobs/', '/JOBS', '/health', '/health/', '/HEALTH', '/models', '/', '/favicon.ico'])],
    [2, () => rng.pick(['/../../../etc/passwd', '/jobs/../../../../etc/passwd', '/health/../jobs', '/health/..%2fjobs', '//etc/passwd', '/.%2e/.%2e/etc/passwd', '/results/', '/uploads/', '/companion.json', '/jobs/j0000/result/../../../../etc/passwd'])],
    [1, () => `/${id}`],
    [1, () => `/jobs?${rng.pick(['id=..%2f..', 'a=' + 'b'.repeat(2000), 'x[__proto__][a]=1', ''])}`],
    [1, () => rng.pick(['*', `http://127.0.0.1:${service.port}/jobs`, `http://evil.example/jobs`])],
  ])();
}

function httpHeaders(rng: Rng): Record<string, string> {
  const h: Record<string, string> = {};
  const auth = rng.weighted([[5, 'bearer'], [2, 'x-token'], [2, 'none'], [2, 'wrong']] as const);
  if (auth === 'bearer') h.authorization = `Bearer ${service.token}`;
  if (auth === 'x-token') h['x-reshoot-token'] = service.token;
  if (auth === 'wrong') {
    Object.assign(
      h,
      rng.pick([
        { authorization: 'Bearer ' },
        { authorization: `Bearer ${service.token}x` },
        { authorization: `Bearer ${service.token.slice(1)}` },
        { authorization: `bearer ${service.token}` },
        { authorization: `Basic ${Buffer.from(`x:${service.token}`).toString('base64')}` },
        { 'x-reshoot-token': '' },
        { 'x-reshoot-token': 'é'.repeat(service.token.length / 2) },
        { authorization: 'Bearer \u00ff\u00fe' },
      ]),
    );
  }
  if (rng.chance(0.5)) {
    h['content-type'] = rng.pick([
      'application/json', 'application/json; charset=utf-8', 'application/json; charset=latin1', 'application/json; charset=utf-16', 'application/json; charset=bogus',
      'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/vnd.api+json', 'application/json;;;', '*/*',
    ]);
  }
  if (rng.chance(0.1)) h['content-encoding'] = rng.pick(['gzip', 'deflate', 'br', 'identity', 'x-garbage', 'gzip, gzip']);
  if (rng.chance(0.2)) h.range = rng.pick(['bytes=0-', 'bytes=-5', 'bytes=10-5', 'bytes=999999999-', 'bytes=a-b', 'bytes=0-0,1-1,2-2,3-3,4-4,5-5', 'items=0-1', `bytes=${'0-1,'.repeat(500)}0-1`]);
  if (rng.chance(0.05)) h.origin = rng.pick(['http://evil.example', 'null', 'file://', 'uxp://reshoot', '']);
  if (rng.chance(0.04)) h.host = rng.pick([`evil.example:${service.port}`, `127.0.0.1:${service.port + 1}`, 'localhost', `localhost:${service.port}`, `[::1]:${service.port}`]);
  if (rng.chance(0.1)) h['x-forwarded-for'] = '8.8.8.8';
  if (rng.chance(0.05)) h.accept = rng.pick(['*/*', 'text/html', 'application/xml']);
  return h;
}

function httpBody(rng: Rng, headers: Record<string, string>): Buffer | undefined {
  const kind = rng.weighted([
    [3, 'none'], [3, 'spec'], [3, 'mutated'], [2, 'json'], [2, 'bytes'], [0.5, 'deep'], [0.3, 'large'], [0.5, 'passwd'],
  ] as const);
  let body: Buffer | undefined;
  switch (kind) {
    case 'none':
      return undefined;
    case 'spec':
      body = Buffer.from(JSON.stringify(tinySpec()));
      break;
    case 'mutated': {
      let s: unknown = tinySpec();
      for (let n = rng.between(1, 3); n > 0; n--) s = mutate(rng, s);
      body = Buffer.from(toJson(s));
      break;
    }
    case 'json':
      body = Buffer.from(toJson(rng.json(SPEC_KEYS)));
      break;
    case 'bytes':
      body = rng.bytes(rng.int(500));
      break;
    case 'deep':
      body = Buffer.from(rng.chance(0.5) ? nested(rng.pick([1000, 100_000]), rng.pick(['array', 'object'] as const)) : `{"kind":"extend","source":${nested(50_000, 'object')}}`);
      break;
    case 'large':
      body = Buffer.from(`{"kind":"extend","pad":"${'x'.repeat((1 << 20) + rng.int(1000))}"}`);
      break;
    case 'passwd':
      // A source that exists but is no video: the job fails without echoing the file.
      body = Buffer.from(JSON.stringify({ ...tinySpec(), source: { path: rng.pick(['/etc/passwd', '/etc/../etc/passwd', '/etc/hostname']) } }));
      break;
  }
  if (body && headers['content-encoding'] === 'gzip' && rng.chance(0.7)) body = gzipSync(body);
  return body;
}

const WEB_METHODS = ['GET', 'GET', 'GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND', 'TRACE', 'CONNECT'];

async function httpLane(lane: number): Promise<void> {
  const rng = new Rng(SEED ^ (0x4177 + lane * 104_729));
  while (stats.httpSent < HTTP_REQUESTS) {
    stats.httpSent++;
    const method = rng.pick(WEB_METHODS);
    const p = method === 'POST' && rng.chance(0.4) ? '/jobs' : httpPath(rng);
    const headers = httpHeaders(rng);
    const body = method === 'GET' || method === 'HEAD' ? (rng.chance(0.1) ? rng.bytes(20) : undefined) : httpBody(rng, headers);
    if (body && body[0] === 0x7b && !headers['content-encoding'] && rng.chance(0.6)) headers['content-type'] = 'application/json';
    const r = await rawRequest({ method, path: p, headers, body, chunked: rng.chance(0.2) });
    const what = `${method} ${p.slice(0, 120)}`;
    if ('error' in r) {
      // CONNECT gets its socket dropped by Node's server (no 'connect' handler): that is expected.
      bump(stats.httpClientErrors, `${method === 'CONNECT' ? 'CONNECT ' : ''}${r.error}`);
      continue;
    }
    bump(stats.httpStatus, r.status);
    if (r.status >= 500) problems.push(`${what}: HTTP ${r.status} ${r.body.toString('utf8').slice(0, 200)}`);
    const authed = headers.authorization === `Bearer ${service.token}` || headers['x-reshoot-token'] === service.token;
    const health = /^\/health(\?|$)/.test(p);
    if (!authed && !health && r.status < 400) problems.push(`${what}: HTTP ${r.status} without a valid token`);
    if (r.headers['access-control-allow-origin'] !== undefined) problems.push(`${what}: CORS header sent`);
    const isClip = r.status >= 200 && r.status < 300 && /\/result/.test(p);
    const text = r.body.toString('latin1');
    checkText(what, text);
    if (!isClip && r.body.length > 0) {
      // Every error the app answers is JSON `{ error: { code, message } }`.
      let json: unknown;
      try {
        json = JSON.parse(r.body.toString('utf8'));
      } catch {
        problems.push(`${what}: HTTP ${r.status} with a body that is not JSON: ${text.slice(0, 120)}`);
        continue;
      }
      if (r.status >= 400) {
        const e = (json as { error?: { code?: unknown; message?: unknown } }).error;
        if (typeof e?.code !== 'string' || typeof e.message !== 'string') problems.push(`${what}: HTTP ${r.status} error body without code/message: ${text.slice(0, 120)}`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** ffmpeg processes started by this process (upload encoders and the like), Linux only. */
function childFfmpegs(): string[] {
  if (process.platform !== 'linux') return [];
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => /ffmpeg/.test(l) && !/ffprobe/.test(l));
  } catch {
    return []; // ps exits 1 when there are none
  }
}

function partialUploads(): string[] {
  const dir = path.join(service.home, 'uploads');
  return existsSync(dir) ? readdirSync(dir).filter((f) => f.includes('.partial-')) : [];
}

describe('fuzzing the live service', () => {
  it(`survives ${WS_MESSAGES} random WebSocket messages and ${HTTP_REQUESTS} random HTTP requests (seed ${SEED})`, async () => {
    await Promise.all([...Array.from({ length: LANES }, (_, i) => wsLane(i)), ...Array.from({ length: HTTP_CONCURRENCY }, (_, i) => httpLane(i))]);
    console.log(
      `fuzz seed ${SEED}: ${stats.wsSent} ws messages over ${stats.wsConnections} connections, ${stats.wsServerMessages} replies, ` +
        `${stats.httpSent} http requests; close codes ${JSON.stringify([...stats.closeCodes])}; ` +
        `error codes ${JSON.stringify([...stats.errorCodes])}; replies ${JSON.stringify([...stats.replyTypes])}; sent ${JSON.stringify([...stats.sentKinds])}; http ${JSON.stringify([...stats.httpStatus])}; client-side errors ${JSON.stringify([...stats.httpClientErrors])}; jobs ${jobIds.size}`,
    );
    expect(problems).toEqual([]);
    expect(unhandled).toEqual([]);
    expect(consoleError).not.toHaveBeenCalled();
    // The fuzz really ran: every message went out, over many sessions.
    expect(stats.wsSent).toBeGreaterThanOrEqual(WS_MESSAGES);
    expect(stats.wsConnections).toBeGreaterThan(LANES * 3);
    expect(stats.httpSent).toBeGreaterThanOrEqual(HTTP_REQUESTS);
    expect(stats.closeCodes.get(4004) ?? 0).toBeGreaterThan(0);
    expect([...stats.httpClientErrors.keys()].filter((k) => !k.startsWith('CONNECT '))).toEqual([]);
  }, 600_000);

  it('edge cases answer exactly: the size limits, invalid UTF-8, an oversized frame, deep nesting', async () => {
    const c = FuzzConn.connect(service.port, service.token);
    expect(await c.opened).toBe(true);
    c.send(JSON.stringify({ type: 'hello', protocol: 1 }), false);
    expect(await c.welcome(HANG_MS)).toBe(true);
    const t = await TestClient.connect(service);
    t.ws.on('error', () => undefined);
    const reply = async (data: string, id: string) => {
      t.ws.send(data);
      return t.next((m) => (m.type === 'error' || m.type === 'pong' || m.type === 'snapshot') && m.requestId === id, HANG_MS);
    };
    // At the limit the message is parsed (and refused for its unknown field); one more is too large.
    expect(await reply(paddedTo(MAX_CLIENT_MESSAGE_CHARS, { type: 'list', requestId: 'at' }), 'at')).toMatchObject({ type: 'error', code: 'bad_message', message: expect.stringMatching(/pad/) });
    t.ws.send(paddedTo(MAX_CLIENT_MESSAGE_CHARS + 1, { type: 'list', requestId: 'over' }));
    expect(await t.next((m) => m.type === 'error' && m.code === 'too_large', HANG_MS)).toBeTruthy();
    // Deep nesting anywhere is a bad message, not a stack overflow.
    for (const [i, deep] of [nested(150_000, 'array'), nested(150_000, 'object')].entries()) {
      expect(await reply(`{"type":"submit","requestId":"d${i}","spec":${deep}}`, `d${i}`)).toMatchObject({ type: 'error', code: 'bad_spec' });
      expect(await reply(`{"type":"ping","requestId":"p${i}","x":${deep}}`, `p${i}`)).toMatchObject({ type: 'error', code: 'bad_message' });
    }
    expect(await reply(JSON.stringify({ type: 'ping', requestId: 'alive' }), 'alive')).toEqual({ type: 'pong', requestId: 'alive' });

    // A text frame that is not UTF-8: the connection is closed 1007, nothing else happens.
    c.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), false);
    expect(await c.closed).toBe(1007);

    // A message over the size limit: closed 1009 before it is even read in.
    const big = FuzzConn.connect(service.port, service.token);
    expect(await big.opened).toBe(true);
    big.send(JSON.stringify({ type: 'hello', protocol: 1 }), false);
    expect(await big.welcome(HANG_MS)).toBe(true);
    big.send(Buffer.alloc(MAX_MESSAGE_BYTES + 1), true);
    expect([1009, 1006]).toContain(await big.closed);

    // The other session did not notice.
    expect(await reply(JSON.stringify({ type: 'ping', requestId: 'still' }), 'still')).toEqual({ type: 'pong', requestId: 'still' });
    t.close();
    await t.closed;
    expect(problems).toEqual([]);
    expect(unhandled).toEqual([]);
    expect(consoleError).not.toHaveBeenCalled();
  }, 60_000);

  it('afterwards the service is whole: health, a new session, a real job, nothing leaked or logged', async () => {
    const health = await fetch(`http://127.0.0.1:${service.port}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ name: 'reshoot', protocol: 1 });

    const c = await TestClient.connect(service);
    expect(c.received[0]).toMatchObject({ type: 'welcome', protocol: 1 });
    c.send({ type: 'ping', requestId: 'after' });
    expect(await c.next((m) => m.type === 'pong', HANG_MS)).toEqual({ type: 'pong', requestId: 'after' });

    // Jobs the fuzz queued are cancelled, so the real one does not wait behind them.
    const listed = await api(service, '/jobs');
    expect(listed.status).toBe(200);
    checkText('GET /jobs', JSON.stringify(listed.body));
    for (const j of listed.body.jobs as { id: string; state: string }[]) {
      if (j.state === 'queued' || j.state === 'running') expect((await api(service, `/jobs/${j.id}/cancel`, { method: 'POST' })).status).toBe(200);
    }
    await expect
      .poll(async () => ((await api(service, '/jobs')).body.jobs as { state: string }[]).filter((j) => j.state === 'queued' || j.state === 'running').length, { timeout: 60_000, interval: 200 })
      .toBe(0);

    c.send({ type: 'submit', requestId: 'real', spec: { ...tinySpec(), steps: 2, extend: { direction: 'tail', duration: { frames: 4 } } } });
    const accepted = await c.next((m) => m.type === 'accepted' || (m.type === 'error' && m.requestId === 'real'), HANG_MS);
    if (accepted.type !== 'accepted') throw new Error(`the real job was refused: ${JSON.stringify(accepted)}`);
    const end = await c.next((m) => m.type === 'event' && m.event.jobId === accepted.job.id && ['done', 'failed', 'cancelled'].includes(m.event.event), 60_000);
    expect(end).toMatchObject({ type: 'event', event: { event: 'done', result: { frames: 4 } } });
    if (end.type === 'event' && end.event.event === 'done') expect(existsSync(end.event.result.path)).toBe(true);
    c.close();
    await c.closed;

    // Every fuzzed session is gone, and with it every upload encoder and partial upload file.
    await expect.poll(() => childFfmpegs(), { timeout: 15_000, interval: 200 }).toEqual([]);
    await expect.poll(() => partialUploads(), { timeout: 15_000, interval: 200 }).toEqual([]);

    expect(problems).toEqual([]);
    expect(unhandled).toEqual([]);
    expect(consoleError).not.toHaveBeenCalled();
  }, 120_000);
});
