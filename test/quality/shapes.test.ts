/**
 * The shapes family: deterministic by seed, the same pixels as the training tool's Python twin
 * (tools/train-shapes/shapes.py), and ground truth that means what it says.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { describeShapes, renderShapes, shapeFootprints, shapesClip, shapeTrack } from '../../companion/media/shapes.ts';

const sha16 = (frames: { data: Uint8Array }[]) => {
  const h = createHash('sha256');
  for (const f of frames) h.update(f.data);
  return h.digest('hex').slice(0, 16);
};

describe('shapes family', () => {
  it('renders the same bytes as the Python generator the model was trained on', () => {
    // sha256 prefixes of the raw RGB bytes, from tools/train-shapes/shapes.py:
    //   render(clip_params(s), 17) and render(clip_params(s), 9, without=[0], start=5)
    const python: Record<number, [string, string]> = {
      1: ['43e0d7bd3248dd3d', 'f4e1c6836b3d567c'],
      2: ['2107a76945b4aca0', '90c4c1e87b5c4689'],
      3: ['3c29eacf96b87684', '678e7a5b7cd4cbbd'],
      7: ['d9d36d2e72acf4e5', 'a3ef9f557a7cacab'],
      42: ['21b64ec6575c15b4', '266eb436789b62ca'],
    };
    for (const [seed, [full, partial]] of Object.entries(python)) {
      const clip = shapesClip(Number(seed));
      expect(sha16(renderShapes(clip, 17)), `seed ${seed}`).toBe(full);
      expect(sha16(renderShapes(clip, 9, { without: [0], start: 5 })), `seed ${seed} without shape 0`).toBe(partial);
    }
  });

  it('is a pure function of the seed; different seeds differ', () => {
    expect(sha16(renderShapes(shapesClip(5), 3))).toBe(sha16(renderShapes(shapesClip(5), 3)));
    expect(sha16(renderShapes(shapesClip(5), 3))).not.toBe(sha16(renderShapes(shapesClip(6), 3)));
    expect(shapesClip(5)).toEqual(shapesClip(5));
  });

  it('shapes stay inside the frame and keep their speed through bounces', () => {
    const problems: string[] = [];
    for (let seed = 0; seed < 50; seed++) {
      const clip = shapesClip(seed);
      if (clip.shapes.length < 1 || clip.shapes.length > 3) problems.push(`seed ${seed}: ${clip.shapes.length} shapes`);
      clip.shapes.forEach((s, j) => {
        const track = shapeTrack(s, 200, 64, 64);
        const speed = Math.hypot(s.vx, s.vy);
        track.forEach(([x, y], i) => {
          const inside = x >= s.radius - 1e-9 && x <= 64 - s.radius + 1e-9 && y >= s.radius - 1e-9 && y <= 64 - s.radius + 1e-9;
          if (!inside) problems.push(`seed ${seed} shape ${j} frame ${i}: centre (${x}, ${y}) is less than its radius from a wall`);
          // A reflected step is never longer than a free one.
          if (i > 0 && Math.hypot(x - track[i - 1]![0], y - track[i - 1]![1]) > speed + 1e-9) problems.push(`seed ${seed} shape ${j} frame ${i}: jumped`);
        });
      });
    }
    expect(problems).toEqual([]);
  });

  it('leaving a shape out changes exactly the pixels its footprint covers', () => {
    const clip = shapesClip(3);
    const full = renderShapes(clip, 4);
    const without = renderShapes(clip, 4, { without: [0] });
    const foot = shapeFootprints(clip, 0, 4);
    let covered = 0;
    for (let i = 0; i < 4; i++) {
      for (let p = 0; p < 64 * 64; p++) {
        const same = [0, 1, 2].every((c) => full[i]!.data[p * 3 + c] === without[i]!.data[p * 3 + c]);
        if (!foot[i]![p]) expect(same, `frame ${i} pixel ${p} outside the footprint`).toBe(true);
        else covered++;
      }
    }
    expect(covered).toBeGreaterThan(4 * 50); // radius ≥ 5 px: ≥ ~80 px per frame
    expect(describeShapes(clip)).toMatch(/^a \w+ (circle|square|diamond)(, a \w+ \w+)* and a \w+ \w+$/);
  });
});
