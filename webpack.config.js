// Builds the UXP panel into dist/: index.html, the bundle, and manifest.json, ready for the
// UXP Developer Tool's "Add Plugin". TypeScript and JSX are compiled by swc.
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = path.dirname(fileURLToPath(import.meta.url));

/** Emits static files (manifest, html) next to the bundle without another dependency. */
class EmitStatic {
  constructor(files) {
    this.files = files;
  }
  apply(compiler) {
    const { RawSource } = compiler.webpack.sources;
    compiler.hooks.thisCompilation.tap('EmitStatic', (compilation) => {
      compilation.hooks.processAssets.tap({ name: 'EmitStatic', stage: compiler.webpack.Compilation.PROCESS_ASSETS_STAGE_ADDITIONS }, () => {
        for (const [to, from] of Object.entries(this.files)) {
          compilation.fileDependencies.add(from);
          compilation.emitAsset(to, new RawSource(readFileSync(from)));
        }
      });
    });
  }
}

export default (_env, argv) => ({
  mode: argv.mode ?? 'production',
  entry: path.join(root, 'plugin/index.tsx'),
  target: 'web',
  devtool: argv.mode === 'development' ? 'cheap-source-map' : false,
  output: { path: path.join(root, 'dist'), filename: 'index.js', clean: true },
  resolve: { extensions: ['.tsx', '.ts', '.js'], extensionAlias: { '.js': ['.ts', '.js'] } },
  // Host modules are provided by UXP at run time through require().
  externals: { premierepro: 'commonjs premierepro', uxp: 'commonjs uxp' },
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
  plugins: [new EmitStatic({ 'manifest.json': path.join(root, 'manifest.json'), 'index.html': path.join(root, 'plugin/index.html') })],
  performance: { hints: false },
});
