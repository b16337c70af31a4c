import { describe, expect, it } from 'vitest';
import {
  CLIENT_MESSAGE_TYPES,
  CLOSE,
  ERROR_CODES,
  MAX_CLIENT_MESSAGE_CHARS,
  PROTOCOL_VERSION,
  SERVER_MESSAGE_TYPES,
  clientMessageSchema,
  parseClientMessage,
  parseServerMessage,
  serverMessageSchema,
  type ClientMessage,
  type ClientMessageOf,
  type MessageParseError,
  type ServerMessage,
} from '../../protocol/index.ts';
import { clientExamples, optionalFields, serverExamples, wrongValues } from './messages.ts';

const sides = [
  { side: 'client', examples: clientExamples as Record<string, Record<string, unknown>>, parse: parseClientMessage, types: CLIENT_MESSAGE_TYPES },
  { side: 'server', examples: serverExamples as Record<string, Record<string, unknown>>, parse: parseServerMessage, types: SERVER_MESSAGE_TYPES },
] as const;

function refused(parse: (t: string) => ReturnType<typeof parseClientMessage | typeof parseServerMessage>, msg: unknown): MessageParseError {
  const r = parse(typeof msg === 'string' ? msg : JSON.stringify(msg));
  if (r.ok) throw new Error(`expected ${JSON.stringify(msg)} to be refused`);
  return r;
}

/** The refusal names `path` in its one-line message and in its issues. */
function expectFieldProblem(err: MessageParseError, path: string, text: string | RegExp = /./) {
  const issue = err.issues?.find((i) => i.path === path && (typeof text === 'string' ? i.message.includes(text) : text.test(i.message)));
  expect(issue, `no issue at ${path} matching ${text} in ${JSON.stringify(err)}`).toBeDefined();
  expect(err.message).toContain(`${path}: `);
  expect(err.code).toBe('bad_message');
}

describe('constants', () => {
  it('exports the protocol version, close codes and error codes', () => {
    expect(PROTOCOL_VERSION).toBe(1);
    expect(CLOSE).toEqual({ unauthorized: 4001, protocolMismatch: 4002, originRefused: 4003, badMessage: 4004, tooLarge: 1009, shuttingDown: 1001, busy: 1013 });
    for (const code of ['bad_message', 'too_large', 'hello_required', 'bad_frame', 'unknown_upload', 'window_exceeded', 'upload_incomplete', 'upload_timeout', 'busy', 'disk_full']) {
      expect(ERROR_CODES).toContain(code);
    }
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
  });

  it('has an example for every message type', () => {
    expect(Object.keys(clientExamples).sort()).toEqual([...CLIENT_MESSAGE_TYPES].sort());
    expect(Object.keys(serverExamples).sort()).toEqual([...SERVER_MESSAGE_TYPES].sort());
  });
});

for (const { side, examples, parse } of sides) {
  describe(`${side} message contract`, () => {
    describe.each(Object.keys(examples))('%s', (type) => {
      const example = examples[type]!;
      const fields = Object.keys(example);

      it('a valid example parses', () => {
        const r = parse(JSON.stringify(example));
        expect(r.ok, JSON.stringify(r)).toBe(true);
        if (r.ok) expect(r.msg.type).toBe(type);
        // The zod schema agrees with the helper.
        const schema = side === 'client' ? clientMessageSchema : serverMessageSchema;
        expect(schema.safeParse(example).success).toBe(true);
      });

      it('without its optional fields it still parses', () => {
        const bare = Object.fromEntries(Object.entries(example).filter(([k]) => !(optionalFields[type] ?? []).includes(k)));
        expect(parse(JSON.stringify(bare)).ok).toBe(true);
      });

      it.each(fields.filter((f) => f !== 'type' && !(optionalFields[type] ?? []).includes(f)))('missing %s is named', (field) => {
        const { [field]: _dropped, ...rest } = example;
        const err = refused(parse, rest);
        expectFieldProblem(err, field, 'required');
      });

      it('missing type is named', () => {
        const { type: _t, ...rest } = example;
        const err = refused(parse, rest);
        expect(err.code).toBe('bad_message');
        expect(err.message).toMatch(/^type: required/);
      });

      it('an unknown field is refused', () => {
        expectFieldProblem(refused(parse, { ...example, extra: 1 }), 'extra', 'unknown field "extra"');
      });

      it('a near-miss field name gets a suggestion', () => {
        const field = fields.find((f) => f !== 'type' && f.length >= 5);
        if (!field) return;
        const { [field]: value, ...rest } = example;
        const misspelt = field.toLowerCase() === field ? field.toUpperCase() : field.toLowerCase();
        const err = refused(parse, { ...rest, [misspelt]: value });
        expectFieldProblem(err, misspelt, `did you mean "${field}"`);
      });

      it.each(fields.filter((f) => f !== 'type').flatMap((f) => (wrongValues[f] ?? []).map((v) => [f, v] as const)))(
        '%s = %j is refused',
        (field, value) => {
          const err = refused(parse, { ...example, [field]: value });
          expect(err.issues?.some((i) => i.path === field || i.path.startsWith(`${field}.`) || i.path.startsWith(`${field}[`)), JSON.stringify(err)).toBe(true);
        },
      );
    });
  });
}

describe('client messages', () => {
  it('normalizes the upload frame rate', () => {
    const r = parseClientMessage(JSON.stringify(clientExamples['upload.begin']));
    expect(r.ok && r.msg).toMatchObject({ type: 'upload.begin', fps: { num: 24000, den: 1001 }, channels: 4 });
  });

  it('types narrow on type', () => {
    const r = parseClientMessage(JSON.stringify(clientExamples.subscribe));
    if (!r.ok || r.msg.type !== 'subscribe') throw new Error('expected subscribe');
    const m: ClientMessageOf<'subscribe'> = r.msg;
    expect(m.jobId).toBe('*');
    expect(m.since).toBe(4);
  });

  it('hello carries no requestId; every other message needs one', () => {
    expectFieldProblem(refused(parseClientMessage, { ...clientExamples.hello, requestId: 'x' }), 'requestId', 'unknown field');
    for (const [type, example] of Object.entries(clientExamples)) {
      if (type === 'hello') continue;
      const { requestId: _r, ...rest } = example as Record<string, unknown>;
      expectFieldProblem(refused(parseClientMessage, rest), 'requestId', 'required');
    }
  });

  it('accepts any protocol number in hello (the server reports a mismatch, not the parser)', () => {
    const r = parseClientMessage(JSON.stringify({ type: 'hello', protocol: 2 }));
    expect(r.ok && r.msg.type === 'hello' && r.msg.protocol).toBe(2);
  });

  it('submit carries any spec, but needs one', () => {
    for (const spec of [null, 0, 'x', [], { kind: 'fill' }]) {
      expect(parseClientMessage(JSON.stringify({ type: 'submit', requestId: 'r', spec })).ok).toBe(true);
    }
    expectFieldProblem(refused(parseClientMessage, { type: 'submit', requestId: 'r' }), 'spec', 'required');
  });

  it('checks upload dimensions at the edges', () => {
    const base = clientExamples['upload.begin'];
    for (const [w, h, f] of [[16, 16, 1], [4096, 4096, 10_000]]) {
      expect(parseClientMessage(JSON.stringify({ ...base, width: w, height: h, frames: f })).ok).toBe(true);
    }
    expectFieldProblem(refused(parseClientMessage, { ...base, width: 4097 }), 'width', 'at most 4096');
    expectFieldProblem(refused(parseClientMessage, { ...base, channels: 5 }), 'channels', 'expected 3 (RGB) or 4 (RGBA)');
    expectFieldProblem(refused(parseClientMessage, { ...base, fps: 1000 }), 'fps', 'between 1 and 240');
  });

  it('reports every bad field of one message', () => {
    const err = refused(parseClientMessage, { type: 'upload.begin', requestId: 'r', width: 1, height: 'x', channels: 2, frames: 0, fps: 'no' });
    expect(err.issues?.map((i) => i.path)).toEqual(['width', 'height', 'channels', 'frames', 'fps']);
    expect(err.message).toMatch(/^bad "upload.begin" message: width: /);
  });

  it('echoes a usable requestId with the error', () => {
    expect(refused(parseClientMessage, { type: 'cancel', requestId: 'abc' }).requestId).toBe('abc');
    expect(refused(parseClientMessage, { type: 'nope', requestId: 'abc' }).requestId).toBe('abc');
    expect(refused(parseClientMessage, { type: 'cancel', requestId: 5 }).requestId).toBeUndefined();
    expect(refused(parseClientMessage, { type: 'cancel', requestId: 'x'.repeat(65) }).requestId).toBeUndefined();
  });
});

describe('refused input', () => {
  it('invalid JSON', () => {
    for (const text of ['', '{', 'nul', '{"type":"ping",}', "{'type':'ping'}", '\u0000']) {
      const err = refused(parseClientMessage, text);
      expect(err.code).toBe('bad_message');
      expect(err.message).toMatch(/^not valid JSON/);
    }
  });

  it('non-objects', () => {
    for (const [text, got] of [['[]', 'a list'], ['null', 'null'], ['5', '5'], ['"ping"', '"ping"'], ['true', 'true']]) {
      expect(refused(parseClientMessage, text!).message).toBe(`expected a JSON object, got ${got}`);
    }
  });

  it('unknown or inherited message types', () => {
    for (const type of ['nope', 'welcome', 'toString', '__proto__', 'constructor', 'hasOwnProperty', 5, null, {}, []]) {
      const err = refused(parseClientMessage, { type, requestId: 'r' });
      expect(err.message).toMatch(/^type: unknown message type .* \(expected one of "hello", "submit"/);
    }
    // A client message is not a server message and vice versa.
    expect(refused(parseServerMessage, clientExamples.ping).message).toMatch(/unknown message type "ping"/);
  });

  it('__proto__ keys are unknown fields, not prototypes', () => {
    const err = refused(parseClientMessage, '{"type":"ping","requestId":"r","__proto__":{"polluted":1}}');
    expectFieldProblem(err, '__proto__', 'unknown field');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('too large, without parsing', () => {
    const big = JSON.stringify({ type: 'submit', requestId: 'r', spec: { prompt: 'x'.repeat(MAX_CLIENT_MESSAGE_CHARS) } });
    const err = refused(parseClientMessage, big);
    expect(err.code).toBe('too_large');
    expect(err.message).toContain(String(MAX_CLIENT_MESSAGE_CHARS));
    // Even if it is not JSON at all.
    expect(refused(parseClientMessage, '{'.repeat(MAX_CLIENT_MESSAGE_CHARS + 1)).code).toBe('too_large');
    expect(refused((t) => parseClientMessage(t, { maxChars: 10 }), clientExamples.ping).code).toBe('too_large');
  });

  it('a non-string (e.g. a Buffer handed over by mistake) is refused, not thrown', () => {
    for (const v of [undefined, null, 5, new Uint8Array(3), {}]) {
      const r = parseClientMessage(v as unknown as string);
      expect(r.ok).toBe(false);
      expect(!r.ok && r.code).toBe('bad_message');
    }
  });

  it('deep nesting does not throw', () => {
    const deep = '{"type":"submit","requestId":"r","spec":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}';
    expect(() => parseClientMessage(deep)).not.toThrow();
    const deepBad = '{"type":"cancel","requestId":"r","jobId":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}';
    expect(parseClientMessage(deepBad).ok).toBe(false);
  });

  it('caps the message length of huge problem lists', () => {
    const err = refused(parseServerMessage, { type: 'snapshot', requestId: 'r', jobs: Array.from({ length: 500 }, () => ({})) });
    expect(err.message.length).toBeLessThan(1000);
    expect(err.message).toMatch(/and \d+ more$/);
    expect(err.issues!.length).toBeGreaterThan(500);
  });
});

describe('server messages', () => {
  it('parses job records and events with the jobs.ts schemas', () => {
    const r = parseServerMessage(JSON.stringify(serverExamples.snapshot));
    if (!r.ok || r.msg.type !== 'snapshot') throw new Error('expected a snapshot');
    expect(r.msg.jobs[0]!.state).toBe('running');
    const err = refused(parseServerMessage, { type: 'event', event: { event: 'done', jobId: 'j', seq: 1 } });
    expectFieldProblem(err, 'event.result', 'required');
  });

  it('an error may have no requestId', () => {
    const r = parseServerMessage(JSON.stringify({ type: 'error', code: 'bad_message', message: 'not valid JSON' }));
    expect(r.ok).toBe(true);
  });

  it('type-checks what the server builds', () => {
    const msgs: ServerMessage[] = [
      { type: 'pong', requestId: 'r' },
      { type: 'upload.ack', handle: 1, received: 2 },
    ];
    const client: ClientMessage = { type: 'upload.begin', requestId: 'r', width: 64, height: 64, channels: 3, frames: 1, fps: { num: 25, den: 1 } };
    for (const m of msgs) expect(serverMessageSchema.safeParse(m).success).toBe(true);
    expect(clientMessageSchema.safeParse(client).success).toBe(true);
  });
});
