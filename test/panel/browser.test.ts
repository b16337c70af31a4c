/**
 * The real panel bundle (the harness: plugin/ui with the in-memory host) in headless Chromium,
 * against a real companion: select the clip, Extend tail by 1 s, submit, watch progress, see
 * the job done, Place, and check the in-memory timeline. Needs Debian's Chromium
 * (/usr/bin/chromium; .ci/run installs it).
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FPS, losslessClip, tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { testService } from '../helpers/service.ts';
import type { MemoryHost } from '../../plugin/host/memory.ts';
import { CHROMIUM, launchChromium, serveHarness } from './static.ts';

const root = path.resolve(import.meta.dirname, '../..');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`browser.test.ts skipped: ${CHROMIUM} is missing (apt-get install -y chromium; .ci/run does this)`);

const TPS = 254016000000;
const ticksAt = (frames: number) => Number((BigInt(frames) * BigInt(TPS) * BigInt(FPS.den)) / BigInt(FPS.num));

describe.skipIf(!haveChromium)('panel in Chromium against a real companion', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  let browser: import('playwright-core').BrowserContext;
  let origin: string;
  let service: Awaited<ReturnType<typeof testService>>;
  let media: string;

  beforeAll(async () => {
    useTestModelCache();
    const site = await serveHarness();
    cleanups.push(site.close);
    origin = site.origin;
    service = await testService({ allowOrigins: [origin] });
    cleanups.push(service.cleanup);
    const dir = tempDir('reshoot-panel-');
    cleanups.push(dir.cleanup);
    media = await losslessClip(dir.dir, 'source.mkv', 64, 48, 24);
    const chrome = await launchChromium({ width: 900, height: 720 });
    browser = chrome.browser;
    cleanups.push(chrome.close);
  }, 240_000);

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('extends the selected clip by 1 s at the tail and places the result above it', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const q = new URLSearchParams({ port: String(service.port), token: service.token, media, frames: '24', w: '64', h: '48', resultFrames: '24' });
    await page.goto(`${origin}/index.html?${q}`);

    await page.locator('[data-testid=status][data-status=connected]').waitFor({ timeout: 30_000 });
    await page.click('[data-testid=kind-extend]');
    await page.check('[data-testid=direction-tail] input');
    await page.fill('[data-testid=duration] input', '1');
    await page.selectOption('[data-testid=duration-unit] select', 'seconds');
    await page.fill('[data-testid=prompt] textarea', 'the waves roll on');
    await page.check('[data-testid=seed-lock] input');
    await page.fill('[data-testid=seed] input', '1234');
    await page.selectOption('[data-testid=format] select', 'ffv1');
    // The media options: frame fit, and alpha (offered because FFV1 stores alpha).
    await page.selectOption('[data-testid=fit] select', 'stretch');
    await page.selectOption('[data-testid=alpha] select', 'none');
    await page.click('[data-testid=submit]');

    const job = page.locator('[data-testid=job]').first();
    await job.waitFor({ timeout: 30_000 });
    const jobId = await job.getAttribute('data-job-id');
    expect(jobId).toBeTruthy();

    // Watch the progress bar until the job is done.
    const seen = new Set<string>();
    const widths: number[] = [];
    const deadline = Date.now() + 180_000;
    for (;;) {
      const state = await job.getAttribute('data-state');
      seen.add(state ?? '');
      const width = await job.locator('[data-testid=job-progress]').evaluate((el) => parseFloat((el as HTMLElement).style.width));
      widths.push(width);
      if (state === 'done') break;
      if (state === 'failed' || state === 'cancelled') throw new Error(`job ${state}: ${await job.locator('[data-testid=job-detail]').textContent()}`);
      if (Date.now() > deadline) throw new Error(`job not done in time (states ${[...seen]})`);
      await page.waitForTimeout(50);
    }
    expect(widths.at(-1)).toBe(100);
    for (let i = 1; i < widths.length; i++) expect(widths[i]!).toBeGreaterThanOrEqual(widths[i - 1]!);
    expect(await job.locator('[data-testid=job-detail]').textContent()).toMatch(/24 frames · seed 1234/);

    await job.locator('[data-testid=job-place]').click();
    await job.locator('[data-testid=job-placed]').waitFor({ timeout: 30_000 });
    expect(await job.locator('[data-testid=job-placed]').textContent()).toBe('placed on V2 at frame 24');

    const timeline = await page.evaluate(() => {
      const h = (window as unknown as { reshootHarness: { host: MemoryHost } }).reshootHarness.host;
      return {
        tracks: h.tracks.map((t) => t.map((i) => ({ ...i }))),
        project: [...h.project.values()].map((p) => ({ ...p })),
        markers: h.markerList,
      };
    });
    // The source stays on V1; the extension sits on V2 (the first free track above) at the clip's end.
    expect(timeline.tracks[0]).toHaveLength(1);
    expect(timeline.tracks[0]![0]!.mediaPath).toBe(media);
    expect(timeline.tracks[1]).toHaveLength(1);
    const placed = timeline.tracks[1]![0]!;
    expect(placed.startTicks).toBe(ticksAt(24));
    expect(placed.startTicks).toBe(timeline.tracks[0]![0]!.endTicks);
    const result = timeline.project.find((p) => p.id === placed.projectItemId)!;
    expect(result.bin).toBe('Reshoot');
    expect(result.mediaPath).toMatch(/\.mkv$/);
    expect(existsSync(result.mediaPath!)).toBe(true);
    expect(result.metadata).toMatchObject({ 'reshoot.prompt': 'the waves roll on', 'reshoot.seed': '1234', 'reshoot.model': 'builtin:tiny', 'reshoot.jobId': jobId, 'reshoot.kind': 'extend tail' });
    expect(timeline.markers).toHaveLength(1);
    expect(timeline.markers[0]).toMatchObject({ startTicks: ticksAt(24), durationTicks: ticksAt(24) });
    expect(timeline.markers[0]!.comment).toContain(jobId!);

    // What the companion itself recorded for the job: the source range the panel computed.
    const record = service.queue.get(jobId!)!;
    expect(record.state).toBe('done');
    expect(record.spec).toMatchObject({ kind: 'extend', source: { path: media, in: { frames: 0 }, out: { frames: 24 } }, extend: { direction: 'tail', duration: { seconds: 1 } }, seed: 1234 });
    expect(record.spec).toMatchObject({ sequence: { fit: 'stretch' }, output: { format: 'ffv1', alpha: 'none' } });

    mkdirSync(path.join(root, 'test/artifacts'), { recursive: true });
    await page.screenshot({ path: path.join(root, 'test/artifacts/panel.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  }, 300_000);
});
