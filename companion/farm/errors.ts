/**
 * Farm failures a user fixes (a bad queue URL or config, an unsafe or unreachable Redis, media a
 * worker cannot reach, a model no worker has): a stable code and one sentence naming what is wrong.
 */
export type FarmErrorCode =
  | 'bad_queue' // --queue is not a redis:// or rediss:// URL
  | 'bad_config' // the farm config file is unreadable or invalid
  | 'insecure_queue' // no password given, or Redis answers without one
  | 'queue_unreachable' // Redis does not answer
  | 'queue_auth' // Redis refused our credentials
  | 'media_unreachable' // a worker cannot open a path the job names (after path mapping)
  | 'no_worker'; // no live worker offers the job's model

export class FarmError extends Error {
  constructor(
    readonly code: FarmErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'FarmError';
  }
}
