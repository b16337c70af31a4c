// Builds two bundles of the same React panel:
//  - `panel` → dist/: index.html, index.js, manifest.json and icons, ready for the UXP Developer
//    Tool's "Add Plugin" (and `npm run package` zips it into reshoot.ccx). Premiere is reached
//    through require('premierepro') / require('uxp') at run time.
//  - `harness` → harness/dist/: the panel with the in-memory host, for a browser (tests).
// `webpack --config-name panel` / `--config-name harness` builds one. TS/JSX compiled by swc.
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { icon } from './scripts/binary.mjs';

const root = path.dirname(fileURLToPath(import.meta.url));

/** Emits static files (manifest, html, icons) next to the bundle without another dependency. */
class EmitStatic {
  /** @param {Record<string, string | (() => Buffer)>} files  target → source path or generator */
  constructor(files) {
    this.files = files;
  }
  apply(compiler) {
    const { RawSource } = compiler.webpack.sources;
    compiler.hooks.thisCompilation.tap('EmitStatic', (compilation) => {
      compilation.hooks.processAssets.tap({ name: 'EmitStatic', stage: compiler.webpack.Compilation.PROCESS_ASSETS_STAGE_ADDITIONS }, () => {
        for (const [to, from] of Object.entries(this.files)) {
          if (typeof from === 'function') {
            compilation.emitAsset(to, new RawSource(from()));
          } else {
            compilation.fileDependencies.add(from);
            compilation.emitAsset(to, new RawSource(readFileSync(from)));
          }
        }
      });
    });
  }
}

const LIGHT = [0x4a, 0x9e, 0xff];
const DARK = [0x1f, 0x5f, 0xbf];

/** Icons named in manifest.json: panel icons (23 px, @1x and @2x) per theme, and the plugin icon. */
const ICONS = {
  'icons/panel-dark.png': () => icon(23, LIGHT),
  'icons/panel-dark@2x.png': () => icon(46, LIGHT),
  'icons/panel-light.png': () => icon(23, DARK),
  'icons/panel-light@2x.png': () => icon(46, DARK),
  'icons/plugin.png': () => icon(48, LIGHT),
  'icons/plugin@2x.png': () => icon(96, LIGHT),
};

function base(argv, name, entry, outDir) {
  return {
    name,
    mode: argv.mode ?? 'production',
    entry,
    target: 'web',
    devtool: argv.mode === 'development' ? 'cheap-source-map' : false,
    output: { path: outDir, filename: 'index.js', clean: true },
    resolve: { extensions: ['.tsx', '.ts', '.js'], extensionAlias: { '.js': ['.ts', '.js'] } },
    module: {
      rules: [
        {
          test: /\.tsx?$/,
          exclude: /node_modules/,
          use: {
            loader: 'swc-loader',
            options: {
              jsc: {
                parser: { syntax: 'typescript', tsx: true },
                transform: { react: { runtime: 'automatic' } },
                target: 'es2020',
              },
            },
          },
        },
      ],
    },
    performance: { hints: false },
  };
}

export default (_env, argv) => [
  {
    ...base(argv, 'panel', path.join(root, 'plugin/index.tsx'), path.join(root, 'dist')),
    // Host modules are provided by UXP at run time through require().
    externals: { premierepro: 'commonjs premierepro', uxp: 'commonjs uxp' },
    plugins: [
      new EmitStatic({
        'manifest.json': path.join(root, 'manifest.json'),
        'index.html': path.join(root, 'plugin/index.html'),
        ...ICONS,
      }),
    ],
  },
  {
    ...base(argv, 'harness', path.join(root, 'harness/index.tsx'), path.join(root, 'harness/dist')),
    plugins: [new EmitStatic({ 'index.html': path.join(root, 'harness/index.html') })],
  },
];
