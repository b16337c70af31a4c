/**
 * The one error type a user sees. Every failure that is the user's input (a bad spec, a missing
 * file, an output that already exists) is raised as a ReshootError with a stable code and one
 * sentence that names what is wrong. Anything else is a bug and surfaces as `internal`.
 */
export type ErrorCode =
  | 'bad_spec' // the job spec failed validation
  | 'source_missing' // a named media file does not exist
  | 'source_unreadable' // it exists but cannot be opened or probed
  | 'corrupt_media' // ffmpeg could not decode it
  | 'bad_range' // zero-length, reversed or out-of-range in/out
  | 'bad_mask' // mask outside the frame, malformed keyframes, unreadable matte
  | 'too_large' // refused before work starts (size, duration, memory)
  | 'output_exists' // the output path exists and --force was not given
  | 'write_failed' // the output could not be written (partial output removed)
  | 'ffmpeg_missing' // no working ffmpeg/ffprobe
  | 'model' // model missing, invalid or failed to load
  | 'cancelled' // the job was cancelled
  | 'internal';

export class ReshootError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReshootError';
    this.code = code;
  }
}

export function isReshootError(e: unknown): e is ReshootError {
  return e instanceof ReshootError;
}
