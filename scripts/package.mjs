// `npm run package`: zips dist/ (built by `npm run build`) into reshoot.ccx, the file Adobe's
// Creative Cloud desktop app installs (double-click) and the UXP Developer Tool loads.
import { readdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { zip } from './binary.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const out = path.resolve(root, process.argv[2] ?? 'reshoot.ccx');
if (!existsSync(path.join(dist, 'manifest.json'))) {
  console.error('dist/manifest.json is missing: run `npm run build` first');
  process.exit(1);
}
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else files.push(p);
  }
})(dist);
const entries = files.map((p) => ({ name: path.relative(dist, p).split(path.sep).join('/'), data: readFileSync(p) }));
writeFileSync(out, zip(entries));
console.log(`${path.relative(root, out)}: ${entries.length} files, ${statSync(out).size} bytes`);
