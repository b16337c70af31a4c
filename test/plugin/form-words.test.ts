/**
 * The panel's settings speak an editor's words: every problem at once, by field, with the range
 * allowed, and nothing reaches a job spec as NaN.
 */
import { describe, expect, it } from 'vitest';
import { commonProblems, defaultCommon, toJobSettings } from '../../plugin/ui/CommonSettings.tsx';
import { MemoryHost } from '../../plugin/host/memory.ts';
import { batchOverSelection } from '../../plugin/batch.ts';
import { parseJobSpec } from '../../protocol/jobspec.ts';
import { parseRational } from '../../protocol/rational.ts';

describe('shared settings', () => {
  it('lists every problem at once, by field', () => {
    const v = { ...defaultCommon(), seedMode: 'lock' as const, seed: '-3', steps: '2.5', guidance: 'lots' };
    const p = commonProblems(v);
    expect(Object.keys(p).sort()).toEqual(['guidance', 'seed', 'steps']);
    expect(p.steps).toBe("Steps must be a whole number from 1 to 200, or empty for the model's default.");
    expect(p.guidance).toMatch(/^Guidance must be a number from 0 to 30/);
    expect(p.seed).toMatch(/^Seed must be a whole number from 0 to 4294967295/);
    expect(() => toJobSettings(v)).toThrow(/Seed must.*; Steps must.*; Guidance must/);
  });

  it('empty steps and guidance mean the model default; valid values pass as numbers', () => {
    expect(commonProblems(defaultCommon())).toEqual({});
    const s = toJobSettings({ ...defaultCommon(), steps: ' 30 ', guidance: '3.5', seedMode: 'lock', seed: '42' });
    expect(s).toMatchObject({ steps: 30, guidance: 3.5, seed: 42 });
    expect(toJobSettings(defaultCommon())).not.toHaveProperty('steps');
    expect(JSON.stringify(toJobSettings({ ...defaultCommon(), steps: '', guidance: '' }))).not.toMatch(/NaN|null/);
  });
});

describe('frame fit and output alpha', () => {
  it('reach the job spec as sequence.fit and output.alpha; defaults are left out', async () => {
    const h = new MemoryHost({ sequence: { fps: parseRational('25'), width: 1920, height: 1080 }, clips: [{ track: 0, at: 0, frames: 50, media: '/m/a.mov', name: 'A', selected: true }] });
    const seq = (await h.activeSequence())!;
    const mask = { type: 'shapes' as const, shapes: [{ kind: 'rectangle' as const, keyframes: [{ frame: 0, x: 0, y: 0, width: 10, height: 10 }] }] };
    const sel = await h.selection();
    const build = (v: Parameters<typeof toJobSettings>[0]) => parseJobSpec(batchOverSelection(sel, seq, { kind: 'fill', mask, ...toJobSettings(v) }).jobs[0]!.spec);

    const plain = build(defaultCommon());
    expect(plain.sequence.fit).toBeUndefined();
    expect(plain.output.alpha).toBeUndefined();
    expect(toJobSettings(defaultCommon())).not.toHaveProperty('fit');

    const chosen = build({ ...defaultCommon(), fit: 'fill', alpha: 'source', format: 'prores4444' });
    expect(chosen.sequence.fit).toBe('fill');
    expect(chosen.output).toMatchObject({ format: 'prores4444', alpha: 'source' });

    // Alpha chosen, then a format without alpha: the spec stays valid (no alpha asked of ProRes 422).
    const noAlpha = build({ ...defaultCommon(), alpha: 'none', format: 'prores422hq' });
    expect(noAlpha.output.alpha).toBeUndefined();
    expect(build({ ...defaultCommon(), alpha: 'none', format: 'exr' }).output.alpha).toBe('none');
  });
});
