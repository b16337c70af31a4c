/**
 * The WebSocket session between panel and companion: every JSON message either side sends.
 * Shared by both (no Node, no DOM). Binary frames for uploads are in binary.ts.
 *
 * A session: the client sends `hello` first (no requestId); the server answers `welcome` or
 * closes with CLOSE.protocolMismatch. Every later client message carries a `requestId` that the
 * server's answer (`accepted`, `snapshot`, `ok`, `upload.ready`, `upload.done`, `pong`, `error`)
 * echoes. `event` and `upload.ack` are unsolicited.
 *
 * Every object is strict: an unknown field is refused (the server's own messages too, so a test
 * that validates what the server sends catches a misspelt field).
 */
import { z } from 'zod';
import { fpsSchema } from './fields.ts';
import { issueMessage, issuesFromZod, type SpecIssue } from './issues.ts';
import { jobEventSchema, jobRecordSchema } from './jobs.ts';
import { uploadIdSchema } from './jobspec.ts';

export const PROTOCOL_VERSION = 1;

/** WebSocket close codes the companion uses. */
export const CLOSE = {
  unauthorized: 4001,
  protocolMismatch: 4002,
  originRefused: 4003,
  /** Too many bad messages on one connection. */
  badMessage: 4004,
  tooLarge: 1009,
  shuttingDown: 1001,
  /** Too many sessions at once (RFC 6455 "try again later"). */
  busy: 1013,
} as const;
export type CloseCode = (typeof CLOSE)[keyof typeof CLOSE];

/**
 * Codes the session itself puts in `error` messages. A failed `submit` may also carry a job
 * error code (source_missing, bad_range, ...), so `error.code` is validated as any string.
 */
export const ERROR_CODES = [
  'bad_message', // not JSON, not an object, unknown type or a bad field
  'too_large', // a message over the size limit
  'hello_required', // a message before `hello`
  'protocol_mismatch', // hello.protocol is not PROTOCOL_VERSION
  'unauthorized', // missing or wrong token
  'bad_spec', // submit: the job spec failed validation (the first problems and a count)
  'not_found', // cancel/subscribe/unsubscribe: no such job
  'unknown_upload', // upload.end or a frame names no open upload
  'bad_frame', // a binary frame is malformed or does not match its upload
  'window_exceeded', // more frames unacknowledged than upload.ready's window
  'upload_incomplete', // upload.end before every declared frame arrived
  'upload_timeout', // an open upload received no frame for a while and was dropped
  'busy', // too many uploads or jobs at once
  'disk_full', // submit: the job could not be saved, so it was not accepted
  'shutting_down',
  'internal',
] as const;
export type SessionErrorCode = (typeof ERROR_CODES)[number];

/** What one upload may declare in upload.begin. */
export const UPLOAD_LIMITS = { minSize: 16, maxSize: 4096, maxFrames: 10_000 } as const;

/** Longest client message parseClientMessage will even try to parse (UTF-16 code units). */
export const MAX_CLIENT_MESSAGE_CHARS = 1 << 20;
/** Longest server message parseServerMessage accepts (a snapshot of many jobs may be large). */
export const MAX_SERVER_MESSAGE_CHARS = 64 << 20;

// ---------------------------------------------------------------------------------------------
// Fields

export const requestIdSchema = z
  .string({ error: 'expected a string' })
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters');
const jobId = z.string({ error: 'expected a job id' }).min(1, 'must not be empty').max(128, 'must be at most 128 characters');
const int = (what = 'a whole number') => z.number({ error: `expected ${what}` }).int(`expected ${what}`);
const count = () => int().min(0, 'must be at least 0');
const u32 = () => int().min(0, 'must be at least 0').max(0xffffffff, 'must be at most 4294967295');
const frameCount = () =>
  int().min(1, 'must be at least 1').max(UPLOAD_LIMITS.maxFrames, `must be at most ${UPLOAD_LIMITS.maxFrames}`);
const size = () =>
  int('a whole number of pixels')
    .min(UPLOAD_LIMITS.minSize, `must be at least ${UPLOAD_LIMITS.minSize} pixels`)
    .max(UPLOAD_LIMITS.maxSize, `must be at most ${UPLOAD_LIMITS.maxSize} pixels`);

// ---------------------------------------------------------------------------------------------
// Client → server

export const helloSchema = z.strictObject({
  type: z.literal('hello'),
  protocol: int('a protocol version').min(0, 'must be at least 0'),
  /** Free text for logs, e.g. "reshoot-panel 0.1.0 / Premiere 25.2". */
  client: z.string({ error: 'expected a string' }).max(200, 'must be at most 200 characters').optional(),
});

export const submitSchema = z.strictObject({
  type: z.literal('submit'),
  requestId: requestIdSchema,
  /** Validated separately with parseJobSpec, so its problems are reported as a spec's. */
  spec: z.unknown().refine((v) => v !== undefined, 'required'),
});

export const cancelSchema = z.strictObject({ type: z.literal('cancel'), requestId: requestIdSchema, jobId });

export const SUBSCRIBE_ALL = '*';
export const subscribeSchema = z.strictObject({
  type: z.literal('subscribe'),
  requestId: requestIdSchema,
  /** A job id, or '*' for every job, new ones included. */
  jobId,
  /** The last seq the client saw: events after it are replayed. */
  since: count().optional(),
});

export const unsubscribeSchema = z.strictObject({ type: z.literal('unsubscribe'), requestId: requestIdSchema, jobId });

export const listSchema = z.strictObject({ type: z.literal('list'), requestId: requestIdSchema });

export const uploadBeginSchema = z.strictObject({
  type: z.literal('upload.begin'),
  requestId: requestIdSchema,
  width: size(),
  height: size(),
  channels: z.union([z.literal(3), z.literal(4)], { error: 'expected 3 (RGB) or 4 (RGBA)' }),
  frames: frameCount(),
  fps: fpsSchema,
});

export const uploadEndSchema = z.strictObject({ type: z.literal('upload.end'), requestId: requestIdSchema, uploadId: uploadIdSchema });

export const pingSchema = z.strictObject({ type: z.literal('ping'), requestId: requestIdSchema });

const CLIENT_SCHEMAS = {
  hello: helloSchema,
  submit: submitSchema,
  cancel: cancelSchema,
  subscribe: subscribeSchema,
  unsubscribe: unsubscribeSchema,
  list: listSchema,
  'upload.begin': uploadBeginSchema,
  'upload.end': uploadEndSchema,
  ping: pingSchema,
} as const;
export const CLIENT_MESSAGE_TYPES = Object.keys(CLIENT_SCHEMAS) as (keyof typeof CLIENT_SCHEMAS)[];

export const clientMessageSchema = z.discriminatedUnion('type', [
  helloSchema,
  submitSchema,
  cancelSchema,
  subscribeSchema,
  unsubscribeSchema,
  listSchema,
  uploadBeginSchema,
  uploadEndSchema,
  pingSchema,
]);

/** A parsed client message (fps reduced to {num, den}). */
export type ClientMessage = z.output<typeof clientMessageSchema>;
/** What a client may send (fps in any accepted form). */
export type ClientMessageInput = z.input<typeof clientMessageSchema>;
export type ClientMessageType = ClientMessage['type'];
export type ClientMessageOf<T extends ClientMessageType> = Extract<ClientMessage, { type: T }>;

// ---------------------------------------------------------------------------------------------
// Server → client

export const welcomeSchema = z.strictObject({
  type: z.literal('welcome'),
  protocol: int('a protocol version'),
  /** The companion's version. */
  version: z.string(),
  /** Execution providers available, e.g. ["cuda", "cpu"]. */
  providers: z.array(z.string()),
  models: z.array(z.string()),
});

export const errorSchema = z.strictObject({
  type: z.literal('error'),
  /** Absent when the failing message had no usable requestId. */
  requestId: requestIdSchema.optional(),
  code: z.string().min(1, 'must not be empty'),
  message: z.string(),
  /** For a refused binary frame: the upload handle it was for (frames carry no requestId). */
  handle: z.number().int().nonnegative().optional(),
});

export const acceptedSchema = z.strictObject({ type: z.literal('accepted'), requestId: requestIdSchema, job: jobRecordSchema });

export const eventSchema = z.strictObject({ type: z.literal('event'), event: jobEventSchema });

export const snapshotSchema = z.strictObject({ type: z.literal('snapshot'), requestId: requestIdSchema, jobs: z.array(jobRecordSchema) });

export const okSchema = z.strictObject({ type: z.literal('ok'), requestId: requestIdSchema });

export const uploadReadySchema = z.strictObject({
  type: z.literal('upload.ready'),
  requestId: requestIdSchema,
  uploadId: uploadIdSchema,
  /** Goes in every binary frame of this upload (binary.ts). */
  handle: u32(),
  /** Frames the client may have sent and not yet seen acknowledged. */
  window: int().min(1, 'must be at least 1'),
  maxFrameBytes: int().min(1, 'must be at least 1'),
});

export const uploadAckSchema = z.strictObject({
  type: z.literal('upload.ack'),
  handle: u32(),
  /** Frames written so far. */
  received: count(),
});

export const uploadDoneSchema = z.strictObject({
  type: z.literal('upload.done'),
  requestId: requestIdSchema,
  uploadId: uploadIdSchema,
  frames: frameCount(),
});

export const pongSchema = z.strictObject({ type: z.literal('pong'), requestId: requestIdSchema });

const SERVER_SCHEMAS = {
  welcome: welcomeSchema,
  error: errorSchema,
  accepted: acceptedSchema,
  event: eventSchema,
  snapshot: snapshotSchema,
  ok: okSchema,
  'upload.ready': uploadReadySchema,
  'upload.ack': uploadAckSchema,
  'upload.done': uploadDoneSchema,
  pong: pongSchema,
} as const;
export const SERVER_MESSAGE_TYPES = Object.keys(SERVER_SCHEMAS) as (keyof typeof SERVER_SCHEMAS)[];

export const serverMessageSchema = z.discriminatedUnion('type', [
  welcomeSchema,
  errorSchema,
  acceptedSchema,
  eventSchema,
  snapshotSchema,
  okSchema,
  uploadReadySchema,
  uploadAckSchema,
  uploadDoneSchema,
  pongSchema,
]);

export type ServerMessage = z.output<typeof serverMessageSchema>;
export type ServerMessageInput = z.input<typeof serverMessageSchema>;
export type ServerMessageType = ServerMessage['type'];
export type ServerMessageOf<T extends ServerMessageType> = Extract<ServerMessage, { type: T }>;

// ---------------------------------------------------------------------------------------------
// Parsing

export type MessageParseError = {
  ok: false;
  code: 'bad_message' | 'too_large';
  /** One line for the `error` reply: which message, which field, what is wrong. */
  message: string;
  /** Field-level problems, when the message was an object of a known type. */
  issues?: SpecIssue[];
  /** The message's requestId when it had a usable one, so the error reply can echo it. */
  requestId?: string;
};
export type ClientParseResult = { ok: true; msg: ClientMessage } | MessageParseError;
export type ServerParseResult = { ok: true; msg: ServerMessage } | MessageParseError;

/** Parses one text message from a client. Never throws. */
export function parseClientMessage(text: string, opts: { maxChars?: number } = {}): ClientParseResult {
  return parseMessage(text, CLIENT_SCHEMAS, opts.maxChars ?? MAX_CLIENT_MESSAGE_CHARS) as ClientParseResult;
}

/** Parses one text message from the companion (for the panel). Never throws. */
export function parseServerMessage(text: string, opts: { maxChars?: number } = {}): ServerParseResult {
  return parseMessage(text, SERVER_SCHEMAS, opts.maxChars ?? MAX_SERVER_MESSAGE_CHARS) as ServerParseResult;
}

function parseMessage(
  text: unknown,
  schemas: Record<string, z.ZodType>,
  maxChars: number,
): { ok: true; msg: unknown } | MessageParseError {
  try {
    if (typeof text !== 'string') return bad(`expected a text message, got ${typeof text}`);
    if (text.length > maxChars) {
      return { ok: false, code: 'too_large', message: `message is ${text.length} characters; the limit is ${maxChars}` };
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      return bad(`not valid JSON (${clip(e instanceof Error ? e.message : String(e), 100)})`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      return bad(`expected a JSON object, got ${kindOf(json)}`);
    }
    const obj = json as Record<string, unknown>;
    const requestId = usableRequestId(obj.requestId);
    const withId = (e: MessageParseError): MessageParseError => (requestId === undefined ? e : { ...e, requestId });
    const type = obj.type;
    const accepted = Object.keys(schemas).map((t) => JSON.stringify(t)).join(', ');
    if (type === undefined) return withId(bad(`type: required (one of ${accepted})`));
    if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(schemas, type)) {
      return withId(bad(`type: unknown message type ${kindOf(type)} (expected one of ${accepted})`));
    }
    const r = schemas[type]!.safeParse(obj, { error: issueMessage, reportInput: true });
    if (r.success) return { ok: true, msg: r.data };
    const issues = issuesFromZod(r.error.issues).map((i) => ({ path: i.path, message: clip(i.message, 200) }));
    const shown = issues.slice(0, 5).map((i) => `${i.path || '(message)'}: ${i.message}`);
    if (issues.length > shown.length) shown.push(`and ${issues.length - shown.length} more`);
    return withId({ ...bad(`bad "${type}" message: ${shown.join('; ')}`), issues });
  } catch (e) {
    // Nothing above should throw; if something does (a pathological input), it is still a bad message.
    return bad(`unreadable message (${clip(e instanceof Error ? e.message : String(e), 100)})`);
  }
}

function bad(message: string): MessageParseError {
  return { ok: false, code: 'bad_message', message };
}

function usableRequestId(v: unknown): string | undefined {
  return typeof v === 'string' && v.length >= 1 && v.length <= 64 ? v : undefined;
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return JSON.stringify(clip(v, 40));
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeof v;
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
