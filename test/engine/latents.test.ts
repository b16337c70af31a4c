/**
 * The pixel mask → token mask reduction of fills (latentTokenMask): which latent cells a fill
 * regenerates. A cell is generated when any pixel of any of its frames is masked, grown by the
 * VAE decoder's reach: a masked pixel must decode from generated latents only, and every known
 * cell kept is context the model sees.
 */
import { describe, expect, it } from 'vitest';
import { latentTokenMask } from '../../companion/engine/latents.ts';
import { modelManifestSchema } from '../../companion/models/manifest.ts';
import { tinyManifest } from '../../companion/models/tiny.ts';

const W = 64;
const H = 32;
/** 5 pixel frames (2 per latent frame after the first: 3 latent frames of 4 × 8 cells); one pixel masked at (x, y) in frame `t`. */
function onePixel(x: number, y: number, t: number): Float32Array[] {
  return Array.from({ length: 5 }, (_, i) => {
    const m = new Float32Array(W * H);
    if (i === t) m[y * W + x] = 1;
    return m;
  });
}
const generated = (mask: Float32Array) => [...mask.keys()].filter((k) => mask[k] === 1);
/** Token index of latent frame f, cell row r, column c on a 4 × 8 grid. */
const token = (f: number, r: number, c: number) => (f * 4 + r) * 8 + c;

describe('latentTokenMask', () => {
  it('regenerates only the cells a mask touches when the decoder reaches no further (a patch VAE)', () => {
    // Pixel (21, 10) is in cell row 1, column 2; pixel frame 3 is in latent frame 2 (frames 3–4).
    const { mask, grid } = latentTokenMask(onePixel(21, 10, 3), W, H, { channels: 8, spatial: 8, temporal: 2, decoderReach: 0 });
    expect(grid).toEqual({ frames: 3, height: 4, width: 8 });
    expect(generated(mask)).toEqual([token(2, 1, 2)]);
  });

  it('grows the region by the decoder reach, one cell when the VAE does not say (a convolutional decoder)', () => {
    for (const spec of [{ channels: 8, spatial: 8, temporal: 2 }, { channels: 8, spatial: 8, temporal: 2, decoderReach: 1 }]) {
      const { mask } = latentTokenMask(onePixel(21, 10, 3), W, H, spec);
      const want = [0, 1, 2].flatMap((r) => [1, 2, 3].map((c) => token(2, r, c)));
      expect(generated(mask)).toEqual(want);
    }
    const { mask } = latentTokenMask(onePixel(21, 10, 3), W, H, { channels: 8, spatial: 8, temporal: 2, decoderReach: 2 });
    expect(generated(mask)).toHaveLength(5 * 5 - 5); // rows 0–3 (row −1 is off the grid) × columns 0–4
  });

  it('the patch VAEs say so in their manifests, and a manifest with a bad reach is refused by name', () => {
    expect(tinyManifest.latent.decoderReach).toBe(0);
    const bad = modelManifestSchema.safeParse({ ...tinyManifest, files: [], latent: { ...tinyManifest.latent, decoderReach: -1 } });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['latent', 'decoderReach']);
  });

  it('a model’s extension context must fit its windows', () => {
    expect(modelManifestSchema.safeParse({ ...tinyManifest, files: [], extendContext: 9 }).success).toBe(true);
    for (const extendContext of [8, 17, 0]) {
      const r = modelManifestSchema.safeParse({ ...tinyManifest, files: [], extendContext });
      expect(r.success, `extendContext ${extendContext}`).toBe(false);
      expect(r.error?.issues[0]?.path).toEqual(['extendContext']);
    }
  });
});
