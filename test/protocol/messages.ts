/** One valid example of every session message, as the wire carries it. */
export const jobRecord = {
  id: 'j0001',
  spec: { kind: 'generate', sequence: { fps: '24000/1001', width: 1920, height: 1080 }, duration: { seconds: 2 } },
  state: 'running',
  seq: 3,
  createdAt: '2025-01-01T00:00:00.000Z',
  startedAt: '2025-01-01T00:00:01.000Z',
  progress: { phase: 'generating', window: 1, windows: 2, step: 4, steps: 30, fraction: 0.2, etaSeconds: 12.5 },
  attempts: 1,
};

export const clientExamples = {
  hello: { type: 'hello', protocol: 1, client: 'reshoot-panel 0.1.0' },
  submit: { type: 'submit', requestId: 'r1', spec: { kind: 'generate' } },
  cancel: { type: 'cancel', requestId: 'r2', jobId: 'j0001' },
  subscribe: { type: 'subscribe', requestId: 'r3', jobId: '*', since: 4 },
  unsubscribe: { type: 'unsubscribe', requestId: 'r4', jobId: 'j0001' },
  list: { type: 'list', requestId: 'r5' },
  'upload.begin': { type: 'upload.begin', requestId: 'r6', width: 1920, height: 1080, channels: 4, frames: 48, fps: '24000/1001' },
  'upload.end': { type: 'upload.end', requestId: 'r7', uploadId: 'u0123456789abcdef' },
  ping: { type: 'ping', requestId: 'r8' },
} as const;

export const serverExamples = {
  welcome: { type: 'welcome', protocol: 1, version: '0.1.0', providers: ['cuda', 'cpu'], models: ['builtin:tiny'] },
  error: { type: 'error', requestId: 'r2', code: 'not_found', message: 'no job "j9"' },
  accepted: { type: 'accepted', requestId: 'r1', job: jobRecord },
  event: { type: 'event', event: { event: 'progress', jobId: 'j0001', seq: 4, progress: jobRecord.progress } },
  snapshot: { type: 'snapshot', requestId: 'r5', jobs: [jobRecord] },
  ok: { type: 'ok', requestId: 'r4' },
  'upload.ready': { type: 'upload.ready', requestId: 'r6', uploadId: 'u0123456789abcdef', handle: 7, window: 4, maxFrameBytes: 1920 * 1080 * 4 },
  'upload.ack': { type: 'upload.ack', handle: 7, received: 3 },
  'upload.done': { type: 'upload.done', requestId: 'r7', uploadId: 'u0123456789abcdef', frames: 48 },
  pong: { type: 'pong', requestId: 'r8' },
} as const;

/** Fields that may be left out. */
export const optionalFields: Record<string, string[]> = {
  hello: ['client'],
  subscribe: ['since'],
  error: ['requestId'],
};

/** A value of the wrong type for each field (anything goes for `spec`). */
export const wrongValues: Record<string, unknown[]> = {
  type: [7, null],
  protocol: ['1', 1.5],
  client: [5],
  requestId: [12, '', 'x'.repeat(65)],
  spec: [],
  jobId: [5, ''],
  since: [-1, 1.5, '3'],
  width: [15, 4097, 100.5, '64'],
  height: [8, 5000, null],
  channels: [5, 1, '4'],
  frames: [0, 10_001, 2.5],
  fps: ['fast', 0, { num: 24 }],
  uploadId: [5, '', '../etc/passwd', 'a/b'],
  version: [1],
  providers: ['cuda', [1]],
  models: [null],
  code: [5, ''],
  message: [null],
  job: [5, { id: 'x' }],
  event: [{ event: 'nope', jobId: 'j', seq: 1 }, 'progress'],
  jobs: [{}, [5]],
  handle: [-1, 2 ** 32, 1.5],
  window: [0, '4'],
  maxFrameBytes: [0, 1.5],
  received: [-1, 'x'],
};
