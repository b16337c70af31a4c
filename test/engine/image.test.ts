/** Frame resizing (companion/engine/image.ts), as a fill's crop goes down to the working size and back. */
import { describe, expect, it } from 'vitest';
import { resize } from '../../companion/engine/image.ts';
import type { Frame } from '../../companion/media/frame.ts';

const flat = (width: number, height: number, level: number): Frame => ({ width, height, channels: 3, data: new Uint8Array(width * height * 3).fill(level) });

describe('resize', () => {
  it('area-down keeps a flat frame flat at every size, up to the last row and column', () => {
    // 59 → 56 (a fill crop at the shapes model's working size) is one where (n − 1)·s + s lands past the edge in floating point.
    for (const [w, h, tw, th] of [[59, 59, 56, 56], [13, 21, 10, 18], [64, 40, 56, 32]] as const) {
      const out = resize(flat(w, h, 200), tw, th);
      expect([out.width, out.height]).toEqual([tw, th]);
      expect(out.data.every((v) => v === 200), `${w}×${h} → ${tw}×${th}`).toBe(true);
    }
  });

  it('area-down averages: a 2×2 block of 0 and 255 columns becomes their mean', () => {
    const f: Frame = { width: 2, height: 2, channels: 3, data: new Uint8Array([0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255]) };
    expect([...resize(f, 1, 1).data]).toEqual([128, 128, 128]);
  });
});
