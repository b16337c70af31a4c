/**
 * The engine in its worker thread with the real test model: progress per step, cancel between
 * steps, calls served in order, the main thread free while a window runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../companion/engine/engine.ts';
import type { WindowRequest } from '../../companion/engine/generate.ts';
import { useTestModelCache } from '../helpers/fixtures.ts';

useTestModelCache();

let engine: Engine;
beforeAll(async () => {
  engine = await Engine.open('builtin:tiny');
});
afterAll(() => engine?.close());

const request = (steps: number, seed = 1): WindowRequest => ({
  width: 64, height: 48, frames: Array(9).fill(null), masks: Array(9).fill(null),
  prompt: 'x', negativePrompt: '', seed, stream: 0, steps, guidance: 3, strength: 1, conditioning: 'per-token', fps: 24,
});

describe('engine', () => {
  it('reports every step, in order', async () => {
    const seen: number[] = [];
    const out = await engine.generate(request(5), (s) => seen.push(s.step));
    expect(seen).toEqual([1, 2, 3, 4, 5]);
    expect(out.frames).toHaveLength(9);
    expect(out.stepMs).toHaveLength(5);
  });

  it('cancel stops the window before its next step, and the engine keeps working', async () => {
    const seen: number[] = [];
    const p = engine.generate(request(50), (s) => {
      seen.push(s.step);
      if (s.step === 2) engine.cancel();
    });
    await expect(p).rejects.toMatchObject({ code: 'cancelled' });
    // The worker checks the flag before every step; progress messages already in flight when
    // cancel() ran may still arrive, so allow a few, but far fewer than the 50 asked for.
    expect(seen.slice(0, 2)).toEqual([1, 2]);
    expect(seen.length).toBeLessThanOrEqual(5);
    await expect(engine.generate(request(2))).resolves.toBeTruthy();
  });

  it('serves overlapping calls one at a time, each with its own result', async () => {
    const [a, b, c] = await Promise.all([engine.generate(request(2, 1)), engine.generate(request(2, 2)), engine.generate(request(2, 1))]);
    const bytes = (o: typeof a) => Buffer.concat(o.frames.map((f) => Buffer.from(f.data)));
    expect(bytes(a).equals(bytes(c))).toBe(true);
    expect(bytes(a).equals(bytes(b))).toBe(false);
  });

  it('keeps the main thread free while a window runs', async () => {
    // Inference runs off the main thread: generate() returns before any step is done, and a timer
    // set then fires while the window is still generating. (On the main thread, every step would
    // be done, and reported, before generate() returned or any timer ran.)
    const order: string[] = [];
    const steps = 20;
    const running = engine.generate({ ...request(steps), width: 128, height: 72, frames: Array(17).fill(null), masks: Array(17).fill(null) }, (s) => {
      order.push(`step ${s.step}`);
    });
    expect(order).toEqual([]);
    setTimeout(() => order.push('timer'), 0);
    await running;
    order.push('done');
    expect(order.indexOf('timer')).toBeGreaterThanOrEqual(0);
    expect(order.indexOf('timer')).toBeLessThan(order.indexOf('done'));
    expect(order.filter((o) => o.startsWith('step'))).toHaveLength(steps);
  });

  it('an unknown model is a clear error', async () => {
    await expect(Engine.open('builtin:nope')).rejects.toMatchObject({ code: 'model', message: expect.stringMatching(/builtin:nope/) });
  });
});
