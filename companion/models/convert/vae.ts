/**
 * The LTX-Video VAE graph builders, as the conversion calls them (written in ../ltxv/vae.ts). This
 * module is the one place the conversion names them, so a change of their signatures (the
 * decoder's noise options, say) is absorbed here.
 */
import { ltxvVaeDecoderGraph, ltxvVaeEncoderGraph } from '../ltxv/vae.ts';
import type { LtxvVaeConfig } from '../ltxv/vae-config.ts';
import type { GraphBuilder, WeightSource } from '../onnx/graph.ts';

export interface LtxvVaeBuilders {
  encoder(cfg: LtxvVaeConfig, weights: WeightSource): GraphBuilder;
  decoder(cfg: LtxvVaeConfig, weights: WeightSource): GraphBuilder;
}

export function ltxvVaeBuilders(): LtxvVaeBuilders {
  return {
    encoder: (cfg, weights) => ltxvVaeEncoderGraph(cfg, weights),
    // Default options: 0.9.1 decoders take their injected noise as the `spatial_noise` input.
    decoder: (cfg, weights) => ltxvVaeDecoderGraph(cfg, weights),
  };
}
