/**
 * The decoder's raw frames over a local socket that Node reads straight into frame buffers.
 *
 * A child's stdout pipe is read in 64 KiB chunks, each a new buffer: for a 1080p frame that is
 * ~95 allocations, as many copies into the frame, and the page faults and garbage collection
 * they bring. Measured on the media bench that cost Node 20–25 ms of CPU per 1080p frame, more
 * than any pixel work. A socket opened with Node's `onread` option instead reads into a buffer we
 * choose each time: the unfilled rest of the frame being filled (FrameReader.target), so the
 * kernel copies the bytes into place and nothing is allocated (5–7 ms per frame).
 *
 * The child writes into one end (passed as its stdout, as a pipe would be); Node holds the other.
 * The socket lives in a fresh private folder (mode 0700), so no other user can connect to it,
 * and the folder is removed as soon as both ends are connected.
 *
 * Windows keeps the stdout pipe (`useFrameSocket`): there the socket would be a named pipe passed
 * to the child, a route not tested on Windows. So does a machine where the socket cannot be made.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import type { FrameReader } from './frame-reader.ts';

export const useFrameSocket = process.platform !== 'win32';

export interface FrameSocket {
  /** The end to give the child as its stdout; destroy it once the child is spawned (the child has its own copy). */
  childEnd: net.Socket;
  /** Node's end, feeding `reader`; destroy it to stop reading. */
  ours: net.Socket;
}

/**
 * A connected socket pair whose reading end fills `reader`'s frames in place and ends it at EOF;
 * undefined when no socket can be made here (a full or unwritable temp folder, a temp path too
 * long for a socket name): the caller reads the child's stdout instead.
 */
export async function openFrameSocket(reader: FrameReader): Promise<FrameSocket | undefined> {
  let dir: string | undefined;
  const server = net.createServer();
  try {
    // The steps that can fail for reasons of the machine come first, before the reader is touched.
    try {
      dir = await mkdtemp(path.join(os.tmpdir(), 'reshoot-frames-'));
      server.listen(path.join(dir, 's'));
      await once(server, 'listening'); // rejects on the server's 'error'
    } catch {
      return undefined;
    }
    const accepted = once(server, 'connection') as Promise<[net.Socket]>;
    // true: keep reading; the reader pauses and resumes the socket itself (net.Socket stops and
    // restarts an onread socket's reads), once enough frames wait.
    const ours = net.createConnection({ path: path.join(dir, 's'), onread: { buffer: () => reader.target(), callback: (n) => (reader.wrote(n), true) } });
    ours.once('end', () => reader.finish());
    ours.once('close', () => reader.finish());
    ours.once('error', (e) => reader.finish(e));
    reader.attach(ours);
    const [childEnd] = await accepted;
    return { childEnd, ours };
  } finally {
    server.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}
