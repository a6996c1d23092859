// Bundles the dashboard (web/) with its npm dependencies into dist/web: served by `serve`, no CDN.
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'dist', 'web');
await mkdir(out, { recursive: true });
await build({
  entryPoints: [path.join(root, 'web', 'dashboard.ts')],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  outfile: path.join(out, 'dashboard.js'),
  logLevel: 'warning',
});
for (const f of ['index.html', 'dashboard.css']) await copyFile(path.join(root, 'web', f), path.join(out, f));
