/**
 * EXR plate reading: our reader (companion/media/exrRead.ts, what an EXR → EXR job decodes with)
 * against ffmpeg's EXR decoder (what every other EXR job decodes with), side by side in one run.
 *
 *   npm run bench:exr
 *
 * Plate: a synthetic 1920x1080 linear RGB half-float picture (values 0..20, fine detail), written
 * as BENCH_FRAMES images with our writer (ZIP) and, when OpenImageIO's oiiotool is installed,
 * recompressed as PIZ, RLE and ZIPS. Then, alternating, BENCH_REPS times each:
 *
 *   ours     readExr on every image (read + decompress + to half bits), one after the other.
 *   ffmpeg   one ffmpeg process decoding the same images to rgb48le into a null muxer (its decode
 *            alone; it clips to 0..1 and uses its own threads).
 *
 * Prints wall and CPU ms per frame (medians of the repeats) and ours/ffmpeg ratios (> 1: ours
 * slower). ffmpeg decodes with several threads, so on a busy machine read the CPU ratio too.
 * ffmpeg's CPU time is its own report (-benchmark). Also: blending one fully masked 1080p frame
 * in float (compositeHalf), the worst case of the composite.
 *
 * Environment: BENCH_FRAMES (8), BENCH_REPS (3), BENCH_WIDTH (1920), BENCH_HEIGHT (1080).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { blendHalf } from '../companion/masks/compositeHalf.ts';
import { encodeExr, toHalf } from '../companion/media/exr.ts';
import { readExr } from '../companion/media/exrRead.ts';
import { ffmpegPath, runTool } from '../companion/media/ffmpeg.ts';
import type { DeepFrame, Frame } from '../companion/media/frame.ts';
import { envInt, fmt, machine, median, printMachine, tempDir } from './common.ts';

const FRAMES = envInt('BENCH_FRAMES', 8);
const REPS = envInt('BENCH_REPS', 3);
const W = envInt('BENCH_WIDTH', 1920);
const H = envInt('BENCH_HEIGHT', 1080);

function plateFrame(i: number): DeepFrame {
  const data = new Uint16Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const p = (y * W + x) * 3;
      data[p] = toHalf((20 * x) / W + 0.01 * Math.sin(y * 0.37 + i));
      data[p + 1] = toHalf(0.18 * (1 + Math.sin(x * 0.05) * Math.cos(y * 0.07 + i)));
      data[p + 2] = toHalf(0.5 + 0.45 * Math.sin(x * 0.9 + y * 1.7) * Math.sin(i + x * 0.01));
    }
  }
  return { width: W, height: H, channels: 3, depth: 16, data };
}

function hasOiio(): boolean {
  try {
    execFileSync('oiiotool', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function ours(dir: string): Promise<{ wallMs: number; cpuMs: number }> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < FRAMES; i++) await readExr(path.join(dir, `p.${1001 + i}.exr`));
  const c = process.cpuUsage(c0);
  return { wallMs: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
}

async function ffmpeg(dir: string): Promise<{ wallMs: number; cpuMs: number }> {
  const args = ['-v', 'info', '-hide_banner', '-nostats', '-nostdin', '-benchmark', '-f', 'image2', '-start_number', '1001', '-i', path.join(dir, 'p.%04d.exr'), '-pix_fmt', 'rgb48le', '-f', 'null', '-'];
  const t0 = performance.now();
  const r = await runTool(await ffmpegPath(), args, { timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(r.stderr);
  const wallMs = performance.now() - t0;
  // -benchmark: "bench: utime=0.123s stime=0.004s rtime=…" (the process's own CPU time).
  const m = /utime=([\d.]+)s stime=([\d.]+)s/.exec(`${r.stdout}${r.stderr}`);
  return { wallMs, cpuMs: m ? (Number(m[1]) + Number(m[2])) * 1000 : NaN };
}

async function main(): Promise<void> {
  printMachine(await machine());
  console.log(`plate: ${W}x${H} RGB half, ${FRAMES} frames, ${REPS} repeats\n`);
  const tmp = tempDir('exr');
  const dirs: Record<string, string> = {};
  const zip = path.join(tmp.dir, 'zip');
  mkdirSync(zip);
  for (let i = 0; i < FRAMES; i++) writeFileSync(path.join(zip, `p.${1001 + i}.exr`), encodeExr(plateFrame(i), { compression: 'zip', transfer: 'half' }));
  dirs.zip = zip;
  if (hasOiio()) {
    for (const c of ['piz', 'rle', 'zips']) {
      const d = path.join(tmp.dir, c);
      mkdirSync(d);
      for (let i = 0; i < FRAMES; i++) execFileSync('oiiotool', [path.join(zip, `p.${1001 + i}.exr`), '--compression', c, '-o', path.join(d, `p.${1001 + i}.exr`)]);
      dirs[c] = d;
    }
  } else console.log('oiiotool not found: ZIP only (apt-get install openimageio-tools for PIZ, RLE, ZIPS)\n');

  console.log('              wall ms/frame (median)          CPU ms/frame (median)');
  console.log('compression   ours   ffmpeg   ours/ffmpeg    ours   ffmpeg   ours/ffmpeg');
  for (const [name, dir] of Object.entries(dirs)) {
    const o: number[] = [];
    const oc: number[] = [];
    const f: number[] = [];
    const fc: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const a = await ours(dir);
      o.push(a.wallMs / FRAMES);
      oc.push(a.cpuMs / FRAMES);
      const b = await ffmpeg(dir);
      f.push(b.wallMs / FRAMES);
      fc.push(b.cpuMs / FRAMES);
    }
    const [om, fm, ocm, fcm] = [median(o), median(f), median(oc), median(fc)];
    const cells = [fmt(om).padStart(6), fmt(fm).padStart(8), fmt(om / fm, 2).padStart(13), fmt(ocm).padStart(7), fmt(fcm).padStart(8), fmt(ocm / fcm, 2).padStart(13)];
    console.log(`${name.toUpperCase().padEnd(12)} ${cells.join(' ')}`);
  }

  // The composite of a fully masked frame: every sample blended in float (the worst case).
  const dst = plateFrame(0);
  const gen: Frame = { width: W, height: H, channels: 3, data: new Uint8Array(W * H * 3).map((_, i) => i % 251) };
  const alpha = new Float32Array(W * H).fill(0.5);
  const box = { x: 0, y: 0, width: W, height: H };
  const times: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const t0 = performance.now();
    blendHalf(dst, gen, box, alpha, box, 'opaque');
    times.push(performance.now() - t0);
  }
  console.log(`\nblendHalf, whole ${W}x${H} frame at a = 0.5: ${fmt(median(times))} ms (median of ${REPS})`);
  tmp.cleanup();
}

await main();
