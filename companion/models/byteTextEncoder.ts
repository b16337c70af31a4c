/**
 * The text encoder of test models: an embedding lookup of byte tokens (see tokenizer.ts), zeroed
 * at padding, standing in for T5's last_hidden_state [B, L, captionChannels].
 */
import { DataType } from './onnx/proto.ts';
import { GraphBuilder, type WeightSource } from './onnx/graph.ts';
import { BYTE_VOCAB_SIZE } from './tokenizer.ts';

export function byteTextEncoderGraph(captionChannels: number, weights: WeightSource): GraphBuilder {
  const g = new GraphBuilder('byte_text_encoder', weights);
  const ids = g.input('input_ids', DataType.INT64, ['batch', 'text_tokens']);
  const mask = g.input('attention_mask', DataType.INT64, ['batch', 'text_tokens']);
  const table = g.param('embed_tokens.weight', [BYTE_VOCAB_SIZE, captionChannels], { kind: 'embedding' });
  const embedded = g.op('Gather', [table, ids], {}); // [B, L, C]
  const keep = g.unsqueeze(g.cast(mask, DataType.FLOAT), [-1]); // [B, L, 1]
  g.output(g.mul(embedded, keep), 'last_hidden_state', DataType.FLOAT, ['batch', 'text_tokens', captionChannels]);
  return g;
}
