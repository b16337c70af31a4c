/**
 * Single-file checkpoints (the authors' and ComfyUI's format) convert into the same model as the
 * same weights in diffusers format: reduced-size files with the authors' real key layout and
 * config metadata (0.9.0, 0.9.1, 0.9.5+ and a 48-block 13B-style file, bf16 and fp8) are imported
 * with a text-encoder folder, and every graph file comes out byte-identical to the diffusers
 * import's. A wrong file gets one message naming what is wrong, and nothing is written.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isReshootError } from '../../companion/errors.ts';
import { importCheckpoint } from '../../companion/models/convert/index.ts';
import { F8_E4M3_VALUES, F8_E5M2_VALUES, fp8ToFloat, floatToFp8, writeSafetensors } from '../../companion/models/safetensors.ts';
import type { ModelManifest } from '../../companion/models/types.ts';
import { Engine } from '../../companion/engine/engine.ts';
import { runJob } from '../../companion/jobs/run.ts';
import { probe } from '../../companion/media/probe.ts';
import { parseJobSpec } from '../../protocol/index.ts';
import { losslessClip } from '../helpers/fixtures.ts';
import type { FixtureVersion } from '../helpers/checkpoint.ts';
import { writeSingleFileFixture, type SingleFileFixtureOptions } from '../helpers/singleFile.ts';

const root = mkdtempSync(join(tmpdir(), 'reshoot-single-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const saved = { models: process.env.RESHOOT_MODELS, hub: process.env.HF_HUB_CACHE };
beforeEach(() => {
  const dir = mkdtempSync(join(root, 'cache-'));
  process.env.RESHOOT_MODELS = join(dir, 'models');
  process.env.HF_HUB_CACHE = join(dir, 'hub'); // empty: no PixArt text encoder unless a test puts one there
});
afterEach(() => {
  for (const [key, value] of [['RESHOOT_MODELS', saved.models], ['HF_HUB_CACHE', saved.hub]] as const) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

let n = 0;
const fixture = (opts: SingleFileFixtureOptions) => writeSingleFileFixture(mkdtempSync(join(root, `f${n++}-`)), opts);

/** Graph and tokenizer files by path → sha256 (what must be identical). */
const hashes = (m: ModelManifest) => Object.fromEntries(m.files.map((f) => [f.path, f.sha256]));

async function importError(path: string, textEncoder?: string): Promise<string> {
  const err = await importCheckpoint(path, textEncoder ? { textEncoder } : {}).then(() => undefined, (e: unknown) => e);
  expect(isReshootError(err), String(err)).toBe(true);
  const cache = process.env.RESHOOT_MODELS!;
  expect(existsSync(cache) ? readdirSync(cache).filter((f) => !f.startsWith('.')) : []).toEqual([]);
  return (err as Error).message;
}

describe('8-bit floats', () => {
  it('decode as the OCP FP8 formats define them (E4M3 "fn": max 448, NaN only at S.1111.111)', () => {
    const e4 = (b: number) => F8_E4M3_VALUES[b];
    expect([e4(0x00), e4(0x38), e4(0x40), e4(0xc0), e4(0x7e), e4(0x08), e4(0x01), e4(0x3c)]).toEqual([0, 1, 2, -2, 448, 2 ** -6, 2 ** -9, 1.5]);
    expect(Number.isNaN(e4(0x7f)) && Number.isNaN(e4(0xff))).toBe(true);
    expect(e4(0x78)).toBe(256); // exponent all ones is a number in the fn variant
    const e5 = (b: number) => F8_E5M2_VALUES[b];
    expect([e5(0x3c), e5(0x7b), e5(0x01), e5(0x7c)]).toEqual([1, 57344, 2 ** -16, Infinity]);
  });

  it('round-trip every finite E4M3 value, and round to the nearest', () => {
    const finite = Float32Array.from([...F8_E4M3_VALUES].filter(Number.isFinite));
    expect(fp8ToFloat(floatToFp8(finite, 'F8_E4M3'), 'F8_E4M3')).toEqual(finite);
    expect([...fp8ToFloat(floatToFp8(Float32Array.of(1.06, 1.07, 1000, -0.3), 'F8_E4M3'), 'F8_E4M3')]).toEqual([1, 1.125, 448, -0.3125]);
  });
});

const ERAS: { era: string; version: FixtureVersion; file: string; layers?: number; recipe: string }[] = [
  { era: '0.9.0', version: '0.9.0', file: 'ltx-video-2b-v0.9.safetensors', recipe: 'ltxv-2b-0.9' },
  { era: '0.9.1', version: '0.9.1', file: 'ltx-video-2b-v0.9.1.safetensors', recipe: 'ltxv-2b-0.9.1' },
  { era: '0.9.5+', version: '0.9.5', file: 'ltxv-2b-0.9.6-distilled-04-25.safetensors', recipe: 'ltxv-2b-0.9.6-distilled' },
  { era: '13B', version: '0.9.5', file: 'ltxv-13b-0.9.8-dev.safetensors', layers: 48, recipe: 'ltxv-13b-0.9.8-dev' },
];

describe('single-file import', () => {
  it.each(ERAS)('$era ($file): the same graphs, byte for byte, as the same weights in diffusers format', async ({ version, file, layers, recipe }) => {
    const name = file.replace('.safetensors', '');
    const f = fixture({ file, version, name, ...(layers ? { transformerConfig: { num_layers: layers } } : {}) });
    const single = await importCheckpoint(f.path, { textEncoder: f.diffusers.folder });
    const folder = await importCheckpoint(f.diffusers.folder, { id: 'from-diffusers' });
    expect(single.id).toBe(name);
    expect(single.recipe?.name).toBe(recipe);
    expect(hashes(single)).toEqual(hashes(folder));
    expect(single.transformer).toEqual(folder.transformer);
    expect(single.vae).toEqual(folder.vae);
    expect(single.source).toMatchObject({ checkpoint: f.path, version: version === '0.9.5' ? '0.9.5+' : version });
    if (version !== '0.9.5') expect(single.scheduler).toEqual(folder.scheduler); // same authors' scheduler as diffusers' 0.9.0/0.9.1 config
  });

  it('an fp8 file (F8_E4M3 transformer) is read and upcast; it runs its bf16 sibling\'s recipe', async () => {
    const file = 'ltxv-2b-0.9.8-distilled-fp8.safetensors';
    const f = fixture({ file, version: '0.9.5', name: 'ltxv-2b-0.9.8-distilled-fp8', transformerDtype: 'F8_E4M3' });
    const single = await importCheckpoint(f.path, { textEncoder: f.diffusers.folder });
    const folder = await importCheckpoint(f.diffusers.folder, { id: 'from-diffusers' });
    expect(single.recipe?.name).toBe('ltxv-2b-0.9.8-distilled');
    expect(hashes(single)).toEqual(hashes(folder));
  });

  it('a VAE config naming another spatial padding still converts, and the model says how it differs', async () => {
    const f = fixture({ file: 'ltxv-2b-0.9.5.safetensors', version: '0.9.5', authorsVae: { spatial_padding_mode: 'replicate' } });
    const m = await importCheckpoint(f.path, { textEncoder: f.diffusers.folder });
    expect(m.description).toContain('Note: its VAE config names spatial padding "replicate"; the graphs pad with zeros, as diffusers\' port does.');
    expect(m.description).toContain(`converted from ${f.path}.`);
  });

  it('a second model with the same text encoder (given by the first model\'s id) links its T5 graph instead of converting it', async () => {
    const f = fixture({ file: 'ltxv-2b-0.9.5.safetensors', version: '0.9.5' });
    const first = await importCheckpoint(f.path, { textEncoder: f.diffusers.folder });
    const other = join(root, `other-${n++}`);
    mkdirSync(other);
    copyFileSync(f.path, join(other, 'ltxv-2b-0.9.6-dev-04-25.safetensors'));
    const stages: string[] = [];
    // --text-encoder <id>: the text encoder the model `id` was converted with.
    const second = await importCheckpoint(join(other, 'ltxv-2b-0.9.6-dev-04-25.safetensors'), { textEncoder: first.id, onProgress: (p) => stages.push(`${p.stage} ${p.done}/${p.total}`) });
    expect(stages.filter((s) => s.startsWith('text_encoder'))).toEqual(['text_encoder 1/1']);
    expect(stages.some((s) => s.startsWith('transformer'))).toBe(true);
    const inode = (id: string) => statSync(join(process.env.RESHOOT_MODELS!, id, 'text_encoder.onnx.data')).ino;
    expect(inode(second.id)).toBe(inode(first.id));
    expect(hashes(second)['text_encoder.onnx.data']).toBe(hashes(first)['text_encoder.onnx.data']);
    expect(second.precision?.text_encoder).toEqual(first.precision?.text_encoder);
  });

  it('a ComfyUI models/checkpoints file is the same format and imports as is; a second import is a no-op', async () => {
    const f = fixture({ file: 'ltxv-2b-0.9.5.safetensors', version: '0.9.5' });
    const comfy = join(root, `comfy-${n++}`, 'models', 'checkpoints');
    mkdirSync(comfy, { recursive: true });
    copyFileSync(f.path, join(comfy, 'ltxv-2b-0.9.5.safetensors'));
    const first = await importCheckpoint(join(comfy, 'ltxv-2b-0.9.5.safetensors'), { textEncoder: f.diffusers.folder });
    const before = statSync(join(process.env.RESHOOT_MODELS!, first.id, 'transformer.onnx.data')).mtimeMs;
    const again = await importCheckpoint(join(comfy, 'ltxv-2b-0.9.5.safetensors'), { textEncoder: f.diffusers.folder });
    expect(again).toEqual(first);
    expect(statSync(join(process.env.RESHOOT_MODELS!, first.id, 'transformer.onnx.data')).mtimeMs).toBe(before);
  });
});

describe('a converted single file renders', () => {
  it('extends a clip by exactly the asked frames with the existing engine; the sidecar names the recipe', async () => {
    const f = fixture({ file: 'ltxv-2b-0.9.6-dev-04-25.safetensors', version: '0.9.5' });
    const m = await importCheckpoint(f.path, { textEncoder: f.diffusers.folder });
    const dir = mkdtempSync(join(root, 'render-'));
    const source = await losslessClip(dir, 'source.mkv', 96, 64, 9);
    const engine = await Engine.open(m.id, ['cpu']);
    try {
      const spec = parseJobSpec({
        kind: 'extend', model: m.id, prompt: 'more', seed: 1, steps: 2, sequence: { fps: '24000/1001', width: 96, height: 64 },
        source: { path: source }, extend: { direction: 'tail', duration: { frames: 10 } }, output: { format: 'ffv1', path: join(dir, 'tail.mkv') },
      });
      const r = await runJob(spec, { engine });
      const info = await probe(r.output);
      expect([info.frameCount, info.width, info.height]).toEqual([10, 96, 64]);
      expect(JSON.parse(readFileSync(r.sidecar, 'utf8')).model).toMatchObject({ id: 'ltxv-2b-0.9.6-dev-04-25', recipe: { name: 'ltxv-2b-0.9.6-dev' } });
    } finally {
      await engine.close();
    }
  }, 120_000);
});

describe('single-file errors: one sentence, nothing written', () => {
  it('a truncated file', async () => {
    const f = fixture({ file: 'ltxv-2b-0.9.8-distilled.safetensors' });
    truncateSync(f.path, statSync(f.path).size - 64);
    expect(await importError(f.path, f.diffusers.folder)).toMatch(/ltxv-2b-0\.9\.8-distilled\.safetensors: is truncated: tensor ".*" ends at byte \d+ but the file has \d+ bytes/);
  });

  it('an unknown release', async () => {
    const f = fixture({ file: 'ltxv-2b-0.9.9-dev.safetensors' });
    expect(await importError(f.path, f.diffusers.folder)).toMatch(/no published recipe for ltxv-2b-0\.9\.9-dev/);
    const vae = fixture({ file: 'ltxv-2b-0.9.5.safetensors', authorsVae: { encoder_blocks: [['res_x', 1], ['attn_res_x', { num_layers: 1 }], ['res_x', 1]] } });
    expect(await importError(vae.path, vae.diffusers.folder)).toMatch(/metadata config\.vae: encoder_blocks: block "attn_res_x" is not supported/);
  });

  it('a tensor of the wrong shape, named with the expected and found shapes', async () => {
    const f = fixture({
      file: 'ltxv-2b-0.9.5.safetensors',
      mutate: (ts) => {
        const t = ts.find((x) => x.name === 'model.diffusion_model.transformer_blocks.3.attn1.to_q.weight')!;
        t.shape = [8, 32];
      },
    });
    expect(await importError(f.path, f.diffusers.folder)).toMatch(
      /transformer tensor "model\.diffusion_model\.transformer_blocks\.3\.attn1\.to_q\.weight" has shape \[8, 32\], expected \[16, 16\] from the transformer config in its metadata/,
    );
  });

  it('missing tensors, named in the file\'s terms where they invert one to one', async () => {
    const f = fixture({ file: 'ltxv-2b-0.9.5.safetensors', drop: ['vae.decoder.up_blocks.4.res_blocks.0.conv1.conv.weight', 'model.diffusion_model.patchify_proj.weight'] });
    const msg = await importError(f.path, f.diffusers.folder);
    expect(msg).toMatch(/transformer weights lack tensor "model\.diffusion_model\.patchify_proj\.weight" \(looked in ltxv-2b-0\.9\.5\.safetensors\)/);
    const vae = fixture({ file: 'ltxv-2b-0.9.5.safetensors', drop: ['vae.decoder.up_blocks.4.res_blocks.0.conv1.conv.weight'] });
    expect(await importError(vae.path, vae.diffusers.folder)).toMatch(/vae weights lack tensor "decoder\.up_blocks\.1\.resnets\.0\.conv1\.conv\.weight" \(diffusers' name; vae\.\* in the file\)/);
  });

  it('a file that is not LTX-Video, and a .safetensors without the authors\' config', async () => {
    const other = join(root, 'other.safetensors');
    writeSafetensors(other, [{ name: 'weight', shape: [2], dtype: 'F32', data: new Float32Array(2) }]);
    expect(await importError(other)).toMatch(/is not an LTX-Video checkpoint: it has no model\.diffusion_model\.\* tensors/);
    const bare = join(root, 'bare.safetensors');
    writeSafetensors(bare, [
      { name: 'model.diffusion_model.proj_out.weight', shape: [2], dtype: 'F32', data: new Float32Array(2) },
      { name: 'vae.decoder.conv_out.conv.weight', shape: [2], dtype: 'F32', data: new Float32Array(2) },
    ]);
    expect(await importError(bare)).toMatch(/has no "config" entry in its metadata/);
    const txt = join(root, 'notes.txt');
    writeFileSync(txt, 'x');
    expect(await importError(txt)).toMatch(/is a file; Reshoot imports a diffusers-format checkpoint folder/);
  });

  it('no text encoder: says what to run, or what the folder lacks', async () => {
    const f = fixture({ file: 'ltxv-2b-0.9.5.safetensors' });
    expect(await importError(f.path)).toMatch(
      /carries no text encoder; the authors run it with PixArt-alpha\/PixArt-XL-2-1024-MS .*Run "reshoot models pull PixArt-alpha\/PixArt-XL-2-1024-MS --text-encoder-only".*or pass --text-encoder <folder>/,
    );
    expect(await importError(f.path, join(root, 'nowhere'))).toMatch(/text encoder folder .*nowhere does not exist/);
    expect(await importError(f.path, join(f.diffusers.folder, 'vae'))).toMatch(/is missing text_encoder\/config\.json/);
  });
});
