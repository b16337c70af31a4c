/**
 * The byte tokenizer of test models: token = UTF-8 byte + 1, so id 0 is free for padding.
 * Output matches the text_encoder graph's inputs (int64 [L] ids and attention mask); stack rows
 * for a batch.
 */
import { join } from 'node:path';
import type { ModelHandle } from './types.ts';

export const BYTE_VOCAB_SIZE = 257;
export const BYTE_PAD_ID = 0;

export interface Tokens {
  ids: BigInt64Array;
  /** 1 for real tokens, 0 for padding. */
  mask: BigInt64Array;
  /** Real tokens kept (≤ maxTokens; text beyond it is truncated). */
  length: number;
}

export function tokenizeBytes(text: string, maxTokens: number): Tokens {
  const bytes = new TextEncoder().encode(text);
  const length = Math.min(bytes.length, maxTokens);
  const ids = new BigInt64Array(maxTokens); // zero-filled: BYTE_PAD_ID
  const mask = new BigInt64Array(maxTokens);
  for (let i = 0; i < length; i++) {
    ids[i] = BigInt(bytes[i] + 1);
    mask[i] = 1n;
  }
  return { ids, mask, length };
}

/** Turns a prompt into the text encoder's inputs, padded to the model's token count. */
export type Tokenize = (text: string) => Tokens;

/**
 * The tokenizer a model's manifest names: bytes for test models, the checkpoint's own
 * SentencePiece model for T5 (loaded once, from the file the model folder ships).
 */
export async function loadTokenizer(model: ModelHandle): Promise<Tokenize> {
  const text = model.manifest.text;
  if (text.tokenizer === 'bytes') return (s) => tokenizeBytes(s, text.maxTokens);
  const { loadT5Tokenizer } = await import('./t5/tokenizer.ts');
  const t5 = await loadT5Tokenizer(join(model.dir, text.file));
  return (s) => t5.encode(s, text.maxTokens);
}
