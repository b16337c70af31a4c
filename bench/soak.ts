/**
 * Soak: the real `reshoot serve` under crashes, garbage and hostile callers, on loopback only.
 *
 *   npm run soak                       (20 kill -9 restarts, 16 pre-auth floods of 64 MiB)
 *   SOAK_RESTARTS=5 npm run soak       (fewer rounds)
 *
 * Each round starts `reshoot serve` on one home, submits tagged jobs (some acknowledged, some
 * still in flight), sends fuzzed WebSocket messages, then kills the process with SIGKILL at a
 * seeded moment. After every restart each acknowledged job must be on record exactly once.
 * Then, on the last instance: 16 connections without the token each stream a 64 MiB message
 * while the server's RSS is sampled; a token holder sends specs with 60,000 unknown fields and
 * thousands of bad items while /health is probed for event-loop stalls; every job is let settle;
 * the server is stopped and the home and process table are searched for leftovers. As root, a
 * small tmpfs home is filled up and jobs submitted to it must be refused whole (507), never
 * accepted-then-lost. Prints a report; exits 1 if a goal is missed: 0 lost, 0 duplicated,
 * 0 unreported failures, peak flood RSS < 300 MB, event-loop delay < 200 ms, no leftovers.
 *
 * The reduced version in `npm test` (test/service/soak.test.ts) calls runSoak with small numbers.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { writeSyntheticClip } from '../companion/media/synthetic.ts';
import { mulberry32 } from '../companion/models/weights.ts';
import { mountTmpfs } from '../test/helpers/tmpfs.ts';

export interface SoakOptions {
  restarts: number;
  /** Jobs submitted per round (half awaited, half still in flight at the kill). */
  jobsPerRound: number;
  /** Fuzzed WebSocket messages per round. */
  fuzzPerRound: number;
  floods: number;
  floodBytes: number;
  /** Specs with 60,000 unknown fields (and as many with thousands of bad items), sent one by one. */
  heavySpecs: number;
  /** Include the full-disk phase when root (a tmpfs); otherwise it is skipped with a message. */
  diskFull: boolean;
  seed: number;
  log: (line: string) => void;
}

export interface SoakReport {
  restarts: number;
  submitted: number;
  acknowledged: number;
  /** Submissions refused with a reason (e.g. disk_full: 507), by code. */
  refused: Record<string, number>;
  /** Sent but unanswered when the server was killed: may or may not be on record, never twice. */
  unanswered: number;
  done: number;
  failed: Record<string, number>;
  cancelled: number;
  lost: string[];
  duplicated: string[];
  unreported: string[];
  fuzz: { messages: number; internalErrors: number; closeCodes: Record<string, number> };
  flood: { connections: number; bytesEach: number; bytesAcceptedMax: number; rssBeforeMB: number; rssPeakMB: number };
  eventLoop: { heavySpecs: number; healthProbes: number; idleMaxMs: number; underHeavySpecsMaxMs: number; inProcessMaxDelayMs: number; inProcessP99Ms: number };
  diskFull: { ran: boolean; note: string; refused: number; acceptedThenLost: number };
  leftovers: string[];
  goalsMet: boolean;
}

export const FULL_SOAK: Omit<SoakOptions, 'log'> = {
  restarts: 20,
  jobsPerRound: 4,
  fuzzPerRound: 60,
  floods: 16,
  floodBytes: 64 * 1024 * 1024,
  heavySpecs: 10,
  diskFull: true,
  seed: 0x50a6,
};

const RSS_GOAL_MB = 300;
const EVENT_LOOP_GOAL_MS = 200;
const W = 64;
const H = 48;
const BIN = path.resolve(import.meta.dirname, '..', 'bin', 'reshoot.mjs');

interface Serve {
  child: ChildProcess;
  port: number;
  token: string;
  exited: Promise<void>;
  stderr: () => string;
}

export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const rand = mulberry32(opts.seed);
  const int = (n: number) => Math.floor(rand() * n);
  const root = mkdtempSync(path.join(os.tmpdir(), 'reshoot-soak-'));
  const home = path.join(root, 'home');
  const source = path.join(root, 'src.mkv');
  await writeSyntheticClip({ path: source, format: 'ffv1', width: W, height: H, fps: { num: 25, den: 1 }, frames: 9 });
  const spec = (tag: string) => ({
    kind: 'extend', prompt: tag, steps: 2, sequence: { fps: 25, width: W, height: H }, source: { path: source },
    extend: { direction: 'tail', duration: { frames: 4 } }, output: { format: 'ffv1' },
  });

  const report: SoakReport = {
    restarts: 0, submitted: 0, acknowledged: 0, refused: {}, unanswered: 0, done: 0, failed: {}, cancelled: 0,
    lost: [], duplicated: [], unreported: [],
    fuzz: { messages: 0, internalErrors: 0, closeCodes: {} },
    flood: { connections: 0, bytesEach: opts.floodBytes, bytesAcceptedMax: 0, rssBeforeMB: 0, rssPeakMB: 0 },
    eventLoop: { heavySpecs: opts.heavySpecs, healthProbes: 0, idleMaxMs: 0, underHeavySpecsMaxMs: 0, inProcessMaxDelayMs: 0, inProcessP99Ms: 0 },
    diskFull: { ran: false, note: '', refused: 0, acceptedThenLost: 0 },
    leftovers: [],
    goalsMet: false,
  };
  /** tag → the job id the server acknowledged (201). */
  const acked = new Map<string, string>();
  const servePids: number[] = [];
  let tagN = 0;

  const submit = async (s: Serve, json: unknown): Promise<{ status: number; body: any } | null> => {
    try {
      const r = await fetch(`http://127.0.0.1:${s.port}/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(json),
      });
      return { status: r.status, body: await r.json().catch(() => null) };
    } catch {
      return null; // killed mid-request
    }
  };
  const submitTagged = async (s: Serve): Promise<void> => {
    const tag = `soak-${tagN++}`;
    report.submitted++;
    const r = await submit(s, spec(tag));
    if (r === null) report.unanswered++;
    else if (r.status === 201) {
      report.acknowledged++;
      acked.set(tag, r.body.job.id);
    }
    else {
      const code = r.body?.error?.code ?? `http_${r.status}`;
      report.refused[code] = (report.refused[code] ?? 0) + 1;
    }
  };
  const checkRecords = async (s: Serve, when: string): Promise<void> => {
    const jobs = await listJobs(s);
    const byTag = new Map<string, string[]>();
    for (const j of jobs) if (typeof j.spec?.prompt === 'string') byTag.set(j.spec.prompt, [...(byTag.get(j.spec.prompt) ?? []), j.id]);
    for (const [tag, id] of acked) if (!jobs.some((j) => j.id === id)) report.lost.push(`${tag} (${id}) ${when}`);
    for (const [tag, ids] of byTag) if (ids.length > 1) report.duplicated.push(`${tag}: ${ids.join(', ')} ${when}`);
  };

  try {
    // --- kill -9 rounds ------------------------------------------------------------------
    for (let round = 0; round < opts.restarts; round++) {
      const s = await startServe(home);
      servePids.push(s.child.pid!);
      if (round > 0) {
        report.restarts++;
        await checkRecords(s, `after restart ${round}`);
      }
      const half = Math.ceil(opts.jobsPerRound / 2);
      for (let i = 0; i < half; i++) await submitTagged(s);
      const fuzz = fuzzSession(s, opts.fuzzPerRound, opts.seed + round, report);
      const inFlight = Array.from({ length: opts.jobsPerRound - half }, () => submitTagged(s));
      await fuzz;
      await sleep(int(1500));
      s.child.kill('SIGKILL');
      await s.exited;
      await Promise.all(inFlight);
      opts.log(`round ${round + 1}/${opts.restarts}: ${report.submitted} submitted, ${acked.size} acknowledged, killed`);
    }

    // --- the last instance: floods, heavy specs, settle, clean stop ------------------------
    const s = await startServe(home);
    servePids.push(s.child.pid!);
    report.restarts++;
    await checkRecords(s, 'after the last restart');

    report.eventLoop.idleMaxMs = await probeHealth(s, () => sleep(1000), report);
    Object.assign(report.flood, await floods(s, opts.floods, opts.floodBytes));
    const heavy = heavyBodies(spec('heavy'));
    report.eventLoop.underHeavySpecsMaxMs = await probeHealth(s, () => heavySpecs(s, opts.heavySpecs, heavy), report);
    Object.assign(report.eventLoop, await inProcessEventLoop(path.join(root, 'in-process'), opts.heavySpecs, heavy));
    opts.log(`floods: peak RSS ${report.flood.rssPeakMB.toFixed(0)} MB; /health worst ${report.eventLoop.underHeavySpecsMaxMs.toFixed(0)} ms under heavy specs`);

    // Every job settles: done, or failed with its reason.
    for (;;) {
      const jobs = await listJobs(s);
      if (jobs.every((j) => j.state !== 'queued' && j.state !== 'running')) break;
      await sleep(500);
    }
    await checkRecords(s, 'at the end');
    for (const j of await listJobs(s)) {
      if (j.state === 'done') report.done++;
      else if (j.state === 'cancelled') report.cancelled++;
      else if (j.state === 'failed') {
        if (j.error?.code && j.error.message) report.failed[j.error.code] = (report.failed[j.error.code] ?? 0) + 1;
        else report.unreported.push(`${j.id}: failed without a reason`);
      }
    }
    s.child.kill('SIGTERM');
    await s.exited;
    report.leftovers.push(...leftovers(home, servePids));

    // --- a full disk -----------------------------------------------------------------------
    if (opts.diskFull) Object.assign(report.diskFull, await diskFullPhase(spec, servePids, report));
    else report.diskFull.note = 'not asked for';
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  report.goalsMet =
    report.lost.length === 0 &&
    report.duplicated.length === 0 &&
    report.unreported.length === 0 &&
    report.fuzz.internalErrors === 0 &&
    report.flood.rssPeakMB < RSS_GOAL_MB &&
    report.eventLoop.inProcessMaxDelayMs < EVENT_LOOP_GOAL_MS &&
    report.diskFull.acceptedThenLost === 0 &&
    report.leftovers.length === 0;
  return report;
}

// --- pieces ------------------------------------------------------------------------------

async function startServe(home: string): Promise<Serve> {
  const file = path.join(home, 'companion.json');
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0'], {
    env: { ...process.env, RESHOOT_HOME: home, RESHOOT_PROVIDER: process.env.RESHOOT_PROVIDER ?? 'cpu' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let gone = false;
  void exited.then(() => (gone = true));
  for (;;) {
    if (gone) throw new Error(`reshoot serve exited before it was ready: ${stderr.trim()}`);
    try {
      const info = JSON.parse(readFileSync(file, 'utf8'));
      if (info.pid === child.pid) return { child, port: info.port, token: info.token, exited, stderr: () => stderr };
    } catch {
      // not there yet
    }
    await sleep(50);
  }
}

async function listJobs(s: { port: number; token: string }): Promise<any[]> {
  const r = await fetch(`http://127.0.0.1:${s.port}/jobs`, { headers: { authorization: `Bearer ${s.token}` } });
  return ((await r.json()) as { jobs: any[] }).jobs;
}

/** Garbage, half-valid and valid messages on one session; counts replies with code `internal`. */
async function fuzzSession(s: Serve, count: number, seed: number, report: SoakReport): Promise<void> {
  const rand = mulberry32(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}/?token=${s.token}`, { perMessageDeflate: false });
  ws.on('error', () => undefined);
  ws.on('message', (data, binary) => {
    if (binary) return;
    try {
      const m = JSON.parse(String(data));
      if (m.type === 'error' && m.code === 'internal') report.fuzz.internalErrors++;
    } catch {
      report.fuzz.internalErrors++; // the server sent something that is not JSON
    }
  });
  const closed = new Promise<void>((resolve) =>
    ws.once('close', (code) => {
      report.fuzz.closeCodes[code] = (report.fuzz.closeCodes[code] ?? 0) + 1;
      resolve();
    }),
  );
  const opened = await new Promise<boolean>((resolve) => (ws.once('open', () => resolve(true)), ws.once('close', () => resolve(false))));
  if (!opened) return;
  ws.send(JSON.stringify({ type: 'hello', protocol: 1, client: 'soak' }));
  const messages: (() => string | Buffer)[] = [
    () => '{',
    () => 'null',
    () => JSON.stringify({ type: pick(['submit', 'cancel', 'subscribe', 'list', 'upload.end', 'nope']), requestId: `f${Math.floor(rand() * 1e6)}` }),
    () => JSON.stringify({ type: 'submit', requestId: 'fs', spec: { kind: pick(['extend', 'fill', 'x']), steps: pick([-1, 'a', 1e9]) } }),
    () => JSON.stringify({ type: 'cancel', requestId: 'fc', jobId: pick(['j0000000000000000', '../../etc', '*']) }),
    () => JSON.stringify({ type: 'subscribe', requestId: 'fu', jobId: '*', since: pick([0, -1, 1e12]) }),
    () => JSON.stringify({ type: 'upload.begin', requestId: 'fb', width: pick([16, 4097, 0]), height: 16, channels: pick([3, 5]), frames: 1, fps: pick(['25', 'x']) }),
    () => Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 64) }, () => Math.floor(rand() * 256))),
    () => JSON.stringify({ type: 'ping', requestId: 'fp' }),
  ];
  for (let i = 0; i < count && ws.readyState === ws.OPEN; i++) {
    ws.send(pick(messages)());
    report.fuzz.messages++;
  }
  ws.close();
  await closed;
}

/** Connections without the token, each streaming one message of `bytes`, all at once. */
async function floods(s: Serve, connections: number, bytes: number): Promise<Partial<SoakReport['flood']>> {
  const pid = s.child.pid!;
  const before = rssMB(pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMB(pid))), 10);
  const accepted = await Promise.all(Array.from({ length: connections }, () => flood(s.port, bytes)));
  await sleep(200);
  clearInterval(sampler);
  peak = Math.max(peak, rssMB(pid));
  return { connections, bytesAcceptedMax: Math.max(...accepted), rssBeforeMB: before, rssPeakMB: peak };
}

/** One raw WebSocket without the token that declares `bytes` and streams them; returns what was written before the server closed. */
async function flood(port: number, bytes: number): Promise<number> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  let closed = false;
  socket.on('close', () => (closed = true));
  await new Promise<void>((resolve) => (socket.once('connect', resolve), socket.once('close', resolve)));
  socket.write(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await new Promise<void>((resolve) => (socket.once('data', () => resolve()), socket.once('close', resolve)));
  const header = Buffer.alloc(14);
  header[0] = 0x82;
  header[1] = 0x80 | 127; // masked with a zero key: the payload goes as it is
  header.writeBigUInt64BE(BigInt(bytes), 2);
  socket.write(header);
  const chunk = Buffer.alloc(256 * 1024);
  let written = 0;
  while (!closed && written < bytes) {
    const n = Math.min(chunk.length, bytes - written);
    written += n;
    if (!socket.write(chunk.subarray(0, n))) await new Promise<void>((resolve) => (socket.once('drain', resolve), socket.once('close', resolve)));
  }
  socket.destroy();
  return written;
}

/**
 * Sends `n` specs with 60,000 unknown fields and `n` with 5,000 bad shapes, one after another,
 * so the slowest /health answer meanwhile is what one such request costs the event loop.
 */
async function heavySpecs(s: { port: number; token: string }, n: number, bodies: string[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    for (const body of bodies) {
      await fetch(`http://127.0.0.1:${s.port}/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
        body,
      }).then((r) => r.text());
    }
  }
}

/** Bodies that cost the most to refuse: 60,000 unknown fields (~900 KB), and 5,000 bad shapes. */
function heavyBodies(base: unknown): string[] {
  const junk: Record<string, unknown> = { ...(base as object) };
  for (let i = 0; i < 60_000; i++) junk[`k${i}`] = i;
  const shapes = Array.from({ length: 5_000 }, () => ({ kind: 'rectangle', keyframes: [{ frame: 0, x: 'a', y: 0, width: 1, height: 1 }] }));
  const bad = { ...(base as object), kind: 'fill', extend: undefined, mask: { type: 'shapes', shapes } };
  return [JSON.stringify(junk), JSON.stringify(bad)];
}

/**
 * The event-loop delay of a service in this process (perf_hooks), while the heavy specs arrive:
 * what a token holder's request costs every other client, without the machine's scheduling noise
 * that the /health probe of the child also sees. The bodies are built before measuring.
 */
async function inProcessEventLoop(home: string, n: number, bodies: string[]): Promise<{ inProcessMaxDelayMs: number; inProcessP99Ms: number }> {
  const { startService } = await import('../companion/service/service.ts');
  const service = await startService({ home, port: 0 });
  try {
    await heavySpecs(service, 1, bodies); // warm: the validation worker starts on first use
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    await heavySpecs(service, n, bodies);
    h.disable();
    return { inProcessMaxDelayMs: h.max / 1e6, inProcessP99Ms: h.percentile(99) / 1e6 };
  } finally {
    await service.close();
  }
}

/** Runs `during` while GET /health is sent back to back; returns the slowest answer in ms. */
async function probeHealth(s: Serve, during: () => Promise<unknown>, report: SoakReport): Promise<number> {
  let worst = 0;
  let stop = false;
  const probe = (async () => {
    while (!stop) {
      const t = performance.now();
      await fetch(`http://127.0.0.1:${s.port}/health`).then((r) => r.text());
      worst = Math.max(worst, performance.now() - t);
      report.eventLoop.healthProbes++;
      await sleep(5);
    }
  })();
  await during();
  stop = true;
  await probe;
  return worst;
}

/** A tmpfs home that fills up: refused submissions must stay refused, accepted ones survive a kill. */
async function diskFullPhase(spec: (tag: string) => unknown, servePids: number[], report: SoakReport): Promise<Partial<SoakReport['diskFull']>> {
  const disk = mountTmpfs(8192);
  if ('skip' in disk) return { ran: false, note: disk.skip };
  try {
    const home = path.join(disk.dir, 'home');
    let s = await startServe(home);
    servePids.push(s.child.pid!);
    const accepted: string[] = [];
    const refused: string[] = [];
    const post = async (tag: string) => {
      report.submitted++;
      const r = await fetch(`http://127.0.0.1:${s.port}/jobs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(spec(tag)),
      });
      const body = (await r.json()) as any;
      if (r.status === 201) {
        report.acknowledged++;
        accepted.push(body.job.id);
      } else {
        refused.push(tag);
        report.refused[body.error?.code ?? r.status] = (report.refused[body.error?.code ?? r.status] ?? 0) + 1;
      }
    };
    await post('disk-0');
    disk.fill();
    for (let i = 1; i <= 5; i++) await post(`disk-${i}`);
    s.child.kill('SIGKILL');
    await s.exited;
    disk.unfill();
    s = await startServe(home);
    servePids.push(s.child.pid!);
    const jobs = await listJobs(s);
    const lost = accepted.filter((id) => !jobs.some((j) => j.id === id)).length;
    const refusedButThere = jobs.filter((j) => refused.includes(j.spec?.prompt)).length;
    s.child.kill('SIGTERM');
    await s.exited;
    return { ran: true, note: `${accepted.length} accepted before the disk filled, ${refused.length} refused on the full disk`, refused: refused.length, acceptedThenLost: lost + refusedButThere };
  } finally {
    disk.unmount();
  }
}

/** Temp files, locks and connection files left in the home; serve or ffmpeg processes still running. */
function leftovers(home: string, servePids: number[]): string[] {
  const out: string[] = [];
  for (const name of readdirSync(home, { recursive: true }).map(String)) {
    const p = path.join(home, name);
    const st = statSync(p);
    if (/\.tmp|\.partial-|\.stale-|\.old-/.test(path.basename(name))) out.push(`temp file ${name}`);
    else if (st.isFile() && st.size === 0) out.push(`empty file ${name}`);
  }
  for (const f of ['companion.json', 'companion.lock']) if (existsSync(path.join(home, f))) out.push(`${f} after a clean stop`);
  if (process.platform === 'linux') {
    const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
    for (const line of ps.split('\n')) {
      const pid = Number(line.trim().split(/\s+/)[0]);
      if (servePids.includes(pid)) out.push(`serve still running: ${line.trim()}`);
      else if (line.includes(home) && !line.includes(' ps ')) out.push(`process: ${line.trim().slice(0, 160)}`);
    }
  }
  return out;
}

function rssMB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function formatReport(r: SoakReport): string {
  const kv = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  return [
    `restarts (kill -9)         ${r.restarts}`,
    `jobs submitted             ${r.submitted}`,
    `  acknowledged (201)       ${r.acknowledged}`,
    `  refused, with reason     ${kv(r.refused)}`,
    `  unanswered at a kill     ${r.unanswered}`,
    `  done                     ${r.done}`,
    `  failed, with reason      ${kv(r.failed)}`,
    `  cancelled                ${r.cancelled}`,
    `  lost                     ${r.lost.length}${r.lost.length ? ': ' + r.lost.join('; ') : ''}`,
    `  duplicated               ${r.duplicated.length}${r.duplicated.length ? ': ' + r.duplicated.join('; ') : ''}`,
    `  unreported failures      ${r.unreported.length}${r.unreported.length ? ': ' + r.unreported.join('; ') : ''}`,
    `fuzzed messages            ${r.fuzz.messages} (internal errors ${r.fuzz.internalErrors}; close codes ${kv(r.fuzz.closeCodes)})`,
    `pre-auth floods            ${r.flood.connections} × ${(r.flood.bytesEach / 2 ** 20).toFixed(0)} MiB: at most ${(r.flood.bytesAcceptedMax / 2 ** 20).toFixed(1)} MiB written before the close; server RSS ${r.flood.rssBeforeMB.toFixed(0)} → peak ${r.flood.rssPeakMB.toFixed(0)} MB (goal < ${RSS_GOAL_MB})`,
    `event loop, in process     max delay ${r.eventLoop.inProcessMaxDelayMs.toFixed(0)} ms, p99 ${r.eventLoop.inProcessP99Ms.toFixed(0)} ms while 2 × ${r.eventLoop.heavySpecs} heavy specs arrive (goal: max < 200)`,
    `event loop, /health probe  ${r.eventLoop.healthProbes} probes of the child; slowest answer idle ${r.eventLoop.idleMaxMs.toFixed(0)} ms, while heavy specs arrive ${r.eventLoop.underHeavySpecsMaxMs.toFixed(0)} ms (includes the machine's scheduling)`,
    `full disk                  ${r.diskFull.ran ? `${r.diskFull.note}; accepted then lost ${r.diskFull.acceptedThenLost}` : `skipped: ${r.diskFull.note}`}`,
    `leftovers                  ${r.leftovers.length ? r.leftovers.join('; ') : 'none'}`,
    `goals met                  ${r.goalsMet ? 'yes' : 'NO'}`,
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.env.RESHOOT_MODELS ??= path.join(os.tmpdir(), 'reshoot-soak-models');
  const restarts = Number(process.env.SOAK_RESTARTS ?? FULL_SOAK.restarts);
  const started = new Date();
  const report = await runSoak({ ...FULL_SOAK, restarts, log: (l) => console.error(l) });
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  console.log(`soak ${started.toISOString()}, ${os.cpus().length} CPUs, node ${process.version}, load average at the end ${load}\n${formatReport(report)}`);
  process.exitCode = report.goalsMet ? 0 : 1;
}
