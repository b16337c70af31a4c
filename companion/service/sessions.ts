/**
 * WebSocket sessions (ws): the panel's live line to the companion. A session opens with a
 * version handshake, then submits, cancels, subscribes to job events and uploads frames.
 * Every text message is validated by protocol/session.ts; a bad one gets a typed `error` (the
 * codes protocol/session.ts documents) and the session goes on (a client that keeps sending
 * garbage is closed). Binary messages carry upload frames (protocol/binary.ts). Nothing but
 * `welcome` (or the mismatch error) is sent before the handshake is done: messages that arrive
 * meanwhile wait for it.
 *
 * Hostile local callers: a connection without the right token is answered by a server whose
 * message limit is a few KB (limits.ts), so it cannot make us buffer a frame-sized message
 * before it is closed; sessions and open uploads are capped (uploads across all sessions too),
 * and an upload that stops sending frames is dropped.
 *
 * Slow clients: progress and preview events are dropped for a client whose send buffer is backed
 * up (the next one supersedes them), but state changes are always sent; a reconnecting client asks
 * for what it missed with `subscribe { since }`. Previews are live only (queue.ts): never replayed.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  CLOSE,
  FRAME_HEADER_BYTES,
  PROTOCOL_VERSION,
  decodeFrameMessage,
  parseClientMessage,
  type ClientMessage,
  type ClientMessageOf,
  type JobEvent,
  type JobSpec,
  type SessionErrorCode,
  type ServerMessage,
} from '../../protocol/index.ts';
import { isReshootError } from '../errors.ts';
import type { JobBackend } from '../jobs/backend.ts';
import { SubmitRefused } from '../jobs/queue.ts';
import { RESHOOT_VERSION } from '../jobs/run.ts';
import type { ServiceLimits } from './limits.ts';
import { acceptSpecWithFrames } from './localFrames.ts';
import { RefusalLog, refusal, tokenMatches, type DoorPolicy } from './security.ts';
import { Upload, UploadError, UPLOAD_WINDOW } from './uploads.ts';
import { Refused, type CheckedMessage, type SpecValidator } from './validator.ts';

/** Largest message after authentication: one 4096×4096 RGBA frame plus its header. */
export const MAX_MESSAGE_BYTES = 4096 * 4096 * 4 + FRAME_HEADER_BYTES;
/** Progress events are skipped for a client with more than this waiting to be sent. */
const SLOW_CLIENT_BYTES = 4 * 1024 * 1024;
const MAX_BAD_MESSAGES = 20;
/** Text messages longer than this are parsed in the validation worker, not on the event loop. */
const LARGE_MESSAGE_CHARS = 32 * 1024;

/** A refusal from the validation worker as a parse result, so it is answered like any other. */
function refusedMessage(e: unknown): CheckedMessage {
  if (e instanceof Refused) return { ok: false, code: e.code as 'bad_message', message: e.message, ...(e.requestId ? { requestId: e.requestId } : {}) };
  console.error('reshoot service: internal error', e);
  return { ok: false, code: 'internal' as 'bad_message', message: 'internal error' };
}

export interface SessionContext {
  queue: JobBackend;
  policy: DoorPolicy;
  uploadsDir: string;
  providers: string[];
  limits: ServiceLimits;
  validator: SpecValidator;
  models: () => Promise<string[]>;
}

/** Uploads open across every session: each one holds an ffmpeg encoder. */
class UploadSlots {
  private used = 0;
  constructor(private readonly max: number) {}
  take(): boolean {
    if (this.used >= this.max) return false;
    this.used++;
    return true;
  }
  give(): void {
    this.used--;
  }
}

export class Sessions {
  readonly wss: WebSocketServer;
  /** Answers connections without the token: its tiny message limit keeps floods out of memory. */
  private readonly refused: WebSocketServer;
  private nextHandle = 1;
  private readonly live = new Set<Session>();
  private readonly slots: UploadSlots;

  constructor(private readonly ctx: SessionContext) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false });
    this.refused = new WebSocketServer({ noServer: true, maxPayload: ctx.limits.preAuthMessageBytes, perMessageDeflate: false });
    this.slots = new UploadSlots(ctx.limits.maxUploads);
    ctx.queue.on('event', (e: JobEvent) => {
      for (const s of this.live) s.onJobEvent(e);
    });
    ctx.queue.on('preview', (e: JobEvent) => {
      for (const s of this.live) s.onJobEvent(e);
    });
  }

  /** The HTTP server's 'upgrade' handler: the door is checked before a session exists. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const { policy } = this.ctx;
    const why = refusal(req.headers, policy);
    if (why) {
      (policy.refusals ??= new RefusalLog()).refused('WebSocket', why, req.headers);
      // A refused browser page gets no WebSocket at all.
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const authorized = tokenMatches(url.searchParams.get('token'), policy.token);
    // Completing the handshake first lets the client read a clear close code and reason.
    const server = authorized ? this.wss : this.refused;
    server.handleUpgrade(req, socket, head, (ws) => {
      // ws reports a client's protocol violations (a text frame that is not UTF-8, a message over
      // maxPayload, a bad opcode) as an 'error' event and then closes the socket itself (1007,
      // 1009, 1002). Unheard, that event would throw and take the whole companion down.
      ws.on('error', () => undefined);
      if (!authorized) {
        ws.close(CLOSE.unauthorized, 'missing or wrong token');
        return;
      }
      if (this.live.size >= this.ctx.limits.maxSessions) {
        ws.close(CLOSE.busy, `at most ${this.ctx.limits.maxSessions} sessions at once; close one and try again`);
        return;
      }
      const session = new Session(ws, this.ctx, this.slots, () => this.nextHandle++);
      this.live.add(session);
      ws.on('close', () => {
        this.live.delete(session);
        void session.dispose();
      });
    });
  }

  get count(): number {
    return this.live.size;
  }

  async close(): Promise<void> {
    for (const s of this.live) s.ws.close(CLOSE.shuttingDown, 'the companion is shutting down');
    for (const ws of this.refused.clients) ws.terminate();
    await Promise.all([
      new Promise<void>((resolve) => this.wss.close(() => resolve())),
      new Promise<void>((resolve) => this.refused.close(() => resolve())),
    ]);
  }
}

interface OpenUpload {
  upload: Upload;
  /** Drops the upload when no frame arrives for limits.uploadIdleMs. */
  idle: NodeJS.Timeout;
}

class Session {
  /** Resolves once `welcome` is sent; undefined until a hello arrives. */
  private welcomed: Promise<boolean> | undefined;
  private disposed = false;
  private bad = 0;
  private readonly subscriptions = new Set<string>();
  private readonly uploads = new Map<number, OpenUpload>();
  /** upload.begin calls still starting their encoder (each holds a slot already). */
  private beginning = 0;
  private readonly helloTimer: NodeJS.Timeout;

  constructor(
    readonly ws: WebSocket,
    private readonly ctx: SessionContext,
    private readonly slots: UploadSlots,
    private readonly nextHandle: () => number,
  ) {
    this.helloTimer = setTimeout(() => this.ws.close(CLOSE.protocolMismatch, 'no hello'), ctx.limits.helloTimeoutMs);
    ws.on('message', (data, isBinary) => {
      const buf = data as Buffer;
      if (isBinary) void this.onBinary(buf);
      else void this.onText(buf.toString('utf8'));
    });
  }

  private send(m: ServerMessage): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(m));
  }

  private error(code: SessionErrorCode | string, message: string, requestId?: string, handle?: number): void {
    this.send({ type: 'error', code, message, ...(requestId ? { requestId } : {}), ...(handle !== undefined ? { handle } : {}) });
  }

  private strike(code: SessionErrorCode, message: string, requestId?: string, handle?: number): void {
    this.error(code, message, requestId, handle);
    if (++this.bad > MAX_BAD_MESSAGES) this.ws.close(CLOSE.badMessage, 'too many bad messages');
  }

  onJobEvent(e: JobEvent): void {
    if (!this.subscriptions.has('*') && !this.subscriptions.has(e.jobId)) return;
    if ((e.event === 'progress' || e.event === 'preview') && this.ws.bufferedAmount > SLOW_CLIENT_BYTES) return;
    this.send({ type: 'event', event: e });
  }

  /** Whether the handshake is done, waiting for it if a hello is being answered. */
  private async greeted(): Promise<boolean> {
    return this.welcomed ? await this.welcomed : false;
  }

  private async onText(text: string): Promise<void> {
    // A large message (a spec with a big mask, or garbage) is parsed off the event loop.
    const parsed: CheckedMessage = text.length > LARGE_MESSAGE_CHARS ? await this.ctx.validator.message(text).catch((e: unknown) => refusedMessage(e)) : parseClientMessage(text);
    if (!this.welcomed && parsed.ok && parsed.msg.type === 'hello') {
      this.welcomed = this.hello(parsed.msg);
      return void (await this.welcomed);
    }
    if (!(await this.greeted())) {
      // Unreadable says what is wrong with it; readable but not hello says hello comes first.
      return parsed.ok ? this.strike('hello_required', 'the first message must be hello') : this.strike(parsed.code, parsed.message, parsed.requestId);
    }
    if (!parsed.ok) {
      // A bad spec in a well-formed submit is the job's problem, not a protocol violation.
      if ((parsed.code as string) === 'bad_spec' || (parsed.code as string) === 'internal') return this.error(parsed.code, parsed.message, parsed.requestId);
      return this.strike(parsed.code, parsed.message, parsed.requestId);
    }
    const msg = parsed.msg;
    try {
      await this.dispatch(msg, parsed.ok && parsed.specChecked === true);
    } catch (e) {
      const requestId = 'requestId' in msg ? msg.requestId : undefined;
      const code = e instanceof UploadError || e instanceof SubmitRefused || e instanceof Refused || isReshootError(e) ? e.code : 'internal';
      if (code === 'internal') console.error('reshoot service: internal error', e);
      this.error(code, code === 'internal' ? 'internal error' : (e as Error).message, requestId);
    }
  }

  private async hello(msg: ClientMessageOf<'hello'>): Promise<boolean> {
    clearTimeout(this.helloTimer);
    if (msg.protocol !== PROTOCOL_VERSION) {
      this.error('protocol_mismatch', `this companion speaks protocol ${PROTOCOL_VERSION}, the client ${msg.protocol}; update ${msg.protocol < PROTOCOL_VERSION ? 'the panel' : 'the companion'}`);
      this.ws.close(CLOSE.protocolMismatch, 'protocol version mismatch');
      return false;
    }
    const models = await this.ctx.models().catch(() => [] as string[]);
    this.send({ type: 'welcome', protocol: PROTOCOL_VERSION, version: RESHOOT_VERSION, providers: this.ctx.providers, models });
    return true;
  }

  private async dispatch(msg: ClientMessage, specChecked: boolean): Promise<void> {
    const { queue } = this.ctx;
    switch (msg.type) {
      case 'hello':
        return this.strike('bad_message', 'hello was already received', undefined);
      case 'ping':
        return this.send({ type: 'pong', requestId: msg.requestId });
      case 'submit': {
        // On disk before "accepted"; a spec that cannot be saved is refused, not half-accepted.
        const spec = await acceptSpecWithFrames(specChecked ? { checked: msg.spec as JobSpec } : { json: msg.spec }, this.ctx.uploadsDir, this.ctx.validator);
        const job = await queue.submit(spec);
        // The submitter hears about its job without asking.
        this.subscriptions.add(job.id);
        return this.send({ type: 'accepted', requestId: msg.requestId, job });
      }
      case 'cancel': {
        if (!queue.get(msg.jobId)) return this.error('not_found', `no job ${msg.jobId}`, msg.requestId);
        queue.cancel(msg.jobId);
        return this.send({ type: 'ok', requestId: msg.requestId });
      }
      case 'subscribe': {
        if (msg.jobId !== '*' && !queue.get(msg.jobId)) return this.error('not_found', `no job ${msg.jobId}`, msg.requestId);
        this.subscriptions.add(msg.jobId);
        const jobs = msg.jobId === '*' ? queue.list() : [queue.get(msg.jobId)!];
        // Catch-up: the events after `since` while the queue still has them, else the record.
        if (msg.since !== undefined && msg.jobId !== '*') {
          const missed = queue.catchUp(msg.jobId, msg.since);
          if (missed && 'events' in missed) {
            for (const e of missed.events) this.send({ type: 'event', event: e });
            return this.send({ type: 'ok', requestId: msg.requestId });
          }
        }
        return this.send({ type: 'snapshot', requestId: msg.requestId, jobs });
      }
      case 'unsubscribe':
        this.subscriptions.delete(msg.jobId);
        return this.send({ type: 'ok', requestId: msg.requestId });
      case 'list':
        return this.send({ type: 'snapshot', requestId: msg.requestId, jobs: queue.list() });
      case 'upload.begin':
        return this.beginUpload(msg);
      case 'upload.end': {
        const entry = [...this.uploads.entries()].find(([, u]) => u.upload.id === msg.uploadId);
        if (!entry) return this.error('unknown_upload', `no upload ${msg.uploadId} open in this session`, msg.requestId);
        const upload = this.closeUpload(entry[0])!;
        await upload.finish();
        return this.send({ type: 'upload.done', requestId: msg.requestId, uploadId: msg.uploadId, frames: upload.received });
      }
    }
  }

  private async beginUpload(msg: ClientMessageOf<'upload.begin'>): Promise<void> {
    const { limits } = this.ctx;
    // Each upload holds an ffmpeg encoder: a few per session, and a few in all.
    if (this.uploads.size + this.beginning >= limits.maxUploadsPerSession) {
      return this.error('busy', `at most ${limits.maxUploadsPerSession} uploads at a time per session; end one first`, msg.requestId);
    }
    if (!this.slots.take()) {
      return this.error('busy', `the companion has ${limits.maxUploads} uploads open already; try again when one ends`, msg.requestId);
    }
    const handle = this.nextHandle();
    this.beginning++;
    let upload: Upload;
    try {
      upload = await Upload.begin(this.ctx.uploadsDir, handle, { width: msg.width, height: msg.height, channels: msg.channels, frames: msg.frames, fps: msg.fps });
    } catch (e) {
      this.slots.give();
      throw e;
    } finally {
      this.beginning--;
    }
    if (this.disposed) {
      // The connection went while the encoder started: nobody will send its frames.
      this.slots.give();
      await upload.abort();
      return;
    }
    this.uploads.set(handle, { upload, idle: this.idleTimer(handle) });
    this.send({ type: 'upload.ready', requestId: msg.requestId, uploadId: upload.id, handle, window: UPLOAD_WINDOW, maxFrameBytes: msg.width * msg.height * msg.channels });
  }

  private idleTimer(handle: number): NodeJS.Timeout {
    const ms = this.ctx.limits.uploadIdleMs;
    return setTimeout(() => {
      const upload = this.closeUpload(handle);
      if (!upload) return;
      this.error('upload_timeout', `upload ${upload.id}: no frame for ${Math.round(ms / 1000)} s; it was dropped, begin it again`, undefined, handle);
      void upload.abort();
    }, ms);
  }

  /** Takes an upload out of this session and frees its slot; the caller finishes or aborts it. */
  private closeUpload(handle: number): Upload | undefined {
    const open = this.uploads.get(handle);
    if (!open) return undefined;
    clearTimeout(open.idle);
    this.uploads.delete(handle);
    this.slots.give();
    return open.upload;
  }

  private async onBinary(buf: Buffer): Promise<void> {
    if (!(await this.greeted())) return this.strike('hello_required', 'the first message must be hello');
    const decoded = decodeFrameMessage(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
    if (!decoded.ok) return this.strike('bad_frame', decoded.message);
    const { header, pixels } = decoded;
    const open = this.uploads.get(header.handle);
    if (!open) return this.strike('unknown_upload', `no upload with handle ${header.handle} open in this session`, undefined, header.handle);
    open.idle.refresh();
    const { upload } = open;
    try {
      const received = await upload.write(header.frameIndex, header.width, header.height, header.channels, pixels);
      this.send({ type: 'upload.ack', handle: header.handle, received });
    } catch (e) {
      if (this.uploads.get(header.handle)?.upload !== upload) return; // already refused: one error per upload
      this.closeUpload(header.handle);
      this.error(e instanceof UploadError ? e.code : isReshootError(e) ? e.code : 'write_failed', (e as Error).message, undefined, header.handle);
      await upload.abort();
    }
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    clearTimeout(this.helloTimer);
    // A connection that drops mid-upload leaves no half-written clip behind.
    for (const handle of [...this.uploads.keys()]) await this.closeUpload(handle)?.abort();
  }
}
