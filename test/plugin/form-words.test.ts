/**
 * The panel's settings speak an editor's words: every problem at once, by field, with the range
 * allowed, and nothing reaches a job spec as NaN.
 */
import { describe, expect, it } from 'vitest';
import { commonProblems, defaultCommon, toJobSettings } from '../../plugin/ui/CommonSettings.tsx';

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
