// Bundle the BPMN modeler and viewer, the DMN editor and the dashboard's charts (ECharts) into web/static/dist (IIFE scripts + CSS, icon font in dist/fonts).
import { mkdir, rm, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import * as esbuild from 'esbuild';

const here = path.dirname(fileURLToPath(import.meta.url));
const outdir = path.resolve(here, '../web/static/dist');
const started = Date.now();

// The directory is build output only: start clean so renamed (hashed) font files do not pile up.
await rm(outdir, { recursive: true, force: true });
await mkdir(outdir, { recursive: true });
await esbuild.build({
  absWorkingDir: here,
  entryPoints: {
    modeler: 'src/modeler.js', viewer: 'src/viewer.js', decisions: 'src/decisions.js', dashboard: 'src/dashboard.js'
  },
  outdir,
  bundle: true,
  format: 'iife',
  minify: true,
  target: ['es2020'],
  logLevel: 'warning',
  // The bpmn icon font is emitted next to the CSS; browsers fetch only the one format they use.
  assetNames: 'fonts/[name]-[hash]',
  loader: {
    '.woff': 'file',
    '.woff2': 'file',
    '.ttf': 'file',
    '.eot': 'file',
    '.svg': 'file'
  }
});

const sizes = [];
for (const file of ['modeler.js', 'modeler.css', 'viewer.js', 'viewer.css', 'decisions.js', 'decisions.css', 'dashboard.js']) {
  const { size } = await stat(path.join(outdir, file));
  sizes.push(`${file} ${(size / 1024).toFixed(0)} KiB`);
}
console.log(`built ${path.relative(process.cwd(), outdir)} in ${Date.now() - started} ms: ${sizes.join(', ')}`);
