/**
 * Appended conditioning (engine/appended.ts) with the tiny test model (temporal factor 2): a
 * bridge's end frames given as extra tokens change the window, deterministically; known frames
 * stay bit-exact; bad placements get one clear error; the render keeps what the authors can take.
 * Parity with the authors' pipeline is in upstream-pipeline.test.ts (bridge095).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWindow, type WindowRequest } from '../../companion/engine/generate.ts';
import { loadRuntime, type ModelRuntime } from '../../companion/engine/runtime.ts';
import type { Frame } from '../../companion/media/frame.ts';
import { syntheticFrame } from '../../companion/media/synthetic.ts';
import { suffixConditioning } from '../../companion/jobs/render.ts';
import { loadModel } from '../../companion/models/registry.ts';
import { useTestModelCache } from '../helpers/fixtures.ts';

useTestModelCache();

const W = 64;
const H = 48;
let rt: ModelRuntime;
beforeAll(async () => {
  rt = await loadRuntime(await loadModel('builtin:tiny'), 'cpu');
});
afterAll(async () => rt.release());

/** 11 frames: the first 3 known (clip A's tail), the rest generated; B's head appended at `at`. */
function request(appended: WindowRequest['appended'], seed = 5): WindowRequest {
  const frames: (Frame | null)[] = Array.from({ length: 11 }, (_, f) => (f < 3 ? syntheticFrame(f, W, H) : null));
  return {
    width: W,
    height: H,
    frames,
    masks: frames.map(() => null),
    prompt: 'a boat',
    negativePrompt: '',
    seed,
    stream: 0,
    steps: 3,
    guidance: 3,
    strength: 1,
    conditioning: 'per-token',
    fps: 24,
    ...(appended ? { appended } : {}),
  };
}

const head = (n: number, from = 20): Frame[] => Array.from({ length: n }, (_, k) => syntheticFrame(from + k, W, H));
const run = (req: WindowRequest) => generateWindow(rt, req, () => {}, () => false);
const bytes = (frames: Frame[]) => Buffer.concat(frames.map((f) => Buffer.from(f.data)));

describe('appended conditioning', () => {
  it('end frames as extra tokens change the new frames, deterministically; the known start stays bit-exact', async () => {
    const none = await run(request(undefined));
    const one = await run(request([{ at: 10, frames: head(1) }]));
    const seq = await run(request([{ at: 6, frames: head(5) }]));
    expect(one.tokens).toBe(none.tokens); // extra tokens are not decoded
    expect(bytes(one.frames.slice(3)).equals(bytes(none.frames.slice(3)))).toBe(false);
    expect(bytes(seq.frames.slice(3)).equals(bytes(one.frames.slice(3)))).toBe(false);
    expect(bytes((await run(request([{ at: 6, frames: head(5) }]))).frames).equals(bytes(seq.frames))).toBe(true);
    for (const r of [none, one, seq]) for (let f = 0; f < 3; f++) expect(Buffer.from(r.frames[f]!.data).equals(Buffer.from(syntheticFrame(f, W, H).data))).toBe(true);
  });

  it('a placement the authors cannot take is one clear error', async () => {
    await expect(run(request([{ at: 8, frames: head(2) }]))).rejects.toThrow(/appended conditioning 1 \(2 frames at frame 8\): a sequence must be 1 \+ 2·k frames starting on a multiple of 2/);
    await expect(run(request([{ at: 7, frames: head(3) }]))).rejects.toThrow(/starting on a multiple of 2/);
    await expect(run(request([{ at: 9, frames: head(3) }]))).rejects.toThrow(/\(3 frames at frame 9\): does not fit the window of 11 frames/);
    await expect(run(request([{ at: 4, frames: [syntheticFrame(0, 32, 32)] }]))).rejects.toThrow(/frames must be 64×48, got 32×32/);
    await expect(run({ ...request([{ at: 10, frames: head(1) }]), conditioning: 'blend' })).rejects.toThrow(/appended conditioning needs per-token conditioning/);
  });

  it('the render keeps a sequence of 1 + T·k frames on a multiple of T, else the first frame as a keyframe', () => {
    expect(suffixConditioning(head(12), 16, 8).frames).toHaveLength(9);
    expect(suffixConditioning(head(17), 16, 8).frames).toHaveLength(17);
    expect(suffixConditioning(head(12), 17, 8).frames).toHaveLength(1);
    expect(suffixConditioning(head(8), 16, 8).frames).toHaveLength(1);
    expect(suffixConditioning(head(12), 17, 8).at).toBe(17);
  });
});
