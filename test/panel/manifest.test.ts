/** The built plugin folder: the manifest Premiere reads, and the icons it names. */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { panelNetworkDomains } from '../../protocol/ports.ts';
import { MIN_PREMIERE_VERSION } from '../../plugin/host/versions.ts';

const root = path.resolve(import.meta.dirname, '../..');
const dist = path.join(root, 'dist');

/** Newest modification time of the sources the panel bundle is built from. */
function newestSource(): number {
  let newest = statSync(path.join(root, 'manifest.json')).mtimeMs;
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(path.join(root, 'plugin'));
  walk(path.join(root, 'protocol'));
  return newest;
}

interface Icon { width: number; height: number; path: string; scale?: number[]; theme?: string[] }

describe('dist/manifest.json', () => {
  let m: any;
  beforeAll(() => {
    // Build unless a build newer than the source manifest is already there.
    const built = path.join(dist, 'manifest.json');
    const bundle = path.join(dist, 'index.js');
    if (!existsSync(built) || !existsSync(bundle) || Math.min(statSync(built).mtimeMs, statSync(bundle).mtimeMs) < newestSource()) {
      execFileSync(process.execPath, [path.join(root, 'node_modules/webpack-cli/bin/cli.js'), '--mode', 'production', '--config-name', 'panel'], { cwd: root, stdio: 'pipe' });
    }
    m = JSON.parse(readFileSync(built, 'utf8'));
  }, 180_000);

  it('is a v5 manifest for Premiere Pro', () => {
    expect(m.manifestVersion).toBe(5);
    expect(m.id).toMatch(/^[\w.-]+$/);
    expect(m.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(m.host.app).toBe('premierepro');
    const [major] = String(m.host.minVersion).split('.').map(Number);
    expect(major).toBeGreaterThanOrEqual(25); // UXP in Premiere Pro starts with 25.x
    expect(m.main).toBe('index.html');
    expect(existsSync(path.join(dist, m.main))).toBe(true);
    expect(existsSync(path.join(dist, 'index.js'))).toBe(true);
  });

  it('has one panel entrypoint with sizes and icons', () => {
    const panels = m.entrypoints.filter((e: any) => e.type === 'panel');
    expect(panels).toHaveLength(1);
    const p = panels[0];
    expect(p.id).toBeTruthy();
    expect(p.label.default).toBe('Reshoot');
    for (const k of ['minimumSize', 'maximumSize', 'preferredDockedSize', 'preferredFloatingSize']) {
      expect(p[k].width).toBeGreaterThan(0);
      expect(p[k].height).toBeGreaterThan(0);
    }
    expect(p.minimumSize.width).toBeLessThanOrEqual(p.preferredDockedSize.width);
    expect(p.icons.length).toBeGreaterThan(0);
  });

  it('ships every icon it names, at every scale, as PNGs of the stated size', () => {
    const icons: Icon[] = [...m.icons, ...m.entrypoints.flatMap((e: any) => e.icons ?? [])];
    expect(icons.length).toBeGreaterThan(0);
    for (const icon of icons) {
      for (const scale of icon.scale ?? [1]) {
        const file = scale === 1 ? icon.path : icon.path.replace(/\.png$/, `@${scale}x.png`);
        const buf = readFileSync(path.join(dist, file));
        expect(buf.subarray(1, 4).toString('ascii'), file).toBe('PNG');
        expect(buf.readUInt32BE(16), `${file} width`).toBe(icon.width * scale);
        expect(buf.readUInt32BE(20), `${file} height`).toBe(icon.height * scale);
      }
    }
  });

  it('asks for full file access and the companion on localhost only, on exactly the ports the panel knows', () => {
    expect(m.requiredPermissions.localFileSystem).toBe('fullAccess');
    const domains: string[] = m.requiredPermissions.network.domains;
    for (const d of ['ws://127.0.0.1:41780', 'http://127.0.0.1:41780', 'ws://localhost:41780', 'http://localhost:41780']) expect(domains).toContain(d);
    for (const d of domains) expect(d).toMatch(/^(ws|http):\/\/(127\.0\.0\.1|localhost)(:\d+)?$/);
    expect([...domains].sort()).toEqual(panelNetworkDomains().sort());
  });

  it('asks for Premiere Pro 25.6, the lowest version whose API covers every ungated host call', () => {
    expect(m.host.minVersion).toBe(`${MIN_PREMIERE_VERSION}.0`);
  });

  it('bundles no web API that UXP lacks', () => {
    const js = readFileSync(path.join(dist, 'index.js'), 'utf8');
    // UXP has no TextDecoder, structuredClone or compression streams (Adobe's UXP API reference).
    for (const api of ['TextDecoder', 'structuredClone', 'DecompressionStream', 'CompressionStream']) expect(js, api).not.toContain(api);
  });
});

describe('npm run package', () => {
  it('zips dist/ into a .ccx that unzip reads back', async () => {
    const { tempDir } = await import('../helpers/fixtures.ts');
    const t = tempDir('reshoot-ccx-');
    try {
      const out = path.join(t.dir, 'reshoot.ccx');
      execFileSync(process.execPath, [path.join(root, 'scripts/package.mjs'), out], { cwd: root, stdio: 'pipe' });
      const { inflateRawSync } = await import('node:zlib');
      const { crc32 } = await import('../../scripts/binary.mjs');
      const zip = readFileSync(out);
      // Walk the local headers: every file of dist/ is there, inflates, and matches its CRC.
      const names: string[] = [];
      let at = 0;
      while (zip.readUInt32LE(at) === 0x04034b50) {
        const csize = zip.readUInt32LE(at + 18);
        const nameLen = zip.readUInt16LE(at + 26);
        const extra = zip.readUInt16LE(at + 28);
        const name = zip.subarray(at + 30, at + 30 + nameLen).toString('utf8');
        const data = inflateRawSync(zip.subarray(at + 30 + nameLen + extra, at + 30 + nameLen + extra + csize));
        expect(crc32(data), name).toBe(zip.readUInt32LE(at + 14));
        expect(data.equals(readFileSync(path.join(dist, name))), name).toBe(true);
        names.push(name);
        at += 30 + nameLen + extra + csize;
      }
      expect(zip.readUInt32LE(at)).toBe(0x02014b50); // the central directory follows
      expect(names).toContain('manifest.json');
      expect(names).toContain('index.js');
      expect(names).toContain('index.html');
    } finally {
      t.cleanup();
    }
  });
});
