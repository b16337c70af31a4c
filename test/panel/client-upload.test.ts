/**
 * The companion client's upload flow control and previews, against a scripted companion (a fake
 * WebSocket), so the window can be held shut and a refusal injected at an exact moment. The
 * real-companion path is covered by runner.test.ts and the browser tests.
 */
import { describe, expect, it } from 'vitest';
import { CompanionClient, type ConnectionState } from '../../plugin/connection/client.ts';
import { MemoryHost } from '../../plugin/host/memory.ts';
import { decodeFrameMessage } from '../../protocol/index.ts';

class FakeSocket {
  readonly OPEN = 1;
  readyState = 0;
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  sentText: Record<string, any>[] = [];
  sentFrames: number[] = [];
  constructor(private readonly script: (s: FakeSocket, m: Record<string, any>) => void) {
    setTimeout(() => {
      this.readyState = 1;
      this.onopen?.();
    }, 0);
  }
  send(data: unknown) {
    if (typeof data === 'string') {
      const m = JSON.parse(data) as Record<string, any>;
      this.sentText.push(m);
      this.script(this, m);
    } else {
      const d = decodeFrameMessage(data as ArrayBuffer);
      if (!d.ok) throw new Error(d.message);
      this.sentFrames.push(d.header.frameIndex);
      this.script(this, { type: 'frame', index: d.header.frameIndex, handle: d.header.handle });
    }
  }
  reply(m: object) {
    setTimeout(() => this.onmessage?.({ data: JSON.stringify(m) }), 0);
  }
  close() {
    this.readyState = 3;
  }
}

const welcome = { type: 'welcome', protocol: 1, version: 'fake', providers: ['cpu'], models: ['builtin:tiny'] };

function connect(script: (s: FakeSocket, m: Record<string, any>) => void) {
  const host = new MemoryHost({ sequence: { id: 's', name: 's', fps: 24, width: 16, height: 16 }, files: { '/memory/reshoot/companion.json': '{"port":1,"token":"t"}' } });
  let socket!: FakeSocket;
  const client = new CompanionClient({
    host,
    webSocket: () => {
      socket = new FakeSocket((s, m) => {
        if (m.type === 'hello') return s.reply(welcome);
        if (m.type === 'subscribe') return s.reply({ type: 'snapshot', requestId: m.requestId, jobs: [] });
        script(s, m);
      });
      return socket as unknown as WebSocket;
    },
  });
  client.start();
  const connected = new Promise<void>((resolve) => {
    const off = client.store.subscribe(() => {
      if (client.state.status === 'connected') {
        off();
        resolve();
      }
    });
  });
  return { client, connected, socket: () => socket };
}

const pixels = () => new Uint8Array(16 * 16 * 3);

describe('CompanionClient.upload', () => {
  it('never has more than `window` frames unacknowledged, then ends the upload', async () => {
    let unacked = 0;
    let most = 0;
    const { client, connected } = connect((s, m) => {
      if (m.type === 'upload.begin') s.reply({ type: 'upload.ready', requestId: m.requestId, uploadId: 'u0123456789abcdef', handle: 9, window: 2, maxFrameBytes: 768 });
      if (m.type === 'frame') {
        unacked++;
        most = Math.max(most, unacked);
        // Acknowledge slowly: the client must wait.
        setTimeout(() => {
          unacked--;
          s.reply({ type: 'upload.ack', handle: 9, received: m.index + 1 });
        }, 5);
      }
      if (m.type === 'upload.end') s.reply({ type: 'upload.done', requestId: m.requestId, uploadId: m.uploadId, frames: 7 });
    });
    await connected;
    const progress: number[] = [];
    const r = await client.upload({ width: 16, height: 16, channels: 3, fps: { num: 24, den: 1 }, frames: 7, frame: async () => pixels(), onProgress: (p) => progress.push(p.acknowledged) });
    expect(r).toEqual({ uploadId: 'u0123456789abcdef', frames: 7 });
    expect(most).toBeLessThanOrEqual(2);
    expect(progress.at(-1)).toBe(7);
    client.stop();
  });

  it('fails when the companion refuses a frame (an error without requestId) instead of waiting forever', async () => {
    const { client, connected } = connect((s, m) => {
      if (m.type === 'upload.begin') s.reply({ type: 'upload.ready', requestId: m.requestId, uploadId: 'u0123456789abcdef', handle: 3, window: 1, maxFrameBytes: 768 });
      if (m.type === 'frame') s.reply({ type: 'error', code: 'bad_spec', message: 'frame 0 is 16x16x3, the upload was declared otherwise' });
    });
    await connected;
    await expect(client.upload({ width: 16, height: 16, channels: 3, fps: '24', frames: 3, frame: async () => pixels() })).rejects.toMatchObject({ code: 'bad_spec' });
    client.stop();
  });

  it('a refusal naming its upload handle fails only that upload; the other one finishes', async () => {
    let begun = 0;
    const { client, connected } = connect((s, m) => {
      if (m.type === 'upload.begin') {
        const handle = ++begun;
        s.reply({ type: 'upload.ready', requestId: m.requestId, uploadId: `u000000000000000${handle}`, handle, window: 1, maxFrameBytes: 768 });
      }
      if (m.type === 'frame' && m.handle === 1) s.reply({ type: 'error', code: 'bad_spec', message: 'frame 0 refused', handle: 1 });
      if (m.type === 'frame' && m.handle === 2) s.reply({ type: 'upload.ack', handle: 2, received: m.index + 1 });
      if (m.type === 'upload.end') s.reply({ type: 'upload.done', requestId: m.requestId, uploadId: m.uploadId, frames: 2 });
    });
    await connected;
    const refused = client.upload({ width: 16, height: 16, channels: 3, fps: '24', frames: 2, frame: async () => pixels() });
    const fine = client.upload({ width: 16, height: 16, channels: 3, fps: '24', frames: 2, frame: async () => pixels() });
    await expect(refused).rejects.toMatchObject({ code: 'bad_spec' });
    await expect(fine).resolves.toEqual({ uploadId: 'u0000000000000002', frames: 2 });
    client.stop();
  });

  it('checks frame sizes before sending', async () => {
    const { client, connected, socket } = connect((s, m) => {
      if (m.type === 'upload.begin') s.reply({ type: 'upload.ready', requestId: m.requestId, uploadId: 'u0123456789abcdef', handle: 3, window: 4, maxFrameBytes: 768 });
    });
    await connected;
    await expect(client.upload({ width: 16, height: 16, channels: 3, fps: '24', frames: 1, frame: async () => new Uint8Array(10) })).rejects.toThrow(/needs 768/);
    expect(socket().sentFrames).toEqual([]);
    // The companion's side is released (upload.end before every frame arrived discards it).
    expect(socket().sentText.map((m) => m.type)).toContain('upload.end');
    client.stop();
  });
});

describe('CompanionClient previews', () => {
  it('keeps the latest preview image per job; previews never move the job seq', async () => {
    const record = { id: 'j1', spec: { kind: 'fill' }, state: 'running', seq: 1, createdAt: '', attempts: 1 };
    const { client, connected, socket } = connect((s, m) => {
      if (m.type === 'submit') s.reply({ type: 'accepted', requestId: m.requestId, job: record });
    });
    await connected;
    await client.submit({});
    // The companion stamps a preview with the seq of the job's latest real event.
    socket().reply({ type: 'event', event: { event: 'preview', jobId: 'j1', seq: 1, width: 8, height: 6, png: 'AAAA' } });
    socket().reply({ type: 'event', event: { event: 'preview', jobId: 'j1', seq: 1, width: 8, height: 6, png: 'BBBB' } });
    const state = await new Promise<ConnectionState>((resolve) => {
      const off = client.store.subscribe(() => {
        if (client.state.previews.j1?.png === 'BBBB') {
          off();
          resolve(client.state);
        }
      });
    });
    expect(state.previews.j1).toEqual({ width: 8, height: 6, png: 'BBBB' });
    expect(state.jobs.j1?.seq).toBe(1);
    expect(socket().sentText.filter((m) => m.type === 'subscribe' && m.jobId === 'j1')).toEqual([]); // no catch-up asked
    client.stop();
  });
});
