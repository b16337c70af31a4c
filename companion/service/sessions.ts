/**
 * WebSocket sessions (ws): the panel's live line to the companion. A session opens with a
 * version handshake, then submits, cancels, subscribes to job events and uploads frames.
 * Every text message is validated by protocol/session.ts; a bad one gets a typed `error` and
 * the session goes on (a client that keeps sending garbage is closed). Binary messages carry
 * upload frames (protocol/binary.ts).
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
  type JobEvent,
  type ServerMessage,
} from '../../protocol/index.ts';
import { isReshootError } from '../errors.ts';
import type { JobBackend } from '../jobs/backend.ts';
import { RESHOOT_VERSION } from '../jobs/run.ts';
import { hostAllowed, originAllowed, tokenMatches, type DoorPolicy } from './security.ts';
import { acceptSpec } from './submit.ts';
import { Upload, UPLOAD_WINDOW } from './uploads.ts';

/** Largest message: one 4096×4096 RGBA frame plus its header. */
export const MAX_MESSAGE_BYTES = 4096 * 4096 * 4 + FRAME_HEADER_BYTES;
/** Progress events are skipped for a client with more than this waiting to be sent. */
const SLOW_CLIENT_BYTES = 4 * 1024 * 1024;
const MAX_BAD_MESSAGES = 20;
const MAX_UPLOADS_PER_SESSION = 2;
const HELLO_TIMEOUT_MS = 10_000;

export interface SessionContext {
  queue: JobBackend;
  policy: DoorPolicy;
  uploadsDir: string;
  providers: string[];
  models: () => Promise<string[]>;
}

export class Sessions {
  readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false });
  private nextHandle = 1;
  private readonly live = new Set<Session>();

  constructor(private readonly ctx: SessionContext) {
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
    if (!hostAllowed(req.headers.host, policy) || !originAllowed(req.headers.origin, policy)) {
      // A refused browser page gets no WebSocket at all.
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const authorized = tokenMatches(url.searchParams.get('token'), policy.token);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      // ws reports a client's protocol violations (a text frame that is not UTF-8, a message over
      // maxPayload, a bad opcode) as an 'error' event and then closes the socket itself (1007,
      // 1009, 1002). Unheard, that event would throw and take the whole companion down.
      ws.on('error', () => undefined);
      if (!authorized) {
        // Completing the handshake first lets the client read a clear close code and reason.
        ws.close(CLOSE.unauthorized, 'missing or wrong token');
        return;
      }
      const session = new Session(ws, this.ctx, () => this.nextHandle++);
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
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

class Session {
  private greeted = false;
  private disposed = false;
  private bad = 0;
  private readonly subscriptions = new Set<string>();
  private readonly uploads = new Map<number, Upload>();
  /** upload.begin calls still starting their encoder. */
  private beginning = 0;
  private readonly helloTimer: NodeJS.Timeout;

  constructor(
    readonly ws: WebSocket,
    private readonly ctx: SessionContext,
    private readonly nextHandle: () => number,
  ) {
    this.helloTimer = setTimeout(() => this.ws.close(CLOSE.protocolMismatch, 'no hello'), HELLO_TIMEOUT_MS);
    ws.on('message', (data, isBinary) => {
      const buf = data as Buffer;
      if (isBinary) void this.onBinary(buf);
      else void this.onText(buf.toString('utf8'));
    });
  }

  private send(m: ServerMessage): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(m));
  }

  private error(code: string, message: string, requestId?: string, handle?: number): void {
    this.send({ type: 'error', code, message, ...(requestId ? { requestId } : {}), ...(handle !== undefined ? { handle } : {}) });
  }

  private strike(code: string, message: string, requestId?: string): void {
    this.error(code, message, requestId);
    if (++this.bad > MAX_BAD_MESSAGES) this.ws.close(CLOSE.badMessage, 'too many bad messages');
  }

  onJobEvent(e: JobEvent): void {
    if (!this.subscriptions.has('*') && !this.subscriptions.has(e.jobId)) return;
    if ((e.event === 'progress' || e.event === 'preview') && this.ws.bufferedAmount > SLOW_CLIENT_BYTES) return;
    this.send({ type: 'event', event: e });
  }

  private async onText(text: string): Promise<void> {
    const parsed = parseClientMessage(text);
    if (!parsed.ok) return this.strike(parsed.code, parsed.message, parsed.requestId);
    const msg = parsed.msg;
    if (!this.greeted) {
      if (msg.type !== 'hello') return this.strike('bad_message', 'the first message must be hello');
      clearTimeout(this.helloTimer);
      if (msg.protocol !== PROTOCOL_VERSION) {
        this.error('protocol_mismatch', `this companion speaks protocol ${PROTOCOL_VERSION}, the client ${msg.protocol}; update ${msg.protocol < PROTOCOL_VERSION ? 'the panel' : 'the companion'}`);
        this.ws.close(CLOSE.protocolMismatch, 'protocol version mismatch');
        return;
      }
      this.greeted = true;
      this.send({ type: 'welcome', protocol: PROTOCOL_VERSION, version: RESHOOT_VERSION, providers: this.ctx.providers, models: await this.ctx.models() });
      return;
    }
    try {
      await this.dispatch(msg);
    } catch (e) {
      const requestId = 'requestId' in msg ? msg.requestId : undefined;
      const code = isReshootError(e) ? e.code : (e as { code?: string }).code === 'bad_spec' ? 'bad_spec' : 'internal';
      if (code === 'internal') console.error('reshoot service: internal error', e);
      this.error(code, code === 'internal' ? 'internal error' : (e as Error).message, requestId);
    }
  }

  private async dispatch(msg: ClientMessage): Promise<void> {
    const { queue } = this.ctx;
    switch (msg.type) {
      case 'hello':
        return this.strike('bad_message', 'hello was already received', undefined);
      case 'ping':
        return this.send({ type: 'pong', requestId: msg.requestId });
      case 'submit': {
        const job = queue.submit(acceptSpec(msg.spec, this.ctx.uploadsDir));
        await queue.saved(job.id);
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
      case 'upload.begin': {
        // Each upload holds an ffmpeg encoder: a session gets a few at a time, not any number.
        if (this.uploads.size + this.beginning >= MAX_UPLOADS_PER_SESSION) {
          return this.error('busy', `at most ${MAX_UPLOADS_PER_SESSION} uploads at a time per session; end one first`, msg.requestId);
        }
        const handle = this.nextHandle();
        this.beginning++;
        const upload = await Upload.begin(this.ctx.uploadsDir, handle, { width: msg.width, height: msg.height, channels: msg.channels, frames: msg.frames, fps: msg.fps }).finally(
          () => this.beginning--,
        );
        if (this.disposed) {
          // The connection went while the encoder started: nobody will send its frames.
          await upload.abort();
          return;
        }
        this.uploads.set(handle, upload);
        return this.send({ type: 'upload.ready', requestId: msg.requestId, uploadId: upload.id, handle, window: UPLOAD_WINDOW, maxFrameBytes: msg.width * msg.height * msg.channels });
      }
      case 'upload.end': {
        const entry = [...this.uploads.entries()].find(([, u]) => u.id === msg.uploadId);
        if (!entry) return this.error('not_found', `no upload ${msg.uploadId} in this session`, msg.requestId);
        this.uploads.delete(entry[0]);
        await entry[1].finish();
        return this.send({ type: 'upload.done', requestId: msg.requestId, uploadId: msg.uploadId, frames: entry[1].received });
      }
    }
  }

  private async onBinary(buf: Buffer): Promise<void> {
    if (!this.greeted) return this.strike('bad_message', 'the first message must be hello');
    const decoded = decodeFrameMessage(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
    if (!decoded.ok) return this.strike('bad_message', decoded.message);
    const { header, pixels } = decoded;
    const upload = this.uploads.get(header.handle);
    if (!upload) return this.strike('not_found', `no upload with handle ${header.handle} in this session`);
    try {
      const received = await upload.write(header.frameIndex, header.width, header.height, header.channels, pixels);
      this.send({ type: 'upload.ack', handle: header.handle, received });
    } catch (e) {
      if (!this.uploads.delete(header.handle)) return; // already refused: one error per upload
      this.error(isReshootError(e) ? e.code : 'write_failed', (e as Error).message, undefined, header.handle);
      await upload.abort();
    }
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    clearTimeout(this.helloTimer);
    // A connection that drops mid-upload leaves no half-written clip behind.
    for (const u of this.uploads.values()) await u.abort();
    this.uploads.clear();
  }
}
