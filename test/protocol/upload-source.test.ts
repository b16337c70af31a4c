import { describe, expect, it } from 'vitest';
import { isPathSource, isUploadSource, parseJobSpec, safeParseJobSpec, serializeJobSpec, type Source } from '../../protocol/index.ts';
import { examples } from './examples.ts';

const clone = <T>(v: T): any => JSON.parse(JSON.stringify(v));

function problems(spec: unknown): string[] {
  const r = safeParseJobSpec(spec);
  if (r.ok) throw new Error('expected the spec to be refused');
  return r.error.issues.map((i) => `${i.path}: ${i.message}`);
}

describe('sources by upload', () => {
  it('accepts an uploadId instead of a path', () => {
    const spec = parseJobSpec({ ...clone(examples.extend), source: { upload: 'u0123456789abcdef', in: { frames: 2 }, out: { frames: 40 } } });
    if (spec.kind !== 'extend') throw new Error('wrong kind');
    expect(spec.source).toEqual({ upload: 'u0123456789abcdef', in: { frames: 2 }, out: { frames: 40 } });
    expect(isUploadSource(spec.source)).toBe(true);
    expect(isPathSource(spec.source)).toBe(false);
    expect('path' in spec.source).toBe(false);
  });

  it('works for every kind that takes a source, bridge sides mixed', () => {
    const bridge = parseJobSpec({ ...clone(examples.bridge), sources: { a: { upload: 'ua' }, b: { path: '/media/b.mov' } } });
    if (bridge.kind !== 'bridge') throw new Error('wrong kind');
    expect(bridge.sources.a).toEqual({ upload: 'ua' });
    expect(bridge.sources.b).toEqual({ path: '/media/b.mov' });
    for (const kind of ['fill', 'replace', 'generate'] as const) {
      const spec = parseJobSpec({ ...clone(examples[kind]), source: { upload: 'u1' } });
      expect('source' in spec && spec.source).toEqual({ upload: 'u1' });
    }
  });

  it('path sources are unchanged, with no upload key', () => {
    const spec = parseJobSpec(clone(examples.fill));
    if (spec.kind !== 'fill') throw new Error('wrong kind');
    expect(spec.source).toEqual({ path: 'C:\\Users\\ed\\Videos\\boom in shot.mp4' });
    expect(Object.keys(spec.source)).toEqual(['path']);
    const s: Source = spec.source;
    expect(isPathSource(s) && s.path.length).toBeGreaterThan(0);
  });

  it('round-trips', () => {
    const once = parseJobSpec({ ...clone(examples.bridge), sources: { a: { upload: 'ua', out: { frames: 30 } }, b: { path: 'b' } } });
    expect(parseJobSpec(JSON.parse(serializeJobSpec(once)))).toEqual(once);
  });

  it('needs exactly one of path and upload', () => {
    const withSource = (source: unknown) => ({ ...clone(examples.extend), source });
    expect(problems(withSource({ path: '/a.mov', upload: 'u1' }))).toEqual([
      'source: expected exactly one of path (a media file) or upload (an uploadId from upload.done), not both',
    ]);
    expect(problems(withSource({ in: { frames: 1 } }))).toEqual([
      'source: expected exactly one of path (a media file) or upload (an uploadId from upload.done)',
    ]);
    expect(problems(withSource({}))[0]).toMatch(/^source: expected exactly one of path/);
    expect(problems(withSource('/a.mov'))[0]).toMatch(/^source: expected exactly one of path .*, got "\/a.mov"/);
    expect(problems({ ...clone(examples.bridge), sources: { a: { upload: 'u', path: 'p' }, b: { path: 'b' } } })[0]).toMatch(/^sources\.a: .*not both/);
  });

  it('refuses upload ids that could be read as paths', () => {
    const withUpload = (upload: unknown) => ({ ...clone(examples.extend), source: { upload } });
    for (const bad of ['', '../x', 'a/b', 'C:\\x', 'x'.repeat(65), 'u 1']) {
      expect(problems(withUpload(bad))[0]).toMatch(/^source\.upload: expected an upload id/);
    }
    expect(problems(withUpload(5))[0]).toMatch(/^source\.upload: expected an upload id/);
  });

  it('still checks in/out of an uploaded source', () => {
    expect(problems({ ...clone(examples.extend), source: { upload: 'u1', in: { frames: 9 }, out: { frames: 3 } } })[0]).toMatch(/^source\.out: must be after in/);
    expect(problems({ ...clone(examples.extend), source: { upload: 'u1', colour: 1 } })[0]).toMatch(/^source\.colour: unknown field/);
  });
});
