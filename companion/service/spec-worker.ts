/**
 * The validation worker (validator.ts). Requests, one at a time:
 *   { id, op: 'spec', text | json }  a job spec (JSON text or already parsed) → the checked spec
 *   { id, op: 'message', text }      a large WebSocket text message → parseClientMessage's result,
 *                                    a submit's spec already checked
 * Replies `{ id, ok: true, value }` or `{ id, ok: false, code, message, requestId? }`.
 */
import { parentPort } from 'node:worker_threads';
import { parseClientMessage } from '../../protocol/index.ts';
import { isReshootError } from '../errors.ts';
import { checkSpec } from './spec-check.ts';

type Request = { id: number; op: 'spec'; text?: string; json?: unknown } | { id: number; op: 'message'; text: string };

class Refused extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly requestId?: string,
  ) {
    super(message);
  }
}

function spec(r: Extract<Request, { op: 'spec' }>): unknown {
  let json = r.json;
  if (r.text !== undefined) {
    try {
      json = JSON.parse(r.text);
    } catch {
      throw new Refused('bad_message', 'the body is not valid JSON');
    }
  }
  return checkSpec(json);
}

function message(r: Extract<Request, { op: 'message' }>): unknown {
  const parsed = parseClientMessage(r.text);
  if (!parsed.ok || parsed.msg.type !== 'submit') return parsed;
  try {
    return { ...parsed, msg: { ...parsed.msg, spec: checkSpec(parsed.msg.spec) }, specChecked: true };
  } catch (e) {
    if (isReshootError(e)) throw new Refused(e.code, e.message, parsed.msg.requestId);
    throw e;
  }
}

parentPort!.on('message', (r: Request) => {
  try {
    parentPort!.postMessage({ id: r.id, ok: true, value: r.op === 'spec' ? spec(r) : message(r) });
  } catch (e) {
    const known = e instanceof Refused || isReshootError(e);
    parentPort!.postMessage({
      id: r.id,
      ok: false,
      code: known ? (e as { code: string }).code : 'internal',
      message: known ? (e as Error).message : String((e as Error)?.stack ?? e),
      ...(e instanceof Refused && e.requestId ? { requestId: e.requestId } : {}),
    });
  }
});
