/**
 * A WebSocket shaped like UXP's (@adobe/cc-ext-uxp-types uxp/index.d.ts): the ready-state
 * constants exist only as statics, instances have readyState and bufferedAmount, and send()
 * queues bytes that the test drains by hand. The "companion" side is a function the test gives:
 * it receives each text message and may answer.
 */
export class UxpLikeWebSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;

  readyState = 0;
  bufferedAmount = 0;
  binaryType = 'arraybuffer';
  protocol = '';
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  /** Everything sent, in order (text as strings, binary as byte counts). */
  readonly sent: (string | { bytes: number; bufferedBefore: number })[] = [];

  constructor(
    readonly url: string,
    private readonly answer: (msg: Record<string, unknown>, ws: UxpLikeWebSocket) => void,
  ) {
    setTimeout(() => {
      this.readyState = 1;
      this.onopen?.();
    }, 0);
  }

  send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (this.readyState !== 1) throw new Error('not open');
    if (typeof data === 'string') {
      this.sent.push(data);
      const msg = JSON.parse(data) as Record<string, unknown>;
      setTimeout(() => this.answer(msg, this), 0);
      return;
    }
    const n = data.byteLength;
    this.sent.push({ bytes: n, bufferedBefore: this.bufferedAmount });
    this.bufferedAmount += n;
  }

  /** The companion says something. */
  reply(msg: Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }

  close(code = 1000, reason = ''): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    setTimeout(() => this.onclose?.({ code, reason }), 0);
  }
}
