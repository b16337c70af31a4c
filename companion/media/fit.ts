/**
 * Placing a source picture in the sequence's frame when their shapes differ, as Premiere's
 * "scale to frame size" does: compared by *displayed* shape (stored size × pixel aspect, after
 * rotation), so an anamorphic 1440×1080 source (pixels 4/3 wide) fills a 1920×1080 frame.
 * - fit (default): the whole picture, aspect kept, bars (black; transparent with alpha) around it;
 * - fill: the frame covered, aspect kept, the overflow cropped evenly;
 * - stretch: scaled to the frame regardless of shape.
 */
import { toNumber, type Rational } from '../../protocol/rational.ts';

export type Fit = 'fit' | 'fill' | 'stretch';

export interface FitGeometry {
  /** Size the picture is scaled to, in sequence pixels. */
  width: number;
  height: number;
  /** Where its top-left corner lands in the frame (negative: cropped). */
  x: number;
  y: number;
}

/** The scaled size and position of a `srcW`×`srcH` picture (pixel aspect `sar`) in a W×H frame (pixel aspect `par`). */
export function fitGeometry(srcW: number, srcH: number, sar: Rational, W: number, H: number, par: Rational, fit: Fit): FitGeometry {
  const src = (srcW * toNumber(sar)) / srcH;
  const dst = (W * toNumber(par)) / H;
  // Same shape (to a thousandth: rounding of odd sizes) or stretch: the picture is the frame.
  if (fit === 'stretch' || Math.abs(src / dst - 1) < 1e-3) return { width: W, height: H, x: 0, y: 0 };
  const wider = src > dst;
  // Fit matches the longer side, fill the shorter; the other side follows the displayed shape.
  const matchWidth = fit === 'fit' ? wider : !wider;
  const width = matchWidth ? W : Math.max(1, Math.round((H * src) / toNumber(par)));
  const height = matchWidth ? Math.max(1, Math.round((W * toNumber(par)) / src)) : H;
  return { width, height, x: Math.floor((W - width) / 2), y: Math.floor((H - height) / 2) };
}

/** The ffmpeg filters after scaling to `g` that put the picture into the W×H frame. */
export function placeFilter(g: FitGeometry, W: number, H: number, alpha: boolean): string {
  if (g.width === W && g.height === H) return '';
  if (g.x >= 0 && g.y >= 0) return `,pad=${W}:${H}:${g.x}:${g.y}:color=${alpha ? 'black@0' : 'black'}`;
  return `,crop=${W}:${H}:${-g.x}:${-g.y}`;
}
