/**
 * What the fp16-compute variant costs (companion/models/computeVariant.ts): it is made at load from
 * the manifest's config over the stored graph's weights, instead of a second graph at import.
 *
 *   npm run bench:variant
 *
 * 1. Build time and file size of the variant at the full 2B (28 layers) and 13B (48 layers)
 *    shapes, against the weights it points at (fp32 as imported by default): the variant is only
 *    nodes, the weights stay one copy. No weight bytes are needed (the initializers only name
 *    offsets in the data file), so this runs at full size on any machine.
 * 2. Session open time, fp32 graph vs its fp16 variant over the same fp32 data file, one 2B-width
 *    graph of BENCH_LAYERS (2) layers with seeded weights, each opened in its own process
 *    (bench/step-child.ts), on BENCH_PROVIDER (cpu): what the Casts folded at load cost.
 *
 * Knobs: BENCH_LAYERS (2), BENCH_PROVIDER (cpu).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { Provider } from '../companion/engine/providers.ts';
import { ltxvTransformerGraph } from '../companion/models/ltxv/transformer.ts';
import type { ExistingInitializer, WeightSource } from '../companion/models/onnx/graph.ts';
import { DataType } from '../companion/models/onnx/proto.ts';
import { envInt, fmt, ltx2bConfig, machine, median, printMachine, runStepChild, tempDir } from './common.ts';
import { pooledWeights } from './gpu/weights.ts';

const LAYERS = envInt('BENCH_LAYERS', 2);
const provider = (process.env.BENCH_PROVIDER ?? 'cpu') as Provider;
const noWeights: WeightSource = () => {
  throw new Error('internal: the variant needs no weight bytes');
};
const GiB = 2 ** 30;

console.log('# bench:variant: the fp16-compute transformer made at load over the stored weights');
printMachine(await machine());
const tmp = tempDir('variant');
try {
  console.log('\n## build time and size at full shape (weights stored fp32, as imported by default)');
  for (const [name, config] of [
    ['2B', ltx2bConfig(28)],
    ['13B', { ...ltx2bConfig(48), attentionHeadDim: 128, crossAttentionDim: 4096 }],
  ] as const) {
    // The stored graph's initializers as inspectModel reads them: fp32, one data file.
    let offset = 0;
    const stored: ExistingInitializer[] = ltxvTransformerGraph(config, noWeights).paramList().map((p) => {
      const length = 4 * p.dims.reduce((a, b) => a * b, 1);
      const t = { name: p.name, dims: [...p.dims], dataType: DataType.FLOAT, external: { location: 'transformer.onnx.data', offset, length } };
      offset += length;
      return t;
    });
    const times: number[] = [];
    let bytes = 0;
    for (let rep = 0; rep < 3; rep++) {
      const t = performance.now();
      bytes = ltxvTransformerGraph(config, noWeights, { compute: 'fp16' }).saveOver(tmp.dir, `${name}.fp16.onnx`, stored).onnxBytes;
      times.push(performance.now() - t);
    }
    console.log(
      `  ${name.padEnd(4)} variant ${fmt(bytes / 2 ** 20, 2)} MiB (${fmt(bytes / config.numLayers / 1024, 0)} KiB per layer) over ${fmt(offset / GiB, 1)} GiB of fp32 weights` +
        ` (${fmt((100 * bytes) / offset, 3)} %); a second full graph would add ${fmt(offset / 2 / GiB, 1)} GiB (fp16) — built in ${fmt(median(times), 0)} ms (runs ${times.map((x) => fmt(x, 0)).join(', ')})`,
    );
  }

  console.log(`\n## session open on ${provider}: fp32 graph vs its fp16 variant over the same data, 2B width, ${LAYERS} layer(s)`);
  const config = ltx2bConfig(LAYERS);
  const full = ltxvTransformerGraph(config, pooledWeights(7)).save(tmp.dir, 'transformer.onnx');
  const { inspectModel } = await import('../companion/models/onnx/inspect.ts');
  const half = ltxvTransformerGraph(config, noWeights, { compute: 'fp16' }).saveOver(tmp.dir, 'transformer.fp16.onnx', inspectModel(full.onnxPath).initializers);
  console.log(`  weights ${fmt(full.dataBytes / 2 ** 20, 0)} MiB fp32; fp32 graph ${fmt(full.onnxBytes / 1024, 0)} KiB, fp16 variant ${fmt(statSync(join(tmp.dir, 'transformer.fp16.onnx')).size / 1024, 0)} KiB`);
  const grid = { frames: 2, height: 4, width: 4 };
  for (const [label, graph] of [['fp32 graph ', full.onnxPath], ['fp16 variant', half.onnxPath]] as const) {
    const r = await runStepChild({ graph, provider, config, grid, batch: 1, textTokens: 16, reps: 1 });
    console.log(`  ${label}  open ${fmt(r.openMs, 0)} ms, session RSS ${fmt(r.rssOpenMiB, 0)} MiB, peak RSS ${fmt(r.peakRssMiB, 0)} MiB`);
  }
} finally {
  tmp.cleanup();
}
