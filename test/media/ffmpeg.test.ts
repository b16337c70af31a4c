/** Locating ffmpeg/ffprobe: the npm binaries work, and a broken override is reported with the fix. */
import { afterEach, describe, expect, it } from 'vitest';
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ffmpegInfo, missingCodecs, resetFfmpegCache, summarizeStderr } from '../../companion/media/ffmpeg.ts';
import { reshootErrorOf, useTempDir } from './helpers.ts';

const dir = useTempDir();

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

describe('missingCodecs (reshoot doctor)', () => {
  it('the ffmpeg in use has every required codec', async () => {
    expect((await missingCodecs()).filter((c) => c.required)).toEqual([]);
  });

  it.runIf(process.platform !== 'win32')('an ffmpeg without ProRes or EXR is reported codec by codec', async () => {
    // A stand-in ffmpeg that answers -version and lists a few codecs, as a stripped build would.
    const fake = path.join(dir, 'ffmpeg');
    writeFileSync(fake, [
      '#!/bin/sh',
      'case "$*" in',
      '  *-version*) echo "ffmpeg version 9.9-stripped";;',
      '  *-encoders*) printf " V....D libx264  H.264\\n V....D png  PNG\\n V....D ffv1  FFV1\\n V....D ffvhuff  HuffYUV\\n";;',
      '  *-decoders*) printf " V....D prores  ProRes\\n";;',
      'esac',
    ].join('\n') + '\n');
    chmodSync(fake, 0o755);
    process.env.FFMPEG_PATH = fake;
    resetFfmpegCache();
    const missing = (await missingCodecs()).map((c) => `${c.kind} ${c.name}${c.required ? ' (required)' : ''}`);
    expect(missing).toEqual(['encoder prores_ks (required)', 'encoder tiff', 'encoder dpx', 'decoder exr', 'decoder dpx']);
  });
});

it('summarizeStderr keeps the last short lines only', () => {
  const long = 'x'.repeat(1000);
  const s = summarizeStderr(`a\n\nb\nc\n${long}\n`);
  expect(s.startsWith('b | c | ')).toBe(true);
  expect(s.length).toBeLessThan(220);
});
