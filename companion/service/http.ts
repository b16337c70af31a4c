/**
 * The HTTP side of the companion (express 5): health without auth, everything else behind the
 * token. JSON in and out; every error is `{ error: { code, message } }` with a fitting status.
 *
 *   GET  /health                 { name, version, protocol }         (no auth)
 *   GET  /models                 models in the cache and built in
 *   GET  /jobs                   job records, oldest first
 *   POST /jobs                   submit a job spec → 201 + record
 *   GET  /jobs/:id               one record
 *   POST /jobs/:id/cancel        cancel → record
 *   GET  /jobs/:id/result        the finished clip, streamed, with range requests
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { PROTOCOL_VERSION } from '../../protocol/index.ts';
import { isReshootError } from '../errors.ts';
import type { JobBackend } from '../jobs/backend.ts';
import { RESHOOT_VERSION } from '../jobs/run.ts';
import { listModels } from '../models/registry.ts';
import { hostAllowed, originAllowed, requestToken, tokenMatches, type DoorPolicy } from './security.ts';
import { acceptSpec } from './submit.ts';

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
};

export function httpApp(queue: JobBackend, policy: DoorPolicy, uploadsDir: string): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // The door: Host, Origin, then (for all but /health) the token.
  app.use((req, res, next) => {
    if (!hostAllowed(req.headers.host, policy)) return sendError(res, 'forbidden', 'this service answers on its loopback address only');
    if (!originAllowed(req.headers.origin, policy)) return sendError(res, 'forbidden', `requests from ${req.headers.origin} are refused`);
    if (req.path === '/health') return next();
    if (!tokenMatches(requestToken(req.headers), policy.token)) return sendError(res, 'unauthorized', 'missing or wrong token (see the companion connection file)');
    next();
  });

  app.get('/health', (_req, res) => {
    res.json({ name: 'reshoot', version: RESHOOT_VERSION, protocol: PROTOCOL_VERSION });
  });

  app.get('/models', async (_req, res) => {
    res.json({ models: await listModels() });
  });

  app.get('/jobs', (_req, res) => {
    res.json({ jobs: queue.list() });
  });

  app.post('/jobs', express.json({ limit: '1mb' }), async (req, res) => {
    const job = queue.submit(acceptSpec(req.body, uploadsDir));
    await queue.saved(job.id); // on disk before the client hears "created"
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
    if (job.spec && (job.spec as { output?: { format?: string } }).output?.format === 'png') {
      throw new HttpError('conflict', `job ${job.id} wrote a PNG sequence (a folder): read it from ${job.result.path}`);
    }
    // sendFile streams and answers Range requests; the path comes from our own record only.
    res.sendFile(job.result.path, { dotfiles: 'deny', acceptRanges: true, lastModified: true }, (err) => {
      if (err && !res.headersSent) next(err);
    });
  });

  app.use((_req, res) => sendError(res, 'not_found', 'no such endpoint'));

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    if (err instanceof HttpError) return sendError(res, err.code, err.message);
    const e = err as { code?: string; message?: string; type?: string; status?: number };
    if (e.type === 'entity.parse.failed') return sendError(res, 'bad_message', 'the body is not valid JSON');
    if (e.type === 'entity.too.large') return sendError(res, 'too_large', 'the body is larger than 1 MiB');
    if (isReshootError(err) || (e.code && e.message && e.code === 'bad_spec')) return sendError(res, e.code!, e.message!);
    if (e.status === 404) return sendError(res, 'not_found', 'the result file is missing');
    // Other client errors from express and its parsers (a malformed %-escape in the path, an
    // unsupported charset or content encoding): the request is at fault, not the service.
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
      const message = (err as { expose?: boolean }).expose && e.message ? e.message.slice(0, 200) : 'bad request';
      return void res.status(e.status).json({ error: { code: 'bad_message', message } });
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
  res.status(STATUS[code] ?? 500).json({ error: { code, message } });
}
