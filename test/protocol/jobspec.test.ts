import { describe, expect, it } from 'vitest';
import {
  JobSpecError,
  jobSpecJsonSchema,
  parseJobSpec,
  safeParseJobSpec,
  serializeJobSpec,
  type JobSpec,
} from '../../protocol/index.ts';
import { examples } from './examples.ts';

/** The problems reported for a spec, as `path: message` lines. */
function problems(spec: unknown): string[] {
  const r = safeParseJobSpec(spec);
  if (r.ok) throw new Error('expected the spec to be refused');
  return r.error.issues.map((i) => `${i.path}: ${i.message}`);
}

function expectProblem(spec: unknown, path: string, text: RegExp | string) {
  const lines = problems(spec);
  const hit = lines.find((l) => l.startsWith(`${path}: `) && (typeof text === 'string' ? l.includes(text) : text.test(l)));
  expect(hit, `no problem at ${path} matching ${text} in:\n${lines.join('\n')}`).toBeDefined();
}

const clone = <T>(v: T): any => JSON.parse(JSON.stringify(v));

describe('valid specs', () => {
  it.each(Object.keys(examples))('parses a %s spec', (kind) => {
    const spec = parseJobSpec(clone(examples[kind as keyof typeof examples]));
    expect(spec.kind).toBe(kind);
    expect(spec.version).toBe(1);
  });

  it('fills defaults', () => {
    const spec = parseJobSpec(clone(examples.bridge));
    expect(spec).toMatchObject({
      prompt: '',
      negativePrompt: '',
      strength: 1,
      model: 'builtin:tiny',
      output: { format: 'prores422hq' },
      sequence: { pixelAspect: { num: 1, den: 1 } },
    });
    expect(spec.seed).toBeUndefined();
    expect(spec.steps).toBeUndefined();
    expect(spec.guidance).toBeUndefined();

    const fill = parseJobSpec(clone(examples.fill));
    if (fill.kind !== 'fill' || fill.mask.type !== 'shapes') throw new Error('wrong kind');
    expect(fill.mask.invert).toBe(false);
    expect(fill.mask.shapes[0]).toMatchObject({ mode: 'add', feather: 8 });
    expect(fill.mask.shapes[1]).toMatchObject({ mode: 'subtract', feather: 0 });

    const replace = parseJobSpec({ ...clone(examples.replace), mask: { type: 'image', path: '/m.png' } });
    expect(replace.kind === 'replace' && replace.mask).toEqual({ type: 'image', path: '/m.png', channel: 'luma' });
  });

  it('normalizes every rate to a reduced fraction', () => {
    expect(parseJobSpec(clone(examples.fill)).sequence.fps).toEqual({ num: 24000, den: 1001 });
    expect(parseJobSpec(clone(examples.replace)).sequence.fps).toEqual({ num: 25, den: 1 });
    expect(parseJobSpec(clone(examples.generate)).sequence.fps).toEqual({ num: 30000, den: 1001 });
    expect(parseJobSpec(clone(examples.bridge)).sequence.fps).toEqual({ num: 60000, den: 1001 });
    const pa = parseJobSpec({ ...clone(examples.bridge), sequence: { ...examples.bridge.sequence, pixelAspect: '4/2' } });
    expect(pa.sequence.pixelAspect).toEqual({ num: 2, den: 1 });
    const reduced = parseJobSpec({ ...clone(examples.bridge), sequence: { ...examples.bridge.sequence, fps: { num: 48000, den: 2002 } } });
    expect(reduced.sequence.fps).toEqual({ num: 24000, den: 1001 });
  });

  it('round-trips: spec → parse → serialize → parse is equal, 24000/1001 exactly', () => {
    for (const example of Object.values(examples)) {
      const once = parseJobSpec(clone(example));
      const text = serializeJobSpec(once);
      const twice = parseJobSpec(JSON.parse(text));
      expect(twice).toEqual(once);
      // Plain JSON of the parsed spec re-parses to itself too.
      expect(parseJobSpec(JSON.parse(JSON.stringify(once)))).toEqual(once);
    }
    const s = serializeJobSpec(parseJobSpec(clone(examples.extend)));
    expect(JSON.parse(s).sequence.fps).toBe('24000/1001');
  });

  it('keeps Windows and UNC paths verbatim', () => {
    const spec = parseJobSpec(clone(examples.fill));
    expect(spec.kind === 'fill' && spec.source.path).toBe('C:\\Users\\ed\\Videos\\boom in shot.mp4');
    const unc = parseJobSpec({ ...clone(examples.extend), source: { path: '\\\\nas\\projects\\ep01\\a001.mxf' } });
    expect(unc.kind === 'extend' && unc.source.path).toBe('\\\\nas\\projects\\ep01\\a001.mxf');
    expect(JSON.parse(serializeJobSpec(spec)).source.path).toBe('C:\\Users\\ed\\Videos\\boom in shot.mp4');
  });

  it('types narrow on kind', () => {
    const spec: JobSpec = parseJobSpec(clone(examples.generate));
    if (spec.kind === 'generate') expect(spec.duration).toEqual({ seconds: 4 });
    else throw new Error('wrong kind');
  });
});

describe('refused specs name the problem', () => {
  it('throws one JobSpecError listing every problem', () => {
    const bad = { ...clone(examples.extend), colour: 'red', steps: 0, output: { format: 'mov' } };
    let err: unknown;
    try {
      parseJobSpec(bad);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(JobSpecError);
    const e = err as JobSpecError;
    expect(e.code).toBe('bad_spec');
    expect(e.issues).toHaveLength(3);
    expect(e.message).toContain('3 problems');
    expect(e.message).toContain('steps: must be at least 1');
    expect(e.message).toContain('output.format: expected one of "prores422hq"');
    expect(e.message).toContain('colour: unknown field "colour"');
  });

  it('rejects unknown fields at any depth, naming the field path', () => {
    expectProblem({ ...clone(examples.extend), colour: 1 }, 'colour', 'unknown field "colour"');
    expectProblem({ ...clone(examples.extend), output: { format: 'h264', colour: 1 } }, 'output.colour', 'unknown field "colour" at output');
    expectProblem({ ...clone(examples.extend), sequence: { ...examples.extend.sequence, frameRate: 24 } }, 'sequence.frameRate', 'unknown field');
    const fill = clone(examples.fill);
    fill.mask.shapes[0].keyframes[0].rotation = 3;
    expectProblem(fill, 'mask.shapes[0].keyframes[0].rotation', 'unknown field "rotation"');
    expectProblem({ ...clone(examples.extend), source: { path: 'a', in: { frames: 1, ticks: 5 } } }, 'source.in.ticks', 'unknown field');
    // A field from another kind is unknown here.
    expectProblem({ ...clone(examples.generate), mask: { type: 'image', path: 'x' } }, 'mask', 'unknown field "mask"');
  });

  it('suggests the intended name for a near miss', () => {
    expectProblem({ ...clone(examples.extend), negative_prompt: 'blur' }, 'negative_prompt', 'did you mean "negativePrompt"');
    expectProblem({ ...clone(examples.extend), sead: 1 }, 'sead', 'did you mean "seed"');
  });

  it('refuses bad kinds and versions', () => {
    expectProblem({ ...clone(examples.extend), kind: 'extnd' }, 'kind', 'expected kind to be one of "extend", "fill"');
    expectProblem({ sequence: examples.extend.sequence }, 'kind', 'expected kind to be one of');
    expectProblem({ ...clone(examples.extend), version: 2 }, 'version', 'reads version 1');
    expectProblem(5, '', 'expected an object');
    expectProblem(null, '', 'expected an object');
  });

  it('refuses bad time values', () => {
    const withDuration = (duration: unknown) => ({ ...clone(examples.extend), extend: { direction: 'tail', duration } });
    expectProblem(withDuration(1.5), 'extend.duration', 'expected {seconds} or {frames}');
    expectProblem(withDuration('2s'), 'extend.duration', 'expected {seconds} or {frames}');
    expectProblem(withDuration({}), 'extend.duration', 'expected {seconds} or {frames}');
    expectProblem(withDuration({ seconds: 1, frames: 24 }), 'extend.duration', 'not both');
    expectProblem(withDuration({ frames: 2.5 }), 'extend.duration.frames', 'non-negative integer');
    expectProblem(withDuration({ frames: -3 }), 'extend.duration.frames', 'non-negative integer');
    expectProblem(withDuration({ seconds: -1 }), 'extend.duration.seconds', 'at least 0');
    expectProblem(withDuration({ seconds: '2' }), 'extend.duration.seconds', 'expected a number of seconds');
    expectProblem(withDuration({ frames: 0 }), 'extend.duration', 'longer than zero');
    expectProblem(withDuration({ seconds: 0.01 }), 'extend.duration', 'shorter than one frame at 24000/1001 fps');
    expectProblem(withDuration({ seconds: 3600 }), 'extend.duration.seconds', 'at most 600 seconds');
    expectProblem({ ...clone(examples.generate), duration: undefined }, 'duration', 'required');
    expectProblem({ ...clone(examples.bridge), gap: { frames: -1 } }, 'gap.frames', 'non-negative integer');
  });

  it('refuses reversed or empty in/out ranges', () => {
    expectProblem({ ...clone(examples.extend), source: { path: 'a', in: { frames: 48 }, out: { seconds: 1 } } }, 'source.out', 'must be after in');
    expectProblem({ ...clone(examples.extend), source: { path: 'a', in: { frames: 10 }, out: { frames: 10 } } }, 'source.out', 'must be after in');
    const bridge = clone(examples.bridge);
    bridge.sources.b = { path: 'b', in: { seconds: 5 }, out: { seconds: 4 } };
    expectProblem(bridge, 'sources.b.out', 'must be after in');
  });

  it('refuses bad rationals', () => {
    const withFps = (fps: unknown) => ({ ...clone(examples.extend), sequence: { ...examples.extend.sequence, fps } });
    expectProblem(withFps('fast'), 'sequence.fps', 'expected a frame rate like "24000/1001"');
    expectProblem(withFps('24/0'), 'sequence.fps', 'expected a frame rate');
    expectProblem(withFps({ num: 24 }), 'sequence.fps', 'expected a frame rate');
    expectProblem(withFps({ num: 24, den: 1, extra: 1 }), 'sequence.fps.extra', 'unknown field "extra" at sequence.fps (accepted: num, den)');
    expectProblem(withFps({ num: 24.5, den: 1 }), 'sequence.fps', 'expected a frame rate');
    expectProblem(withFps(true), 'sequence.fps', 'expected a frame rate');
    expectProblem(withFps(0.5), 'sequence.fps', 'between 1 and 240');
    expectProblem(withFps('1000'), 'sequence.fps', 'between 1 and 240');
    expectProblem(withFps(-24), 'sequence.fps', 'between 1 and 240');
    expectProblem(withFps(undefined), 'sequence.fps', 'required');
  });

  it('refuses out-of-range numbers, saying the limit', () => {
    const base = clone(examples.extend);
    const seq = (patch: object) => ({ ...base, sequence: { ...base.sequence, ...patch } });
    expectProblem(seq({ width: 8193 }), 'sequence.width', 'at most 8192 pixels, got 8193');
    expectProblem(seq({ height: 8 }), 'sequence.height', 'at least 16 pixels');
    expectProblem(seq({ width: 1920.5 }), 'sequence.width', 'whole number');
    expectProblem({ ...base, seed: 2 ** 32 }, 'seed', 'less than 2^32');
    expectProblem({ ...base, seed: -1 }, 'seed', 'at least 0');
    expectProblem({ ...base, seed: 1.5 }, 'seed', 'whole number');
    expectProblem({ ...base, steps: 201 }, 'steps', 'at most 200');
    expectProblem({ ...base, guidance: 31 }, 'guidance', 'at most 30');
    expectProblem({ ...base, strength: 1.2 }, 'strength', 'at most 1');
    expectProblem({ ...base, conditioning: 'magic' }, 'conditioning', 'expected one of "per-token", "blend"');
    expectProblem({ ...base, prompt: 7 }, 'prompt', 'expected a string');
    expect(parseJobSpec({ ...base, seed: 2 ** 32 - 1 }).seed).toBe(2 ** 32 - 1);
  });

  it('requires the fields each kind needs', () => {
    const { mask: _m, ...fill } = clone(examples.fill);
    expectProblem(fill, 'mask', 'required');
    const { source: _s, ...extend } = clone(examples.extend);
    expectProblem(extend, 'source', 'required');
    expectProblem({ ...clone(examples.extend), extend: { duration: { frames: 5 } } }, 'extend.direction', 'required');
    expectProblem({ ...clone(examples.bridge), sources: { a: { path: 'a' } } }, 'sources.b', 'required');
    expectProblem({ ...clone(examples.extend), source: { path: '' } }, 'source.path', 'must not be empty');
    const { sequence: _q, ...noSeq } = clone(examples.generate);
    expectProblem(noSeq, 'sequence', 'required');
  });

  it('refuses malformed masks', () => {
    const withMask = (mask: unknown) => ({ ...clone(examples.fill), mask });
    expectProblem(withMask({ type: 'shapes', shapes: [] }), 'mask.shapes', 'at least 1 shape');
    expectProblem(withMask({ type: 'brush' }), 'mask.type', 'expected type to be one of "shapes", "matte", "image"');
    expectProblem(withMask({ type: 'matte', path: 'm.mov', channel: 'red' }), 'mask.channel', 'expected one of "luma", "alpha"');
    expectProblem(withMask({ type: 'shapes', shapes: [{ kind: 'star', keyframes: [] }] }), 'mask.shapes[0].kind', 'expected kind to be one of "rectangle"');
    expectProblem(withMask({ type: 'shapes', shapes: [{ kind: 'rectangle', keyframes: [] }] }), 'mask.shapes[0].keyframes', 'at least 1 keyframe');
    const rect = (frame: number) => ({ frame, x: 0, y: 0, width: 10, height: 10 });
    expectProblem(
      withMask({ type: 'shapes', shapes: [{ kind: 'rectangle', keyframes: [rect(0), rect(10), rect(10)] }] }),
      'mask.shapes[0].keyframes[2].frame',
      'strictly increase',
    );
    expectProblem(
      withMask({ type: 'shapes', shapes: [{ kind: 'rectangle', keyframes: [{ ...rect(0), width: -4 }] }] }),
      'mask.shapes[0].keyframes[0].width',
      'at least 0',
    );
    expectProblem(
      withMask({ type: 'shapes', shapes: [{ kind: 'ellipse', feather: -1, keyframes: [{ frame: 0, cx: 1, cy: 1, rx: 1, ry: 1 }] }] }),
      'mask.shapes[0].feather',
      'at least 0',
    );
    const tri = [[0, 0], [10, 0], [0, 10]];
    expectProblem(
      withMask({ type: 'shapes', shapes: [{ kind: 'polygon', keyframes: [{ frame: 0, points: tri }, { frame: 5, points: [...tri, [5, 5]] }] }] }),
      'mask.shapes[0].keyframes[1].points',
      'same number of points',
    );
    expectProblem(
      withMask({ type: 'shapes', shapes: [{ kind: 'polygon', keyframes: [{ frame: 0, points: [[0, 0], [1, 1]] }] }] }),
      'mask.shapes[0].keyframes[0].points',
      'at least 3 points',
    );
    expectProblem(
      withMask({ type: 'shapes', shapes: [{ kind: 'polygon', keyframes: [{ frame: 0, points: [[0, 0], [1], [2, 2]] }] }] }),
      'mask.shapes[0].keyframes[0].points[1]',
      /./,
    );
  });
});

describe('JSON Schema', () => {
  it('describes the input form of the spec', () => {
    const schema = jobSpecJsonSchema();
    const text = JSON.stringify(schema);
    for (const kind of ['extend', 'fill', 'replace', 'generate', 'bridge']) expect(text).toContain(`"${kind}"`);
    expect(text).toContain('"additionalProperties":false');
  });
});
