/** A small seeded random source for fuzz and load tests: the same seed gives the same inputs. */
import { mulberry32 } from '../../companion/models/weights.ts';

export class Rng {
  /** Uniform in [0, 1): the project's one seeded uniform generator (mulberry32). */
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  /** Picks by weight: `[[weight, value], ...]`. */
  weighted<T>(table: readonly (readonly [number, T])[]): T {
    const total = table.reduce((s, [w]) => s + w, 0);
    let r = this.next() * total;
    for (const [w, v] of table) {
      if ((r -= w) < 0) return v;
    }
    return table[table.length - 1]![1];
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }

  /** Printable ASCII mostly, with control characters and random BMP code units mixed in. */
  string(maxLen = 24): string {
    const n = this.int(maxLen + 1);
    let s = '';
    for (let i = 0; i < n; i++) {
      const r = this.next();
      s += r < 0.7 ? String.fromCharCode(32 + this.int(95)) : r < 0.85 ? String.fromCharCode(this.int(32)) : String.fromCharCode(this.int(0x10000));
    }
    return s;
  }

  /** Numbers that sit on or near the edges validators care about. */
  number(): number {
    return this.pick([
      0, -0, 1, -1, 2, 3, 4, 15, 16, 17, 48, 64, 255, 256, 4095, 4096, 4097, 10_000, 10_001, 65_535, 65_536,
      2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e21, 1e308, -1e308, 0.5, 1.5, 1e-7,
      Number.MIN_VALUE, this.next() * 2e6 - 1e6, this.int(1000),
    ]);
  }

  /** A random JSON value; `keys` biases object keys towards names the receiver knows. */
  json(keys: readonly string[] = [], depth = 0): unknown {
    const r = this.next();
    if (depth > 4 || r < 0.15) return this.pick([null, true, false]);
    if (r < 0.35) return this.number();
    if (r < 0.55) return this.string();
    if (r < 0.7) return Array.from({ length: this.int(5) }, () => this.json(keys, depth + 1));
    const o: Record<string, unknown> = {};
    for (let i = this.int(6); i > 0; i--) {
      const k = keys.length > 0 && this.chance(0.7) ? this.pick(keys) : this.pick(['__proto__', 'constructor', 'toString', this.string(8)]);
      o[k] = this.json(keys, depth + 1);
    }
    return o;
  }
}

/** `depth` levels of `[` … `]` or `{"a":` … `}` around `inner`. */
export function nested(depth: number, kind: 'array' | 'object', inner = '0'): string {
  return kind === 'array' ? '['.repeat(depth) + inner + ']'.repeat(depth) : '{"a":'.repeat(depth) + inner + '}'.repeat(depth);
}
