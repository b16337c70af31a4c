/**
 * Refuses masks that cannot be what the editor meant, before any GPU time is spent: a shape
 * that never touches the frame (usually coordinates in the wrong space, e.g. source pixels on a
 * smaller sequence), keyframes past the job's end (usually absolute sequence frames where
 * job-relative ones were expected), or polygons whose keyframes disagree on point count.
 */
import type { Mask } from '../../protocol/mask.ts';
import { ReshootError } from '../errors.ts';
import { boundsOf, shapeAt } from './shapes.ts';

export function checkMaskInFrame(mask: Mask, width: number, height: number, frameCount: number): void {
  if (mask.type !== 'shapes') return; // raster mattes are checked against the frame size on decode
  mask.shapes.forEach((shape, s) => {
    const at = `mask.shapes[${s}]`;
    if (shape.kind === 'polygon') {
      const n = shape.keyframes[0]!.points.length;
      shape.keyframes.forEach((k, i) => {
        if (k.points.length !== n) {
          throw new ReshootError(
            'bad_mask',
            `${at}.keyframes[${i}] has ${k.points.length} points but the first keyframe has ${n}; every keyframe of a polygon needs the same number`,
          );
        }
      });
    }
    shape.keyframes.forEach((k, i) => {
      if (k.frame >= frameCount) {
        throw new ReshootError(
          'bad_mask',
          `${at}.keyframes[${i}] is at frame ${k.frame}, but the job has ${frameCount} frame${frameCount === 1 ? '' : 's'} (0..${frameCount - 1}); keyframe frames count from the job's first frame`,
        );
      }
    });
    // A shape may legitimately start off-screen and move in, so "outside" means outside on
    // every frame of the job. All keyframes are < frameCount here, so integer frames suffice.
    const h = shape.feather / 2;
    let visible = false;
    for (let f = 0; f < frameCount && !visible; f++) {
      const [x0, y0, x1, y1] = boundsOf(shapeAt(shape, f));
      visible = x1 + h > 0 && x0 - h < width && y1 + h > 0 && y0 - h < height;
    }
    if (!visible) {
      throw new ReshootError(
        'bad_mask',
        `${at} (${shape.kind}) lies entirely outside the ${width}x${height} frame on every frame of the job; shape coordinates are sequence pixels`,
      );
    }
  });
}
