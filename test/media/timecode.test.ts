/** Timecode arithmetic an editor can check against any NLE: non-drop, drop-frame, wrap at 24 h. */
import { describe, expect, it } from 'vitest';
import { formatTimecode, offsetTimecode, parseTimecode } from '../../companion/media/timecode.ts';
import { rational } from '../../protocol/rational.ts';

const r2398 = rational(24000, 1001);
const r2997 = rational(30000, 1001);

describe('timecode', () => {
  it('reads and writes non-drop timecode at 23.976 and 25', () => {
    const tc = parseTimecode('01:00:10:00', r2398)!;
    expect(tc).toEqual({ frames: (3600 + 10) * 24, rate: 24, dropFrame: false });
    expect(formatTimecode(offsetTimecode(tc, r2398, 10, r2398))).toBe('01:00:10:10');
    expect(formatTimecode(offsetTimecode(tc, r2398, 24 * 50 + 23, r2398))).toBe('01:01:00:23');
    expect(formatTimecode(offsetTimecode(parseTimecode('09:59:59:24', rational(25))!, rational(25), 1, rational(25)))).toBe('10:00:00:00');
  });

  it('drop-frame at 29.97 skips ;00 and ;01 at each minute except every tenth', () => {
    const tc = parseTimecode('00:00:59;29', r2997)!;
    expect(tc.dropFrame).toBe(true);
    expect(formatTimecode(offsetTimecode(tc, r2997, 1, r2997))).toBe('00:01:00;02');
    expect(formatTimecode(offsetTimecode(parseTimecode('00:09:59;29', r2997)!, r2997, 1, r2997))).toBe('00:10:00;00');
    // One hour of 29.97 drop-frame is 107892 frames: the timecode matches the wall clock.
    expect(formatTimecode({ frames: 107892, rate: 30, dropFrame: true })).toBe('01:00:00;00');
    expect(parseTimecode('01:00:00;00', r2997)!.frames).toBe(107892);
    for (const f of [0, 1799, 1800, 17981, 17982, 107891, 2589407]) {
      const tc2 = { frames: f, rate: 30, dropFrame: true };
      expect(parseTimecode(formatTimecode(tc2), r2997)!.frames).toBe(f);
    }
  });

  it('wraps past midnight and before it', () => {
    const tc = parseTimecode('23:59:59:23', r2398)!;
    expect(formatTimecode(offsetTimecode(tc, r2398, 2, r2398))).toBe('00:00:00:01');
    expect(formatTimecode(offsetTimecode(parseTimecode('00:00:00:00', r2398)!, r2398, -1, r2398))).toBe('23:59:59:23');
  });

  it('is not fooled by text that is not a timecode', () => {
    expect(parseTimecode('1:00', r2398)).toBeUndefined();
    expect(parseTimecode('01:00:00:24', r2398)).toBeUndefined(); // frame 24 does not exist at 24 fps
    expect(parseTimecode(undefined, r2398)).toBeUndefined();
  });
});
