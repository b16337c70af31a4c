/**
 * model.json of a converted LTX-Video checkpoint: everything the engine needs to drive it, taken
 * from the checkpoint's configs and its recipe (how the authors sample it: ../recipe.ts), which
 * the manifest carries whole for the sampler, the provenance sidecar and `models info`.
 */
import { basename } from 'node:path';
import type { LtxvCheckpoint } from '../checkpoint.ts';
import { LTX_MAX_TOKENS } from '../checkpoint.ts';
import { ltxvVaeDecoderNoiseShape } from '../ltxv/vae.ts';
import type { GraphPrecision, ModelFile, ModelManifest } from '../types.ts';

/** Bump when converted folders change, so an import of the same checkpoint is redone. */
export const CONVERTER_VERSION = 3;
export const CONVERTER_PRODUCER = 'reshoot-import';

/** Where the tokenizer's SentencePiece model goes in the model folder. */
export const T5_TOKENIZER_FILE = 'tokenizer/spiece.model';

/** Longest window: 257 frames (1 + 8·32), what LTX-Video 0.9.x generates at most. */
const MAX_PIXEL_FRAMES = 257;

export function convertedManifest(
  ckpt: LtxvCheckpoint,
  id: string,
  files: ModelFile[],
  precision: Record<string, GraphPrecision>,
): ModelManifest {
  const { vae, transformer: t } = ckpt;
  const conditioned = vae.timestepConditioned;
  const newer = ckpt.version === '0.9.5+';
  // 0.9.1 decoders inject noise in their blocks: the graph takes it as an input, sized per latent cell.
  const noiseSites = ltxvVaeDecoderNoiseShape(vae.config, 1, 1);
  const kind = ckpt.distilled ? ' distilled' : '';
  const recipeNote = ` Sampled as the authors' ${ckpt.recipe.name} recipe.${(ckpt.notes ?? []).map((n) => ` Note: ${n}.`).join('')}`;
  // A single file in a hub repo is named by repo and file (the repo holds many).
  const from = ckpt.repo ? (ckpt.pipeline === 'single file' ? `${ckpt.repo}/${basename(ckpt.folder)}` : ckpt.repo) : ckpt.folder;
  return {
    id,
    family: 'ltxv',
    license: ckpt.license ?? `unknown: see the model card of ${ckpt.repo ?? ckpt.folder}`,
    testModel: false,
    description:
      `LTX-Video ${ckpt.version}${kind}: ${t.numLayers}-layer transformer (${t.numAttentionHeads} heads × ${t.attentionHeadDim}), ` +
      `T5 text encoder (${ckpt.t5.numLayers} layers), ${vae.spatial}×${vae.spatial}×${vae.temporal} VAE; converted from ${from}.${recipeNote}`,
    latent: { channels: vae.latentChannels, spatial: vae.spatial, temporal: vae.temporal },
    sizeRules: {
      multiple: vae.spatial,
      // Trained at 768×512 (0.9.0/0.9.1); 0.9.5+ at up to 1216×704.
      maxPixels: newer ? 1216 * 704 : 768 * 512,
      maxFrames: 1 + vae.temporal * Math.floor((MAX_PIXEL_FRAMES - 1) / vae.temporal),
    },
    scheduler: ckpt.scheduler,
    transformer: t,
    text: { tokenizer: 't5', file: T5_TOKENIZER_FILE, maxTokens: LTX_MAX_TOKENS, padId: 0, eosId: 1 },
    // Timestep-conditioned decoders (0.9.1+) run at the recipe's decode timestep and noise.
    vae: {
      ...(conditioned
        ? { timestepConditioned: true, decodeTimestep: ckpt.recipe.decode.timestep, decodeNoiseScale: ckpt.recipe.decode.noiseScale }
        : { timestepConditioned: false }),
      ...(noiseSites ? { spatialNoise: { sites: noiseSites.sites, scale: noiseSites.height } } : {}),
    },
    // The authors hold known tokens at timestep 0 on every version; blending stays a job option.
    conditioning: ckpt.recipe.conditioning,
    files,
    build: { producer: CONVERTER_PRODUCER, version: CONVERTER_VERSION },
    source: {
      checkpoint: ckpt.folder,
      ...(ckpt.repo ? { repo: ckpt.repo } : {}),
      ...(ckpt.revision ? { revision: ckpt.revision } : {}),
      version: ckpt.version,
    },
    precision,
    recipe: ckpt.recipe,
  };
}
