/**
 * The real panel bundle (the harness) in headless Chromium against a real companion, for the
 * kinds beyond a single extend: a batch over two selected clips (extend both tails by 1 s, both
 * placed by themselves at the right times), and a fill with a rectangle drawn in the mask editor,
 * frames by value (timeline frames exported as PNGs, decoded, uploaded through the window/ack
 * protocol), placed over the clip. Needs Debian's Chromium (/usr/bin/chromium).
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { FPS, losslessClip, tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { testService } from '../helpers/service.ts';
import type { MemoryHost } from '../../plugin/host/memory.ts';
import { CHROMIUM, launchChromium, serveHarness } from './static.ts';

const root = path.resolve(import.meta.dirname, '../..');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`browser-batch.test.ts skipped: ${CHROMIUM} is missing (apt-get install -y chromium; .ci/run does this)`);

const TPS = 254016000000;
const TPF = (TPS * FPS.den) / FPS.num;
const W = 64;
const H = 48;

interface Timeline {
  tracks: { startTicks: number; endTicks: number; mediaPath: string | null; projectItemId: string; trackIndex: number }[][];
  project: { id: string; bin: string; mediaPath: string | null; metadata: Record<string, string> }[];
  markers: { name: string; startTicks: number; durationTicks: number }[];
  exported: number[];
}

async function timeline(page: Page): Promise<Timeline> {
  return page.evaluate(() => {
    const h = (window as unknown as { reshootHarness: { host: MemoryHost } }).reshootHarness.host;
    return {
      tracks: h.tracks.map((t) => t.map((i) => ({ ...i }))),
      project: [...h.project.values()].map((p) => ({ ...p })),
      markers: h.markerList.map((m) => ({ ...m })),
      exported: h.exportedFrames.map((f) => f.frame),
    };
  });
}

/** Frames [start, end) of an item. */
const span = (i: { startTicks: number; endTicks: number }) => [i.startTicks / TPF, i.endTicks / TPF];

describe.skipIf(!haveChromium)('panel in Chromium: batches and fills by value', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  let browser: import('playwright-core').BrowserContext;
  let origin: string;
  let service: Awaited<ReturnType<typeof testService>>;
  let mediaA: string;
  let mediaB: string;

  beforeAll(async () => {
    useTestModelCache();
    const site = await serveHarness();
    cleanups.push(site.close);
    origin = site.origin;
    service = await testService({ allowOrigins: [origin] });
    cleanups.push(service.cleanup);
    const dir = tempDir('reshoot-panel-batch-');
    cleanups.push(dir.cleanup);
    mediaA = await losslessClip(dir.dir, 'a.mkv', W, H, 24);
    mediaB = await losslessClip(dir.dir, 'b.mkv', W, H, 30);
    const chrome = await launchChromium({ width: 900, height: 1000 });
    browser = chrome.browser;
    cleanups.push(chrome.close);
  }, 240_000);

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function open(clips: object[], markers: object[] = []): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const q = new URLSearchParams({ port: String(service.port), token: service.token, w: String(W), h: String(H), clips: JSON.stringify(clips), markers: JSON.stringify(markers) });
    // Each test starts with a panel that remembers nothing (placement contexts live in localStorage).
    await page.goto(`${origin}/index.html?${q}`);
    await page.evaluate(() => localStorage.clear());
    await page.reload();
    await page.locator('[data-testid=status][data-status=connected]').waitFor({ timeout: 30_000 });
    return { page, errors };
  }

  it('extends both selected clips by 1 s; each result is placed by itself at its own tail', async () => {
    const { page, errors } = await open([
      { track: 0, at: 0, frames: 24, media: mediaA, selected: true },
      { track: 0, at: 48, frames: 24, in: 5, media: mediaB, selected: true },
    ]);
    await page.click('[data-testid=kind-extend]');
    await page.check('[data-testid=direction-tail] input');
    await page.fill('[data-testid=duration] input', '1');
    await page.selectOption('[data-testid=duration-unit] select', 'seconds');
    await page.fill('[data-testid=prompt] textarea', 'and on');
    await page.selectOption('[data-testid=format] select', 'ffv1');
    await page.check('[data-testid=apply-all] input');
    await page.click('[data-testid=submit]');
    await page.locator('[data-testid=form-message]').filter({ hasText: 'submitted 2 jobs' }).waitFor({ timeout: 30_000 });

    // Nobody presses Place: both land on V2 as they finish.
    await page.locator('[data-testid=job-placed]').nth(1).waitFor({ timeout: 60_000 }).catch(async (e) => {
      await page.screenshot({ path: path.join(root, 'test/artifacts/panel-batch-failed.png'), fullPage: true });
      throw new Error(`${(e as Error).message}\n${await page.locator('main').innerText()}`);
    });
    const jobs = page.locator('[data-testid=job]');
    expect(await jobs.count()).toBe(2);
    const t = await timeline(page);
    expect(t.tracks[0]!.map(span)).toEqual([[0, 24], [48, 72]]);
    expect(t.tracks[1]!.map(span)).toEqual([[24, 48], [72, 96]]);
    for (const item of t.tracks[1]!) {
      const p = t.project.find((x) => x.id === item.projectItemId)!;
      expect(p.bin).toBe('Reshoot');
      expect(p.metadata['reshoot.kind']).toBe('extend tail');
    }
    expect(t.markers.map((m) => m.startTicks / TPF).sort((a, b) => a - b)).toEqual([24, 72]);
    // The companion got one job per clip with its own source range (clip B starts 5 frames in).
    const specs = (await jobs.evaluateAll((els) => els.map((e) => e.getAttribute('data-job-id')!))).map((id) => service.queue.get(id)!.spec as { source: { path: string; in: unknown; out: unknown } });
    expect(specs.map((s) => [s.source.path, s.source.in, s.source.out]).sort()).toEqual(
      [[mediaA, { frames: 0 }, { frames: 24 }], [mediaB, { frames: 5 }, { frames: 29 }]].sort(),
    );
    expect(await page.locator('[data-testid=job-label]').allTextContents()).toEqual(expect.arrayContaining([expect.stringMatching(/a\.mkv · extend tail 24f/), expect.stringMatching(/b\.mkv · extend tail 24f/)]));
    mkdirSync(path.join(root, 'test/artifacts'), { recursive: true });
    await page.screenshot({ path: path.join(root, 'test/artifacts/panel-batch.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it('fills a rectangle drawn in the mask editor, frames by value, placed over the clip', async () => {
    const { page, errors } = await open([{ track: 0, at: 12, frames: 24, media: mediaA, selected: true }]);
    await page.click('[data-testid=kind-fill]');
    const editor = page.locator('[data-testid=mask-editor]');
    await editor.waitFor({ timeout: 10_000 });
    // The editor shows the clip's first frame, exported from the (in-memory) timeline.
    await page.locator('[data-testid=mask-frame-image]').waitFor({ timeout: 10_000 });
    const stage = page.locator('[data-testid=mask-stage]');
    const box = (await stage.boundingBox())!;
    const at = (x: number, y: number) => [box.x + (x / W) * box.width, box.y + (y / H) * box.height] as const;
    await page.click('[data-testid=mask-tool-rectangle]');
    await page.mouse.move(...at(16, 12));
    await page.mouse.down();
    for (let i = 1; i <= 5; i++) await page.mouse.move(...at(16 + (24 * i) / 5, 12 + (20 * i) / 5));
    await page.mouse.up();
    const mask = JSON.parse((await editor.getAttribute('data-mask-spec'))!) as { shapes: { keyframes: { x: number; width: number }[] }[] };
    expect(mask.shapes).toHaveLength(1);

    await page.fill('[data-testid=prompt] textarea', 'an empty street');
    await page.check('[data-testid=seed-lock] input');
    await page.fill('[data-testid=seed] input', '77');
    await page.selectOption('[data-testid=format] select', 'ffv1');
    await page.check('[data-testid=frames-by-value] input');
    await page.check('[data-testid=auto-place] input');
    const exportedBefore = (await timeline(page)).exported.length;
    await page.click('[data-testid=submit]');

    // The upload shows in the queue while frames are exported and sent.
    await page.locator('[data-testid=task]').first().waitFor({ timeout: 10_000 });
    await page.locator('[data-testid=job-placed]').waitFor({ timeout: 60_000 });
    expect(await page.locator('[data-testid=task]').count()).toBe(0);
    const jobId = (await page.locator('[data-testid=job]').first().getAttribute('data-job-id'))!;
    expect(await page.locator('[data-testid=job-placed]').textContent()).toBe('placed on V2 at frame 12');

    const t = await timeline(page);
    // Exactly the clip's 24 timeline frames were exported for the upload, in order.
    expect(t.exported.slice(exportedBefore)).toEqual(Array.from({ length: 24 }, (_, i) => 12 + i));
    expect(t.tracks[0]!.map(span)).toEqual([[12, 36]]);
    expect(t.tracks[1]!.map(span)).toEqual([[12, 36]]);
    const placed = t.project.find((p) => p.id === t.tracks[1]![0]!.projectItemId)!;
    expect(placed.metadata).toMatchObject({ 'reshoot.kind': 'fill', 'reshoot.jobId': jobId, 'reshoot.seed': '77', 'reshoot.prompt': 'an empty street' });

    // The companion received the upload and the job read it.
    const record = service.queue.get(jobId)!;
    expect(record.state).toBe('done');
    const spec = record.spec as { kind: string; source: { path: string; in: unknown; out: unknown }; mask: { type: string } };
    expect(spec.kind).toBe('fill');
    expect(spec.mask.type).toBe('shapes');
    expect(spec.source.path.startsWith(path.join(service.home, 'uploads'))).toBe(true);
    expect(existsSync(spec.source.path)).toBe(true);
    expect(spec.source).toMatchObject({ in: { frames: 0 }, out: { frames: 24 } });
    mkdirSync(path.join(root, 'test/artifacts'), { recursive: true });
    await page.screenshot({ path: path.join(root, 'test/artifacts/panel-fill.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it('runs the marker commands: each job placed by itself; a bad marker is reported by name', async () => {
    const { page, errors } = await open(
      [{ track: 0, at: 0, frames: 24, media: mediaA }],
      [
        { name: 'reshoot: extend tail 12f seed=9 "dusk falls"', at: 5 },
        { name: 'reshoot: extend sideways', at: 6 },
        { name: 'just a note', at: 7 },
      ],
    );
    await page.selectOption('[data-testid=format] select', 'ffv1');
    await page.click('[data-testid=run-markers]');
    const message = page.locator('[data-testid=markers-message]');
    await message.waitFor({ timeout: 30_000 });
    expect(await message.textContent()).toMatch(/submitted 1 job.*Skipped: marker 'reshoot: extend sideways' at frame 6: unexpected "sideways"/);
    await page.locator('[data-testid=job-placed]').waitFor({ timeout: 60_000 });
    const t = await timeline(page);
    expect(t.tracks[1]!.map(span)).toEqual([[24, 36]]);
    const p = t.project.find((x) => x.id === t.tracks[1]![0]!.projectItemId)!;
    expect(p.metadata).toMatchObject({ 'reshoot.prompt': 'dusk falls', 'reshoot.seed': '9', 'reshoot.kind': 'extend tail' });
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});
