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
 *   ffmpeg via rgb  the same, but through rgb24 in the filter graph, i.e. the two colour
 *                   conversions our pipeline does, without the pipes and the JavaScript.
 *   ours            every step of renderMasked's per-frame work but the model, with its code:
 *                   decodeFrames (ffmpeg → rgb24 over a pipe) → a moving feathered ellipse mask
 *                   (openMaskFrames, as a fill job) → the crop around it (cropAround) taken to
 *                   the model's working size with its mask (ModelCrops.modelFrame/modelMask:
 *                   toModelRgb, area-down or bilinear, maskDown) → the model's stand-in → its
 *                   picture scaled back up to the crop (ModelCrops.scaledBack) →
 *                   compositeInPlace over the mask's box → openEncoder prores422hq (rgb24 over a
 *                   pipe → ffmpeg). Decoded frames come from a FramePool and go back to it once
 *                   the encoder's pipe has taken them.
 *
 * The stand-in "model" works where the real one does, at the working size (LTX-Video 0.9.5+'s
 * size rules: multiples of 32, at most 1216×704 pixels; a ~1 MP crop of this 1080p mask stays
 * near 1:1): it inverts the working-size frame into a new buffer, as the engine's frames
 * arrive in new memory from its worker. Two differences from a job, both stated: the crop is
 * taken around each frame's own mask (a job takes one around the union of its window's masks,
 * usually larger), and the model's frames are made one at a time (a job sends a window's worth).
 *
 * Prints frames/s (median and best of the repeats), ours/ffmpeg ratios (goal ≥ 0.95 against the
 * direct transcode) three ways: of the medians, of the bests, and the median of each repeat's own
 * ratio (runs next to each other share the machine's load); then CPU use and where the
 * pipeline's time goes. On a shared machine wall times swing with other load: read the three
 * ratios together, and the CPU-time ratio, which other load disturbs much less.
 *
 *   ours 16-bit     the same at 16 bits per channel: the path a job takes for this 10-bit source.
 *
 * Environment: BENCH_FRAMES (48), BENCH_REPS (4), BENCH_WIDTH (1920), BENCH_HEIGHT (1080).
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
import type { Depth } from '../companion/media/frame.ts';
import { FramePool } from '../companion/media/frame-pool.ts';
import { ffmpegPath, runTool } from '../companion/media/ffmpeg.ts';
import { SCALE_FLAGS } from '../companion/media/decode.ts';
import { envInt, fmt, machine, median, printMachine, tempDir } from './common.ts';

const FRAMES = envInt('BENCH_FRAMES', 48);
const REPS = envInt('BENCH_REPS', 4);
const W = envInt('BENCH_WIDTH', 1920);
const H = envInt('BENCH_HEIGHT', 1080);
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
 * `depth` 8: the path of an 8-bit source; 16: the path a job now takes for this 10-bit ProRes
 * source (decoded to 16-bit RGB so pixels outside the mask keep all their bits; the model's
 * stand-in sees the 8-bit view).
 */
async function pipeline(src: string, out: string, depth: Depth): Promise<Record<string, number>> {
  const stages = { decode: 0, mask: 0, toModel: 0, generate: 0, back: 0, composite: 0, encode: 0, finish: 0 };
  const info = await probe(src);
  const encoder = await openEncoder({ path: out, format: 'prores422hq', width: W, height: H, fps: FPS, channels: 3, depth, overwrite: true });
  const masks = await openMaskFrames(mask, W, H, FPS, FRAMES);
  // Decoded frames go back to the decoder once the encoder's pipe has them, as in renderMasked.
  const pool = new FramePool({ width: W, height: H, channels: 3, depth });
  const crops = new ModelCrops();
  const frames = decodeFrames({ path: src, info, fps: FPS, startFrame: 0, frameCount: FRAMES, width: W, height: H, channels: 3, depth, pool })[Symbol.asyncIterator]();
  try {
    for (let i = 0; ; i++) {
      let t = performance.now();
      const r = await frames.next();
      stages.decode += performance.now() - t;
      if (r.done) break;
      t = performance.now();
      const alpha = await masks.next();
      stages.mask += performance.now() - t;
      t = performance.now();
      const region = cropAround(alpha.bounds!, W, H);
      const size = workingSize(region.width, region.height, MODEL_SIZE_RULES);
      const small = crops.modelFrame(0, r.value, region, size);
      crops.modelMask(0, alpha, W, H, region, size);
      stages.toModel += performance.now() - t;
      t = performance.now();
      const gen = invert(small);
      stages.generate += performance.now() - t;
      t = performance.now();
      const back = crops.scaledBack(gen, region, alpha);
      stages.back += performance.now() - t;
      t = performance.now();
      const done = compositeInPlace(r.value, back, region, alpha);
      masks.release([alpha]);
      stages.composite += performance.now() - t;
      t = performance.now();
      await encoder.write(done, () => pool.release(done));
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

    const variants: { name: string; run: (out: string) => Promise<Record<string, number> | void> }[] = [
      { name: 'ffmpeg direct', run: (out) => ffmpegTranscode(src, out, false) },
      { name: 'ffmpeg via rgb24', run: (out) => ffmpegTranscode(src, out, true) },
      { name: 'ours (pipeline)', run: (out) => pipeline(src, out, 8) },
      { name: 'ours 16-bit', run: (out) => pipeline(src, out, 16) },
    ];
    const runs = new Map<string, Run[]>(variants.map((v) => [v.name, []]));
    for (let rep = 0; rep < REPS; rep++) {
      // Rotate the order each repeat so no variant always runs after the same one.
      for (const v of [...variants.slice(rep % variants.length), ...variants.slice(0, rep % variants.length)]) {
        const out = path.join(tmp.dir, `out-${rep}-${v.name.split(' ')[0]}.mov`);
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
    const perRep = (name: string): number =>
      median(runs.get('ours (pipeline)')!.map((r, i) => runs.get(name)![i]!.seconds / r.seconds));
    const verdict = (v: number): string => (v >= 0.95 ? 'goal met' : 'GOAL MISSED');
    for (const ref of ['ffmpeg direct', 'ffmpeg via rgb24']) {
      const ofMedians = fps.get('ours (pipeline)')! / fps.get(ref)!;
      const ofBests = best('ours (pipeline)') / best(ref);
      const goal = ref === 'ffmpeg direct' ? `  (goal ≥ 0.95: ${verdict(ofMedians)} by the medians, ${verdict(ofBests)} by the bests)` : '';
      console.log(
        `  ratio ours/${ref.padEnd(16)} = ${fmt(ofMedians, 3)} of medians, ${fmt(ofBests, 3)} of bests ` +
          `(${fmt(best('ours (pipeline)'), 2)} vs ${fmt(best(ref), 2)} fps), ${fmt(perRep(ref), 3)} median per repeat${goal}`,
      );
    }
    // CPU time per frame is much less sensitive than wall time to other load on the machine.
    const cpuPerFrame = (name: string): number => (1000 * median(runs.get(name)!.map((r) => r.cpuSelf + r.cpuChildren))) / FRAMES;
    console.log(
      `  CPU ms/frame: ffmpeg direct ${fmt(cpuPerFrame('ffmpeg direct'))}, via rgb24 ${fmt(cpuPerFrame('ffmpeg via rgb24'))}, ` +
        `ours ${fmt(cpuPerFrame('ours (pipeline)'))}; ratio ffmpeg direct/ours = ${fmt(cpuPerFrame('ffmpeg direct') / cpuPerFrame('ours (pipeline)'), 3)} ` +
        `(the throughput ratio a fully loaded ${m.nproc}-core machine would approach)`,
    );
    console.log(
      `  16-bit path (a 10-bit source in a job): ${fmt(fps.get('ours 16-bit')!, 2)} frames/s, ratio to ffmpeg direct ${fmt(fps.get('ours 16-bit')! / fps.get('ffmpeg direct')!, 3)} of medians, ` +
        `${fmt(fps.get('ours 16-bit')! / fps.get('ours (pipeline)')!, 3)} of the 8-bit path; CPU ms/frame ${fmt(cpuPerFrame('ours 16-bit'))}`,
    );
    console.log(`  load average now: ${loadavg()}`);

    const ourRuns = runs.get('ours (pipeline)')!;
    const total = median(ourRuns.map((r) => r.seconds));
    console.log(`\nwhere the pipeline's time goes (median per stage, ms/frame; "decode"/"encode" = waiting on the pipes):`);
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
  } finally {
    tmp.cleanup();
  }
}

await main();
