/**
 * The panel as an editor sees it in Premiere (issue 8, items 3, 4, 7): docked at 360×560 and
 * wide, in Premiere's dark and light themes (the harness sets UXP's `--uxp-host-*` theme
 * variables), through every kind. Asserts what an editor would check — the panel takes the
 * theme's colours, scrolls so the queue and its buttons are reachable when docked, says what is
 * wrong in plain words beside the fields, never says npm — and writes screenshots of each main
 * state to test/artifacts/ (git-ignored; README "Screenshots").
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { losslessClip, tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { testService } from '../helpers/service.ts';
import { CHROMIUM, launchChromium, serveHarness } from './static.ts';

const root = path.resolve(import.meta.dirname, '../..');
const artifacts = path.join(root, 'test/artifacts');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`panel-look.test.ts skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`);

const THEMES = { dark: 'rgb(35, 35, 35)', light: 'rgb(240, 240, 240)' } as const;
const DOCKED = { width: 360, height: 560 };
const WIDE = { width: 720, height: 900 };
const KINDS = ['extend', 'fill', 'replace', 'generate', 'bridge'] as const;

describe.skipIf(!haveChromium)('the panel docked and wide, dark and light', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  let browser: BrowserContext;
  let origin: string;
  let service: Awaited<ReturnType<typeof testService>>;
  let media: string;

  beforeAll(async () => {
    useTestModelCache();
    mkdirSync(artifacts, { recursive: true });
    const site = await serveHarness();
    cleanups.push(site.close);
    origin = site.origin;
    service = await testService({ allowOrigins: [origin] });
    cleanups.push(service.cleanup);
    const dir = tempDir('reshoot-look-');
    cleanups.push(dir.cleanup);
    media = await losslessClip(dir.dir, 'A001_C003.mkv', 64, 48, 24);
    const chrome = await launchChromium(DOCKED);
    browser = chrome.browser;
    cleanups.push(chrome.close);
  }, 240_000);

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function open(theme: keyof typeof THEMES, size: { width: number; height: number }, connected = true): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage();
    await page.setViewportSize(size);
    await page.emulateMedia({ colorScheme: theme });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    const q = new URLSearchParams({ media, frames: '24', w: '64', h: '48', resultFrames: '24', theme, size: `${size.width}x${size.height}` });
    if (connected) {
      q.set('port', String(service.port));
      q.set('token', service.token);
    }
    await page.goto(`${origin}/index.html?${q}`);
    return { page, errors };
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(artifacts, `${name}.png`), clip: { x: 0, y: 0, ...page.viewportSize()! } });

  for (const theme of ['dark', 'light'] as const) {
    it(`${theme}: disconnected says to start Reshoot Companion, in the theme's colours`, async () => {
      const { page, errors } = await open(theme, DOCKED, false);
      await page.locator('[data-testid=status][data-status=no-companion]').waitFor({ timeout: 30_000 });
      const detail = await page.locator('[data-testid=status-detail]').textContent();
      expect(detail).toMatch(/Start Reshoot Companion/);
      expect(await page.locator('.rs-panel').textContent()).not.toMatch(/npm/);
      const colours = await page.locator('.rs-panel').evaluate((el) => ({ bg: getComputedStyle(el).backgroundColor, fg: getComputedStyle(el).color }));
      expect(colours.bg).toBe(THEMES[theme]);
      expect(colours.fg).not.toBe(colours.bg);
      await shot(page, `disconnected-${theme}-docked`);
      expect(errors).toEqual([]);
      await page.close();
    });

    it(`${theme}, docked 360×560: every kind's form, the panel scrolls to the queue, problems beside their fields`, async () => {
      const { page, errors } = await open(theme, DOCKED);
      await page.locator('[data-testid=status][data-status=connected]').waitFor({ timeout: 30_000 });
      const panel = page.locator('.rs-panel');
      expect(await panel.evaluate((el) => getComputedStyle(el).backgroundColor)).toBe(THEMES[theme]);
      await shot(page, `idle-${theme}-docked`);

      for (const kind of KINDS) {
        await page.click(`[data-testid=kind-${kind}]`);
        const form = page.locator(`[data-testid=${kind}-form]`);
        await form.waitFor();
        if (kind === 'fill' || kind === 'replace') await page.locator('[data-testid=mask-editor]').waitFor();
        // No form is wider than the docked panel (nothing cut off at the right edge).
        const overflow = await panel.evaluate((el) => el.scrollWidth - el.clientWidth);
        expect(overflow, `${kind} form overflows sideways`).toBeLessThanOrEqual(0);
        // Fields and buttons are the Spectrum UXP widgets (text, number, text area, picker, checkbox, radio
        // group, slider, button), not plain HTML (the panel's own DOM: the harness draws each widget over a
        // native control in its shadow root).
        const plain = await panel.evaluate((el) => Array.from(el.querySelectorAll('select, textarea, input, button')).map((c) => c.outerHTML.slice(0, 80)));
        expect(plain, `${kind} form has plain HTML fields or buttons`).toEqual([]);
        expect(await panel.evaluate((el) => el.querySelectorAll('sp-textarea[data-testid=prompt], sp-picker[data-testid=format], sp-checkbox[data-testid=auto-place]').length)).toBe(3);
        expect(await panel.evaluate((el) => el.querySelectorAll('sp-radio-group sp-radio[data-testid=seed-new], sp-radio-group sp-radio[data-testid=seed-lock]').length)).toBe(2);
        if (kind === 'fill' || kind === 'replace') {
          expect(await panel.evaluate((el) => el.querySelectorAll('sp-slider[data-testid=mask-frame], sp-radio-group sp-radio[data-testid=mask-source-matte], sp-action-button[data-testid=mask-next-key]').length)).toBe(3);
        }
        await shot(page, `${kind}-${theme}-docked`);
      }

      // The connection settings too: Spectrum fields and buttons only.
      await page.click('[data-testid=open-settings]');
      await page.locator('[data-testid=settings]').waitFor();
      expect(await panel.evaluate((el) => Array.from(el.querySelectorAll('select, textarea, input, button')).map((c) => c.outerHTML.slice(0, 80)))).toEqual([]);
      expect(await panel.evaluate((el) => el.querySelectorAll('[data-testid=settings] sp-textfield, sp-button[data-testid=settings-save], sp-button[data-testid=settings-close]').length)).toBe(4);
      await page.click('[data-testid=settings-close]');
      await page.locator('[data-testid=open-settings]').waitFor();

      // The panel is its own scroll container: the queue below the forms comes into view.
      await page.click('[data-testid=kind-extend]');
      const { scrollHeight, clientHeight } = await panel.evaluate((el) => ({ scrollHeight: el.scrollHeight, clientHeight: el.clientHeight }));
      expect(clientHeight).toBeLessThanOrEqual(DOCKED.height);
      expect(scrollHeight).toBeGreaterThan(clientHeight);
      const jobs = page.locator('[data-testid=jobs-heading]');
      await jobs.evaluate((el) => el.scrollIntoView());
      const box = (await jobs.boundingBox())!;
      expect(box.y).toBeGreaterThanOrEqual(0);
      expect(box.y + box.height).toBeLessThanOrEqual(DOCKED.height);
      await panel.evaluate((el) => el.scrollTo(0, 0));

      // Every problem at once, beside its field, in words (no NaN).
      await page.fill('[data-testid=steps] input', 'many');
      await page.fill('[data-testid=guidance] input', '99');
      await page.locator('[data-testid=problem-steps]').waitFor();
      expect(await page.locator('[data-testid=problem-steps]').textContent()).toMatch(/Steps must be a whole number from 1 to 200/);
      expect(await page.locator('[data-testid=problem-guidance]').textContent()).toMatch(/Guidance must be a number from 0 to 30/);
      await page.locator('[data-testid=submit]').evaluate((el) => el.scrollIntoView());
      await page.click('[data-testid=submit]');
      const message = await page.locator('[data-testid=form-message]').textContent();
      expect(message).toMatch(/Steps must.*Guidance must/s);
      expect(message).not.toMatch(/NaN/);
      await page.locator('[data-testid=problem-steps]').evaluate((el) => el.scrollIntoView({ block: 'center' }));
      await shot(page, `error-${theme}-docked`);
      expect(errors).toEqual([]);
      await page.close();
    });
  }

  it('dark, docked: a running job in the queue with its preview, then done', async () => {
    const { page, errors } = await open('dark', DOCKED);
    await page.locator('[data-testid=status][data-status=connected]').waitFor({ timeout: 30_000 });
    await page.fill('[data-testid=prompt] textarea', 'the waves roll on');
    await page.fill('[data-testid=steps] input', '24');
    await page.selectOption('[data-testid=format] select', 'ffv1');
    await page.locator('[data-testid=submit]').evaluate((el) => el.scrollIntoView());
    await page.click('[data-testid=submit]');
    expect(await page.locator('[data-testid=form-message]').textContent()).toMatch(/^Submitted A001_C003\.mkv · extend tail 24f/);
    const job = page.locator('[data-testid=job]').first();
    await job.waitFor({ timeout: 30_000 });
    // The queue names the clip, not the job's hash.
    expect(await job.locator('[data-testid=job-label]').textContent()).toMatch(/A001_C003\.mkv/);
    expect(await job.textContent()).not.toContain((await job.getAttribute('data-job-id'))!.slice(0, 8));
    await job.evaluate((el) => el.scrollIntoView({ block: 'end' }));
    // A preview while it runs (previews are live only; the tiny model may finish first).
    const preview = job.locator('[data-testid=job-preview]');
    const sawPreview = await Promise.race([
      preview.waitFor({ timeout: 120_000 }).then(() => true),
      page.locator('[data-testid=job][data-state=done]').waitFor({ timeout: 120_000 }).then(() => false),
    ]);
    if (sawPreview) {
      expect(await job.getAttribute('data-state')).toBe('running');
      expect(await job.locator('[data-testid=job-state]').textContent()).toBe('Generating');
      await job.evaluate((el) => el.scrollIntoView({ block: 'end' }));
      await shot(page, 'queue-running-dark-docked');
    }
    await page.locator('[data-testid=job][data-state=done]').waitFor({ timeout: 180_000 });
    expect(await job.locator('[data-testid=job-state]').textContent()).toBe('Done');
    const place = job.locator('[data-testid=job-place]');
    await place.evaluate((el) => el.scrollIntoView({ block: 'end' }));
    const box = (await place.boundingBox())!;
    expect(box.y + box.height).toBeLessThanOrEqual(DOCKED.height); // reachable docked
    await shot(page, 'queue-done-dark-docked');
    expect(errors).toEqual([]);
    await page.close();
  }, 300_000);

  for (const theme of ['dark', 'light'] as const) {
    it(`${theme}, wide: idle and the mask editor`, async () => {
      const { page, errors } = await open(theme, WIDE);
      await page.locator('[data-testid=status][data-status=connected]').waitFor({ timeout: 30_000 });
      await shot(page, `idle-${theme}-wide`);
      await page.click('[data-testid=kind-fill]');
      await page.locator('[data-testid=mask-editor]').waitFor();
      await shot(page, `fill-${theme}-wide`);
      expect(errors).toEqual([]);
      await page.close();
    });
  }
});
