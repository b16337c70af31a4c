/**
 * Property test: whatever arrives on the socket, parsing returns a value (ok, or a typed error)
 * and never throws. Seeded, so a failure reproduces; bounded, so it runs in well under 2 s.
 */
import { describe, expect, it } from 'vitest';
import {
  CLIENT_MESSAGE_TYPES,
  SERVER_MESSAGE_TYPES,
  clientMessageSchema,
  decodeFrameMessage,
  encodeFrameMessage,
  parseClientMessage,
  parseServerMessage,
  safeParseJobSpec,
  serverMessageSchema,
  type FrameHeader,
} from '../../protocol/index.ts';
import { examples } from './examples.ts';
import { clientExamples, serverExamples } from './messages.ts';
import { mulberry32 } from '../../companion/models/weights.ts';

const SEED = 0x5eed;

class Gen {
  readonly rand: () => number;
  constructor(seed: number) {
    this.rand = mulberry32(seed);
  }
  int(n: number): number {
    return Math.floor(this.rand() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.rand() < p;
  }

  string(maxLen = 20): string {
    const n = this.int(maxLen + 1);
    let s = '';
    for (let i = 0; i < n; i++) {
      const r = this.rand();
      s += r < 0.6 ? String.fromCharCode(32 + this.int(95)) : r < 0.8 ? String.fromCharCode(this.int(32)) : String.fromCharCode(this.int(0x10000));
    }
    return s;
  }

  number(): number {
    return this.pick([0, -0, 1, -1, 3, 4, 16, 4096, 4097, 2 ** 32, 2 ** 32 - 1, 2 ** 53, 1e308, -1e308, 0.5, 1.5, Number.MIN_VALUE, this.rand() * 1e6 - 5e5, this.int(100)]);
  }

  /** Field names and values that appear in real messages, so random objects hit the schemas. */
  key(): string {
    return this.chance(0.8)
      ? this.pick(['type', 'requestId', 'jobId', 'spec', 'since', 'protocol', 'client', 'width', 'height', 'channels', 'frames', 'fps', 'uploadId', 'handle', 'window', 'received', 'job', 'jobs', 'event', 'code', 'message', 'num', 'den', '__proto__', 'constructor'])
      : this.string(8);
  }

  json(depth = 0): unknown {
    const r = this.rand();
    if (depth > 4 || r < 0.15) return this.pick([null, true, false]);
    if (r < 0.35) return this.number();
    if (r < 0.55) return this.chance(0.5) ? this.pick([...CLIENT_MESSAGE_TYPES, ...SERVER_MESSAGE_TYPES, '*', 'u1', '24000/1001']) : this.string();
    if (r < 0.7) return Array.from({ length: this.int(4) }, () => this.json(depth + 1));
    const o: Record<string, unknown> = {};
    for (let i = this.int(6); i > 0; i--) o[this.key()] = this.json(depth + 1);
    return o;
  }

  /** A valid message with one thing wrong (or, sometimes, nothing wrong). Returns text. */
  mutate(example: Record<string, unknown>): string {
    const keys = Object.keys(example);
    const key = this.pick(keys);
    const copy: Record<string, unknown> = JSON.parse(JSON.stringify(example));
    switch (this.int(9)) {
      case 0:
        delete copy[key];
        return JSON.stringify(copy);
      case 1:
        copy[key] = this.json(2);
        return JSON.stringify(copy);
      case 2:
        copy[this.key()] = this.json(2);
        return JSON.stringify(copy);
      case 3: {
        // Duplicate a field in the text; JSON.parse keeps the last one.
        const text = JSON.stringify(copy);
        return `${text.slice(0, -1)},${JSON.stringify(key)}:${JSON.stringify(this.json(2))}}`;
      }
      case 4: {
        const text = JSON.stringify(copy);
        return text.slice(0, this.int(text.length));
      }
      case 5: {
        const text = JSON.stringify(copy);
        const at = this.int(text.length);
        return text.slice(0, at) + String.fromCharCode(this.int(128)) + text.slice(at + 1);
      }
      case 6:
        copy.type = this.pick([...CLIENT_MESSAGE_TYPES, ...SERVER_MESSAGE_TYPES]);
        return JSON.stringify(copy);
      case 7:
        // Mutate one level down where there is one (job records, events, fps).
        for (const k of keys) {
          const v = copy[k];
          if (v && typeof v === 'object' && !Array.isArray(v)) {
            const inner = v as Record<string, unknown>;
            const ik = this.pick(Object.keys(inner).concat(this.key()));
            if (this.chance(0.5)) delete inner[ik];
            else inner[ik] = this.json(3);
            break;
          }
        }
        return JSON.stringify(copy);
      default:
        return JSON.stringify(copy);
    }
  }
}

function checkResult(r: ReturnType<typeof parseClientMessage | typeof parseServerMessage>, side: 'client' | 'server', text: string) {
  if (r.ok) {
    const schema = side === 'client' ? clientMessageSchema : serverMessageSchema;
    const types: readonly string[] = side === 'client' ? CLIENT_MESSAGE_TYPES : SERVER_MESSAGE_TYPES;
    if (!types.includes(r.msg.type)) throw new Error(`ok with unknown type for ${text}`);
    if (!schema.safeParse(JSON.parse(text)).success) throw new Error(`ok but the schema refuses ${text}`);
    return true;
  }
  if (r.code !== 'bad_message' && r.code !== 'too_large') throw new Error(`untyped error ${JSON.stringify(r)}`);
  if (typeof r.message !== 'string' || r.message.length === 0) throw new Error(`empty message for ${text}`);
  if (r.requestId !== undefined && (typeof r.requestId !== 'string' || r.requestId.length < 1 || r.requestId.length > 64)) {
    throw new Error(`unusable requestId ${JSON.stringify(r)}`);
  }
  for (const i of r.issues ?? []) if (typeof i.path !== 'string' || typeof i.message !== 'string') throw new Error(`bad issue ${JSON.stringify(i)}`);
  JSON.stringify(r); // the error reply must serialize
  return false;
}

function both(text: string, counts: { ok: number; bad: number }) {
  for (const side of ['client', 'server'] as const) {
    const r = side === 'client' ? parseClientMessage(text) : parseServerMessage(text);
    if (checkResult(r, side, text)) counts.ok++;
    else counts.bad++;
  }
}

describe('fuzz: text messages', () => {
  it('5000 random and mutated messages: parse never throws, always ok or a typed error', () => {
    const g = new Gen(SEED);
    const all = [...Object.values(clientExamples), ...Object.values(serverExamples)] as Record<string, unknown>[];
    const counts = { ok: 0, bad: 0 };
    const mutated = { ok: 0, bad: 0 };
    for (let i = 0; i < 5000; i++) {
      const r = g.rand();
      let text: string;
      if (r < 0.15) text = g.string(200); // random characters
      else if (r < 0.35) text = JSON.stringify(g.json()) ?? 'null'; // random JSON
      else {
        text = g.mutate(g.pick(all));
        both(text, mutated);
        continue;
      }
      both(text, counts);
    }
    // Mutations produce both valid and invalid messages: the generator is doing its job.
    expect(mutated.ok).toBeGreaterThan(100);
    expect(mutated.bad).toBeGreaterThan(1000);
    expect(counts.bad).toBeGreaterThan(0);
  });

  it('1000 mutated job specs: safeParseJobSpec never throws', () => {
    const g = new Gen(SEED + 1);
    const specs = Object.values(examples) as unknown as Record<string, unknown>[];
    let ok = 0;
    for (let i = 0; i < 1000; i++) {
      const text = g.mutate(g.pick(specs));
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        continue;
      }
      const r = safeParseJobSpec(json);
      if (r.ok) ok++;
      else for (const issue of r.error.issues) expect(typeof issue.message).toBe('string');
    }
    expect(ok).toBeGreaterThan(0);
  });
});

describe('fuzz: binary frames', () => {
  it('3000 random, truncated and corrupted frames: decode never throws', () => {
    const g = new Gen(SEED + 2);
    let ok = 0;
    for (let i = 0; i < 3000; i++) {
      const header: FrameHeader = { handle: g.int(2 ** 32), frameIndex: g.int(2 ** 32), width: 1 + g.int(40), height: 1 + g.int(40), channels: g.pick([3, 4] as const) };
      const pixels = new Uint8Array(header.width * header.height * header.channels);
      let buf = encodeFrameMessage(header, pixels);
      let intact = false;
      switch (g.int(5)) {
        case 0: // random bytes, sometimes with a plausible start
          buf = Uint8Array.from({ length: g.int(100) }, () => g.int(256));
          if (g.chance(0.5) && buf.length >= 6) buf.set([0x54, 0x48, 0x53, 0x52, 1, 1]);
          break;
        case 1:
          buf = buf.subarray(0, g.int(buf.length));
          break;
        case 2: {
          const at = g.int(24);
          const old = buf[at]!;
          buf[at] = g.int(256);
          intact = buf[at] === old || at >= 8 && at < 16; // handle/frameIndex bytes may be anything
          break;
        }
        case 3: {
          const longer = new Uint8Array(buf.length + 1 + g.int(8));
          longer.set(buf);
          buf = longer;
          break;
        }
        default:
          intact = true;
      }
      const r = decodeFrameMessage(buf);
      if (r.ok) {
        ok++;
        expect(buf.length).toBe(24 + r.header.width * r.header.height * r.header.channels);
        expect(r.pixels.length).toBe(buf.length - 24);
      } else {
        expect(typeof r.message).toBe('string');
        expect(intact, `intact frame refused: ${r.message}`).toBe(false);
      }
      if (intact) expect(r.ok).toBe(true);
    }
    expect(ok).toBeGreaterThan(500);
  });
});
