/**
 * `npm run bench:metrics [-- --size 512,512,300 --observers 5]`: every pairwise metric for two masks
 * with lesion-like blobs, and STAPLE for N observers, on a 512×512×300 grid, in Node and in headless Chromium.
 * Goal on the 2-core dev machine: ≤ 2 s per pair, STAPLE ≤ 10 s.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from '@playwright/test';
import { createServer } from 'vite';
import { compareMasks, staple } from '../src/engine/metrics';
import type { Vec3 } from '../src/engine/volume';
import { lesionMasks } from './lesion-masks';

const { values } = parseArgs({ options: { size: { type: 'string', default: '512,512,300' }, observers: { type: 'string', default: '5' } } });
const dims = values.size!.split(',').map(Number) as Vec3;
const spacing: Vec3 = [0.7, 0.7, 1.25];
const nObs = Number(values.observers);

const observers = lesionMasks(dims, spacing, nObs);
const rssBefore = process.memoryUsage().rss;
let t = performance.now();
const m = compareMasks(observers[1], observers[0], { dims, spacing });
const pairSec = (performance.now() - t) / 1000;
t = performance.now();
const st = staple(observers);
const stapleSec = (performance.now() - t) / 1000;
const extra = (process.memoryUsage().rss - rssBefore) / (observers[0].length * nObs);
console.log(`grid ${dims.join('×')}, spacing ${spacing.join('×')} mm, ${m.voxelsGt} / ${m.voxelsPred} lesion voxels`);
console.log(`node: pair (all metrics): ${pairSec.toFixed(2)} s  — Dice ${m.dice.toFixed(4)}, HD95 ${m.hausdorff95.toFixed(2)} mm, ASSD ${m.assd.toFixed(3)} mm`);
console.log(`node: STAPLE, ${nObs} observers: ${stapleSec.toFixed(2)} s, ${st.iterations} iterations, converged ${st.converged}`);
console.log(`memory beyond the masks: ${extra.toFixed(2)} bytes per voxel per observer (RSS growth)`);

// The same in headless Chromium, the engine served by Vite.
const server = await createServer({ root: resolve(import.meta.dirname, '..'), server: { port: 5197, strictPort: true }, logLevel: 'error' });
await server.listen();
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'] });
try {
  const page = await browser.newPage();
  await page.goto('http://localhost:5197/bench/metrics.html');
  await page.waitForFunction('window.benchReady === true', null, { timeout: 120_000 });
  const r = (await page.evaluate(`window.benchMetrics(${JSON.stringify(dims)}, ${JSON.stringify(spacing)}, ${nObs})`)) as { pair: number; staple: number; iterations: number };
  console.log(`chromium: pair ${r.pair.toFixed(2)} s, STAPLE ${nObs} observers ${r.staple.toFixed(2)} s (${r.iterations} iterations)`);
} finally {
  await browser.close();
  await server.close();
}
