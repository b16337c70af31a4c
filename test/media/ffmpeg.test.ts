/** Locating ffmpeg/ffprobe: the npm binaries work, and a broken override is reported with the fix. */
import { afterEach, describe, expect, it } from 'vitest';
import { ffmpegInfo, resetFfmpegCache, summarizeStderr } from '../../companion/media/ffmpeg.ts';
import { reshootErrorOf } from './helpers.ts';

afterEach(() => {
  delete process.env.FFMPEG_PATH;
  delete process.env.FFPROBE_PATH;
  resetFfmpegCache();
});

describe('ffmpegInfo', () => {
  it('finds working ffmpeg and ffprobe with version lines', async () => {
    const info = await ffmpegInfo();
    expect(info.ffmpeg.version).toMatch(/^ffmpeg version /);
    expect(info.ffprobe.version).toMatch(/^ffprobe version /);
    expect(info.ffmpeg.path).toBeTruthy();
  });

  it('honours FFMPEG_PATH and reports a broken one with the fix', async () => {
    process.env.FFMPEG_PATH = '/definitely/not/here/ffmpeg';
    resetFfmpegCache();
    const err = await reshootErrorOf(ffmpegInfo(), 'ffmpeg_missing');
    expect(err.message).toContain('/definitely/not/here/ffmpeg');
    expect(err.message).toContain('FFMPEG_PATH');
  });

  it('a working FFMPEG_PATH is used and labelled as such', async () => {
    const real = (await ffmpegInfo()).ffmpeg.path;
    process.env.FFMPEG_PATH = real;
    resetFfmpegCache();
    expect((await ffmpegInfo()).ffmpeg).toMatchObject({ path: real, source: 'env' });
  });
});

it('summarizeStderr keeps the last short lines only', () => {
  const long = 'x'.repeat(1000);
  const s = summarizeStderr(`a\n\nb\nc\n${long}\n`);
  expect(s.startsWith('b | c | ')).toBe(true);
  expect(s.length).toBeLessThan(220);
});
