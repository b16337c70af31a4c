/**
 * Sources are plain files opened through media demuxers only: a FIFO, a device or a playlist is
 * refused with a message that says what it is, and ffprobe never opens the paths a list names.
 */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { rational } from '../../protocol/rational.ts';
import { probe } from '../../companion/media/probe.ts';
import { decodeFrames } from '../../companion/media/decode.ts';
import { writeSyntheticClip } from '../../companion/media/synthetic.ts';
import { collect, reshootErrorOf, useTempDir } from './helpers.ts';

const dir = useTempDir();
const clip = path.join(dir, 'clip.mkv');
const posix = process.platform !== 'win32';

beforeAll(async () => {
  await writeSyntheticClip({ path: clip, format: 'ffv1', width: 32, height: 24, fps: rational(25), frames: 3 });
});

describe('sources must be plain media files', () => {
  it.runIf(posix)('a named pipe is refused as a FIFO without blocking on it', async () => {
    const fifo = path.join(dir, 'pipe.mov');
    execFileSync('mkfifo', [fifo]);
    const err = await reshootErrorOf(probe(fifo), 'source_unreadable');
    expect(err.message).toContain(fifo);
    expect(err.message).toMatch(/named pipe \(FIFO\)/);
    await reshootErrorOf(collect(decodeFrames({ path: fifo, fps: rational(25), startFrame: 0, frameCount: 1 })), 'source_unreadable');
  });

  it.runIf(posix)('/dev/zero is refused as a device, not called a folder', async () => {
    const err = await reshootErrorOf(probe('/dev/zero'), 'source_unreadable');
    expect(err.message).toMatch(/"\/dev\/zero" is a device/);
    expect(err.message).not.toMatch(/folder/);
  });

  it('an ffconcat list is refused as a playlist and the file it lists is never opened', async () => {
    // The list names a real clip: if anything opened it, probing would succeed.
    const list = path.join(dir, 'list.mov');
    await writeFile(list, `ffconcat version 1.0\nfile '${clip}'\n`);
    const err = await reshootErrorOf(probe(list), 'source_unreadable');
    expect(err.message).toContain(list);
    expect(err.message).toMatch(/ffconcat list.*does not open the paths a playlist names/);
  });

  it('an HLS playlist is refused, whatever its extension', async () => {
    const m3u8 = path.join(dir, 'stream.mp4');
    await writeFile(m3u8, `#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\n${clip}\n#EXT-X-ENDLIST\n`);
    expect((await reshootErrorOf(probe(m3u8), 'source_unreadable')).message).toMatch(/HLS\/M3U playlist/);
  });

  it('a list that hides behind leading blank lines still never reaches the concat demuxer', async () => {
    // The sniff trims whitespace; the demuxer whitelist is the second line of defence either way.
    const list = path.join(dir, 'spaced.mkv');
    await writeFile(list, `\n\n   ffconcat version 1.0\nfile '${clip}'\n`);
    await expect(probe(list)).rejects.toMatchObject({ code: expect.stringMatching(/source_unreadable|corrupt_media/) });
  });

  it('a name with a colon is a file, not a protocol', async () => {
    await mkdir(path.join(dir, 'odd'), { recursive: true });
    const odd = path.join(dir, 'odd', 'take:2.mkv');
    await copyFile(clip, odd);
    const info = await probe(odd);
    expect(info.frameCount).toBe(3);
    const frames = await collect(decodeFrames({ path: odd, fps: rational(25), startFrame: 1, frameCount: 2, info }));
    expect(frames).toHaveLength(2);
  });
});
