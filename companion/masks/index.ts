export { rasterizeShapes, rasterizeShapeMask, coverage, shapeAt, boundsOf, type ShapeGeometry, type Coverage } from './rasterize.ts';
export { checkMaskInFrame } from './check.ts';
export { matteToAlpha, type MattePixels } from './matte.ts';
export { compositeOver, compositeInPlace, type AlphaInside } from './composite.ts';
export { alphaBounds, maskAlpha, type MaskAlpha } from './alpha.ts';
