/**
 * What one local companion holds open at most, and for how long. A token holder is trusted to
 * render, not to exhaust the machine: every resource a caller can make the service hold (a
 * socket, a session, an ffmpeg encoder for an upload, memory for a message) has a cap, and the
 * ones that can sit idle have a timeout. The panel uses one session and at most a couple of
 * uploads, so the defaults leave it far from every cap.
 */
export interface ServiceLimits {
  /** Open TCP connections of any kind (HTTP and WebSocket); beyond it the socket is dropped. */
  maxConnections: number;
  /** Authenticated WebSocket sessions at once; one more is closed with CLOSE.busy. */
  maxSessions: number;
  /** Uploads open at once across all sessions (each holds an ffmpeg encoder). */
  maxUploads: number;
  /** Uploads open at once in one session. */
  maxUploadsPerSession: number;
  /** An open upload that receives no frame for this long is dropped (its encoder freed). */
  uploadIdleMs: number;
  /** A session that has not said hello after this long is closed. */
  helloTimeoutMs: number;
  /** Largest WebSocket message before authentication (a wrong token gets only its close). */
  preAuthMessageBytes: number;
  /** HTTP: time to receive a request's headers, and its whole body. */
  headersTimeoutMs: number;
  requestTimeoutMs: number;
}

export const DEFAULT_LIMITS: ServiceLimits = {
  maxConnections: 256,
  maxSessions: 32,
  maxUploads: 8,
  maxUploadsPerSession: 2,
  uploadIdleMs: 60_000,
  helloTimeoutMs: 10_000,
  preAuthMessageBytes: 4096,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
};

/** How many problems an error reply lists before it only counts the rest. */
export const MAX_REPORTED_PROBLEMS = 20;
