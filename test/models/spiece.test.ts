/**
 * The T5 SentencePiece tokenizer on a toy model written as a real spiece.model.
 *
 * Reference check for when the real file is available (t5-v1_1 ships the same 32k spiece.model as
 * the original T5): HF's T5Tokenizer gives "hello world" → [21820, 296, 1] (published in the
 * MindFormers T5Tokenizer docs, which wrap the same spiece.model), and padding to 10 gives
 * [21820, 296, 1, 0, 0, 0, 0, 0, 0, 0] with mask [1, 1, 1, 0, …].
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadT5Tokenizer, parseSentencePieceModel, CharsMap, UnigramModel, type T5Tokenizer } from '../../companion/models/t5/tokenizer.ts';
import { buildCharsMap, encodeSpieceModel, toyId, TOY_PIECES, TOY_EXTRA_IDS, writeT5TokenizerFixture } from '../helpers/t5Fixture.ts';
import { tempDir } from '../helpers/fixtures.ts';

let tmp: { dir: string; cleanup: () => void };
let tok: T5Tokenizer;

beforeAll(() => {
  tmp = tempDir('reshoot-spiece-');
  tok = loadT5Tokenizer(writeT5TokenizerFixture(join(tmp.dir, 'tokenizer')).dir);
});
afterAll(() => tmp.cleanup());

const pieces = (t: T5Tokenizer, text: string): string[] => t.segments(text).map((s) => s.piece);
const ids = (...p: string[]): number[] => p.map(toyId);

describe('spiece.model reader', () => {
  it('reads pieces, scores, types, special ids and the normalizer spec', () => {
    const m = parseSentencePieceModel(readFileSync(join(tmp.dir, 'tokenizer', 'spiece.model')));
    expect(m.pieces.length).toBe(TOY_PIECES.length);
    expect(m.pieces[0]).toEqual({ piece: '<pad>', score: 0, type: 3 });
    expect(m.pieces[2].type).toBe(2);
    expect(m.pieces[toyId('llo')]).toEqual({ piece: 'llo', score: -1.5, type: 1 });
    expect([m.unkId, m.eosId, m.padId, m.bosId, m.modelType, m.byteFallback]).toEqual([2, 1, 0, -1, 1, false]);
    expect(m.normalizer.name).toBe('nmt_nfkc');
    expect(m.normalizer.addDummyPrefix && m.normalizer.removeExtraWhitespaces && m.normalizer.escapeWhitespaces).toBe(true);
    expect(m.normalizer.precompiledCharsmap?.length).toBeGreaterThan(4);
  });

  it('a truncated, corrupt or empty spiece.model is a clear error naming the file', () => {
    const path = join(tmp.dir, 'tokenizer', 'spiece.model');
    const bytes = readFileSync(path);
    for (const cut of [bytes.length - 3, Math.floor(bytes.length / 2), 7]) {
      expect(() => parseSentencePieceModel(bytes.subarray(0, cut), path)).toThrow(/spiece\.model: not a usable SentencePiece model \(the file is truncated\)/);
    }
    expect(() => parseSentencePieceModel(new TextEncoder().encode('{"not": "protobuf"}'), path)).toThrow(/spiece\.model: not a usable.*corrupt/);
    expect(() => parseSentencePieceModel(new Uint8Array(0), path)).toThrow(/spiece\.model.*no pieces/);
    // Through the loader, from disk.
    const bad = join(tmp.dir, 'bad');
    writeT5TokenizerFixture(bad);
    writeFileSync(join(bad, 'spiece.model'), bytes.subarray(0, 100));
    expect(() => loadT5Tokenizer(bad)).toThrow(new RegExp(`${join(bad, 'spiece.model').replace(/[.\\/]/g, '\\$&')}: not a usable`));
    expect(() => loadT5Tokenizer(join(tmp.dir, 'nowhere'))).toThrow(/nowhere: tokenizer model not found/);
    expect(() => loadT5Tokenizer(join(tmp.dir, 'nowhere', 'spiece.model'))).toThrow(/nowhere\/spiece\.model: tokenizer model not found/);
  });

  it('refuses models it cannot run: BPE, no UNKNOWN piece at unk_id', () => {
    expect(() => parseSentencePieceModel(encodeSpieceModel({ pieces: TOY_PIECES, modelType: 2 }), 'x/spiece.model')).toThrow(/x\/spiece\.model.*not UNIGRAM/);
    expect(() => parseSentencePieceModel(encodeSpieceModel({ pieces: TOY_PIECES, unkId: 3 }), 'x/spiece.model')).toThrow(/unk_id 3/);
  });

  it('reads a darts-clone charsmap by longest prefix match', () => {
    const map = new CharsMap(buildCharsMap({ ab: 'X', abc: 'Y', b: 'Z' }));
    const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
    const dec = (b: Uint8Array | undefined): string | undefined => (b ? new TextDecoder().decode(b) : undefined);
    expect(map.longestMatch(enc('abcd'), 0)).toMatchObject({ length: 3 });
    expect(dec(map.longestMatch(enc('abcd'), 0)?.replacement)).toBe('Y');
    expect(dec(map.longestMatch(enc('abd'), 0)?.replacement)).toBe('X');
    expect(dec(map.longestMatch(enc('abd'), 1)?.replacement)).toBe('Z');
    expect(map.longestMatch(enc('a'), 0)).toBeNull();
    expect(map.longestMatch(enc('cab'), 0)).toBeNull();
  });
});

// Set RESHOOT_T5_TOKENIZER to a real checkpoint's tokenizer/ folder (or its spiece.model) to run this.
const realTokenizer = process.env.RESHOOT_T5_TOKENIZER;
describe.skipIf(!realTokenizer)('T5 tokenizer (real spiece.model)', () => {
  it('gives the published ids for "hello world"', () => {
    const t = loadT5Tokenizer(realTokenizer!);
    const out = t.encode('hello world', 10);
    expect(Array.from(out.ids, Number)).toEqual([21820, 296, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect(Array.from(out.mask, Number)).toEqual([1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('T5 tokenizer (toy vocabulary)', () => {
  it('Viterbi picks the best-scoring segmentation, not the greedy longest match', () => {
    // ▁hel + lo = -4, ▁he + llo = -3.5, letters alone are -6 each.
    expect(pieces(tok, 'hello')).toEqual(['▁he', 'llo']);
    expect(pieces(tok, 'hello world')).toEqual(['▁he', 'llo', '▁world']);
    expect(tok.ids('hello world')).toEqual(ids('▁he', 'llo', '▁world'));
    // "▁wor" + "ld" (-6) loses to "▁world" (-2.5); "▁worl" is not a piece: ▁wor + l (-9) vs ▁ + w + o + r + l.
    expect(pieces(tok, 'worl')).toEqual(['▁wor', 'l']);
  });

  it('handles whitespace the way SentencePiece does: dummy prefix, ▁, extra spaces dropped', () => {
    expect(tok.unigram.normalizer.normalize('hello world')).toBe('▁hello▁world');
    expect(tok.unigram.normalizer.normalize('   hello    world  ')).toBe('▁hello▁world');
    expect(tok.unigram.normalizer.normalize('hello\tworld')).toBe('▁hello▁world'); // \t → ' ' by the charsmap
    expect(tok.unigram.normalizer.normalize('hello\u3000world')).toBe('▁hello▁world');
    expect(tok.unigram.normalizer.normalize('   ')).toBe('');
    expect(tok.ids('  hello   world ')).toEqual(tok.ids('hello world'));
    expect(pieces(tok, 'a b')).toEqual(['▁', 'a', '▁', 'b']);
  });

  it('applies the normaliser rules of the model (charsmap), longest match first', () => {
    expect(tok.unigram.normalizer.normalize('Ａ')).toBe('▁A');
    expect(pieces(tok, 'ﬁne')).toEqual(['▁fine']);
    expect(pieces(tok, 'cafe\u0301')).toEqual(['▁caf', 'é']); // e + U+0301 is one rule
    expect(pieces(tok, 'cafe')).toEqual(['▁caf', 'e']);
  });

  it('unknown characters become <unk>, consecutive ones merged; UNUSED pieces never match', () => {
    expect(pieces(tok, 'hello ãã')).toEqual(['▁he', 'llo', '▁', 'ãã']);
    expect(tok.ids('hello ãã')).toEqual([...ids('▁he', 'llo', '▁'), 2]);
    expect(tok.ids('aãb')).toEqual([toyId('▁'), toyId('a'), 2, toyId('b')]);
    expect(tok.ids('<reserved>')).not.toContain(toyId('<reserved>'));
    expect(tok.ids('😀')).toEqual([toyId('▁'), 2]);
  });

  it('byte fallback, when the model enables it, spells unknown characters as UTF-8 bytes', () => {
    const t = loadT5Tokenizer(writeT5TokenizerFixture(join(tmp.dir, 'bytes'), { byteFallback: true }).dir);
    const base = TOY_PIECES.length; // byte pieces follow the toy pieces: <0xNN> = base + NN
    expect(pieces(t, 'aã')).toEqual(['▁', 'a', '<0xC3>', '<0xA3>']);
    expect(t.ids('aã')).toEqual([toyId('▁'), toyId('a'), base + 0xc3, base + 0xa3]);
  });

  it('appends </s>, pads with <pad> and masks the padding', () => {
    const t = tok.encode('hello world', 6);
    expect(Array.from(t.ids, Number)).toEqual([...ids('▁he', 'llo', '▁world'), 1, 0, 0]);
    expect(Array.from(t.mask, Number)).toEqual([1, 1, 1, 1, 0, 0]);
    expect(t.length).toBe(4);
    const empty = tok.encode('', 3);
    expect(Array.from(empty.ids, Number)).toEqual([1, 0, 0]);
    expect(Array.from(empty.mask, Number)).toEqual([1, 0, 0]);
  });

  it('truncates to maxTokens keeping </s> last', () => {
    const t = tok.encode('hello world hello world', 4);
    expect(Array.from(t.ids, Number)).toEqual([...ids('▁he', 'llo', '▁world'), 1]);
    expect(Array.from(t.mask, Number)).toEqual([1, 1, 1, 1]);
    expect(t.length).toBe(4);
    expect(Array.from(tok.encode('hello', 1).ids, Number)).toEqual([1]);
    expect(() => tok.encode('hello', 0)).toThrow(/maxTokens/);
  });

  it('special and added tokens written in the text map to their ids', () => {
    const n = TOY_PIECES.length;
    expect(tok.ids('hello</s>')).toEqual([...ids('▁he', 'llo'), 1]);
    // <extra_id_N> = pieces + extra_ids - 1 - N, as HF's T5Tokenizer numbers them.
    expect(tok.ids('hello <extra_id_0> world')).toEqual([...ids('▁he', 'llo'), n + TOY_EXTRA_IDS - 1, toyId('▁world')]);
    expect(tok.ids('<extra_id_2>')).toEqual([n]);
    const t = loadT5Tokenizer(writeT5TokenizerFixture(join(tmp.dir, 'added'), { addedTokens: { '<sep>': 99 } }).dir);
    expect(t.ids('a<sep>b')).toEqual([toyId('▁'), toyId('a'), 99, toyId('▁'), toyId('b')]);
  });

  it('without a charsmap: identity takes text as is, nmt_nfkc falls back to NFKC', () => {
    const t = loadT5Tokenizer(writeT5TokenizerFixture(join(tmp.dir, 'identity'), { rules: null }).dir);
    expect(t.unigram.normalizer.normalize('Ａ\tb')).toBe('▁Ａ\tb');
    const nfkc = parseSentencePieceModel(encodeSpieceModel({ pieces: TOY_PIECES, normalizer: { name: 'nmt_nfkc' } }));
    expect(new UnigramModel(nfkc).normalizer.normalize('Ａﬁ')).toBe('▁Afi');
    const odd = parseSentencePieceModel(encodeSpieceModel({ pieces: TOY_PIECES, normalizer: { name: 'mystery' } }));
    expect(() => new UnigramModel(odd, 'y/spiece.model')).toThrow(/y\/spiece\.model: normalizer "mystery"/);
  });

  it('user-defined pieces are never split or normalised and always win', () => {
    const withUser = [...TOY_PIECES, { piece: 'ﬁ', score: -50, type: 'user' as const }, { piece: '<sep>', score: -50, type: 'user' as const }];
    const t = loadT5Tokenizer(writeT5TokenizerFixture(join(tmp.dir, 'user'), { pieces: withUser }).dir);
    const n = TOY_PIECES.length;
    expect(t.unigram.normalizer.normalize('ﬁne')).toBe('▁ﬁne'); // not turned into "fi" by the charsmap
    expect(t.ids('ﬁne')).toEqual([toyId('▁'), n, toyId('n'), toyId('e')]);
    expect(t.ids('a<sep>b')).toEqual([toyId('▁'), toyId('a'), n + 1, toyId('b')]);
  });

  it('loads from the spiece.model path as well as from its folder', () => {
    const { modelPath } = writeT5TokenizerFixture(join(tmp.dir, 'bypath'));
    const t = loadT5Tokenizer(modelPath);
    expect(t.ids('hello <extra_id_1>')).toEqual([...ids('▁he', 'llo'), TOY_PIECES.length + TOY_EXTRA_IDS - 2]);
    expect([t.eosId, t.padId, t.unkId]).toEqual([1, 0, 2]);
  });

  it('bad tokenizer JSON files are errors naming the file', () => {
    const dir = writeT5TokenizerFixture(join(tmp.dir, 'badjson')).dir;
    writeFileSync(join(dir, 'special_tokens_map.json'), '{ nope');
    expect(() => loadT5Tokenizer(dir)).toThrow(/special_tokens_map\.json: not valid JSON/);
    writeFileSync(join(dir, 'special_tokens_map.json'), JSON.stringify({ eos_token: '<eos-missing>' }));
    expect(() => loadT5Tokenizer(dir)).toThrow(/eos token "<eos-missing>" is not in the vocabulary/);
  });
});
