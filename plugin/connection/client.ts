/**
 * The panel's line to the companion (DESIGN.md §5): a WebSocket client that works with the
 * browser's and UXP's WebSocket (client only, no permessage-deflate, no Node).
 *
 *  - Finds the companion through the connection file (read through the Host) or a manual
 *    address + token from the settings.
 *  - hello/welcome handshake; submit, cancel, subscribe, list as promise-returning requests.
 *  - Every incoming message is validated with parseServerMessage; a bad one is reported and
 *    dropped, never trusted.
 *  - Job events are applied per job in `seq` order: duplicates are ignored, a gap asks for
 *    the missed events (`subscribe {jobId, since}`).
 *  - Reconnects by itself with backoff; after a reconnect it subscribes to every job again
 *    (`subscribe '*'`, which answers with a snapshot) and asks for the events it missed for
 *    the jobs it tracks.
 *  - Uploads frames by value: upload.begin → upload.ready {handle, window}, then binary frames
 *    (protocol/binary.ts), never more than `window` unacknowledged (upload.ack), then
 *    upload.end → upload.done. An upload belongs to its connection: if the connection drops,
 *    the upload fails (the companion discards it) and the caller starts it again.
 *  - Keeps the latest `preview` image per job (job events may carry a small PNG).
 */
import {
  CLOSE,
  FRAME_HEADER_BYTES,
  writeFrameHeader,
  FINAL_STATES,
  PROTOCOL_VERSION,
  SUBSCRIBE_ALL,
  parseServerMessage,
  type ClientMessageInput,
  type JobEvent,
  type JobRecord,
  type JobSpecInput,
  type ServerMessage,
} from '../../protocol/index.ts';
import type { Rational } from '../../protocol/rational.ts';
import type { Host } from '../host/types.ts';
import type { Diagnosis } from './diagnose.ts';
import { Store } from './store.ts';
import { diagnose, START_COMPANION, type FetchLike } from './diagnose.ts';

export const DEFAULT_COMPANION_PORT = 41780;

/**
 * WebSocket.OPEN. UXP's types declare the ready-state constants only as statics of WebSocket, so
 * `ws.OPEN` on an instance may be undefined there: compare with the number.
 */
const OPEN = 1;

/**
 * Most bytes a frame may find still queued in the socket before it is sent. UXP closes a
 * socket whose send buffer overflows, so frames wait for it to drain rather than pile up.
 */
export const SEND_BUFFER_LIMIT = 8 * 1024 * 1024;
export const CLIENT_NAME = 'reshoot-panel 0.1.0';

export type ConnectionStatus =
  /** Not started yet. */
  | 'idle'
  | 'connecting'
  | 'connected'
  /** Lost the companion; trying again. */
  | 'reconnecting'
  /** No connection file and no manual address: the companion is not running. */
  | 'no-companion'
  /** The companion refused the token (close 4001): waits for new settings. */
  | 'unauthorized'
  /** The companion refused this panel's Origin (its /health says so). */
  | 'refused'
  /** The companion is on a port the manifest does not list: UXP would not let the panel reach it. */
  | 'port-blocked'
  /** Protocol versions differ (close 4002): waits for an update. */
  | 'mismatch';

export interface Welcome {
  version: string;
  providers: string[];
  models: string[];
}

export interface JobView {
  record: JobRecord;
  /** The highest seq applied to this job. */
  seq: number;
}

export interface ConnectionState {
  status: ConnectionStatus;
  /** One line for the status bar in an editor's words (why it is not connected and what to do). */
  detail: string;
  /** The technical side of `detail` (addresses, files, close codes), for the details line. */
  technical: string;
  address: string | null;
  welcome: Welcome | null;
  /** Jobs by id, and their order (oldest first). */
  jobs: Record<string, JobView>;
  order: string[];
  /** Next reconnect attempt (ms since epoch) while reconnecting. */
  retryAt: number | null;
  /** Last protocol problem seen (a bad message from the companion), for diagnostics. */
  lastProblem: string | null;
  /** The latest preview image per job, when the companion sends them. */
  previews: Record<string, JobPreview>;
  /**
   * The companion's frames folder when it runs on this machine (from its connection file): frames
   * by value are exported there and named in the job instead of uploaded. Null: upload them.
   */
  framesDir: string | null;
}

export interface JobPreview {
  width: number;
  height: number;
  /** PNG, base64 (show as a data: URL). */
  png: string;
}

/** Frames to upload (frames by value). */
export interface UploadRequest {
  width: number;
  height: number;
  channels: 3 | 4;
  fps: Rational | string;
  frames: number;
  /** The pixels of frame `index` (asked for in order, 0 first): width × height × channels bytes. */
  frame(index: number): Promise<Uint8Array>;
  /** After each frame sent or acknowledged. */
  onProgress?(p: { sent: number; acknowledged: number; total: number }): void;
  /** Checked between frames: true stops the upload (it fails with code 'cancelled'). */
  cancelled?(): boolean;
}

export interface UploadResult {
  uploadId: string;
  frames: number;
}

interface ActiveUpload {
  ws: WebSocket;
  acknowledged: number;
  wake: (() => void) | null;
  failure: Error | null;
}

export interface ManualAddress {
  /** "127.0.0.1:41780", "localhost:41780" or a ws:// URL. */
  address: string;
  token: string;
}

/** The WebSocket constructor the client uses (the global one in the browser and in UXP). */
export type WebSocketFactory = (url: string) => WebSocket;

export interface ClientOptions {
  host: Host;
  /** Overrides the connection file (settings fallback; the token may come from secure storage). */
  manual?: () => ManualAddress | null | Promise<ManualAddress | null>;
  webSocket?: WebSocketFactory;
  /** Backoff: first delay and cap, ms. */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** How long a request waits for its answer. */
  requestTimeoutMs?: number;
  /** See SEND_BUFFER_LIMIT (tests use a small one). */
  sendBufferLimit?: number;
  /** Asks the companion's /health why a connection failed (default: the global fetch). */
  fetch?: FetchLike;
  /**
   * Ports the panel may reach (the manifest's network domains; PANEL_PORTS in Premiere). Any
   * other port is reported as 'port-blocked' instead of being tried. Absent: any port (harness).
   */
  allowedPorts?: readonly number[];
}

export class RequestError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

const INITIAL: ConnectionState = {
  status: 'idle',
  detail: 'not started',
  technical: '',
  address: null,
  welcome: null,
  jobs: {},
  order: [],
  retryAt: null,
  lastProblem: null,
  previews: {},
  framesDir: null,
};

interface Pending {
  resolve: (m: ServerMessage) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** The global fetch (UXP and browsers have one), bound so it can be called bare. */
function defaultFetch(): FetchLike | undefined {
  const f = (globalThis as { fetch?: FetchLike }).fetch;
  return typeof f === 'function' ? (url, init) => f.call(globalThis, url, init) : undefined;
}

export class CompanionClient {
  readonly store = new Store<ConnectionState>(INITIAL);
  private ws: WebSocket | null = null;
  private pending = new Map<string, Pending>();
  private nextId = 1;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = true;
  private readonly listeners = new Set<(e: JobEvent) => void>();
  /** Jobs with a gap being filled, so one gap asks once. */
  private catchingUp = new Set<string>();
  /** Uploads in progress, by handle. */
  private uploads = new Map<number, ActiveUpload>();

  constructor(private readonly opts: ClientOptions) {}

  get state(): ConnectionState {
    return this.store.get();
  }

  /** Starts connecting (and keeps reconnecting until stop()). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.attempt = 0;
    void this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, 'panel closed');
    this.failPending(new RequestError('closed', 'the connection was closed'));
    this.failUploads(new RequestError('closed', 'the connection was closed'));
    this.patch({ status: 'idle', detail: 'stopped', technical: '', retryAt: null });
  }

  /** Drops the connection and connects again now (after settings changed). */
  reconnect(): void {
    this.stop();
    this.start();
  }

  /** Called for every job event applied (after the store is updated). */
  onEvent(listener: (e: JobEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ------------------------------------------------------------------------------------------
  // Requests

  async submit(spec: JobSpecInput | unknown): Promise<JobRecord> {
    const m = await this.request({ type: 'submit', spec } as ClientMessageInput);
    if (m.type !== 'accepted') throw new RequestError('unexpected', `expected accepted, got ${m.type}`);
    this.applyRecord(m.job);
    return m.job;
  }

  async cancel(jobId: string): Promise<void> {
    await this.request({ type: 'cancel', jobId } as ClientMessageInput);
  }

  async list(): Promise<JobRecord[]> {
    const m = await this.request({ type: 'list' } as ClientMessageInput);
    if (m.type !== 'snapshot') throw new RequestError('unexpected', `expected snapshot, got ${m.type}`);
    for (const j of m.jobs) this.applyRecord(j);
    return m.jobs;
  }

  /** Subscribes to one job (or '*'); with `since`, the events after it are replayed. */
  async subscribe(jobId: string, since?: number): Promise<void> {
    const m = await this.request({ type: 'subscribe', jobId, ...(since !== undefined ? { since } : {}) } as ClientMessageInput);
    if (m.type === 'snapshot') for (const j of m.jobs) this.applyRecord(j);
  }

  /**
   * Streams frames to the companion and resolves with the uploadId a job's source names
   * (`{upload: uploadId}`). Respects the companion's window: at most `window` frames are sent and
   * not yet acknowledged; the next frame is prepared while the window is full.
   */
  async upload(req: UploadRequest): Promise<UploadResult> {
    const fps = typeof req.fps === 'string' ? req.fps : req.fps.den === 1 ? String(req.fps.num) : `${req.fps.num}/${req.fps.den}`;
    const ready = await this.request({ type: 'upload.begin', width: req.width, height: req.height, channels: req.channels, frames: req.frames, fps } as ClientMessageInput);
    if (ready.type !== 'upload.ready') throw new RequestError('unexpected', `expected upload.ready, got ${ready.type}`);
    const ws = this.ws!;
    const u: ActiveUpload = { ws, acknowledged: 0, wake: null, failure: null };
    this.uploads.set(ready.handle, u);
    const bytes = req.width * req.height * req.channels;
    const progress = (sent: number) => req.onProgress?.({ sent, acknowledged: u.acknowledged, total: req.frames });
    try {
      for (let i = 0; i < req.frames; i++) {
        if (req.cancelled?.()) throw new RequestError('cancelled', 'the upload was cancelled');
        const pixels = await req.frame(i);
        if (pixels.length !== bytes) {
          throw new RequestError('bad_frame', `frame ${i} has ${pixels.length} bytes; ${req.width}x${req.height}x${req.channels} needs ${bytes}`);
        }
        // Wait for credit: no more than `window` frames unacknowledged.
        while (i - u.acknowledged >= ready.window) {
          if (u.failure) throw u.failure;
          await new Promise<void>((resolve) => {
            u.wake = resolve;
          });
          u.wake = null;
        }
        if (u.failure) throw u.failure;
        await this.drained(ws, u, FRAME_HEADER_BYTES + bytes);
        // One ArrayBuffer per frame (UXP's WebSocket sends ArrayBuffers; a view may not be accepted).
        const buf = new ArrayBuffer(FRAME_HEADER_BYTES + bytes);
        const msg = new Uint8Array(buf);
        writeFrameHeader(msg, { handle: ready.handle, frameIndex: i, width: req.width, height: req.height, channels: req.channels });
        msg.set(pixels, FRAME_HEADER_BYTES);
        ws.send(buf);
        progress(i + 1);
      }
      const done = await this.request({ type: 'upload.end', uploadId: ready.uploadId } as ClientMessageInput);
      if (done.type !== 'upload.done') throw new RequestError('unexpected', `expected upload.done, got ${done.type}`);
      u.acknowledged = done.frames;
      progress(req.frames);
      return { uploadId: done.uploadId, frames: done.frames };
    } catch (e) {
      // Release the companion's side (it holds an encoder, and a session gets only a few): an
      // upload.end before every frame arrived discards the upload there. Not awaited for long.
      if (this.ws === ws && !(e instanceof RequestError && e.code === 'closed')) {
        this.uploads.delete(ready.handle);
        void this.request({ type: 'upload.end', uploadId: ready.uploadId } as ClientMessageInput).catch(() => undefined);
      }
      throw e;
    } finally {
      this.uploads.delete(ready.handle);
    }
  }

  /** Waits until the socket's send buffer has room for `next` more bytes (or is empty). */
  private async drained(ws: WebSocket, u: ActiveUpload, next: number): Promise<void> {
    const limit = Math.max(0, (this.opts.sendBufferLimit ?? SEND_BUFFER_LIMIT) - next);
    for (;;) {
      if (u.failure) throw u.failure;
      if (this.ws !== ws || ws.readyState !== OPEN) throw new RequestError('closed', 'the connection to the companion was lost during the upload');
      if (!(ws.bufferedAmount > limit)) return;
      await new Promise<void>((resolve) => setTimeout(resolve, 5));
    }
  }

  private failUpload(handle: number, e: Error): void {
    const u = this.uploads.get(handle);
    if (!u) return;
    u.failure ??= e;
    u.wake?.();
  }

  private failUploads(e: Error, ws?: WebSocket): void {
    for (const u of this.uploads.values()) {
      if (ws && u.ws !== ws) continue;
      u.failure ??= e;
      u.wake?.();
    }
  }

  private request(msg: ClientMessageInput): Promise<ServerMessage> {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN || this.state.status !== 'connected') {
      return Promise.reject(new RequestError('not_connected', 'not connected to the companion'));
    }
    const requestId = `r${this.nextId++}`;
    return new Promise<ServerMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new RequestError('timeout', `the companion did not answer ${msg.type}`));
      }, this.opts.requestTimeoutMs ?? 30_000);
      this.pending.set(requestId, { resolve, reject, timer });
      ws.send(JSON.stringify({ ...msg, requestId }));
    });
  }

  private failPending(e: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
  }

  // ------------------------------------------------------------------------------------------
  // Connection

  private patch(p: Partial<ConnectionState>): void {
    this.store.set((s) => ({ ...s, ...p }));
  }

  /** Where to connect: the manual setting if given, else the connection file. */
  private async locate(): Promise<{ url: string; address: string; port: number; token: string; framesDir?: string } | (Omit<Diagnosis, 'status'> & { status: ConnectionStatus })> {
    const manual = await this.opts.manual?.();
    const at = (hostName: string, port: number, token: string) => {
      const address = `${hostName.includes(':') ? `[${hostName}]` : hostName}:${port}`;
      return { url: `ws://${address}/?token=${encodeURIComponent(token)}`, address, port, token };
    };
    if (manual && manual.address.trim() && manual.token.trim()) {
      const base = manual.address.trim().replace(/^wss?:\/\//, '').replace(/\/.*$/, '');
      const m = /^(.*?)(?::(\d+))?$/.exec(base)!;
      return at(m[1]!.replace(/^\[|\]$/g, ''), m[2] ? Number(m[2]) : DEFAULT_COMPANION_PORT, manual.token.trim());
    }
    const file = await this.opts.host.connectionFilePath();
    const text = await this.opts.host.readTextFile(file);
    if (text === null) return { status: 'no-companion', detail: `Reshoot Companion is not running. ${START_COMPANION}`, technical: `no connection file at ${file}` };
    let info: { port?: unknown; token?: unknown; host?: unknown; framesDir?: unknown };
    try {
      info = JSON.parse(text) as typeof info;
    } catch {
      return { status: 'no-companion', detail: `Reshoot Companion's connection file is damaged. Restart Reshoot Companion.`, technical: `${file} is not valid JSON` };
    }
    if (typeof info.port !== 'number' || typeof info.token !== 'string') {
      return { status: 'no-companion', detail: `Reshoot Companion's connection file is damaged. Restart Reshoot Companion.`, technical: `${file} has no port or token` };
    }
    const hostName = typeof info.host === 'string' && info.host !== '0.0.0.0' && info.host !== '::' ? info.host : '127.0.0.1';
    // A connection file is on this machine, so its frames folder is too.
    const framesDir = typeof info.framesDir === 'string' && info.framesDir ? info.framesDir : undefined;
    return { ...at(hostName, info.port, info.token), ...(framesDir ? { framesDir } : {}) };
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.patch({ status: this.attempt === 0 ? 'connecting' : 'reconnecting', retryAt: null });
    let where: Awaited<ReturnType<CompanionClient['locate']>>;
    try {
      where = await this.locate();
    } catch (e) {
      where = { status: 'no-companion', detail: `Reshoot Companion's connection file cannot be read. ${START_COMPANION}`, technical: (e as Error).message };
    }
    if (this.stopped) return;
    if (!('url' in where)) {
      this.patch({ status: where.status, detail: where.detail, technical: where.technical, address: null, welcome: null });
      return this.schedule();
    }
    const allowed = this.opts.allowedPorts;
    if (allowed && !allowed.includes(where.port)) {
      this.patch({
        status: 'port-blocked',
        detail: `Reshoot Companion is on port ${where.port}, which Premiere does not let this panel reach. Start it on port ${allowed[0]} (the default).`,
        technical: `the manifest allows ports ${allowed.join(', ')}; the companion is at ${where.address}`,
        address: where.address,
        welcome: null,
      });
      return this.schedule(true);
    }
    const make = this.opts.webSocket ?? ((url: string) => new WebSocket(url));
    let ws: WebSocket;
    try {
      ws = make(where.url);
    } catch (e) {
      this.patch({ status: 'reconnecting', detail: 'The panel cannot open a connection to Reshoot Companion; trying again.', technical: `cannot open ${where.address}: ${(e as Error).message}` });
      return this.schedule();
    }
    this.ws = ws;
    this.patch({ address: where.address, detail: 'Connecting to Reshoot Companion…', technical: `connecting to ${where.address}`, framesDir: where.framesDir ?? null });
    let opened = false;
    ws.onopen = () => {
      opened = true;
      ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, client: `${CLIENT_NAME} / ${this.opts.host.name}` }));
    };
    ws.onmessage = (ev: MessageEvent) => {
      if (this.ws !== ws) return;
      if (typeof ev.data !== 'string') return; // the companion sends no binary to the panel
      this.onText(ev.data, where.address);
    };
    ws.onerror = () => undefined; // onclose follows and says what happened
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.failPending(new RequestError('closed', 'the connection to the companion was lost'));
      this.failUploads(new RequestError('closed', 'the connection to the companion was lost during the upload'), ws);
      if (this.stopped) return;
      if (ev.code === CLOSE.unauthorized) {
        this.patch({
          status: 'unauthorized',
          welcome: null,
          detail: 'Reshoot Companion did not accept the panel’s token. Clear the token in Connection settings, or restart Reshoot Companion.',
          technical: `closed ${ev.code} ${ev.reason}`,
        });
        return this.schedule(true);
      }
      if (ev.code === CLOSE.protocolMismatch) {
        this.patch({ status: 'mismatch', welcome: null, detail: 'This panel and Reshoot Companion are different versions. Update both to the same Reshoot version.', technical: ev.reason || `closed ${ev.code}` });
        return this.schedule(true);
      }
      if (!opened) {
        // Say why, when the companion can tell us (a refused Origin, a wrong token), else "not running".
        this.patch({ status: 'reconnecting', welcome: null });
        void diagnose(this.opts.fetch ?? defaultFetch(), where.address, where.token).then((d) => {
          if (this.stopped || this.ws) return;
          this.patch({ status: d.status, detail: d.detail, technical: d.technical });
          this.schedule(d.status === 'refused' || d.status === 'unauthorized');
        });
        return;
      }
      const lost = ev.code === CLOSE.shuttingDown ? 'Reshoot Companion was closed' : 'The connection to Reshoot Companion was lost';
      this.patch({ status: 'reconnecting', welcome: null, detail: `${lost}; reconnecting by itself.`, technical: `closed ${ev.code}${ev.reason ? ` ${ev.reason}` : ''}` });
      this.schedule();
    };
  }

  /** Next attempt after a growing delay; `slow` = a refusal that only a settings change fixes. */
  private schedule(slow = false): void {
    if (this.stopped) return;
    const min = this.opts.minDelayMs ?? 500;
    const max = this.opts.maxDelayMs ?? 10_000;
    const delay = slow ? max : Math.min(max, min * 2 ** Math.min(this.attempt, 10));
    this.attempt++;
    if (this.timer) clearTimeout(this.timer);
    this.patch({ retryAt: Date.now() + delay });
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connect();
    }, delay);
  }

  private onText(text: string, address: string): void {
    const parsed = parseServerMessage(text);
    if (!parsed.ok) {
      this.patch({ lastProblem: parsed.message });
      if (parsed.requestId) this.settle(parsed.requestId, null, new RequestError('bad_message', parsed.message));
      return;
    }
    const m = parsed.msg;
    switch (m.type) {
      case 'welcome':
        this.attempt = 0;
        this.patch({
          status: 'connected',
          detail: 'Connected to Reshoot Companion.',
          technical: `${address}, companion ${m.version}, ${m.providers.join(', ') || 'no providers'}`,
          welcome: { version: m.version, providers: m.providers, models: m.models },
          retryAt: null,
        });
        void this.catchUp();
        return;
      case 'event':
        this.applyEvent(m.event);
        return;
      case 'error':
        if (m.requestId) this.settle(m.requestId, null, new RequestError(m.code, m.message));
        else {
          this.patch({ lastProblem: `${m.code}: ${m.message}` });
          // A refused frame is answered with its upload's handle (binary frames carry no
          // requestId); an error without one stops every upload of this connection.
          const e = new RequestError(m.code, `the companion refused the upload: ${m.message}`);
          if (m.handle !== undefined) this.failUpload(m.handle, e);
          else if (this.uploads.size > 0) this.failUploads(e, this.ws ?? undefined);
        }
        return;
      case 'upload.ack': {
        const u = this.uploads.get(m.handle);
        if (u) {
          u.acknowledged = Math.max(u.acknowledged, m.received);
          u.wake?.();
        }
        return;
      }
      default:
        this.settle(m.requestId, m, null);
    }
  }

  private settle(requestId: string, m: ServerMessage | null, e: Error | null): void {
    const p = this.pending.get(requestId);
    if (!p) return;
    this.pending.delete(requestId);
    clearTimeout(p.timer);
    if (e) p.reject(e);
    else p.resolve(m!);
  }

  /**
   * After (re)connecting: every job, new ones included, plus what was missed. `subscribe '*'`
   * answers with a snapshot of all jobs; then each unfinished job we knew asks for its missed
   * events, so a progress bar continues where it left off.
   */
  private async catchUp(): Promise<void> {
    try {
      const known = Object.values(this.state.jobs).filter((j) => !FINAL_STATES.includes(j.record.state));
      await this.subscribe(SUBSCRIBE_ALL);
      for (const j of known) {
        const now = this.state.jobs[j.record.id];
        if (now && FINAL_STATES.includes(now.record.state)) continue;
        await this.subscribe(j.record.id, now?.seq ?? j.seq).catch(() => undefined);
      }
    } catch {
      // The connection went again; the next welcome starts over.
    }
  }

  // ------------------------------------------------------------------------------------------
  // Jobs

  private applyRecord(record: JobRecord): void {
    this.store.set((s) => {
      const had = s.jobs[record.id];
      if (had && had.seq > record.seq) return s; // an older picture than what we have
      const jobs = { ...s.jobs, [record.id]: { record, seq: record.seq } };
      const order = had ? s.order : [...s.order, record.id];
      return { ...s, jobs, order };
    });
  }

  private applyEvent(e: JobEvent): void {
    const had = this.state.jobs[e.jobId];
    if (e.event === 'preview') {
      // Previews are ephemeral: they carry the seq of the latest real event and never advance it.
      if (!had || FINAL_STATES.includes(had.record.state)) return;
      if (e.seq > had.seq) this.requestMissed(e.jobId, had.seq); // real events went missing
      this.store.set((s) => ({ ...s, previews: { ...s.previews, [e.jobId]: { width: e.width, height: e.height, png: e.png } } }));
      for (const l of [...this.listeners]) l(e);
      return;
    }
    if (had && e.seq <= had.seq) return; // seen already (a replay after catch-up)
    if (had && e.seq > had.seq + 1) {
      // A gap: ask for what we missed (the replay comes in order, this event included).
      this.requestMissed(e.jobId, had.seq);
      return;
    }
    if (!had) {
      // A job we hear of first through an event (another client's): fetch its record.
      void this.subscribe(e.jobId).catch(() => undefined);
      return;
    }
    const record = reduceEvent(had.record, e);
    this.store.set((s) => ({ ...s, jobs: { ...s.jobs, [e.jobId]: { record, seq: e.seq } } }));
    for (const l of [...this.listeners]) l(e);
  }

  /** Asks once for the events of `jobId` after `since` (the replay comes in order). */
  private requestMissed(jobId: string, since: number): void {
    if (this.catchingUp.has(jobId)) return;
    this.catchingUp.add(jobId);
    void this.subscribe(jobId, since)
      .catch(() => undefined)
      .finally(() => this.catchingUp.delete(jobId));
  }
}

/** The record after one event (the companion's own record stays the authority on snapshot). */
export function reduceEvent(r: JobRecord, e: JobEvent): JobRecord {
  const next: JobRecord = { ...r, seq: e.seq };
  switch (e.event) {
    case 'queued':
      next.state = 'queued';
      break;
    case 'started':
      next.state = 'running';
      next.attempts = e.attempt;
      next.startedAt ??= new Date().toISOString();
      break;
    case 'progress':
      next.state = 'running';
      next.progress = e.progress;
      break;
    case 'preview':
      break;
    case 'done':
      next.state = 'done';
      next.result = e.result;
      next.finishedAt ??= new Date().toISOString();
      if (next.progress) next.progress = { ...next.progress, phase: 'done', fraction: 1, etaSeconds: 0 };
      break;
    case 'failed':
      next.state = 'failed';
      next.error = e.error;
      next.finishedAt ??= new Date().toISOString();
      break;
    case 'cancelled':
      next.state = 'cancelled';
      next.finishedAt ??= new Date().toISOString();
      break;
    case 'resumed':
      next.state = 'queued';
      next.recovered = 'resumed';
      next.progress = undefined;
      break;
  }
  return next;
}
