/**
 * A shape's geometry at a given frame: keyframes are linearly interpolated, and held before
 * the first and after the last. The math lives in protocol/maskInterpolate.ts so the panel's
 * mask editor previews exactly what the companion rasterises.
 */
export { shapeAt, boundsOf, bracket, type Point, type ShapeGeometry } from '../../protocol/maskInterpolate.ts';
