/**
 * The companion against hostile or careless local callers, over real loopback sockets: what a
 * caller without the token can make it hold, what a token holder can make it hold (sessions,
 * uploads, huge error replies), the documented error codes, and the result download from a home
 * under a dot-folder (the default on Linux).
 */
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startService, type RunningService } from '../../companion/service/service.ts';
import { CLOSE, encodeFrameMessage, type ServerMessage } from '../../protocol/index.ts';
import { losslessClip, tempDir, useTestModelCache } from '../helpers/fixtures.ts';
import { api, TestClient } from '../helpers/service.ts';

useTestModelCache();
// Only a hang fails a test: a busy machine may be slow (speeds are the benchmarks' to report).
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

const root = tempDir('reshoot-hostile-');
// The default Linux home is ~/.local/share/reshoot: a dot-folder in the path must not matter.
const home = path.join(root.dir, '.local', 'share', 'reshoot');
let service: RunningService;
let source = '';

beforeAll(async () => {
  service = await startService({ home, port: 0, limits: { maxSessions: 4, maxUploads: 3, maxUploadsPerSession: 2 } });
  source = await losslessClip(root.dir, 'src.mkv', 64, 48, 9);
});
afterAll(async () => {
  await service?.close();
  root.cleanup();
});

const spec = (over: Record<string, unknown> = {}) => ({
  kind: 'extend',
  seed: 3,
  steps: 2,
  sequence: { fps: 25, width: 64, height: 48 },
  source: { path: source },
  extend: { direction: 'tail', duration: { frames: 4 } },
  output: { format: 'ffv1' },
  ...over,
});

const reply = (id: string) => (m: ServerMessage) => 'requestId' in m && m.requestId === id;
const begin = (requestId: string) => ({ type: 'upload.begin', requestId, width: 32, height: 32, channels: 3, frames: 2, fps: '25' });

describe('results', () => {
  it('download from a home under a dot-folder; a range past the end is a JSON 416', async () => {
    const r = await api(service, '/jobs', { method: 'POST', json: spec() });
    expect(r.status).toBe(201);
    const done = await service.queue.settled(r.body.job.id);
    expect(done.state).toBe('done');
    const whole = readFileSync(done.result!.path);
    const got = await fetch(`http://127.0.0.1:${service.port}/jobs/${done.id}/result`, { headers: { authorization: `Bearer ${service.token}` } });
    expect(got.status).toBe(200);
    expect(Buffer.from(await got.arrayBuffer()).equals(whole)).toBe(true);

    const past = await api(service, `/jobs/${done.id}/result`, { headers: { range: `bytes=${whole.length + 10}-${whole.length + 20}` } });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-type')).toMatch(/^application\/json/);
    expect(past.body.error.code).toBe('range_not_satisfiable');
  });
});

describe('before authentication', () => {
  it('a connection without the token cannot make the server read a large message', async () => {
    // A raw WebSocket that declares a 64 MiB binary message and streams it. The server must drop
    // the connection on the header instead of reading (and buffering) the payload.
    const socket = net.connect(service.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.write(
      `GET / HTTP/1.1\r\nHost: 127.0.0.1:${service.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    const total = 64 * 1024 * 1024;
    const header = Buffer.alloc(14);
    header[0] = 0x82; // FIN, binary
    header[1] = 0x80 | 127; // masked, 64-bit length
    header.writeBigUInt64BE(BigInt(total), 2);
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    socket.write(header);
    const chunk = Buffer.alloc(64 * 1024, 1);
    let written = 0;
    while (!closed && written < total) {
      written += chunk.length;
      if (!socket.write(chunk)) await new Promise<void>((resolve) => (socket.once('drain', resolve), socket.once('close', resolve)));
    }
    socket.destroy();
    // Whatever the kernel buffered on the way, the server stopped reading long before the end.
    expect(written).toBeLessThan(total / 2);
  });
});

describe('caps on what a token holder can hold', () => {
  it('sessions beyond the cap are closed with 1013 (busy); a freed place can be taken again', async () => {
    const clients = await Promise.all([0, 1, 2, 3].map(() => TestClient.connect(service)));
    const extra = await TestClient.connect(service, { hello: false });
    expect(await extra.closed).toMatchObject({ code: CLOSE.busy, reason: expect.stringMatching(/at most 4 sessions/) });
    clients[0]!.close();
    await clients[0]!.closed;
    // The server forgets the closed session as its socket closes: poll until a hello is welcomed.
    await expect.poll(async () => {
      const c = await TestClient.connect(service, { hello: false });
      c.send({ type: 'hello', protocol: 1 });
      const welcomed = await Promise.race([c.next((m) => m.type === 'welcome').then(() => true), c.closed.then(() => false)]);
      c.close();
      return welcomed;
    }).toBe(true);
    for (const c of clients.slice(1)) c.close();
    await Promise.all(clients.map((c) => c.closed));
  });

  it('uploads are capped across sessions', async () => {
    const a = await TestClient.connect(service);
    const b = await TestClient.connect(service);
    a.send(begin('a1'));
    a.send(begin('a2'));
    b.send(begin('b1'));
    const ready = await Promise.all(['a1', 'a2', 'b1'].map((id, i) => (i < 2 ? a : b).next(reply(id))));
    expect(ready.map((m) => m.type)).toEqual(['upload.ready', 'upload.ready', 'upload.ready']);
    b.send(begin('b2'));
    expect(await b.next(reply('b2'))).toMatchObject({ type: 'error', code: 'busy', message: expect.stringMatching(/3 uploads open/) });
    // Closing a session frees its uploads' places.
    a.close();
    await a.closed;
    await expect.poll(async () => {
      b.send(begin('b3'));
      return (await b.next(reply('b3'))).type;
    }).toBe('upload.ready');
    b.close();
    await b.closed;
  });

  it('an upload that receives no frame is dropped with upload_timeout, its file removed and its place freed', async () => {
    const dir = tempDir('reshoot-idle-');
    const s = await startService({ home: dir.dir, port: 0, limits: { maxUploads: 1, uploadIdleMs: 300 } });
    try {
      const c = await TestClient.connect(s);
      c.send(begin('i1'));
      const ready = await c.next(reply('i1'));
      if (ready.type !== 'upload.ready') throw new Error(JSON.stringify(ready));
      expect(await c.next((m) => m.type === 'error')).toMatchObject({ code: 'upload_timeout', handle: ready.handle });
      await expect.poll(() => readdirSync(path.join(dir.dir, 'uploads')).filter((f) => f.includes(ready.uploadId)).length).toBe(0);
      c.send(begin('i2'));
      expect(await c.next(reply('i2'))).toMatchObject({ type: 'upload.ready' });
      c.close();
      await c.closed;
    } finally {
      await s.close();
      dir.cleanup();
    }
  });

  it('a spec with 60,000 unknown fields gets one short error; so do thousands of bad list items', async () => {
    const junk: Record<string, unknown> = spec();
    for (let i = 0; i < 60_000; i++) junk[`k${i}`] = i;
    const r = await api(service, '/jobs', { method: 'POST', json: junk });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('bad_spec');
    expect(r.body.error.message).toMatch(/has 60\d{3} fields/);
    expect(JSON.stringify(r.body).length).toBeLessThan(2_000);

    // Many problems each in a small object: the first 20 are listed, the rest counted.
    const shapes = Array.from({ length: 5_000 }, () => ({ kind: 'rectangle', keyframes: [{ frame: 0, x: 'a', y: 0, width: 1, height: 1 }] }));
    const c = await TestClient.connect(service);
    c.send({ type: 'submit', requestId: 's', spec: { ...spec(), kind: 'fill', extend: undefined, mask: { type: 'shapes', shapes } } });
    const err = await c.next(reply('s'));
    expect(err).toMatchObject({ type: 'error', code: 'bad_spec', message: expect.stringMatching(/and \d+ more problems/) });
    if (err.type !== 'error') throw new Error('unreachable');
    expect(err.message.split('\n').length).toBeLessThanOrEqual(22);
    expect(err.message.length).toBeLessThan(10_000);
    c.close();
  });
});

describe('the session protocol', () => {
  it('nothing is answered before welcome, even a message sent together with hello', async () => {
    const c = await TestClient.connect(service, { hello: false });
    c.send({ type: 'hello', protocol: 1 });
    c.send({ type: 'ping', requestId: 'p' });
    await c.next(reply('p'));
    expect(c.received.map((m) => m.type)).toEqual(['welcome', 'pong']);
    c.close();
  });

  it('errors carry the codes protocol/session.ts documents', async () => {
    const early = await TestClient.connect(service, { hello: false });
    early.send({ type: 'ping', requestId: 'x' });
    expect(await early.next((m) => m.type === 'error')).toMatchObject({ code: 'hello_required' });
    early.close();

    const c = await TestClient.connect(service);
    c.ws.send(Buffer.from([1, 2, 3]));
    expect(await c.next((m) => m.type === 'error')).toMatchObject({ code: 'bad_frame' });
    c.ws.send(encodeFrameMessage({ handle: 999_999, frameIndex: 0, width: 32, height: 32, channels: 3 }, new Uint8Array(32 * 32 * 3)));
    expect(await c.next((m) => m.type === 'error')).toMatchObject({ code: 'unknown_upload', handle: 999_999 });
    c.send({ type: 'upload.end', requestId: 'e', uploadId: 'u0000000000000000' });
    expect(await c.next(reply('e'))).toMatchObject({ type: 'error', code: 'unknown_upload' });

    c.send(begin('u'));
    const ready = await c.next(reply('u'));
    if (ready.type !== 'upload.ready') throw new Error(JSON.stringify(ready));
    c.ws.send(encodeFrameMessage({ handle: ready.handle, frameIndex: 0, width: 16, height: 16, channels: 3 }, new Uint8Array(16 * 16 * 3)));
    expect(await c.next((m) => m.type === 'error' && m.handle === ready.handle)).toMatchObject({ code: 'bad_frame' });

    c.send(begin('v'));
    const v = await c.next(reply('v'));
    if (v.type !== 'upload.ready') throw new Error(JSON.stringify(v));
    c.ws.send(encodeFrameMessage({ handle: v.handle, frameIndex: 0, width: 32, height: 32, channels: 3 }, new Uint8Array(32 * 32 * 3)));
    await c.next((m) => m.type === 'upload.ack' && m.handle === v.handle);
    c.send({ type: 'upload.end', requestId: 've', uploadId: v.uploadId });
    expect(await c.next(reply('ve'))).toMatchObject({ type: 'error', code: 'upload_incomplete' });
    c.close();
  });
});
