/**
 * The companion service's two hot paths, measured against plain loopback sockets in one run.
 *
 *   npm run bench:service
 *
 * (1) Upload throughput. BENCH_FRAMES (60) frames of 1920x1080 RGBA (8.3 MB each: the synthetic
 *     test picture plus ±8 grain per channel, so FFV1 is not flattered by flat gradients) are
 *     generated once in a client worker thread (the panel is another process; a thread lets
 *     client and server run side by side as they would), then sent BENCH_REPS (3) times per
 *     variant, interleaved and in rotated order, every transfer on 127.0.0.1:
 *
 *       service (full)   a live in-process service (startService): hello, upload.begin, one
 *                        binary message per frame built with encodeFrameMessage, never more than
 *                        upload.ready's window unacknowledged, waiting for the upload.acks,
 *                        upload.end → upload.done. The service writes the frames through ffmpeg
 *                        into a lossless FFV1 .mkv. Timed from upload.begin to upload.done.
 *       ws transport     the same client against a bare `ws` server on loopback (same ws
 *                        options, same message validation, same header, same window and acks)
 *                        that decodes each frame message, counts it and acknowledges it: the
 *                        WebSocket transport alone, no ffmpeg.
 *       tcp, ack/frame   node:net: the same encoded messages written to a server that reads and
 *                        discards, answering 4 bytes per complete frame; the client keeps the
 *                        same window. The flow-control shape of the upload, without WebSocket.
 *       tcp, streamed    the same, no per-frame acks: only the socket's own backpressure, one
 *                        ack at the end.
 *       ffv1 encoder     openEncoder('ffv1') fed the frames directly in the client thread, no
 *                        socket: what the service's encoder alone can take.
 *
 *     Prints MB/s (10^6 bytes of frame messages) and frames/s (median and best), CPU per frame
 *     (the whole process, both threads, plus exited ffmpeg children), and the ratios ws/tcp
 *     (goal ≥ 0.7 for the transport) and service/ws, service/encoder.
 *
 * (2) Submit → first progress latency. The same live service with the test model: one job first
 *     (the engine loads, builtin:tiny builds on first use), then BENCH_JOBS (20) times: submit a
 *     64x48 extend of 6 frames at 2 steps over the WebSocket and time, from the send, the
 *     `accepted` answer and the job's `started`, first `progress` (phase "loading") and first
 *     "generating" progress and `done` events. Each job finishes before the next is sent (an
 *     idle queue). Prints median / p90 / max; goal: first progress under 50 ms.
 *
 * Environment: BENCH_FRAMES (60), BENCH_REPS (3), BENCH_JOBS (20), BENCH_SKIP=upload and/or latency (comma list),
 * BENCH_WIDTH/BENCH_HEIGHT (1920/1080), RESHOOT_MODELS as usual.
 */
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import WebSocket, { WebSocketServer } from 'ws';
import {
  FRAME_HEADER_BYTES,
  PROTOCOL_VERSION,
  decodeFrameMessage,
  encodeFrameMessage,
  frameBytes,
  parseClientMessage,
  type JobEvent,
  type ServerMessage,
} from '../protocol/index.ts';
import { openEncoder } from '../companion/media/encode.ts';
import { syntheticFrame, writeSyntheticClip } from '../companion/media/synthetic.ts';
import type { RunningService } from '../companion/service/service.ts';
import { MAX_MESSAGE_BYTES } from '../companion/service/sessions.ts';
import { UPLOAD_WINDOW } from '../companion/service/uploads.ts';
import { envInt, envSkip, fmt, machine, median, printMachine, tempDir } from './common.ts';

const FRAMES = envInt('BENCH_FRAMES', 60);
const REPS = envInt('BENCH_REPS', 3);
const JOBS = envInt('BENCH_JOBS', 20);
const W = envInt('BENCH_WIDTH', 1920);
const H = envInt('BENCH_HEIGHT', 1080);
const CHANNELS = 4 as const;
const RATE = '24000/1001';
const SKIP = envSkip(['upload', 'latency']);
const MSG_BYTES = FRAME_HEADER_BYTES + frameBytes(W, H, CHANNELS);

// ---------------------------------------------------------------------------------------------
// A small WebSocket client: JSON messages queued, awaited by predicate (used by both threads).

class WsClient {
  private readonly inbox: ServerMessage[] = [];
  private readonly waiters: { match: (m: ServerMessage) => boolean; resolve: (m: ServerMessage) => void; reject: (e: Error) => void }[] = [];
  /** Called for every message as it arrives, with the time it arrived (before any queueing). */
  onMessage: ((m: ServerMessage, at: number) => void) | null = null;
  private failure: Error | null = null;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const at = performance.now();
      if (isBinary) return;
      const m = JSON.parse((data as Buffer).toString('utf8')) as ServerMessage;
      this.onMessage?.(m, at);
      if (m.type === 'error') return this.fail(new Error(`server error ${m.code}: ${m.message}`));
      const i = this.waiters.findIndex((w) => w.match(m));
      if (i >= 0) this.waiters.splice(i, 1)[0]!.resolve(m);
      else this.inbox.push(m);
    });
    ws.on('close', (code, reason) => this.fail(new Error(`socket closed ${code} ${reason.toString()}`)));
    ws.on('error', (e) => this.fail(e));
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }

  /** zeroMask: an all-zero masking key, which ws skips on both ends (a diagnostic, not what browsers or UXP do). */
  static async connect(url: string, zeroMask = false): Promise<WsClient> {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...(zeroMask ? { generateMask: (m: Buffer) => void m.fill(0) } : {}) });
    const c = new WsClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    c.send({ type: 'hello', protocol: PROTOCOL_VERSION, client: 'bench:service' });
    await c.next((m) => m.type === 'welcome');
    return c;
  }

  send(m: unknown): void {
    this.ws.send(JSON.stringify(m));
  }

  next<T extends ServerMessage['type']>(match: (m: ServerMessage) => boolean, timeoutMs = 120_000): Promise<Extract<ServerMessage, { type: T }>> {
    if (this.failure) return Promise.reject(this.failure);
    const i = this.inbox.findIndex(match);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0] as Extract<ServerMessage, { type: T }>);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; last messages ${JSON.stringify(this.inbox.slice(-3))}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (m) => (clearTimeout(timer), resolve(m as Extract<ServerMessage, { type: T }>)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = once(this.ws, 'close');
    this.ws.close();
    await closed;
  }
}

// ---------------------------------------------------------------------------------------------
// Client thread: holds the frames, runs one upload per request from the main thread.

type Variant = 'service' | 'ws' | 'ws-nomask' | 'tcp-ack' | 'tcp-stream' | 'encoder';
interface UploadRequest {
  variant: Variant;
  port?: number;
  token?: string;
  frames: number;
  /** encoder variant: where to write. */
  out?: string;
}
interface UploadResult {
  seconds: number;
  uploadId?: string;
  outBytes?: number;
  /** CPU seconds of the client thread during the upload. */
  clientCpu?: number;
}

/** CPU seconds of the calling thread (Linux /proc/thread-self; NaN elsewhere). */
function threadCpuSeconds(): number {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    return (f[11]! + f[12]!) / 100;
  } catch {
    return NaN;
  }
}

function grainyFrame(i: number): Uint8Array {
  const f = syntheticFrame(i, W, H, { channels: CHANNELS }).data;
  let s = (0x9e3779b9 ^ (i * 2654435761)) >>> 0 || 1;
  for (let p = 0; p < f.length; p += 4) {
    for (let c = 0; c < 3; c++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      const v = f[p + c]! + ((s >>> 0) % 17) - 8;
      f[p + c] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return f;
}

async function uploadWs(frames: Uint8Array[], req: UploadRequest, zeroMask = false): Promise<UploadResult> {
  const c = await WsClient.connect(`ws://127.0.0.1:${req.port}/?token=${req.token ?? ''}`, zeroMask);
  try {
    let acked = 0;
    let wake: (() => void) | null = null;
    c.onMessage = (m) => {
      if (m.type === 'upload.ack') {
        acked = Math.max(acked, m.received);
        wake?.();
      }
    };
    const ackAbove = (n: number): Promise<void> =>
      acked > n ? Promise.resolve() : new Promise<void>((resolve) => (wake = () => acked > n && ((wake = null), resolve())));
    const t0 = performance.now();
    c.send({ type: 'upload.begin', requestId: 'b', width: W, height: H, channels: CHANNELS, frames: req.frames, fps: RATE });
    const ready = await c.next<'upload.ready'>((m) => m.type === 'upload.ready');
    for (let i = 0; i < req.frames; i++) {
      // The credit window: frame i may go once frame i - window has been acknowledged.
      if (i - acked >= ready.window) await ackAbove(i - ready.window);
      c.ws.send(encodeFrameMessage({ handle: ready.handle, frameIndex: i, width: W, height: H, channels: CHANNELS }, frames[i % frames.length]!));
    }
    if (acked < req.frames) await ackAbove(req.frames - 1);
    c.send({ type: 'upload.end', requestId: 'e', uploadId: ready.uploadId });
    const done = await c.next<'upload.done'>((m) => m.type === 'upload.done');
    const seconds = (performance.now() - t0) / 1000;
    if (done.frames !== req.frames) throw new Error(`upload.done says ${done.frames} frames, sent ${req.frames}`);
    return { seconds, uploadId: ready.uploadId };
  } finally {
    await c.close();
  }
}

async function uploadTcp(frames: Uint8Array[], req: UploadRequest, perFrameAck: boolean): Promise<UploadResult> {
  const sock = net.connect({ host: '127.0.0.1', port: req.port! });
  await once(sock, 'connect');
  sock.setNoDelay(true);
  let ackBytes = 0;
  let wake: (() => void) | null = null;
  sock.on('data', (b: Buffer) => {
    ackBytes += b.length;
    wake?.();
  });
  const acked = (): number => Math.floor(ackBytes / 4);
  const ackAbove = (n: number): Promise<void> =>
    acked() > n ? Promise.resolve() : new Promise<void>((resolve) => (wake = () => acked() > n && ((wake = null), resolve())));
  try {
    const t0 = performance.now();
    for (let i = 0; i < req.frames; i++) {
      if (perFrameAck && i - acked() >= UPLOAD_WINDOW) await ackAbove(i - UPLOAD_WINDOW);
      const msg = encodeFrameMessage({ handle: 1, frameIndex: i, width: W, height: H, channels: CHANNELS }, frames[i % frames.length]!);
      if (!sock.write(msg) && !perFrameAck) await once(sock, 'drain');
    }
    await ackAbove(perFrameAck ? req.frames - 1 : 0);
    return { seconds: (performance.now() - t0) / 1000 };
  } finally {
    sock.destroy();
  }
}

async function encodeOnly(frames: Uint8Array[], req: UploadRequest): Promise<UploadResult> {
  const t0 = performance.now();
  const enc = await openEncoder({ path: req.out!, format: 'ffv1', width: W, height: H, fps: { num: 24000, den: 1001 }, channels: CHANNELS, overwrite: true });
  for (let i = 0; i < req.frames; i++) await enc.write({ width: W, height: H, channels: CHANNELS, data: frames[i % frames.length]! });
  await enc.finish();
  const seconds = (performance.now() - t0) / 1000;
  const outBytes = statSync(req.out!).size;
  rmSync(req.out!, { force: true });
  return { seconds, outBytes };
}

function clientThread(): void {
  let frames: Uint8Array[] = [];
  parentPort!.on('message', async (m: { id: number; cmd: 'init' | 'upload'; count?: number; req?: UploadRequest }) => {
    try {
      let result: unknown;
      if (m.cmd === 'init') {
        const t = performance.now();
        frames = Array.from({ length: m.count! }, (_, i) => grainyFrame(i));
        result = { seconds: (performance.now() - t) / 1000 };
      } else {
        const req = m.req!;
        const c0 = threadCpuSeconds();
        let r: UploadResult;
        if (req.variant === 'service' || req.variant === 'ws' || req.variant === 'ws-nomask') r = await uploadWs(frames, req, req.variant === 'ws-nomask');
        else if (req.variant === 'encoder') r = await encodeOnly(frames, req);
        else r = await uploadTcp(frames, req, req.variant === 'tcp-ack');
        result = { ...r, clientCpu: threadCpuSeconds() - c0 };
      }
      parentPort!.postMessage({ id: m.id, ok: true, result });
    } catch (e) {
      parentPort!.postMessage({ id: m.id, ok: false, error: (e as Error).stack ?? String(e) });
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Main thread: the servers, the schedule, the figures.

class ClientThread {
  private readonly worker: Worker;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  constructor() {
    // Worker threads do not inherit the tsx loader: register it in the worker, then load this file.
    const code = `const { workerData } = require('node:worker_threads');
      import(workerData.tsx).then((m) => { m.register(); return import(workerData.self); });`;
    this.worker = new Worker(code, { eval: true, workerData: { tsx: import.meta.resolve('tsx/esm/api'), self: import.meta.url } });
    this.worker.on('message', (m: { id: number; ok: boolean; result?: unknown; error?: string }) => {
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.ok) p?.resolve(m.result);
      else p?.reject(new Error(`client thread: ${m.error}`));
    });
    this.worker.on('error', (e) => {
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    });
  }

  call<T>(cmd: 'init' | 'upload', args: { count?: number; req?: UploadRequest }): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, cmd, ...args });
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

/** A bare ws server speaking just enough of the session for an upload: the transport alone. */
async function wsTransportServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false });
  await once(wss, 'listening');
  let nextHandle = 1;
  wss.on('connection', (ws) => {
    const uploads = new Map<number, { id: string; frames: number; received: number }>();
    const send = (m: ServerMessage): void => ws.send(JSON.stringify(m));
    ws.on('message', (data, isBinary) => {
      const buf = data as Buffer;
      if (isBinary) {
        const d = decodeFrameMessage(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
        if (!d.ok) return send({ type: 'error', code: 'bad_message', message: d.message });
        const u = uploads.get(d.header.handle);
        if (!u || d.header.frameIndex !== u.received) return send({ type: 'error', code: 'bad_frame', message: 'unexpected frame' });
        u.received++;
        return send({ type: 'upload.ack', handle: d.header.handle, received: u.received });
      }
      const parsed = parseClientMessage(buf.toString('utf8'));
      if (!parsed.ok) return send({ type: 'error', code: parsed.code, message: parsed.message });
      const m = parsed.msg;
      if (m.type === 'hello') return send({ type: 'welcome', protocol: PROTOCOL_VERSION, version: 'bench', providers: [], models: [] });
      if (m.type === 'upload.begin') {
        const handle = nextHandle++;
        const id = `u${handle.toString(16).padStart(16, '0')}`;
        uploads.set(handle, { id, frames: m.frames, received: 0 });
        return send({ type: 'upload.ready', requestId: m.requestId, uploadId: id, handle, window: UPLOAD_WINDOW, maxFrameBytes: m.width * m.height * m.channels });
      }
      if (m.type === 'upload.end') {
        const entry = [...uploads.entries()].find(([, u]) => u.id === m.uploadId);
        if (!entry) return send({ type: 'error', code: 'not_found', message: 'no such upload', requestId: m.requestId });
        uploads.delete(entry[0]);
        return send({ type: 'upload.done', requestId: m.requestId, uploadId: m.uploadId, frames: entry[1].received });
      }
    });
  });
  const port = (wss.address() as net.AddressInfo).port;
  return { port, close: () => new Promise<void>((resolve) => wss.close(() => resolve())) };
}

/** Reads and discards; 4 bytes back per complete frame message, or once at the end. */
async function tcpServer(perFrameAck: boolean, frames: () => number): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    sock.setNoDelay(true);
    let bytes = 0;
    let acks = 0;
    const ack = Buffer.alloc(4);
    sock.on('data', (b: Buffer) => {
      bytes += b.length;
      const complete = Math.floor(bytes / MSG_BYTES);
      if (perFrameAck) {
        while (acks < complete) {
          ack.writeUInt32LE(++acks);
          sock.write(Buffer.from(ack));
        }
      } else if (complete === frames() && acks === 0) {
        acks = 1;
        ack.writeUInt32LE(complete);
        sock.write(ack);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** CPU seconds of this process (every thread) and of its exited children (Linux). */
function cpuSeconds(): { self: number; children: number } {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    return { self: (f[11]! + f[12]!) / 100, children: (f[13]! + f[14]!) / 100 };
  } catch {
    const u = process.cpuUsage();
    return { self: (u.user + u.system) / 1e6, children: 0 };
  }
}

const loadavg = (): string => os.loadavg().map((v) => v.toFixed(2)).join(' ');

function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

async function uploads(service: RunningService, home: string, scratch: string): Promise<void> {
  console.log(`\n## (1) upload throughput: ${W}x${H} RGBA frames, ${FRAMES} per upload, ${(MSG_BYTES / 1e6).toFixed(2)} MB per frame message, window ${UPLOAD_WINDOW}`);
  const client = new ClientThread();
  const servers: { close: () => Promise<void> }[] = [];
  try {
    const gen = await client.call<{ seconds: number }>('init', { count: FRAMES });
    console.log(`frames generated once in the client thread in ${fmt(gen.seconds)} s (synthetic picture + ±8 grain); repeats: ${REPS}, interleaved, order rotated, after one untimed warm-up round of 8 frames`);
    const ws = await wsTransportServer();
    const tcpAck = await tcpServer(true, () => FRAMES);
    let streamFrames = FRAMES;
    const tcpStream = await tcpServer(false, () => streamFrames);
    servers.push(ws, tcpAck, tcpStream);

    const variants: { key: Variant; name: string; req: (frames: number) => UploadRequest }[] = [
      { key: 'service', name: 'service (full)', req: (frames) => ({ variant: 'service', port: service.port, token: service.token, frames }) },
      { key: 'ws', name: 'ws transport', req: (frames) => ({ variant: 'ws', port: ws.port, frames }) },
      { key: 'ws-nomask', name: 'ws, zero mask', req: (frames) => ({ variant: 'ws-nomask', port: ws.port, frames }) },
      { key: 'tcp-ack', name: 'tcp, ack/frame', req: (frames) => ({ variant: 'tcp-ack', port: tcpAck.port, frames }) },
      { key: 'tcp-stream', name: 'tcp, streamed', req: (frames) => ({ variant: 'tcp-stream', port: tcpStream.port, frames }) },
      { key: 'encoder', name: 'ffv1 encoder', req: (frames) => ({ variant: 'encoder', frames, out: path.join(scratch, 'encoder-only.mkv') }) },
    ];
    interface Run {
      seconds: number;
      /** CPU seconds: the whole process (every thread), the client thread, the main (server) thread, exited children (ffmpeg). */
      cpu: number;
      client: number;
      server: number;
      cpuChildren: number;
      outBytes?: number;
    }
    const runs = new Map<Variant, Run[]>(variants.map((v) => [v.key, []]));
    const runOne = async (v: (typeof variants)[number], frames: number): Promise<Run> => {
      streamFrames = frames;
      const c0 = cpuSeconds();
      const m0 = threadCpuSeconds();
      const r = await client.call<UploadResult>('upload', { req: v.req(frames) });
      const m1 = threadCpuSeconds();
      const c1 = cpuSeconds();
      let outBytes = r.outBytes;
      if (r.uploadId) {
        const file = path.join(home, 'uploads', `${r.uploadId}.mkv`);
        if (v.key === 'service') outBytes = statSync(file).size;
        rmSync(file, { force: true });
      }
      return { seconds: r.seconds, cpu: c1.self - c0.self, client: r.clientCpu ?? NaN, server: m1 - m0, cpuChildren: c1.children - c0.children, outBytes };
    };
    for (const v of variants) await runOne(v, Math.min(8, FRAMES));
    for (let rep = 0; rep < REPS; rep++) {
      for (const v of [...variants.slice(rep % variants.length), ...variants.slice(0, rep % variants.length)]) {
        const r = await runOne(v, FRAMES);
        runs.get(v.key)!.push(r);
        console.log(`  rep ${rep + 1} ${v.name.padEnd(15)} ${fmt(r.seconds, 2).padStart(6)} s  ${fmt((FRAMES * MSG_BYTES) / 1e6 / r.seconds, 0).padStart(5)} MB/s  ${fmt(FRAMES / r.seconds).padStart(6)} frames/s`);
      }
    }

    console.log('results (median of repeats; MB = 10^6 bytes of frame messages, header included):');
    const mbps = new Map<Variant, number>();
    const best = new Map<Variant, number>();
    for (const v of variants) {
      const rs = runs.get(v.key)!;
      const s = median(rs.map((r) => r.seconds));
      const b = Math.min(...rs.map((r) => r.seconds));
      mbps.set(v.key, (FRAMES * MSG_BYTES) / 1e6 / s);
      best.set(v.key, (FRAMES * MSG_BYTES) / 1e6 / b);
      const per = (pick: (r: Run) => number): string => fmt((1000 * median(rs.map(pick))) / FRAMES);
      const kids = median(rs.map((r) => r.cpuChildren));
      const out = rs[0]!.outBytes;
      console.log(
        `  ${v.name.padEnd(15)} ${fmt(mbps.get(v.key)!, 0).padStart(5)} MB/s  ${fmt(FRAMES / s).padStart(6)} frames/s  (best ${fmt(best.get(v.key)!, 0)} MB/s; ` +
          `CPU ms/frame: client thread ${per((r) => r.client)}, main/server thread ${per((r) => r.server)}, ` +
          `other threads ${per((r) => r.cpu - r.client - r.server)}${kids > 0 ? `, ffmpeg ${per((r) => r.cpuChildren)}` : ''}` +
          `${out ? `; .mkv ${fmt(out / FRAMES / 1e6, 2)} MB/frame` : ''})`,
      );
    }
    const perRep = (a: Variant, b: Variant): number => median(runs.get(a)!.map((r, i) => runs.get(b)![i]!.seconds / r.seconds));
    const ratio = (a: Variant, b: Variant, goal?: number): string => {
      const m = mbps.get(a)! / mbps.get(b)!;
      const bb = best.get(a)! / best.get(b)!;
      const g = goal === undefined ? '' : `  (goal ≥ ${goal}: ${m >= goal ? 'goal met' : 'GOAL MISSED'} by the medians, ${bb >= goal ? 'goal met' : 'GOAL MISSED'} by the bests)`;
      return `${fmt(m, 3)} of medians, ${fmt(bb, 3)} of bests, ${fmt(perRep(a, b), 3)} median per repeat${g}`;
    };
    console.log(`  ratio ws transport / tcp ack/frame = ${ratio('ws', 'tcp-ack', 0.7)}`);
    console.log(`  ratio ws transport / tcp streamed  = ${ratio('ws', 'tcp-stream', 0.7)}`);
    console.log(`  ratio ws zero mask / tcp ack/frame = ${ratio('ws-nomask', 'tcp-ack')}`);
    console.log(`  ratio tcp ack/frame / tcp streamed = ${ratio('tcp-ack', 'tcp-stream')}`);
    console.log(`  ratio service / ws transport       = ${ratio('service', 'ws')}`);
    console.log(`  ratio service / ffv1 encoder alone = ${ratio('service', 'encoder')}`);
    console.log(`  load average now: ${loadavg()}`);
  } finally {
    for (const s of servers) await s.close();
    await client.close();
  }
}

async function latency(service: RunningService, scratch: string): Promise<void> {
  console.log(`\n## (2) submit → first progress: 64x48 extend of 6 frames, 2 steps, builtin:tiny, ${JOBS} jobs one after another`);
  const source = path.join(scratch, 'src.mkv');
  await writeSyntheticClip({ path: source, format: 'ffv1', width: 64, height: 48, fps: { num: 24000, den: 1001 }, frames: 9 });
  const spec = {
    kind: 'extend',
    seed: 9,
    steps: 2,
    sequence: { fps: RATE, width: 64, height: 48 },
    source: { path: source },
    extend: { direction: 'tail', duration: { frames: 6 } },
    output: { format: 'ffv1' },
  };
  const c = await WsClient.connect(`ws://127.0.0.1:${service.port}/?token=${service.token}`);
  const marks = ['accepted', 'started', 'progress', 'generating', 'done'] as const;
  type Mark = (typeof marks)[number];
  const times = new Map<Mark, number[]>(marks.map((k) => [k, []]));
  try {
    const job = async (n: number): Promise<Partial<Record<Mark, number>>> => {
      const seen: Partial<Record<Mark, number>> = {};
      let jobId = '';
      let t0 = 0;
      const requestId = `s${n}`;
      c.onMessage = (m, at) => {
        if (m.type === 'accepted' && m.requestId === requestId) {
          jobId = m.job.id;
          seen.accepted ??= at - t0;
        }
        if (m.type !== 'event' || m.event.jobId !== jobId) return;
        const e: JobEvent = m.event;
        if (e.event === 'started') seen.started ??= at - t0;
        if (e.event === 'progress') {
          seen.progress ??= at - t0;
          if (e.progress.phase === 'generating') seen.generating ??= at - t0;
        }
        if (e.event === 'done') seen.done ??= at - t0;
      };
      t0 = performance.now();
      c.send({ type: 'submit', requestId, spec });
      const accepted = await c.next<'accepted'>((m) => m.type === 'accepted' && m.requestId === requestId);
      const end = await c.next((m) => m.type === 'event' && m.event.jobId === accepted.job.id && ['done', 'failed', 'cancelled'].includes(m.event.event));
      if (end.type === 'event' && end.event.event !== 'done') throw new Error(`warm-up job ended ${JSON.stringify(end.event)}`);
      return seen;
    };
    const t = performance.now();
    const warm = await job(0);
    console.log(`warm-up job (engine load${process.env.RESHOOT_MODELS ? '' : '; builtin:tiny built if not cached'}): done after ${fmt((performance.now() - t) / 1000, 2)} s, first progress at ${fmt(warm.progress ?? NaN, 0)} ms`);
    for (let n = 1; n <= JOBS; n++) {
      const seen = await job(n);
      for (const k of marks) times.get(k)!.push(seen[k] ?? NaN);
    }
    const label: Record<Mark, string> = {
      accepted: 'accepted',
      started: 'event started',
      progress: 'first progress',
      generating: 'first "generating"',
      done: 'event done',
    };
    console.log(`results over ${JOBS} jobs (ms from the submit being sent):`);
    for (const k of marks) {
      const xs = times.get(k)!;
      console.log(`  ${label[k].padEnd(19)} median ${fmt(median(xs)).padStart(6)}   p90 ${fmt(pct(xs, 0.9)).padStart(6)}   max ${fmt(Math.max(...xs)).padStart(6)}   min ${fmt(Math.min(...xs)).padStart(6)}`);
    }
    const p = times.get('progress')!;
    const ok = (v: number): string => (v < 50 ? 'goal met' : 'GOAL MISSED');
    console.log(`  first progress under 50 ms: ${ok(median(p))} by the median (${fmt(median(p))} ms), ${ok(pct(p, 0.9))} by p90 (${fmt(pct(p, 0.9))} ms), ${ok(Math.max(...p))} by the max`);
  } finally {
    await c.close();
  }
}

async function main(): Promise<void> {
  const m = await machine();
  console.log('# bench:service: WebSocket upload vs loopback TCP, and submit → first progress latency');
  printMachine(m);
  const require = createRequire(import.meta.url);
  const wsVersion = (require('ws/package.json') as { version: string }).version;
  let bufferutil = 'no bufferutil: ws masks and unmasks frames in JavaScript';
  try {
    require.resolve('bufferutil');
    bufferutil = 'bufferutil installed';
  } catch {
    // the usual case here
  }
  console.log(`ws ${wsVersion} (${bufferutil}); load average at start: ${loadavg()}`);
  const home = tempDir('service-home');
  const scratch = tempDir('service');
  // Imported here so the client thread, which loads this file too, does not load the service.
  const { startService } = await import('../companion/service/service.ts');
  const service = await startService({ home: home.dir, port: 0 });
  try {
    if (!SKIP.has('upload')) await uploads(service, home.dir, scratch.dir);
    if (!SKIP.has('latency')) await latency(service, scratch.dir);
  } finally {
    await service.close();
    home.cleanup();
    scratch.cleanup();
  }
}

if (isMainThread) await main();
else clientThread();
