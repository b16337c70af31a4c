/**
 * A contact sheet: frames laid out in rows on a dark background, each scaled to one cell
 * width. Pure TypeScript (no ffmpeg) so the demo can show source vs result at a glance.
 */
import { makeFrame, type Frame } from './frame.ts';

export interface ContactSheetOptions {
  /** Pixels between cells and around the edge. */
  gap?: number;
  /** Grey level of the background (and what transparent pixels are shown over). */
  background?: number;
}

/** Lays out `rows` of frames; every cell is `cellWidth` wide, its height keeps the aspect. */
export function contactSheet(rows: Frame[][], cellWidth: number, opts: ContactSheetOptions = {}): Frame {
  const gap = opts.gap ?? 4;
  const bg = opts.background ?? 32;
  if (!Number.isInteger(cellWidth) || cellWidth < 1) throw new RangeError(`cell width must be a positive integer, got ${cellWidth}`);
  const cells = rows.map((row) => row.map((f) => resizeBox(f, cellWidth, Math.max(1, Math.round((cellWidth * f.height) / f.width)))));
  const rowHeights = cells.map((row) => Math.max(0, ...row.map((c) => c.height)));
  const columns = Math.max(0, ...cells.map((row) => row.length));
  const width = Math.max(1, gap + columns * (cellWidth + gap));
  const height = Math.max(1, gap + rowHeights.reduce((sum, h) => sum + h + gap, 0));

  const sheet = makeFrame(width, height, 3);
  sheet.data.fill(bg);
  let y0 = gap;
  cells.forEach((row, r) => {
    row.forEach((cell, c) => blit(sheet, cell, gap + c * (cellWidth + gap), y0, bg));
    y0 += rowHeights[r]! + gap;
  });
  return sheet;
}

/**
 * Resizes by averaging the block of source pixels each target pixel covers (a box filter);
 * when enlarging, each block is a single pixel, so this is nearest-neighbour.
 */
export function resizeBox(src: Frame, width: number, height: number): Frame {
  const out = makeFrame(width, height, src.channels);
  const ch = src.channels;
  for (let y = 0; y < height; y++) {
    const sy0 = Math.floor((y * src.height) / height);
    const sy1 = Math.max(sy0 + 1, Math.floor(((y + 1) * src.height) / height));
    for (let x = 0; x < width; x++) {
      const sx0 = Math.floor((x * src.width) / width);
      const sx1 = Math.max(sx0 + 1, Math.floor(((x + 1) * src.width) / width));
      const n = (sy1 - sy0) * (sx1 - sx0);
      for (let c = 0; c < ch; c++) {
        let sum = 0;
        for (let sy = sy0; sy < sy1; sy++) {
          let i = (sy * src.width + sx0) * ch + c;
          for (let sx = sx0; sx < sx1; sx++, i += ch) sum += src.data[i]!;
        }
        out.data[(y * width + x) * ch + c] = Math.round(sum / n);
      }
    }
  }
  return out;
}

/** Copies `cell` into RGB `sheet` at (x0, y0), blending RGBA cells over the background. */
function blit(sheet: Frame, cell: Frame, x0: number, y0: number, bg: number): void {
  for (let y = 0; y < cell.height; y++) {
    for (let x = 0; x < cell.width; x++) {
      const s = (y * cell.width + x) * cell.channels;
      const d = ((y0 + y) * sheet.width + x0 + x) * 3;
      const a = cell.channels === 4 ? cell.data[s + 3]! / 255 : 1;
      for (let c = 0; c < 3; c++) sheet.data[d + c] = Math.round(cell.data[s + c]! * a + bg * (1 - a));
    }
  }
}
