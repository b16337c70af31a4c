/**
 * Media throughput: our frame pipeline against plain ffmpeg, side by side in one run.
 *
 *   npm run bench:media
 *
 * Source: a synthetic 1920x1080 ProRes 422 HQ clip (48 frames at 24000/1001 by default) written
 * through our own encoder into a temp folder. Then, alternating, BENCH_REPS times each:
 *
 *   ffmpeg direct   one ffmpeg process: decode → scale (our SCALE_FLAGS, BT.709, limited range)
 *                   → yuv422p10le → prores_ks profile 3 (HQ), vendor apl0: exactly the output
 *                   settings of openEncoder('prores422hq').
 *   ffmpeg via rgb24 the same, but through rgb24 in the filter graph, i.e. the two colour
 *                   conversions the 8-bit RGB path does, without the pipes and the JavaScript.
 *   pipes only      decodeFrames in the source's Y'CbCr → the frames untouched → openEncoder: the
 *                   two ffmpeg processes and the pipes alone, the ceiling of any pipeline that
 *                   runs the model outside ffmpeg.
 *   ours (job path) every step of renderMasked's per-frame work but the model, with its code, on
 *                   the path a job takes for this source into ProRes 422 HQ: its own Y'CbCr
 *                   (decodeFrames yuv → a moving feathered ellipse mask (openMaskFrames, as a
 *                   fill job) → the crop around it (cropAround) converted to 8-bit RGB and taken
 *                   to the model's working size with its mask (ModelCrops.modelFrame/modelMask:
 *                   yuvToModelRgb, area-down or bilinear, maskDown) → the model's stand-in → its
 *                   picture scaled back up to the crop (ModelCrops.scaledBack) → compositeYuv over
 *                   the mask's box → openEncoder prores422hq, frames stored as they are). Decoded
 *                   frames come from a pool and go back to it once the encoder's pipe has them.
 *   ours 16-bit rgb the same through 16-bit RGB: a job's path for this source before the Y'CbCr
 *                   path, and still for outputs that store another format (TIFF, PNG, DPX).
 *   ours 8-bit rgb  the same through rgb24: the path of an 8-bit source into ProRes.
 *
 * The stand-in "model" works where the real one does, at the working size (LTX-Video 0.9.5+'s
 * size rules: multiples of 32, at most 1216×704 pixels; a ~1 MP crop of this 1080p mask stays
 * near 1:1): it inverts the working-size frame into a new buffer, as the engine's frames
 * arrive in new memory from its worker. Two differences from a job, both stated: the crop is
 * taken around each frame's own mask (a job takes one around the union of its window's masks,
 * usually larger), and the model's frames are made one at a time (a job sends a window's worth).
 *
 * Prints frames/s (median and best of the repeats) and, for each variant, its ratio to the
 * direct transcode (goal ≥ 0.95 for the job path) three ways: of the medians, of the bests, and
 * the median of each repeat's own ratio (runs next to each other share the machine's load); then
 * the ratio of CPU time per frame, which other load disturbs much less, and where the job path's
 * time goes. On a machine whose cores are all busy, wall time follows CPU time.
 *
 * Environment: BENCH_FRAMES (48), BENCH_REPS (4), BENCH_WIDTH (1920), BENCH_HEIGHT (1080),
 * BENCH_ONLY (variants whose names start with these, comma-separated: "ffmpeg direct,ours (job").
 */
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ShapesMask } from '../protocol/index.ts';
import { compositeInPlace } from '../companion/masks/composite.ts';
import { openMaskFrames } from '../companion/jobs/mask-frames.ts';
import { cropAround, workingSize } from '../companion/engine/plan.ts';
import { ModelCrops } from '../companion/jobs/model-crops.ts';
import { decodeFrames, openEncoder, probe, writeSyntheticClip, type Frame } from '../companion/media/index.ts';
import { compositeYuv, isYuvFrame, yuvFormat, yuvFramePool, type YuvFrame } from '../companion/media/yuv.ts';
import type { AnyFrame, Depth } from '../companion/media/frame.ts';
import { FramePool } from '../companion/media/frame-pool.ts';
import { ffmpegPath, runTool } from '../companion/media/ffmpeg.ts';
import { SCALE_FLAGS } from '../companion/media/decode.ts';
import { envInt, fmt, machine, median, printMachine, tempDir } from './common.ts';

const FRAMES = envInt('BENCH_FRAMES', 48);
const REPS = envInt('BENCH_REPS', 4);
const W = envInt('BENCH_WIDTH', 1920);
const H = envInt('BENCH_HEIGHT', 1080);
const ONLY = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',') : undefined;
const FPS = { num: 24000, den: 1001 };
const RATE = '24000/1001';

/** CPU seconds used so far by this process and by its children that have exited (Linux). */
function cpuSeconds(): { self: number; children: number } {
  try {
    // Fields after the ")" that ends the command name: utime is field 14, cstime field 17.
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    const tick = 100; // CLK_TCK on Linux
    return { self: (f[11]! + f[12]!) / tick, children: (f[13]! + f[14]!) / tick };
  } catch {
    const u = process.cpuUsage();
    return { self: (u.user + u.system) / 1e6, children: NaN };
  }
}

const loadavg = (): string => os.loadavg().map((v) => v.toFixed(2)).join(' ');

interface Run {
  seconds: number;
  cpuSelf: number;
  cpuChildren: number;
  /** Pipeline only: seconds spent in each stage. */
  stages?: Record<string, number>;
}

async function measure(body: () => Promise<Record<string, number> | void>): Promise<Run> {
  const c0 = cpuSeconds();
  const t0 = performance.now();
  const stages = (await body()) ?? undefined;
  const seconds = (performance.now() - t0) / 1000;
  const c1 = cpuSeconds();
  return { seconds, cpuSelf: c1.self - c0.self, cpuChildren: c1.children - c0.children, stages };
}

const colourTags = ['-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv'];

async function ffmpegTranscode(src: string, out: string, viaRgb: boolean): Promise<void> {
  const toYuv = `scale=flags=${SCALE_FLAGS}:out_color_matrix=bt709:out_range=tv,format=yuv422p10le`;
  // Our decoder's conversion to rgb24 (tagged BT.709 source, same flags), then our encoder's.
  const vf = viaRgb ? `scale=${W}:${H}:flags=${SCALE_FLAGS}:in_color_matrix=auto,format=rgb24,${toYuv}` : toYuv;
  const args = ['-v', 'error', '-y', '-nostdin', '-i', src, '-map', '0:v:0', '-an', '-r', RATE,
    '-c:v', 'prores_ks', '-profile:v', '3', '-vendor', 'apl0', '-vf', vf, '-pix_fmt', 'yuv422p10le', ...colourTags,
    '-f', 'mov', out];
  const r = await runTool(await ffmpegPath(), args, { timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`ffmpeg failed: ${r.stderr}`);
}

const mask: ShapesMask = {
  type: 'shapes',
  invert: false,
  shapes: [{
    kind: 'ellipse',
    mode: 'add',
    feather: Math.round(W / 48), // 40 px at 1920
    keyframes: [
      { frame: 0, cx: W * 0.35, cy: H * 0.45, rx: W * 0.16, ry: H * 0.19 },
      { frame: Math.max(1, FRAMES - 1), cx: W * 0.62, cy: H * 0.55, rx: W * 0.19, ry: H * 0.22 },
    ],
  }],
};

/** LTX-Video 0.9.5+'s size rules (models/convert/manifest.ts): the working size of the bench's crops. */
const MODEL_SIZE_RULES = { multiple: 32, maxPixels: 1216 * 704, maxFrames: 121 };

/** The model's stand-in: its working-size input inverted (255 - v = v ^ 255, four bytes at a time) into a new buffer. */
function invert(f: Frame): Frame {
  const src = f.data;
  const data = new Uint8Array(src.length);
  const words = src.byteOffset % 4 === 0 ? src.length >>> 2 : 0;
  const a = new Uint32Array(src.buffer, src.byteOffset, words);
  const b = new Uint32Array(data.buffer, 0, words);
  for (let i = 0; i < words; i++) b[i] = ~a[i]!;
  for (let i = words * 4; i < src.length; i++) data[i] = 255 - src[i]!;
  return { width: f.width, height: f.height, channels: f.channels, data };
}

/**
 * The frame loop of a fill, by the path its frames take: 'yuv' is the path a job takes for this
 * 10-bit ProRes source into ProRes 422 HQ (its own Y'CbCr, 10-bit 4:2:2, from decoder to encoder;
 * jobs/resolve.ts pickYuv); 16 is the path it took before (16-bit RGB, still taken when the output
 * stores another format); 8 is the path of an 8-bit source into ProRes. 'pipes' is no path at all:
 * decoded frames go to the encoder untouched, the cost of the two ffmpeg processes and the pipes
 * alone (the best any pipeline with the model outside ffmpeg can do).
 */
type Route = 'yuv' | 'pipes' | Depth;

async function pipeline(src: string, out: string, route: Route): Promise<Record<string, number>> {
  const stages = { decode: 0, mask: 0, toModel: 0, generate: 0, back: 0, composite: 0, encode: 0, finish: 0 };
  const info = await probe(src);
  const yuv = route === 'yuv' || route === 'pipes' ? yuvFormat(info.pixFmt) : undefined;
  if ((route === 'yuv' || route === 'pipes') && !yuv) throw new Error(`the source is ${info.pixFmt}, not planar Y'CbCr`);
  const depth: Depth = typeof route === 'number' ? route : 16;
  const encoder = await openEncoder({ path: out, format: 'prores422hq', width: W, height: H, fps: FPS, channels: 3, depth, ...(yuv ? { yuv } : {}), overwrite: true });
  const masks = await openMaskFrames(mask, W, H, FPS, FRAMES);
  // Decoded frames go back to the decoder once the encoder's pipe has them, as in renderMasked.
  const pool = new FramePool({ width: W, height: H, channels: 3, depth });
  const yuvPool = yuv ? yuvFramePool(W, H, yuv) : undefined;
  const release = (f: AnyFrame | YuvFrame) => () => (isYuvFrame(f) ? yuvPool!.release(f) : pool.release(f));
  const crops = new ModelCrops();
  const read = { path: src, info, fps: FPS, startFrame: 0, frameCount: FRAMES };
  const frames: AsyncIterator<AnyFrame | YuvFrame> = (yuv ? decodeFrames({ ...read, yuv, yuvPool }) : decodeFrames({ ...read, width: W, height: H, channels: 3, depth, pool }))[Symbol.asyncIterator]();
  try {
    for (let i = 0; ; i++) {
      let t = performance.now();
      const r = await frames.next();
      stages.decode += performance.now() - t;
      if (r.done) break;
      let done = r.value;
      if (route !== 'pipes') {
        t = performance.now();
        const alpha = await masks.next();
        stages.mask += performance.now() - t;
        t = performance.now();
        const region = cropAround(alpha.bounds!, W, H);
        const size = workingSize(region.width, region.height, MODEL_SIZE_RULES);
        const small = crops.modelFrame(0, r.value, region, size, { matrix: 'bt709' });
        crops.modelMask(0, alpha, W, H, region, size);
        stages.toModel += performance.now() - t;
        t = performance.now();
        const gen = invert(small);
        stages.generate += performance.now() - t;
        t = performance.now();
        const back = crops.scaledBack(gen, region, alpha);
        stages.back += performance.now() - t;
        t = performance.now();
        done = isYuvFrame(r.value) ? compositeYuv(r.value, back, region, alpha, 'bt709') : compositeInPlace(r.value, back, region, alpha);
        masks.release([alpha]);
        stages.composite += performance.now() - t;
      }
      t = performance.now();
      await encoder.write(done, release(done));
      stages.encode += performance.now() - t;
    }
    const t = performance.now();
    await encoder.finish();
    stages.finish += performance.now() - t;
  } catch (e) {
    await encoder.abort();
    throw e;
  } finally {
    await frames.return?.();
    await masks.close();
  }
  if (encoder.framesWritten !== FRAMES) throw new Error(`pipeline wrote ${encoder.framesWritten} frames, expected ${FRAMES}`);
  return Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, v / 1000]));
}

async function main(): Promise<void> {
  const m = await machine();
  console.log('# bench:media: our decode → mask → composite → ProRes pipeline vs plain ffmpeg');
  printMachine(m);
  console.log(`load average at start: ${loadavg()} (other work on the machine skews wall times; CPU times less so)`);
  const tmp = tempDir('media');
  try {
    const src = path.join(tmp.dir, 'source.mov');
    let t = performance.now();
    await writeSyntheticClip({ path: src, format: 'prores422hq', width: W, height: H, fps: FPS, frames: FRAMES });
    const info = await probe(src);
    console.log(
      `source: ${info.width}x${info.height}, ${info.frameCount} frames at ${RATE}, ${info.codec} ${info.profile ?? ''} ` +
        `(synthetic, written by writeSyntheticClip in ${fmt((performance.now() - t) / 1000)} s); repeats: ${REPS}, interleaved, order rotated`,
    );

    const OURS = 'ours (job path)';
    const all: { name: string; run: (out: string) => Promise<Record<string, number> | void> }[] = [
      { name: 'ffmpeg direct', run: (out) => ffmpegTranscode(src, out, false) },
      { name: 'ffmpeg via rgb24', run: (out) => ffmpegTranscode(src, out, true) },
      { name: 'pipes only', run: (out) => pipeline(src, out, 'pipes') },
      { name: OURS, run: (out) => pipeline(src, out, 'yuv') },
      { name: 'ours 16-bit rgb', run: (out) => pipeline(src, out, 16) },
      { name: 'ours 8-bit rgb', run: (out) => pipeline(src, out, 8) },
    ];
    // BENCH_ONLY=ours: the job path alone, e.g. under a profiler (ratios need ffmpeg direct too).
    const variants = all.filter((v) => !ONLY || ONLY.some((o) => v.name.startsWith(o)));
    const runs = new Map<string, Run[]>(variants.map((v) => [v.name, []]));
    for (let rep = 0; rep < REPS; rep++) {
      // Rotate the order each repeat so no variant always runs after the same one.
      for (const v of [...variants.slice(rep % variants.length), ...variants.slice(0, rep % variants.length)]) {
        const out = path.join(tmp.dir, `out-${rep}-${v.name.replace(/\W+/g, '-')}.mov`);
        const r = await measure(() => v.run(out));
        const check = await probe(out);
        if (check.frameCount !== FRAMES || check.width !== W || check.height !== H) {
          throw new Error(`${v.name}: output has ${check.frameCount} frames at ${check.width}x${check.height}`);
        }
        rmSync(out, { force: true });
        runs.get(v.name)!.push(r);
        console.log(`  rep ${rep + 1} ${v.name.padEnd(17)} ${fmt(r.seconds, 2)} s  ${fmt(FRAMES / r.seconds)} fps`);
      }
    }

    console.log('\nresults (median of repeats):');
    const fps = new Map<string, number>();
    for (const v of variants) {
      const rs = runs.get(v.name)!;
      const s = median(rs.map((r) => r.seconds));
      const cpu = median(rs.map((r) => r.cpuSelf + r.cpuChildren));
      fps.set(v.name, FRAMES / s);
      console.log(
        `  ${v.name.padEnd(17)} ${fmt(FRAMES / s).padStart(5)} frames/s  (${fmt(s, 2)} s for ${FRAMES} frames; ` +
          `CPU ${fmt(cpu, 2)} s = ${fmt(cpu / s, 2)} cores busy of ${m.nproc})`,
      );
    }
    const best = (name: string): number => FRAMES / Math.min(...runs.get(name)!.map((r) => r.seconds));
    const perRep = (name: string, ref: string): number => median(runs.get(name)!.map((r, i) => runs.get(ref)![i]!.seconds / r.seconds));
    const verdict = (v: number): string => (v >= 0.95 ? 'goal met' : 'GOAL MISSED');
    // CPU time per frame is much less sensitive than wall time to other load on the machine.
    const cpuPerFrame = (name: string): number => (1000 * median(runs.get(name)!.map((r) => r.cpuSelf + r.cpuChildren))) / FRAMES;
    const nodePerFrame = (name: string): number => (1000 * median(runs.get(name)!.map((r) => r.cpuSelf))) / FRAMES;
    const ref = 'ffmpeg direct';
    if (runs.has(ref)) {
      console.log(`\nratios to ${ref} (wall: of medians, of bests, median per repeat; CPU: ffmpeg direct's CPU ms/frame over the variant's,`);
      console.log(`the throughput ratio a fully loaded ${m.nproc}-core machine approaches):`);
      for (const v of variants.filter((x) => x.name !== ref)) {
        const ofMedians = fps.get(v.name)! / fps.get(ref)!;
        const goal = v.name === OURS ? `  goal ≥ 0.95: ${verdict(ofMedians)} by the medians, ${verdict(best(v.name) / best(ref))} by the bests` : '';
        console.log(
          `  ${v.name.padEnd(17)} wall ${fmt(ofMedians, 3)} / ${fmt(best(v.name) / best(ref), 3)} / ${fmt(perRep(v.name, ref), 3)}, ` +
            `CPU ${fmt(cpuPerFrame(ref) / cpuPerFrame(v.name), 3)} (${fmt(cpuPerFrame(v.name))} ms/frame, Node's own ${fmt(nodePerFrame(v.name))})${goal}`,
        );
      }
      console.log(`  (${ref}: ${fmt(cpuPerFrame(ref))} CPU ms/frame. "pipes only" is the ceiling of any pipeline with the model outside ffmpeg.)`);
    }
    console.log(`  load average now: ${loadavg()}`);

    const ourRuns = runs.get(OURS);
    if (ourRuns) {
      const total = median(ourRuns.map((r) => r.seconds));
      console.log(`\nwhere the job path's time goes (median per stage, ms/frame; "decode"/"encode" = waiting on the pipes):`);
      const names = Object.keys(ourRuns[0]!.stages!);
      const parts = names.map((k) => {
        const s = median(ourRuns.map((r) => r.stages![k]!));
        return `${k} ${fmt((s * 1000) / FRAMES)} (${fmt((100 * s) / total, 0)}%)`;
      });
      console.log(`  ${parts.join(', ')}`);
      const self = median(ourRuns.map((r) => r.cpuSelf));
      const kids = median(ourRuns.map((r) => r.cpuChildren));
      console.log(
        `  CPU: node ${fmt(self, 2)} s (${fmt((1000 * self) / FRAMES)} ms/frame), ffmpeg decoder+encoder ${fmt(kids, 2)} s (${fmt((1000 * kids) / FRAMES)} ms/frame)`,
      );
    }
  } finally {
    tmp.cleanup();
  }
}

await main();
