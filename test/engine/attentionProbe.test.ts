/**
 * The fused-attention check's bookkeeping (companion/engine/attentionProbe.ts), on the CPU: a
 * verdict is measured once per adapter and handed between threads of one process. Whether the
 * check sees a broken kernel is tested on WebGPU (test/engine/webgpu.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { adapterKey, knownVerdicts, measureFusedAttention, PROBE_CASES, probeFusedAttention, rememberVerdicts, type ProbeVerdict } from '../../companion/engine/attentionProbe.ts';

describe('fused-attention check', () => {
  it('the CPU provider against itself passes with no error, at shapes that take the flash path', async () => {
    const v = await measureFusedAttention('cpu');
    expect(v).toMatchObject({ ok: true, maxError: 0 });
    expect(v.cases.map((c) => [c.queries, c.keys])).toEqual(PROBE_CASES.map((c) => [c.queries, c.keys]));
    expect(PROBE_CASES.every((c) => c.queries >= 26 && c.keys > 8)).toBe(true);
  });

  it('a verdict handed over from another thread is used without measuring again; measured ones are handed back', async () => {
    // CUDA cannot run here, so a measurement would throw: getting the verdict proves none ran.
    const given: ProbeVerdict = { ok: false, maxError: 0.35, cases: [], ms: 1 };
    rememberVerdicts({ [adapterKey('cuda')]: given });
    expect(await probeFusedAttention('cuda')).toEqual(given);
    const cpu = await probeFusedAttention('cpu');
    expect(await probeFusedAttention('cpu')).toBe(cpu);
    expect(knownVerdicts()).toMatchObject({ [adapterKey('cuda')]: given, [adapterKey('cpu')]: { ok: true } });
  });
});
