/**
 * The CLI as a user runs it: the real `bin/reshoot.mjs` in a child process.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { losslessClip, tempDir, useTestModelCache } from './helpers/fixtures.ts';

useTestModelCache();
const run = promisify(execFile);
const bin = path.resolve('bin/reshoot.mjs');
const tmp = tempDir();
let source = '';

async function reshoot(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [bin, ...args], { env: process.env, cwd: tmp.dir });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

function job(name: string, spec: unknown): string {
  const p = path.join(tmp.dir, name);
  writeFileSync(p, JSON.stringify(spec));
  return p;
}

beforeAll(async () => {
  source = await losslessClip(tmp.dir, 'src.mkv', 64, 48, 9);
});
afterAll(() => tmp.cleanup());

const base = () => ({
  kind: 'extend',
  seed: 5,
  steps: 2,
  sequence: { fps: '25', width: 64, height: 48 },
  source: { path: source },
  extend: { direction: 'tail', duration: { frames: 6 } },
  output: { format: 'png' },
});

describe('reshoot render', () => {
  it('--compute fp16 runs the half-precision transformer (provenance and summary say so); a bad value is a usage error', async () => {
    const out = path.join(tmp.dir, 'half');
    const r = await reshoot('render', job('half.json', base()), '--out', out, '--compute', 'fp16');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/model builtin:tiny on cpu \(fp16 compute\)/);
    expect(JSON.parse(readFileSync(`${out}.json`, 'utf8')).transformer.compute).toBe('fp16');
    const bad = await reshoot('render', job('bad-compute.json', base()), '--compute', 'bf16');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown compute precision "bf16" \(one of auto, fp32, fp16/);
  });

  it('renders a job file with --out, prints where, and writes the provenance sidecar', async () => {
    const out = path.join(tmp.dir, 'frames');
    const r = await reshoot('render', job('ok.json', base()), '--out', out);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(out);
    expect(r.stdout).toMatch(/6 frames, seed 5, model builtin:tiny on cpu/);
    expect(r.stdout).toMatch(/test model/);
    const files = (await import('node:fs')).readdirSync(out).filter((f) => f.endsWith('.png'));
    expect(files).toHaveLength(6);
    const side = JSON.parse(readFileSync(`${out}.json`, 'utf8'));
    expect(side.spec.sequence.fps).toBe('25');
    expect(side.frames).toBe(6);
  });

  it('refuses to overwrite without --force, and replaces with it', async () => {
    const out = path.join(tmp.dir, 'again.mkv');
    const spec = { ...base(), output: { format: 'ffv1' } };
    expect((await reshoot('render', job('a.json', spec), '--out', out)).code).toBe(0);
    const second = await reshoot('render', job('a.json', spec), '--out', out);
    expect(second.code).toBe(1);
    expect(second.stderr.trim()).toMatch(/^reshoot: The output .*again\.mkv already exists; pass --force/);
    expect((await reshoot('render', job('a.json', spec), '--out', out, '--force')).code).toBe(0);
  });

  it('a bad spec: exit 1, one message naming each problem, nothing written', async () => {
    const spec = { ...base(), colour: 'red', steps: 0 };
    const r = await reshoot('render', job('bad.json', spec), '--out', path.join(tmp.dir, 'never'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/colour/);
    expect(r.stderr).toMatch(/steps/);
    expect(r.stderr).not.toMatch(/ at .*\.ts:\d+/); // no stack trace for user errors
    expect(existsSync(path.join(tmp.dir, 'never'))).toBe(false);
  });

  it('a missing job file or bad arguments are explained', async () => {
    const r = await reshoot('render', path.join(tmp.dir, 'nope.json'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot read job file .*nope\.json: no such file/);
    expect((await reshoot('render')).code).toBe(2);
    expect((await reshoot('frobnicate')).stderr).toMatch(/unknown command "frobnicate"/);
  });
});

describe('reshoot doctor and models', () => {
  it('doctor finds ffmpeg and a working CPU provider', async () => {
    const r = await reshoot('doctor');
    expect(r.stdout).toMatch(/^ok\s+ffmpeg/m);
    expect(r.stdout).toMatch(/^ok\s+provider cpu\s+loaded and ran/m);
    expect(r.code).toBe(0);
  });

  it('a broken FFMPEG_PATH is reported, not crashed on', async () => {
    const r = await run(process.execPath, [bin, 'doctor'], { env: { ...process.env, FFMPEG_PATH: '/nonexistent/ffmpeg' }, cwd: tmp.dir }).then(
      (x) => ({ code: 0, stdout: x.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL\s+ffmpeg.*\/nonexistent\/ffmpeg/);
  });

  it('models list shows the built-in test model', async () => {
    const r = await reshoot('models', 'list');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/builtin:tiny/);
  });
});
