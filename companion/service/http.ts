/**
 * The HTTP side of the companion (express 5): health without auth, everything else behind the
 * token. JSON in and out; every error is `{ error: { code, message } }` with a fitting status.
 *
 *   GET  /health                 { name, version, protocol, origin, token }   (no auth, no Origin check)
 *   GET  /models                 models in the cache and built in
 *   GET  /jobs                   job records, oldest first
 *   POST /jobs                   submit a job spec → 201 + record
 *   GET  /jobs/:id               one record
 *   POST /jobs/:id/cancel        cancel → record
 *   GET  /jobs/:id/result        the finished clip, streamed, with range requests
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { PROTOCOL_VERSION } from '../../protocol/index.ts';
import { SEQUENCE_FORMATS } from '../../protocol/jobspec.ts';
import { isReshootError } from '../errors.ts';
import type { JobBackend } from '../jobs/backend.ts';
import { SubmitRefused } from '../jobs/queue.ts';
import { RESHOOT_VERSION } from '../jobs/run.ts';
import { listModels } from '../models/registry.ts';
import { acceptSpecWithFrames } from './localFrames.ts';
import { RefusalLog, originAllowed, refusal, requestToken, tokenMatches, type DoorPolicy } from './security.ts';
import { Refused, type SpecValidator } from './validator.ts';

const STATUS: Record<string, number> = {
  bad_spec: 400,
  bad_message: 400,
  bad_range: 400,
  bad_mask: 400,
  too_large: 413,
  source_missing: 404,
  not_found: 404,
  unauthorized: 401,
  forbidden: 403,
  conflict: 409,
  range_not_satisfiable: 416,
  disk_full: 507,
  write_failed: 503,
};

export function httpApp(queue: JobBackend, policy: DoorPolicy, uploadsDir: string, validator: SpecValidator): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // The door: Host, Origin, then (for all but /health) the token.
  const refusals = policy.refusals ?? new RefusalLog();
  app.use((req, res, next) => {
    const why = refusal(req.headers, policy);
    if (why === 'host') {
      refusals.refused('HTTP', why, req.headers, req.path);
      return sendError(res, 'forbidden', 'this service answers on its loopback address only');
    }
    // /health answers any Origin (no CORS headers: a web page still cannot read it), so a panel
    // whose WebSocket is refused can learn why.
    if (req.path === '/health') return next();
    if (why === 'origin') {
      refusals.refused('HTTP', why, req.headers, req.path);
      return sendError(res, 'forbidden', `requests from ${req.headers.origin} are refused`);
    }
    if (!tokenMatches(requestToken(req.headers), policy.token)) return sendError(res, 'unauthorized', 'missing or wrong token (see the companion connection file)');
    next();
  });

  /**
   * Diagnostics for the panel: is its Origin admitted (and which one did it send), and is the
   * token it holds right. The token verdict is given only to an admitted Origin.
   */
  app.get('/health', (req, res) => {
    const origin = req.headers.origin ?? null;
    const admitted = originAllowed(req.headers.origin, policy);
    if (!admitted) refusals.refused('HTTP', 'origin', req.headers, req.path);
    const given = requestToken(req.headers);
    const token = !admitted ? 'unchecked' : given === undefined ? 'absent' : tokenMatches(given, policy.token) ? 'valid' : 'invalid';
    res.json({ name: 'reshoot', version: RESHOOT_VERSION, protocol: PROTOCOL_VERSION, origin: { sent: origin, admitted }, token });
  });

  app.get('/models', async (_req, res) => {
    res.json({ models: await listModels() });
  });

  app.get('/jobs', (_req, res) => {
    res.json({ jobs: queue.list() });
  });

  // The body is read as text and parsed with the spec in the validation worker (validator.ts).
  app.post('/jobs', express.text({ type: 'application/json', limit: '1mb' }), async (req, res) => {
    const input = typeof req.body === 'string' ? { text: req.body } : { json: undefined };
    // On disk before the client hears "created"; a job that cannot be saved is refused whole.
    const job = await queue.submit(await acceptSpecWithFrames(input, uploadsDir, validator));
    res.status(201).json({ job });
  });

  app.get('/jobs/:id', (req, res) => {
    res.json({ job: requireJob(queue, req.params.id!) });
  });

  app.post('/jobs/:id/cancel', (req, res) => {
    requireJob(queue, req.params.id!);
    res.json({ job: queue.cancel(req.params.id!) });
  });

  app.get('/jobs/:id/result', (req, res, next) => {
    const job = requireJob(queue, req.params.id!);
    if (job.state !== 'done' || !job.result) throw new HttpError('conflict', `job ${job.id} is ${job.state}, it has no result yet`);
    const format = (job.spec as { output?: { format?: string } } | undefined)?.output?.format;
    if (format && SEQUENCE_FORMATS.includes(format)) {
      throw new HttpError('conflict', `job ${job.id} wrote a ${format.toUpperCase()} sequence (a folder): read it from ${job.result.path}`);
    }
    // sendFile streams and answers Range requests. The path comes from our own record only, and
    // the default Linux home is under ~/.local, so dot-folders in it are expected, not a probe.
    res.sendFile(job.result.path, { dotfiles: 'allow', acceptRanges: true, lastModified: true }, (err) => {
      if (err && !res.headersSent) next(err);
    });
  });

  app.use((_req, res) => sendError(res, 'not_found', 'no such endpoint'));

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    if (err instanceof HttpError) return sendError(res, err.code, err.message);
    if (err instanceof SubmitRefused || err instanceof Refused) return sendError(res, err.code, err.message);
    const e = err as { code?: string; message?: string; type?: string; status?: number };
    if (e.type === 'entity.parse.failed') return sendError(res, 'bad_message', 'the body is not valid JSON');
    if (e.type === 'entity.too.large') return sendError(res, 'too_large', 'the body is larger than 1 MiB');
    if (isReshootError(err) || (e.code && e.message && e.code === 'bad_spec')) return sendError(res, e.code!, e.message!);
    if (e.status === 404) return sendError(res, 'not_found', 'the result file is missing');
    if (e.status === 416) return sendError(res, 'range_not_satisfiable', 'the requested byte range is not within the result file (see Content-Range for its size)');
    // Other client errors from express and its parsers (a malformed %-escape in the path, an
    // unsupported charset or content encoding): the request is at fault, not the service.
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      const message = (err as { expose?: boolean }).expose && e.message ? e.message.slice(0, 200) : 'bad request';
      return void res.status(e.status).type('application/json').json({ error: { code: 'bad_message', message } });
    }
    console.error('reshoot service: internal error', err);
    sendError(res, 'internal', 'internal error');
  });
  return app;
}

class HttpError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function requireJob(queue: JobBackend, id: string) {
  const job = queue.get(id);
  if (!job) throw new HttpError('not_found', `no job ${JSON.stringify(id.slice(0, 40))}`);
  return job;
}

function sendError(res: Response, code: string, message: string): void {
  // Explicitly JSON: a failed sendFile may already have labelled the reply as the video.
  res.status(STATUS[code] ?? 500).type('application/json').json({ error: { code, message } });
}
