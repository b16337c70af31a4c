/**
 * Masks: where to generate (1) and where to keep the source (0).
 * Three forms: keyframed vector shapes drawn in the panel, a raster matte clip (e.g. rendered
 * from After Effects), or a single mask image. Shape coordinates are sequence pixels; a
 * keyframe's `frame` counts from the job's first frame.
 */
import { z } from 'zod';
import { positionSchema } from './fields.ts';

const coord = z.number({ error: 'expected a number of pixels' });
const size = z.number({ error: 'expected a number of pixels' }).min(0, 'must be at least 0');
const keyFrame = z
  .number({ error: 'expected a frame number' })
  .int('expected a whole frame number')
  .min(0, 'must be at least 0 (frames count from the job\'s first frame)');

const rectangleKey = z.strictObject({ frame: keyFrame, x: coord, y: coord, width: size, height: size });
const ellipseKey = z.strictObject({ frame: keyFrame, cx: coord, cy: coord, rx: size, ry: size });
const point = z.tuple([coord, coord], { error: 'expected a point [x, y]' });
const polygonKey = z.strictObject({
  frame: keyFrame,
  points: z.array(point).min(3, 'a polygon needs at least 3 points'),
});

/** Keyframes must be in time order with no two on one frame, or interpolation is undefined. */
function keyframes<T extends z.ZodType<{ frame: number }>>(key: T) {
  return z
    .array(key)
    .min(1, 'a shape needs at least 1 keyframe')
    .check((ctx) => {
      const ks = ctx.value;
      for (let i = 1; i < ks.length; i++) {
        if (ks[i]!.frame <= ks[i - 1]!.frame) {
          ctx.issues.push({
            code: 'custom',
            path: [i, 'frame'],
            message: `keyframe frames must strictly increase (${ks[i]!.frame} follows ${ks[i - 1]!.frame})`,
            input: ks,
          });
        }
      }
    });
}

const shapeCommon = {
  mode: z.enum(['add', 'subtract']).default('add'),
  feather: z.number({ error: 'expected a number of pixels' }).min(0, 'must be at least 0').max(1000, 'must be at most 1000 pixels').default(0),
};

const rectangleShape = z.strictObject({ kind: z.literal('rectangle'), ...shapeCommon, keyframes: keyframes(rectangleKey) });
const ellipseShape = z.strictObject({ kind: z.literal('ellipse'), ...shapeCommon, keyframes: keyframes(ellipseKey) });
const polygonShape = z
  .strictObject({ kind: z.literal('polygon'), ...shapeCommon, keyframes: keyframes(polygonKey) })
  .check((ctx) => {
    // Interpolation moves point i to point i; a different count has no meaning.
    const ks = ctx.value.keyframes;
    const n = ks[0]?.points.length;
    ks.forEach((k, i) => {
      if (k.points.length !== n) {
        ctx.issues.push({
          code: 'custom',
          path: ['keyframes', i, 'points'],
          message: `every keyframe of a polygon needs the same number of points (${k.points.length} here, ${n} in the first)`,
          input: k.points,
        });
      }
    });
  });

export const shapeSchema = z.discriminatedUnion('kind', [rectangleShape, ellipseShape, polygonShape], {
  error: (iss) =>
    iss.code === 'invalid_union' ? 'expected kind to be one of "rectangle", "ellipse", "polygon"' : undefined,
});

const channel = z.enum(['luma', 'alpha']).default('luma');
const path = z.string({ error: 'expected a file path' }).min(1, 'must not be empty');

export const maskSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({
      type: z.literal('shapes'),
      shapes: z.array(shapeSchema).min(1, 'a shapes mask needs at least 1 shape'),
      invert: z.boolean().default(false),
    }),
    // A matte clip, read frame for frame alongside the source from `in` onward.
    z.strictObject({ type: z.literal('matte'), path, in: positionSchema.optional(), channel }),
    // One image used for every frame.
    z.strictObject({ type: z.literal('image'), path, channel }),
  ],
  {
    error: (iss) =>
      iss.code === 'invalid_union' ? 'expected type to be one of "shapes", "matte", "image"' : undefined,
  },
);

export type Shape = z.output<typeof shapeSchema>;
export type Mask = z.output<typeof maskSchema>;
export type ShapesMask = Extract<Mask, { type: 'shapes' }>;
export type MatteMask = Extract<Mask, { type: 'matte' }>;
export type ImageMask = Extract<Mask, { type: 'image' }>;
export type RectangleKeyframe = z.output<typeof rectangleKey>;
export type EllipseKeyframe = z.output<typeof ellipseKey>;
export type PolygonKeyframe = z.output<typeof polygonKey>;
