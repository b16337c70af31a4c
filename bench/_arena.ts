import { buildLtxvTransformer } from '../companion/models/ltxv/transformer.ts';
import { ltx2bConfig, runStepChild, tempDir } from './common.ts';
const tmp = tempDir('arena');
const config = ltx2bConfig(1);
const g = buildLtxvTransformer(config, tmp.dir, { seed: 7 }).onnxPath;
for (const o of [{ enableCpuMemArena: false }, {}]) {
  const r = await runStepChild({ graph: g, provider: 'cpu', config, grid: { frames: 16, height: 16, width: 24 }, batch: 1, textTokens: 128, reps: 1, sessionOverrides: o });
  console.log(JSON.stringify(o), JSON.stringify(r));
}
tmp.cleanup();
