#!/usr/bin/env node
/**
 * Runs a TypeScript entry point in plain Node after bundling it with esbuild.
 * Why not tsx: tfjs-core's gradient registry (`dist/register_all_gradients`) is an ESM file with
 * extensionless imports that Node's ESM loader refuses (ERR_UNSUPPORTED_DIR_IMPORT); a bundle
 * resolves them. Training CLIs use this; inference-only CLIs run under tsx directly.
 *   node scripts/run-ts.mjs <entry.ts> [args...]
 *   node scripts/run-ts.mjs --bundle <entry.ts> <out.mjs>   (only bundle: for machines without node_modules)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { build } from 'esbuild';

const bundleOnly = process.argv[2] === '--bundle';
const [entry, ...args] = process.argv.slice(bundleOnly ? 3 : 2);
if (!entry || (bundleOnly && args.length !== 1)) {
  console.error('usage: node scripts/run-ts.mjs <entry.ts> [args...] | --bundle <entry.ts> <out.mjs>');
  process.exit(2);
}
const outDir = resolve('node_modules/.cache/run-ts');
mkdirSync(outDir, { recursive: true });
const outfile = bundleOnly ? resolve(args[0]) : resolve(outDir, basename(entry).replace(/\.[cm]?tsx?$/, '.mjs'));
await build({
  entryPoints: [entry],
  bundle: true,
  platform: 'node',
  format: 'esm',
  // tfjs packages mark their ESM builds as the side-effectful ones (backend registration).
  mainFields: ['module', 'main'],
  external: ['webgpu'],
  outfile,
  logLevel: 'error',
  // CommonJS dependencies in an ESM bundle still expect require, __filename and __dirname.
  banner: {
    js: [
      "import { createRequire as __createRequire } from 'module';",
      "import { fileURLToPath as __fileURLToPath } from 'url';",
      "import { dirname as __pathDirname } from 'path';",
      'const require = __createRequire(import.meta.url);',
      'const __filename = __fileURLToPath(import.meta.url);',
      'const __dirname = __pathDirname(__filename);',
    ].join(' '),
  },
});
if (bundleOnly) process.exit(0);
const res = spawnSync(process.execPath, [outfile, ...args], { stdio: 'inherit', env: process.env });
process.exit(res.status ?? 1);
