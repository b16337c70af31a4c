/**
 * Finding ffmpeg/ffprobe and running them.
 *
 * Order of preference: the FFMPEG_PATH / FFPROBE_PATH environment variables (an explicit choice
 * is honoured and never silently replaced), then the binaries shipped by the npm packages
 * `@ffmpeg-installer/ffmpeg` / `@ffprobe-installer/ffprobe`, then whatever is on PATH.
 * Each candidate is proven by running `-version` once; the answer is cached per process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { ReshootError } from '../errors.ts';

export interface ToolInfo {
  /** Absolute path (or bare command name when found on PATH). */
  path: string;
  /** First line of `-version`, e.g. "ffmpeg version N-47683-g0e8eb07980-static ...". */
  version: string;
  /** Where it came from, so `reshoot doctor` can say why this one was picked. */
  source: 'env' | 'npm' | 'path';
}

export interface FfmpegInfo {
  ffmpeg: ToolInfo;
  ffprobe: ToolInfo;
}

type ToolName = 'ffmpeg' | 'ffprobe';

const ENV_VAR: Record<ToolName, string> = { ffmpeg: 'FFMPEG_PATH', ffprobe: 'FFPROBE_PATH' };
const NPM_PACKAGE: Record<ToolName, string> = {
  ffmpeg: '@ffmpeg-installer/ffmpeg',
  ffprobe: '@ffprobe-installer/ffprobe',
};

const cache = new Map<ToolName, Promise<ToolInfo>>();

/** Paths and version lines of the ffmpeg and ffprobe in use (for `reshoot doctor`). */
export async function ffmpegInfo(): Promise<FfmpegInfo> {
  const [ffmpeg, ffprobe] = await Promise.all([locate('ffmpeg'), locate('ffprobe')]);
  return { ffmpeg, ffprobe };
}

export async function ffmpegPath(): Promise<string> {
  return (await locate('ffmpeg')).path;
}

export async function ffprobePath(): Promise<string> {
  return (await locate('ffprobe')).path;
}

/** Forget the cached answer (tests that change FFMPEG_PATH, or doctor after a fix). */
export function resetFfmpegCache(): void {
  cache.clear();
}

function locate(tool: ToolName): Promise<ToolInfo> {
  let found = cache.get(tool);
  if (!found) {
    found = findWorking(tool);
    // A failure is not cached: the user may fix the environment and retry in the same process.
    found.catch(() => cache.delete(tool));
    cache.set(tool, found);
  }
  return found;
}

async function findWorking(tool: ToolName): Promise<ToolInfo> {
  const tried: string[] = [];
  for (const candidate of candidates(tool)) {
    if (candidate.path === undefined) {
      tried.push(`${candidate.label} (${candidate.problem})`);
      continue;
    }
    const version = await versionLine(candidate.path);
    if (version.ok) return { path: candidate.path, version: version.line, source: candidate.source };
    tried.push(`${candidate.path} (${version.problem})`);
  }
  const envVar = ENV_VAR[tool];
  throw new ReshootError(
    'ffmpeg_missing',
    `No working ${tool} found. Tried: ${tried.join('; ')}. ` +
      `Fix: install ${tool} and set ${envVar} to the full path of the ${tool} executable ` +
      `(or reinstall the npm package ${NPM_PACKAGE[tool]}).`,
  );
}

interface Candidate {
  source: ToolInfo['source'];
  label: string;
  path?: string;
  problem?: string;
}

function candidates(tool: ToolName): Candidate[] {
  const envVar = ENV_VAR[tool];
  const fromEnv = process.env[envVar]?.trim();
  // An explicit override is the user's decision: if it is broken, say so rather than quietly
  // using another binary they did not choose.
  if (fromEnv) return [{ source: 'env', label: envVar, path: fromEnv }];

  const list: Candidate[] = [];
  try {
    // The installer packages are CommonJS and throw a plain string when the platform binary
    // is absent, so load them lazily and catch anything.
    const require = createRequire(import.meta.url);
    const mod = require(NPM_PACKAGE[tool]) as { path?: unknown };
    if (typeof mod.path === 'string') list.push({ source: 'npm', label: NPM_PACKAGE[tool], path: mod.path });
    else list.push({ source: 'npm', label: NPM_PACKAGE[tool], problem: 'no path exported' });
  } catch (e) {
    list.push({ source: 'npm', label: NPM_PACKAGE[tool], problem: oneLine(String(e instanceof Error ? e.message : e)) });
  }
  list.push({ source: 'path', label: `${tool} on PATH`, path: tool });
  return list;
}

async function versionLine(bin: string): Promise<{ ok: true; line: string } | { ok: false; problem: string }> {
  try {
    const result = await runTool(bin, ['-version'], { timeoutMs: 15_000 });
    const line = result.stdout.toString('utf8').split(/\r?\n/)[0]?.trim() ?? '';
    if (result.code === 0 && /version/i.test(line)) return { ok: true, line };
    return { ok: false, problem: `-version exited with ${result.code}` };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, problem: code === 'ENOENT' ? 'not found' : code === 'EACCES' ? 'not executable' : oneLine(String(e)) };
  }
}

/**
 * Encoders and decoders Reshoot uses, by what an editor loses without them. Required ones are
 * in every ffmpeg build Reshoot supports; optional ones only switch off the formats that need
 * them. EXR is written by Reshoot itself (exr.ts), so only its decoder is listed.
 */
export const CODECS_USED: { kind: 'encoder' | 'decoder'; name: string; for: string; required: boolean }[] = [
  { kind: 'encoder', name: 'prores_ks', for: 'ProRes 422 HQ / 4444 outputs', required: true },
  { kind: 'encoder', name: 'libx264', for: 'H.264 outputs', required: true },
  { kind: 'encoder', name: 'png', for: 'PNG outputs and previews', required: true },
  { kind: 'encoder', name: 'ffv1', for: 'FFV1 lossless outputs', required: true },
  { kind: 'encoder', name: 'ffvhuff', for: 'uploaded frames', required: true },
  { kind: 'encoder', name: 'tiff', for: 'TIFF sequence outputs', required: false },
  { kind: 'encoder', name: 'dpx', for: 'DPX sequence outputs', required: false },
  { kind: 'decoder', name: 'prores', for: 'ProRes sources', required: true },
  { kind: 'decoder', name: 'exr', for: 'EXR sources', required: false },
  { kind: 'decoder', name: 'dpx', for: 'DPX sources', required: false },
];

/** Which of CODECS_USED the ffmpeg in use lacks (for `reshoot doctor`). */
export async function missingCodecs(): Promise<typeof CODECS_USED> {
  const bin = await ffmpegPath();
  const [enc, dec] = await Promise.all(
    (['-encoders', '-decoders'] as const).map(async (flag) => {
      const r = await runTool(bin, ['-hide_banner', flag], { timeoutMs: 15_000 });
      // Lines look like " V....D prores_ks            Apple ProRes (iCodec Pro)".
      return new Set(r.stdout.toString('utf8').split(/\r?\n/).map((l) => l.trim().split(/\s+/)[1]).filter(Boolean));
    }),
  );
  return CODECS_USED.filter((c) => !(c.kind === 'encoder' ? enc! : dec!).has(c.name));
}

// ---------------------------------------------------------------------------------------------
// Running processes

export interface ToolResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  /** The tail of stderr only (see StderrTail). */
  stderr: string;
}

export interface RunOptions {
  /** Bytes written to stdin, which is then closed. */
  input?: Uint8Array;
  timeoutMs?: number;
}

/**
 * Runs a tool to completion, collecting stdout (for small outputs: ffprobe JSON, one image)
 * and the tail of stderr. Rejects only if the process cannot be started (ENOENT, EACCES).
 */
export function runTool(bin: string, args: string[], opts: RunOptions = {}): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawnTool(bin, args, opts.input ? 'pipe' : 'ignore');
    const out: Buffer[] = [];
    const err = new StderrTail();
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: err.text() });
    });
    if (opts.input) {
      // EPIPE here just means the tool exited early; its exit code and stderr tell why.
      child.stdin!.on('error', () => {});
      child.stdin!.end(opts.input);
    }
  });
}

/** Spawns a tool with piped stdout/stderr, no console window on Windows. */
export function spawnTool(bin: string, args: string[], stdin: 'pipe' | 'ignore'): ChildProcess {
  return spawn(bin, args, { stdio: [stdin, 'pipe', 'pipe'], windowsHide: true });
}

/**
 * Keeps only the last few kilobytes of a process's stderr: enough for the error message, never
 * an unbounded buffer (ffmpeg can log a line per frame for a broken stream).
 */
export class StderrTail {
  private chunks: Buffer[] = [];
  private size = 0;
  constructor(private readonly limit = 16 * 1024) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limit && this.chunks.length > 1) this.size -= this.chunks.shift()!.length;
  }

  text(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.limit)).toString('utf8');
  }
}

/**
 * The last few meaningful lines of a tool's stderr, for putting in an error message. Lines are
 * shortened so a message never carries a wall of text.
 */
export function summarizeStderr(stderr: string, maxLines = 3): string {
  const lines = stderr
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  return lines
    .slice(-maxLines)
    .map((l) => (l.length > 200 ? `${l.slice(0, 200)}…` : l))
    .join(' | ');
}

/** Waits for a child to exit; resolves at once if it already has. */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: null, signal: null }));
  });
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').slice(0, 200);
}
