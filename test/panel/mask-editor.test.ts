/**
 * The mask editor in headless Chromium (the harness bundle, `?view=mask`: the editor on its
 * own with stand-in frames): draw a rectangle with pointer drags, scrub to another frame and
 * move it (auto-key), pin a keyframe between, set feather and invert, and check the spec the
 * panel would send — and that the overlay shows what the companion would rasterise.
 * Needs Debian's Chromium (/usr/bin/chromium; .ci/run installs it).
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ShapesMask } from '../../protocol/mask.ts';
import { shapeAt } from '../../protocol/maskInterpolate.ts';
import { rasterizeShapes } from '../../companion/masks/index.ts';
import { safeParseJobSpec } from '../../protocol/jobspec.ts';
import { CHROMIUM, launchChromium, serveHarness } from './static.ts';

const root = path.resolve(import.meta.dirname, '../..');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`mask-editor.test.ts skipped: ${CHROMIUM} is missing (apt-get install -y chromium; .ci/run does this)`);

const W = 640;
const H = 360;
const FRAMES = 48;

describe.skipIf(!haveChromium)('mask editor in Chromium', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  let browser: import('playwright-core').BrowserContext;
  let origin: string;

  beforeAll(async () => {
    const site = await serveHarness();
    cleanups.push(site.close);
    origin = site.origin;
    const chrome = await launchChromium({ width: 900, height: 760 });
    browser = chrome.browser;
    cleanups.push(chrome.close);
  }, 240_000);

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('draws, keyframes and moves a rectangle; the spec is what the companion rasterises', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    // Resource 404s are reported as console errors too; the browser's own favicon probe is no fault.
    page.on('console', (m) => m.type() === 'error' && !m.text().startsWith('Failed to load resource') && errors.push(m.text()));
    page.on('response', (r) => r.status() >= 400 && !r.url().endsWith('/favicon.ico') && errors.push(`${r.status()} ${r.url()}`));
    await page.goto(`${origin}/index.html?view=mask&w=${W}&h=${H}&frames=${FRAMES}&fps=24`);
    const editor = page.locator('[data-testid=mask-editor]');
    await editor.waitFor({ timeout: 10_000 });
    const stage = page.locator('[data-testid=mask-stage]');
    const box = (await stage.boundingBox())!;
    // The stage keeps the frame's aspect, and the SVG draws in frame pixels.
    expect(box.height / box.width).toBeCloseTo(H / W, 2);
    expect(await page.locator('[data-testid=mask-svg]').getAttribute('viewBox')).toBe(`0 0 ${W} ${H}`);
    /** Screen point for a frame pixel. */
    const at = (x: number, y: number) => [box.x + (x / W) * box.width, box.y + (y / H) * box.height] as const;
    const drag = async (from: [number, number], to: [number, number]) => {
      await page.mouse.move(...at(...from));
      await page.mouse.down();
      for (let i = 1; i <= 5; i++) await page.mouse.move(...at(from[0] + ((to[0] - from[0]) * i) / 5, from[1] + ((to[1] - from[1]) * i) / 5));
      await page.mouse.up();
    };
    const spec = async () => JSON.parse((await editor.getAttribute('data-mask-spec'))!) as ShapesMask;
    const gotoFrame = async (f: number) => {
      await page.fill('[data-testid=mask-frame-number] input', String(f));
      await page.locator(`[data-testid=mask-editor][data-frame="${f}"]`).waitFor();
    };
    const near = (a: number, b: number) => expect(Math.abs(a - b), `${a} ≈ ${b}`).toBeLessThanOrEqual(1);

    // 1. A rectangle at frame 0, by a pointer drag.
    await page.click('[data-testid=mask-tool-rectangle]');
    await drag([100, 80], [300, 230]);
    let s = await spec();
    expect(s.shapes).toHaveLength(1);
    const k0 = s.shapes[0]!.keyframes[0] as { frame: number; x: number; y: number; width: number; height: number };
    expect(s.shapes[0]).toMatchObject({ kind: 'rectangle', mode: 'add', feather: 0 });
    expect(k0.frame).toBe(0);
    near(k0.x, 100);
    near(k0.y, 80);
    near(k0.width, 200);
    near(k0.height, 150);
    expect(await editor.getAttribute('data-tool')).toBe('select'); // back to select, the new shape selected
    expect(await page.locator('[data-testid=mask-shape][data-selected=true]').count()).toBe(1);

    // 2. Scrub to frame 24: the host is asked for that frame and the image follows.
    await gotoFrame(24);
    expect(await page.evaluate(() => window.reshootMask!.requestedFrames.at(-1))).toBe(24);
    expect(decodeURIComponent((await page.locator('[data-testid=mask-frame-image]').getAttribute('src'))!)).toContain('frame 24');
    // Scrubbing asks once the scrubber rests, not for every frame it passes.
    const asked = await page.evaluate(() => window.reshootMask!.requestedFrames.length);
    await page.focus('[data-testid=mask-frame]');
    for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
    await page.locator('[data-testid=mask-editor][data-frame="27"]').waitFor();
    await page.waitForFunction((n) => window.reshootMask!.requestedFrames.length > n, asked);
    await page.waitForTimeout(200);
    // (Usually just [27]; a loaded machine may let one key press outlast the rest interval.)
    const scrubbed = await page.evaluate((n) => window.reshootMask!.requestedFrames.slice(n), asked);
    expect(scrubbed.at(-1)).toBe(27);
    await gotoFrame(24);

    // 3. Move the rectangle there: a keyframe at 24 (auto-key), frame 0 keeps its own.
    await drag([200, 155], [360, 245]);
    s = await spec();
    let keys = s.shapes[0]!.keyframes as (typeof k0)[];
    expect(keys.map((k) => k.frame)).toEqual([0, 24]);
    expect(keys[0]).toEqual(k0);
    near(keys[1]!.x - k0.x, 160);
    near(keys[1]!.y - k0.y, 90);
    expect(keys[1]!.width).toBe(k0.width);
    // ...and resize it there by its bottom-right handle.
    await drag([keys[1]!.x + keys[1]!.width, keys[1]!.y + keys[1]!.height], [keys[1]!.x + keys[1]!.width + 40, keys[1]!.y + keys[1]!.height + 20]);
    s = await spec();
    keys = s.shapes[0]!.keyframes as (typeof k0)[];
    expect(keys.map((k) => k.frame)).toEqual([0, 24]);
    near(keys[1]!.width, k0.width + 40);
    near(keys[1]!.height, k0.height + 20);
    expect(keys[0]).toEqual(k0);

    // 4. Frame 12: the overlay shows the interpolated rectangle; "Set keyframe" pins it.
    await gotoFrame(12);
    const shown = page.locator('[data-testid=mask-svg] g[data-shape-id="shape-1"] [data-outline]');
    const mid = { x: (keys[0]!.x + keys[1]!.x) / 2, y: (keys[0]!.y + keys[1]!.y) / 2, width: (keys[0]!.width + keys[1]!.width) / 2, height: (keys[0]!.height + keys[1]!.height) / 2 };
    expect(Number(await shown.getAttribute('x'))).toBeCloseTo(mid.x, 6);
    expect(Number(await shown.getAttribute('y'))).toBeCloseTo(mid.y, 6);
    expect(await shown.getAttribute('stroke-dasharray')).toBeTruthy(); // not keyed here yet
    await page.click('[data-testid=mask-set-key]');
    s = await spec();
    keys = s.shapes[0]!.keyframes as (typeof k0)[];
    expect(keys.map((k) => k.frame)).toEqual([0, 12, 24]);
    expect(keys[1]).toEqual({ frame: 12, ...mid });
    expect(Number(await shown.getAttribute('width'))).toBeCloseTo(mid.width, 6);
    // Shift+Down nudges the keyed rectangle 10 px at this frame only.
    await page.keyboard.press('Shift+ArrowDown');
    keys = (await spec()).shapes[0]!.keyframes as (typeof k0)[];
    expect(keys[1]).toEqual({ frame: 12, ...mid, y: mid.y + 10 });
    expect(keys[0]).toEqual(k0);
    expect(await shown.getAttribute('stroke-dasharray')).toBeNull();
    expect(await page.locator('[data-testid=mask-key-marks] [data-key-frame]').count()).toBe(3);

    // 5. Feather and invert; keyframe navigation.
    await page.fill('[data-testid=mask-feather] input', '8');
    await page.check('[data-testid=mask-invert] input');
    await page.click('[data-testid=mask-next-key]');
    await page.locator('[data-testid=mask-editor][data-frame="24"]').waitFor();
    await page.click('[data-testid=mask-prev-key]');
    await page.locator('[data-testid=mask-editor][data-frame="12"]').waitFor();

    // 6. A polygon (closed on its first point), an ellipse removed with Delete, a polygon cancelled with Escape.
    await page.click('[data-testid=mask-tool-polygon]');
    for (const p of [[420, 40], [600, 60], [520, 160]] as [number, number][]) await page.mouse.click(...at(...p));
    await page.mouse.click(...at(421, 41));
    await page.click('[data-testid=mask-tool-ellipse]');
    await drag([40, 260], [120, 330]);
    expect((await spec()).shapes.map((x) => x.kind)).toEqual(['rectangle', 'polygon', 'ellipse']);
    await page.keyboard.press('Delete');
    await page.click('[data-testid=mask-tool-polygon]');
    await page.mouse.click(...at(50, 50));
    await page.mouse.click(...at(90, 50));
    expect(await page.locator('[data-testid=mask-polygon-draft]').count()).toBe(1);
    await page.keyboard.press('Escape');
    expect(await page.locator('[data-testid=mask-polygon-draft]').count()).toBe(0);

    s = await spec();
    expect(s.invert).toBe(true);
    expect(s.shapes.map((x) => x.kind)).toEqual(['rectangle', 'polygon']);
    expect(s.shapes[0]!.feather).toBe(8);
    expect(s.shapes[1]).toMatchObject({ kind: 'polygon', mode: 'add', feather: 0 });
    expect(s.shapes[1]!.keyframes).toHaveLength(1);
    expect(s.shapes[1]!.keyframes[0]!.frame).toBe(12);
    const pts = (s.shapes[1]!.keyframes[0] as { points: [number, number][] }).points;
    expect(pts).toHaveLength(3);
    near(pts[1]![0], 600);
    near(pts[1]![1], 60);

    // What a fill job receives: valid as is, and the window hook agrees with the attribute.
    expect(await page.evaluate(() => window.reshootMask!.spec())).toEqual(s);
    const job = safeParseJobSpec({ kind: 'fill', source: { path: '/media/a.mov', in: { frames: 0 }, out: { frames: FRAMES } }, sequence: { fps: '24', width: W, height: H }, mask: s });
    expect(job.ok).toBe(true);
    // The companion rasterises, at frame 6, the rectangle the editor shows there (inverted: kept inside).
    await gotoFrame(6);
    const g6 = shapeAt(s.shapes[0]!, 6) as { x: number; y: number; width: number; height: number };
    expect(Number(await shown.getAttribute('x'))).toBeCloseTo(g6.x, 6);
    expect(Number(await shown.getAttribute('width'))).toBeCloseTo(g6.width, 6);
    const alpha = rasterizeShapes(s, 6, W, H);
    const cx = Math.floor(g6.x + g6.width / 2);
    const cy = Math.floor(g6.y + g6.height / 2);
    expect(alpha[cy * W + cx]).toBe(0);
    expect(alpha[cy * W + Math.floor(g6.x - 6)]).toBe(1);
    expect(alpha[cy * W + Math.floor(g6.x + 6)]).toBe(0);

    // Matte from the track above: the host's pick becomes the spec's matte form.
    await page.check('[data-testid=mask-source-matte] input');
    await page.locator('[data-testid=mask-matte-name]', { hasText: 'matte.mov' }).waitFor();
    expect(JSON.parse((await editor.getAttribute('data-mask-spec'))!)).toEqual({ type: 'matte', path: '/media/matte.mov', in: { frames: 0 }, channel: 'luma' });
    await page.check('[data-testid=mask-source-shapes] input');
    expect(await spec()).toEqual(s);

    mkdirSync(path.join(root, 'test/artifacts'), { recursive: true });
    await page.locator('[data-testid=mask-shape]').first().click(); // selected: handles and feather band show
    await page.screenshot({ path: path.join(root, 'test/artifacts/mask-editor.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  }, 30_000);
});
