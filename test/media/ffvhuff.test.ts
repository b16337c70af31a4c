/** The upload format: FFVHuff in Matroska must give back exactly the bytes written (RGB and RGBA). */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeFrames } from '../../companion/media/decode.ts';
import { openEncoder } from '../../companion/media/encode.ts';
import { syntheticFrame } from '../../companion/media/synthetic.ts';
import { rational } from '../../protocol/rational.ts';
import { tempDir } from '../helpers/fixtures.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('ffvhuff (uploads)', () => {
  for (const channels of [3, 4] as const) {
    it(`round-trips ${channels}-channel frames bit for bit`, async () => {
      const file = path.join(tmp.dir, `up${channels}.mkv`);
      const fps = rational(30000, 1001);
      const frames = Array.from({ length: 5 }, (_, i) => syntheticFrame(i, 48, 32, { channels, seed: 2 }));
      const enc = await openEncoder({ path: file, format: 'ffvhuff', width: 48, height: 32, fps, channels, overwrite: false });
      for (const f of frames) await enc.write(f);
      await enc.finish();
      let i = 0;
      for await (const f of decodeFrames({ path: file, fps, startFrame: 0, frameCount: 5, channels })) {
        expect(Buffer.from(f.data).equals(Buffer.from(frames[i++]!.data))).toBe(true);
      }
      expect(i).toBe(5);
    });
  }
});
