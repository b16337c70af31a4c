/**
 * Outputs go back into the timeline where they belong: the timecode of their first frame and the
 * reel name travel with them, and a fill/replace carries the source's sound for the same span,
 * sample for sample. Extensions continue the timecode and have no sound.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJobSpec, type JobSpecInput } from '../../protocol/index.ts';
import { Engine } from '../../companion/engine/engine.ts';
import { runJob } from '../../companion/jobs/run.ts';
import { ffmpegPath, ffprobePath, runTool } from '../../companion/media/ffmpeg.ts';
import { probe } from '../../companion/media/probe.ts';
import { tempDir, useTestModelCache } from '../helpers/fixtures.ts';

useTestModelCache();

const W = 64;
const H = 48;
const N = 40;
const RATE = '24000/1001';
const SAMPLES_PER_FRAME = 2002; // 48000 · 1001 / 24000
const tmp = tempDir();
let engine: Engine;
let source = '';

async function ff(args: string[]): Promise<Buffer> {
  const r = await runTool(await ffmpegPath(), ['-v', 'error', '-y', ...args], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout;
}

/** Every sample of the first audio stream as interleaved signed 32-bit integers (24-bit PCM sits in the top bits). */
async function samples(file: string): Promise<Int32Array> {
  const raw = await ff(['-i', file, '-map', '0:a:0', '-c:a', 'pcm_s32le', '-f', 's32le', 'pipe:1']);
  return new Int32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

async function streamsOf(file: string): Promise<{ codec_type: string; codec_name: string; sample_rate?: string; channels?: number }[]> {
  const r = await runTool(await ffprobePath(), ['-v', 'error', '-print_format', 'json', '-show_streams', file]);
  return JSON.parse(r.stdout.toString()).streams;
}

beforeAll(async () => {
  source = path.join(tmp.dir, 'A001_C003.mov');
  // ProRes 422 HQ with stereo 24-bit PCM (a different tone per channel), timecode and reel name.
  await ff([
    '-f', 'lavfi', '-i', `testsrc2=s=${W}x${H}:r=${RATE}`,
    '-f', 'lavfi', '-i', 'aevalsrc=0.5*sin(440*2*PI*t)|0.25*sin(660*2*PI*t):s=48000',
    '-frames:v', String(N), '-af', `atrim=end_sample=${N * SAMPLES_PER_FRAME}`,
    '-c:v', 'prores_ks', '-profile:v', '3', '-c:a', 'pcm_s24le',
    '-timecode', '01:00:10:00', '-metadata:s:v:0', 'reel_name=A001', source,
  ]);
  engine = await Engine.open('builtin:tiny');
});
afterAll(async () => {
  await engine?.close();
  tmp.cleanup();
});

const base = { seed: 2, steps: 2, sequence: { fps: RATE, width: W, height: H } };
const mask = { type: 'shapes', shapes: [{ kind: 'rectangle', feather: 0, keyframes: [{ frame: 0, x: 10, y: 10, width: 20, height: 16 }] }] };

describe('timecode and reel name', () => {
  it('the source carries 01:00:10:00, reel A001 and stereo PCM', async () => {
    const info = await probe(source);
    expect(info).toMatchObject({ timecode: '01:00:10:00', reelName: 'A001', audio: { codec: 'pcm_s24le', sampleRate: 48000, channels: 2 } });
  });

  it('a fill of frames 10–29 starts at 01:00:10:10 with the reel name, in MOV and MKV', async () => {
    for (const [format, name] of [['prores422hq', 'fill.mov'], ['ffv1', 'fill.mkv']] as const) {
      const spec: JobSpecInput = { kind: 'fill', ...base, source: { path: source, in: { frames: 10 }, out: { frames: 30 } }, mask, output: { format, path: path.join(tmp.dir, name) } } as JobSpecInput;
      const r = await runJob(parseJobSpec(spec), { engine });
      const info = await probe(r.output);
      expect(info.timecode, format).toBe('01:00:10:10');
      if (format === 'prores422hq') expect(info.reelName).toBe('A001');
      expect(r.provenance.media).toMatchObject({ timecode: '01:00:10:10', reelName: 'A001' });
    }
  });

  it('a tail extension continues the clip: 40 frames after 01:00:10:00 is 01:00:11:16; a head extension ends where the range begins', async () => {
    const tail = await runJob(parseJobSpec({ kind: 'extend', ...base, source: { path: source }, extend: { direction: 'tail', duration: { frames: 6 } }, output: { format: 'prores422hq', path: path.join(tmp.dir, 'tail.mov') } }), { engine });
    expect((await probe(tail.output)).timecode).toBe('01:00:11:16');
    const head = await runJob(parseJobSpec({ kind: 'extend', ...base, source: { path: source, in: { frames: 10 } }, extend: { direction: 'head', duration: { frames: 6 } }, output: { format: 'prores422hq', path: path.join(tmp.dir, 'head.mov') } }), { engine });
    expect((await probe(head.output)).timecode).toBe('01:00:10:04');
  });
});

describe('audio', () => {
  it('a fill carries the source audio for exactly its frames, bit for bit (24-bit PCM, 48 kHz, stereo)', async () => {
    const out = path.join(tmp.dir, 'fill-audio.mov');
    const r = await runJob(parseJobSpec({ kind: 'fill', ...base, source: { path: source, in: { frames: 10 }, out: { frames: 30 } }, mask, output: { format: 'prores422hq', path: out } } as JobSpecInput), { engine });
    const audio = (await streamsOf(r.output)).filter((s) => s.codec_type === 'audio');
    expect(audio).toHaveLength(1);
    expect(audio[0]).toMatchObject({ codec_name: 'pcm_s24le', sample_rate: '48000', channels: 2 });
    const src = await samples(source);
    const got = await samples(r.output);
    const first = 10 * SAMPLES_PER_FRAME * 2; // interleaved stereo
    const count = 20 * SAMPLES_PER_FRAME * 2;
    expect(got.length).toBe(count);
    expect(Buffer.from(got.buffer).equals(Buffer.from(src.slice(first, first + count).buffer))).toBe(true);
    expect((await probe(r.output)).frameCount).toBe(20);
  });

  it('an FFV1 fill keeps the PCM too; an H.264 fill carries it as AAC; a PNG sequence and an extension have none', async () => {
    const mkv = await runJob(parseJobSpec({ kind: 'fill', ...base, source: { path: source, out: { frames: 12 } }, mask, output: { format: 'ffv1', path: path.join(tmp.dir, 'a.mkv') } } as JobSpecInput), { engine });
    const src = await samples(source);
    const got = await samples(mkv.output);
    expect(got.length).toBe(12 * SAMPLES_PER_FRAME * 2);
    expect(Buffer.from(got.buffer).equals(Buffer.from(src.slice(0, got.length).buffer))).toBe(true);

    const mp4 = await runJob(parseJobSpec({ kind: 'fill', ...base, source: { path: source, out: { frames: 12 } }, mask, output: { format: 'h264', path: path.join(tmp.dir, 'a.mp4') } } as JobSpecInput), { engine });
    const av = (await streamsOf(mp4.output)).filter((s) => s.codec_type !== 'data'); // data: the timecode track
    expect(av.map((s) => `${s.codec_type}:${s.codec_name}`)).toEqual(['video:h264', 'audio:aac']);

    const ext = await runJob(parseJobSpec({ kind: 'extend', ...base, source: { path: source }, extend: { direction: 'tail', duration: { frames: 4 } }, output: { format: 'prores422hq', path: path.join(tmp.dir, 'ext.mov') } }), { engine });
    expect((await streamsOf(ext.output)).some((s) => s.codec_type === 'audio')).toBe(false);
    expect(ext.provenance.media.audio).toBeNull();
  });
});
