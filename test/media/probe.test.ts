/** Probing and path handling: clear errors that name the path, Windows-style paths, stills. */
import { writeFile, mkdir, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { rational } from '../../protocol/rational.ts';
import { normalizeMediaPath, probe } from '../../companion/media/probe.ts';
import { decodeFrames } from '../../companion/media/decode.ts';
import { writeSyntheticClip } from '../../companion/media/synthetic.ts';
import { collect, reshootErrorOf, useTempDir } from './helpers.ts';

const dir = useTempDir();
const onWindows = process.platform === 'win32';

beforeAll(async () => {
  await mkdir(path.join(dir, 'sub'));
  await writeSyntheticClip({ path: path.join(dir, 'sub', 'clip.mkv'), format: 'ffv1', width: 48, height: 32, fps: rational(24000, 1001), frames: 5 });
});

describe('probe', () => {
  it('reads a clip: size, exact rate, count, codec', async () => {
    const info = await probe(path.join(dir, 'sub', 'clip.mkv'));
    expect(info).toMatchObject({ width: 48, height: 32, fps: { num: 24000, den: 1001 }, frameCount: 5, codec: 'ffv1', hasAlpha: false, isImage: false });
    expect(info.durationSeconds).toBeCloseTo((5 * 1001) / 24000, 2);
  });

  it('a missing file is source_missing and names the path', async () => {
    const missing = path.join(dir, 'nope', 'gone.mov');
    const err = await reshootErrorOf(probe(missing), 'source_missing');
    expect(err.message).toContain(missing);
    await reshootErrorOf(collect(decodeFrames({ path: missing, fps: rational(25), startFrame: 0, frameCount: 1 })), 'source_missing');
  });

  it('a text file named .mov is corrupt_media and names the path', async () => {
    const fake = path.join(dir, 'notes.mov');
    await writeFile(fake, 'This is not a movie, just some notes.\n'.repeat(20));
    const err = await reshootErrorOf(probe(fake), 'corrupt_media');
    expect(err.message).toContain(fake);
    // The message quotes ffmpeg's reason, not the file's contents.
    expect(err.message).not.toContain('just some notes');
  });

  it('an empty file and a folder are refused clearly', async () => {
    const empty = path.join(dir, 'empty.mp4');
    await writeFile(empty, '');
    expect((await reshootErrorOf(probe(empty), 'corrupt_media')).message).toContain(empty);
    expect((await reshootErrorOf(probe(path.join(dir, 'sub')), 'source_unreadable')).message).toContain('folder');
  });

  it('a truncated clip is reported, not hung on', async () => {
    const cut = path.join(dir, 'cut.mov');
    await writeSyntheticClip({ path: path.join(dir, 'whole.mov'), format: 'prores422hq', width: 48, height: 32, fps: rational(25), frames: 5 });
    const { readFile } = await import('node:fs/promises');
    const bytes = await readFile(path.join(dir, 'whole.mov'));
    await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length / 3)));
    const err = await reshootErrorOf(probe(cut), 'corrupt_media');
    expect(err.message).toContain(cut);
  });
});

describe('paths', () => {
  it.skipIf(onWindows)('a Windows drive path on this OS says it is a Windows path', async () => {
    const err = await reshootErrorOf(probe('C:\\Users\\editor\\Videos\\shot 01.mov'), 'source_missing');
    expect(err.message).toContain('C:\\Users\\editor\\Videos\\shot 01.mov');
    expect(err.message).toMatch(/Windows path/);
  });

  it.skipIf(onWindows)('backslash-separated relative paths are converted', async () => {
    expect(normalizeMediaPath('renders\\shot1\\out.mov')).toBe('renders/shot1/out.mov');
    expect(normalizeMediaPath('C:\\x\\y.mov')).toBe('C:\\x\\y.mov');
    expect(normalizeMediaPath('\\\\server\\share\\y.mov')).toBe('\\\\server\\share\\y.mov');
    // An existing file reached through a Windows-style separator.
    const winStyle = `${dir}${path.sep}sub\\clip.mkv`;
    expect((await probe(winStyle)).frameCount).toBe(5);
  });

  it('file:// URLs and quoted pastes become paths', async () => {
    const file = path.join(dir, 'sub', 'clip.mkv');
    expect(normalizeMediaPath(pathToFileURL(file).href)).toBe(file);
    expect(normalizeMediaPath(`  "${file}" `)).toBe(file);
    expect((await probe(pathToFileURL(file).href)).width).toBe(48);
    if (!onWindows) expect(normalizeMediaPath('file:///C:/Users/x/a%20b.mov')).toBe('C:\\Users\\x\\a b.mov');
    if (!onWindows) expect(normalizeMediaPath('file://nas/media/a.mov')).toBe('\\\\nas\\media\\a.mov');
  });

  it('paths with spaces and unicode work', async () => {
    const odd = path.join(dir, 'shot 01 – café.mkv');
    await copyFile(path.join(dir, 'sub', 'clip.mkv'), odd);
    expect((await probe(odd)).frameCount).toBe(5);
  });
});
