export { rasterizeShapes, coverage, shapeAt, boundsOf, type ShapeGeometry, type Coverage } from './rasterize.ts';
export { checkMaskInFrame } from './check.ts';
export { matteToAlpha, type MattePixels } from './matte.ts';
export { compositeOver, type AlphaInside } from './composite.ts';
