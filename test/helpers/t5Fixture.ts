/**
 * Test fixtures for the T5 text encoder: a toy SentencePiece model written as a real `spiece.model`
 * protobuf (with an optional precompiled normaliser charsmap, built here as a darts-clone double
 * array), the HF tokenizer JSON files beside it, and a tiny T5 `config.json`. Exported so other
 * fixtures (a checkpoint folder for conversion tests) can lay out a `tokenizer/` and a
 * `text_encoder/` the way a diffusers checkpoint does.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// ---- a minimal protobuf writer ----------------------------------------------------------------

class PbWriter {
  private out: number[] = [];

  private raw(b: number): void {
    this.out.push(b & 0xff);
  }

  varint(value: number): void {
    let v = BigInt.asUintN(64, BigInt(value));
    do {
      const low = Number(v & 0x7fn);
      v >>= 7n;
      this.raw(v === 0n ? low : low | 0x80);
    } while (v !== 0n);
  }

  tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  int(field: number, value: number): void {
    this.tag(field, 0);
    this.varint(value);
  }

  bool(field: number, value: boolean): void {
    this.int(field, value ? 1 : 0);
  }

  float(field: number, value: number): void {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    for (const x of b) this.raw(x);
  }

  bytes(field: number, value: Uint8Array): void {
    this.tag(field, 2);
    this.varint(value.length);
    for (const x of value) this.raw(x);
  }

  string(field: number, value: string): void {
    this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, write: (w: PbWriter) => void): void {
    const inner = new PbWriter();
    write(inner);
    this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

// ---- the precompiled charsmap -------------------------------------------------------------------

interface TrieNode {
  children: Map<number, TrieNode>;
  value?: number;
}

/**
 * Builds a SentencePiece precompiled charsmap for `rules` (source text → replacement):
 * [u32 LE trie bytes][darts-clone units][NUL-terminated replacements]. Written independently of the
 * reader from the darts-clone unit layout: label in bits 0-7, has-leaf bit 8, offset << 10; value
 * units carry bit 31; children of p live at p ^ offset ^ byte, a key's value at p ^ offset.
 */
export function buildCharsMap(rules: Record<string, string>): Uint8Array {
  const enc = new TextEncoder();
  const root: TrieNode = { children: new Map() };
  const strings: number[] = [];
  for (const [from, to] of Object.entries(rules)) {
    let node = root;
    for (const b of enc.encode(from)) {
      if (b === 0) throw new Error('charsmap keys cannot contain NUL');
      let next = node.children.get(b);
      if (!next) node.children.set(b, (next = { children: new Map() }));
      node = next;
    }
    node.value = strings.length;
    strings.push(...enc.encode(to), 0);
  }
  const units: number[] = [0];
  const used = new Set<number>([0]);
  const place = (node: TrieNode, pos: number, label: number): void => {
    const labels = [...node.children.keys()];
    if (node.value !== undefined) labels.push(0);
    let unit = label;
    if (labels.length) {
      let base = 256;
      while (labels.some((c) => used.has(base ^ c))) base++;
      const offset = pos ^ base;
      if (offset >= 1 << 21) throw new Error('toy charsmap too large');
      unit |= offset << 10;
      if (node.value !== undefined) {
        unit |= 1 << 8;
        used.add(base);
        units[base] = (node.value | 0x80000000) >>> 0;
      }
      for (const c of node.children.keys()) used.add(base ^ c);
      units[pos] = unit >>> 0;
      for (const [c, child] of node.children) place(child, base ^ c, c);
    } else {
      units[pos] = unit >>> 0;
    }
  };
  place(root, 0, 0);
  const size = Math.max(...used) + 1;
  const out = new Uint8Array(4 + size * 4 + strings.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, size * 4, true);
  for (let i = 0; i < size; i++) view.setUint32(4 + 4 * i, units[i] ?? 0, true);
  out.set(strings, 4 + size * 4);
  return out;
}

// ---- spiece.model -------------------------------------------------------------------------------

export type ToyPieceType = 'normal' | 'unknown' | 'control' | 'user' | 'unused' | 'byte';
const TYPE_CODE: Record<ToyPieceType, number> = { normal: 1, unknown: 2, control: 3, user: 4, unused: 5, byte: 6 };

export interface ToyPiece {
  piece: string;
  score: number;
  type?: ToyPieceType;
}

export interface SpieceOptions {
  pieces: ToyPiece[];
  modelType?: number;
  unkId?: number;
  eosId?: number;
  padId?: number;
  bosId?: number;
  byteFallback?: boolean;
  normalizer?: {
    name?: string;
    rules?: Record<string, string>;
    addDummyPrefix?: boolean;
    removeExtraWhitespaces?: boolean;
    escapeWhitespaces?: boolean;
  };
}

/** Serialises a SentencePiece ModelProto (pieces = 1, trainer_spec = 2, normalizer_spec = 3). */
export function encodeSpieceModel(o: SpieceOptions): Uint8Array {
  const w = new PbWriter();
  for (const p of o.pieces) {
    w.message(1, (m) => {
      m.string(1, p.piece);
      m.float(2, p.score);
      if ((p.type ?? 'normal') !== 'normal') m.int(3, TYPE_CODE[p.type!]);
    });
  }
  w.message(2, (t) => {
    t.string(2, 'toy');
    t.int(3, o.modelType ?? 1);
    t.int(4, o.pieces.length);
    if (o.byteFallback) t.bool(35, true);
    t.int(40, o.unkId ?? 2);
    t.int(41, o.bosId ?? -1);
    t.int(42, o.eosId ?? 1);
    t.int(43, o.padId ?? 0);
  });
  const n = o.normalizer ?? {};
  w.message(3, (s) => {
    s.string(1, n.name ?? 'nmt_nfkc');
    if (n.rules) s.bytes(2, buildCharsMap(n.rules));
    s.bool(3, n.addDummyPrefix ?? true);
    s.bool(4, n.removeExtraWhitespaces ?? true);
    s.bool(5, n.escapeWhitespaces ?? true);
  });
  return w.finish();
}

const letters = 'abcdefghijklmnopqrstuvwxyz';

/**
 * The toy vocabulary, laid out like T5's (0 <pad>, 1 </s>, 2 <unk>). Scores are chosen so that
 * Viterbi and greedy longest-match disagree: "hello" is best as ▁he + llo (-3.5), not ▁hel + lo (-4).
 */
export const TOY_PIECES: ToyPiece[] = [
  { piece: '<pad>', score: 0, type: 'control' },
  { piece: '</s>', score: 0, type: 'control' },
  { piece: '<unk>', score: 0, type: 'unknown' },
  { piece: '▁', score: -3 }, // 3
  { piece: '▁he', score: -2 }, // 4
  { piece: '▁hel', score: -2 }, // 5
  { piece: 'llo', score: -1.5 }, // 6
  { piece: 'lo', score: -2 }, // 7
  { piece: '▁world', score: -2.5 }, // 8
  { piece: '▁wor', score: -3 }, // 9
  { piece: 'ld', score: -3 }, // 10
  { piece: '▁fine', score: -2.5 }, // 11
  { piece: 'é', score: -4 }, // 12
  { piece: 'A', score: -4 }, // 13
  { piece: '.', score: -3.5 }, // 14
  { piece: '▁caf', score: -3 }, // 15
  { piece: '<reserved>', score: 0, type: 'unused' }, // 16: never matched in text
  ...Array.from(letters, (c) => ({ piece: c, score: -6 })), // 17 … 42
];

/** Id of a toy piece. */
export function toyId(piece: string): number {
  const id = TOY_PIECES.findIndex((p) => p.piece === piece);
  if (id < 0) throw new Error(`no toy piece ${piece}`);
  return id;
}

/** Normalisation rules of the toy model (a small slice of what nmt_nfkc does). */
export const TOY_RULES: Record<string, string> = {
  '\t': ' ',
  '\u3000': ' ', // ideographic space
  'Ａ': 'A', // fullwidth A
  'ﬁ': 'fi', // ligature
  'e\u0301': 'é', // e + combining acute → é (a two-character key: longest match)
};

export const TOY_EXTRA_IDS = 3;

export interface TokenizerFixtureOptions {
  pieces?: ToyPiece[];
  byteFallback?: boolean;
  rules?: Record<string, string> | null;
  extraIds?: number;
  /** Extra entries for added_tokens.json. */
  addedTokens?: Record<string, number>;
}

/**
 * Writes `spiece.model`, `tokenizer_config.json`, `special_tokens_map.json` and `added_tokens.json`
 * for the toy vocabulary into `dir` (created if needed), as a checkpoint's `tokenizer/` folder.
 */
export function writeT5TokenizerFixture(dir: string, o: TokenizerFixtureOptions = {}): { dir: string; modelPath: string } {
  mkdirSync(dir, { recursive: true });
  const pieces = [...(o.pieces ?? TOY_PIECES)];
  if (o.byteFallback) for (let b = 0; b < 256; b++) pieces.push({ piece: `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, score: 0, type: 'byte' });
  const modelPath = join(dir, 'spiece.model');
  const rules = o.rules === undefined ? TOY_RULES : o.rules;
  writeFileSync(modelPath, encodeSpieceModel({ pieces, byteFallback: o.byteFallback, normalizer: rules ? { rules } : { name: 'identity' } }));
  const extraIds = o.extraIds ?? TOY_EXTRA_IDS;
  const extra = Array.from({ length: extraIds }, (_, k) => `<extra_id_${k}>`);
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify(
      {
        tokenizer_class: 'T5Tokenizer',
        model_max_length: 128,
        extra_ids: extraIds,
        eos_token: '</s>',
        pad_token: '<pad>',
        unk_token: '<unk>',
        additional_special_tokens: extra,
        legacy: true,
      },
      null,
      2,
    ),
  );
  writeFileSync(
    join(dir, 'special_tokens_map.json'),
    JSON.stringify({ eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>', additional_special_tokens: extra }, null, 2),
  );
  const added: Record<string, number> = {};
  extra.forEach((t, k) => (added[t] = pieces.length + extraIds - 1 - k));
  Object.assign(added, o.addedTokens ?? {});
  writeFileSync(join(dir, 'added_tokens.json'), JSON.stringify(added, null, 2));
  return { dir, modelPath };
}

// ---- config.json --------------------------------------------------------------------------------

/**
 * A tiny T5 v1.1 `config.json` in HF's form. Inner attention width (heads × d_kv = 12) differs from
 * d_model (16), 8 buckets with max distance 6 so sequences of ~10 tokens reach the exact, the log
 * and the capped buckets, and the clipping of relative positions in the graph.
 */
export function tinyT5ConfigJson(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    architectures: ['T5EncoderModel'],
    model_type: 't5',
    d_model: 16,
    d_kv: 4,
    num_heads: 3,
    d_ff: 24,
    num_layers: 2,
    num_decoder_layers: 2,
    vocab_size: 48,
    relative_attention_num_buckets: 8,
    relative_attention_max_distance: 6,
    layer_norm_epsilon: 1e-6,
    feed_forward_proj: 'gated-gelu',
    dense_act_fn: 'gelu_new',
    is_gated_act: true,
    dropout_rate: 0.1,
    tie_word_embeddings: false,
    pad_token_id: 0,
    eos_token_id: 1,
    torch_dtype: 'float32',
    ...overrides,
  };
}

/** The `config.json` of google/t5-v1_1-xxl (LTX-Video's text encoder), as published. */
export const T5_V1_1_XXL_CONFIG_JSON: Record<string, unknown> = {
  architectures: ['T5EncoderModel'],
  d_ff: 10240,
  d_kv: 64,
  d_model: 4096,
  decoder_start_token_id: 0,
  dense_act_fn: 'gelu_new',
  dropout_rate: 0.1,
  eos_token_id: 1,
  feed_forward_proj: 'gated-gelu',
  initializer_factor: 1.0,
  is_encoder_decoder: true,
  is_gated_act: true,
  layer_norm_epsilon: 1e-6,
  model_type: 't5',
  num_decoder_layers: 24,
  num_heads: 64,
  num_layers: 24,
  output_past: true,
  pad_token_id: 0,
  relative_attention_max_distance: 128,
  relative_attention_num_buckets: 32,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
  vocab_size: 32128,
};

/** Writes `config.json` for a tiny T5 into `dir` (a checkpoint's `text_encoder/`). */
export function writeT5ConfigFixture(dir: string, overrides: Record<string, unknown> = {}): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'config.json');
  writeFileSync(path, JSON.stringify(tinyT5ConfigJson(overrides), null, 2));
  return path;
}
