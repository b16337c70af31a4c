/**
 * The mask editor on its own, for the browser harness (`?view=mask`) and its test. Frames are
 * drawn as SVG data URLs (a numbered backdrop with a moving dot) so the <img> path, the
 * scrubber's frame requests and the overlay alignment can be seen without a host export.
 * `window.reshootMask` exposes the draft, the spec the panel would send and the requested frames.
 */
import { useState } from 'react';
import { createRoot } from 'react-dom/client';
import type { Rational } from '../../protocol/rational.ts';
import { MaskEditor } from '../ui/MaskEditor.tsx';
import { PANEL_CSS } from '../ui/styles.ts';
import { draftToMaskSpec, emptyDraft, type DraftMatte, type MaskDraft } from './draft.ts';

export interface MaskViewOptions {
  width: number;
  height: number;
  fps: Rational;
  frames: number;
}

export interface MaskHarnessHook {
  draft(): MaskDraft;
  spec(): ReturnType<typeof draftToMaskSpec>;
  requestedFrames: number[];
}

declare global {
  interface Window {
    reshootMask?: MaskHarnessHook;
  }
}

/** A stand-in frame: gradient backdrop, frame number, a dot crossing the frame over the range. */
export function syntheticFrame(frame: number, frames: number, width: number, height: number): string {
  const t = frames > 1 ? frame / (frames - 1) : 0;
  const r = Math.max(4, Math.round(height / 8));
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#3b5a6e"/><stop offset="1" stop-color="#c9a66b"/></linearGradient></defs>` +
    `<rect width="${width}" height="${height}" fill="url(#g)"/>` +
    `<circle cx="${(r + t * (width - 2 * r)).toFixed(1)}" cy="${(height * 0.6).toFixed(1)}" r="${r}" fill="#e8e2d0"/>` +
    `<text x="${width * 0.04}" y="${height * 0.16}" font-family="sans-serif" font-size="${Math.round(height / 10)}" fill="#fff">frame ${frame}</text>` +
    `</svg>`;
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
}

function MaskView({ width, height, fps, frames, hook }: MaskViewOptions & { hook: MaskHarnessHook }) {
  const [draft, setDraft] = useState<MaskDraft>(emptyDraft);
  const [frame, setFrame] = useState(0);
  hook.draft = () => draft;
  hook.spec = () => draftToMaskSpec(draft);
  const pickMatte = async (): Promise<DraftMatte> => ({ path: '/media/matte.mov', in: { frames: 0 }, channel: 'luma', label: 'matte.mov (V2)' });
  return (
    <main className="rs-panel">
      <style>{PANEL_CSS}</style>
      <h3>Mask</h3>
      <MaskEditor
        frameUrl={syntheticFrame(frame, frames, width, height)}
        width={width}
        height={height}
        fps={fps}
        durationFrames={frames}
        value={draft}
        onChange={setDraft}
        onRequestFrame={(f) => {
          hook.requestedFrames.push(f);
          setFrame(f);
        }}
        onPickMatte={pickMatte}
      />
    </main>
  );
}

export function mountMaskView(el: HTMLElement, opts: MaskViewOptions): void {
  const hook: MaskHarnessHook = { draft: emptyDraft, spec: () => draftToMaskSpec(emptyDraft()), requestedFrames: [] };
  window.reshootMask = hook;
  createRoot(el).render(<MaskView {...opts} hook={hook} />);
}
