/**
 * The companion service over real loopback sockets: HTTP and WebSocket, the door (token, Origin,
 * Host), the session protocol, jobs end to end with the test model, uploads with flow control.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { encodeFrameMessage, type JobEvent, type ServerMessage } from '../../protocol/index.ts';
import { syntheticFrame } from '../../companion/media/synthetic.ts';
import { FPS, losslessClip, readAll, tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { api, TestClient, testService } from '../helpers/service.ts';

useTestModelCache();
// Only a hang fails a test: a busy machine may be slow (speeds are the benchmarks' to report).
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

let service: Awaited<ReturnType<typeof testService>>;
const media = tempDir();
let source = '';
const W = 64;
const H = 48;

beforeAll(async () => {
  service = await testService();
  source = await losslessClip(media.dir, 'src.mkv', W, H, 9);
});
afterAll(async () => {
  await service?.cleanup();
  media.cleanup();
});

const spec = (over: Record<string, unknown> = {}) => ({
  kind: 'extend',
  seed: 9,
  steps: 2,
  sequence: { fps: '24000/1001', width: W, height: H },
  source: { path: source },
  extend: { direction: 'tail', duration: { frames: 6 } },
  output: { format: 'ffv1' },
  ...over,
});

const isEvent = (jobId: string, name?: JobEvent['event']) => (m: ServerMessage) =>
  m.type === 'event' && m.event.jobId === jobId && (name === undefined || m.event.event === name);

describe('the door', () => {
  it('health answers without a token and says only the version and the caller’s own standing', async () => {
    const r = await fetch(`http://127.0.0.1:${service.port}/health`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ name: 'reshoot', version: expect.any(String), protocol: 1, origin: { sent: null, admitted: true }, token: 'absent' });
  });

  it('the connection file holds port and token, readable by the owner only', () => {
    const info = JSON.parse(readFileSync(service.connectionFile, 'utf8'));
    expect(info).toMatchObject({ port: service.port, token: service.token, pid: process.pid });
    expect(statSync(service.connectionFile).mode & 0o077).toBe(0);
  });

  it('no token or a wrong one: HTTP 401', async () => {
    expect((await api(service, '/jobs', { headers: { authorization: '' } })).status).toBe(401);
    const wrong = await api(service, '/jobs', { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('unauthorized');
    expect((await api(service, '/jobs')).status).toBe(200);
  });

  it('a web page origin is refused, with no CORS headers, even with the token', async () => {
    const r = await api(service, '/jobs', { headers: { origin: 'http://evil.example' } });
    expect(r.status).toBe(403);
    expect(r.headers.get('access-control-allow-origin')).toBeNull();
    const pre = await api(service, '/jobs', { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    expect(pre.headers.get('access-control-allow-origin')).toBeNull();
    expect((await api(service, '/jobs', { headers: { origin: 'null' } })).status).toBe(403);
  });

  it('a foreign Host (DNS rebinding) is refused', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve) => {
      request({ host: '127.0.0.1', port: service.port, path: '/health', headers: { host: `evil.example:${service.port}` } }, (res) => resolve(res.statusCode!)).end();
    });
    expect(status).toBe(403);
  });

  it('WebSocket: no token → closed 4001; web origin → no socket at all', async () => {
    const c = await TestClient.connect(service, { token: null, hello: false });
    expect(await c.closed).toEqual({ code: 4001, reason: 'missing or wrong token' });
    await expect(TestClient.connect(service, { origin: 'https://evil.example' })).rejects.toThrow(/403/);
  });

  it('a protocol version mismatch is reported and the socket closed 4002', async () => {
    const c = await TestClient.connect(service, { hello: false });
    c.send({ type: 'hello', protocol: 99 });
    const err = await c.next((m) => m.type === 'error');
    expect(err).toMatchObject({ code: 'protocol_mismatch', message: expect.stringMatching(/protocol 1.*99/) });
    expect((await c.closed).code).toBe(4002);
  });
});

describe('sessions and jobs', () => {
  it('submit over WebSocket: accepted, then queued → started → progress → done; the result streams with ranges', async () => {
    const c = await TestClient.connect(service);
    c.send({ type: 'submit', requestId: 'r1', spec: spec() });
    const accepted = await c.next((m) => m.type === 'accepted');
    if (accepted.type !== 'accepted') throw new Error('unreachable');
    const id = accepted.job.id;
    const done = await c.next(isEvent(id, 'done'));
    const events = c.received.filter(isEvent(id)).map((m) => (m.type === 'event' ? m.event : null))!;
    const names = events.map((e) => e!.event);
    expect(names).toContain('started');
    expect(names).toContain('progress');
    expect(names.at(-1)).toBe('done');
    const seqs = events.map((e) => e!.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    if (done.type !== 'event' || done.event.event !== 'done') throw new Error('unreachable');
    const result = done.event.result;
    expect(result.frames).toBe(6);
    expect(result.path.startsWith(path.join(service.home, 'results'))).toBe(true);

    const whole = readFileSync(result.path);
    const full = await fetch(`http://127.0.0.1:${service.port}/jobs/${id}/result`, { headers: { authorization: `Bearer ${service.token}` } });
    expect(Buffer.from(await full.arrayBuffer()).equals(whole)).toBe(true);
    const part = await fetch(`http://127.0.0.1:${service.port}/jobs/${id}/result`, { headers: { authorization: `Bearer ${service.token}`, range: 'bytes=10-99' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(whole.subarray(10, 100))).toBe(true);
    c.close();
  });

  it('HTTP: submit, get, list, cancel; unknown ids and bad specs get typed errors', async () => {
    const r = await api(service, '/jobs', { method: 'POST', json: spec({ steps: 30, extend: { direction: 'tail', duration: { frames: 40 } } }) });
    expect(r.status).toBe(201);
    const id = r.body.job.id;
    expect((await api(service, `/jobs/${id}`)).body.job.id).toBe(id);
    expect((await api(service, '/jobs')).body.jobs.map((j: { id: string }) => j.id)).toContain(id);
    const cancelled = await api(service, `/jobs/${id}/cancel`, { method: 'POST' });
    expect(cancelled.status).toBe(200);
    await expect.poll(async () => (await api(service, `/jobs/${id}`)).body.job.state, { timeout: 30_000 }).toBe('cancelled');

    const bad = await api(service, '/jobs', { method: 'POST', json: { ...spec(), colour: 'red' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'bad_spec', message: expect.stringMatching(/colour/) });
    expect((await api(service, '/jobs/j0000/result')).status).toBe(404);
    expect((await api(service, '/jobs', { method: 'POST', body: '{not json', headers: { 'content-type': 'application/json' } })).body.error.code).toBe('bad_message');
  });

  it('the service writes only into its own results folder', async () => {
    const r = await api(service, '/jobs', { method: 'POST', json: spec({ output: { format: 'ffv1', path: '/tmp/elsewhere.mkv' } }) });
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/output\.path/);
    const up = await api(service, '/jobs', { method: 'POST', json: spec({ source: { upload: '../../etc/passwd' } }) });
    expect(up.status).toBe(400);
  });

  it('bad messages get typed errors and the session keeps answering', async () => {
    const c = await TestClient.connect(service);
    c.ws.send('{not json');
    c.send({ type: 'launch' });
    c.send({ type: 'cancel', requestId: 'x' });
    c.ws.send(Buffer.from([1, 2, 3]));
    for (let i = 0; i < 4; i++) expect((await c.next((m) => m.type === 'error')).type).toBe('error');
    c.send({ type: 'ping', requestId: 'p' });
    expect(await c.next((m) => m.type === 'pong')).toEqual({ type: 'pong', requestId: 'p' });
    c.close();
  });

  it('a client that reconnects catches up with subscribe { since }', async () => {
    const a = await TestClient.connect(service);
    a.send({ type: 'submit', requestId: 's', spec: spec() });
    const acc = await a.next((m) => m.type === 'accepted');
    const id = acc.type === 'accepted' ? acc.job.id : '';
    const first = await a.next(isEvent(id));
    const seen = first.type === 'event' ? first.event.seq : 0;
    a.close();
    await a.next(() => false, 50).catch(() => undefined);
    await expect.poll(async () => (await api(service, `/jobs/${id}`)).body.job.state, { timeout: 30_000 }).toBe('done');

    const b = await TestClient.connect(service);
    b.send({ type: 'subscribe', requestId: 'sub', jobId: id, since: seen });
    const reply = await b.next((m) => (m.type === 'ok' || m.type === 'snapshot') && m.requestId === 'sub');
    const final = (await api(service, `/jobs/${id}`)).body.job;
    if (reply.type === 'ok') {
      // The record takes its new seq before the event is on disk and announced, so the last
      // event may arrive just after `ok`; it must arrive, once, in order.
      await b.next((m) => m.type === 'event' && m.event.jobId === id && m.event.seq === final.seq);
      const got = b.received.filter(isEvent(id)).map((m) => (m.type === 'event' ? m.event.seq : -1));
      expect(got).toEqual(Array.from({ length: final.seq - seen }, (_, i) => seen + 1 + i));
    } else {
      expect(reply.type === 'snapshot' && reply.jobs[0]!.state).toBe('done');
    }
    b.close();
  });
});

describe('uploads', () => {
  it('frames uploaded with flow control become a source; the fill keeps them bit-exact outside the mask', async () => {
    const c = await TestClient.connect(service);
    const frames = Array.from({ length: 9 }, (_, i) => syntheticFrame(i, W, H, { seed: 3 }));
    c.send({ type: 'upload.begin', requestId: 'u', width: W, height: H, channels: 3, frames: frames.length, fps: '24000/1001' });
    const ready = await c.next((m) => m.type === 'upload.ready');
    if (ready.type !== 'upload.ready') throw new Error('unreachable');
    let acked = 0;
    for (let i = 0; i < frames.length; i++) {
      // Never more than `window` frames unacknowledged.
      while (i - acked >= ready.window) {
        const ack = await c.next((m) => m.type === 'upload.ack');
        if (ack.type === 'upload.ack') acked = ack.received;
      }
      c.ws.send(encodeFrameMessage({ handle: ready.handle, frameIndex: i, width: W, height: H, channels: 3 }, frames[i]!.data));
    }
    c.send({ type: 'upload.end', requestId: 'e', uploadId: ready.uploadId });
    expect(await c.next((m) => m.type === 'upload.done')).toMatchObject({ uploadId: ready.uploadId, frames: 9 });

    c.send({
      type: 'submit',
      requestId: 'f',
      spec: {
        kind: 'fill', seed: 1, steps: 2, sequence: { fps: '24000/1001', width: W, height: H }, source: { upload: ready.uploadId },
        mask: { type: 'shapes', shapes: [{ kind: 'rectangle', keyframes: [{ frame: 0, x: 16, y: 16, width: 24, height: 16 }] }] }, output: { format: 'ffv1' },
      },
    });
    const acc = await c.next((m) => m.type === 'accepted' || m.type === 'error');
    if (acc.type !== 'accepted') throw new Error(JSON.stringify(acc));
    const done = await c.next(isEvent(acc.job.id, 'done'));
    if (done.type !== 'event' || done.event.event !== 'done') throw new Error('unreachable');
    const out = await readAll(done.event.result.path, FPS, 9);
    for (let f = 0; f < 9; f++) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          if (x >= 16 && x < 40 && y >= 16 && y < 32) continue;
          const p = (y * W + x) * 3;
          expect(out[f]!.data.subarray(p, p + 3)).toEqual(frames[f]!.data.subarray(p, p + 3));
        }
      }
    }
    c.close();
  });

  it('a session may hold only a few uploads at a time', async () => {
    const c = await TestClient.connect(service);
    for (const id of ['a', 'b', 'c']) c.send({ type: 'upload.begin', requestId: id, width: 32, height: 32, channels: 3, frames: 2, fps: '25' });
    const replies = await Promise.all(['a', 'b', 'c'].map((id) => c.next((m) => 'requestId' in m && m.requestId === id)));
    expect(replies.map((m) => (m.type === 'error' ? m.code : m.type)).sort()).toEqual(['busy', 'upload.ready', 'upload.ready']);
    c.close();
  });

  it('a sender that ignores the window is refused and the partial upload removed', async () => {
    const c = await TestClient.connect(service);
    const big = 256;
    c.send({ type: 'upload.begin', requestId: 'u', width: big, height: big, channels: 4, frames: 50, fps: '25' });
    const ready = await c.next((m) => m.type === 'upload.ready');
    if (ready.type !== 'upload.ready') throw new Error('unreachable');
    const px = new Uint8Array(big * big * 4).fill(7);
    for (let i = 0; i < 20; i++) c.ws.send(encodeFrameMessage({ handle: ready.handle, frameIndex: i, width: big, height: big, channels: 4 }, px));
    const err = await c.next((m) => m.type === 'error');
    expect(err).toMatchObject({ code: 'window_exceeded', handle: ready.handle, message: expect.stringMatching(/without waiting for an ack/) });
    c.close();
    await c.closed;
    const { readdirSync } = await import('node:fs');
    await expect.poll(() => readdirSync(path.join(service.home, 'uploads')).filter((f) => f.includes(ready.uploadId) || f.includes('partial')).length).toBe(0);
  });
});

export const _hash = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
