/** The protocol shared by the panel and the companion. No Node, no DOM. */
export * from './rational.ts';
export {
  LIMITS,
  fpsSchema,
  pixelAspectSchema,
  positionSchema,
  spanSchema,
  rationalSchema,
  timeSchema,
  timeToFrames,
  type Time,
} from './fields.ts';
export * from './mask.ts';
export * from './jobspec.ts';
export { formatPath, type SpecIssue } from './issues.ts';
export * from './jobs.ts';
export * from './session.ts';
export * from './binary.ts';
