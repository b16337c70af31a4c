/**
 * The T5 tokenizer, from the files a checkpoint's `tokenizer/` folder ships: `spiece.model` (a
 * SentencePiece ModelProto, UNIGRAM) plus the optional `tokenizer_config.json`,
 * `special_tokens_map.json` and `added_tokens.json` of HF transformers. Output matches the
 * text_encoder graph's inputs: ids and mask as int64 [maxTokens], `</s>` appended.
 *
 * What is implemented, following SentencePiece's own encoder (the slow `T5Tokenizer` with
 * legacy=True calls it directly):
 *   - a protobuf reader for the ModelProto fields used: pieces (piece, score, type), trainer_spec
 *     (model_type, unk/bos/eos/pad ids, byte_fallback, treat_whitespace_as_suffix) and
 *     normalizer_spec (name, precompiled_charsmap, add_dummy_prefix, remove_extra_whitespaces,
 *     escape_whitespaces). Anything else is skipped. Only UNIGRAM models are accepted.
 *   - normalisation exactly as the model's normalizer spec says: the precompiled charsmap (a
 *     darts-clone double-array trie over UTF-8 bytes plus a blob of replacement strings; T5's is
 *     "nmt_nfkc": NFKC plus NMT's control-character and whitespace rules) applied by longest prefix
 *     match, one UTF-8 character copied when nothing matches; then leading, trailing and repeated
 *     spaces dropped (remove_extra_whitespaces), "▁" (U+2581) prepended (add_dummy_prefix) and
 *     spaces written as "▁" (escape_whitespaces). A model with a normalizer name but no charsmap
 *     gets String.prototype.normalize('NFKC') for the nfkc family ("_cf" case folding: lower-case)
 *     and nothing for "identity"; other names are refused.
 *   - Viterbi segmentation over the pieces' scores (NORMAL pieces; USER_DEFINED pieces get
 *     SentencePiece's bonus length·max_score - 0.1 so they always win); a character no piece
 *     starts with becomes an unknown node scored min_score - 10, consecutive unknowns merge into one
 *     `<unk>` — or, when the model enables byte_fallback, become `<0xXX>` byte pieces.
 *   - HF's added/special tokens (`</s>`, `<pad>`, `<unk>`, `<extra_id_N>`, added_tokens.json,
 *     added_tokens_decoder) written literally in the text map to their ids; the text between them
 *     is encoded as separate sentences (each gets the dummy prefix: legacy=True behaviour, and what
 *     the converted fast tokenizer's Metaspace(prepend_scheme="always") does).
 *   - `</s>` appended, truncation to maxTokens keeping the `</s>` (HF truncation=True), right
 *     padding with the pad id and a 0/1 attention mask.
 *
 * Also: user-defined symbols are matched before the normaliser rules and copied as is (T5 has
 * none); path scores are float32 like SentencePiece's, so near-ties break the same way.
 *
 * Not implemented: BPE/WORD/CHAR models, sampling / n-best, decoding, `legacy=False` handling of
 * text right after a special token, and the fast tokenizer's divergences from SentencePiece on
 * leading whitespace ("  a" gives ["▁", "▁a"] there, ["▁a"] here).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ReshootError } from '../../errors.ts';
import type { Tokens } from '../tokenizer.ts';

/** SentencePiece.Type */
export const PieceType = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;
export type PieceTypeCode = (typeof PieceType)[keyof typeof PieceType];

export interface SpmPiece {
  piece: string;
  score: number;
  type: PieceTypeCode;
}

export interface SpmNormalizer {
  name: string;
  /** The compiled normalisation rules, or null when the model has none. */
  precompiledCharsmap: Uint8Array | null;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  escapeWhitespaces: boolean;
}

export interface SpmModel {
  pieces: SpmPiece[];
  /** TrainerSpec.model_type: 1 = UNIGRAM (the only one accepted). */
  modelType: number;
  unkId: number;
  bosId: number;
  eosId: number;
  padId: number;
  byteFallback: boolean;
  treatWhitespaceAsSuffix: boolean;
  normalizer: SpmNormalizer;
}

/** The whitespace marker SentencePiece writes for a space. */
export const SPACE_SYMBOL = '\u2581';

/** Penalty below the lowest piece score given to an unknown character (SentencePiece's kUnkPenalty). */
const UNK_PENALTY = 10;

// ---- protobuf reading ---------------------------------------------------------------------------

class Truncated extends Error {}

/** Reads protobuf wire format over a byte range; throws Truncated when a field runs past the end. */
class ProtoReader {
  pos: number;
  constructor(
    private readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  done(): boolean {
    return this.pos >= this.end;
  }

  /** A varint as a JS number; int32 negatives (10-byte two's complement) come back negative. */
  varint(): number {
    let result = 0n;
    let shift = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Truncated();
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return Number(BigInt.asIntN(64, result));
      shift += 7n;
    }
    throw new Error(`malformed varint at byte ${this.pos}`);
  }

  float(): number {
    if (this.pos + 4 > this.end) throw new Truncated();
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  bytes(): Uint8Array {
    const n = this.varint();
    if (n < 0 || this.pos + n > this.end) throw new Truncated();
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A nested message's reader (advances past it). */
  message(): ProtoReader {
    const n = this.varint();
    if (n < 0 || this.pos + n > this.end) throw new Truncated();
    const r = new ProtoReader(this.buf, this.pos, this.pos + n);
    this.pos += n;
    return r;
  }

  /** Skips a field of the given wire type. */
  skip(wire: number): void {
    switch (wire) {
      case 0:
        this.varint();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.bytes();
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        throw new Error(`unsupported wire type ${wire} at byte ${this.pos}`);
    }
    if (this.pos > this.end) throw new Truncated();
  }

  /** Iterates fields: calls `field(number, wire)`, which must consume the value or return false to skip it. */
  fields(field: (num: number, wire: number, r: ProtoReader) => boolean): void {
    while (!this.done()) {
      const tag = this.varint();
      const num = Math.floor(tag / 8);
      const wire = tag & 7;
      if (num <= 0) throw new Error(`invalid field number ${num} at byte ${this.pos}`);
      if (!field(num, wire, this)) this.skip(wire);
    }
    if (this.pos !== this.end) throw new Truncated();
  }
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

function expectWire(num: number, wire: number, want: number): void {
  if (wire !== want) throw new Error(`field ${num} has wire type ${wire}, expected ${want}`);
}

function readPiece(r: ProtoReader): SpmPiece {
  const p: SpmPiece = { piece: '', score: 0, type: PieceType.NORMAL };
  r.fields((num, wire, m) => {
    if (num === 1) {
      expectWire(num, wire, 2);
      p.piece = utf8Strict.decode(m.bytes());
    } else if (num === 2) {
      expectWire(num, wire, 5);
      p.score = m.float();
    } else if (num === 3) {
      expectWire(num, wire, 0);
      const t = m.varint();
      if (t < 1 || t > 6) throw new Error(`piece type ${t} is unknown`);
      p.type = t as PieceTypeCode;
    } else return false;
    return true;
  });
  return p;
}

function readTrainerSpec(r: ProtoReader, model: SpmModel): void {
  r.fields((num, wire, m) => {
    const int = (): number => {
      expectWire(num, wire, 0);
      return m.varint();
    };
    switch (num) {
      case 3: // model_type
        model.modelType = int();
        return true;
      case 24: // treat_whitespace_as_suffix
        model.treatWhitespaceAsSuffix = int() !== 0;
        return true;
      case 35: // byte_fallback
        model.byteFallback = int() !== 0;
        return true;
      case 40: // unk_id
        model.unkId = int();
        return true;
      case 41: // bos_id
        model.bosId = int();
        return true;
      case 42: // eos_id
        model.eosId = int();
        return true;
      case 43: // pad_id
        model.padId = int();
        return true;
      default:
        return false;
    }
  });
}

function readNormalizerSpec(r: ProtoReader): SpmNormalizer {
  const n: SpmNormalizer = { name: '', precompiledCharsmap: null, addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true };
  r.fields((num, wire, m) => {
    const bool = (): boolean => {
      expectWire(num, wire, 0);
      return m.varint() !== 0;
    };
    switch (num) {
      case 1:
        expectWire(num, wire, 2);
        n.name = utf8Strict.decode(m.bytes());
        return true;
      case 2: {
        expectWire(num, wire, 2);
        const blob = m.bytes();
        n.precompiledCharsmap = blob.length ? blob.slice() : null;
        return true;
      }
      case 3:
        n.addDummyPrefix = bool();
        return true;
      case 4:
        n.removeExtraWhitespaces = bool();
        return true;
      case 5:
        n.escapeWhitespaces = bool();
        return true;
      default:
        return false;
    }
  });
  return n;
}

/**
 * Parses a SentencePiece ModelProto (ModelProto: pieces = 1, trainer_spec = 2, normalizer_spec = 3).
 * `file` names it in errors: a truncated or corrupt file, or a model this tokenizer cannot run (not
 * UNIGRAM, no pieces, unk id not an UNKNOWN piece, unreadable charsmap), is a ReshootError.
 */
export function parseSentencePieceModel(bytes: Uint8Array, file = 'spiece.model'): SpmModel {
  const fail = (why: string): never => {
    throw new ReshootError('model', `${file}: not a usable SentencePiece model (${why})`);
  };
  const model: SpmModel = {
    pieces: [],
    modelType: 1,
    unkId: 0,
    bosId: 1,
    eosId: 2,
    padId: -1,
    byteFallback: false,
    treatWhitespaceAsSuffix: false,
    normalizer: { name: '', precompiledCharsmap: null, addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true },
  };
  try {
    new ProtoReader(bytes).fields((num, wire, r) => {
      if (num < 1 || num > 3) return false;
      expectWire(num, wire, 2);
      const m = r.message();
      if (num === 1) model.pieces.push(readPiece(m));
      else if (num === 2) readTrainerSpec(m, model);
      else model.normalizer = readNormalizerSpec(m);
      return true;
    });
  } catch (e) {
    fail(e instanceof Truncated ? 'the file is truncated' : `corrupt: ${(e as Error).message}`);
  }
  const n = model.pieces.length;
  if (n === 0) fail('it has no pieces');
  if (model.modelType !== 1) fail(`model_type ${model.modelType} is not UNIGRAM (1)`);
  if (model.unkId < 0 || model.unkId >= n || model.pieces[model.unkId].type !== PieceType.UNKNOWN) {
    fail(`unk_id ${model.unkId} is not an UNKNOWN piece`);
  }
  for (const [what, id] of [['eos_id', model.eosId], ['bos_id', model.bosId], ['pad_id', model.padId]] as const) {
    if (id >= n) fail(`${what} ${id} is past the ${n} pieces`);
  }
  if (model.normalizer.precompiledCharsmap) {
    try {
      new CharsMap(model.normalizer.precompiledCharsmap);
    } catch (e) {
      fail(`normalizer charsmap: ${(e as Error).message}`);
    }
  }
  return model;
}

// ---- normalisation --------------------------------------------------------------------------------

/**
 * SentencePiece's precompiled charsmap: [u32 LE trie size in bytes][darts-clone double array of
 * u32 units][NUL-terminated replacement strings]. A unit holds label (bits 0-7, plus bit 31 on
 * value units so they never match a label), has-leaf (bit 8), and an offset (bits 10-30, shifted
 * left by 8 when bit 9 is set); children of node p are at p ^ offset ^ byte, the value of a key
 * ending at p at p ^ offset. The value is the replacement string's byte offset in the blob.
 */
export class CharsMap {
  private readonly units: Uint32Array;
  private readonly normalized: Uint8Array;

  constructor(blob: Uint8Array) {
    if (blob.length < 4) throw new Error('shorter than its header');
    const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
    const trieBytes = view.getUint32(0, true);
    if (trieBytes % 4 !== 0 || trieBytes === 0 || 4 + trieBytes > blob.length) throw new Error(`trie size ${trieBytes} does not fit`);
    this.units = new Uint32Array(trieBytes / 4);
    for (let i = 0; i < this.units.length; i++) this.units[i] = view.getUint32(4 + 4 * i, true);
    this.normalized = blob.slice(4 + trieBytes);
  }

  private static offset(unit: number): number {
    return (unit >>> 10) << ((unit & (1 << 9)) >>> 6);
  }

  /** The longest key that prefixes bytes[pos…]: its byte length and replacement, or null. */
  longestMatch(bytes: Uint8Array, pos: number): { length: number; replacement: Uint8Array } | null {
    const u = this.units;
    let node = CharsMap.offset(u[0]);
    let best: { length: number; value: number } | null = null;
    for (let i = pos; i < bytes.length; i++) {
      const c = bytes[i];
      node ^= c;
      if (node >= u.length) break;
      const unit = u[node];
      if ((unit & 0x800000ff) >>> 0 !== c) break;
      node ^= CharsMap.offset(unit);
      if ((unit >>> 8) & 1) {
        if (node >= u.length) throw new Error('charsmap trie points past its end');
        best = { length: i - pos + 1, value: u[node] & 0x7fffffff };
      }
    }
    if (!best) return null;
    if (best.value >= this.normalized.length) throw new Error('charsmap value points past its strings');
    let end = best.value;
    while (end < this.normalized.length && this.normalized[end] !== 0) end++;
    return { length: best.length, replacement: this.normalized.subarray(best.value, end) };
  }
}

const REPLACEMENT_CHAR = new Uint8Array([0xef, 0xbf, 0xbd]);
const SPACE = 0x20;
const SPACE_SYMBOL_BYTES = new TextEncoder().encode(SPACE_SYMBOL);

/** Byte length of the valid UTF-8 character at bytes[pos], or 0 if it is malformed. */
function utf8CharLength(bytes: Uint8Array, pos: number): number {
  const b = bytes[pos];
  const n = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
  if (n === 0 || pos + n > bytes.length) return 0;
  for (let k = 1; k < n; k++) if ((bytes[pos + k] & 0xc0) !== 0x80) return 0;
  return n;
}

/** SentencePiece's Normalizer for one model's NormalizerSpec. */
export class SentencePieceNormalizer {
  private readonly charsMap: CharsMap | null;
  private readonly fallback: ((s: string) => string) | null;

  /** User-defined symbols as UTF-8: matched (longest) before the rules and copied as is. */
  private readonly userDefined: Uint8Array[];

  constructor(
    private readonly spec: SpmNormalizer,
    private readonly treatWhitespaceAsSuffix: boolean,
    file = 'spiece.model',
    userDefined: readonly string[] = [],
  ) {
    this.userDefined = userDefined.filter((u) => u.length > 0).map((u) => new TextEncoder().encode(u));
    this.charsMap = spec.precompiledCharsmap ? new CharsMap(spec.precompiledCharsmap) : null;
    let fallback: ((s: string) => string) | null = null;
    if (!this.charsMap) {
      const name = spec.name;
      if (name === '' || name === 'identity') fallback = null;
      else if (name === 'nfkc' || name === 'nmt_nfkc') fallback = (s) => s.normalize('NFKC');
      else if (name === 'nfkc_cf' || name === 'nmt_nfkc_cf') fallback = (s) => s.normalize('NFKC').toLowerCase();
      else throw new ReshootError('model', `${file}: normalizer "${name}" has no precompiled charsmap and is not one this tokenizer knows`);
    }
    this.fallback = fallback;
  }

  /** Replacement bytes and consumed length for the prefix of bytes at pos. */
  private prefix(bytes: Uint8Array, pos: number): { out: Uint8Array; length: number } {
    let user = 0;
    for (const u of this.userDefined) {
      if (u.length > user && pos + u.length <= bytes.length && u.every((b, k) => bytes[pos + k] === b)) user = u.length;
    }
    if (user > 0) return { out: bytes.subarray(pos, pos + user), length: user };
    const hit = this.charsMap?.longestMatch(bytes, pos);
    if (hit) return { out: hit.replacement, length: hit.length };
    const n = utf8CharLength(bytes, pos);
    if (n === 0) return { out: REPLACEMENT_CHAR, length: 1 };
    return { out: bytes.subarray(pos, pos + n), length: n };
  }

  /** The normalised text, spaces as "▁" when escape_whitespaces (what the pieces are matched on). */
  normalize(text: string): string {
    const spec = this.spec;
    const input = new TextEncoder().encode(this.fallback ? this.fallback(text) : text);
    const out: number[] = [];
    const space = spec.escapeWhitespaces ? SPACE_SYMBOL_BYTES : new Uint8Array([SPACE]);
    let pos = 0;
    if (spec.removeExtraWhitespaces) {
      // Leading whitespace (anything the rules turn into a single space) is dropped.
      while (pos < input.length) {
        const p = this.prefix(input, pos);
        if (!(p.out.length === 1 && p.out[0] === SPACE)) break;
        pos += p.length;
      }
    }
    if (pos >= input.length) return '';
    if (spec.addDummyPrefix && !this.treatWhitespaceAsSuffix) out.push(...space);
    let prevSpace = spec.removeExtraWhitespaces;
    while (pos < input.length) {
      const p = this.prefix(input, pos);
      pos += p.length;
      let piece = p.out;
      if (spec.removeExtraWhitespaces && prevSpace) {
        let k = 0;
        while (k < piece.length && piece[k] === SPACE) k++;
        piece = piece.subarray(k);
      }
      if (piece.length === 0) continue;
      for (const b of piece) {
        if (b === SPACE) out.push(...space);
        else out.push(b);
      }
      prevSpace = piece[piece.length - 1] === SPACE;
    }
    let end = out.length;
    if (spec.removeExtraWhitespaces) {
      const s = space.length;
      while (end >= s && space.every((b, k) => out[end - s + k] === b)) end -= s;
    }
    const kept = out.slice(0, end);
    if (spec.addDummyPrefix && this.treatWhitespaceAsSuffix) kept.push(...space);
    return new TextDecoder().decode(new Uint8Array(kept));
  }
}

// ---- segmentation -------------------------------------------------------------------------------

export interface Segment {
  piece: string;
  id: number;
}

/** SentencePiece's unigram model: Viterbi over the normalised text. */
export class UnigramModel {
  readonly normalizer: SentencePieceNormalizer;
  /** Matchable pieces (NORMAL, USER_DEFINED) → id. */
  private readonly vocab = new Map<string, number>();
  /** Every piece → id (special pieces included). */
  readonly pieceIds = new Map<string, number>();
  private readonly maxPieceChars: number;
  private readonly minScore: number;
  private readonly maxScore: number;

  constructor(
    readonly model: SpmModel,
    file = 'spiece.model',
  ) {
    const userDefined = model.pieces.filter((p) => p.type === PieceType.USER_DEFINED).map((p) => p.piece);
    this.normalizer = new SentencePieceNormalizer(model.normalizer, model.treatWhitespaceAsSuffix, file, userDefined);
    let maxChars = 1;
    let minScore = Infinity;
    let maxScore = -Infinity;
    model.pieces.forEach((p, id) => {
      if (!this.pieceIds.has(p.piece)) this.pieceIds.set(p.piece, id);
      if (p.type !== PieceType.NORMAL && p.type !== PieceType.USER_DEFINED) return;
      if (p.piece === '' || this.vocab.has(p.piece)) return;
      this.vocab.set(p.piece, id);
      maxChars = Math.max(maxChars, Array.from(p.piece).length);
      if (p.type === PieceType.NORMAL) {
        minScore = Math.min(minScore, p.score);
        maxScore = Math.max(maxScore, p.score);
      }
    });
    this.maxPieceChars = maxChars;
    this.minScore = Number.isFinite(minScore) ? minScore : 0;
    this.maxScore = Number.isFinite(maxScore) ? maxScore : 0;
  }

  private score(id: number): number {
    const p = this.model.pieces[id];
    // User-defined symbols get a bonus so that they are always chosen (SentencePiece does the same).
    // (length in bytes, as in SentencePiece's optimized encoder; its lattice encoder counts characters)
    return p.type === PieceType.USER_DEFINED ? Math.fround(new TextEncoder().encode(p.piece).length * this.maxScore - 0.1) : p.score;
  }

  /** Best-scoring segmentation of already normalised text. */
  segment(normalized: string): Segment[] {
    const chars = Array.from(normalized);
    const n = chars.length;
    const best = new Float32Array(n + 1).fill(-Infinity); // float path scores, as SentencePiece keeps them
    const from = new Int32Array(n + 1).fill(-1);
    const via = new Int32Array(n + 1).fill(-1); // piece id, or -1 for an unknown character
    best[0] = 0;
    const unkScore = Math.fround(this.minScore - UNK_PENALTY);
    for (let i = 0; i < n; i++) {
      if (best[i] === -Infinity) continue;
      let single = false;
      let text = '';
      for (let len = 1; len <= this.maxPieceChars && i + len <= n; len++) {
        text += chars[i + len - 1];
        const id = this.vocab.get(text);
        if (id === undefined) continue;
        if (len === 1) single = true;
        const s = Math.fround(best[i] + this.score(id));
        if (s > best[i + len]) {
          best[i + len] = s;
          from[i + len] = i;
          via[i + len] = id;
        }
      }
      if (!single) {
        const s = Math.fround(best[i] + unkScore);
        if (s > best[i + 1]) {
          best[i + 1] = s;
          from[i + 1] = i;
          via[i + 1] = -1;
        }
      }
    }
    const out: Segment[] = [];
    for (let end = n; end > 0; end = from[end]) {
      const start = from[end];
      const id = via[end];
      const piece = chars.slice(start, end).join('');
      out.push({ piece, id: id < 0 ? this.model.unkId : id });
    }
    out.reverse();
    return this.model.byteFallback ? this.bytesForUnknowns(out) : mergeUnknowns(out, this.model.unkId);
  }

  /** byte_fallback: an unknown character becomes its UTF-8 bytes as `<0xXX>` pieces (unk if one is missing). */
  private bytesForUnknowns(segments: Segment[]): Segment[] {
    const out: Segment[] = [];
    for (const s of segments) {
      if (s.id !== this.model.unkId) {
        out.push(s);
        continue;
      }
      for (const b of new TextEncoder().encode(s.piece)) {
        const piece = `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`;
        const id = this.pieceIds.get(piece);
        const ok = id !== undefined && this.model.pieces[id].type === PieceType.BYTE;
        out.push({ piece, id: ok ? id : this.model.unkId });
      }
    }
    return out;
  }

  /** Normalises and segments one sentence. */
  encode(text: string): Segment[] {
    return this.segment(this.normalizer.normalize(text));
  }
}

/** Consecutive unknown pieces become one (SentencePiece and HF's fuse_unk do this). */
function mergeUnknowns(segments: Segment[], unkId: number): Segment[] {
  const out: Segment[] = [];
  for (const s of segments) {
    const last = out[out.length - 1];
    if (s.id === unkId && last && last.id === unkId) last.piece += s.piece;
    else out.push({ ...s });
  }
  return out;
}

// ---- the T5 tokenizer -----------------------------------------------------------------------------

export interface T5TokenizerSettings {
  eosToken: string;
  padToken: string;
  unkToken: string;
  /** Tokens written literally in text that map straight to an id (extra ids, added tokens). */
  added: ReadonlyMap<string, number>;
}

export class T5Tokenizer {
  readonly unigram: UnigramModel;
  readonly eosId: number;
  readonly padId: number;
  readonly unkId: number;
  /** Text → id for every token matched literally in the text (added tokens and eos/pad/unk). */
  private readonly literal: Map<string, number>;

  constructor(model: SpmModel, settings: Partial<T5TokenizerSettings> = {}, file = 'spiece.model') {
    this.unigram = new UnigramModel(model, file);
    const added = settings.added ?? new Map<string, number>();
    const idOf = (token: string, what: string): number => {
      const id = added.get(token) ?? this.unigram.pieceIds.get(token);
      if (id === undefined) throw new ReshootError('model', `${file}: the ${what} token ${JSON.stringify(token)} is not in the vocabulary`);
      return id;
    };
    this.eosId = idOf(settings.eosToken ?? '</s>', 'eos');
    this.padId = idOf(settings.padToken ?? '<pad>', 'pad');
    this.unkId = idOf(settings.unkToken ?? '<unk>', 'unk');
    this.literal = new Map(added);
    this.literal.set(settings.eosToken ?? '</s>', this.eosId);
    this.literal.set(settings.padToken ?? '<pad>', this.padId);
    this.literal.set(settings.unkToken ?? '<unk>', this.unkId);
  }

  /** Splits text on literal tokens (leftmost, longest first). */
  private split(text: string): ({ text: string } | { id: number; token: string })[] {
    const parts: ({ text: string } | { id: number; token: string })[] = [];
    const tokens = [...this.literal.keys()].filter((t) => t.length > 0).sort((a, b) => b.length - a.length);
    let start = 0;
    let i = 0;
    while (i < text.length) {
      const hit = tokens.find((t) => text.startsWith(t, i));
      if (!hit) {
        i++;
        continue;
      }
      if (i > start) parts.push({ text: text.slice(start, i) });
      parts.push({ id: this.literal.get(hit)!, token: hit });
      i += hit.length;
      start = i;
    }
    if (start < text.length) parts.push({ text: text.slice(start) });
    return parts;
  }

  /** Pieces and ids of `text`, without `</s>`. */
  segments(text: string): Segment[] {
    const out: Segment[] = [];
    for (const part of this.split(text)) {
      if ('id' in part) out.push({ piece: part.token, id: part.id });
      else out.push(...this.unigram.encode(part.text));
    }
    return out;
  }

  /** Token ids of `text` without `</s>`, untruncated. */
  ids(text: string): number[] {
    return this.segments(text).map((s) => s.id);
  }

  /**
   * What the text encoder reads: ids + `</s>`, truncated to maxTokens (keeping `</s>` last, as HF's
   * truncation=True does), right-padded with the pad id; mask 1 for real tokens (the `</s>`
   * included), 0 for padding. LTX-Video uses maxTokens = 128.
   */
  encode(text: string, maxTokens: number): Tokens {
    if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new RangeError(`maxTokens must be a positive integer, got ${maxTokens}`);
    const body = this.ids(text).slice(0, maxTokens - 1);
    body.push(this.eosId);
    const ids = new BigInt64Array(maxTokens).fill(BigInt(this.padId));
    const mask = new BigInt64Array(maxTokens);
    body.forEach((id, k) => {
      ids[k] = BigInt(id);
      mask[k] = 1n;
    });
    return { ids, mask, length: body.length };
  }
}

// ---- loading from a checkpoint's tokenizer folder -------------------------------------------------

function readJson(path: string): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ReshootError('model', `${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ReshootError('model', `${path}: expected a JSON object`);
  return value as Record<string, unknown>;
}

/** A token as HF writes it: a string or an AddedToken object { content, … }. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return undefined;
}

/**
 * Loads the tokenizer from a checkpoint's `tokenizer/` folder, given the folder (its spiece.model
 * is read) or the SentencePiece model file itself; tokenizer_config.json, special_tokens_map.json
 * and added_tokens.json beside it are read when present. Extra ids follow HF's T5Tokenizer: `<extra_id_N>` = pieces + extra_ids - 1 - N, with
 * extra_ids from tokenizer_config.json (100 when absent, T5Tokenizer's default).
 */
export function loadT5Tokenizer(path: string): T5Tokenizer {
  const isDir = existsSync(path) && statSync(path).isDirectory();
  const dir = isDir ? path : dirname(path);
  const modelPath = isDir ? join(path, 'spiece.model') : path;
  if (!existsSync(modelPath) || !statSync(modelPath).isFile()) throw new ReshootError('model', `${modelPath}: tokenizer model not found`);
  const model = parseSentencePieceModel(new Uint8Array(readFileSync(modelPath)), modelPath);
  const config = readJson(join(dir, 'tokenizer_config.json')) ?? {};
  const specialMap = readJson(join(dir, 'special_tokens_map.json')) ?? {};
  const addedJson = readJson(join(dir, 'added_tokens.json')) ?? {};

  const added = new Map<string, number>();
  const addToken = (token: string, id: number, from: string): void => {
    const had = added.get(token);
    if (had !== undefined && had !== id) throw new ReshootError('model', `${join(dir, from)}: ${token} is id ${id} here but ${had} elsewhere`);
    added.set(token, id);
  };
  const extraIds = config.extra_ids ?? 100;
  if (typeof extraIds !== 'number' || !Number.isInteger(extraIds) || extraIds < 0) {
    throw new ReshootError('model', `${join(dir, 'tokenizer_config.json')}: extra_ids must be a non-negative integer`);
  }
  const n = model.pieces.length;
  for (let k = 0; k < extraIds; k++) addToken(`<extra_id_${k}>`, n + extraIds - 1 - k, 'tokenizer_config.json');
  const decoder = config.added_tokens_decoder;
  if (decoder && typeof decoder === 'object') {
    for (const [id, v] of Object.entries(decoder as Record<string, unknown>)) {
      const token = tokenText(v);
      if (token !== undefined && /^\d+$/.test(id)) addToken(token, Number(id), 'tokenizer_config.json');
    }
  }
  for (const [token, id] of Object.entries(addedJson)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new ReshootError('model', `${join(dir, 'added_tokens.json')}: id of ${token} is not an integer`);
    }
    addToken(token, id, 'added_tokens.json');
  }
  const pick = (key: string, fallback: string): string => tokenText(specialMap[key]) ?? tokenText(config[key]) ?? fallback;
  const settings = { eosToken: pick('eos_token', '</s>'), padToken: pick('pad_token', '<pad>'), unkToken: pick('unk_token', '<unk>'), added };
  return new T5Tokenizer(model, settings, modelPath);
}
