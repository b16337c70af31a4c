/**
 * Which Y'CbCr colour a file is in, and which an output should be in. A file's tags win; an
 * untagged file is read the way Premiere and players read it: BT.709 from 720 lines up, BT.601
 * below (SMPTE 170M for 480/486-line NTSC sizes and smaller, BT.470BG for 576-line PAL).
 *
 * Outputs carry their source's colour (matrix, primaries, transfer), so an SD plate goes back as
 * SD colour and an editor's timeline reads it the same way whether or not it honours tags. An
 * untagged source (or none) gets the default for the *output's* size: what a reader that ignores
 * tags assumes for that file. Y'CbCr outputs are always limited ("tv") range, as ProRes and
 * broadcast H.264 are; a full-range source is converted, not re-tagged.
 */
import type { MediaInfo } from './probe.ts';

export interface Colour {
  /** The swscale matrix name for RGB ↔ Y'CbCr (scale filter in_/out_color_matrix). */
  matrix: 'bt709' | 'bt601' | 'bt2020' | 'smpte240m' | 'fcc';
  /** Tags written on the output (ffmpeg's names). */
  colorspace: string;
  primaries: string;
  transfer: string;
}

export const BT709: Colour = { matrix: 'bt709', colorspace: 'bt709', primaries: 'bt709', transfer: 'bt709' };

/** The default for an untagged picture `height` lines tall. */
export function colourBySize(height: number): Colour {
  if (height >= 720) return BT709;
  const pal = height > 486;
  const tag = pal ? 'bt470bg' : 'smpte170m';
  // BT.601's transfer curve is BT.709's; ffmpeg names it smpte170m (bt470bg's own tag means a 2.8 gamma).
  return { matrix: 'bt601', colorspace: tag, primaries: tag, transfer: 'smpte170m' };
}

/** ffprobe's color_space tag → swscale's matrix name; undefined for tags swscale has no matrix for. */
function matrixOf(tag: string | undefined): Colour['matrix'] | undefined {
  switch (tag) {
    case 'bt709':
      return 'bt709';
    case 'bt470bg':
    case 'smpte170m':
      return 'bt601';
    case 'bt2020nc':
    case 'bt2020c':
      return 'bt2020';
    case 'smpte240m':
    case 'fcc':
      return tag;
    default:
      return undefined;
  }
}

/** The matrix a Y'CbCr source is decoded with (RGB sources ignore it). */
export function sourceMatrix(info: MediaInfo): Colour['matrix'] {
  return matrixOf(info.colorSpace) ?? colourBySize(info.height).matrix;
}

/**
 * The colour of an output `height` lines tall made from `source`: the source's tags where it has
 * a matrix tag (primaries and transfer from its tags, else those that go with the matrix), else
 * the default for the output's size.
 */
export function outputColour(source: MediaInfo | undefined, height: number): Colour {
  const matrix = source && matrixOf(source.colorSpace);
  if (!source || !matrix) return colourBySize(height);
  const usual = matrix === 'bt601' ? colourBySize(source.colorSpace === 'bt470bg' ? 576 : 480) : matrix === 'bt2020' ? { primaries: 'bt2020', transfer: 'bt709' } : BT709;
  return {
    matrix,
    colorspace: source.colorSpace!,
    primaries: source.colorPrimaries ?? usual.primaries,
    transfer: source.colorTransfer ?? usual.transfer,
  };
}
