/**
 * Prompt embeddings, cached by the exact token ids and mask the text encoder would see.
 *
 * In memory for the life of the runtime (a CFG job asks for its prompt and negative prompt at
 * every window). For real models also on disk, in `<model>/.prompt-cache/`, because loading a
 * T5-XXL encoder costs seconds to minutes: an editor re-rendering with the same prompt, or the
 * empty negative prompt every job uses, skips it. Files are written whole (temp + rename) and
 * checked for length on read, so a crash leaves no half embedding behind; the folder keeps the
 * most recently used MAX_ON_DISK entries.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TextEmbedding } from './generate.ts';

const MAX_IN_MEMORY = 64;
const MAX_ON_DISK = 256;

export class PromptCache {
  private readonly memory = new Map<string, TextEmbedding>();
  private readonly dir: string | null;
  /** Encoder runs so far (what the cache saved is the rest); for tests and logs. */
  encoderRuns = 0;

  constructor(modelDir: string | null) {
    this.dir = modelDir ? join(modelDir, '.prompt-cache') : null;
  }

  async get(ids: BigInt64Array, mask: BigInt64Array, encode: () => Promise<Float32Array>): Promise<TextEmbedding> {
    const key = createHash('sha256').update(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength)).update(new Uint8Array(mask.buffer, mask.byteOffset, mask.byteLength)).digest('hex');
    const maskF = Float32Array.from(mask, (v) => Number(v));
    const hit = this.memory.get(key) ?? this.fromDisk(key, maskF);
    if (hit) {
      this.remember(key, hit);
      return hit;
    }
    this.encoderRuns++;
    const emb: TextEmbedding = { embeds: await encode(), mask: maskF, batch: 1 };
    this.remember(key, emb);
    this.toDisk(key, emb.embeds);
    return emb;
  }

  private remember(key: string, emb: TextEmbedding): void {
    this.memory.delete(key);
    this.memory.set(key, emb);
    if (this.memory.size > MAX_IN_MEMORY) this.memory.delete(this.memory.keys().next().value!);
  }

  private fromDisk(key: string, mask: Float32Array): TextEmbedding | null {
    if (!this.dir) return null;
    const path = join(this.dir, `${key}.f32`);
    try {
      const bytes = readFileSync(path);
      if (bytes.byteLength === 0 || bytes.byteLength % (4 * mask.length) !== 0) return null;
      const now = new Date();
      utimesSync(path, now, now); // most recently used
      const embeds = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      return { embeds, mask, batch: 1 };
    } catch {
      return null;
    }
  }

  private toDisk(key: string, embeds: Float32Array): void {
    if (!this.dir) return;
    try {
      mkdirSync(this.dir, { recursive: true });
      const tmp = join(this.dir, `.${key}.${process.pid}.tmp`);
      writeFileSync(tmp, new Uint8Array(embeds.buffer, embeds.byteOffset, embeds.byteLength));
      renameSync(tmp, join(this.dir, `${key}.f32`));
      this.prune();
    } catch {
      // A cache that cannot be written only costs time.
    }
  }

  private prune(): void {
    const files = readdirSync(this.dir!)
      .filter((f) => f.endsWith('.f32'))
      .map((f) => ({ f, t: statSync(join(this.dir!, f)).mtimeMs }))
      .sort((a, b) => b.t - a.t);
    for (const { f } of files.slice(MAX_ON_DISK)) unlinkSync(join(this.dir!, f));
  }
}
